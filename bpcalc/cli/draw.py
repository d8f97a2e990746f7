"""``bpcalc draw``: the graph with values and gradients on its edges, as the book draws it."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import GraphOptions, digits_option, format_option, graph_options
from bpcalc.errors import UsageProblem

FORMATS = ("auto", "text", "dot", "mermaid", "svg", "png", "pdf", "html")


@command("draw")
@graph_options
@format_option(
    FORMATS,
    "Output format; auto is text on a terminal, dot in a pipe. svg, png and pdf need "
    "Graphviz; png and pdf are never written to a terminal. html is one self-contained page "
    "that steps through the forward and backward pass.",
)
@digits_option(
    "Significant digits on the edges and inputs [4; the legend says so].",
)
@click.option(
    "--dpi",
    type=click.IntRange(10, 1200),
    metavar="N",
    help="Resolution of -o png in dots per inch [Graphviz's 96]; 300 for print or slides.",
)
def draw(source: GraphOptions, fmt: str, digits: int | None, dpi: int | None) -> None:
    """Draw the graph: inputs on the left, the output on the right, each edge labelled with
    its forward value and, below it in red, the gradient flowing back along it.

    Text formats need nothing installed; svg, png and pdf run Graphviz's 'dot' (exit 1 with
    install instructions when it is missing). Each input also shows its gradient summed over
    its edges (a value used twice gets two edges). GRAPH, --set and --of work as in
    'bpcalc run'.

    \b
    Example:
        bpcalc draw apple_orange                  # a drawing in the terminal
        bpcalc draw apple_orange -o svg > apple_orange.svg
        bpcalc draw apple_orange -o png --dpi 300 > apple_orange.png
        bpcalc draw apple_orange | dot -Tpng > apple_orange.png
        bpcalc draw apple_orange -o mermaid       # paste into Markdown
        bpcalc draw apple_orange -o html > ao.html  # step through it in a browser
    """
    from bpcalc.analysis.drawing import build_drawing
    from bpcalc.analysis.trace import build_trace
    from bpcalc.output.draw_report import write_drawing
    from bpcalc.output.drawings import check_image_output
    from bpcalc.output.formats import stdout_is_terminal

    terminal = stdout_is_terminal()
    if fmt == "auto":
        fmt = "text" if terminal else "dot"
    if dpi is not None and fmt != "png":
        raise UsageProblem(f"--dpi applies to -o png only, not -o {fmt}")
    check_image_output(fmt, terminal=terminal)
    graph, evaluation = source.evaluate(trace=True)
    trace = build_trace(graph, evaluation)
    drawing = build_drawing(graph, evaluation, trace)
    if fmt == "html":
        from bpcalc.output.formats import write
        from bpcalc.output.html_page import page

        write(page(drawing, trace, evaluation, digits))
        return
    write_drawing(drawing, fmt=fmt, digits=digits, terminal=terminal, dpi=dpi)
