"""``bpcalc trace``: the forward and backward passes, one numbered step per node."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import (
    GraphOptions,
    digits_option,
    exact_option,
    format_option,
    graph_options,
)

if TYPE_CHECKING:
    from bpcalc.output.trace_text import Line


@command("trace")
@graph_options
@exact_option
@format_option(
    ["auto", "rich", "text", "json"],
    "Output format; auto is rich (coloured, rounded) on a terminal, plain text in a pipe.",
)
@click.option(
    "--full", is_flag=True, help="Show tensors element by element instead of shape and summary."
)
@digits_option(
    "Significant digits to show (default: all digits in text and JSON, 12 in rich).",
)
def trace(source: GraphOptions, exact: bool, fmt: str, full: bool, digits: int | None) -> None:
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
    """
    from bpcalc.analysis.trace import build_trace
    from bpcalc.output.formats import resolve, write, write_json
    from bpcalc.output.trace_text import Numbers, plain, trace_lines, trace_records

    graph, evaluation = source.evaluate(trace=True, exact=exact)
    story = build_trace(graph, evaluation)
    fmt = resolve(fmt, plain="text")
    if fmt == "json":
        write_json(trace_records(story, digits=digits, full=full))
    elif fmt == "text":
        write(plain(trace_lines(story, Numbers.for_text(digits, full))))
    else:
        print_rich(trace_lines(story, Numbers.for_people(digits, full)))


def print_rich(lines: list[Line]) -> None:
    from rich.text import Text

    from bpcalc.output.formats import stdout_console

    console = stdout_console()
    for line in lines:
        console.print(Text.assemble(*line))
