"""`bpcalc trace`: numbered forward steps, backward steps in reverse, every contribution."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import load
from bpcalc.analysis.trace import build_trace, local_formula
from bpcalc.loading.inputs import InputValue
from bpcalc.loading.schema import NodeDef
from bpcalc.ops.table import OPS
from bpcalc.output.trace_text import formula_text, shown_name
from tests.conftest import GRAPHS, Invoke

WriteGraph = Callable[..., Path]

# a feeds p twice and q once: d q/d a = 2a + 1, reached in three contributions.
REUSED = """
name: reused
inputs:
  a: 2
nodes:
  p: a * a
  q: p + a
output: q
"""


def records(invoke: Invoke, *args: str) -> list[dict[str, Any]]:
    result = invoke("trace", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    document: list[dict[str, Any]] = json.loads(result.stdout)
    return document


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


class TestForwardSteps:
    def test_forward_steps_are_numbered_like_the_books_comments(self, invoke: Invoke) -> None:
        """Piped, the forward pass lists (1)...(4) in dependency order with inputs and values."""
        result = invoke("trace", "apple_orange")
        assert result.exit_code == 0
        lines = lines_of(result.stdout)
        assert "(1) apple_price = mul(apple, apple_num) = mul(100.0, 2.0) = 200.0" in lines
        assert "(2) orange_price = mul(orange, orange_num) = mul(150.0, 3.0) = 450.0" in lines
        assert "(3) all_price = add(apple_price, orange_price) = add(200.0, 450.0) = 650.0" in lines
        assert "(4) price = mul(all_price, tax) = mul(650.0, 1.1) = 715.0000000000001" in lines
        assert result.stderr == ""

    def test_forward_records_carry_inputs_with_their_values(self, invoke: Invoke) -> None:
        """-o json: each forward record names the op, its inputs with values, and the value."""
        forward = [r for r in records(invoke, "apple_orange") if r["phase"] == "forward"]
        assert [r["step"] for r in forward] == [1, 2, 3, 4]
        assert forward[0] == {
            "phase": "forward",
            "step": 1,
            "node": "apple_price",
            "op": "mul",
            "inputs": [
                {"name": "apple", "param": "x", "constant": False, "value": 100.0},
                {"name": "apple_num", "param": "y", "constant": False, "value": 2.0},
            ],
            "value": 200.0,
        }

    def test_a_constant_operand_is_shown_by_its_text(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A number written in an expression appears as a constant input with its value."""
        path = write_graph("inputs:\n  x: 3\nnodes:\n  y: x * 2.5\n")
        forward = records(invoke, str(path))[0]
        assert forward["inputs"][1] == {
            "name": "2.5",
            "param": "y",
            "constant": True,
            "value": 2.5,
        }
        assert forward["value"] == 7.5


class TestBackwardSteps:
    def test_backward_steps_run_in_reverse_with_the_same_numbers(self, invoke: Invoke) -> None:
        """Backward records go (4), (3), (2), (1), each with its upstream gradient dout."""
        backward = [r for r in records(invoke, "apple_orange") if r["phase"] == "backward"]
        assert [(r["step"], r["node"]) for r in backward] == [
            (4, "price"),
            (3, "all_price"),
            (2, "orange_price"),
            (1, "apple_price"),
        ]
        assert [r["dout"] for r in backward] == [1.0, 1.1, 1.1, 1.1]

    def test_each_contribution_shows_dout_times_the_local_derivative(self, invoke: Invoke) -> None:
        """The issue's example line, rounded on a terminal: d apple_price += 1.1 × 1 = 1.1."""
        result = invoke("trace", "apple_orange", tty=True)
        assert result.exit_code == 0
        text = result.stdout
        assert "d apple_price += 1.1 × 1 = 1.1" in text
        assert "d tax += 1 × 650 = 650" in text
        assert "d apple += 1.1 × 2 = 2.2" in text
        assert "d orange += 1.1 × 3 = 3.3" in text
        assert "3.3000000000000003" not in text

    def test_piped_text_keeps_every_digit(self, invoke: Invoke) -> None:
        """In a pipe the sums are written losslessly, as `run` writes them."""
        lines = lines_of(invoke("trace", "apple_orange").stdout)
        assert any(line.startswith("d orange += 1.1 × 3.0 = 3.3000000000000003") for line in lines)
        assert "orange     = 3.3000000000000003" in lines

    def test_local_derivatives_follow_the_ops_formulas(self, invoke: Invoke) -> None:
        """mul's local derivatives are the other input; the formula is named with them."""
        backward = [r for r in records(invoke, "apple_orange") if r["phase"] == "backward"]
        price = backward[0]["contributions"]
        assert [(c["name"], c["derivative"], c["local"], c["amount"]) for c in price] == [
            ("all_price", "y", 1.1, 1.1),
            ("tax", "x", 650.0, 650.0),
        ]
        text = invoke("trace", "apple_orange").stdout
        assert "∂price/∂all_price = tax = 1.1" in text
        assert "∂all_price/∂orange_price = 1" in text
        assert "∂mul(x, y)" not in text

    def test_tanh_local_derivative_is_one_minus_the_square(self, invoke: Invoke) -> None:
        """The tanh neuron: d n += 1 × (1 - tanh(n)²) = 0.5, as in micrograd's demo."""
        backward = [r for r in records(invoke, "tanh_neuron") if r["phase"] == "backward"]
        tanh = backward[0]["contributions"][0]
        assert tanh["name"] == "n"
        assert math.isclose(tanh["local"], 0.5, rel_tol=1e-12)
        assert math.isclose(tanh["amount"], 0.5, rel_tol=1e-12)


STAGED = """
name: staged
description: "CS231n's staged computation"
inputs:
  x: 3
  y: -4
nodes:
  sigy: sigmoid(y)
  num: x + sigy
  sigx: sigmoid(x)
  xpy: x + y
  xpysqr: xpy ** 2
  den: sigx + xpysqr
  invden: 1 / den
  f: num * invden
output: f
"""


class TestTheGraphsLanguage:
    """Local derivatives are written with the node's own names and values, never with the
    op's x and y (issue 11, item 4)."""

    def test_cs231n_lines(self, invoke: Invoke) -> None:
        """The bundled CS231n example, rounded on a terminal: every line of the backward pass."""
        result = invoke("trace", "cs231n", tty=True)
        assert result.exit_code == 0, result.stderr
        lines = lines_of(result.stdout)
        start = lines.index("(2) f = mul(q, z), dout = 1")
        assert lines[start : start + 6] == [
            "(2) f = mul(q, z), dout = 1",
            "d q += 1 × -4 = -4   ∂f/∂q = z = -4",
            "d z += 1 × 3 = 3     ∂f/∂z = q = 3",
            "(1) q = add(x, y), dout = -4",
            "d x += -4 × 1 = -4   ∂q/∂x = 1",
            "d y += -4 × 1 = -4   ∂q/∂y = 1",
        ]

    def test_cs231n_piped_keeps_every_digit(self, invoke: Invoke) -> None:
        lines = lines_of(invoke("trace", "cs231n").stdout)
        assert "d q += 1.0 × -4.0 = -4.0   ∂f/∂q = z = -4.0" in lines

    def test_apple_orange_names_the_other_factor(self, invoke: Invoke) -> None:
        text = invoke("trace", "apple_orange", tty=True).stdout
        assert "d tax += 1 × 650 = 650         ∂price/∂tax = all_price = 650" in text

    def test_sigmoid_writes_its_output_by_the_nodes_name(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """CS231n's staged example: sigmoid's y * (1 - y) is sigy * (1 - sigy), the input y is
        left alone, and the numbers are written in."""
        path = write_graph(STAGED)
        result = invoke("trace", str(path), "--digits", "4")
        assert result.exit_code == 0, result.stderr
        lines = lines_of(result.stdout)
        assert lines[lines.index("(1) sigy = sigmoid(y), dout = 0.5121") + 1 :][:2] == [
            "d y += 0.5121 × 0.01766 = 0.009046",
            "∂sigy/∂y = sigy * (1 - sigy) = 0.01799 * (1 - 0.01799) = 0.01766",
        ]
        for formula in (
            "∂sigx/∂x = sigx * (1 - sigx) = 0.9526 * (1 - 0.9526) = 0.04518",
            "∂invden/∂den = -1 / den**2 = -1 / 1.953**2 = -0.2623",
            "∂xpysqr/∂xpy = 2 * xpy**(2-1) = 2 * (-1)**(2-1) = -2",
        ):
            assert any(line.endswith(formula) for line in lines), formula

    def test_an_inline_sigmoid_is_named_as_written(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        path = write_graph("inputs:\n  x: 0\nnodes:\n  s: sigmoid(x)\n  f: 2 * s\n")
        lines = lines_of(invoke("trace", str(path)).stdout)
        assert "d x += 2.0 × 0.25 = 0.5   ∂s/∂x = s * (1 - s) = 0.5 * (1 - 0.5) = 0.25" in lines

    def test_tanh_and_exp_use_the_output(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """tanh's 1 - tanh(x)**2 and exp's exp(x) are written with the node's name."""
        path = write_graph("inputs:\n  a: 0\nnodes:\n  t: tanh(a)\n  e: exp(t)\n")
        lines = lines_of(invoke("trace", str(path)).stdout)
        assert "d t += 1.0 × 1.0 = 1.0   ∂e/∂t = e = 1.0" in lines
        assert "d a += 1.0 × 1.0 = 1.0   ∂t/∂a = 1 - t**2 = 1 - 0.0**2 = 1.0" in lines

    def test_swapped_names_are_substituted_at_once(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """In f = y * x, mul's x is the input y and its y the input x: ∂f/∂y = x."""
        path = write_graph("inputs:\n  x: 2\n  y: 3\nnodes:\n  f: y * x\n")
        lines = lines_of(invoke("trace", str(path)).stdout)
        assert "d y += 1.0 × 2.0 = 2.0   ∂f/∂y = x = 2.0" in lines
        assert "d x += 1.0 × 3.0 = 3.0   ∂f/∂x = y = 3.0" in lines

    def test_constants_by_their_text(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        path = write_graph("inputs:\n  a: 3\nnodes:\n  b: a * 2.5\n  c: b / -2\n")
        lines = lines_of(invoke("trace", str(path)).stdout)
        assert any(line.endswith("∂c/∂b = 1 / (-2) = -0.5") for line in lines)
        assert any(line.endswith("∂b/∂a = 2.5") for line in lines)

    def test_tensors_keep_the_names_without_numbers(self, invoke: Invoke) -> None:
        """two_layer_net: affine's dout @ W.T in the node's names; no numbers for tensors."""
        backward = [r for r in records(invoke, "two_layer_net") if r["phase"] == "backward"]
        formulas = {c["partial"]: c["formula"] for r in backward for c in r["contributions"]}
        assert all("@ W.T" not in f or "dout @" in f for f in formulas.values())
        first = backward[-1]["contributions"][0]
        assert first["formula_values"] is None
        assert first["derivative"] in OPS[backward[-1]["op"]].derivatives

    def test_json_records_gain_the_formula(self, invoke: Invoke) -> None:
        backward = [r for r in records(invoke, "cs231n") if r["phase"] == "backward"]
        assert backward[0]["contributions"][0] == {
            "name": "q",
            "param": "x",
            "derivative": "y",
            "partial": "∂f/∂q",
            "formula": "z",
            "formula_values": "-4.0",
            "local": -4.0,
            "amount": -4.0,
            "previous": None,
            "total": -4.0,
            "contribution": 1,
            "of": 1,
        }

    @pytest.mark.parametrize("op", sorted(OPS))
    def test_every_op_is_written_in_the_nodes_names(self, op: str) -> None:
        """Generic over the table: no param (nor y or out for the output) is left standing
        alone in any local derivative once the node's names are in."""
        spec = OPS[op]
        args = tuple(f"arg{i}" for i in range(spec.arity))
        node = NodeDef("node", op, args, ())
        values: dict[str, Any] = {name: 1.0 for name in (*args, "node")}
        for position, derivative in enumerate(spec.derivatives):
            formula = local_formula(node, position, values)
            text = formula_text(formula)
            words = set(re.findall(r"(?<![\w.])[^\W\d]\w*", text))
            # Optional params the node leaves out (batch_norm's mean and var) are the batch's
            # statistics in its formulas, rightly left standing.
            given = set(spec.params[: len(args)])
            assert not words & {*given, "y", "out"} - {"dout"}, (op, derivative, text)
            named = {p.name for p in formula.pieces if p.kind == "name"}
            assert named <= {*args, "node"}
            if derivative.strip() in spec.params:
                assert text == args[spec.params.index(derivative.strip())]


class TestAccumulation:
    def test_running_sum_of_a_value_used_three_times(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """a feeds q once and p twice: contributions 1, 2, 2 add up to d q/d a = 2a + 1 = 5."""
        path = write_graph(REUSED)
        to_a = [
            c
            for r in records(invoke, str(path))
            if r["phase"] == "backward"
            for c in r["contributions"]
            if c["name"] == "a"
        ]
        assert [(c["amount"], c["previous"], c["total"]) for c in to_a] == [
            (1.0, None, 1.0),
            (2.0, 1.0, 3.0),
            (2.0, 3.0, 5.0),
        ]
        assert [(c["contribution"], c["of"]) for c in to_a] == [(1, 3), (2, 3), (3, 3)]

    def test_running_sum_lines_show_the_addition(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """The text says how the sum grows: 1 + 2 = 3, then 3 + 2 = 5 (contribution 3 of 3)."""
        path = write_graph(REUSED)
        lines = lines_of(invoke("trace", str(path), tty=True).stdout)
        assert "running sum: d a = 1   (contribution 1 of 3)" in lines
        assert "running sum: d a = 1 + 2 = 3   (contribution 2 of 3)" in lines
        assert "running sum: d a = 3 + 2 = 5   (contribution 3 of 3)" in lines
        assert "a = 5" in lines  # the final gradient of the input

    def test_a_value_used_once_has_no_running_sum(self, invoke: Invoke) -> None:
        """No accumulation happens in apple_orange, so no running-sum line is printed."""
        assert "running sum" not in invoke("trace", "apple_orange").stdout


class TestTensors:
    def test_tensors_are_summarised_by_shape_and_statistics(self, invoke: Invoke) -> None:
        """Without --full a 4×3 tensor is its shape with min, mean and max, in JSON and text."""
        run = json.loads(invoke("run", "two_layer_net", "-o", "json").stdout)
        a1 = np.array(run["values"]["a1"])
        first = records(invoke, "two_layer_net")[0]
        assert first["value"]["shape"] == [4, 3]
        assert math.isclose(first["value"]["min"], a1.min(), rel_tol=1e-12)
        assert math.isclose(first["value"]["mean"], a1.mean(), rel_tol=1e-9)
        assert math.isclose(first["value"]["max"], a1.max(), rel_tol=1e-12)
        text = invoke("trace", "two_layer_net").stdout
        assert "a1 = 4×3 tensor: min " in text
        assert str(a1.tolist()[0][0]) not in text

    def test_full_shows_every_element(self, invoke: Invoke) -> None:
        """--full gives a1 = x @ W1 + b1 element by element, computed here with numpy."""
        run = json.loads(invoke("run", "two_layer_net", "-o", "json").stdout)
        x, w1, b1 = (np.array(run["values"][n]) for n in ("x", "W1", "b1"))
        first = records(invoke, "two_layer_net", "--full")[0]
        np.testing.assert_allclose(np.array(first["value"]), x @ w1 + b1, rtol=1e-12)
        text = invoke("trace", "two_layer_net", "--full").stdout
        assert "tensor:" not in text
        assert "[[" in text

    def test_tensor_contributions_name_the_formula(self, invoke: Invoke) -> None:
        """Tensor steps have no scalar local derivative; the op's formula says what is added."""
        backward = [r for r in records(invoke, "two_layer_net") if r["phase"] == "backward"]
        affine = backward[1]
        assert affine["node"] == "a2"
        weights = next(c for c in affine["contributions"] if c["name"] == "W2")
        assert weights["local"] is None
        assert weights["derivative"] == "x.T @ dout"
        assert weights["amount"]["shape"] == [3, 3]

    def test_an_input_without_gradient_gets_no_contribution(self, invoke: Invoke) -> None:
        """The labels t have grad: false: no step adds to them and the text says so."""
        names = {
            c["name"]
            for r in records(invoke, "two_layer_net")
            if r["phase"] == "backward"
            for c in r["contributions"]
        }
        assert "t" not in names
        assert "t  = no gradient (grad: false)" in lines_of(invoke("trace", "two_layer_net").stdout)


class TestOptions:
    def test_set_and_of_work_as_in_run(self, invoke: Invoke) -> None:
        """--of all_price starts the backward pass there; --set changes the inputs' values."""
        result = invoke("trace", "apple_orange", "--of", "all_price", "--set", "apple=10")
        assert result.exit_code == 0
        lines = lines_of(result.stdout)
        assert "(1) apple_price = mul(apple, apple_num) = mul(10.0, 2.0) = 20.0" in lines
        backward = lines[lines.index(next(x for x in lines if x.startswith("Backward"))) :]
        assert not any(line.startswith("(4)") for line in backward)
        assert "apple      = 2.0" in lines
        assert "tax        = 0.0" in lines

    def test_digits_rounds_the_text(self, invoke: Invoke) -> None:
        """--digits 3 writes 715 and 3.3 in a pipe."""
        text = invoke("trace", "apple_orange", "--digits", "3").stdout
        assert "mul(650, 1.1) = 715" in text
        assert "3.3000000000000003" not in text

    def test_of_an_input_has_no_backward_step(self, invoke: Invoke) -> None:
        """--of apple: the gradient starts and ends at the input."""
        result = invoke("trace", "apple_orange", "--of", "apple")
        assert result.exit_code == 0
        assert "no step: it is an input" in result.stdout
        assert [
            r for r in records(invoke, "apple_orange", "--of", "apple") if r["phase"] == "backward"
        ] == []

    def test_unknown_of_is_a_usage_error(self, invoke: Invoke) -> None:
        """A misspelt --of exits 2 with a hint and no traceback."""
        result = invoke("trace", "apple_orange", "--of", "all_prise")
        assert result.exit_code == 2
        assert "did you mean 'all_price'" in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""

    def test_invalid_graph_exits_1(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """An unknown name in the graph is reported with its position, exit 1."""
        path = write_graph("inputs:\n  x: 1\nnodes:\n  y: x * z\n")
        result = invoke("trace", str(path))
        assert result.exit_code == 1
        assert "unknown name 'z'" in result.stderr

    def test_rich_output_has_headings_and_no_markup_loss(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """On a terminal the description is printed as written, brackets and all."""
        path = write_graph(
            'name: g\ndescription: "[bold] a & b"\ninputs:\n  x: 2\nnodes:\n  y: x * x\n'
        )
        text = invoke("trace", str(path), tty=True).stdout
        assert "g — [bold] a & b" in text
        assert "Forward, in dependency order" in text
        assert "Gradients of the inputs, d y/d input" in text


class TestAgreesWithTheEngine:
    @settings(max_examples=50, deadline=None)
    @given(
        st.lists(
            st.floats(-1e3, 1e3, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
            min_size=5,
            max_size=5,
        )
    )
    def test_contributions_add_up_to_the_gradients(self, numbers: list[float]) -> None:
        """For any inputs, amount = dout × local and each input's last total is its gradient."""
        graph = load(GRAPHS / "apple_orange.yaml")
        graph = graph.with_inputs(
            {name: InputValue(v) for name, v in zip(graph.inputs, numbers, strict=True)}
        )
        evaluation = graph.evaluate(trace=True)
        story = build_trace(graph, evaluation)
        last: dict[str, float] = {}
        for step in story.backward:
            for term in step.terms:
                assert math.isclose(term.amount, step.dout * term.local, rel_tol=1e-12)
                last[term.name] = term.total
        for name in graph.inputs:
            assert last[name] == evaluation.grads[name]


class TestEveryExample:
    @pytest.mark.parametrize("example", sorted(p.stem for p in GRAPHS.glob("*.yaml")))
    def test_every_bundled_example_traces_every_node(self, invoke: Invoke, example: str) -> None:
        """Each example gets one forward step per node and ends with run's input gradients."""
        graph = load(GRAPHS / f"{example}.yaml")
        steps = records(invoke, example, "--full")
        forward = [r["node"] for r in steps if r["phase"] == "forward"]
        assert forward == [node.name for node in graph.nodes]
        run = json.loads(invoke("run", example, "-o", "json").stdout)
        totals = {
            c["name"]: c["total"]
            for r in steps
            if r["phase"] == "backward"
            for c in r["contributions"]
        }
        for name in graph.inputs:
            if run["grads"][name] is not None:
                assert totals[name] == run["grads"][name]


class TestHelp:
    def test_help_has_an_example_and_the_formats(self, invoke: Invoke) -> None:
        """`trace --help` shows an Example block and every output format."""
        text = invoke("trace", "--help").stdout
        assert "Example:" in text
        assert "[auto|rich|text|json|markdown|latex]" in text

    def test_the_group_lists_trace(self, invoke: Invoke) -> None:
        """`bpcalc --help` lists the lazily loaded trace command."""
        assert "trace" in invoke("--help").stdout


class TestNames:
    def test_names_that_are_not_identifiers_are_parenthesised(self) -> None:
        """Expression names read as one term; a newline is shown escaped, on one line."""
        assert shown_name("apple") == "apple"
        assert shown_name("사과") == "사과"
        assert shown_name("w * r") == "(w * r)"
        assert shown_name("a\nb") == "(a\\nb)"
