"""``bpcalc run``: every input and node with its op, value and gradient."""

from __future__ import annotations

from bpcalc.cli.commands import command
from bpcalc.cli.options import (
    BatchOptions,
    GraphOptions,
    OutputOptions,
    batch_options,
    exact_option,
    graph_options,
    output_options,
    refuse_exact_batch,
)
from bpcalc.runtime import gc_paused


@command("run")
@graph_options
@exact_option
@output_options
@batch_options
def run(source: GraphOptions, exact: bool, output: OutputOptions, batch: BatchOptions) -> None:
    """Print every input and node with its op, value and gradient.

    GRAPH is a YAML or JSON file, '-' for stdin, or a bundled example's name; without it,
    $BPCALC_GRAPH, else ./graph.yaml. Gradients are d(output)/d(name).

    \b
    Example:
        bpcalc run apple_orange
        bpcalc run graph.yaml --set tax=1.08 -o json
        bpcalc run apple_orange --batch rows.csv -o csv > prices.csv
        bpcalc run apple_orange --exact                # price exactly 715
    """
    from bpcalc.output.reports import print_run

    if batch.requested():
        from bpcalc.cli.batch import run_batch

        refuse_exact_batch(exact)
        return run_batch(source, batch, output)
    with gc_paused():
        graph, evaluation = source.evaluate(exact=exact)
        print_run(
            graph, evaluation, fmt=output.fmt, digits=output.digits, excel_safe=output.excel_safe
        )
        del graph, evaluation  # freed while the collector is paused (bpcalc.runtime)
