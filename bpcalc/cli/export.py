"""``bpcalc export --python``: the graph as a plain Python script in the book's style."""

from __future__ import annotations

from typing import Any

import click

from bpcalc.cli.options import CONTEXT, graph_options, pass_params


@click.command(context_settings=CONTEXT, short_help="Write the graph as a book-style script.")
@graph_options
@click.option(
    "--python",
    "language",
    flag_value="python",
    default="python",
    help="Write a Python script (the default, and for now the only language).",
)
@click.option(
    "--standalone",
    is_flag=True,
    help="Copy the layer classes into the script, so that it needs numpy only.",
)
@pass_params
def export(params: dict[str, Any]) -> None:
    """Write GRAPH as a Python script that builds the layers, runs forward, then backward.

    The script calls each layer's forward in order and backward in reverse from dout = 1,
    as the book's buy_apple_orange.py does, and prints every value and gradient: the same
    numbers as 'bpcalc run'. It imports bpcalc.ops.layers unless --standalone is given.

    \b
    Example:
        bpcalc export apple_orange --python > buy.py && python buy.py
        bpcalc export two_layer_net --python --standalone > net.py
    """
    from bpcalc.analysis.export import python_script
    from bpcalc.cli.options import evaluate_graph
    from bpcalc.output.formats import write

    graph, evaluation = evaluate_graph(params)
    write(python_script(graph, evaluation, standalone=params["standalone"]))
