"""``bpcalc draw``: the graph with values and gradients on its edges, as the book draws it."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import GraphOptions, digits_option, format_option, graph_options
from bpcalc.cli.worksheet import BlankOptions, blank_options
from bpcalc.errors import UsageProblem

FORMATS = ("auto", "text", "dot", "mermaid", "svg", "tikz", "png", "pdf", "html")


@command("draw")
@graph_options
@format_option(
    FORMATS,
    "Output format; auto is text on a terminal, dot in a pipe. svg and tikz are drawn by "
    "bpcalc; png and pdf need Graphviz and are never written to a terminal. html is one "
    "self-contained page that steps through the forward and backward pass.",
)
@click.option(
    "--engine",
    type=click.Choice(["builtin", "graphviz"]),
    default="builtin",
    show_default=True,
    help="What draws -o svg: bpcalc's own layout, or Graphviz's dot.",
)
@click.option(
    "--standalone", is_flag=True, help="With -o tikz: a whole LaTeX document, not only the picture."
)
@blank_options
@digits_option(
    "Significant digits on the edges and inputs [4; the legend says so].",
)
@click.option(
    "--dpi",
    type=click.IntRange(10, 1200),
    metavar="N",
    help="Resolution of -o png in dots per inch [Graphviz's 96]; 300 for print or slides.",
)
def draw(
    source: GraphOptions,
    fmt: str,
    engine: str,
    standalone: bool,
    blank: BlankOptions,
    digits: int | None,
    dpi: int | None,
) -> None:
    """Draw the graph: inputs on the left, the output on the right, each edge labelled with
    its forward value and, below it in red, the gradient flowing back along it.

    Text formats, svg and tikz need nothing installed; png, pdf and --engine graphviz run
    Graphviz's 'dot' (exit 1 with install instructions when it is missing). Each input also
    shows its gradient summed over its edges (a value used twice gets two edges). --blank
    makes a worksheet. GRAPH, --set and --of work as in 'bpcalc run'.

    \b
    Example:
        bpcalc draw apple_orange                  # a drawing in the terminal
        bpcalc draw apple_orange -o svg > apple_orange.svg
        bpcalc draw apple_orange -o png --dpi 300 > apple_orange.png
        bpcalc draw apple_orange | dot -Tpng > apple_orange.png
        bpcalc draw apple_orange -o mermaid       # paste into Markdown
        bpcalc draw apple_orange -o html > ao.html  # step through it in a browser
        bpcalc draw apple_orange -o tikz --standalone > ao.tex && pdflatex ao.tex
        bpcalc draw apple_orange -o svg --blank grads > exercise.svg
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
    if fmt != "tikz" and standalone:
        raise click.UsageError("--standalone goes with -o tikz")
    graphviz = fmt in ("png", "pdf") or (fmt == "svg" and engine == "graphviz")
    if graphviz:
        check_image_output(fmt, terminal=terminal)
    graph, evaluation = source.evaluate(trace=True)
    trace = build_trace(graph, evaluation)
    drawing = build_drawing(graph, evaluation, trace)
    if fmt == "html":
        from bpcalc.output.formats import write
        from bpcalc.output.html_page import page

        write(page(drawing, trace, evaluation, digits))
        return
    if fmt in ("svg", "tikz") and not graphviz:
        from bpcalc.output.figures import write_figure

        write_figure(
            drawing, evaluation, blank.choose(graph), fmt=fmt, digits=digits, standalone=standalone
        )
        return
    blanks = blank.choose(graph)
    if blanks:
        from bpcalc.analysis.blanks import blank_drawing

        drawing = blank_drawing(drawing, blanks)
    write_drawing(drawing, fmt=fmt, digits=digits, terminal=terminal, dpi=dpi)
