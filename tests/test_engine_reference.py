"""The fast engine (bpcalc.engine.plan) gives exactly what the readable reference loop
(bpcalc.engine.reference) gives: every value and gradient, to the bit, for every op."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.engine import reference
from bpcalc.loading.inputs import InputValue
from bpcalc.ops.table import OPS
from tests.test_fast_paths import graph_text, programs
from tests.test_fuzz import op_graphs
from tests.test_layers import ARRAY_ONLY


def assert_same(fast: Any, slow: Any) -> None:
    """Equal to the bit: same type, shape and float64 bytes (so NaNs and -0.0 count too)."""
    assert type(fast) is type(slow)
    if isinstance(fast, np.ndarray):
        assert fast.shape == slow.shape
        assert fast.tobytes() == slow.tobytes()
    elif fast is not None:
        assert np.float64(fast).tobytes() == np.float64(slow).tobytes()


def assert_engines_agree(text: str, of: str | None = None) -> None:
    graph = loads(text)
    result = graph.evaluate(of=of)
    values, grads = reference.evaluate(graph, of=of)
    assert list(result.values) == list(values)
    for name in values:
        assert_same(result.values[name], values[name])
        assert_same(result.grads[name], grads[name])


@pytest.mark.parametrize("op", sorted(OPS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_op_agrees_with_the_reference(op: str, data: st.DataObject) -> None:
    """Random graphs of each op (broadcasting, fan-out, constants, grad: false inputs)."""
    assert_engines_agree(data.draw(op_graphs(op)).text)


@settings(max_examples=40, deadline=None)
@given(programs())
def test_random_scalar_dags_agree_with_the_reference(
    program: tuple[dict[str, float], dict[str, bool], list[Any], str],
) -> None:
    """Random DAGs, differentiated at a random node or input (--of)."""
    values, wants, nodes, target = program
    assert_engines_agree(graph_text(values, wants, nodes), of=target)


# Ops a graph of floats can use: one or two inputs, no attribute needed, floats in and out.
FLOAT_OPS = sorted(
    name
    for name, spec in OPS.items()
    if spec.arity in (1, 2) and name not in ARRAY_ONLY and spec.missing_attributes([]) is None
)
# Signed zeros, infinities and NaN too: the float backward pass starts every sum at -0.0.
FLOATS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, math.inf, -math.inf, math.nan]) | (
    st.floats(-3, 3)
)


@st.composite
def float_graphs(draw: st.DrawFn) -> tuple[str, str]:
    """A random DAG of floats over every op that takes floats: inputs (some grad: false, some
    unused), numbers as arguments, and a random input or node to differentiate (--of)."""
    inputs = {f"i{k}": draw(FLOATS) for k in range(draw(st.integers(1, 4)))}
    wants = {name: draw(st.booleans()) for name in inputs}
    names = list(inputs)
    nodes = []
    for k in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(FLOAT_OPS))
        numbers = st.sampled_from(["0.5", "2", "-0.0", "0"])
        args = [draw(st.sampled_from(names) | numbers) for _ in range(OPS[op].arity)]
        nodes.append((f"n{k}", op, args))
        names.append(f"n{k}")
    return graph_text(inputs, wants, nodes), draw(st.sampled_from(names))


class TestGraphsOfFloats:
    """A graph of floats runs its own backward pass (sums from -0.0, only the reached nodes):
    it must give the reference's results to the bit, type included."""

    @settings(max_examples=150, deadline=None)
    @given(float_graphs())
    def test_values_and_gradients_agree_with_the_reference(self, case: tuple[str, str]) -> None:
        text, target = case
        graph = loads(text)
        graph.evaluate(of=target)
        assert graph.plans[False].floats  # the case runs the float path
        assert_engines_agree(text, of=target)

    @settings(max_examples=50, deadline=None)
    @given(float_graphs())
    def test_traced_gradients_agree_with_the_reference(self, case: tuple[str, str]) -> None:
        text, target = case
        graph = loads(text)
        traced = graph.evaluate(of=target, trace=True)
        _, grads = reference.evaluate(graph, of=target)
        for name in grads:
            assert_same(traced.grads[name], grads[name])

    def test_gradients_keep_the_sign_of_zero(self) -> None:
        """-0.0 gradients stay -0.0, +0.0 stay +0.0, names no gradient reaches get +0.0."""
        text = (
            "inputs:\n  x: 3\n  w: 2\n  unused: 1\n"
            "nodes:\n  a: x * -0.0\n  b: w * 0.0\n  s: a + b\n  after: s + x\n"
        )
        graph = loads(text)
        grads = graph.evaluate(of="s").grads
        signs = {name: math.copysign(1.0, grads[name]) for name in ("x", "w", "unused", "after")}
        assert signs == {"x": -1.0, "w": 1.0, "unused": 1.0, "after": 1.0}
        assert_engines_agree(text, of="s")

    def test_a_numpy_scalar_input_takes_the_general_path(self) -> None:
        """with_inputs may give a numpy float64: the results keep the reference's types."""
        graph = loads("inputs:\n  x: 2\n  y: 3\n  u: 1\nnodes:\n  z: x * y\n")
        graph = graph.with_inputs({"x": InputValue(np.float64(2.0))})
        result = graph.evaluate()
        assert not graph.plans[False].floats
        values, grads = reference.evaluate(graph)
        assert [type(result.values[n]) for n in values] == [type(v) for v in values.values()]
        assert [type(result.grads[n]) for n in grads] == [type(g) for g in grads.values()]
