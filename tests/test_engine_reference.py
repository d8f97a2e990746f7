"""The fast engine (bpcalc.engine.plan) gives exactly what the readable reference loop
(bpcalc.engine.reference) gives: every value and gradient, to the bit, for every op."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.engine import reference
from bpcalc.ops.table import OPS
from tests.test_fast_paths import graph_text, programs
from tests.test_fuzz import op_graphs


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
