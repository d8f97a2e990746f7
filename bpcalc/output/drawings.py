"""A drawing (bpcalc.analysis.drawing) in each format: Graphviz DOT, Mermaid, a drawing in
the terminal, and SVG/PNG/PDF through Graphviz's ``dot`` program. Values are written above
the edges and gradients below them, in red, as the book's figures do.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from bpcalc.analysis.blanks import is_blank
from bpcalc.analysis.drawing import Drawing, Edge, Vertex
from bpcalc.errors import BpcalcError, ExitStatus, UsageProblem, printable
from bpcalc.ops.table import OPS
from bpcalc.output.numbers import number
from bpcalc.output.trace_text import (
    BLANK_TEXT,
    INLINE_ELEMENTS,
    Line,
    cell_width,
    shown_name,
    tensor_text,
)

IMAGE_FORMATS = ("svg", "png", "pdf")
BINARY_FORMATS = ("png", "pdf")
MAX_TEXT_WIDTH = 2000  # columns; a wider terminal drawing is refused in favour of an image
DRAWING_DIGITS = 4  # significant digits in a drawing unless --digits says otherwise: slides
MAX_SUMMED = 6  # an input's total is written as the sum of its edges up to this many edges
# Helvetica for Latin text, then fonts with Hangul, kana and Han (Debian/Ubuntu's
# fonts-noto-cjk, fonts-nanum, fonts-unfonts-core, fonts-baekmuk; macOS; Windows). Graphviz
# passes the list to Pango (PNG, PDF) and writes it as the CSS font-family of SVG text.
FONTS = (
    "Helvetica,Arial,Noto Sans CJK KR,Noto Sans KR,NanumGothic,UnDotum,Baekmuk Gulim,"
    "Apple SD Gothic Neo,Malgun Gothic,sans-serif"
)

INSTALL_GRAPHVIZ = (
    "Graphviz's 'dot' program is needed for -o {fmt} but was not found on PATH. Install "
    "Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; "
    "Windows: winget install graphviz; others: https://graphviz.org/download/), or draw "
    "without it: -o dot, -o mermaid or -o text."
)


class DrawError(BpcalcError):
    """The drawing could not be made: Graphviz is missing or failed (exit 1)."""

    exit_status = ExitStatus.ERROR

    def render(self) -> str:
        return printable(f"Error: {self.diagnostics[0].message}")  # dot's stderr may echo labels


def edge_text(value: Any, digits: int | None) -> str:
    """A value short enough for an edge: a number, a small tensor, or shape and range; to
    ``digits`` significant digits, DRAWING_DIGITS when None. A worksheet's left-out answer
    (--blank) is a blank."""
    if is_blank(value):
        return BLANK_TEXT
    shown = digits or DRAWING_DIGITS
    if isinstance(value, float | int):
        return number(value, shown)
    if value.size <= INLINE_ELEMENTS:
        return " ".join(tensor_text(value, shown).split())
    import numpy as np

    with np.errstate(all="ignore"):
        low, high = float(value.min()), float(value.max())
    shape = "×".join(map(str, value.shape))
    return f"{shape} [{number(low, shown)} … {number(high, shown)}]"


def digits_note(digits: int | None, *, hint: bool = True) -> str:
    """What a drawing's legend says about its numbers (with ``hint``, how to get more)."""
    if digits is None:
        more = " (--digits N for more)" if hint else ""
        return f"numbers to {DRAWING_DIGITS} significant digits{more}"
    return f"numbers to {digits} significant digit{'s' if digits != 1 else ''}"


def total_text(drawing: Drawing, vertex: Vertex, digits: int | None) -> str | None:
    """An input's gradient, summed over its edges: ``∂q/∂a = 2 + 2 + 3 = 7``; None for an
    input with grad: false or no edge."""
    parts = total_parts(drawing, vertex, digits)
    return None if parts is None else " = ".join(parts)


def total_parts(drawing: Drawing, vertex: Vertex, digits: int | None) -> tuple[str, str] | None:
    """``("∂q/∂a", "2 + 2 + 3 = 7")``: the gradient's name and its sum (see total_text)."""
    edges = drawing.out_edges(vertex.id)
    if vertex.kind != "input" or vertex.total is None or not edges:
        return None
    head = f"∂{shown_name(drawing.target)}/∂{shown_name(vertex.name)}"
    total = edge_text(vertex.total, digits)
    parts = [edge_text(edge.grad, digits) for edge in edges if edge.grad is not None]
    if 1 < len(parts) <= MAX_SUMMED and (
        is_blank(vertex.total) or isinstance(vertex.total, float | int)
    ):
        summed = " + ".join(f"({p})" if p.startswith("-") and i else p for i, p in enumerate(parts))
        return head, f"{summed} = {total}"
    return head, total


def op_label(op: str, attrs: str = "") -> str:
    """What an op node shows: the book's × for mul, the operator symbol, else the op's name,
    with its attributes: ``sum(axis=1)``."""
    if op == "mul":
        return "×"
    label = OPS[op].symbol or op
    return f"{label}({attrs})" if attrs else label


# --- Graphviz DOT ---------------------------------------------------------------------------


def dot_id(text: str) -> str:
    """A DOT quoted ID, control characters shown; only ``"`` is an escape in DOT strings, so a
    trailing ``\\`` is doubled too (every backslash is, to keep the mapping one-to-one)."""
    return '"' + printable(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def html_text(text: str) -> str:
    """Text for a Graphviz HTML-like label: entities for ``& < > "``, control characters shown,
    and every backslash doubled: Graphviz expands ``\\G``, ``\\N``, ``\\L`` ... (escString) in
    label text, and ``\\\\`` is its literal backslash (``C:\\Games`` would show the graph name)."""
    return html.escape(printable(text), quote=True).replace("\\", "\\\\")


def _tooltip(text: str) -> str:
    """``, tooltip="..."``, or nothing for text with a backslash: Graphviz versions differ in
    how many times they unescape a tooltip, so no escaping of ``\\G`` there is right for all."""
    if "\\" in text:
        return ""
    return f", tooltip={dot_id(text)}"


def to_dot(drawing: Drawing, *, digits: int | None = None) -> str:
    """DOT for Graphviz: op nodes as circles, an edge's value above its gradient (in red), and
    the name of the value above both when it comes out of an op node."""
    target = html_text(shown_name(drawing.target))
    fonts = dot_id(FONTS)
    lines = [
        f"digraph {dot_id(drawing.name)} {{",
        f"  graph [rankdir=LR, ordering=in, labelloc=t, fontname={fonts}, "
        f'label=<{html_text(drawing.title)}<br/><font point-size="10">values above each edge, '
        f'<font color="red">gradients ∂{target}/∂value</font> below<br/>'
        f'under each input <font color="red">∂{target}/∂input</font>, summed over its edges; '
        f"{html_text(digits_note(digits, hint=False))}</font>>];",
        f"  node [fontname={fonts}];",
        # decorate: a line from each label to its edge, so crossing edges keep their labels
        f"  edge [fontname={fonts}, fontsize=11, decorate=true];",
    ]
    for vertex in drawing.vertices.values():
        total = total_text(drawing, vertex, digits)
        lines.append(f"  {dot_id(vertex.id)} [{_dot_vertex(vertex, total)}];")
    for edge in drawing.edges:
        label = html_text(edge_text(edge.value, digits))
        if _names_its_value(drawing, edge):
            name = html_text(drawing.vertices[edge.source].name)
            label = f'<font color="gray35">{name}</font><br/>{label}'
        if edge.grad is not None:
            label += f'<br/><font color="red">{html_text(edge_text(edge.grad, digits))}</font>'
        lines.append(f"  {dot_id(edge.source)} -> {dot_id(edge.target)} [label=<{label}>];")
    results = [dot_id(v.id) for v in drawing.vertices.values() if v.kind == "result"]
    if results:
        lines.append(f"  {{rank=max; {'; '.join(results)};}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _names_its_value(drawing: Drawing, edge: Edge) -> bool:
    """An edge out of an op node carries the node's name, unless it ends at the named result."""
    return (
        drawing.vertices[edge.source].kind == "op"
        and drawing.vertices[edge.target].kind != "result"
    )


def _dot_vertex(vertex: Vertex, total: str | None = None) -> str:
    name = html_text(vertex.name)
    if total is not None:
        name += f'<br/><font color="red" point-size="11">{html_text(total)}</font>'
    if vertex.kind == "op":
        symbol = op_label(vertex.op, vertex.attrs)
        shape = "circle" if len(symbol) <= 4 else "box, style=rounded"
        return f"shape={shape}, label=<{html_text(symbol)}>{_tooltip(vertex.name)}"
    if vertex.kind == "constant":
        return f"shape=plaintext, fontcolor=gray30, label=<{name}>"
    return f"shape=plaintext, label=<{name}>"


# --- Mermaid --------------------------------------------------------------------------------


def mermaid_text(text: str) -> str:
    """Text for a quoted Mermaid label: Mermaid's ``#name;`` entity codes for the characters
    that would end the label or be read as HTML or Markdown."""
    out = printable(text).replace("#", "#35;")
    for char, code in (
        ("&", "#amp;"),
        ('"', "#quot;"),
        ("<", "#lt;"),
        (">", "#gt;"),
        ("|", "#124;"),
        ("`", "#96;"),
    ):
        out = out.replace(char, code)
    return out


def to_mermaid(drawing: Drawing, *, digits: int | None = None) -> str:
    ids = {vertex_id: f"v{i}" for i, vertex_id in enumerate(drawing.vertices)}
    lines = [
        "---",
        f"title: {json.dumps(printable(drawing.title), ensure_ascii=False)}",  # YAML, not a label
        "---",
        "flowchart LR",
        f"  %% edges: value, then the gradient ∂{printable(drawing.target)}/∂value; inputs:"
        f" the gradient summed over their edges; {digits_note(digits)}",
    ]
    for vertex in drawing.vertices.values():
        name = mermaid_text(vertex.name)
        total = total_text(drawing, vertex, digits)
        if total is not None:
            name += f"<br/>{mermaid_text(total)}"
        if vertex.kind == "op":
            symbol = mermaid_text(op_label(vertex.op, vertex.attrs))
            shape = f'(("{symbol}"))' if len(symbol) <= 4 else f'("{symbol}")'
        else:
            shape = f'["{name}"]'
        lines.append(f"  {ids[vertex.id]}{shape}")
    for edge in drawing.edges:
        label = mermaid_text(edge_text(edge.value, digits))
        if _names_its_value(drawing, edge):
            label = f"{mermaid_text(drawing.vertices[edge.source].name)}<br/>{label}"
        if edge.grad is not None:
            label += f"<br/>grad {mermaid_text(edge_text(edge.grad, digits))}"
        lines.append(f'  {ids[edge.source]} -->|"{label}"| {ids[edge.target]}')
    lines.append("  classDef input fill:none,stroke:none")
    inputs = [ids[v.id] for v in drawing.vertices.values() if v.kind != "op"]
    if inputs:
        lines.append(f"  class {','.join(inputs)} input")
    return "\n".join(lines) + "\n"


# --- images through Graphviz ----------------------------------------------------------------


def render_image(dot_source: str, fmt: str, *, dpi: int | None = None) -> bytes:
    """Run Graphviz's ``dot`` on the DOT text; a clear error when it is missing or fails.
    ``dpi``: the resolution of a PNG (Graphviz's -Gdpi; its default is 96)."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        raise DrawError(INSTALL_GRAPHVIZ.format(fmt=fmt))
    try:
        done = subprocess.run(
            [program, f"-T{fmt}", *([f"-Gdpi={dpi}"] if dpi is not None else [])],
            input=dot_source.encode("utf-8"),
            capture_output=True,
        )
    except OSError as err:
        raise DrawError(f"could not run Graphviz's dot ({program}): {err}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise DrawError(f"Graphviz's dot failed (exit {done.returncode}): {message}")
    return done.stdout


# Scripts that need a CJK font, and the fontconfig language that has such fonts.
_CJK_RANGES = (
    (0x1100, 0x11FF, "ko"),
    (0x3130, 0x318F, "ko"),
    (0xA960, 0xA97F, "ko"),
    (0xAC00, 0xD7FF, "ko"),
    (0x3040, 0x30FF, "ja"),
    (0x31F0, 0x31FF, "ja"),
    (0xFF66, 0xFF9F, "ja"),
    (0x3400, 0x4DBF, "zh"),
    (0x4E00, 0x9FFF, "zh"),
    (0xF900, 0xFAFF, "zh"),
    (0x20000, 0x3FFFF, "zh"),
)
LANGUAGES = {"ko": "Korean", "ja": "Japanese", "zh": "Chinese (Han)"}
FC_LIST = "fc-list"  # fontconfig's lister; the check is skipped where it is missing


def cjk_languages(text: str) -> dict[str, str]:
    """The fontconfig languages whose fonts ``text`` needs, each with a character needing it."""
    found: dict[str, str] = {}
    for ch in text:
        code = ord(ch)
        if code < 0x1100:
            continue
        for low, high, lang in _CJK_RANGES:
            if low <= code <= high:
                found.setdefault(lang, ch)
    return found


def font_warning(drawing: Drawing) -> str | None:
    """Why CJK names in an image may show as empty boxes: no font for them is installed
    (``fc-list :lang=ko`` lists none). None when all is well or fc-list is missing."""
    import shutil
    import subprocess

    texts = [drawing.title, drawing.target, *(v.name for v in drawing.vertices.values())]
    needed: dict[str, str] = {}
    for text in texts:
        for lang, ch in cjk_languages(text).items():
            needed.setdefault(lang, ch)
    program = shutil.which(FC_LIST) if needed else None
    if program is None:
        return None
    missing = []
    for lang, ch in needed.items():
        try:
            done = subprocess.run(
                [program, f":lang={lang}", "family"], capture_output=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode == 0 and not done.stdout.strip():
            missing.append((lang, ch))
    if not missing:
        return None
    which = " and ".join(f"{LANGUAGES[lang]} ({ch})" for lang, ch in missing)
    langs = ", ".join(f"fc-list :lang={lang}" for lang, _ in missing)
    return (
        f"the drawing has {which} text but no font for it is installed ({langs} lists none), "
        "so those names may show as empty boxes; install one, for example Debian/Ubuntu: "
        "sudo apt-get install fonts-noto-cjk (or fonts-nanum for Korean)"
    )


def check_image_output(fmt: str, *, terminal: bool) -> None:
    """Refuse binary data on a terminal; find Graphviz before any work is done."""
    import shutil

    if fmt in BINARY_FORMATS and terminal:
        raise UsageProblem(
            f"not writing {fmt.upper()} data to a terminal; redirect it to a file, "
            f"for example: bpcalc draw GRAPH -o {fmt} > graph.{fmt}"
        )
    if fmt in IMAGE_FORMATS and shutil.which("dot") is None:
        raise DrawError(INSTALL_GRAPHVIZ.format(fmt=fmt))


# --- a drawing in the terminal --------------------------------------------------------------

VALUE_MARK = "▸"  # the value flows forward, to the right
GRAD_MARK = "◂"  # the gradient flows back, to the left


@dataclass
class _Block:
    """A drawn subtree: its lines, their widths, and the line its outgoing edge leaves from."""

    lines: list[Line]
    widths: list[int]
    anchor: int

    @classmethod
    def leaf(cls, label: Line) -> _Block:
        return cls([label], [_width(label)], 0)

    def width(self) -> int:
        return max(self.widths)


def _width(line: Line) -> int:
    return sum(cell_width(text) for text, _ in line)


def text_lines(drawing: Drawing, *, digits: int | None = None) -> list[Line]:
    """The graph as trees growing from the right: each node sits to the right of its inputs,
    joined by ``┐ ├ ┘``; a node used twice is drawn once and named again with ``(see above)``."""
    target = printable(drawing.target)
    lines: list[Line] = [
        [(printable(drawing.title), "bold")],
        [
            (f"{VALUE_MARK} value (forward)   ", ""),
            (f"{GRAD_MARK} gradient ∂{target}/∂value (backward)", "red"),
            (f"   {digits_note(digits)}", "dim"),
        ],
        [],
    ]
    inputs_of: dict[str, list[Edge]] = {}
    for edge in drawing.edges:
        inputs_of.setdefault(edge.target, []).append(edge)
    drawn: set[str] = set()
    for edge in drawing.edges:
        if drawing.vertices[edge.target].kind == "result":
            lines += _tree(drawing, edge, inputs_of, drawn, digits).lines
            lines.append([])
    lines += _totals(drawing, digits)
    sourced = {edge.source for edge in drawing.edges}
    for vertex in drawing.vertices.values():
        if vertex.kind == "input" and vertex.id not in sourced:
            lines.append([(printable(vertex.name), "cyan"), (" (not used)", "dim")])
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _totals(drawing: Drawing, digits: int | None) -> list[Line]:
    """Each input once, with its gradient summed over its edges (an input used several times
    is drawn at each use above): ``∂q/∂a = 2 + 2 + 3 = 7   (used 3 times)``."""
    rows = []
    for vertex in drawing.vertices.values():
        parts = total_parts(drawing, vertex, digits)
        if parts is not None:
            rows.append((parts, len(drawing.out_edges(vertex.id))))
    if not rows:
        return []
    width = max(cell_width(head) for (head, _), _ in rows)
    lines: list[Line] = [[("Gradient of each input, summed over its edges:", "bold")]]
    for (head, total), uses in rows:
        pad = " " * (width - cell_width(head))
        line: Line = [(f"  {head}{pad} = ", ""), (total, "red")]
        if uses > 1:
            line.append((f"   (used {uses} times)", "dim"))
        lines.append(line)
    lines.append([])
    return lines


def _tree(
    drawing: Drawing,
    root: Edge,
    inputs_of: dict[str, list[Edge]],
    drawn: set[str],
    digits: int | None,
) -> _Block:
    """Lay out the tree ending in ``root``, bottom-up without recursion (graphs can be deep)."""
    # Pre-order walk: an op node is expanded the first time it is met, referred to afterwards.
    order: list[tuple[Edge, list[int], bool]] = []  # edge to the parent, children, expanded
    stack: list[tuple[Edge, int | None]] = [(root, None)]
    while stack:
        edge, parent = stack.pop()
        vertex = drawing.vertices[edge.source]
        expand = vertex.kind == "op" and vertex.id not in drawn
        order.append((edge, [], expand))
        if parent is not None:
            order[parent][1].append(len(order) - 1)
        if expand:
            drawn.add(vertex.id)
            index = len(order) - 1
            stack += [(child, index) for child in reversed(inputs_of.get(vertex.id, []))]
    blocks: dict[int, _Block] = {}
    for index in range(len(order) - 1, -1, -1):
        edge, children, expand = order[index]
        label = _label(drawing.vertices[edge.source], edge, expand, digits)
        if not children:
            blocks[index] = _Block.leaf(label)
        else:
            blocks[index] = _join([blocks.pop(child) for child in children], label)
        if blocks[index].width() > MAX_TEXT_WIDTH:
            raise DrawError(
                f"the terminal drawing would be wider than {MAX_TEXT_WIDTH} columns; "
                f"draw this graph as an image instead (-o svg, -o png, -o pdf) or as -o dot"
            )
    return blocks[0]


def _label(vertex: Vertex, edge: Edge, expanded: bool, digits: int | None) -> Line:
    """``(×) apple_price ▸200 ◂1.1``: the vertex, then the value and gradient of its edge."""
    segments: Line = []
    if vertex.kind == "op":
        segments.append((f"({op_label(vertex.op, vertex.attrs)}) ", ""))
    style = "dim" if vertex.kind == "constant" else "bold cyan" if vertex.kind == "op" else "cyan"
    segments.append((printable(vertex.name), style))
    if vertex.kind == "op" and not expanded:
        segments.append((" (see above)", "dim"))
    if vertex.kind != "constant":
        segments.append((f" {VALUE_MARK}{edge_text(edge.value, digits)}", ""))
    if edge.grad is not None:
        segments.append((f" {GRAD_MARK}{edge_text(edge.grad, digits)}", "red"))
    return segments


def _join(children: list[_Block], label: Line) -> _Block:
    """Stack the inputs' blocks (a blank line between), join their edges, put ``label`` at the
    middle. The children's lines are extended in place: each block is used once."""
    lines: list[Line] = []
    widths: list[int] = []
    anchors: list[int] = []
    for i, block in enumerate(children):
        if i:
            lines.append([])
            widths.append(0)
        anchors.append(len(lines) + block.anchor)
        lines += block.lines
        widths += block.widths
    width = max(block.width() for block in children)
    first, last = anchors[0], anchors[-1]
    middle = (first + last) // 2
    for j, line in enumerate(lines):
        gap = width - widths[j]
        if j in anchors:
            line.append((" " + "─" * (gap + 1) + _corner(j, first, last, middle), "dim"))
            widths[j] = width + 3
        elif first < j < last:
            line.append((" " * (gap + 2) + ("├" if j == middle else "│"), "dim"))
            widths[j] = width + 3
        if j == middle:
            line += [("─ ", "dim"), *label]
            widths[j] += 2 + _width(label)
    return _Block(lines, widths, middle)


def _corner(j: int, first: int, last: int, middle: int) -> str:
    if first == last:
        return "─"
    if j == first:
        return "┐"
    if j == last:
        return "┘"
    return "┼" if j == middle else "┤"
