"""``bpcalc draw -o html``: one self-contained page that steps through the forward and the
backward pass of a graph, node by node, in the book's figure style.

Everything is inline (the script and style from ``bpcalc/output/assets``, no fonts, no
images), and a Content-Security-Policy with the hashes of that script and style forbids the
page any other script, style or request. The graph is laid out here (a layered left-to-right
layout: ranks by longest path, a barycentre pass to order each rank) and handed to the script
as JSON together with the trace records of ``bpcalc trace -o json``; the script draws the SVG
with ``textContent`` only, so no name from a graph is ever read as markup.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from bpcalc.errors import printable
from bpcalc.output.drawings import edge_text, op_label
from bpcalc.output.numbers import TABLE_DIGITS, TENSOR_DIGITS, json_value
from bpcalc.output.trace_text import Numbers, cell_width, tensor_text, trace_records

if TYPE_CHECKING:
    from bpcalc.analysis.drawing import Drawing, Edge
    from bpcalc.analysis.trace import Trace
    from bpcalc.engine.evaluation import Evaluation

FULL_ELEMENTS = 4096  # a tensor up to this size can be expanded to every element in the page
CHAR_WIDTH = 7.4  # pixels per terminal column at the page's 13 px font, for the layout
ROW = 112  # pixels between vertices of one rank
MIN_GAP = 120  # pixels between ranks, more when an edge label is wider
SWEEPS = 4  # barycentre passes (each one down and one up)


def page(drawing: Drawing, trace: Trace, evaluation: Evaluation, digits: int | None) -> str:
    """The whole page as text."""
    data = page_data(drawing, trace, evaluation, digits)
    script = _asset("step_through.js")
    style = _asset("step_through.css")
    title = html.escape(printable(drawing.title), quote=True)
    policy = (
        "default-src 'none'; "
        f"script-src '{_sha256(script)}'; style-src '{_sha256(style)}'; "
        "img-src 'none'; connect-src 'none'; font-src 'none'; "
        "form-action 'none'; base-uri 'none'"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="bpcalc draw -o html">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<noscript><p>This page steps through backpropagation with JavaScript; it is off.
<code>bpcalc trace</code> and <code>bpcalc draw -o svg</code> show the same without it.</p>
</noscript>
<script type="application/json" id="bpcalc-data">{embed_json(data)}</script>
<script>{script}</script>
</body>
</html>
"""


def embed_json(data: Any) -> str:
    """JSON that can sit inside ``<script type="application/json">``: ``<``, ``>`` and ``&``
    as ``\\u`` escapes (so no ``</script>`` or ``<!--`` can appear), and the line and paragraph
    separators too; JSON.parse reads the same document."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _asset(name: str) -> str:
    text = resources.files("bpcalc.output").joinpath("assets", name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():  # pragma: no cover - our files
        raise ValueError(f"{name} would end its element early")
    return text


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


# --- the data the script draws --------------------------------------------------------------


def page_data(
    drawing: Drawing, trace: Trace, evaluation: Evaluation, digits: int | None
) -> dict[str, Any]:
    """The drawing with its layout, the trace records (as ``trace -o json`` writes them) and,
    for each record, which vertex and edges of the drawing it is about."""
    vertex_ids = list(drawing.vertices)
    index = {vertex_id: i for i, vertex_id in enumerate(vertex_ids)}
    named = {v.name: index[v.id] for v in drawing.vertices.values() if v.kind in ("input", "op")}
    incoming: dict[int, list[int]] = defaultdict(list)  # edges into each vertex, by position
    for e, edge in enumerate(drawing.edges):
        incoming[index[edge.target]].append(e)

    forward_count = len(trace.forward)
    records = trace_records(trace, digits=None, full=False)
    computed_at = {step.node: step.number for step in trace.forward}
    grad_ready: dict[str, int] = {}  # the page step after which a name's gradient is complete
    if trace.backward or trace.target in named:
        grad_ready[trace.target] = forward_count + 1
    for record in records[:forward_count]:
        record["vertex"] = named[record["node"]]
    for position, (record, step) in enumerate(
        zip(records[forward_count:], trace.backward, strict=True)
    ):
        at = forward_count + 1 + position
        node = named[step.node]
        record["vertex"] = node
        for part, term in zip(record["contributions"], step.terms, strict=True):
            part["vertex"] = named[term.name]
            part["edge"] = incoming[node][term.position]
            grad_ready[term.name] = at

    numbers = Numbers.for_people(digits, full=False)
    vertices = []
    for vertex_id in vertex_ids:
        vertex = drawing.vertices[vertex_id]
        value, grad = _vertex_values(drawing, vertex_id, evaluation)
        item: dict[str, Any] = {
            "id": printable(vertex.id),
            "kind": vertex.kind,
            "name": printable(vertex.name),
            "label": printable(op_label(vertex.op, vertex.attrs))
            if vertex.kind == "op"
            else printable(vertex.name),
            "op": vertex.op,
            "attrs": printable(vertex.attrs),
            "value": numbers.text(value),
            "grad": None if grad is None else numbers.text(grad),
            "shape": _shape(value),
            "valueFull": _full_text(value, digits),
            "gradFull": _full_text(grad, digits),
            "computedAt": computed_at.get(vertex.name, 0) if vertex.kind == "op" else 0,
            "gradAt": grad_ready.get(vertex.name) if vertex.kind in ("input", "op") else None,
        }
        if vertex.kind == "result":
            item["computedAt"] = computed_at.get(vertex.name, 0)
        vertices.append(item)

    edges = [_edge_data(drawing, edge, index, digits) for edge in drawing.edges]
    for edge_item, edge in zip(edges, drawing.edges, strict=True):
        source, target = drawing.vertices[edge.source], drawing.vertices[edge.target]
        edge_item["valueAt"] = computed_at.get(source.name, 0) if source.kind == "op" else 0
        edge_item["gradAt"] = (
            None
            if edge.grad is None
            else forward_count + 1
            if target.kind == "result"
            else _backward_position(trace, target.name, forward_count)
        )

    layout = lay_out(drawing, edges)
    for item, (x, y, width, height) in zip(vertices, layout.boxes, strict=True):
        item.update(x=round(x, 1), y=round(y, 1), w=round(width, 1), h=round(height, 1))
    for edge_item, line, spot in zip(edges, layout.lines, layout.labels, strict=True):
        edge_item.update(line=list(line), label=list(spot))
    return {
        "format": "bpcalc-html-page",
        "version": 1,
        "title": printable(drawing.title),
        "graph": printable(drawing.name),
        "target": printable(drawing.target),
        "digits": {"scalar": digits or TABLE_DIGITS, "tensor": digits or TENSOR_DIGITS},
        "forwardSteps": forward_count,
        "backwardSteps": len(trace.backward),
        "inputGrads": {
            printable(name): json_value(grad) if _is_scalar(grad) else None
            for name, grad in trace.input_grads.items()
        },
        "vertices": vertices,
        "edges": edges,
        "width": layout.width,
        "height": layout.height,
        "steps": _printable_strings(records),
    }


def _backward_position(trace: Trace, node: str, forward_count: int) -> int | None:
    for position, step in enumerate(trace.backward):
        if step.node == node:
            return forward_count + 1 + position
    return None  # no gradient reaches the node: its zeros are known when the pass ends


def _vertex_values(drawing: Drawing, vertex_id: str, evaluation: Evaluation) -> tuple[Any, Any]:
    vertex = drawing.vertices[vertex_id]
    if vertex.kind in ("input", "op", "result"):
        return evaluation.values.get(vertex.name), evaluation.grads.get(vertex.name)
    edge = next(e for e in drawing.edges if e.source == vertex_id)  # a constant: one edge
    return edge.value, None


def _edge_data(
    drawing: Drawing, edge: Edge, index: dict[str, int], digits: int | None
) -> dict[str, Any]:
    source = drawing.vertices[edge.source]
    names_value = source.kind == "op" and drawing.vertices[edge.target].kind != "result"
    return {
        "source": index[edge.source],
        "target": index[edge.target],
        "name": printable(source.name) if names_value else None,
        "value": printable(edge_text(edge.value, digits)),
        "grad": None if edge.grad is None else printable(edge_text(edge.grad, digits)),
        "gradFull": _full_text(edge.grad, digits),
    }


def _is_scalar(value: Any) -> bool:
    return value is not None and not hasattr(value, "shape")


def _shape(value: Any) -> list[int]:
    return list(getattr(value, "shape", ()))


def _full_text(value: Any, digits: int | None) -> str | None:
    """Every element of a tensor (for the page's expandable views), or None for a scalar."""
    if value is None or not hasattr(value, "shape") or value.size > FULL_ELEMENTS:
        return None
    if value.dtype.kind == "O":
        return Numbers.for_people(digits, full=True).text(value)
    return tensor_text(value, digits or TENSOR_DIGITS)


def _printable_strings(data: Any) -> Any:
    """Records with every string made printable (names may hold control characters)."""
    if isinstance(data, str):
        return printable(data)
    if isinstance(data, list):
        return [_printable_strings(item) for item in data]
    if isinstance(data, dict):
        return {key: _printable_strings(item) for key, item in data.items()}
    return data


# --- layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    boxes: list[tuple[float, float, float, float]]  # centre x, centre y, width, height
    lines: list[tuple[float, float, float, float]]  # each edge from (x1, y1) to (x2, y2)
    labels: list[tuple[float, float]]  # where each edge's labels are centred, on its line
    width: float
    height: float


def vertex_size(kind: str, label: str) -> tuple[float, float]:
    """An op is a circle (or a rounded box for a long label); the rest are text."""
    width = cell_width(label) * CHAR_WIDTH
    if kind == "op":
        return (44.0, 44.0) if cell_width(label) <= 4 else (width + 24, 40.0)
    return (width + 8, 24.0)


def ranks(count: int, edges: list[tuple[int, int]], kinds: list[str]) -> list[int]:
    """Rank = longest path from the sources; an input or constant then moves right to just
    before its first use, and results share the last rank."""
    successors: dict[int, list[int]] = defaultdict(list)
    indegree = [0] * count
    for source, target in edges:
        successors[source].append(target)
        indegree[target] += 1
    rank = [0] * count
    order = [v for v in range(count) if indegree[v] == 0]
    for v in order:  # Kahn's algorithm: ``order`` grows while it is read
        for w in successors[v]:
            rank[w] = max(rank[w], rank[v] + 1)
            indegree[w] -= 1
            if indegree[w] == 0:
                order.append(w)
    for v in range(count):
        if kinds[v] in ("input", "constant") and successors[v]:
            rank[v] = max(0, min(rank[w] for w in successors[v]) - 1)
    if "result" in kinds:
        last = max(rank[v] for v in range(count) if kinds[v] != "result") + 1
        for v in range(count):
            if kinds[v] == "result":
                rank[v] = last
    return rank


def order_ranks(rank: list[int], edges: list[tuple[int, int]]) -> list[list[int]]:
    """Vertices of each rank, top to bottom, ordered by a barycentre pass (down, then up) and
    kept as the order with the fewest crossings between neighbouring ranks."""
    layers: list[list[int]] = [[] for _ in range(max(rank, default=-1) + 1)]
    for v, r in enumerate(rank):
        layers[r].append(v)
    predecessors: dict[int, list[int]] = defaultdict(list)
    successors: dict[int, list[int]] = defaultdict(list)
    for source, target in edges:
        predecessors[target].append(source)
        successors[source].append(target)

    def positions(layout: list[list[int]]) -> dict[int, float]:
        return {v: (i + 0.5) / len(layer) for layer in layout for i, v in enumerate(layer)}

    def reorder(layout: list[list[int]], r: int, neighbours: dict[int, list[int]]) -> None:
        where = positions(layout)
        current = {v: i for i, v in enumerate(layout[r])}

        def key(v: int) -> tuple[float, int]:
            near = [where[w] for w in neighbours[v]]
            centre = sum(near) / len(near) if near else where[v]
            return centre, current[v]

        layout[r] = sorted(layout[r], key=key)

    best = [list(layer) for layer in layers]
    fewest = crossings(best, edges, rank)
    layout = [list(layer) for layer in layers]
    for _ in range(SWEEPS):
        if fewest == 0:
            break
        for r in range(1, len(layout)):
            reorder(layout, r, predecessors)
        for r in range(len(layout) - 2, -1, -1):
            reorder(layout, r, successors)
        count = crossings(layout, edges, rank)
        if count < fewest:
            best, fewest = [list(layer) for layer in layout], count
    return best


def crossings(layout: list[list[int]], edges: list[tuple[int, int]], rank: list[int]) -> int:
    """Pairs of edges between the same two ranks whose ends are in opposite orders."""
    where = {v: i for layer in layout for i, v in enumerate(layer)}
    groups: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for source, target in edges:
        groups[rank[source], rank[target]].append((where[source], where[target]))
    total = 0
    for group in groups.values():
        group.sort()
        for i, (_, a) in enumerate(group):
            total += sum(1 for _, b in group[i + 1 :] if b < a)
    return total


def lay_out(drawing: Drawing, edges: list[dict[str, Any]]) -> Layout:
    """Centre and size of each vertex: ranks left to right, each rank top to bottom, every
    vertex placed near the mean height of its neighbours without overlapping; then each edge's
    line and the place on it for its labels."""
    vertices = list(drawing.vertices.values())
    kinds: list[str] = [v.kind for v in vertices]
    labels = [op_label(v.op, v.attrs) if v.kind == "op" else printable(v.name) for v in vertices]
    sizes = [vertex_size(kind, label) for kind, label in zip(kinds, labels, strict=True)]
    pairs = [(e["source"], e["target"]) for e in edges]
    rank = ranks(len(vertices), pairs, kinds)
    layers = order_ranks(rank, pairs)

    # x: each rank as wide as its widest vertex; every gap as wide as the widest edge label,
    # so that a label fits in any gap its edge crosses.
    widest = max((_label_width(e) for e in edges), default=0.0)
    gap = max(MIN_GAP, widest + 36)
    x_of_rank, gaps, x = [], [], 20.0
    for r, layer in enumerate(layers):
        width = max((sizes[v][0] for v in layer), default=0.0)
        if r:
            gaps.append((x, x + gap))  # the gap before rank r
            x += gap
        x_of_rank.append(x + width / 2)
        x += width

    # y: down the ranks towards the mean of the predecessors, then up towards the successors.
    predecessors: dict[int, list[int]] = defaultdict(list)
    successors: dict[int, list[int]] = defaultdict(list)
    for source, target in pairs:
        predecessors[target].append(source)
        successors[source].append(target)
    y = [0.0] * len(vertices)
    for layer in layers:
        for i, v in enumerate(layer):
            y[v] = i * ROW
    for r in range(1, len(layers)):
        _settle(layers[r], y, predecessors)
    for r in range(len(layers) - 2, -1, -1):
        _settle(layers[r], y, successors, only_free=predecessors)
    top = min(y, default=0.0)
    boxes = [
        (x_of_rank[rank[v]], y[v] - top + 56, sizes[v][0], sizes[v][1])
        for v in range(len(vertices))
    ]
    lines = [_line(boxes[s], kinds[s], boxes[t], kinds[t]) for s, t in pairs]
    placed = place_labels(edges, lines, [(rank[s], rank[t]) for s, t in pairs], gaps)
    width = x + 20
    height = (max(y, default=0.0) - top) + 112
    return Layout(boxes, lines, placed, round(width, 1), round(height, 1))


def _label_width(edge: dict[str, Any]) -> float:
    texts = [edge["value"], edge["grad"] or "", edge["name"] or ""]
    return max(cell_width(text) for text in texts) * CHAR_WIDTH


def _line(
    source: tuple[float, float, float, float],
    source_kind: str,
    target: tuple[float, float, float, float],
    target_kind: str,
) -> tuple[float, float, float, float]:
    """From the right of the source to the left of the target (a circle's rim for an op)."""

    def end(
        box: tuple[float, float, float, float],
        kind: str,
        towards: tuple[float, float],
        leaving: bool,
    ) -> tuple[float, float]:
        x, y, w, h = box
        if kind == "op" and w == h:
            dx, dy = towards[0] - x, towards[1] - y
            length = math.hypot(dx, dy) or 1.0
            return x + dx / length * w / 2, y + dy / length * h / 2
        return (x + w / 2 + 2, y) if leaving else (x - w / 2 - 4, y)

    x1, y1 = end(source, source_kind, target[:2], True)
    x2, y2 = end(target, target_kind, source[:2], False)
    return round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)


LABEL_SPOTS = (0.42, 0.3, 0.56, 0.2, 0.68, 0.12, 0.8)  # where in a gap a label may go, best first


def place_labels(
    edges: list[dict[str, Any]],
    lines: list[tuple[float, float, float, float]],
    spans: list[tuple[int, int]],
    gaps: list[tuple[float, float]],
) -> list[tuple[float, float]]:
    """A spot on each edge's line for its labels (name and value above, gradient below),
    in one of the gaps it crosses, where it overlaps the fewest labels placed before it.
    Short edges choose first; a long edge prefers the gap before its target."""
    taken: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    spots: list[tuple[float, float]] = [(0.0, 0.0)] * len(edges)
    order = sorted(range(len(edges)), key=lambda e: (spans[e][1] - spans[e][0], e))
    for e in order:
        x1, y1, x2, y2 = lines[e]
        first, last = spans[e]
        half = _label_width(edges[e]) / 2 + 3
        above = 36.0 if edges[e]["name"] else 21.0
        crossed = [g for g in range(last - 1, first - 1, -1) if 0 <= g < len(gaps)]
        if len(crossed) > 1:
            crossed = [crossed[0], crossed[-1], *crossed[1:-1]]
        best: tuple[float, int, float, float] | None = None
        for g in crossed or [-1]:
            left, right = gaps[g] if g >= 0 else (x1, x2)
            for spot in LABEL_SPOTS:
                lx = left + (right - left) * spot
                lx = min(max(lx, min(x1, x2) + 4), max(x1, x2) - 4) if x1 != x2 else x1
                ly = y1 + (lx - x1) / (x2 - x1) * (y2 - y1) if x2 != x1 else (y1 + y2) / 2
                box = (lx - half, ly - above, lx + half, ly + 21)
                overlap = sum(_overlap(box, other) for other in taken[g])
                if best is None or overlap < best[0]:
                    best = (overlap, g, lx, ly)
                if overlap == 0:
                    break
            if best is not None and best[0] == 0:
                break
        assert best is not None
        _, g, lx, ly = best
        taken[g].append((lx - half, ly - above, lx + half, ly + 21))
        spots[e] = (round(lx, 1), round(ly, 1))
    return spots


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _settle(
    layer: list[int],
    y: list[float],
    neighbours: dict[int, list[int]],
    only_free: dict[int, list[int]] | None = None,
) -> None:
    """Move each vertex of ``layer`` to the mean height of its ``neighbours`` (in the up pass,
    only the vertices without predecessors), then push them apart to ``ROW`` keeping order."""
    wanted = []
    for v in layer:
        near = [y[w] for w in neighbours[v]]
        movable = near and (only_free is None or not only_free[v])
        wanted.append(sum(near) / len(near) if movable else y[v])
    placed: list[float] = []
    for want in wanted:
        placed.append(want if not placed else max(want, placed[-1] + ROW))
    # Pushing apart only moves vertices down; shift the rank back so that on average each
    # vertex is as far above where it wanted to be as below.
    shift = (sum(wanted) - sum(placed)) / len(placed) if placed else 0.0
    for v, at in zip(layer, placed, strict=True):
        y[v] = at + shift
