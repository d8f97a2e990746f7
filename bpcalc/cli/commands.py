"""Every command: its module (``bpcalc.cli.<name>``) and the line ``bpcalc --help`` shows.

The group imports a command's module only when that command runs, so ``bpcalc --help`` lists
them all from this table without importing any; each command takes its short help from here
too (``command(name)``), so the line is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

SHORT_HELP = {
    "calc": "Evaluate expressions given as arguments, with no graph file.",
    "check": "Check backprop against central differences.",
    "completion": "Print the tab-completion script for SHELL.",
    "draw": "Draw the graph with values and gradients.",
    "examples": "List the bundled example graphs, or print one of them.",
    "export": "Write the graph as a book-style script.",
    "grad": "Print d(output)/d(NAME) for each --wrt NAME.",
    "ops": "List every op with its local derivatives.",
    "run": "Print every input and node with its op, value and gradient.",
    "sweep": "Evaluate over a range of an input's values.",
    "trace": "Show the forward and backward pass step by step.",
}


def command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """``@click.command`` for the command ``name``, with its short help from the table."""
    return click.command(name, context_settings=CONTEXT, short_help=SHORT_HELP[name])
