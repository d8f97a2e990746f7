"""``bpcalc export --python``: the graph as a plain Python script in the book's style."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import GraphOptions, graph_options
from bpcalc.runtime import gc_paused


@command("export")
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
def export(source: GraphOptions, language: str, standalone: bool) -> None:
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
    from bpcalc.output.formats import write

    with gc_paused():
        graph, evaluation = source.evaluate()
        write(python_script(graph, evaluation, standalone=standalone))
        del graph, evaluation  # freed while the collector is paused (bpcalc.runtime)
