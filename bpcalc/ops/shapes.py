"""The size of every node's result, worked out from the input shapes before evaluating.

``--max-elements`` bounds each input when it is read; this bounds what the ops make of the
inputs, so broadcasting a 100,000-vector against a 100,000-column, or an outer product, is
refused at once with the node's name instead of allocating 80 GB (or being killed for it).
The sizes also add up: every value and gradient is kept until the evaluation ends, so
``--max-memory`` bounds their total (40 chained ``+ 1`` on a 160 MB input need 13 GB).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bpcalc.errors import GraphError
from bpcalc.limits import show_bytes

if TYPE_CHECKING:
    from bpcalc.loading.graph import Graph

Shape = tuple[int, ...]
# None: not known, because the operands do not fit; evaluation then reports the mismatch.
ShapeRule = Callable[[Sequence[Shape]], Shape | None]


def _broadcast(*shapes: Shape) -> Shape | None:
    """numpy's broadcasting of ``shapes``, or None when they do not broadcast."""
    ndim = max(map(len, shapes), default=0)
    result = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            return None
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def _matmul(x: Shape, y: Shape) -> Shape | None:
    """numpy.matmul's result shape: 1-D operands are promoted, then their axis dropped."""
    if not x or not y:
        return None  # matmul refuses scalars
    x2 = (1, *x) if len(x) == 1 else x
    y2 = (*y, 1) if len(y) == 1 else y
    if x2[-1] != y2[-2]:
        return None
    batch = _broadcast(x2[:-2], y2[:-2])
    if batch is None:
        return None
    rows = (x2[-2],) if len(x) > 1 else ()
    columns = (y2[-1],) if len(y) > 1 else ()
    return (*batch, *rows, *columns)


def _affine(shapes: Sequence[Shape]) -> Shape | None:
    xw = _matmul(shapes[0], shapes[1])
    return None if xw is None else _broadcast(xw, shapes[2])


_SAME = ("neg", "identity", "exp", "log", "tanh", "relu", "sigmoid")
_BROADCAST = ("add", "sub", "mul", "div", "pow")
_SCALAR = ("sum", "mean", "softmax_with_loss")

RULES: dict[str, ShapeRule] = {
    **{op: lambda shapes: shapes[0] for op in _SAME},
    **{op: lambda shapes: _broadcast(*shapes) for op in _BROADCAST},
    **{op: lambda shapes: () for op in _SCALAR},
    "matmul": lambda shapes: _matmul(shapes[0], shapes[1]),
    "affine": _affine,
}


# Memory an element of a tensor input or node takes: its float64 value and its gradient.
BYTES_PER_ELEMENT = 16


def check_sizes(graph: Graph, memory_hint: str = "") -> None:
    """Raise GraphError at the first node whose result would exceed --max-elements, or
    that would bring the values and gradients so far past --max-memory (whose message ends
    with ``memory_hint``)."""
    import numpy as np

    if not any(isinstance(value.value, np.ndarray) for value in graph.inputs.values()):
        return  # scalars in, scalars out: every op maps scalars to a scalar
    limit = graph.definition.limits.max_elements
    budget = graph.definition.limits.max_memory
    shapes: dict[str, Shape | None] = {
        name: np.shape(value.value) for name, value in graph.inputs.items()
    }
    total = 0
    for name, shape in shapes.items():
        total += math.prod(shape or ()) * BYTES_PER_ELEMENT
        if total > budget:
            message = _over_budget("input", name, total, budget, memory_hint)
            raise GraphError([graph.locate(name, message)])
    for node in graph.nodes:
        operands = [shapes.get(arg) if isinstance(arg, str) else () for arg in node.args]
        rule = RULES.get(node.op)
        shape = None
        if rule is not None and all(s is not None for s in operands):
            shape = rule([s for s in operands if s is not None])
        shapes[node.name] = shape
        if shape is not None and math.prod(shape) > limit:
            count = math.prod(shape)
            message = (
                f"node '{node.name}' would hold {count:,} elements "
                f"({'×'.join(map(str, shape))}); the limit is {limit:,} (--max-elements)"
            )
            raise GraphError([graph.locate(node.name, message)])
        if shape is not None:
            total += math.prod(shape) * BYTES_PER_ELEMENT
            if total > budget:
                message = _over_budget("node", node.name, total, budget, memory_hint)
                raise GraphError([graph.locate(node.name, message)])


def _over_budget(kind: str, name: str, total: int, budget: int, hint: str) -> str:
    return (
        f"{kind} '{name}' would bring the memory for values and gradients to "
        f"{show_bytes(total, up=True)}; the limit is {show_bytes(budget)} (--max-memory){hint}"
    )
