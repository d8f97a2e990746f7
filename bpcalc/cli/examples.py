"""``bpcalc examples``: the bundled example graphs, listed or printed."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import complete_examples, format_option


@command("examples")
@click.argument("name", required=False, shell_complete=complete_examples)
@format_option(["auto", "table", "tsv", "json"], "Output format.")
def examples(name: str | None, fmt: str) -> None:
    """List the bundled example graphs, or print one of them.

    \b
    Example:
        bpcalc examples
        bpcalc examples apple_orange > graph.yaml   # a graph to start from
    """
    from bpcalc.output.reports import print_examples

    print_examples(name, fmt=fmt)
