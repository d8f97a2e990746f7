"""`bpcalc check`: backprop against central differences (the book's 5.7.3)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.analysis.check import check_gradients
from bpcalc.loading.find import example_paths
from bpcalc.ops.layers import MulLayer
from tests.conftest import Invoke

WriteGraph = Callable[..., Path]


def as_json(result: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in document["inputs"]}


CUBE = """
inputs:
  x: 2.0
nodes:
  y: x * x * x
"""


class TestBundledExamples:
    def test_two_layer_net_passes(self, invoke: Invoke) -> None:
        """The book's two-layer net passes the check, and its grad:false labels are skipped."""
        result = invoke("check", "two_layer_net", "-o", "json")
        assert result.exit_code == 0, result.stderr
        document = as_json(result)
        assert document["passed"] is True
        assert document["skipped"] == ["t"]
        inputs = by_name(document)
        assert list(inputs) == ["x", "W1", "b1", "W2", "b2"]
        assert [inputs[n]["checked"] for n in inputs] == [20, 15, 3, 9, 3]
        assert all(entry["passed"] and not entry["failures"] for entry in inputs.values())
        assert max(entry["max_abs_error"] for entry in inputs.values()) < 1e-8

    @pytest.mark.parametrize("name", sorted(example_paths()))
    def test_every_bundled_example_passes(self, invoke: Invoke, name: str) -> None:
        """Every bundled example's backprop agrees with central differences (exit 0)."""
        result = invoke("check", name, "-o", "json")
        assert result.exit_code == 0, result.stderr
        assert as_json(result)["passed"] is True

    def test_numerical_gradients_match_micrograds_hand_values(self, invoke: Invoke) -> None:
        """tanh_neuron's central differences give micrograd's x1 -1.5, w1 1, x2 0.5, w2 0."""
        document = as_json(invoke("check", "tanh_neuron", "-o", "json"))
        numerical = {name: entry["worst"]["numerical"] for name, entry in by_name(document).items()}
        assert numerical["x1"] == pytest.approx(-1.5, abs=1e-7)
        assert numerical["w1"] == pytest.approx(1.0, abs=1e-7)
        assert numerical["x2"] == pytest.approx(0.5, abs=1e-7)
        assert numerical["w2"] == 0.0


class TestWrongGradientsFail:
    def test_a_wrong_backward_is_caught_with_exit_1(
        self, invoke: Invoke, write_graph: WriteGraph, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A MulLayer whose backward doubles dx fails the check: exit 1, and stderr says where."""
        right = MulLayer.backward

        def doubled(self: MulLayer, dout: Any) -> tuple[Any, Any]:
            dx, dy = right(self, dout)
            return 2 * dx, dy

        monkeypatch.setattr(MulLayer, "backward", doubled)
        path = write_graph("inputs:\n  x: 2.0\n  y: 5.0\nnodes:\n  z: x * y\n")
        result = invoke("check", str(path), "-o", "json")
        assert result.exit_code == 1
        inputs = by_name(as_json(result))
        assert inputs["x"]["passed"] is False
        assert inputs["x"]["failures"][0]["numerical"] == pytest.approx(5.0, abs=1e-8)
        assert inputs["x"]["failures"][0]["backprop"] == 10.0
        assert inputs["y"]["passed"] is True
        assert "check failed: x (1 of 1 checked element)" in result.stderr

    def test_failing_elements_are_listed_in_the_table(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """On a terminal a failure shows FAIL and the element with its two gradients."""
        path = write_graph("inputs:\n  x: 0.0\nnodes:\n  y: exp(x)\n")
        result = invoke("check", str(path), "--eps", "0.1", tty=True)
        assert result.exit_code == 1
        assert "FAIL" in result.stdout
        assert "Out of tolerance" in result.stdout
        assert "1.0016675002" in result.stdout  # sinh(0.1) / 0.1 = 1.00166750019844...


class TestTolerances:
    def test_defaults_are_the_books_h_and_documented_tolerances(self, invoke: Invoke) -> None:
        """Without options, h is 1e-4 as in the book, rtol 1e-5 and atol 1e-7."""
        document = as_json(invoke("check", "apple", "-o", "json"))
        assert (document["eps"], document["rtol"], document["atol"]) == (1e-4, 1e-5, 1e-7)

    def test_eps_sets_the_step(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """exp at 0 with h = 0.1 gives sinh(0.1)/0.1: off by 1.7e-3, which rtol 1e-5 fails."""
        path = write_graph("inputs:\n  x: 0.0\nnodes:\n  y: exp(x)\n")
        result = invoke("check", str(path), "--eps", "0.1", "-o", "json")
        assert result.exit_code == 1
        worst = by_name(as_json(result))["x"]["worst"]
        assert worst["numerical"] == pytest.approx(math.sinh(0.1) / 0.1, rel=1e-12)
        assert worst["backprop"] == 1.0

    def test_a_looser_rtol_lets_the_same_check_pass(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """The 1.7e-3 relative error of exp with h = 0.1 passes with --rtol 1e-2."""
        path = write_graph("inputs:\n  x: 0.0\nnodes:\n  y: exp(x)\n")
        result = invoke("check", str(path), "--eps", "0.1", "--rtol", "1e-2", "-o", "json")
        assert result.exit_code == 0
        assert as_json(result)["passed"] is True

    def test_an_element_passes_on_atol_alone(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """x**3 at 1e-3: the abs error h**2 = 1e-8 passes atol 1e-7 though its rel error is 3e-3."""
        path = write_graph(CUBE.replace("2.0", "0.001"))
        passing = as_json(invoke("check", str(path), "-o", "json"))
        entry = by_name(passing)["x"]
        assert entry["max_abs_error"] == pytest.approx(1e-8, rel=1e-3)
        assert entry["max_rel_error"] > 1e-3
        assert passing["passed"] is True
        failing = invoke("check", str(path), "--atol", "1e-9")
        assert failing.exit_code == 1


class TestKinks:
    def test_a_relu_input_at_zero_is_warned_about_and_left_out(self, invoke: Invoke) -> None:
        """activations has x[2] = 0 under relu r: warned at r's line, excluded, check passes."""
        result = invoke("check", "activations", "-o", "json")
        assert result.exit_code == 0
        x = by_name(as_json(result))["x"]
        assert x["checked"] == 4
        assert [(k["index"], k["relu"]) for k in x["kinks"]] == [([2], "r")]
        # Central differences average relu's slopes 0 and 1 there: w/2 more than backprop.
        assert x["kinks"][0]["numerical"] == pytest.approx(0.75 + 3 * 0.5, abs=1e-7)
        assert "activations.yaml:7:6: warning: x[2]:" in result.stderr
        assert "kink of relu node 'r'" in result.stderr

    def test_a_kink_reached_through_other_nodes_is_found(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """relu(a - b) with a - b = 5e-5 < h is a kink for both a and b."""
        path = write_graph(
            "inputs:\n  a: 1.00005\n  b: 1.0\n  c: 3.0\nnodes:\n  r: relu(a - b)\n  y: r * c\n"
        )
        result = invoke("check", str(path), "-o", "json")
        inputs = by_name(as_json(result))
        assert [k["relu"] for k in inputs["a"]["kinks"]] == ["r"]
        assert [k["relu"] for k in inputs["b"]["kinks"]] == ["r"]
        assert inputs["c"]["kinks"] == []
        assert result.stderr.count("warning:") == 2

    def test_a_relu_at_zero_that_the_element_does_not_move_is_no_kink(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """x * relu(z) + x with z = 0 fixed (grad: false): x never moves relu's input."""
        path = write_graph(
            "inputs:\n  x: 1.5\n  z: {value: 0.0, grad: false}\nnodes:\n  y: x * relu(z) + x\n"
        )
        result = invoke("check", str(path), "-o", "json")
        assert result.exit_code == 0
        assert by_name(as_json(result))["x"]["kinks"] == []
        assert result.stderr == ""

    def test_a_relu_input_further_than_h_from_zero_is_no_kink(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """relu(x) at x = 2h: the step stays on one side, so the element is checked."""
        path = write_graph("inputs:\n  x: 0.0002\nnodes:\n  y: relu(x)\n")
        result = invoke("check", str(path), "-o", "json")
        assert by_name(as_json(result))["x"]["checked"] == 1
        assert result.stderr == ""


class TestWrt:
    def test_wrt_limits_the_check_to_those_inputs(self, invoke: Invoke) -> None:
        """--wrt W2 --wrt x checks exactly those, in that order, and skips nothing else."""
        document = as_json(
            invoke("check", "two_layer_net", "--wrt", "W2", "--wrt", "x", "-o", "json")
        )
        assert [entry["name"] for entry in document["inputs"]] == ["W2", "x"]
        assert document["skipped"] == []

    @pytest.mark.parametrize(
        ("wrt", "message"),
        [
            ("t", "input 't' has 'grad: false'"),
            ("a1", "'a1' is a node; check perturbs inputs"),
            ("W7", "no input named 'W7'"),
            ("bb1", "(did you mean 'b1'?)"),
        ],
    )
    def test_bad_wrt_is_a_usage_error(self, invoke: Invoke, wrt: str, message: str) -> None:
        """A --wrt that is not an input with a gradient exits 2 with a message, no traceback."""
        result = invoke("check", "two_layer_net", "--wrt", wrt)
        assert result.exit_code == 2
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""

    def test_a_graph_without_gradients_is_a_usage_error(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """When every input has grad: false there is nothing to check: exit 2."""
        path = write_graph("inputs:\n  x: {value: 1.0, grad: false}\nnodes:\n  y: x * x\n")
        result = invoke("check", str(path))
        assert result.exit_code == 2
        assert "nothing to check" in result.stderr

    def test_of_checks_a_tensor_node_through_its_sum(self, invoke: Invoke) -> None:
        """--of a1 (a 4×3 tensor) checks d sum(a1) / d b1, which is 4 per element."""
        document = as_json(
            invoke("check", "two_layer_net", "--of", "a1", "--wrt", "b1", "-o", "json")
        )
        b1 = by_name(document)["b1"]
        assert document["output"] == "a1"
        assert b1["passed"] is True
        assert b1["worst"]["numerical"] == pytest.approx(4.0, abs=1e-9)
        assert b1["worst"]["backprop"] == 4.0


class TestSample:
    def test_sample_checks_k_elements_of_each_tensor(self, invoke: Invoke) -> None:
        """--sample 3 looks at 3 distinct elements of x (4×5) and all of a 3-element b1."""
        document = as_json(invoke("check", "two_layer_net", "--sample", "3", "-o", "json"))
        inputs = by_name(document)
        assert inputs["x"]["checked"] == 3
        sampled = inputs["x"]["sampled"]
        assert len({tuple(i) for i in sampled}) == 3
        assert all(0 <= i < 4 and 0 <= j < 5 for i, j in sampled)
        assert inputs["b1"]["checked"] == 3
        assert inputs["b1"]["sampled"] is None

    def test_the_same_seed_draws_the_same_elements(self, invoke: Invoke) -> None:
        """A fixed --seed gives the same draw, whatever --wrt; another seed gives another."""

        def draw(*extra: str) -> Any:
            args = ("check", "two_layer_net", "--sample", "4", "-o", "json", *extra)
            return by_name(as_json(invoke(*args)))["x"]["sampled"]

        assert draw("--seed", "7") == draw("--seed", "7", "--wrt", "x")
        assert draw("--seed", "7") != draw("--seed", "8")
        assert draw() == draw("--seed", "0")


class TestFormats:
    def test_a_pipe_gets_tsv_without_header(self, invoke: Invoke) -> None:
        """Piped, each input is one TSV line: name, checked, errors, worst element, result."""
        result = invoke("check", "apple_orange")
        lines = [line.split("\t") for line in result.stdout.splitlines()]
        assert [fields[0] for fields in lines] == [
            "apple",
            "apple_num",
            "orange",
            "orange_num",
            "tax",
        ]
        assert all(len(fields) == 9 and fields[-1] == "pass" for fields in lines)
        apple = lines[0]
        assert float(apple[5]) == pytest.approx(2.2, abs=1e-8)  # numerical
        assert apple[6] == "2.2"  # backprop, every digit
        assert apple[4] == ""  # a scalar has no index

    def test_csv_has_a_header(self, invoke: Invoke) -> None:
        """-o csv starts with the column names and quotes a tensor index."""
        result = invoke("check", "two_layer_net", "--wrt", "W1", "-o", "csv")
        header, row = result.stdout.splitlines()
        assert header.split(",")[:4] == ["input", "checked", "max_abs_error", "max_rel_error"]
        assert row.startswith("W1,15,")
        assert '"[' in row

    def test_digits_rounds_machine_formats(self, invoke: Invoke) -> None:
        """--digits 3 rounds the numbers of the TSV to 3 significant digits."""
        line = invoke("check", "apple_orange", "--wrt", "apple", "--digits", "3").stdout.split("\t")
        assert line[6] == "2.2"
        assert len(line[2].split("e")[0].replace(".", "")) <= 3

    def test_a_terminal_gets_a_table(self, invoke: Invoke) -> None:
        """On a terminal: a titled table with a row per input, the rule and skipped inputs."""
        result = invoke("check", "two_layer_net", tty=True)
        assert result.exit_code == 0
        assert "Gradient check of loss, h = 0.0001" in result.stdout
        assert "pass: abs error <= 1e-07 or rel error <= 1e-05" in result.stdout
        assert "skipped (grad: false): t" in result.stdout
        rows = [line.split() for line in result.stdout.splitlines()]
        assert ["W1", "5×3", "15"] in [row[:3] for row in rows]
        assert "\t" not in result.stdout


class TestProgress:
    BIG = "inputs:\n  x: {random: [30, 20], seed: 1}\nnodes:\n  y: sum(tanh(x))\n"

    def test_a_large_check_shows_progress_on_a_terminal(
        self, invoke: Invoke, write_graph: WriteGraph, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """600 elements with stderr on a terminal: a progress bar on stderr, results on stdout."""
        monkeypatch.setattr("bpcalc.cli.check.stderr_is_terminal", lambda: True)
        result = invoke("check", str(write_graph(self.BIG)), "-o", "json")
        assert "checking gradients" in result.stderr
        assert as_json(result)["inputs"][0]["checked"] == 600

    def test_no_progress_when_stderr_is_not_a_terminal(
        self, invoke: Invoke, write_graph: WriteGraph, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The same check into a file or pipe leaves stderr empty."""
        monkeypatch.setattr("bpcalc.cli.check.stderr_is_terminal", lambda: False)
        result = invoke("check", str(write_graph(self.BIG)), "-o", "json")
        assert result.exit_code == 0
        assert result.stderr == ""


class TestEvaluationFailures:
    def test_a_perturbation_that_breaks_a_layer_exits_1_with_a_located_message(
        self, invoke: Invoke
    ) -> None:
        """Class-index labels moved by h are no class index: exit 1, the element named."""
        result = invoke("check", "two_layer_net", "--set", "t={value: [0, 2, 1, 2], grad: true}")
        assert result.exit_code == 1
        assert "two_layer_net.yaml:14:9: check: with t[0] moved by ±h" in result.stderr
        assert "Traceback" not in result.stderr


FUNCTIONS = ["tanh(x * y)", "sigmoid(x) - exp(y / 4)", "x * y * x + y", "log(x * x + 1) * y"]


class TestAnySmoothGraphPasses:
    @settings(max_examples=40, deadline=None)
    @given(
        expression=st.sampled_from(FUNCTIONS),
        x=st.floats(-3, 3, allow_nan=False),
        y=st.floats(-3, 3, allow_nan=False),
    )
    def test_smooth_graphs_pass_with_default_tolerances(
        self, expression: str, x: float, y: float
    ) -> None:
        """For smooth scalar graphs at moderate inputs, backprop passes the default check."""
        graph = loads(f"inputs:\n  x: {x!r}\n  y: {y!r}\nnodes:\n  f: {expression}\n")
        result = check_gradients(graph, graph.evaluate())
        assert result.passed, [
            (c.name, c.max_abs_error(), c.max_rel_error()) for c in result.inputs
        ]
