"""``bpcalc trace``: the forward and backward passes, one numbered step per node."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import (
    GraphOptions,
    digits_option,
    exact_option,
    format_option,
    graph_options,
)
from bpcalc.cli.worksheet import BlankOptions, blank_options
from bpcalc.runtime import gc_paused


@command("trace")
@graph_options
@exact_option
@format_option(
    ["auto", "rich", "text", "json", "markdown", "latex"],
    "Output format; auto is rich (coloured, rounded) on a terminal, plain text in a pipe; "
    "markdown and latex are tables for handouts.",
)
@click.option(
    "--full", is_flag=True, help="Show tensors element by element instead of shape and summary."
)
@blank_options
@digits_option(
    "Significant digits to show (default: all digits in text and JSON, 12 in rich, markdown "
    "and latex).",
)
def trace(
    source: GraphOptions,
    exact: bool,
    fmt: str,
    full: bool,
    blank: BlankOptions,
    digits: int | None,
) -> None:
    """Show the forward pass in order, then the backward pass in reverse, step by step.

    Steps are numbered like the book's (1)...(4): each backward step shows the upstream
    gradient dout, and for each input 'd x += dout × local = amount' with the op's local
    derivative, plus the running sum when a value feeds several nodes. GRAPH, --set and
    --of work as in 'bpcalc run'.

    \b
    Example:
        bpcalc trace apple_orange
        bpcalc trace two_layer_net --full | less
        bpcalc trace apple_orange -o json
        bpcalc trace apple_orange -o markdown --blank grads > exercise.md
    """
    from bpcalc.analysis.blanks import blank_trace
    from bpcalc.analysis.trace import build_trace
    from bpcalc.output.trace_text import print_trace

    with gc_paused():
        graph, evaluation = source.evaluate(trace=True, exact=exact)
        story = blank_trace(build_trace(graph, evaluation), blank.choose(graph))
        print_trace(story, fmt=fmt, digits=digits, full=full)
        del graph, evaluation, story  # freed while the collector is paused (bpcalc.runtime)
