"""The ``bpcalc`` command line: click wiring only; the work is done by the library modules.

Imports stay light here (click and the pure-Python registry): numpy, PyYAML and rich are
imported by the commands that use them, so ``bpcalc --help`` starts fast.
"""

from __future__ import annotations

import errno
import sys
from typing import Any

import click

from bpcalc import __version__
from bpcalc.cli.options import (
    CONTEXT,
    batch_options,
    batch_requested,
    complete_names,
    evaluate_graph,
    exact_option,
    format_option,
    graph_options,
    output_options,
    pass_params,
)
from bpcalc.errors import BpcalcError, ExitStatus, UsageProblem
from bpcalc.ops.table import OPS

# The option each argument of the library's calls comes from, named in front of a message
# about that argument (UsageProblem.about): "--wrt: no input named 'x'".
OPTION_OF_ARGUMENT = {"wrt": "--wrt", "of": "--of", "sets": "--set"}


class ReportedError(click.ClickException):
    """A bpcalc error on its way out: its own text on stderr, its own exit code."""

    def __init__(self, error: BpcalcError) -> None:
        if isinstance(error, UsageProblem) and error.about in OPTION_OF_ARGUMENT:
            message = error.diagnostics[0].message
            error = UsageProblem(f"{OPTION_OF_ARGUMENT[error.about]}: {message}")
        super().__init__(error.render())
        self.exit_code = int(error.exit_status)  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


# Commands that live in their own modules, imported only when used (or listed by --help).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:attribute, the command's short_help, shown by --help without importing it)
    "check": ("bpcalc.cli.check:check", "Check backprop against central differences."),
    "draw": ("bpcalc.cli.draw:draw", "Draw the graph with values and gradients."),
    "export": ("bpcalc.cli.export:export", "Write the graph as a book-style script."),
    "ops": ("bpcalc.cli.ops:ops", "List every op with its local derivatives."),
    "sweep": ("bpcalc.cli.sweep:sweep", "Evaluate over a range of an input's values."),
    "trace": ("bpcalc.cli.trace:trace", "Show the forward and backward pass step by step."),
}


class BpcalcGroup(click.Group):
    """Turns library errors into messages and exit codes in one place; loads commands lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name][0].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, with lazy commands' short help taken from LAZY_COMMANDS."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in LAZY_COMMANDS:
                rows.append((name, LAZY_COMMANDS[name][1]))
            else:
                command = super().get_command(ctx, name)
                assert command is not None
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                result = super().invoke(ctx)
            except ValueError as error:
                if not _too_big_for_numpy(error):
                    raise
                raise MemoryError from error  # out of memory by another name
            sys.stdout.flush()  # a reader that has gone (`| head`) shows here, not at exit
            return result
        except BpcalcError as error:
            if ctx.meta.get("bpcalc.debug"):
                raise
            raise ReportedError(error) from None
        except KeyboardInterrupt:
            raise click.exceptions.Exit(ExitStatus.INTERRUPTED) from None
        except BrokenPipeError:
            # stdout's reader has gone (`| head`) with all it wanted: stop quietly, exit 0,
            # and send what is still buffered nowhere, so the flush at exit cannot fail.
            import contextlib
            import os

            with contextlib.suppress(OSError, ValueError):  # no real stdout (in tests)
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return None
        except MemoryError:
            if ctx.meta.get("bpcalc.debug"):
                raise
            if ctx.meta.get("bpcalc.analysis.batch"):  # memory grows with the rows of a chunk
                hint = "lower --chunk-size to evaluate fewer rows at once"
            else:
                hint = (
                    "lower --max-memory or --max-elements to refuse such a graph before it "
                    "is evaluated"
                )
            click.echo(f"Error: out of memory; {hint}", err=True)
            raise click.exceptions.Exit(ExitStatus.ERROR) from None
        except OSError as error:
            # Writing the results failed (bpcalc writes no file but stdout: a full disk,
            # `> /dev/full`, a quota): one line, exit 1, and nothing more tried at exit.
            if ctx.meta.get("bpcalc.debug") or error.errno not in _WRITE_ERRORS:
                raise
            _discard_stdout()
            reason = error.strerror or str(error)
            click.echo(f"Error: cannot write the output: {reason}", err=True)
            raise click.exceptions.Exit(ExitStatus.ERROR) from None


_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # only ever from writing


def _too_big_for_numpy(error: ValueError) -> bool:
    """numpy's refusals of an allocation larger than an address can index."""
    text = str(error)
    return text == "Maximum allowed dimension exceeded" or text.startswith("array is too big")


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the flush at exit writes what is left nowhere."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):  # no real stdout (in tests)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


OPS_HELP = ", ".join(OPS)


@click.group(
    cls=BpcalcGroup,
    context_settings=CONTEXT,
    epilog=f"Ops: {OPS_HELP}. Exit codes: 0 ok, 1 invalid graph, failed evaluation or "
    f"failed check, 2 usage error, 130 interrupted. Docs: README.md, docs/errors.md.",
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
    from bpcalc.output.reports import print_run

    if batch_requested(params):
        from bpcalc.cli.batch import run_batch

        _refuse_exact_batch(params)
        return run_batch(params)
    graph, evaluation = evaluate_graph(params)
    print_run(
        graph,
        evaluation,
        fmt=params["fmt"],
        digits=params["digits"],
        excel_safe=params["excel_safe"],
    )


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
    from bpcalc.output.reports import print_grad

    if batch_requested(params):
        from bpcalc.cli.batch import run_batch

        _refuse_exact_batch(params)
        return run_batch(params, wrt=params["wrt"])
    graph, evaluation = evaluate_graph(params)
    for name in params["wrt"]:
        if name not in evaluation.grads:
            raise UsageProblem(f"--wrt: {graph.unknown_name_message(name)}")
        if evaluation.grads[name] is None:
            raise UsageProblem(f"--wrt: input '{name}' has 'grad: false', so it has no gradient")
    print_grad(
        evaluation,
        params["wrt"],
        fmt=params["fmt"],
        digits=params["digits"],
        excel_safe=params["excel_safe"],
    )


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
    from bpcalc.output.reports import print_examples

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
    """Run the command line (bpcalc.entry.main installs Ctrl-C handling first)."""
    import os

    for stream, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, stream) is None:  # closed (`<&-`, `>&-`): read nothing, write nowhere
            setattr(sys, stream, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115
    try:
        cli.main(prog_name="bpcalc")
    except KeyboardInterrupt:
        sys.exit(ExitStatus.INTERRUPTED)
