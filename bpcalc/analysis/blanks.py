"""Worksheets: a drawing or a trace with some answers left out (``--blank``).

The values or gradients chosen are replaced by ``BLANK``; every writer shows it as an empty
box (``____`` in text), so a teacher prints the exercise and the normal output is the answer
key. What is blanked is chosen by name: the value of a node (inputs and constants are the
exercise's data and stay), and the gradient d target/d name of an input or a node, together
with every contribution to it and, in a trace, the upstream gradient of the node's step.
Local derivatives are blanked whenever anything is: they are numbers derived from both.
``fraction`` with ``seed`` blanks a seeded random subset of those names.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from bpcalc.analysis.drawing import Drawing
    from bpcalc.analysis.trace import Trace
    from bpcalc.loading.graph import Graph

BlankWhat = Literal["grads", "values", "both"]


class _Blank:
    """The mark of a left-out answer (a singleton)."""

    _instance: _Blank | None = None

    def __new__(cls) -> _Blank:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "BLANK"


BLANK: Final = _Blank()


def is_blank(value: Any) -> bool:
    return value is BLANK


@dataclass(frozen=True)
class Blanks:
    """The names whose value, and those whose gradient, are left out."""

    values: frozenset[str] = frozenset()
    grads: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.values or self.grads)


def choose_blanks(
    graph: Graph, what: BlankWhat | None, *, fraction: float = 1.0, seed: int | None = None
) -> Blanks:
    """Which names to blank: all candidates, or ``fraction`` of them chosen with ``seed``."""
    if what is None:
        return Blanks()
    nodes = [node.name for node in graph.nodes]
    values = nodes if what in ("values", "both") else []
    grads = [*graph.inputs, *nodes] if what in ("grads", "both") else []
    if fraction < 1.0:
        rng = random.Random(seed)
        values = rng.sample(values, round(fraction * len(values)))
        grads = rng.sample(grads, round(fraction * len(grads)))
    return Blanks(frozenset(values), frozenset(grads))


def blank_drawing(drawing: Drawing, blanks: Blanks) -> Drawing:
    """A copy with the chosen edge values and gradients (and inputs' totals) replaced by
    ``BLANK``."""
    if not blanks:
        return drawing
    edges = []
    for edge in drawing.edges:
        name = drawing.vertices[edge.source].name
        kind = drawing.vertices[edge.source].kind
        value = BLANK if kind == "op" and name in blanks.values else edge.value
        grad = BLANK if edge.grad is not None and name in blanks.grads else edge.grad
        edges.append(replace(edge, value=value, grad=grad))
    vertices = {
        key: replace(vertex, total=BLANK)
        if vertex.total is not None and vertex.name in blanks.grads
        else vertex
        for key, vertex in drawing.vertices.items()
    }
    return replace(drawing, edges=edges, vertices=vertices)


def blank_grads(grads: Mapping[str, Any], blanks: Blanks) -> dict[str, Any]:
    """Total gradients by name, the chosen ones blanked."""
    return {k: BLANK if k in blanks.grads and v is not None else v for k, v in grads.items()}


def blank_trace(trace: Trace, blanks: Blanks) -> Trace:
    """A copy of the trace with the chosen values and gradients replaced by ``BLANK``."""
    if not blanks:
        return trace
    forward = tuple(
        replace(
            step,
            value=BLANK if step.node in blanks.values else step.value,
            operands=tuple(
                replace(o, value=BLANK) if not o.constant and o.name in blanks.values else o
                for o in step.operands
            ),
        )
        for step in trace.forward
    )
    backward = []
    for step in trace.backward:
        terms = []
        for term in step.terms:
            if term.name in blanks.grads:
                term = replace(
                    term,
                    amount=BLANK,
                    total=BLANK,
                    previous=None if term.previous is None else BLANK,
                )
            # The local derivative is left out too, with the numbers it would plug in (they
            # are values, and with them the gradient would follow): its names stay.
            formula = replace(term.formula, arithmetic=False)
            local = None if term.local is None else BLANK
            terms.append(replace(term, local=local, formula=formula))
        dout = BLANK if step.node in blanks.grads else step.dout
        backward.append(replace(step, dout=dout, terms=tuple(terms)))
    return replace(
        trace,
        forward=forward,
        backward=tuple(backward),
        input_grads=blank_grads(trace.input_grads, blanks),
    )


def has_blanks(trace: Trace) -> bool:
    """Whether some gradient of the trace is left out (its seed, d target = 1, too, then)."""
    return any(is_blank(g) for g in trace.input_grads.values()) or any(
        is_blank(step.dout) or any(is_blank(t.amount) for t in step.terms)
        for step in trace.backward
    )
