"""Issue 11, items 2 and 7: tables never cut a number, and sweep on a terminal.

A value in a table for people is shown whole or not at all, at any terminal width: number
columns keep their widest cell, text columns wrap at spaces, and a table too wide for the
terminal is folded into one record per row. In a pipe, ``-o table`` has its natural width.
Tables show 0 for -0; machine formats keep -0.0. On a terminal a long sweep table shows its
first and last rows (``--full`` shows all), and long work shows progress on stderr.

Each test parses what was printed and compares every number with the full rounded text of
the value, which the machine formats give.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bpcalc.ops.table import OPS
from bpcalc.output.numbers import number
from bpcalc.output.ops_table import op_row
from tests.conftest import Invoke

WIDTHS = [40, 60, 80, 120]
NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?|nan|-?inf")

# The CS231n circuit f = (x + y) * z behind a relu and a negation: gradients of -0.0.
CS231N = (
    "name: cs231n_relu\ninputs: {x: -2, y: 5, z: -4}\n"
    "nodes:\n  q: x + y\n  f: q * z\n  r: relu(f)\n  out: -r\n"
)


def table_number(x: float, digits: int) -> str:
    """A number as a table shows it: rounded, and 0 for -0."""
    text = number(x, digits)
    return "0" if text == "-0" else text


def tokens(text: str) -> list[str]:
    """Whitespace-separated words, without the brackets, commas and parentheses around them."""
    return [word.strip("[](),;") for word in text.split()]


def numbers_in(text: str) -> Counter[str]:
    """Every word of ``text`` that is a whole number."""
    return Counter(word for word in tokens(text) if NUMBER.fullmatch(word))


def shown(value: Any, digits: int) -> list[str]:
    """What a table shows for a JSON value: each element rounded, 0 for -0."""
    if value is None:
        return []
    if isinstance(value, list):
        return [text for item in value for text in shown(item, digits)]
    return [table_number(float(value), digits)]


def assert_numbers_whole(output: str, expected: Iterable[str], allowed: Iterable[str] = ()) -> None:
    """Every expected number is printed whole (as often as expected), and every number printed
    is one of them (or of ``allowed``: shapes, counts, a title's numbers): none was cut."""
    printed = numbers_in(output)
    wanted = Counter(expected)
    missing = wanted - printed
    assert not missing, f"numbers not printed whole: {sorted(missing)}\n{output}"
    stray = set(printed) - set(wanted) - set(allowed)
    assert not stray, f"numbers printed that are no value (cut?): {sorted(stray)}\n{output}"


def run_expected(document: dict[str, Any]) -> list[str]:
    numbers = []
    for key in ("values", "grads"):
        for value in document[key].values():
            digits = 12 if not isinstance(value, list) else 4
            numbers += shown(value, digits)
    return numbers


def shapes(document: dict[str, Any]) -> set[str]:
    dims: set[str] = set()
    for value in document["values"].values():
        while isinstance(value, list):
            dims.add(str(len(value)))
            value = value[0]
    return dims


class TestRunAndGrad:
    @pytest.mark.parametrize("columns", WIDTHS)
    def test_run_of_a_tensor_graph_prints_every_number_whole(
        self, invoke: Invoke, columns: int
    ) -> None:
        """two_layer_net at 80 columns showed `[[-0.1416 0.141` for a W2 gradient."""
        document = json.loads(invoke("run", "two_layer_net", "-o", "json").stdout)
        result = invoke("run", "two_layer_net", tty=True, columns=columns)
        assert result.exit_code == 0
        expected = run_expected(document)
        assert_numbers_whole(result.stdout, expected, shapes(document) | {"5.6-5.7"})
        assert "…" not in result.stdout  # no ellipsis
        for name in document["values"]:
            assert name in tokens(result.stdout)
        # The title keeps every letter.
        title = "Affine, Relu, Affine, SoftmaxWithLoss on a small seeded batch"
        assert title in " ".join(result.stdout.split())

    @pytest.mark.parametrize("columns", WIDTHS)
    def test_run_of_a_scalar_graph_shows_0_not_minus_0(
        self, invoke: Invoke, write_graph: Any, columns: int
    ) -> None:
        """A CS231n circuit at 60 columns showed gradients as `-0` or blank."""
        path = str(write_graph(CS231N))
        document = json.loads(invoke("run", path, "-o", "json").stdout)
        result = invoke("run", path, tty=True, columns=columns)
        assert "-0" not in tokens(result.stdout)
        assert_numbers_whole(result.stdout, run_expected(document))
        names = [word for word in tokens(result.stdout) if word in document["values"]]
        assert set(names) == set(document["values"])
        # Machine formats keep -0.0 exactly.
        assert "x\t-2.0\t-0.0\n" in invoke("run", path).stdout
        assert '"x": -0.0' in invoke("run", path, "-o", "json").stdout

    @pytest.mark.parametrize("columns", WIDTHS)
    def test_grad_table_prints_every_number_whole(self, invoke: Invoke, columns: int) -> None:
        args = ("grad", "two_layer_net", "--wrt", "W2", "--wrt", "x", "--wrt", "loss")
        document = json.loads(invoke(*args, "-o", "json").stdout)
        values = json.loads(invoke("run", "two_layer_net", "-o", "json").stdout)["values"]
        result = invoke(*args, tty=True, columns=columns)
        expected = [t for name in document for t in shown(document[name], 4)]
        expected = [t for t in expected if t != "1"] + ["1"]  # loss's gradient is a scalar
        expected += shown(values["W2"], 4) + shown(values["x"], 4) + shown(values["loss"], 12)
        assert_numbers_whole(result.stdout, expected)

    def test_table_in_a_pipe_is_not_cut_to_80_columns(self, invoke: Invoke) -> None:
        """`-o table` in a pipe has its natural width, whatever $COLUMNS says."""
        document = json.loads(invoke("run", "two_layer_net", "-o", "json").stdout)
        result = invoke("run", "two_layer_net", "-o", "table", columns=80)
        assert_numbers_whole(result.stdout, run_expected(document), shapes(document) | {"5.6-5.7"})
        assert max(map(len, result.stdout.splitlines())) > 80
        assert "  name " in result.stdout  # a table, not records

    def test_a_narrow_terminal_gets_one_record_per_node(self, invoke: Invoke) -> None:
        """Too narrow for the table: `name / op / value / gradient` lines per node."""
        result = invoke("run", "apple_orange", tty=True, columns=40)
        lines = [line.split() for line in result.stdout.splitlines()]
        at = lines.index(["name", "orange"])
        assert lines[at : at + 3] == [["name", "orange"], ["op", "input"], ["value", "150"]]
        assert lines[at + 3][-1] == "3.3"
        assert max(map(len, result.stdout.splitlines())) <= 40


class TestCheck:
    @pytest.mark.parametrize("columns", WIDTHS)
    def test_every_error_and_result_is_shown(self, invoke: Invoke, columns: int) -> None:
        """At 60 columns the pass/fail column was gone; at 40 `4.5e-10` read `4.5e-1`."""
        document = json.loads(invoke("check", "two_layer_net", "-o", "json").stdout)
        result = invoke("check", "two_layer_net", tty=True, columns=columns)
        expected = []
        for check in document["inputs"]:
            expected += [f"{check['max_abs_error']:.1e}", f"{check['max_rel_error']:.1e}"]
            expected.append(str(check["checked"]))
        allowed = {"0.0001", "1e-07", "1e-05"}
        allowed |= {str(n) for check in document["inputs"] for n in check["shape"]}
        assert_numbers_whole(result.stdout, expected, allowed)
        assert tokens(result.stdout).count("pass") == len(document["inputs"])
        for check in document["inputs"]:
            assert check["name"] in tokens(result.stdout)


class TestExamples:
    @pytest.mark.parametrize("columns", WIDTHS)
    def test_every_name_and_whole_description_is_shown(self, invoke: Invoke, columns: int) -> None:
        """At 80 columns the name column disappeared."""
        listed = json.loads(invoke("examples", "-o", "json").stdout)
        result = invoke("examples", tty=True, columns=columns)
        words = tokens(result.stdout)
        flat = " ".join(result.stdout.split())
        for example in listed:
            assert example["name"] in words
            assert example["description"] in flat
        assert max(map(len, result.stdout.splitlines())) <= columns


class TestOps:
    @pytest.mark.parametrize("columns", WIDTHS)
    def test_every_word_of_every_op_is_shown_whole(self, invoke: Invoke, columns: int) -> None:
        result = invoke("ops", tty=True, columns=columns)
        printed = Counter(result.stdout.split())
        wanted: Counter[str] = Counter()
        for spec in OPS.values():
            name, layer, params, *rest = op_row(spec)
            rest[1] = rest[1].replace("; ", " ")  # one local derivative a line
            wanted.update([layer, *params.split(), *" ".join(rest).split()])
            assert name in result.stdout
        missing = {w for w in wanted if not any(w in p for p in printed)}
        assert not missing, sorted(missing)
        assert "…" not in result.stdout


class TestSweep:
    @pytest.mark.parametrize("columns", WIDTHS)
    def test_every_number_is_shown_whole(self, invoke: Invoke, columns: int) -> None:
        args = ("sweep", "tanh_neuron", "b=-3:2.5:7")
        rows = [json.loads(line) for line in invoke(*args, "-o", "json").stdout.splitlines()]
        result = invoke(*args, "--no-chart", tty=True, columns=columns)
        expected = [table_number(v, 12) for row in rows for v in row.values()]
        assert_numbers_whole(result.stdout, expected, {"7"})  # the title's (7 points)

    def test_a_long_table_on_a_terminal_shows_its_ends_and_a_count(self, invoke: Invoke) -> None:
        result = invoke("sweep", "apple_orange", "tax=1:2:201", "--no-chart", tty=True)
        lines = result.stdout.splitlines()
        assert "201 points), 181 rows left out (--full shows all)" in lines[0]
        assert [line.strip() for line in lines].count("... 181 rows ...") == 1
        rows = [
            line.split() for line in lines if line.split()[:1] and NUMBER.fullmatch(line.split()[0])
        ]
        assert len(rows) == 20
        assert rows[0] == ["1", "650", "650"] and rows[-1] == ["2", "1300", "650"]

    def test_full_prints_every_row(self, invoke: Invoke) -> None:
        result = invoke("sweep", "apple_orange", "tax=1:2:201", "--no-chart", "--full", tty=True)
        rows = [line.split() for line in result.stdout.splitlines()]
        rows = [row for row in rows if row[:1] and NUMBER.fullmatch(row[0])]
        assert len(rows) == 201
        assert "rows ..." not in result.stdout and "left out" not in result.stdout
        # A pipe (-o table) always gets every row.
        piped = invoke("sweep", "apple_orange", "tax=1:2:201", "-o", "table", "--no-chart")
        assert "rows ..." not in piped.stdout
        assert len(piped.stdout.splitlines()) == 201 + 5

    def test_marked_rows_in_the_middle_are_kept(self, invoke: Invoke, write_graph: Any) -> None:
        """y = x*x over -2..2: the sign change of d_x at x = 0 stays in the elided table."""
        path = str(write_graph("name: square\ninputs: {x: 1}\nnodes:\n  y: x * x\n"))
        result = invoke("sweep", path, "x=-2:2:201", "--no-chart", tty=True)
        lines = result.stdout.splitlines()
        zero = next(line for line in lines if line.split()[:1] == ["0"])
        assert zero.rstrip().endswith("d_x: − → 0")
        gaps = [line.strip() for line in lines if line.strip().endswith("rows ...")]
        assert gaps == ["... 90 rows ...", "... 89 rows ..."]

    def test_long_work_shows_progress_on_stderr(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Only when stderr is a terminal; a sweep of more points than a chunk."""
        monkeypatch.setattr("bpcalc.output.progress.stderr_is_terminal", lambda: True)
        result = invoke("sweep", "apple_orange", "tax=1:2:70000", "--no-chart", tty=True)
        assert result.exit_code == 0
        assert "sweep" in result.stderr
        assert "70,000 points" in result.stdout
        monkeypatch.setattr("bpcalc.output.progress.stderr_is_terminal", lambda: False)
        quiet = invoke("sweep", "apple_orange", "tax=1:2:70000", "--no-chart", tty=True)
        assert quiet.stderr == ""


class TestTrace:
    @pytest.mark.parametrize("columns", WIDTHS)
    def test_rich_trace_prints_the_numbers_of_a_wide_one(
        self, invoke: Invoke, write_graph: Any, columns: int
    ) -> None:
        """Every number of the trace, whole, at any width; 0 for -0."""
        path = str(write_graph(CS231N))
        wide = invoke("trace", path, tty=True, columns=1000).stdout
        result = invoke("trace", path, tty=True, columns=columns)
        assert numbers_in(result.stdout) == numbers_in(wide)
        assert "-0" not in tokens(result.stdout)


class TestBatchTable:
    def test_rows_stay_aligned_past_the_first_chunk(self, invoke: Invoke, tmp_path: Path) -> None:
        """A later chunk with wider numbers widens the columns under a repeated header."""
        rows = tmp_path / "rows.csv"
        rows.write_text("apple,tax\n1,1\n2,1.1\n100000.5,1.123456789\n", encoding="utf-8")
        args = ("run", "apple", "--batch", str(rows), "--chunk-size", "2")
        result = invoke(*args, tty=True)
        tsv = [line.split("\t") for line in invoke(*args).stdout.splitlines()]
        lines = result.stdout.splitlines()
        header_ends: list[int] = []
        data = []
        for line in lines:
            if not line.strip() or set(line.replace(" ", "")) == {"─"}:
                continue
            ends = [m.end() for m in re.finditer(r"\S+", line)]
            if line.split()[0] == "apple":
                header_ends = ends
                continue
            assert ends == header_ends, f"{line!r} is not under its header"
            data.append(line.split())
        expected = [[table_number(float(x), 12) for x in row] for row in tsv]
        assert data == expected
