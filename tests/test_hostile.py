"""Hostile and broken input: each case gets its exact message and exit code, quickly and in
bounded memory; never a traceback, a hang, a runaway allocation or a file left behind.

The hand-written cases live in tests/hostile/; the large ones (a 50 MB file, 10,000-deep
nesting, a 20,000-node chain) are generated here into tmp_path. Cases where memory matters
run in a real process whose address space is capped (RLIMIT_AS), so a runaway allocation
fails loudly, and whose peak resident memory is measured (ru_maxrss from wait4).
"""

from __future__ import annotations

import ast
import ctypes
import errno
import io
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import Result
from rich.cells import cell_len

from tests.conftest import Invoke

CORPUS = Path(__file__).resolve().parent / "hostile"
GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
SECONDS = 5.0  # a hang guard, not a benchmark
# The same for the cases of 100,000 rows, nodes or names, whose quadratic versions took 1.5 to
# over 5 minutes: room for coverage's tracing and a busy machine, and still far from those.
LARGE_SECONDS = 30.0
ADDRESS_SPACE = 1 << 30  # for a bpcalc process: a runaway allocation fails, never swaps
PEAK_MB = 150.0  # resident memory a hostile case may reach (python, numpy and yaml: ~40 MB)
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "100"}


@dataclass
class Outcome:
    """What a bpcalc process did."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # its peak resident memory


def _drop_file_access() -> None:
    """As root, give up the capabilities that let root read any file (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH), so that a chmod 000 file is unreadable to the process as to others."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


# bpcalc as `python -m bpcalc` does it, then its peak resident memory (VmHWM) into a file.
# ru_maxrss will not do: a forked child inherits the test process's own high-water mark.
PEAK_REPORTING_MAIN = """
import atexit, os, runpy, sys

def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["BPCALC_TEST_PEAK_FILE"], "w") as out:
        out.write(peak)

atexit.register(report)
runpy.run_module("bpcalc", run_name="__main__")
"""


def spawn(
    *args: str, stdin: bytes = b"", cwd: Path = CORPUS, drop_file_access: bool = False
) -> Outcome:
    """``bpcalc ARGS`` in a fresh process with capped address space; killed after 60 s, so
    that a hang fails the time bound instead of the whole run."""

    def prepare() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if drop_file_access and os.geteuid() == 0:
            _drop_file_access()

    with (
        tempfile.TemporaryDirectory() as scratch,
        tempfile.TemporaryFile() as given,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        peak_file = Path(scratch) / "peak"
        given.write(stdin)
        given.seek(0)
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", PEAK_REPORTING_MAIN, *args],
            stdin=given,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env={**ENV, "BPCALC_TEST_PEAK_FILE": str(peak_file)},
            preexec_fn=prepare,
        )
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            code = process.wait()
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Outcome(
            code,
            out.read().decode("utf-8"),
            err.read().decode("utf-8"),
            seconds,
            int(peak_file.read_text()) / 1024,  # VmHWM is in kB
        )


def assert_refused(
    outcome: Outcome, code: int, first_line: str, *, seconds: float = SECONDS
) -> None:
    """Exit ``code``, nothing on stdout, the message first on stderr, fast and small."""
    assert (outcome.code, outcome.stdout) == (code, ""), outcome.stderr
    assert outcome.stderr.splitlines()[0] == first_line
    assert "Traceback" not in outcome.stderr
    assert outcome.seconds < seconds
    assert outcome.peak_mb < PEAK_MB


def timed(invoke: Invoke, *args: str, input: bytes | None = None) -> tuple[Result, float]:
    """``invoke`` and its wall time."""
    started = time.perf_counter()
    result = invoke(*args, input=input)
    return result, time.perf_counter() - started


def first_line(result: Result) -> str:
    return result.stderr.splitlines()[0]


@pytest.fixture
def in_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tests/hostile, so that messages name the files as they are written there."""
    monkeypatch.chdir(CORPUS)


# --- YAML that attacks the loader ---------------------------------------------------------------


class TestAliasesAndTags:
    def test_billion_laughs_is_refused_at_the_first_reused_anchor(self) -> None:
        """Nested aliases are refused before anything is expanded: fast and small."""
        outcome = spawn("run", "billion_laughs.yaml")
        assert_refused(
            outcome,
            1,
            "billion_laughs.yaml:2:4: anchors and aliases are not supported in graph files "
            "(this anchor is used again)",
        )
        # One message for each anchor (a to i, each used again), and no alias ever walked.
        assert outcome.stderr.count("this anchor is used again") == 9

    def test_a_python_object_tag_is_refused_and_runs_nothing(self, tmp_path: Path) -> None:
        """`!!python/object/apply:os.system` is refused and the command never runs."""
        shutil.copy(CORPUS / "python_tag.yaml", tmp_path)
        outcome = spawn("run", "python_tag.yaml", cwd=tmp_path)
        assert_refused(
            outcome,
            1,
            "python_tag.yaml:3:6: YAML tag '!!python/object/apply:os.system' is not allowed "
            "in graph files",
        )
        assert sorted(p.name for p in tmp_path.iterdir()) == ["python_tag.yaml"]

    def test_a_python_name_tag_is_refused(self, invoke: Invoke, in_corpus: None) -> None:
        """`!!python/name:os.system` as a node is refused where it is written."""
        result, seconds = timed(invoke, "run", "python_name.yaml")
        assert (result.exit_code, result.stdout, seconds < SECONDS) == (1, "", True)
        assert first_line(result) == (
            "python_name.yaml:4:6: YAML tag '!!python/name:os.system' is not allowed in graph files"
        )

    def test_a_tag_in_set_is_a_usage_error(self, invoke: Invoke, tmp_path: Path) -> None:
        """--set goes through the same safe reader: a tag is refused, nothing runs."""
        marker = tmp_path / "marker"
        value = f'!!python/object/apply:os.system ["touch {marker}"]'
        result = invoke("run", "apple_orange", "--set", f"apple={value}")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            f"Error: --set apple={value}: YAML tag '!!python/object/apply:os.system' is not "
            f"allowed in graph files\n"
        )
        assert not marker.exists()


class TestDeepNesting:
    @staticmethod
    def write(tmp_path: Path, name: str, text: str) -> None:
        (tmp_path / name).write_text(text, encoding="utf-8")

    def test_a_10000_deep_list_stops_at_the_yaml_nesting_limit(self, tmp_path: Path) -> None:
        """libyaml refuses flow collections nested more than 1,000 deep, before building them."""
        self.write(tmp_path, "deep.yaml", f"inputs:\n  x: {'[' * 10_000}1{']' * 10_000}\n")
        outcome = spawn("run", "deep.yaml", cwd=tmp_path)
        assert_refused(
            outcome,
            1,
            "deep.yaml:2:1004: while increasing flow level exceeded maximum nesting depth",
        )

    def test_a_3000_deep_block_list_stops_at_the_yaml_nesting_limit(self, tmp_path: Path) -> None:
        """Block nesting (indentation) has the same limit."""
        block = "".join("  " * (i + 2) + "-\n" for i in range(3000))
        self.write(tmp_path, "block.yaml", f"inputs:\n  x:\n{block}nodes:\n  y: sum(x)\n")
        outcome = spawn("run", "block.yaml", cwd=tmp_path)
        assert_refused(
            outcome,
            1,
            "block.yaml:1000:1999: while increasing block level exceeded maximum nesting depth",
        )

    def test_a_10000_deep_json_list_is_refused(self, tmp_path: Path) -> None:
        """JSON nested past Python's recursion limit: one whole-file message."""
        text = '{"inputs": {"x": ' + "[" * 10_000 + "1" + "]" * 10_000 + '}, "nodes": {"y": "x"}}'
        self.write(tmp_path, "deep.json", text)
        assert_refused(
            spawn("run", "deep.json", cwd=tmp_path), 1, "deep.json: JSON is nested too deeply"
        )

    def test_lists_nested_deeper_than_32_are_refused(self, invoke: Invoke, tmp_path: Path) -> None:
        """numpy would fail at 65 dimensions; bpcalc stops at 32 with a message."""
        self.write(
            tmp_path, "g.yaml", f"inputs:\n  x: {'[' * 33}1{']' * 33}\nnodes:\n  y: sum(x)\n"
        )
        result = invoke("run", str(tmp_path / "g.yaml"))
        assert (result.exit_code, result.stdout) == (1, "")
        assert first_line(result) == (
            f"{tmp_path / 'g.yaml'}:2:6: lists nested more than 32 deep; a value has at most "
            f"32 dimensions"
        )

    def test_10000_deep_parentheses_meet_the_expression_length_limit(self, tmp_path: Path) -> None:
        """20,001 characters of expression are refused by length before Python parses them."""
        expression = "(" * 10_000 + "x" + ")" * 10_000
        self.write(tmp_path, "g.yaml", f"inputs:\n  x: 1\nnodes:\n  y: {expression}\n")
        outcome = spawn("run", "g.yaml", cwd=tmp_path)
        assert_refused(
            outcome,
            1,
            "g.yaml:4:6: expression is 20,001 characters long; the limit is 10,000 "
            "(--max-expression-length)",
        )
        allowed = spawn("run", "g.yaml", "--max-expression-length", "30000", cwd=tmp_path)
        assert_refused(
            allowed,
            1,
            "g.yaml:4:206: invalid expression: too many nested parentheses (Python's parser "
            "allows 200): split it into several nodes",
        )

    def test_a_5000_deep_chain_of_minus_signs_is_refused(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """Deeper than Python's parser goes: a message, not a RecursionError."""
        self.write(tmp_path, "g.yaml", f"inputs:\n  x: 1\nnodes:\n  y: {'-' * 5000}x\n")
        result, seconds = timed(invoke, "run", str(tmp_path / "g.yaml"))
        assert (result.exit_code, result.stdout, seconds < SECONDS) == (1, "", True)
        assert first_line(result) == (
            f"{tmp_path / 'g.yaml'}:4:6: expression is nested too deeply for Python's parser "
            f"(about 3,000 operators in a chain): split it into several nodes"
        )


# --- sizes and shapes ----------------------------------------------------------------------------


class TestShapesAndSizes:
    def test_bad_shapes_are_each_located(self, invoke: Invoke, in_corpus: None) -> None:
        """A 1e9 x 1e9 shape, negative, fractional, zero and non-ASCII digits: five messages."""
        result, seconds = timed(invoke, "run", "shapes.yaml")
        assert (result.exit_code, result.stdout, seconds < SECONDS) == (1, "", True)
        messages = [line for line in result.stderr.splitlines() if line.startswith("shapes")]
        assert messages == [
            "shapes.yaml:2:17: tensor of 1,000,000,000,000,000,000 elements exceeds the limit "
            "of 20,000,000 (--max-elements)",
            "shapes.yaml:3:21: a shape is a positive whole number or a list of them, got '-1'",
            "shapes.yaml:4:24: a shape is a positive whole number or a list of them, got '1.5'",
            "shapes.yaml:5:18: a shape is a positive whole number or a list of them, got '0'",
            "shapes.yaml:6:24: a shape is a positive whole number or a list of them, got '²'",
        ]

    def test_a_huge_shape_is_refused_before_allocating(self, tmp_path: Path) -> None:
        """1e9 x 1e9 zeros: refused by the element limit in a process with 1 GiB to spare."""
        (tmp_path / "g.yaml").write_text(
            "inputs:\n  x: {zeros: [1000000000, 1000000000]}\nnodes:\n  y: sum(x)\n"
        )
        assert_refused(
            spawn("run", "g.yaml", cwd=tmp_path),
            1,
            "g.yaml:2:14: tensor of 1,000,000,000,000,000,000 elements exceeds the limit of "
            "20,000,000 (--max-elements)",
        )

    def test_with_the_limit_lifted_running_out_of_memory_is_one_line(self, tmp_path: Path) -> None:
        """--max-elements raised past what memory holds: 'out of memory', exit 1, no traceback."""
        (tmp_path / "g.yaml").write_text(
            "inputs:\n  x: {zeros: [1000000000, 1000000000]}\nnodes:\n  y: sum(x)\n"
        )
        outcome = spawn("run", "g.yaml", "--max-elements", str(10**18), cwd=tmp_path)
        assert_refused(
            outcome,
            1,
            "Error: out of memory; lower --max-memory or --max-elements to refuse such a graph "
            "before it is evaluated",
        )

    def test_a_shape_with_5000_digits_is_refused_without_converting_it(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """Python refuses int() of 4,301 digits; bpcalc says what is wrong instead."""
        (tmp_path / "g.yaml").write_text(f"inputs:\n  x: {{zeros: {'7' * 5000}}}\nnodes:\n  y: x\n")
        result = invoke("run", str(tmp_path / "g.yaml"))
        assert result.exit_code == 1
        assert first_line(result) == (
            f"{tmp_path / 'g.yaml'}:2:14: a dimension of 77777777777777777... exceeds the limit "
            f"of 20,000,000 elements (--max-elements)"
        )

    def test_a_broadcast_far_larger_than_its_inputs_is_refused_before_evaluating(self) -> None:
        """Two 100,000-element inputs whose sum would be 10**10 elements (80 GB)."""
        assert_refused(
            spawn("run", "broadcast_blowup.yaml"),
            1,
            "broadcast_blowup.yaml:6:9: node 'grid' would hold 10,000,000,000 elements "
            "(100000×100000); the limit is 20,000,000 (--max-elements)",
        )

    def test_an_outer_product_is_refused_at_its_sub_expression(self, tmp_path: Path) -> None:
        """A 20,000 x 20,000 matmul result (3.2 GB) inside an expression, named by its text."""
        (tmp_path / "g.yaml").write_text(
            "inputs:\n  u: {ones: [20000, 1]}\n  v: {ones: [1, 20000]}\nnodes:\n  y: sum(u @ v)\n"
        )
        assert_refused(
            spawn("run", "g.yaml", cwd=tmp_path),
            1,
            "g.yaml:5:10: node 'u @ v' would hold 400,000,000 elements (20000×20000); the "
            "limit is 20,000,000 (--max-elements)",
        )

    def test_set_cannot_grow_a_result_past_the_limit(self, invoke: Invoke) -> None:
        """The sizes are checked again after --set changes an input."""
        result = invoke(
            "run",
            "apple_orange",
            "--set",
            "apple={ones: [5000, 1]}",
            "--set",
            "orange={ones: [1, 5000]}",
            "--max-elements",
            "1000000",
        )
        assert (result.exit_code, result.stdout) == (1, "")
        assert first_line(result) == (
            "apple_orange.yaml:12:14: node 'all_price' would hold 25,000,000 elements "
            "(5000×5000); the limit is 1,000,000 (--max-elements)"
        )


class TestFileSizeLimit:
    @pytest.fixture
    def big(self, tmp_path: Path) -> Path:
        """A valid graph followed by 50 MB of comments."""
        path = tmp_path / "big.yaml"
        comment = "# " + "x" * 97 + "\n"
        path.write_text(
            "inputs:\n  x: 2\nnodes:\n  y: x * 3\n" + comment * (50 * 2**20 // 100),
            encoding="utf-8",
        )
        return path

    def test_a_50_mb_file_is_refused_by_its_size_without_reading_it(self, big: Path) -> None:
        """The size is checked first: fast, and the file never enters memory."""
        size = big.stat().st_size
        outcome = spawn("run", "big.yaml", cwd=big.parent)
        assert_refused(
            outcome,
            1,
            f"big.yaml: file is {size:,} bytes; the limit is 33,554,432 (--max-file-size)",
        )
        assert outcome.peak_mb < 100

    def test_a_50_mb_stdin_is_refused_after_the_limit(self, big: Path) -> None:
        """stdin has no size to check first: reading stops one byte past the limit."""
        outcome = spawn("run", "-", stdin=big.read_bytes(), cwd=big.parent)
        assert_refused(
            outcome, 1, "<stdin>: input is larger than 33,554,432 bytes (--max-file-size)"
        )

    def test_a_raised_limit_reads_the_50_mb_file(self, big: Path) -> None:
        """--max-file-size lets it through, and 50 MB of comments load quickly."""
        outcome = spawn("run", "big.yaml", "--max-file-size", "60000000", cwd=big.parent)
        assert (outcome.code, outcome.stderr) == (0, "")
        assert outcome.stdout == "x\t2.0\t3.0\ny\t6.0\t1.0\n"
        assert outcome.seconds < SECONDS


# --- numbers ----------------------------------------------------------------------------------


class TestNonFiniteNumbers:
    WARNINGS: ClassVar[list[str]] = [
        "nan_and_inf.yaml:3:3: warning: the value of 'bad' is not finite (NaN or infinity "
        "first appears here)",
        "    3 |   bad: .nan",
        "      |   ^",
        "nan_and_inf.yaml:6:12: warning: the gradient of 'doubled' is not finite (NaN or "
        "infinity first appears here)",
        "    6 |   doubled: x * 2",
        "      |            ^",
    ]

    def test_nan_and_inf_literals_are_accepted_with_warnings_naming_the_node(
        self, invoke: Invoke, in_corpus: None
    ) -> None:
        """Values and gradients follow IEEE; stderr names where NaN first appears each way."""
        result = invoke("run", "nan_and_inf.yaml")
        assert result.exit_code == 0
        assert result.stdout == (
            "x\t2.0\tnan\nbad\tnan\t4.0\nbig\tinf\t1.0\ndoubled\t4.0\tnan\n"
            "poisoned\tnan\t1.0\ntotal\tnan\t1.0\n"
        )
        assert result.stderr.splitlines() == self.WARNINGS

    def test_strict_makes_them_an_error(self, invoke: Invoke, in_corpus: None) -> None:
        """--strict: the same two messages as errors (no "warning:"), exit 1 and no results."""
        result = invoke("run", "nan_and_inf.yaml", "--strict")
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [
            line.replace(": warning: ", ": ") for line in self.WARNINGS
        ]

    def test_a_number_too_large_for_float64_is_refused(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """1e999 is not silently infinity: written, it is most likely a mistake."""
        (tmp_path / "g.yaml").write_text("inputs:\n  x: 1\nnodes:\n  y: x * 1e999\n")
        result = invoke("run", str(tmp_path / "g.yaml"))
        assert result.exit_code == 1
        assert first_line(result) == (
            f"{tmp_path / 'g.yaml'}:4:10: number '1e999' is too large for float64"
        )

    def test_a_5000_digit_number_in_an_expression_is_too_large(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """Python's 4,300-digit limit on int() shows as the float64 range, at the number."""
        (tmp_path / "g.yaml").write_text(f"inputs:\n  x: 1\nnodes:\n  y: x * {'1' * 5000}\n")
        result = invoke("run", str(tmp_path / "g.yaml"), "--max-expression-length", "6000")
        assert result.exit_code == 1
        assert first_line(result) == (
            f"{tmp_path / 'g.yaml'}:4:10: number '{'1' * 37}...' is too large for float64"
        )


# --- files that cannot be read ------------------------------------------------------------------


class TestUnreadableGraphs:
    def test_latin1_bytes_are_located(self, invoke: Invoke, in_corpus: None) -> None:
        """A byte that is not UTF-8 is named with its line and column."""
        result = invoke("run", "latin1.yaml")
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (
            "latin1.yaml:1:10: not UTF-8 text (byte 0xe9); graph files are UTF-8 YAML or JSON\n"
        )

    def test_utf16_is_recognised(self, invoke: Invoke, in_corpus: None) -> None:
        """A UTF-16 file (Windows editors write them) gets a message that says so."""
        result = invoke("run", "utf16.yaml")
        assert (result.exit_code, result.stderr) == (
            1,
            "utf16.yaml:1:1: UTF-16 text; graph files are UTF-8: save it as UTF-8\n",
        )

    def test_binary_on_stdin(self, invoke: Invoke) -> None:
        """A PNG piped in by mistake: one line."""
        result = invoke("run", "-", input=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
        assert (result.exit_code, result.stderr) == (
            1,
            "<stdin>:1:1: not UTF-8 text (byte 0x89); graph files are UTF-8 YAML or JSON\n",
        )

    @pytest.mark.parametrize("name", ["empty.yaml", "comments_only.yaml"])
    def test_an_empty_file(self, invoke: Invoke, in_corpus: None, name: str) -> None:
        """Nothing but whitespace or comments: the file is empty."""
        result = invoke("run", name)
        assert (result.exit_code, result.stdout, result.stderr) == (
            1,
            "",
            f"{name}: the graph file is empty\n",
        )

    def test_empty_stdin(self, invoke: Invoke) -> None:
        """`bpcalc run - < /dev/null`."""
        result = invoke("run", "-", input=b"")
        assert (result.exit_code, result.stderr) == (1, "<stdin>: the graph file is empty\n")

    def test_a_directory(self, invoke: Invoke, tmp_path: Path) -> None:
        """A folder as GRAPH is a usage error (exit 2)."""
        result = invoke("run", str(tmp_path))
        assert (result.exit_code, result.stderr) == (
            2,
            f"{tmp_path}: is a directory, not a graph file\n",
        )

    def test_a_missing_file(self, invoke: Invoke, tmp_path: Path) -> None:
        """A path that does not exist is a usage error (exit 2)."""
        result = invoke("run", str(tmp_path / "nope.yaml"))
        assert (result.exit_code, result.stderr) == (2, f"{tmp_path / 'nope.yaml'}: no such file\n")

    def test_an_unreadable_file(self, tmp_path: Path) -> None:
        """chmod 000: permission denied, exit 2 (as root too: the process gives up the
        capabilities that let root read anything)."""
        path = tmp_path / "secret.yaml"
        shutil.copy(GRAPHS / "apple.yaml", path)
        path.chmod(0)
        outcome = spawn("run", "secret.yaml", cwd=tmp_path, drop_file_access=True)
        assert_refused(outcome, 2, "secret.yaml: permission denied")

    def test_a_name_too_long_for_the_system(self, invoke: Invoke, tmp_path: Path) -> None:
        """A 300-character file name: the system's reason, not a traceback."""
        name = str(tmp_path / ("g" * 300 + ".yaml"))
        result = invoke("run", name)
        assert (result.exit_code, result.stderr) == (
            2,
            f"{name}: cannot read: File name too long\n",
        )


class TestDataFiles:
    @pytest.fixture
    def folders(self, tmp_path: Path) -> tuple[Path, Path]:
        """A graph folder and, beside it, a folder with a CSV the graph must not read."""
        graph, outside = tmp_path / "graph", tmp_path / "outside"
        graph.mkdir()
        outside.mkdir()
        (outside / "data.csv").write_text("1,2\n3,4\n")
        return graph, outside

    def write(self, folder: Path, reference: str) -> str:
        path = folder / "g.yaml"
        path.write_text(f"inputs:\n  x: {{file: {reference}}}\nnodes:\n  y: sum(x)\n")
        return str(path)

    def test_a_path_out_of_the_folder_needs_permission(
        self, invoke: Invoke, folders: tuple[Path, Path]
    ) -> None:
        """`../outside/data.csv` is refused; with --allow-outside-files it is read."""
        graph, _ = folders
        path = self.write(graph, "../outside/data.csv")
        result = invoke("run", path)
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:2:13: file '../outside/data.csv' is outside the graph's folder; pass "
            f"--allow-outside-files to read it",
        )
        allowed = invoke("grad", path, "--wrt", "y", "--allow-outside-files")
        assert (allowed.exit_code, allowed.stdout) == (0, "1.0\n")
        assert invoke("run", path, "--allow-outside-files", "-o", "json").stdout.count("10.0")

    def test_etc_passwd_is_refused(self, invoke: Invoke, in_corpus: None) -> None:
        """The classic: ../../etc/passwd from the corpus file."""
        result = invoke("run", "outside_file.yaml")
        assert (result.exit_code, first_line(result)) == (
            1,
            "outside_file.yaml:2:19: file '../../etc/passwd' is outside the graph's folder; "
            "pass --allow-outside-files to read it",
        )

    def test_a_symlink_leading_outside_is_refused(
        self, invoke: Invoke, folders: tuple[Path, Path]
    ) -> None:
        """Symlinks are resolved before the check: a link in the folder cannot lead out."""
        graph, outside = folders
        (graph / "link.csv").symlink_to(outside / "data.csv")
        path = self.write(graph, "link.csv")
        result = invoke("run", path)
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:2:13: file 'link.csv' is outside the graph's folder; pass "
            f"--allow-outside-files to read it",
        )
        allowed = invoke("grad", path, "--wrt", "x", "--allow-outside-files")
        assert (allowed.exit_code, allowed.stdout) == (0, "[[1.0, 1.0], [1.0, 1.0]]\n")

    def test_a_symlink_within_the_folder_is_fine(
        self, invoke: Invoke, folders: tuple[Path, Path]
    ) -> None:
        """Only where a link leads matters."""
        graph, outside = folders
        shutil.copy(outside / "data.csv", graph / "real.csv")
        (graph / "link.csv").symlink_to(graph / "real.csv")
        result = invoke("grad", self.write(graph, "link.csv"), "--wrt", "x")
        assert (result.exit_code, result.stdout) == (0, "[[1.0, 1.0], [1.0, 1.0]]\n")

    def test_a_symlink_loop(self, invoke: Invoke, folders: tuple[Path, Path]) -> None:
        """Two links pointing at each other: a message, not a RuntimeError."""
        graph, _ = folders
        (graph / "a.csv").symlink_to(graph / "b.csv")
        (graph / "b.csv").symlink_to(graph / "a.csv")
        path = self.write(graph, "a.csv")
        result = invoke("run", path)
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:2:13: cannot read file 'a.csv': a symlink loop",
        )

    def test_a_fifo_is_not_read(self, invoke: Invoke, folders: tuple[Path, Path]) -> None:
        """A named pipe would block for ever: refused as not a regular file, at once."""
        graph, _ = folders
        os.mkfifo(graph / "pipe.csv")
        path = self.write(graph, "pipe.csv")
        result, seconds = timed(invoke, "run", path)
        assert (result.exit_code, first_line(result), seconds < SECONDS) == (
            1,
            f"{path}:2:13: file 'pipe.csv' is not a regular file",
            True,
        )

    def test_complex_numbers_in_an_npy_file_are_refused(
        self, invoke: Invoke, folders: tuple[Path, Path]
    ) -> None:
        """Casting would silently drop the imaginary part: a wrong answer, so refused."""
        import numpy as np

        graph, _ = folders
        np.save(graph / "c.npy", np.array([1 + 2j, 3]))
        path = self.write(graph, "c.npy")
        result = invoke("run", path)
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:2:13: file 'c.npy' holds complex128 values; expected real numbers",
        )

    @pytest.mark.parametrize("content", ["pickle", "huge header", "negative shape"])
    def test_a_hostile_npy_file_is_refused_without_numpys_advice(
        self, invoke: Invoke, folders: tuple[Path, Path], content: str
    ) -> None:
        """Pickled data, or a header with an absurd or negative shape: one message, which
        does not suggest loading the file unsafely."""
        import numpy as np

        graph, _ = folders
        if content == "pickle":
            data = b"\x80\x04\x95 not an array"
        else:
            shape = (10**30,) if content == "huge header" else (-1,)
            buffer = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                buffer, {"descr": "<f8", "fortran_order": False, "shape": shape}
            )
            data = buffer.getvalue() + bytes(16)
        (graph / "w.npy").write_bytes(data)
        path = self.write(graph, "w.npy")
        result = invoke("run", path)
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:2:13: cannot read file 'w.npy': not a .npy file of numbers (pickled "
            f"Python objects are never loaded)",
        )

    def test_an_empty_or_ragged_csv(self, invoke: Invoke, folders: tuple[Path, Path]) -> None:
        """numpy's warning for an empty file never reaches stderr; a ragged one is located."""
        graph, _ = folders
        (graph / "empty.csv").write_text("")
        (graph / "ragged.csv").write_text("1,2\n3\n")
        path = graph / "g.yaml"
        path.write_text(
            "inputs:\n  a: {file: empty.csv}\n  b: {file: ragged.csv}\nnodes:\n  y: a * b\n"
        )
        result = invoke("run", str(path))
        assert result.exit_code == 1
        assert result.stderr.splitlines()[::3] == [
            f"{path}:2:13: file 'empty.csv' holds no numbers",
            f"{path}:3:13: cannot read file 'ragged.csv': line 2 has 1 column, line 1 has 2",
        ]

    def test_a_nul_character_in_a_path(self, invoke: Invoke, folders: tuple[Path, Path]) -> None:
        """A path with NUL (possible in a quoted YAML string) is refused, not a ValueError."""
        graph, _ = folders
        path = self.write(graph, '"a\\0.csv"')
        result = invoke("run", path)
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:2:13: file: a path cannot contain a NUL character",
        )


class TestTerminalSafety:
    def test_escape_sequences_in_a_name_are_shown_escaped(
        self, invoke: Invoke, in_corpus: None
    ) -> None:
        """A key holding ESC [2J (clear screen) reaches the terminal as text, not as a command."""
        result = invoke("run", "control_characters.yaml")
        assert result.exit_code == 1
        assert "\x1b" not in result.stderr
        assert first_line(result) == (
            "control_characters.yaml:2:3: '\\x1b[2J\\x1b[31mOK' is not a valid name: use "
            "letters, digits and _, not starting with a digit"
        )


# --- limits and their overrides -------------------------------------------------------------------


class TestLimitOverrides:
    def test_max_nodes(self, invoke: Invoke) -> None:
        """apple_orange has 9 inputs and nodes: refused at 8 (while reading, at the 9th name),
        accepted at 9."""
        result = invoke("run", "apple_orange", "--max-nodes", "8")
        assert (result.exit_code, first_line(result)) == (
            1,
            "apple_orange.yaml:13:3: the graph has more than 8 inputs and nodes; the limit is 8 "
            "(--max-nodes)",
        )
        assert invoke("run", "apple_orange", "--max-nodes", "9").exit_code == 0

    def test_max_expression_length(self, invoke: Invoke) -> None:
        """Each expression over the limit is located; the explicit form has no expression."""
        result = invoke("run", "apple_orange", "--max-expression-length", "19")
        assert result.exit_code == 1
        assert result.stderr.splitlines()[::3] == [
            "apple_orange.yaml:12:14: expression is 26 characters long; the limit is 19 "
            "(--max-expression-length)"
        ]
        assert invoke("run", "apple_orange", "--max-expression-length", "26").exit_code == 0

    def test_max_elements(self, invoke: Invoke) -> None:
        """two_layer_net's x has 20 elements and W1 15: both refused at 14."""
        result = invoke("run", "two_layer_net", "--max-elements", "14")
        assert result.exit_code == 1
        assert result.stderr.splitlines()[::3] == [
            "two_layer_net.yaml:4:15: tensor of 20 elements exceeds the limit of 14 "
            "(--max-elements)",
            "two_layer_net.yaml:6:16: tensor of 15 elements exceeds the limit of 14 "
            "(--max-elements)",
        ]
        assert invoke("run", "two_layer_net", "--max-elements", "20").exit_code == 0

    def test_max_file_size(self, invoke: Invoke) -> None:
        """The limit is in bytes, compared with the file's size."""
        size = (GRAPHS / "apple_orange.yaml").stat().st_size
        result = invoke("run", "apple_orange", "--max-file-size", str(size - 1))
        assert (result.exit_code, result.stderr) == (
            1,
            f"apple_orange.yaml: file is {size:,} bytes; the limit is {size - 1:,} "
            f"(--max-file-size)\n",
        )
        assert invoke("run", "apple_orange", "--max-file-size", str(size)).exit_code == 0


# --- pipes and signals --------------------------------------------------------------------------


def chain(folder: Path, length: int = 20_000) -> Path:
    """A graph of ``length`` nodes in a row: about a megabyte of output."""
    path = folder / "chain.yaml"
    nodes = "".join(f"  x{i}: x{i - 1} * 1.0001\n" for i in range(1, length))
    path.write_text(f"inputs:\n  x0: 1.0\nnodes:\n{nodes}", encoding="utf-8")
    return path


@contextmanager
def start(*args: str, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """bpcalc in a real process, Ctrl-C armed (even if this test run ignores SIGINT); killed
    on the way out if it is still running, so that a failing test never hangs the run."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bpcalc", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=ENV,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


class TestPipes:
    @pytest.mark.parametrize("fmt", ["tsv", "csv", "json"])
    def test_head_ends_it_quietly(self, tmp_path: Path, fmt: str) -> None:
        """`bpcalc run chain.yaml | head -1`: exit 0 and nothing on stderr."""
        with start("run", str(chain(tmp_path)), "-o", fmt, cwd=tmp_path) as process:
            assert process.stdout is not None and process.stderr is not None
            first = process.stdout.readline()
            process.stdout.close()
            stderr = process.stderr.read()
            code = process.wait(timeout=30)
        assert first.startswith({"tsv": b"x0\t", "csv": b"name,", "json": b'{"graph"'}[fmt])
        assert (code, stderr) == (0, b"")

    def test_head_ends_a_forced_table_quietly_too(self, tmp_path: Path) -> None:
        """`-o table | head -1` goes through rich: it also ends with exit 0, not rich's 1."""
        with start("run", str(chain(tmp_path)), "-o", "table", cwd=tmp_path) as process:
            assert process.stdout is not None and process.stderr is not None
            first = process.stdout.readline()
            process.stdout.close()
            stderr = process.stderr.read()
            code = process.wait(timeout=30)
        assert first.strip()
        assert (code, stderr) == (0, b"")


class TestClosedStreams:
    @staticmethod
    def run_without(fd: int, *args: str) -> subprocess.CompletedProcess[bytes]:
        """bpcalc ARGS with file descriptor ``fd`` closed (`<&-` or `>&-` in a shell)."""
        return subprocess.run(
            [sys.executable, "-m", "bpcalc", *args],
            capture_output=True,
            env=ENV,
            timeout=30,
            preexec_fn=lambda: os.close(fd),
        )

    def test_a_closed_stdin_reads_as_empty(self) -> None:
        """`bpcalc run - <&-`: the graph on stdin is empty, not a traceback."""
        done = self.run_without(0, "run", "-")
        assert (done.returncode, done.stdout, done.stderr) == (
            1,
            b"",
            b"<stdin>: the graph file is empty\n",
        )

    def test_a_closed_stdout_discards_the_results(self) -> None:
        """`bpcalc run apple_orange >&-`: nowhere to write, nothing to complain about."""
        done = self.run_without(1, "run", "apple_orange")
        assert (done.returncode, done.stderr) == (0, b"")


class TestCtrlC:
    def test_while_reading_a_slow_fifo(self, tmp_path: Path) -> None:
        """Interrupted while waiting for the rest of its graph: exit 130, nothing on stderr."""
        fifo = tmp_path / "graph.yaml"
        os.mkfifo(fifo)
        with start("run", str(fifo), cwd=tmp_path) as process:
            # Opening the write end succeeds only once bpcalc has opened the read end: from
            # then on it is certainly inside the read, waiting for the text.
            writer = self._open_when_read(fifo, process)
            try:
                os.write(writer, b"inputs:\n  x: 1\n")
                time.sleep(0.2)  # it reads that, and waits for more
                process.send_signal(signal.SIGINT)
                stdout, stderr = process.communicate(timeout=10)
            finally:
                os.close(writer)
        assert (process.returncode, stdout, stderr) == (130, b"", b"")

    @staticmethod
    def _open_when_read(fifo: Path, process: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + 30
        while True:
            try:
                return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as err:  # ENXIO: nobody has it open for reading yet
                assert err.errno == errno.ENXIO and process.poll() is None
                assert time.monotonic() < deadline, "bpcalc never opened its graph"
                time.sleep(0.01)

    def test_while_writing_results(self, tmp_path: Path) -> None:
        """Interrupted while its output waits on a full pipe: exit 130, no traceback."""
        with start("run", str(chain(tmp_path)), cwd=tmp_path) as process:
            assert process.stdout is not None
            assert process.stdout.readline().startswith(b"x0\t")  # evaluated; now writing
            time.sleep(0.2)  # let the pipe fill: a megabyte cannot fit
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=10)
        assert process.returncode == 130
        assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr


# --- Unicode, determinism, no files ----------------------------------------------------------


class TestUnicodeNames:
    def test_run_gives_the_books_numbers_under_korean_and_japanese_names(
        self, invoke: Invoke, in_corpus: None
    ) -> None:
        """The apple/orange graph renamed: same values, names as written, sub-expression too."""
        result = invoke("run", "unicode_names.yaml")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout.splitlines() == [
            "사과\t100.0\t2.2",
            "사과_개수\t2.0\t110.00000000000001",
            "りんご\t150.0\t3.3000000000000003",
            "りんごの数\t3.0\t165.0",
            "세금\t1.1\t650.0",
            "사과_가격\t200.0\t1.1",
            "りんごの値段\t450.0\t1.1",
            "사과_가격 + りんごの値段\t650.0\t1.1",
            "합계\t715.0000000000001\t1.0",
        ]

    def test_wrt_and_set_take_unicode_names(self, invoke: Invoke, in_corpus: None) -> None:
        """--wrt 사과 --wrt りんご; --set 사과=200 changes d합계/d세금 to 2*200 + 3*150."""
        result = invoke("grad", "unicode_names.yaml", "--wrt", "사과", "--wrt", "りんご")
        assert (result.exit_code, result.stdout) == (0, "2.2\n3.3000000000000003\n")
        changed = invoke("grad", "unicode_names.yaml", "--wrt", "세금", "--set", "사과=200")
        assert (changed.exit_code, changed.stdout) == (0, "850.0\n")

    def test_a_misspelt_unicode_name_gets_a_hint(self, invoke: Invoke, in_corpus: None) -> None:
        """Did-you-mean works on Hangul too."""
        result = invoke("grad", "unicode_names.yaml", "--wrt", "사과_개슈")
        assert (result.exit_code, result.stderr) == (
            2,
            "Error: --wrt: no input or node named '사과_개슈' in unicode_names.yaml (did you "
            "mean '사과_개수'?)\n",
        )

    @pytest.mark.parametrize(
        "args", [("run",), ("grad", "--wrt", "사과", "--wrt", "りんごの数", "--wrt", "세금")]
    )
    def test_table_columns_stay_aligned_with_wide_characters(
        self, invoke: Invoke, in_corpus: None, args: tuple[str, ...]
    ) -> None:
        """Every line of the table has the same width on screen (Hangul and kana are 2 cells)."""
        command, *rest = args
        result = invoke(command, "unicode_names.yaml", *rest, tty=True)
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        assert any("りんごの数" in line for line in lines)
        assert len({cell_len(line) for line in lines}) == 1


DRIVER = """
import sys
from click.testing import CliRunner
from bpcalc.cli import cli
for args in [a.split("|") for a in sys.argv[1:]]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    sys.stdout.write(f"== {args} exit {result.exit_code}\\n{result.stdout}{result.stderr}")
"""
FORMATS = ["tsv", "csv", "json", "table"]


def every_command(broken: Path) -> list[str]:
    """run and grad of every example in every format, the other commands, and an invalid
    graph with many errors; arguments joined with '|'."""
    commands = []
    for example in sorted(p.stem for p in GRAPHS.glob("*.yaml")):
        commands += [f"run|{example}|-o|{fmt}" for fmt in FORMATS]
        commands += [f"check|{example}", f"trace|{example}", f"draw|{example}|-o|dot"]
        commands += [f"export|{example}|--python"]
    commands += [f"grad|apple_orange|--wrt|apple|--wrt|tax|-o|{fmt}" for fmt in FORMATS]
    commands += [f"run|{broken}"]
    return commands


class TestDeterminism:
    def test_the_same_input_gives_byte_identical_output_across_processes(
        self, tmp_path: Path
    ) -> None:
        """Two processes with different hash seeds print exactly the same bytes for every
        example, format and command, and for every message of an invalid graph."""
        broken = tmp_path / "broken.yaml"
        broken.write_text(
            "inputs:\n  a: [1, [2]]\n  b: {zeros: -1}\n  c: {nope: 1}\nnodes:\n"
            "  x: a * q\n  y: relu(x, a)\n  z: {op: mul, in: [x]}\n  w: p + r + s\n"
        )
        outputs = []
        for seed in ("1", "2"):
            completed = subprocess.run(
                [sys.executable, "-c", DRIVER, *every_command(broken)],
                capture_output=True,
                env={**ENV, "PYTHONHASHSEED": seed},
                timeout=120,
                check=True,
            )
            outputs.append(completed.stdout)
        assert outputs[0] == outputs[1]
        assert outputs[0].count(b"== ") == len(every_command(broken))
        assert b"Traceback" not in outputs[0]

    def test_running_twice_in_one_process_gives_the_same_bytes(self, invoke: Invoke) -> None:
        """No state leaks from one evaluation into the next."""
        for example in sorted(p.stem for p in GRAPHS.glob("*.yaml")):
            for fmt in FORMATS:
                first = invoke("run", example, "-o", fmt)
                second = invoke("run", example, "-o", fmt)
                assert (first.exit_code, first.stdout) == (second.exit_code, second.stdout)
                assert first.stdout


class TestNoFilesWritten:
    def test_no_command_leaves_a_file_behind(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """bpcalc writes results to stdout only: the folder it runs in is left as it was."""
        shutil.copy(GRAPHS / "two_layer_net.yaml", tmp_path / "graph.yaml")
        monkeypatch.chdir(tmp_path)
        before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
        commands: list[tuple[str, ...]] = [
            ("run",),
            ("grad", "--wrt", "W1"),
            ("check",),
            ("trace",),
            ("draw", "-o", "dot"),
            ("export", "--python"),
        ]
        for command in commands:
            result = invoke(*command)
            assert result.exit_code == 0, (command, result.stderr)
        assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


# --- docs/errors.md stays true ------------------------------------------------------------------

DOCUMENTED = re.compile(r"`([^`]+)`( \*\((libyaml|numpy|Python|click|system)\)\*)?")


def documented_messages() -> list[str]:
    """Every message in the 'message' column of the tables in docs/errors.md that is bpcalc's
    own (not marked as coming from libyaml, numpy, Python, click or the system)."""
    found: list[str] = []
    column: int | None = None
    text = (Path(__file__).resolve().parent.parent / "docs" / "errors.md").read_text("utf-8")
    for line in text.splitlines():
        if not line.startswith("|"):
            column = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if column is None:
            column = next((i for i, cell in enumerate(cells) if cell.startswith("message")), -1)
        elif 0 <= column < len(cells) and not set(line) <= set("|-"):
            found += [m.group(1) for m in DOCUMENTED.finditer(cells[column]) if not m.group(2)]
    return found


def source_strings() -> str:
    """Every string constant in bpcalc's source, f-strings' constant parts included."""
    parts = []
    for path in sorted((Path(__file__).resolve().parent.parent / "bpcalc").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                parts.append(node.value)
    return "\0".join(parts)


class TestErrorsDocument:
    def test_every_documented_message_is_still_in_the_code(self) -> None:
        """Each run of words in a documented message (placeholders aside) is found in the
        source: a message reworded or removed in the code shows up here."""
        strings = source_strings()
        messages = documented_messages()
        assert len(messages) > 100
        missing = []
        for message in messages:
            text = re.sub(r"^(Error: )?(<[a-z]+>(:<line>|:1)?: )?", "", message)
            for part in re.split(r"<[^>]+>", text):
                for run in re.findall(r"\w[\w ]{8,}\w", part):
                    words = [word for word in run.split() if len(word) >= 4]
                    if run[:14] not in strings and not all(word in strings for word in words):
                        missing.append((message, run))
        assert missing == []
