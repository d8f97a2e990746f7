"""``bpcalc calc``: a calculator without a file; the graph is written as arguments."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import OutputOptions, canonical_names, exact_option, output_options
from bpcalc.errors import UsageProblem


@command("calc")
@click.argument("words", nargs=-1, required=True, metavar="EXPR... [NAME=VALUE...]")
@click.option(
    "--wrt",
    "wrt",
    multiple=True,
    metavar="NAME",
    callback=canonical_names,
    help="Print d(output)/d(NAME), as 'bpcalc grad' does. Repeatable.",
)
@click.option(
    "--of",
    "of",
    metavar="NODE",
    callback=canonical_names,
    help="Differentiate this node instead of the last expression.",
)
@exact_option
@output_options
@click.option(
    "--save",
    metavar="FILE",
    help="Also write the equivalent graph file (atomically; see --force).",
)
@click.option("--force", is_flag=True, help="Let --save overwrite a file that exists.")
def calc(
    words: tuple[str, ...],
    wrt: tuple[str, ...],
    of: str | None,
    exact: bool,
    output: OutputOptions,
    save: str | None,
    force: bool,
) -> None:
    """Evaluate expressions given as arguments, with no graph file.

    Each EXPR is 'name = expression' in the graph format's expression language (later ones
    may use earlier ones); each NAME=VALUE gives an input (a number, [list] or {mapping}, as
    --set takes). The last EXPR is the output. Without --wrt it prints what 'bpcalc run'
    prints, with --wrt what 'bpcalc grad' prints.

    \b
    Example:
        bpcalc calc 'f = x**2 + 3*x' x=2 --wrt x          # prints 7.0
        bpcalc calc 'z = x * y' x=3 y=-4
        bpcalc calc 'q = x + y' 'f = q * z' x=-2 y=5 z=-4 --save cs231n.yaml
    """
    from bpcalc.errors import GraphError
    from bpcalc.loading.arguments import read_arguments, relocate
    from bpcalc.loading.build import loads
    from bpcalc.output.reports import print_grad, print_run

    described = read_arguments(words)
    try:
        graph = loads(described.text, name="calc")
    except GraphError as error:
        raise relocate(error, described) from None
    if save is not None:
        from bpcalc.output.files import write_new_file

        write_new_file(save, described.text, force=force)
    evaluation = graph.evaluate(of=of, exact=exact)
    for warning in evaluation.warnings:
        click.echo(warning.render(), err=True)
    if not wrt:
        print_run(
            graph, evaluation, fmt=output.fmt, digits=output.digits, excel_safe=output.excel_safe
        )
        return
    for name in wrt:
        if name not in evaluation.grads:
            raise UsageProblem(f"--wrt: {graph.unknown_name_message(name)}")
    print_grad(evaluation, wrt, fmt=output.fmt, digits=output.digits, excel_safe=output.excel_safe)
