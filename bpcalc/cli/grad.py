"""``bpcalc grad``: d(output)/d(NAME) for each --wrt NAME; a bare number in a pipe."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import (
    BatchOptions,
    GraphOptions,
    OutputOptions,
    batch_options,
    canonical_names,
    complete_names,
    exact_option,
    graph_options,
    output_options,
    refuse_exact_batch,
)
from bpcalc.errors import UsageProblem
from bpcalc.runtime import gc_paused


@command("grad")
@graph_options
@click.option(
    "--wrt",
    "wrt",
    multiple=True,
    required=True,
    metavar="NAME",
    callback=canonical_names,
    shell_complete=complete_names,
    help="Input or node to differentiate with respect to. Repeatable.",
)
@exact_option
@output_options
@batch_options
def grad(
    source: GraphOptions,
    wrt: tuple[str, ...],
    exact: bool,
    output: OutputOptions,
    batch: BatchOptions,
) -> None:
    """Print d(output)/d(NAME) for each --wrt NAME, one per line in a pipe.

    \b
    Example:
        bpcalc grad apple_orange --wrt apple          # prints 2.2
        price=$(bpcalc grad cart.yaml --wrt tax --set tax=1.08)
        bpcalc grad apple_orange --wrt tax --batch rows.csv
    """
    from bpcalc.output.reports import print_grad

    if batch.requested():
        from bpcalc.cli.batch import run_batch

        refuse_exact_batch(exact)
        return run_batch(source, batch, output, wrt=wrt)
    with gc_paused():
        graph, evaluation = source.evaluate(exact=exact)
        for name in wrt:
            if name not in evaluation.grads:
                raise UsageProblem(f"--wrt: {graph.unknown_name_message(name)}")
            if evaluation.grads[name] is None:
                raise UsageProblem(
                    f"--wrt: input '{name}' has 'grad: false', so it has no gradient"
                )
        print_grad(
            evaluation, wrt, fmt=output.fmt, digits=output.digits, excel_safe=output.excel_safe
        )
        del graph, evaluation  # freed while the collector is paused (bpcalc.runtime)
