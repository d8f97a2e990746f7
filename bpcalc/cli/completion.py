"""``bpcalc completion``: the tab-completion script for a shell."""

from __future__ import annotations

import click

from bpcalc.cli.commands import command


@command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the tab-completion script for SHELL.

    \b
    Example:
        eval "$(bpcalc completion bash)"      # add this line to ~/.bashrc
    """
    from click.shell_completion import get_completion_class

    from bpcalc.cli.group import cli

    completer = get_completion_class(shell)
    assert completer is not None
    click.echo(completer(cli, {}, "bpcalc", "_BPCALC_COMPLETE").source())
