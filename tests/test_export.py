"""`bpcalc export --python`: a book-style script that prints the same numbers as `run`."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.analysis.export import python_script
from bpcalc.loading.find import example_paths
from tests.conftest import Invoke

WriteGraph = Callable[..., Path]
# Makes `import bpcalc` fail inside the script, to prove --standalone needs numpy only.
WITHOUT_BPCALC = "import sys; sys.modules['bpcalc'] = None; exec(open(sys.argv[1]).read())"


def parse_output(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The script's printout as (values, gradients), every number read back exactly."""
    sections: dict[str, dict[str, Any]] = {"values": {}, "grads": {}}
    current = None
    for line in text.splitlines():
        if not line.startswith("  "):
            current = "values" if line == "values:" else "grads"
            continue
        name, _, number = line.strip().partition(" = ")
        assert current is not None
        sections[current][name.strip()] = ast.literal_eval(number)
    return sections["values"], sections["grads"]


def run_script(path: Path, *, without_bpcalc: bool = False) -> str:
    command = (
        [sys.executable, "-c", WITHOUT_BPCALC, str(path)]
        if without_bpcalc
        else [
            sys.executable,
            str(path),
        ]
    )
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=path.parent, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_numbers(invoke: Invoke, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What `bpcalc run -o json` reports, with grad: false inputs left out of the gradients."""
    document = json.loads(invoke("run", *args, "-o", "json").stdout)
    grads = {n: g for n, g in document["grads"].items() if g is not None}
    return document["values"], grads


def export_to(invoke: Invoke, tmp_path: Path, *args: str) -> Path:
    result = invoke("export", *args)
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "exported.py"
    path.write_text(result.stdout, encoding="utf-8")
    return path


class TestScriptsReproduceRun:
    @pytest.mark.parametrize("name", sorted(example_paths()))
    def test_the_script_prints_runs_numbers_exactly(
        self, invoke: Invoke, tmp_path: Path, name: str
    ) -> None:
        """Every bundled example's script prints bit-for-bit the values and gradients of run."""
        path = export_to(invoke, tmp_path, name, "--python")
        assert parse_output(run_script(path)) == run_numbers(invoke, name)

    @pytest.mark.parametrize("name", sorted(example_paths()))
    def test_the_standalone_script_runs_without_bpcalc(
        self, invoke: Invoke, tmp_path: Path, name: str
    ) -> None:
        """--standalone scripts never import bpcalc and still print run's exact numbers."""
        path = export_to(invoke, tmp_path, name, "--python", "--standalone")
        assert "bpcalc.ops.layers import" not in path.read_text(encoding="utf-8")
        output = run_script(path, without_bpcalc=True)
        assert parse_output(output) == run_numbers(invoke, name)

    def test_set_and_of_are_honoured(self, invoke: Invoke, tmp_path: Path) -> None:
        """--set replaces an input (then embedded, not regenerated) and --of picks the seed."""
        args = ("two_layer_net", "--set", "x={random: [2, 5], seed: 9}", "--set", "t=[1, 0]")
        path = export_to(invoke, tmp_path, *args, "--of", "a2")
        text = path.read_text(encoding="utf-8")
        assert "da2 = np.ones_like(a2)" in text
        assert "default_rng(1)" not in text  # x is no longer the graph's seeded x
        assert parse_output(run_script(path)) == run_numbers(invoke, *args, "--of", "a2")


class TestBookStyle:
    def test_apple_orange_reads_like_buy_apple_orange_py(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """Layers are built, forward runs in node order, backward in reverse from dprice = 1.0."""
        text = export_to(invoke, tmp_path, "apple_orange", "--python").read_text(encoding="utf-8")
        assert "from bpcalc.ops.layers import AddLayer, MulLayer" in text
        expected = [
            "tax = 1.1",
            "price_layer = MulLayer()",
            "apple_price = apple_price_layer.forward(apple, apple_num)",
            "price = price_layer.forward(all_price, tax)",
            "dprice = 1.0",
            "dall_price, dtax = price_layer.backward(dprice)",
            "dapple_price, dorange_price = all_price_layer.backward(dall_price)",
            "dorange, dorange_num = orange_price_layer.backward(dorange_price)",
            "dapple, dapple_num = apple_price_layer.backward(dapple_price)",
        ]
        positions = [text.index(line + "\n") for line in expected]
        assert positions == sorted(positions)

    def test_the_apple_orange_script_prints_the_books_numbers(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """The script prints price 715.0000000000001, dApple 2.2, dOrange 3.3000000000000003."""
        path = export_to(invoke, tmp_path, "apple_orange", "--python")
        values, grads = parse_output(run_script(path))
        assert values["price"] == 715.0000000000001
        assert (grads["apple"], grads["orange"], grads["tax"]) == (2.2, 3.3000000000000003, 650.0)

    def test_seeded_random_inputs_are_regenerated_the_same_way(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """two_layer_net's random and zeros inputs become the numpy calls that made them."""
        text = export_to(invoke, tmp_path, "two_layer_net").read_text(encoding="utf-8")
        assert "x = np.random.default_rng(1).standard_normal((4, 5))\n" in text
        assert "W1 = np.random.default_rng(2).standard_normal((5, 3)) * 0.5\n" in text
        assert "b1 = np.zeros((3,))\n" in text
        assert "t = np.array([0.0, 2.0, 1.0, 2.0])  # grad: false\n" in text

    def test_the_script_is_valid_python_with_a_header(self, invoke: Invoke, tmp_path: Path) -> None:
        """The script parses, names its graph in a comment and does not end in blank lines."""
        text = export_to(invoke, tmp_path, "tanh_neuron").read_text(encoding="utf-8")
        ast.parse(text)
        assert text.startswith("# tanh_neuron — One neuron")
        assert text.endswith(")\n")


class TestGradientsAddUp:
    def test_a_value_used_twice_gets_both_contributions(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """y = x * x and z = y * x + x: dz/dx = 3x**2 + 1 = 13 at x = 2, in run's order."""
        path = write_graph("inputs:\n  x: 2.0\nnodes:\n  y: x * x\n  z: y * x + x\n")
        script = export_to(invoke, tmp_path, str(path))
        text = script.read_text(encoding="utf-8")
        assert "dx = dx + dx_part" in text
        values, grads = parse_output(run_script(script))
        assert grads["x"] == 13.0
        assert (values, grads) == run_numbers(invoke, str(path))

    def test_constants_and_nodes_past_the_target(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """Constants go in as numbers; with --of, later nodes get a zero gradient, as in run."""
        path = write_graph("inputs:\n  x: [1.0, -2.0]\nnodes:\n  y: 2.5 * x - 1\n  z: exp(y)\n")
        script = export_to(invoke, tmp_path, str(path), "--of", "y")
        text = script.read_text(encoding="utf-8")
        assert ".forward(2.5, x)" in text
        assert "dz = np.zeros_like(z)  # no gradient flows here" in text
        assert parse_output(run_script(script)) == run_numbers(invoke, str(path), "--of", "y")


class TestNamesAndValues:
    def test_names_that_would_clash_in_python_are_renamed(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """Inputs called apple and dapple, and nodes called np, show and print, all still work."""
        path = write_graph(
            "inputs:\n  apple: 3.0\n  dapple: 4.0\nnodes:\n"
            "  np: apple * dapple\n  show: np + apple\n  print: show * show\n"
        )
        script = export_to(invoke, tmp_path, str(path))
        assert parse_output(run_script(script)) == run_numbers(invoke, str(path))

    def test_anonymous_nodes_get_readable_identifiers(self, invoke: Invoke, tmp_path: Path) -> None:
        """tanh_neuron's `x1 * w1` becomes x1_mul_w1, with the expression kept as a comment."""
        text = export_to(invoke, tmp_path, "tanh_neuron").read_text(encoding="utf-8")
        assert "x1_mul_w1 = x1_mul_w1_layer.forward(x1, w1)  # x1 * w1\n" in text

    def test_awkward_floats_are_embedded_losslessly(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """The largest double, -0.0, the smallest subnormal and 0.1 survive the round trip."""
        path = write_graph(
            "inputs:\n  x: [[1.7976931348623157e308, -0.0], [5e-324, 0.1]]\n"
            "  k: 0.30000000000000004\nnodes:\n  y: x * k\n"
        )
        script = export_to(invoke, tmp_path, str(path))
        values, _ = parse_output(run_script(script))
        assert values["x"] == [[1.7976931348623157e308, -0.0], [5e-324, 0.1]]
        assert str(values["x"][0][1]) == "-0.0"
        assert values["k"] == 0.30000000000000004

    def test_file_inputs_are_embedded(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """A CSV input is written into the script, so the script needs no data file."""
        (tmp_path / "data.csv").write_text("0.1,0.2\n0.3,0.4\n", encoding="utf-8")
        path = write_graph("inputs:\n  x: {file: data.csv}\nnodes:\n  y: sum(x * x)\n")
        expected = run_numbers(invoke, str(path))
        script = export_to(invoke, tmp_path, str(path))
        (tmp_path / "data.csv").unlink()
        text = script.read_text(encoding="utf-8")
        assert "x = np.array([\n    [0.1, 0.2],\n    [0.3, 0.4],\n])" in text
        assert parse_output(run_script(script)) == expected


class TestErrors:
    def test_an_invalid_graph_exits_1_and_writes_no_script(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A graph that does not load gets its located error on stderr and nothing on stdout."""
        path = write_graph("inputs:\n  x: 1.0\nnodes:\n  y: relu(q)\n")
        result = invoke("export", str(path), "--python")
        assert result.exit_code == 1
        assert result.stdout == ""
        assert "unknown name 'q'" in result.stderr


LEAVES = st.sampled_from(["a", "b", "c", "1.5"])
UNARY = ["tanh", "sigmoid", "neg", "relu"]


def expressions(depth: int = 3) -> st.SearchStrategy[str]:
    return st.recursive(
        LEAVES,
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
        ),
        max_leaves=6,
    )


class TestAnyExpressionGraph:
    @settings(max_examples=30, deadline=None)
    @given(
        expression=expressions(),
        values=st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=3),
        frozen=st.booleans(),
    )
    def test_exported_script_matches_the_engine(
        self, expression: str, values: list[float], frozen: bool
    ) -> None:
        """For random expression graphs the script computes exactly the engine's floats."""
        b = f"{{value: {values[1]!r}, grad: false}}" if frozen else repr(values[1])
        text = (
            f"inputs:\n  a: [{values[0]!r}, {values[2]!r}]\n  b: {b}\n  c: {values[2]!r}\n"
            f"nodes:\n  out: sum({expression} * a)\n"
        )
        graph = loads(text)
        evaluation = graph.evaluate()
        script = python_script(graph, evaluation)
        printed = io.StringIO()
        # np.errstate() puts back the numpy error state the script's np.seterr changes.
        with contextlib.redirect_stdout(printed), np.errstate():
            exec(compile(script, "<exported>", "exec"), {"__name__": "__main__"})
        values_out, grads_out = parse_output(printed.getvalue())
        expect = {n: _plain(v) for n, v in evaluation.values.items()}
        expect_grads = {n: _plain(g) for n, g in evaluation.grads.items() if g is not None}
        assert (values_out, grads_out) == (expect, expect_grads)


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value
