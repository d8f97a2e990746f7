"""The engine's algorithm written as plainly as the book writes it, to read and to test by.

``bpcalc.engine.plan`` compiles a graph to slots and unrolls its loops for speed; this module
does the same reverse mode with dictionaries keyed by name and one loop per pass. The tests
hold the two equal, value for value and gradient for gradient, to the bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcalc.loading.graph import Graph
from bpcalc.loading.literals import Const
from bpcalc.ops.table import OPS


def evaluate(graph: Graph, of: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values and gradients d(of)/d(name) of every input and node (None for grad: false)."""
    target = graph.output if of is None else of
    values: dict[str, Any] = {name: inp.value for name, inp in graph.inputs.items()}

    def value_of(arg: str | Const) -> Any:
        return arg.value if isinstance(arg, Const) else values[arg]

    # Forward: each node's layer, in dependency order; the layer keeps what backward needs.
    layers: dict[str, Any] = {}
    with np.errstate(all="ignore"):
        for node in graph.nodes:
            layer = OPS[node.op].layer_class()(**node.attrs)  # attributes, as the plan does
            values[node.name] = layer.forward(*map(value_of, node.args))
            layers[node.name] = layer

        # Backward: from the target, seeded with ones, each node in reverse order adds
        # d(target)/d(arg) = dout * local derivative to every argument it was computed from.
        seed = values[target]
        grads: dict[str, Any] = {
            target: np.ones_like(seed) if isinstance(seed, np.ndarray) else 1.0
        }
        wants = {name for name, inp in graph.inputs.items() if inp.grad} | set(layers)
        for node in reversed(graph.nodes):
            dout = grads.get(node.name)
            if dout is None or not any(isinstance(a, str) and a in wants for a in node.args):
                continue
            local = layers[node.name].backward(dout)
            if len(node.args) == 1:
                local = (local,)
            for arg, d in zip(node.args, local, strict=True):
                if isinstance(arg, str) and arg in wants:
                    grads[arg] = d if arg not in grads else grads[arg] + d

    result: dict[str, Any] = {}
    for name, value in values.items():
        if name in graph.inputs and not graph.inputs[name].grad:
            result[name] = None
        elif name in grads:
            result[name] = grads[name]
        else:
            result[name] = np.zeros_like(value) if isinstance(value, np.ndarray) else 0.0
    return values, result
