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

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.errors import GraphError

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
