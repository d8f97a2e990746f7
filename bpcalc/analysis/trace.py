"""The story of one evaluation, step by step: forward in order, then backward in reverse.

Steps are numbered like the ``(1)``...``(4)`` comments of the book's ``buy_apple_orange.py``:
node ``(k)`` is the k-th forward layer call, and its backward call carries the same number.
Each backward step lists what it adds to each input, ``d x += dout × local = amount``, and the
running sum when a value feeds several nodes. This module builds the steps as data;
bpcalc.output.trace_text writes them for people and programs.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from bpcalc.loading.literals import Const
from bpcalc.ops.spec import EMPTY, Attrs
from bpcalc.ops.table import OPS

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph
    from bpcalc.loading.schema import NodeDef


@dataclass(frozen=True)
class Operand:
    """One argument of a forward step: an input, a node or a constant, with its value."""

    name: str  # for a constant, the text it was written as
    param: str  # the op's name for this argument (x, y, W, ...)
    value: Any
    constant: bool


@dataclass(frozen=True)
class ForwardStep:
    number: int
    node: str
    op: str
    operands: tuple[Operand, ...]
    value: Any
    attrs: Attrs = EMPTY


@dataclass(frozen=True)
class Term:
    """``d name += dout × local = amount``; ``index`` of ``count`` contributions to ``name``."""

    name: str
    param: str
    position: int  # index of the argument in the node's inputs
    derivative: str  # the op's formula for this local derivative
    local: Any  # a float when every value of the step is a scalar, else None
    amount: Any
    previous: Any  # the running sum before this contribution; None for the first
    total: Any
    index: int
    count: int


@dataclass(frozen=True)
class BackwardStep:
    number: int  # the same as the node's forward step
    node: str
    op: str
    dout: Any
    terms: tuple[Term, ...]
    attrs: Attrs = EMPTY


@dataclass(frozen=True)
class Trace:
    graph: str
    description: str
    target: str  # the node differentiated (the output, or --of)
    forward: tuple[ForwardStep, ...]
    backward: tuple[BackwardStep, ...]
    input_grads: dict[str, Any]  # None for an input with grad: false


def build_trace(graph: Graph, evaluation: Evaluation) -> Trace:
    """Forward and backward steps of an evaluation made with ``evaluate(trace=True)``."""
    if evaluation.contributions is None:
        raise ValueError("build_trace needs an evaluation made with trace=True")
    values = evaluation.values
    numbers = {node.name: i for i, node in enumerate(graph.nodes, start=1)}
    forward = tuple(
        ForwardStep(
            numbers[node.name],
            node.name,
            node.op,
            tuple(_operands(node, values)),
            values[node.name],
            node.attrs,
        )
        for node in graph.nodes
    )
    nodes = {node.name: node for node in graph.nodes}
    counts = Counter(c.arg for c in evaluation.contributions)
    seen: Counter[str] = Counter()
    running: dict[str, Any] = {}
    backward = []
    for name, group in itertools.groupby(evaluation.contributions, key=lambda c: c.node):
        node = nodes[name]
        contributions = list(group)
        # The engine skips constants and inputs with grad: false; match the rest by position.
        receivers = [
            i
            for i, arg in enumerate(node.args)
            if isinstance(arg, str) and evaluation.grads.get(arg) is not None
        ]
        locals_ = _local_derivatives(node, values)
        spec = OPS[node.op]
        terms = []
        for position, c in zip(receivers, contributions, strict=True):
            seen[c.arg] += 1
            terms.append(
                Term(
                    c.arg,
                    spec.params[position],
                    position,
                    spec.derivatives[position],
                    None if locals_ is None else locals_[position],
                    c.amount,
                    running.get(c.arg),
                    c.total,
                    seen[c.arg],
                    counts[c.arg],
                )
            )
            running[c.arg] = c.total
        backward.append(
            BackwardStep(
                numbers[name], name, node.op, contributions[0].dout, tuple(terms), node.attrs
            )
        )
    return Trace(
        graph.name,
        graph.description,
        evaluation.output,
        forward,
        tuple(backward),
        {name: evaluation.grads[name] for name in graph.inputs},
    )


def _operands(node: NodeDef, values: dict[str, Any]) -> Iterator[Operand]:
    params = OPS[node.op].params
    for param, arg in zip(params, node.args, strict=True):
        if isinstance(arg, Const):
            yield Operand(arg.text, param, arg.value, True)
        else:
            yield Operand(arg, param, values[arg], False)


def _local_derivatives(node: NodeDef, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """Each input's local derivative, by running the layer backward from 1 (scalars only)."""
    if isinstance(values[node.name], Fraction):
        return _exact_local_derivatives(node, values)
    inputs = [arg.value if isinstance(arg, Const) else values[arg] for arg in node.args]
    if not all(isinstance(v, float | int) for v in [*inputs, values[node.name]]):
        return None
    import numpy as np

    layer = OPS[node.op].layer_class()(**node.attrs)
    with np.errstate(all="ignore"):
        layer.forward(*inputs)
        local: Any = layer.backward(1.0)
    return tuple(float(x) for x in (local if len(inputs) > 1 else (local,)))


def _exact_local_derivatives(node: NodeDef, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """The same with the exact layers of ``--exact``: rational local derivatives."""
    from bpcalc.ops.exact import to_fraction

    inputs = [to_fraction(arg.text) if isinstance(arg, Const) else values[arg] for arg in node.args]
    if not all(isinstance(v, Fraction) for v in inputs):
        return None
    layer = OPS[node.op].exact_layer_class()(**node.attrs)
    layer.forward(*inputs)
    local = layer.backward(Fraction(1))
    return tuple(local if len(inputs) > 1 else (local,))
