"""The computational graph as the book draws it, as data: inputs on the left, the output on
the right, op nodes in between, and each edge carrying the value that flows forward along it
and the gradient that flows back (d output / d value, along that edge). The formats that
draw it (DOT, Mermaid, text, images) are in bpcalc.output.drawings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bpcalc.errors import printable
from bpcalc.loading.literals import Const

if TYPE_CHECKING:
    from bpcalc.analysis.trace import Trace
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph


Kind = Literal["input", "op", "constant", "result"]


@dataclass(frozen=True)
class Vertex:
    """Something drawn: an input, an op node, a constant, or the result at the right end."""

    id: str  # unique among the vertices; the name itself for most inputs and nodes
    kind: Kind
    name: str  # the input or node name, or a constant's text
    op: str = ""
    attrs: str = ""  # the op's attributes as written: axis=1
    value: Any = None  # an input's value
    total: Any = None  # an input's gradient: the sum over its edges (None: grad: false)


@dataclass(frozen=True)
class Edge:
    """A value on its way from ``source`` to ``target``, and the gradient coming back."""

    source: str
    target: str
    value: Any
    grad: Any  # None where no gradient flows: a constant or an input with grad: false


@dataclass
class Drawing:
    name: str
    title: str
    target: str  # what the gradients are gradients of
    vertices: dict[str, Vertex] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(
        self,
        vertex_id: str,
        kind: Kind,
        name: str,
        op: str = "",
        attrs: str = "",
        *,
        value: Any = None,
        total: Any = None,
    ) -> str:
        """Add a vertex under ``vertex_id``, or a variant of it when that is taken. Ids are
        made printable first (they are Graphviz node names, shown in SVG titles)."""
        vertex_id = printable(vertex_id)
        if vertex_id.startswith("%"):  # Graphviz keeps such names for anonymous objects
            vertex_id = "_" + vertex_id
        unique, n = vertex_id, 1
        while unique in self.vertices:
            n += 1
            unique = f"{vertex_id} ({n})"
        self.vertices[unique] = Vertex(unique, kind, name, op, attrs, value, total)
        return unique

    def out_edges(self, vertex_id: str) -> list[Edge]:
        """The edges leaving ``vertex_id``, in the order they were added."""
        return [edge for edge in self.edges if edge.source == vertex_id]


def build_drawing(graph: Graph, evaluation: Evaluation, trace: Trace) -> Drawing:
    """Vertices and edges of the graph with the values and per-edge gradients of ``trace``."""
    values, grads = evaluation.values, evaluation.grads
    title = graph.name + (f" — {graph.description}" if graph.description else "")
    drawing = Drawing(graph.name, title, evaluation.output)
    ids = {
        name: drawing.add(name, "input", name, value=values[name], total=grads[name])
        for name in graph.inputs
    }
    ids.update(
        {
            node.name: drawing.add(node.name, "op", node.name, node.op, node.attrs.text())
            for node in graph.nodes
        }
    )
    flowed = {(step.node, t.position): t.amount for step in trace.backward for t in step.terms}
    used: set[str] = set()
    for node in graph.nodes:
        for position, arg in enumerate(node.args):
            if isinstance(arg, Const):
                source = drawing.add(f"{arg.text} → {node.name}", "constant", arg.text)
                drawing.edges.append(Edge(source, ids[node.name], arg.value, None))
                continue
            used.add(arg)
            grad = flowed.get((node.name, position))
            if grad is None and grads[arg] is not None:
                grad = _zero_like(values[arg])  # no gradient reaches this node from the target
            drawing.edges.append(Edge(ids[arg], ids[node.name], values[arg], grad))
    for node in graph.nodes:
        if node.name not in used:
            result = drawing.add(f"{node.name} →", "result", node.name)
            drawing.edges.append(Edge(ids[node.name], result, values[node.name], grads[node.name]))
    return drawing


def _zero_like(value: Any) -> Any:
    import numpy as np

    return np.zeros_like(value) if isinstance(value, np.ndarray) else 0.0
