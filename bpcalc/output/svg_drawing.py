"""The book's figure as SVG, drawn by bpcalc itself (no Graphviz): inputs at the left, op nodes
as circles with the op's symbol (× for mul), the value above each edge and the gradient below
it, in red *and* italic with a ◂ mark (so a grey-scale print still tells them apart), and the
total gradient under a value that feeds several nodes. The layout is bpcalc.output.layout.

Every piece of text is XML-escaped and made printable, so the document always parses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from bpcalc.analysis.blanks import is_blank
from bpcalc.errors import printable
from bpcalc.output.drawings import edge_text, op_label
from bpcalc.output.layout import CHAR_WIDTH, LINE_HEIGHT, NODE_RADIUS, Layout, Place, layout
from bpcalc.output.trace_text import cell_width

if TYPE_CHECKING:
    from bpcalc.analysis.drawing import Drawing, Edge

GRAD_COLOUR = "#c00000"
NAME_COLOUR = "#595959"
GRAD_MARK = "◂"  # the gradient flows back, to the left
TOTAL_MARK = "Σ"
BLANK_WIDTH = 5  # columns of an empty answer box
HEADER = 46.0  # room for the title and the legend


@dataclass(frozen=True)
class EdgeLabel:
    """What an edge says: its source's name (out of an op node), its value, its gradient."""

    name: str | None
    value: str | None  # None: blanked
    grad: str | None  # None: blanked
    has_grad: bool

    def lines(self) -> tuple[str, ...]:
        """Its lines, blanks as boxes of BLANK_WIDTH columns (what the layout makes room for)."""
        out = [] if self.name is None else [self.name]
        out.append(self.value if self.value is not None else "_" * BLANK_WIDTH)
        if self.has_grad:
            out.append(GRAD_MARK + (self.grad if self.grad is not None else "_" * BLANK_WIDTH))
        return tuple(out)


def number_or_blank(value: Any, digits: int | None) -> str | None:
    return None if is_blank(value) else printable(edge_text(value, digits))


def names_its_value(drawing: Drawing, edge: Edge) -> bool:
    """An edge out of an op node carries the node's name, unless it ends at the named result."""
    return (
        drawing.vertices[edge.source].kind == "op"
        and drawing.vertices[edge.target].kind != "result"
    )


def edge_labels(drawing: Drawing, digits: int | None) -> list[EdgeLabel]:
    return [
        EdgeLabel(
            printable(drawing.vertices[edge.source].name)
            if names_its_value(drawing, edge)
            else None,
            number_or_blank(edge.value, digits)
            if drawing.vertices[edge.source].kind != "constant"
            else printable(drawing.vertices[edge.source].name),
            None if edge.grad is None else number_or_blank(edge.grad, digits),
            edge.grad is not None,
        )
        for edge in drawing.edges
    ]


def vertex_text(drawing: Drawing, vertex_id: str) -> str:
    vertex = drawing.vertices[vertex_id]
    if vertex.kind == "op":
        return printable(op_label(vertex.op, vertex.attrs))
    return printable(vertex.name)


def totals(drawing: Drawing, grads: Mapping[str, Any] | None) -> dict[str, Any]:
    """The total gradient of each vertex whose value feeds several edges with a gradient:
    from ``grads`` (the evaluation's, by name) when given, else the sum along its edges."""
    out: dict[str, list[Any]] = {}
    for edge in drawing.edges:
        if edge.grad is not None and drawing.vertices[edge.source].kind in ("input", "op"):
            out.setdefault(edge.source, []).append(edge.grad)
    result: dict[str, Any] = {}
    for vertex_id, along in out.items():
        if len(along) < 2:
            continue
        name = drawing.vertices[vertex_id].name
        if grads is not None and name in grads and grads[name] is not None:
            result[vertex_id] = grads[name]
        elif any(is_blank(g) for g in along):
            result[vertex_id] = along[0]
        else:
            total = along[0]
            for g in along[1:]:
                total = total + g
            result[vertex_id] = total
    return result


def figure_layout(drawing: Drawing, labels: list[EdgeLabel]) -> Layout:
    return layout(
        drawing,
        vertex_label=lambda v: vertex_text(drawing, v),
        edge_labels=[label.lines() for label in labels],
    )


def trim(
    start: tuple[float, float], towards: tuple[float, float], place: Place, kind: str
) -> tuple[float, float]:
    """Where an edge leaves (or meets) a vertex's shape, going towards ``towards``."""
    (x, y), (tx, ty) = start, towards
    if kind == "op" and place.width <= 2 * NODE_RADIUS + 0.5:
        dx, dy = tx - x, ty - y
        length = math.hypot(dx, dy) or 1.0
        return x + dx / length * NODE_RADIUS, y + dy / length * NODE_RADIUS
    half = place.width / 2 + (2 if kind != "op" else 0)
    return (x + half, y) if tx >= x else (x - half, y)


def to_svg(
    drawing: Drawing,
    *,
    digits: int | None = None,
    grads: Mapping[str, Any] | None = None,
    numbers: bool = True,
) -> str:
    """The figure as an SVG document. ``numbers=False`` leaves out values and gradients (the
    graph's shape only); ``grads`` gives the totals shown under fanned-out values."""
    labels = edge_labels(drawing, digits)
    if not numbers:
        labels = [EdgeLabel(label.name, "", "", False) for label in labels]
    shape = figure_layout(drawing, labels)
    title_width = 20 + cell_width(printable(drawing.title)) * CHAR_WIDTH * 1.2
    width, height = math.ceil(max(shape.width, title_width)), math.ceil(shape.height + HEADER)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="12">',
        f"<title>{_text(drawing.title)}</title>",
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#333"/></marker>',
        "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{_n(10)}" y="{_n(18)}" font-size="14" font-weight="bold">'
        f"{_text(drawing.title)}</text>",
    ]
    if numbers:
        out.append(
            f'<text x="{_n(10)}" y="{_n(34)}" font-size="11" fill="{NAME_COLOUR}">'
            "values above each edge; "
            f'<tspan fill="{GRAD_COLOUR}" font-style="italic">{GRAD_MARK} gradients '
            f"d {_text(drawing.target)}/d value below</tspan>; "
            f"{TOTAL_MARK}: the total gradient of a value used several times</text>"
        )
    out.append(f'<g transform="translate(0,{_n(HEADER)})">')
    for i, (edge, label) in enumerate(zip(drawing.edges, labels, strict=True)):
        out += _edge(drawing, shape, i, edge, label)
    fanned = totals(drawing, grads) if numbers else {}
    for vertex_id in drawing.vertices:
        out += _vertex(drawing, shape.places[vertex_id], vertex_id, fanned.get(vertex_id), digits)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _edge(drawing: Drawing, shape: Layout, i: int, edge: Edge, label: EdgeLabel) -> list[str]:
    route = shape.routes[i]
    points = list(route.points)
    source, target = shape.places[edge.source], shape.places[edge.target]
    points[0] = trim(points[0], points[1], source, drawing.vertices[edge.source].kind)
    points[-1] = trim(points[-1], points[-2], target, drawing.vertices[edge.target].kind)
    offset = (route.parallel - (route.parallels - 1) / 2) * LINE_HEIGHT * 3.2
    path = f"M{_n(points[0][0])},{_n(points[0][1])}"
    for k, (x, y) in enumerate(points[1:], start=1):
        if k == 1 and offset:
            (x0, y0) = points[k - 1]
            path += f" Q{_n((x0 + x) / 2)},{_n((y0 + y) / 2 + 2 * offset)} {_n(x)},{_n(y)}"
        else:
            path += f" L{_n(x)},{_n(y)}"
    title = f"{drawing.vertices[edge.source].name} → {drawing.vertices[edge.target].name}"
    out = [
        f'<g class="edge"><title>{_text(title)}</title>',
        f'<path d="{path}" fill="none" stroke="#333" stroke-width="1.2" marker-end="url(#arrow)"/>',
    ]
    x, y = route.label_x, route.label_y + offset
    above: list[tuple[str | None, str]] = [] if label.name is None else [(label.name, "name")]
    above.append((label.value, "value"))
    # On a slanted edge the text goes beside the line, on its upper and lower sides.
    up, down = sides(route.slope)
    for k, (text, role) in enumerate(reversed(above)):
        out.append(_label(x, y - 5 - k * LINE_HEIGHT, text, role, up))
    if label.has_grad:
        out.append(_label(x, y + 5 + LINE_HEIGHT - 3, label.grad, "grad", down))
    out.append("</g>")
    return out


def sides(slope: float) -> tuple[str, str]:
    """Which way the text above and the text below an edge extends from its label point."""
    if abs(slope) < 0.15:
        return "middle", "middle"
    return ("start", "end") if slope > 0 else ("end", "start")


def _label(x: float, baseline: float, text: str | None, role: str, anchor: str = "middle") -> str:
    """One line of an edge label, or an empty box where the answer is blanked."""
    shift = {"start": 4.0, "end": -4.0, "middle": 0.0}[anchor]
    x += shift
    if text is None:
        box_width = BLANK_WIDTH * CHAR_WIDTH + 6
        x += {"start": box_width / 2, "end": -box_width / 2, "middle": 0.0}[anchor]
        box_width = BLANK_WIDTH * CHAR_WIDTH + 6
        dash = ' stroke-dasharray="3,2"' if role == "grad" else ""
        colour = GRAD_COLOUR if role == "grad" else "#333"
        return (
            f'<rect class="blank {role}" x="{_n(x - box_width / 2)}" '
            f'y="{_n(baseline - LINE_HEIGHT + 3)}" width="{_n(box_width)}" '
            f'height="{_n(LINE_HEIGHT)}" fill="white" stroke="{colour}"{dash}/>'
        )
    if role == "grad":
        text = GRAD_MARK + text
        style = f' fill="{GRAD_COLOUR}" font-style="italic"'
    elif role == "name":
        style = f' fill="{NAME_COLOUR}" font-size="11"'
    else:
        style = ""
    return (
        f'<text class="{role}" x="{_n(x)}" y="{_n(baseline)}" text-anchor="{anchor}"{style}>'
        f"{_text(text)}</text>"
    )


def _vertex(
    drawing: Drawing, place: Place, vertex_id: str, total: Any, digits: int | None
) -> list[str]:
    vertex = drawing.vertices[vertex_id]
    tip = f"{vertex.name}: {vertex.op}" if vertex.op else vertex.name
    out = [f'<g class="vertex {vertex.kind}">']
    out.append(f"<title>{_text(tip)}</title>")
    x, y = place.x, place.y
    text = vertex_text(drawing, vertex_id)
    if vertex.kind == "op":
        if place.width <= 2 * NODE_RADIUS + 0.5:
            out.append(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(NODE_RADIUS)}" fill="white" '
                'stroke="#222" stroke-width="1.4"/>'
            )
        else:
            out.append(
                f'<rect x="{_n(x - place.width / 2)}" y="{_n(y - NODE_RADIUS)}" '
                f'width="{_n(place.width)}" height="{_n(2 * NODE_RADIUS)}" rx="{_n(NODE_RADIUS)}" '
                'fill="white" stroke="#222" stroke-width="1.4"/>'
            )
        size = ' font-size="16"' if cell_width(text) <= 2 else ""
        out.append(
            f'<text class="op" x="{_n(x)}" y="{_n(y + 5)}" text-anchor="middle"{size}>'
            f"{_text(text)}</text>"
        )
    else:
        colour = ' fill="#4d4d4d"' if vertex.kind == "constant" else ""
        weight = ' font-weight="bold"' if vertex.kind == "result" else ""
        out.append(
            f'<text class="{vertex.kind}" x="{_n(x)}" y="{_n(y + 4)}" text-anchor="middle"'
            f"{colour}{weight}>{_text(text)}</text>"
        )
    if total is not None:
        below = y + place.height / 2 + LINE_HEIGHT
        if is_blank(total):
            out.append(
                f'<text class="total" x="{_n(x - BLANK_WIDTH * CHAR_WIDTH / 2 - 4)}" '
                f'y="{_n(below)}" text-anchor="end" fill="{GRAD_COLOUR}" font-style="italic">'
                f"{TOTAL_MARK}</text>"
            )
            out.append(_label(x + 4, below, None, "grad"))
        else:
            shown = TOTAL_MARK + " " + printable(edge_text(total, digits))
            out.append(
                f'<text class="total" x="{_n(x)}" y="{_n(below)}" text-anchor="middle" '
                f'fill="{GRAD_COLOUR}" font-style="italic" font-weight="bold">'
                f"{_text(shown)}</text>"
            )
    out.append("</g>")
    return out


def _text(text: str) -> str:
    return escape(printable(text))


def _n(x: float) -> str:
    """A coordinate: at most one decimal place."""
    return f"{x:.1f}".rstrip("0").rstrip(".")
