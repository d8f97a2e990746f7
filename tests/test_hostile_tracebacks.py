"""Issue 9, items 12-14: inputs that raised a traceback or grew without bound, and silent
last-one-wins or overflow-to-infinity where a file is refused elsewhere.

Each case runs bpcalc in a real process with the time, address-space and peak-memory bounds of
tests/test_hostile.py: the exit code, the one-line message, an empty stdout, no traceback.
Fixture files are tests/hostile/tb_*; the large ones are generated into tmp_path.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.test_hostile import (
    ADDRESS_SPACE,
    CORPUS,
    ENV,
    PEAK_MB,
    PEAK_REPORTING_MAIN,
    SECONDS,
    Outcome,
    assert_refused,
    spawn,
)

BOOK = Path(__file__).resolve().parent.parent / "graphs" / "apple_orange.yaml"
LINE_LIMIT = "line is longer than 1,048,576 bytes, the limit for a row of a --batch file"


def assert_answered(outcome: Outcome, stdout: str) -> None:
    """Exit 0 with exactly ``stdout``, nothing on stderr, fast and small."""
    assert (outcome.code, outcome.stderr, outcome.stdout) == (0, "", stdout)
    assert outcome.seconds < SECONDS
    assert outcome.peak_mb < PEAK_MB


def assert_one_line(outcome: Outcome, code: int, line: str) -> None:
    """Refused with ``line`` as the whole of stderr."""
    assert_refused(outcome, code, line)
    assert outcome.stderr == line + "\n"


# --- carriage returns -------------------------------------------------------------------------


class TestCarriageReturns:
    def test_a_lone_cr_in_an_expression_is_a_line_break(self) -> None:
        """Python's parser numbers lines at CR too; bpcalc used to look up a line that its own
        split on LF did not have (IndexError in expr._segment)."""
        outcome = spawn("run", "tb_cr_expression.yaml", "-o", "csv")
        assert (outcome.code, outcome.stderr) == (0, ""), outcome.stderr
        assert outcome.stdout.splitlines()[1:] == [
            "x,1.0,5.0",
            "x + 1,2.0,3.0",
            "x + 2,3.0,2.0",
            "y,6.0,1.0",
        ]
        assert outcome.seconds < SECONDS

    def test_a_lone_cr_in_a_bad_expression_is_located(self, tmp_path: Path) -> None:
        """The message of a string constant quotes the text after a CR without a traceback
        (located as the same expression with LF is)."""
        (tmp_path / "g.yaml").write_text("inputs:\n  x: 1\nnodes:\n  y: \"(x +\\r 's')\"\n")
        outcome = spawn("run", "g.yaml", cwd=tmp_path)
        assert_refused(
            outcome,
            1,
            "g.yaml:4:8: strings such as 's' are not allowed in an expression; use numbers, "
            "names, + - * / ** @, parentheses and op calls such as relu(x)",
        )

    def test_old_mac_line_endings_in_a_batch_file(self) -> None:
        """CR alone ends a line, as in any text mode; it used to stop with _csv.Error."""
        outcome = spawn("grad", str(BOOK), "--wrt", "tax", "--batch", "tb_mac_endings.csv")
        assert_answered(outcome, "1.0\t650.0\t650.0\n1.1\t715.0000000000001\t650.0\n")

    def test_a_lone_cr_in_a_batch_file_ends_a_line(self) -> None:
        outcome = spawn("grad", str(BOOK), "--wrt", "tax", "--batch", "tb_lone_cr.csv")
        assert_answered(outcome, "1.0\t650.0\t650.0\n1.1\t715.0000000000001\t650.0\n")

    def test_rows_of_a_cr_file_are_numbered_by_line(self) -> None:
        outcome = spawn("run", str(BOOK), "--batch", "tb_mac_bad_row.csv")
        assert (outcome.code, outcome.stderr) == (
            1,
            "tb_mac_bad_row.csv:3: column 'tax': expected a number, got 'cheap'\n",
        )
        assert outcome.stdout.count("\n") == 1  # the row before it

    def test_crlf_split_between_two_reads_is_one_line_end(self) -> None:
        """A CR at the end of one read and the LF at the start of the next: one line end."""
        from bpcalc.loading.rows import RowReader

        class Pieces(io.RawIOBase):
            def __init__(self, pieces: list[bytes]) -> None:
                self.pieces = pieces

            def read1(self, size: int = -1) -> bytes:
                return self.pieces.pop(0) if self.pieces else b""

        stream = Pieces([b"tax\r", b"\n1.5\r", b"\n2.5\r", b"\r\n3.5"])
        reader = RowReader(stream, "rows.csv")  # type: ignore[arg-type]
        chunks = list(reader.chunks())
        assert [row for chunk in chunks for row in chunk.data.tolist()] == [[1.5], [2.5], [3.5]]
        assert [line for chunk in chunks for line in chunk.lines.tolist()] == [2, 3, 5]


# --- long lines and endless files -------------------------------------------------------------


class TestLongLines:
    def test_a_line_without_end_is_refused_at_the_limit(self, tmp_path: Path) -> None:
        """20 MB without a newline: refused once the line passes 1 MiB, not read to the end
        (it used to be joined again for every block read: quadratic)."""
        (tmp_path / "rows.csv").write_bytes(b"tax\n" + b"1" * 20_000_000)
        outcome = spawn("run", str(BOOK), "--batch", "rows.csv", cwd=tmp_path)
        assert_one_line(outcome, 1, f"rows.csv:2: {LINE_LIMIT}")

    def test_a_long_header_on_stdin(self) -> None:
        outcome = spawn("run", str(BOOK), "--batch", "-", stdin=b"t" * 3_000_000)
        assert_one_line(outcome, 1, f"<stdin>:1: {LINE_LIMIT}")

    def test_dev_zero_is_refused_at_the_limit(self) -> None:
        """`--batch /dev/zero` never ends and has no newline: refused, not read forever."""
        outcome = spawn("run", str(BOOK), "--batch", "/dev/zero")
        assert_one_line(outcome, 1, f"/dev/zero:1: {LINE_LIMIT}")

    def test_a_line_at_the_limit_is_read(self, tmp_path: Path) -> None:
        """A header of exactly 1 MiB (one name padded with spaces) is still a header."""
        header = b"tax".ljust(1 << 20) + b"\n"
        (tmp_path / "rows.csv").write_bytes(header + b"1.0\n")
        outcome = spawn("run", str(BOOK), "--batch", "rows.csv", cwd=tmp_path)
        assert outcome.code == 0, outcome.stderr
        assert outcome.stdout.startswith("1.0\t650.0\t")

    def test_many_short_lines_in_small_chunks_read_in_linear_time(self) -> None:
        """Lines were taken off the front of a list chunk by chunk: 2 M lines in chunks of 10
        took 13 s."""
        from bpcalc.loading.rows import _line_batches

        started = time.perf_counter()
        batches = _line_batches(io.BytesIO(b"1\n" * 2_000_000), "rows.csv", 10, lambda n: None)
        assert sum(len(lines) for _, lines in batches) == 2_000_000
        assert time.perf_counter() - started < SECONDS / 2


# --- cells and JSON values --------------------------------------------------------------------


class TestHugeCells:
    def test_a_200000_digit_csv_cell_is_too_large(self, tmp_path: Path) -> None:
        """It became inf without a word; a graph file refuses such a number."""
        (tmp_path / "rows.csv").write_text("tax\n" + "1" * 200_000 + "\n")
        outcome = spawn("run", str(BOOK), "--batch", "rows.csv", cwd=tmp_path)
        assert_one_line(
            outcome, 1, f"rows.csv:2: column 'tax': number '{'1' * 40}' is too large for float64"
        )

    def test_a_quoted_cell_over_131072_characters(self, tmp_path: Path) -> None:
        """Past the csv module's field limit: a located message, not _csv.Error."""
        (tmp_path / "rows.csv").write_text('tax\n"' + "1" * 140_000 + '"\n')
        outcome = spawn("run", str(BOOK), "--batch", "rows.csv", cwd=tmp_path)
        assert_one_line(outcome, 1, "rows.csv:2: a cell is longer than 131,072 characters")

    def test_a_quoted_header_cell_over_131072_characters(self, tmp_path: Path) -> None:
        (tmp_path / "rows.csv").write_text('"' + "t" * 140_000 + '"\n1\n')
        outcome = spawn("run", str(BOOK), "--batch", "rows.csv", cwd=tmp_path)
        assert_one_line(outcome, 1, "rows.csv:1: a cell is longer than 131,072 characters")

    @pytest.mark.parametrize("line", [1, 2])
    def test_a_5000_digit_json_number(self, tmp_path: Path, line: int) -> None:
        """Python's int() refuses 4,301 digits with a ValueError that escaped."""
        rows = ['{"tax": 1.5}'] * (line - 1) + ['{"tax": ' + "7" * 5000 + "}"]
        (tmp_path / "rows.jsonl").write_text("\n".join(rows) + "\n")
        outcome = spawn("run", str(BOOK), "--batch", "rows.jsonl", cwd=tmp_path)
        message = f"rows.jsonl:{line}: key 'tax': number '{'7' * 40}' is too large for float64"
        assert (outcome.code, outcome.stderr) == (1, message + "\n")
        assert outcome.stdout.count("\n") == line - 1
        assert outcome.seconds < SECONDS

    @pytest.mark.parametrize("line", [1, 2])
    def test_json_nested_100000_deep(self, tmp_path: Path, line: int) -> None:
        """RecursionError from the json module: the message graph files get for it."""
        rows = ['{"tax": 1.5}'] * (line - 1) + ['{"tax": ' + "[" * 100_000 + "]" * 100_000 + "}"]
        (tmp_path / "rows.jsonl").write_text("\n".join(rows) + "\n")
        outcome = spawn("run", str(BOOK), "--batch", "rows.jsonl", cwd=tmp_path)
        message = f"rows.jsonl:{line}: JSON is nested too deeply"
        assert (outcome.code, outcome.stderr) == (1, message + "\n")
        assert outcome.seconds < SECONDS
        assert outcome.peak_mb < PEAK_MB

    def test_a_cell_of_1e400_is_refused_as_graph_files_refuse_1e999(self) -> None:
        outcome = spawn("run", str(BOOK), "--batch", "tb_overflow.csv")
        assert (outcome.code, outcome.stderr) == (
            1,
            "tb_overflow.csv:3: column 'tax': number '1e400' is too large for float64\n",
        )

    def test_a_json_number_of_minus_1e400(self) -> None:
        outcome = spawn("run", str(BOOK), "--batch", "tb_overflow.jsonl")
        assert (outcome.code, outcome.stderr) == (
            1,
            "tb_overflow.jsonl:2: key 'tax': number '-1e400' is too large for float64\n",
        )

    def test_a_json_string_of_1e400(self, tmp_path: Path) -> None:
        (tmp_path / "rows.jsonl").write_text('{"tax": "1e400"}\n')
        outcome = spawn("run", str(BOOK), "--batch", "rows.jsonl", cwd=tmp_path)
        assert_one_line(
            outcome, 1, "rows.jsonl:1: key 'tax': number '1e400' is too large for float64"
        )

    def test_infinity_written_as_such_is_still_a_value(self, tmp_path: Path) -> None:
        (tmp_path / "rows.csv").write_text("tax\ninf\n-Infinity\n")
        outcome = spawn("grad", str(BOOK), "--wrt", "tax", "--batch", "rows.csv", cwd=tmp_path)
        assert (outcome.code, outcome.stdout) == (0, "inf\tinf\t650.0\n-inf\t-inf\t650.0\n")
        assert outcome.stderr.startswith("rows.csv:2: warning: 2 rows have a value")

    def test_json_infinity_and_nan_are_still_values(self, tmp_path: Path) -> None:
        (tmp_path / "rows.jsonl").write_text(
            '{"tax": Infinity}\n{"tax": -Infinity}\n{"tax": NaN}\n{"tax": "-Infinity"}\n'
        )
        outcome = spawn("grad", str(BOOK), "--wrt", "tax", "--batch", "rows.jsonl", cwd=tmp_path)
        assert (outcome.code, outcome.stdout) == (
            0,
            "inf\tinf\t650.0\n-inf\t-inf\t650.0\nnan\tnan\t650.0\n-inf\t-inf\t650.0\n",
        )


# --- duplicates -------------------------------------------------------------------------------


class TestDuplicates:
    def test_a_repeated_set_is_refused(self) -> None:
        """The last one silently won; duplicate YAML keys are refused, so is this."""
        outcome = spawn("run", str(BOOK), "--set", "tax=1.1", "--set", "tax = 1.2")
        assert_one_line(outcome, 2, "Error: --set tax: set twice; give each input one --set")

    def test_a_duplicate_key_in_the_first_json_line(self) -> None:
        outcome = spawn("run", str(BOOK), "--batch", "tb_duplicate_header.jsonl")
        assert_one_line(outcome, 1, "tb_duplicate_header.jsonl:1: duplicate key 'tax'")

    def test_a_duplicate_key_in_a_json_row(self) -> None:
        outcome = spawn("run", str(BOOK), "--batch", "tb_duplicate_row.jsonl")
        assert (outcome.code, outcome.stderr) == (
            1,
            "tb_duplicate_row.jsonl:2: duplicate key 'tax'\n",
        )
        assert outcome.stdout.count("\n") == 1


# --- sweep specs ------------------------------------------------------------------------------


class TestSweepCounts:
    def test_a_superscript_count(self) -> None:
        """'²'.isdigit() is true, and int('²') a ValueError."""
        outcome = spawn("sweep", str(BOOK), "tax=1:2:²")
        assert_one_line(outcome, 2, "Error: tax=1:2:²: COUNT must be a whole number >= 1, got '²'")

    def test_a_fullwidth_count(self) -> None:
        outcome = spawn("sweep", str(BOOK), "tax=1:2:３")
        assert_one_line(
            outcome, 2, "Error: tax=1:2:３: COUNT must be a whole number >= 1, got '３'"
        )

    def test_a_4301_digit_count(self) -> None:
        """Past Python's 4,300-digit int() limit: refused by its length."""
        outcome = spawn("sweep", str(BOOK), "tax=1:2:" + "9" * 4301)
        assert_one_line(
            outcome,
            2,
            "Error: sweep tax: COUNT has 4,301 digits, more points than --max-elements allows",
        )

    def test_a_count_with_leading_zeros_is_still_a_count(self) -> None:
        outcome = spawn("sweep", str(BOOK), "tax=1:2:" + "0" * 5000 + "2", "-o", "csv")
        assert outcome.code == 0, outcome.stderr
        assert len(outcome.stdout.splitlines()) == 3


# --- resources --------------------------------------------------------------------------------


def spawn_into(stdout: str, *args: str) -> Outcome:
    """``bpcalc ARGS`` with stdout opened on the file ``stdout`` (such as /dev/full)."""
    with (
        tempfile.TemporaryDirectory() as scratch,
        open(stdout, "wb") as out,
        tempfile.TemporaryFile() as err,
    ):
        peak = Path(scratch) / "peak"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", PEAK_REPORTING_MAIN, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=CORPUS,
            env={**ENV, "BPCALC_TEST_PEAK_FILE": str(peak)},
            preexec_fn=lambda: __import__("resource").setrlimit(
                __import__("resource").RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE)
            ),
            timeout=60,
            check=False,
        )
        err.seek(0)
        return Outcome(
            done.returncode,
            "",
            err.read().decode("utf-8"),
            time.perf_counter() - started,
            int(peak.read_text()) / 1024,
        )


FULL_DISK = "Error: cannot write the output: No space left on device"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
class TestFullDisk:
    @pytest.mark.parametrize(
        "args",
        [
            ("run", "apple_orange"),
            ("run", "apple_orange", "-o", "json"),
            ("run", "apple_orange", "-o", "table"),
            ("grad", "apple_orange", "--wrt", "tax"),
            ("run", "apple_orange", "--batch", "tb_mac_endings.csv"),
            ("sweep", "apple_orange", "tax=1:2:5", "-o", "csv"),
            ("draw", "apple_orange", "-o", "dot"),
            ("export", "apple_orange", "--python"),
            ("examples",),
        ],
        ids=lambda args: " ".join(args),
    )
    def test_stdout_on_a_full_disk_is_one_line(self, args: tuple[str, ...]) -> None:
        """OSError used to be printed twice (the traceback, then again at exit)."""
        outcome = spawn_into("/dev/full", *args)
        assert (outcome.code, outcome.stderr) == (1, FULL_DISK + "\n")
        assert outcome.seconds < SECONDS


class TestAllocationsNumpyRefuses:
    @pytest.mark.parametrize("graph", ["tb_zeros_1e29.yaml", "tb_zeros_1e20.yaml"])
    def test_more_elements_than_numpy_can_index(self, graph: str) -> None:
        """With --max-elements lifted to 10^40, numpy raises ValueError ('Maximum allowed
        dimension exceeded', 'array is too big'), not MemoryError: out of memory all the same."""
        outcome = spawn("run", graph, "--max-elements", "1" + "0" * 40)
        assert (outcome.code, outcome.stdout) == (1, "")
        assert outcome.stderr.startswith("Error: out of memory;")
        assert outcome.stderr.count("\n") == 1
        assert "Traceback" not in outcome.stderr


class TestEmptyNpy:
    def test_a_0_byte_npy_file_is_located(self) -> None:
        """numpy's EOFError reached click, which printed a bare 'Aborted!'."""
        outcome = spawn("run", "tb_empty_npy.yaml")
        assert_refused(
            outcome, 1, "tb_empty_npy.yaml:2:13: cannot read file 'tb_empty.npy': the file is empty"
        )
