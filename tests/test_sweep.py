"""`bpcalc sweep`: ranges and grids of input values, as tables, files and charts."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bpcalc import load
from bpcalc.analysis.sweep import SweepSpec, parse_spec
from bpcalc.errors import UsageProblem
from bpcalc.output.chart import nice_ticks
from tests.conftest import GRAPHS, Invoke

WriteGraph = Callable[..., Path]
SQUARE = "name: square\ninputs: {x: 1}\nnodes:\n  y: x * x\n"
LOG = "name: logarithm\ninputs: {x: 1}\nnodes:\n  y: log(x)\n"
SVG = "{http://www.w3.org/2000/svg}"


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestSpecs:
    @pytest.mark.parametrize(
        ("text", "spec"),
        [
            ("tax=1:1.2:5", SweepSpec("tax", 1.0, 1.2, 5)),
            ("x=-2:2:3", SweepSpec("x", -2.0, 2.0, 3)),
            ("x = 1e-3:1e3:7:log", SweepSpec("x", 1e-3, 1e3, 7, log=True)),
            ("x=5:5:1", SweepSpec("x", 5.0, 5.0, 1)),
        ],
    )
    def test_specs_are_read(self, text: str, spec: SweepSpec) -> None:
        """NAME=START:STOP:COUNT with an optional :log is read into its parts."""
        assert parse_spec(text) == spec

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("tax=1:2", "expected NAME=START:STOP:COUNT[:log], got 'tax=1:2'"),
            ("tax=a:2:3", "START must be a number, got 'a'"),
            ("tax=1:inf:3", "STOP must be finite"),
            ("tax=1:2:0", "COUNT must be a whole number >= 1, got '0'"),
            ("tax=1:2:2.5", "COUNT must be a whole number >= 1, got '2.5'"),
            ("tax=0:2:3:log", "a log scale needs START and STOP above 0"),
            ("tax=1:2:3:ln", "the only scale is ':log', got ':ln'"),
            ("tax=1e308:-1e308:3", "STOP - START is too large for float64"),
        ],
    )
    def test_bad_specs_say_what_is_wrong(self, text: str, message: str) -> None:
        """Each malformed spec is a usage error naming the faulty part."""
        with pytest.raises(UsageProblem) as caught:
            parse_spec(text)
        assert message in caught.value.render()

    def test_linear_and_log_values_are_evenly_spaced(self) -> None:
        """COUNT values from START to STOP inclusive; :log spaces them by equal ratios."""
        assert parse_spec("x=0:1:5").values().tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert np.allclose(parse_spec("x=1:1000:4:log").values(), [1, 10, 100, 1000], rtol=1e-12)


class TestSweepOutput:
    def test_each_point_equals_a_single_evaluation(self, invoke: Invoke) -> None:
        """price and d_tax at every tax equal the engine's value with that tax."""
        result = invoke("sweep", "apple_orange", "tax=1:1.2:5", "-o", "csv")
        rows = read_csv(result.stdout)
        graph = load(GRAPHS / "apple_orange.yaml")
        from bpcalc.loading.inputs import InputValue

        assert [float(r["tax"]) for r in rows] == np.linspace(1, 1.2, 5).tolist()
        for row in rows:
            tax = float(row["tax"])
            single = graph.with_inputs({"tax": InputValue(tax)}).evaluate()
            assert float(row["price"]) == single.values["price"]
            assert float(row["d_tax"]) == single.grads["tax"]

    def test_columns_are_the_swept_inputs_output_and_their_gradients(self, invoke: Invoke) -> None:
        """By default only d_NAME of swept inputs; --wrt chooses other gradients."""
        plain = read_csv(invoke("sweep", "apple_orange", "tax=1:2:2", "-o", "csv").stdout)
        assert list(plain[0]) == ["tax", "price", "d_tax"]
        chosen = invoke("sweep", "apple_orange", "tax=1:2:2", "--wrt", "apple", "-o", "csv")
        assert list(read_csv(chosen.stdout)[0]) == ["tax", "price", "d_apple"]

    def test_two_specs_give_the_grid_with_the_first_input_outermost(self, invoke: Invoke) -> None:
        """apple=50:150:3 tax=1:2:2 gives 6 rows: apple changes slowest."""
        result = invoke("sweep", "apple_orange", "apple=50:150:3", "tax=1:2:2", "-o", "csv")
        rows = read_csv(result.stdout)
        pairs = [(float(r["apple"]), float(r["tax"])) for r in rows]
        assert pairs == [(50, 1), (50, 2), (100, 1), (100, 2), (150, 1), (150, 2)]
        assert [float(r["price"]) for r in rows] == [550, 1100, 650, 1300, 750, 1500]

    def test_pipe_gets_tsv_and_json_gets_json_lines(self, invoke: Invoke) -> None:
        """A pipe gets header-less TSV; -o json one object per point."""
        tsv = invoke("sweep", "apple_orange", "tax=1:2:2").stdout
        assert tsv == "1.0\t650.0\t650.0\n2.0\t1300.0\t650.0\n"
        lines = invoke("sweep", "apple_orange", "tax=1:2:2", "-o", "json").stdout.splitlines()
        assert [json.loads(line) for line in lines][1] == {
            "tax": 2.0,
            "price": 1300.0,
            "d_tax": 650.0,
        }

    def test_graph_argument_may_be_left_out(
        self, invoke: Invoke, write_graph: WriteGraph, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without GRAPH, the first word is a spec and the graph is $BPCALC_GRAPH."""
        monkeypatch.setenv("BPCALC_GRAPH", str(write_graph(SQUARE)))
        result = invoke("sweep", "x=1:3:3")
        assert result.exit_code == 0, result.stderr
        assert [line.split("\t")[1] for line in result.stdout.splitlines()] == ["1.0", "4.0", "9.0"]


class TestSweepErrors:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["taxx=1:2:3"], "no input named 'taxx'"),
            (["tax=1:2:3", "tax=1:2:3"], "'tax' is swept twice"),
            (["tax=1:2:2", "apple=1:2:2", "orange=1:2:2"], "one spec (a line) or two"),
            (["tax=1:2:3", "--set", "tax=2"], "'tax' is swept; drop one"),
            (["tax=1:2:3000", "apple=1:2:3000", "--max-elements", "1000000"], "exceeds the limit"),
            ([], "name at least one input to sweep"),
        ],
    )
    def test_usage_errors_exit_2(self, invoke: Invoke, args: list[str], message: str) -> None:
        """Unknown, repeated, too many or too large sweeps are usage errors (exit 2)."""
        result = invoke("sweep", "apple_orange", *args)
        assert result.exit_code == 2
        assert message in result.stderr

    def test_strict_stops_at_a_non_finite_point(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """--strict: the first point whose output is NaN or infinite is an error (exit 1)."""
        result = invoke("sweep", str(write_graph(LOG)), "x=-1:1:3", "--strict", "-o", "table")
        assert result.exit_code == 1
        assert "sweep point 1: y = nan is not finite (--strict)" in result.stderr


class TestTerminalTableAndChart:
    def test_terminal_shows_a_table_then_a_chart_with_axes_and_labels(self, invoke: Invoke) -> None:
        """On a terminal: the table, then two panels with y labels, axes and the x name."""
        result = invoke("sweep", "apple_orange", "tax=1:1.2:5", tty=True)
        out = result.stdout
        assert "apple_orange: price over tax (5 points)" in out
        assert "d price / d tax" in out
        lines = out.splitlines()
        price_axis = [line for line in lines if line.rstrip().endswith("┤") or "┤" in line]
        assert any(line.lstrip().startswith("780 ┤") for line in price_axis)
        assert any(line.lstrip().startswith("650 ┤") for line in price_axis)
        x_labels = [line for line in lines if line.split() == ["1", "tax", "1.2"]]
        assert len(x_labels) == 2
        assert sum("└" in line for line in lines) == 2
        assert any(0x2800 <= ord(ch) <= 0x28FF for ch in out)

    def test_no_chart_prints_only_the_table(self, invoke: Invoke) -> None:
        """--no-chart leaves out the chart."""
        result = invoke("sweep", "apple_orange", "tax=1:1.2:5", "--no-chart", tty=True)
        assert "price over tax (5 points)" in result.stdout
        assert "└" not in result.stdout

    def test_sign_changes_are_marked_in_the_table_and_on_the_axis(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """y = x*x over -2..2: d_x goes − → 0 at x = 0 and 0 → + at x = 1; ▲ on the axis."""
        result = invoke("sweep", str(write_graph(SQUARE)), "x=-2:2:5", tty=True)
        rows = {line.split()[0]: line for line in result.stdout.splitlines() if "d_x:" in line}
        assert set(rows) == {"0", "1"}
        assert rows["0"].rstrip().endswith("d_x: − → 0")
        assert rows["1"].rstrip().endswith("d_x: 0 → +")
        gradient_axis = [line for line in result.stdout.splitlines() if "└" in line][1]
        assert gradient_axis.count("▲") == 2

    def test_non_finite_points_are_marked(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """log over -1..1: the table says y is nan and -inf; the axis gets a red × for each."""
        result = invoke("sweep", str(write_graph(LOG)), "x=-1:1:3", tty=True)
        out = result.stdout
        assert "y is nan" in out
        assert "y is -inf; d_x is inf" in out
        output_axis = next(line for line in out.splitlines() if "└" in line)
        assert output_axis.count("×") == 2

    def test_a_grid_chart_draws_one_labelled_line_per_second_value(self, invoke: Invoke) -> None:
        """apple=... tax=...: the chart's legend names each tax value (at most 8 shown)."""
        result = invoke("sweep", "apple_orange", "apple=50:150:3", "tax=1:2:12", tty=True)
        assert "showing 8 of 12 values of tax" in result.stdout
        assert "━━ tax = 1 " in result.stdout
        assert "━━ tax = 2" in result.stdout


class TestSvg:
    def test_svg_is_a_document_with_a_line_per_panel(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """-o svg writes well-formed SVG: a title, two panels' lines, sign-change markers."""
        result = invoke("sweep", str(write_graph(SQUARE)), "x=-2:2:5", "-o", "svg")
        root = ET.fromstring(result.stdout)
        assert root.tag == f"{SVG}svg"
        assert root.findtext(f"{SVG}title") == "square: y over x"
        assert len(root.findall(f"{SVG}polyline")) == 2
        dashed = [e for e in root.iter(f"{SVG}line") if e.get("stroke-dasharray")]
        assert len(dashed) == 2  # x halfway into each sign change: -0.5 and 0.5
        texts = [e.text for e in root.iter(f"{SVG}text")]
        assert "d y / d x" in texts and "x" in texts

    def test_svg_breaks_lines_at_non_finite_points_and_marks_them(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """log over -1..2: the undefined points get a × with a tooltip, not a line."""
        result = invoke("sweep", str(write_graph(LOG)), "x=-1:2:7", "-o", "svg")
        root = ET.fromstring(result.stdout)
        crosses = [e for e in root.iter(f"{SVG}text") if e.text == "×"]
        tooltips = [e.findtext(f"{SVG}title") for e in crosses]
        assert "y is not finite at x = -1" in tooltips
        assert len(crosses) == 4  # y at -1, -0.5, 0; d y / d x at 0

    def test_log_scale_is_labelled(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """A :log sweep says so under the x axis, with ticks at powers of ten."""
        result = invoke("sweep", str(write_graph(LOG)), "x=0.01:100:5:log", "-o", "svg")
        texts = [e.text for e in ET.fromstring(result.stdout).iter(f"{SVG}text")]
        assert "x (log scale)" in texts
        assert {"0.01", "0.1", "1", "10", "100"} <= set(texts)


class TestTicks:
    @pytest.mark.parametrize(
        ("lo", "hi", "ticks"),
        [
            (0, 1, [0, 0.25, 0.5, 0.75, 1.0]),
            (-4, 4, [-4, -2, 0, 2, 4]),
            (1, 1.2, [1, 1.05, 1.1, 1.15, 1.2]),
        ],
    )
    def test_ticks_are_round_numbers_covering_the_range(
        self, lo: float, hi: float, ticks: list[float]
    ) -> None:
        """Ticks step by 1, 2, 2.5 or 5 times a power of ten."""
        assert np.allclose(nice_ticks(lo, hi), ticks)
