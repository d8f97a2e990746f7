"""A drawing as ``bpcalc draw`` writes it: coloured text, text, Mermaid, DOT or image bytes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpcalc.analysis.drawing import Drawing
    from bpcalc.output.trace_text import Line


def write_drawing(drawing: Drawing, *, fmt: str, digits: int | None, terminal: bool) -> None:
    """``fmt`` is text, mermaid, dot or an image format (svg, png, pdf: bytes from Graphviz)."""
    from bpcalc.output.drawings import render_image, text_lines, to_dot, to_mermaid
    from bpcalc.output.formats import write
    from bpcalc.output.trace_text import plain

    if fmt == "text":
        lines = text_lines(drawing, digits=digits)
        if terminal:
            print_terminal(lines)
        else:
            write(plain(lines))
    elif fmt == "mermaid":
        write(to_mermaid(drawing, digits=digits))
    elif fmt == "dot":
        write(to_dot(drawing, digits=digits))
    else:
        image = render_image(to_dot(drawing, digits=digits), fmt)
        sys.stdout.flush()
        sys.stdout.buffer.write(image)
        sys.stdout.buffer.flush()


def print_terminal(lines: list[Line]) -> None:
    """Coloured, never wrapped by rich; a note on stderr when it is wider than the terminal."""
    import shutil

    from rich.text import Text

    from bpcalc.output.formats import stdout_console
    from bpcalc.output.trace_text import cell_width

    console = stdout_console(soft_wrap=True)
    for line in lines:
        console.print(Text.assemble(*line))
    widest = max((sum(cell_width(text) for text, _ in line) for line in lines), default=0)
    columns = shutil.get_terminal_size().columns
    if widest > columns:
        sys.stderr.write(
            f"note: the drawing is {widest} columns wide and the terminal {columns}; "
            f"try 'less -S', or -o svg for a picture\n"
        )
        sys.stderr.flush()
