"""The engine's and the loader's fast paths give exactly what the plain algorithms give.

The engine compiles a graph to slots and branches on arity; loading skips work for files
without anchors, for JSON without duplicate keys and for nodes already in dependency order;
scalar graphs check finiteness with one sum. Each of these is checked here against a
reference written in the test, or against the slow path it replaces.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.errors import GraphError
from bpcalc.limits import Limits
from bpcalc.loading.inputs import InputValue
from bpcalc.ops.table import OPS as OP_TABLE

OPS = ("add", "sub", "mul", "tanh")


@st.composite
def programs(draw: st.DrawFn) -> tuple[dict[str, float], dict[str, bool], list[Any], str]:
    """A random scalar DAG: inputs (some with grad: false), nodes using earlier names or
    numbers, possibly the same argument twice, and a node or input to differentiate."""
    n_inputs = draw(st.integers(1, 4))
    values = {f"i{k}": draw(st.floats(-2, 2, allow_nan=False)) for k in range(n_inputs)}
    wants = {name: draw(st.booleans()) for name in values}
    names = list(values)
    nodes = []
    for k in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(OPS))
        arity = 1 if op == "tanh" else 2
        args = [draw(st.sampled_from(names) | st.sampled_from(["0.5", "2"])) for _ in range(arity)]
        nodes.append((f"n{k}", op, args))
        names.append(f"n{k}")
    target = draw(st.sampled_from(names))
    return values, wants, nodes, target


def reference(
    values: dict[str, float], wants: dict[str, bool], nodes: list[Any], target: str
) -> tuple[dict[str, float], dict[str, Any]]:
    """Forward in order, backward in reverse, adding a's then b's contribution per node."""
    value = dict(values)

    def read(arg: str) -> float:
        return value[arg] if arg in value else float(arg)

    for name, op, args in nodes:
        x = read(args[0])
        if op == "tanh":
            value[name] = math.tanh(x)
        else:
            y = read(args[1])
            value[name] = x + y if op == "add" else x - y if op == "sub" else x * y
    grad: dict[str, Any] = {target: 1.0}
    position = {name: i for i, (name, _, _) in enumerate(nodes)}
    last = position.get(target, -1)
    for name, op, args in reversed(nodes[: last + 1]):
        dout = grad.get(name)
        if dout is None:
            continue
        if op == "tanh":
            locals_ = [dout * (1.0 - value[name] * value[name])]
        elif op == "mul":
            locals_ = [dout * read(args[1]), dout * read(args[0])]
        else:
            locals_ = [dout, -dout if op == "sub" else dout]
        for arg, d in zip(args, locals_, strict=True):
            if arg in value and wants.get(arg, True):
                grad[arg] = d if arg not in grad else grad[arg] + d
    grads: dict[str, Any] = {}
    for name in value:
        if name in wants and not wants[name]:
            grads[name] = None
        else:
            grads[name] = grad.get(name, 0.0)
    return value, grads


def graph_text(values: dict[str, float], wants: dict[str, bool], nodes: list[Any]) -> str:
    document = {
        "inputs": {
            name: (repr(v) if wants[name] else {"value": repr(v), "grad": False})
            for name, v in values.items()
        },
        "nodes": {name: {"op": op, "in": args} for name, op, args in nodes},
        "output": nodes[-1][0],
    }
    return json.dumps(document)


class TestEngineAgreesWithAReference:
    @settings(max_examples=60, deadline=None)
    @given(programs())
    def test_values_and_gradients_are_bit_for_bit_the_references(
        self, program: tuple[dict[str, float], dict[str, bool], list[Any], str]
    ) -> None:
        """Every value and gradient equals the plain forward/backward loop's, to the bit."""
        values, wants, nodes, target = program
        graph = loads(graph_text(values, wants, nodes), name="random.json")
        result = graph.evaluate(of=target)
        expected_values, expected_grads = reference(values, wants, nodes, target)
        assert result.values == expected_values
        assert result.grads == expected_grads

    @settings(max_examples=30, deadline=None)
    @given(programs())
    def test_tracing_does_not_change_the_gradients(
        self, program: tuple[dict[str, float], dict[str, bool], list[Any], str]
    ) -> None:
        """evaluate(trace=True) gives the same gradients, and its last contribution to each
        name carries that name's final gradient."""
        values, wants, nodes, target = program
        graph = loads(graph_text(values, wants, nodes), name="random.json")
        plain = graph.evaluate(of=target)
        traced = graph.evaluate(of=target, trace=True)
        assert traced.grads == plain.grads
        assert traced.contributions is not None
        last = {c.arg: c.total for c in traced.contributions}
        assert all(plain.grads[name] == total for name, total in last.items())

    def test_differentiating_an_input_without_gradient_gives_none(self) -> None:
        """--of an input marked grad: false still reports no gradient for it."""
        graph = loads("inputs:\n  x: {value: 2, grad: false}\n  y: 3\nnodes:\n  z: x * y\n")
        assert graph.evaluate(of="x").grads["x"] is None
        assert graph.evaluate(of="y").grads["y"] == 1.0


def chain(length: int, *, blow_up_at: int | None = None) -> str:
    lines = ["inputs:", "  x: 1.5", "nodes:"]
    prev = "x"
    for k in range(length):
        factor = "1e200" if k == blow_up_at or k == (blow_up_at or 0) + 1 else "1.01"
        lines.append(f"  v{k}: {prev} * {factor}")
        prev = f"v{k}"
    return "\n".join(lines) + "\n"


class TestNonFiniteWarnings:
    @pytest.mark.parametrize("length", [10, 200])
    def test_a_finite_chain_warns_of_nothing(self, length: int) -> None:
        """Short graphs (exact scan) and long ones (one sum) agree when all is finite."""
        assert loads(chain(length)).evaluate().warnings == []

    @pytest.mark.parametrize("length", [10, 200])
    def test_overflow_is_located_at_the_first_infinite_value(self, length: int) -> None:
        """The warning names the first node whose value is infinite, whatever the length."""
        warnings = loads(chain(length, blow_up_at=3)).evaluate().warnings
        assert "the value of 'v4' is not finite" in warnings[0].message
        assert warnings[0].line == 3 + 5  # three header lines, then v0 on line 4


class TestLoadingFastPaths:
    def test_nodes_out_of_order_are_sorted_first_written_first(self) -> None:
        """A file not in dependency order is ordered by Kahn's algorithm, ties by position."""
        text = "inputs:\n  x: 2\nnodes:\n  c: a + b\n  b: x * 3\n  a: x + 1\n"
        graph = loads(text)
        assert [node.name for node in graph.nodes] == ["b", "a", "c"]
        assert graph.evaluate().values["c"] == 9.0

    def test_nodes_in_order_keep_their_order(self) -> None:
        """A file already in dependency order is evaluated in the order written."""
        text = "inputs:\n  x: 2\nnodes:\n  b: x * 3\n  a: x + 1\n  c: a + b\n"
        assert [node.name for node in loads(text).nodes] == ["b", "a", "c"]

    @pytest.mark.parametrize("extra", ["", "description: 'has & in it'\n"])
    def test_a_tag_is_refused_with_or_without_an_ampersand_in_the_file(self, extra: str) -> None:
        """Skipping the alias check (no '&' in the file) never skips the tag check."""
        text = extra + "inputs:\n  x: !!python/none 2\nnodes:\n  y: x * 2\n"
        with pytest.raises(GraphError) as caught:
            loads(text)
        assert "YAML tag '!!python/none' is not allowed" in caught.value.render()

    def test_a_quoted_expression_locates_its_unknown_name(self) -> None:
        """The column of a name inside a quoted expression counts the opening quote."""
        text = 'inputs:\n  x: 2\nnodes:\n  y: "x + zz"\n'
        with pytest.raises(GraphError) as caught:
            loads(text)
        diagnostic = caught.value.diagnostics[0]
        assert (diagnostic.line, diagnostic.col) == (4, 11)
        assert diagnostic.source_line is not None
        assert diagnostic.source_line[diagnostic.col - 1 :].startswith("zz")

    def test_json_duplicate_keys_are_still_refused(self) -> None:
        """The C-speed dict for JSON objects falls back to the checking loop on a repeat."""
        text = '{"inputs": {"x": 1, "x": 2}, "nodes": {"y": "x * 2"}}'
        with pytest.raises(GraphError) as caught:
            loads(text, name="g.json")
        assert "duplicate key 'x'" in caught.value.render()

    def test_a_late_diagnostic_composes_the_dropped_tree_again(self) -> None:
        """Loading drops the YAML node tree; a warning after it is still located exactly."""
        graph = loads("inputs:\n  x: 1e200\nnodes:\n  y: x * x\n  z: y + 1\n")
        assert graph.definition.source.root is None
        warning = graph.evaluate().warnings[0]
        assert (warning.line, warning.col) == (4, 6)  # where y's expression starts
        assert warning.source_line == "  y: x * x"


class TestResultsByName:
    """Evaluation.values and .grads read the engine's lists through the plan's shared
    name index; they behave as the read-only dicts they replace."""

    TEXT = "inputs:\n  a: 2\n  b: {value: 3, grad: false}\nnodes:\n  c: a * b\n  d: c + a\n"

    def test_they_read_as_the_dicts_would(self) -> None:
        result = loads(self.TEXT).evaluate()
        values = {"a": 2.0, "b": 3.0, "c": 6.0, "d": 8.0}
        grads = {"a": 4.0, "b": None, "c": 1.0, "d": 1.0}
        for mapping, expected in ((result.values, values), (result.grads, grads)):
            assert mapping == expected and expected == mapping
            assert list(mapping) == list(expected)
            assert list(mapping.items()) == list(expected.items())
            assert list(mapping.values()) == list(expected.values())
            assert list(mapping.keys()) == list(expected)
            assert len(mapping) == len(expected)
            assert "a" in mapping and "zz" not in mapping and mapping.get("zz") is None
            assert mapping.get("a") == expected["a"]
            assert dict(mapping) == expected
            assert repr(mapping) == repr(expected)
        with pytest.raises(KeyError):
            result.values["zz"]

    def test_they_are_read_only(self) -> None:
        result = loads(self.TEXT).evaluate()
        with pytest.raises(TypeError):
            result.values["a"] = 1.0  # type: ignore[index]

    def test_two_evaluations_of_one_graph_compare_by_content(self) -> None:
        graph = loads(self.TEXT)
        first, second = graph.evaluate(), graph.evaluate(of="c")
        assert first.values == second.values
        assert first.grads != second.grads


class TestGradientsNobodyWants:
    """Layers are told which inputs want a gradient and may skip the others; the plan never
    reads those, so the results equal the reference's (see test_engine_reference)."""

    NET = (
        "inputs:\n  x: {value: [[1, 2], [3, 4]], grad: false}\n"
        "  t: {value: [[0, 1], [1, 0]], grad: false}\n"
        "  W: [[0.5, -1], [2, 0.25]]\n  b: [0.1, -0.2]\n"
        "nodes:\n  a: affine(x, W, b)\n  loss: softmax_with_loss(a, t)\n"
    )

    def test_the_plan_tells_each_layer_which_inputs_want_a_gradient(self) -> None:
        graph = loads(self.NET)
        graph.evaluate()
        affine, loss = (step[0]() for step in graph.plans[False].steps)
        assert affine.needs_input_grad == (False, True, True)
        assert loss.needs_input_grad == (True, False)

    @pytest.mark.parametrize(
        ("op", "needs", "skipped"),
        [("affine", (False, True, True), 0), ("softmax_with_loss", (True, False), 1)],
    )
    def test_told_layers_leave_out_what_nobody_wants_and_compute_the_rest_the_same(
        self, op: str, needs: tuple[bool, ...], skipped: int
    ) -> None:
        graph = loads(self.NET)
        x, t, W, b = (graph.inputs[n].value for n in ("x", "t", "W", "b"))
        inputs = (x, W, b) if op == "affine" else (x, t)
        results = []
        for told in (None, needs):
            layer = OP_TABLE[op].layer_class()()
            layer.needs_input_grad = told
            out = layer.forward(*inputs)
            results.append(layer.backward(np.ones_like(out) if op == "affine" else 1.0))
        full, partial = results
        assert partial[skipped] is None and full[skipped] is not None
        for i, grad in enumerate(full):
            if i != skipped:
                assert grad.tobytes() == partial[i].tobytes()


class TestSizesCheckedOncePerGraph:
    """A compiled plan stands for sizes checked: a graph's input shapes never change, and
    ``with_inputs`` makes a new graph, whose sizes are checked again."""

    TEXT = "inputs:\n  u: [1, 2, 3]\n  v: [1, 2, 3]\nnodes:\n  outer: matmul(u, v)\n"

    def test_new_input_values_are_checked_again(self) -> None:
        graph = loads(self.TEXT, limits=Limits(max_elements=10))
        assert graph.evaluate().values["outer"] == 14.0
        column = InputValue(np.ones((4, 1)))
        with pytest.raises(GraphError, match="would hold 12 elements"):
            graph.with_inputs({"u": column, "v": InputValue(np.ones((1, 3)))}).evaluate()
        assert graph.evaluate(of="u").grads["v"].tolist() == [0.0, 0.0, 0.0]  # the old plan

    def test_a_refused_graph_stays_refused(self) -> None:
        text = "inputs:\n  u: [[1], [2], [3]]\n  v: [[1, 2, 3]]\nnodes:\n  outer: matmul(u, v)\n"
        graph = loads(text, limits=Limits(max_elements=5))
        for _ in range(2):
            with pytest.raises(GraphError, match="would hold 9 elements"):
                graph.evaluate()
