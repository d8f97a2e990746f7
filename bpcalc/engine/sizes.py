"""The size of every node's result, worked out from the input shapes before evaluating.

``--max-elements`` bounds each input when it is read; this bounds what the ops make of the
inputs, so broadcasting a 100,000-vector against a 100,000-column, or an outer product, is
refused at once with the node's name instead of allocating 80 GB (or being killed for it).
The sizes also add up: every value and gradient is kept until the evaluation ends, so
``--max-memory`` bounds their total (40 chained ``+ 1`` on a 160 MB input need 13 GB).
"""

from __future__ import annotations

import math

from bpcalc.errors import GraphError
from bpcalc.limits import show_bytes
from bpcalc.loading.graph import Graph
from bpcalc.ops.spec import Shape, ShapeError
from bpcalc.ops.table import OPS
from bpcalc.runtime import is_array

# Memory an element of a tensor input or node takes: its float64 value and its gradient.
BYTES_PER_ELEMENT = 16


def check_sizes(graph: Graph, memory_hint: str = "") -> None:
    """Raise GraphError at the first node whose result would exceed --max-elements, or
    that would bring the values and gradients so far past --max-memory (whose message ends
    with ``memory_hint``)."""
    if not graph.definition.has_attrs and not any(
        is_array(value.value) for value in graph.inputs.values()
    ):
        return  # scalars in, scalars out: every op without attributes maps scalars to a scalar
    import numpy as np

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
        shape = None
        if all(s is not None for s in operands):
            try:
                shape = OPS[node.op].shape([s for s in operands if s is not None], node.attrs)
            except ShapeError as err:
                message = f"node '{node.name}': {node.op}: {err}"
                raise GraphError([graph.locate(node.name, message)]) from None
        shapes[node.name] = shape
        workspace = OPS[node.op].workspace
        if shape is not None and workspace is not None:
            count = workspace([s for s in operands if s is not None], node.attrs)
            if count > limit:
                message = (
                    f"node '{node.name}' would hold {count:,} elements in its working matrix "
                    f"(im2col's windows as rows); the limit is {limit:,} (--max-elements)"
                )
                raise GraphError([graph.locate(node.name, message)])
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
