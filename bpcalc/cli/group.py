"""The ``bpcalc`` click group: errors become messages and exit codes here, once, and each
command is imported from its own module (``bpcalc.cli.run``, ``bpcalc.cli.check``, ...) only
when it runs.

Imports stay light here (click and the pure-Python op table, not even bpcalc.errors):
numpy, PyYAML and rich are imported by the commands that use them, so ``bpcalc --help``
starts fast.
"""

from __future__ import annotations

import errno
import sys
from typing import TYPE_CHECKING, Any

import click

from bpcalc import __version__
from bpcalc.cli.commands import CONTEXT, SHORT_HELP
from bpcalc.ops.table import OPS

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from bpcalc.errors import BpcalcError

# The option each argument of the library's calls comes from, named in front of a message
# about that argument (UsageProblem.about): "--wrt: no input named 'x'".
OPTION_OF_ARGUMENT = {
    "wrt": "--wrt",
    "of": "--of",
    "sets": "--set",
    "params": "--param",  # train
    "data": "--data",
    "batch_size": "--batch-size",
    "save": "--save",
    "optimizer": "--optimizer",
}


class ReportedError(click.ClickException):
    """A bpcalc error on its way out: its own text on stderr, its own exit code."""

    def __init__(self, error: BpcalcError) -> None:
        from bpcalc.errors import UsageProblem

        if isinstance(error, UsageProblem) and error.about in OPTION_OF_ARGUMENT:
            message = error.diagnostics[0].message
            error = UsageProblem(f"{OPTION_OF_ARGUMENT[error.about]}: {message}")
        super().__init__(error.render())
        self.exit_code = int(error.exit_status)  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else the terminal's width, else 80."""
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(click.HelpFormatter):
    """click's formatter, with the width click would choose read without importing shutil
    (which imports zlib, bz2 and lzma: a twentieth of ``bpcalc --help``)."""

    def __init__(
        self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None
    ) -> None:
        if width is None and click.formatting.FORCED_WIDTH is None:
            width = max(min(_terminal_columns(), 80 if max_width is None else max_width) - 2, 50)
        super().__init__(indent_increment, width, max_width)


class _Context(click.Context):
    formatter_class = _HelpFormatter


class BpcalcGroup(click.Group):
    """Turns library errors into messages and exit codes in one place; loads commands lazily."""

    context_class = _Context

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SHORT_HELP)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SHORT_HELP:
            return None
        import importlib

        module = importlib.import_module(f"bpcalc.cli.{cmd_name}")
        command: click.Command = getattr(module, cmd_name)
        return command

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """click's completion of a command's name, with its short help from the table: no
        command module is imported for it (every command is visible, with that help)."""
        from click.shell_completion import CompletionItem

        results = [
            CompletionItem(name, help=SHORT_HELP[name])
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        results.extend(click.Command.shell_complete(self, ctx, incomplete))  # the options
        return results

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from the table (no command module is imported for it)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP[name]) for name in self.list_commands(ctx)])

    def invoke(self, ctx: click.Context) -> Any:
        from bpcalc.errors import BpcalcError, ExitStatus  # not for `bpcalc --help`

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
    epilog=f"Ops: {OPS_HELP}.\n\nExit codes: 0 ok, 1 invalid graph, failed evaluation or "
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


def main() -> None:
    """Run the command line (bpcalc.entry.main installs Ctrl-C handling first)."""
    import os

    for stream, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, stream) is None:  # closed (`<&-`, `>&-`): read nothing, write nowhere
            setattr(sys, stream, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115
    try:
        cli.main(prog_name="bpcalc")
    except KeyboardInterrupt:
        from bpcalc.errors import ExitStatus

        sys.exit(ExitStatus.INTERRUPTED)
