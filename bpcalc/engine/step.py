"""One forward and backward pass of a compiled plan, for loops that evaluate the same graph
many times with new input values (``bpcalc train``).

``Graph.evaluate`` builds an ``Evaluation`` (every value and gradient by name, warnings); a
training step needs only the loss and the gradients of the parameters, so this reuses the
graph's plan and skips the rest. The shapes are checked once, before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bpcalc.engine.plan import _zeros_like, compiled_plan
from bpcalc.loading.graph import Graph
from bpcalc.runtime import gc_paused


class GradientStep:
    """``step(values)``: the value of ``target`` and its gradients with respect to ``wrt``,
    for the inputs ``values`` (one per input of the graph, in its order).

    Inputs that are not in ``wrt`` should have ``grad: false`` in ``graph``: then the backward
    pass does no work for them.
    """

    def __init__(self, graph: Graph, target: str, wrt: Sequence[str]) -> None:
        with gc_paused():
            plan = compiled_plan(graph, target)
        self.graph = graph
        self.plan: Any = plan
        self.end = plan.index[target]
        self.wrt = [plan.index[name] for name in wrt]

    def __call__(self, values: list[Any]) -> tuple[Any, list[Any]]:
        import numpy as np

        plan, graph = self.plan, self.graph
        with np.errstate(all="ignore"), gc_paused():
            slots, layers = plan.forward(graph, values)
            grads = plan.backward(graph, slots, layers, self.end)
        found = [grads[s] for s in self.wrt]
        for i, g in enumerate(found):
            if g is None:  # no path from the input to the target
                found[i] = _zeros_like(values[self.wrt[i]])
        return slots[self.end], found
