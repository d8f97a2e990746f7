"""The ``bpcalc`` command line: click wiring only; the work is done by the library modules.

Imports stay light here (click and the pure-Python registry): numpy, PyYAML and rich are
imported by the commands that use them, so ``bpcalc --help`` starts fast.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from bpcalc import __version__
from bpcalc.batch import batch_options, batch_requested, run_batch
from bpcalc.errors import BpcalcError, ExitStatus, UsageProblem
from bpcalc.options import (
    CONTEXT,
    complete_names,
    evaluate_graph,
    exact_option,
    format_option,
    graph_options,
    output_options,
    pass_params,
)
from bpcalc.registry import OPS


class ReportedError(click.ClickException):
    """A bpcalc error on its way out: its own text on stderr, its own exit code."""

    def __init__(self, error: BpcalcError) -> None:
        super().__init__(error.render())
        self.exit_code = int(error.exit_status)  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


# Commands that live in their own modules, imported only when used (or listed by --help).
LAZY_COMMANDS: dict[str, str] = {
    "check": "bpcalc.commands.check:check",
    "draw": "bpcalc.commands.draw:draw",
    "export": "bpcalc.commands.export:export",
    "ops": "bpcalc.commands.ops:ops",
    "sweep": "bpcalc.commands.sweep:sweep",
    "trace": "bpcalc.commands.trace:trace",
}


class BpcalcGroup(click.Group):
    """Turns library errors into messages and exit codes in one place; loads commands lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BpcalcError as error:
            if ctx.meta.get("bpcalc.debug"):
                raise
            raise ReportedError(error) from None
        except KeyboardInterrupt:
            raise click.exceptions.Exit(ExitStatus.INTERRUPTED) from None


OPS_HELP = ", ".join(OPS)


@click.group(
    cls=BpcalcGroup,
    context_settings=CONTEXT,
    epilog=f"Ops: {OPS_HELP}. Exit codes: 0 ok, 1 invalid graph or failed "
    f"evaluation, 2 usage error. Docs: README.md, docs/graph-format.md.",
)
@click.version_option(__version__, "--version", prog_name="bpcalc")
def cli() -> None:
    """Compute and see backpropagation on a computational graph written in YAML.

    \b
    Example:
        bpcalc run apple_orange          # values and gradients of every node
        bpcalc grad apple_orange --wrt apple
    """


# --- commands ------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@graph_options
@exact_option
@output_options
@batch_options
@pass_params
def run(params: dict[str, Any]) -> None:
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
    from bpcalc.report import print_run

    if batch_requested(params):
        _refuse_exact_batch(params)
        return run_batch(params)
    graph, evaluation = evaluate_graph(params)
    print_run(graph, evaluation, fmt=params["fmt"], digits=params["digits"])


@cli.command(context_settings=CONTEXT)
@graph_options
@click.option(
    "--wrt",
    "wrt",
    multiple=True,
    required=True,
    metavar="NAME",
    shell_complete=complete_names,
    help="Input or node to differentiate with respect to. Repeatable.",
)
@exact_option
@output_options
@batch_options
@pass_params
def grad(params: dict[str, Any]) -> None:
    """Print d(output)/d(NAME) for each --wrt NAME, one per line in a pipe.

    \b
    Example:
        bpcalc grad apple_orange --wrt apple          # prints 2.2
        price=$(bpcalc grad cart.yaml --wrt tax --set tax=1.08)
        bpcalc grad apple_orange --wrt tax --batch rows.csv
    """
    from bpcalc.report import print_grad

    if batch_requested(params):
        _refuse_exact_batch(params)
        return run_batch(params, wrt=params["wrt"])
    graph, evaluation = evaluate_graph(params)
    for name in params["wrt"]:
        if name not in evaluation.grads:
            raise UsageProblem(f"--wrt: {graph.unknown_name_message(name)}")
        if evaluation.grads[name] is None:
            raise UsageProblem(f"--wrt: input '{name}' has 'grad: false', so it has no gradient")
    print_grad(evaluation, params["wrt"], fmt=params["fmt"], digits=params["digits"])


def _refuse_exact_batch(params: dict[str, Any]) -> None:
    if params["exact"]:
        raise UsageProblem("--exact does not combine with --batch (batches are float64)")


@cli.command(context_settings=CONTEXT)
@click.argument("name", required=False)
@format_option(
    ["auto", "table", "tsv", "json"],
    "Output format.",
)
def examples(name: str | None, fmt: str) -> None:
    """List the bundled example graphs, or print one of them.

    \b
    Example:
        bpcalc examples
        bpcalc examples apple_orange > graph.yaml   # a graph to start from
    """
    from bpcalc.report import print_examples

    print_examples(name, fmt=fmt)


@cli.command(context_settings=CONTEXT)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the tab-completion script for SHELL.

    \b
    Example:
        eval "$(bpcalc completion bash)"      # add this line to ~/.bashrc
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None
    click.echo(completer(cli, {}, "bpcalc", "_BPCALC_COMPLETE").source())


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(prog_name="bpcalc")
    except KeyboardInterrupt:
        sys.exit(ExitStatus.INTERRUPTED)
