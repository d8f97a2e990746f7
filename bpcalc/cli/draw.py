"""``bpcalc draw``: the graph with values and gradients on its edges, as the book draws it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import GraphOptions, digits_option, format_option, graph_options

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph
    from bpcalc.output.trace_text import Line

FORMATS = ("auto", "text", "dot", "mermaid", "svg", "png", "pdf")


@command("draw")
@graph_options
@format_option(
    FORMATS,
    "Output format; auto is text on a terminal, dot in a pipe. svg, png and pdf need "
    "Graphviz; png and pdf are never written to a terminal.",
)
@digits_option(
    "Significant digits on the edges [12 for numbers, 4 for tensors].",
)
def draw(source: GraphOptions, fmt: str, digits: int | None) -> None:
    """Draw the graph: inputs on the left, the output on the right, each edge labelled with
    its forward value and, below it in red, the gradient flowing back along it.

    Text formats need nothing installed; svg, png and pdf run Graphviz's 'dot' (exit 1 with
    install instructions when it is missing). GRAPH, --set and --of work as in 'bpcalc run'.

    \b
    Example:
        bpcalc draw apple_orange                  # a drawing in the terminal
        bpcalc draw apple_orange -o svg > apple_orange.svg
        bpcalc draw apple_orange | dot -Tpng > apple_orange.png
        bpcalc draw apple_orange -o mermaid       # paste into Markdown
    """
    from bpcalc.output.drawings import check_image_output
    from bpcalc.output.formats import stdout_is_terminal

    terminal = stdout_is_terminal()
    if fmt == "auto":
        fmt = "text" if terminal else "dot"
    check_image_output(fmt, terminal=terminal)
    graph, evaluation = source.evaluate(trace=True)
    write_drawing(graph, evaluation, fmt=fmt, digits=digits, terminal=terminal)


def write_drawing(
    graph: Graph, evaluation: Evaluation, *, fmt: str, digits: int | None, terminal: bool
) -> None:
    from bpcalc.analysis.drawing import build_drawing
    from bpcalc.analysis.trace import build_trace
    from bpcalc.output.drawings import render_image, text_lines, to_dot, to_mermaid
    from bpcalc.output.formats import write
    from bpcalc.output.trace_text import plain

    drawing = build_drawing(graph, evaluation, build_trace(graph, evaluation))
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
        import sys

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
        click.echo(
            f"note: the drawing is {widest} columns wide and the terminal {columns}; "
            f"try 'less -S', or -o svg for a picture",
            err=True,
        )
