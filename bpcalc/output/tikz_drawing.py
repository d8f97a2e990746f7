"""The book's figure as a TikZ picture for slides and papers (``draw -o tikz``), in the same
layout as the built-in SVG (bpcalc.output.layout): the value above each edge, the gradient
below it in red italics with a ◂ mark, the total under a value used several times, and empty
boxes where a worksheet leaves the answer out. ``standalone=True`` wraps the picture in a
document that pdflatex compiles as it is.

Names go through ``latex_text``: the specials ``_ % & # $ { } ~ ^ \\`` are escaped, and the
few non-ASCII symbols bpcalc writes (× — … → − Σ ◂) become LaTeX commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bpcalc.analysis.blanks import is_blank
from bpcalc.errors import printable
from bpcalc.output.drawings import edge_text
from bpcalc.output.layout import NODE_RADIUS
from bpcalc.output.svg_drawing import BLANK_WIDTH, EdgeLabel, edge_labels, figure_layout, totals
from bpcalc.output.svg_drawing import vertex_text as svg_vertex_text

if TYPE_CHECKING:
    from bpcalc.analysis.drawing import Drawing

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "×": r"\ensuremath{\times}",
    "—": "---",
    "–": "--",
    "…": r"\ldots{}",
    "→": r"\ensuremath{\rightarrow}",
    "−": r"\ensuremath{-}",
    "Σ": r"\ensuremath{\Sigma}",
    "◂": r"\ensuremath{\blacktriangleleft}",
    "·": r"\ensuremath{\cdot}",
    "∂": r"\ensuremath{\partial}",
    "@": "@",
}

BLANK_BOX = r"\bpblank{}"
BLANK_MACRO = (
    r"\providecommand{\bpblank}{\fbox{\rule{0pt}{1.6ex}\hspace{" + str(BLANK_WIDTH / 2) + "em}}}"
)

STYLES = r"""  bpop/.style={circle, draw, thick, minimum size=2*\bpr, inner sep=1pt, fill=white},
  bpwideop/.style={rounded corners=\bpr, draw, thick, minimum height=2*\bpr, fill=white},
  bpinput/.style={inner sep=2pt},
  bpresult/.style={inner sep=2pt, font=\sffamily\bfseries},
  bpconstant/.style={inner sep=2pt, text=black!70},
  bpedge/.style={->, >=stealth, semithick},
  bpvalue/.style={font=\sffamily\small, inner sep=1.5pt},
  bpname/.style={font=\sffamily\scriptsize, text=black!65, inner sep=1.5pt},
  bpgrad/.style={font=\sffamily\small\itshape, text=red!75!black, inner sep=1.5pt},
  bptotal/.style={font=\sffamily\small\itshape\bfseries, text=red!75!black, inner sep=1.5pt},"""


def latex_text(text: str) -> str:
    """Text safe in a LaTeX paragraph: specials escaped, control characters shown."""
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in printable(text))


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def to_tikz(
    drawing: Drawing,
    *,
    digits: int | None = None,
    grads: Mapping[str, Any] | None = None,
    standalone: bool = False,
) -> str:
    """``\\begin{tikzpicture}`` ... ``\\end{tikzpicture}`` (needs ``\\usepackage{tikz}`` and
    amssymb for the ◂ mark), or a whole document with ``standalone``."""
    labels = edge_labels(drawing, digits)
    shape = figure_layout(drawing, labels)
    names = {vertex_id: f"v{i}" for i, vertex_id in enumerate(drawing.vertices)}
    target = latex_text(drawing.target)
    lines = [
        f"% {latex_text(drawing.title)}",
        f"% values above each edge, gradients d {target}/d value below (red, italic, "
        r"$\blacktriangleleft$)",
        BLANK_MACRO + "  % an empty box: a worksheet's left-out answer",
        r"\begin{tikzpicture}[x=0.75pt, y=-0.75pt, font=\sffamily,",
        STYLES,
        "]",
        rf"\def\bpr{{{_n(NODE_RADIUS * 0.75)}pt}}",
    ]
    fanned = totals(drawing, grads)
    for vertex_id, vertex in drawing.vertices.items():
        place = shape.places[vertex_id]
        text = latex_text(svg_vertex_text(drawing, vertex_id))
        style: str = vertex.kind
        if vertex.kind == "op" and place.width > 2 * NODE_RADIUS + 0.5:
            style = "wideop"
        at = f"({_n(place.x)},{_n(place.y)})"
        lines.append(rf"\node[bp{style}] ({names[vertex_id]}) at {at} {{{text}}};")
        if vertex_id in fanned:
            total = fanned[vertex_id]
            shown = BLANK_BOX if is_blank(total) else latex_text(edge_text(total, digits))
            lines.append(
                rf"\node[bptotal, anchor=north] at ({names[vertex_id]}.south) "
                rf"{{\ensuremath{{\Sigma}}\,{shown}}};"
            )
    for i, (edge, label) in enumerate(zip(drawing.edges, labels, strict=True)):
        route = shape.routes[i]
        source, target_id = names[edge.source], names[edge.target]
        via = "".join(f" -- ({_n(x)},{_n(y)})" for x, y in route.points[1:-1])
        bend = ""
        if route.parallels > 1:
            angle = round((route.parallel - (route.parallels - 1) / 2) * 40)
            bend = f" to[bend right={angle}]" if not via else ""
        joint = bend or " --"
        lines.append(rf"\draw[bpedge] ({source}){via}{joint} ({target_id});")
        lines += _labels(label, route.label_x, route.label_y, route.slope, route, bend)
    lines.append(r"\end{tikzpicture}")
    picture = "\n".join(lines) + "\n"
    if not standalone:
        return picture
    return (
        r"\documentclass[tikz, border=6pt]{standalone}" + "\n"
        r"\usepackage[T1]{fontenc}" + "\n"
        r"\usepackage{amssymb}" + "\n"
        r"\begin{document}" + "\n" + picture + r"\end{document}" + "\n"
    )


def _labels(label: EdgeLabel, x: float, y: float, slope: float, route: Any, bend: str) -> list[str]:
    if bend:
        y += (route.parallel - (route.parallels - 1) / 2) * 36
    if abs(slope) < 0.15:
        up, down = "south", "north"
    elif slope > 0:
        up, down = "south west", "north east"
    else:
        up, down = "south east", "north west"
    above = []
    if label.name is not None:
        above.append(("name", latex_text(label.name)))
    above.append(("value", BLANK_BOX if label.value is None else latex_text(label.value)))
    text = r"\\{}".join(  # {} so that a value starting with [ is no \\[length]
        rf"{{\scriptsize\color{{black!65}}{t}}}" if role == "name" else t for role, t in above
    )
    out = [rf"\node[bpvalue, anchor={up}, align=center] at ({_n(x)},{_n(y - 2)}) {{{text}}};"]
    if label.has_grad:
        grad = BLANK_BOX if label.grad is None else latex_text(label.grad)
        out.append(
            rf"\node[bpgrad, anchor={down}] at ({_n(x)},{_n(y + 2)}) "
            rf"{{\ensuremath{{\blacktriangleleft}}{grad}}};"
        )
    return out
