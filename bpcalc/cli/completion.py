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
        eval "$(bpcalc completion zsh)"       # ~/.zshrc (after compinit, if it runs it)
        bpcalc completion fish | source       # ~/.config/fish/config.fish
    """
    from click.shell_completion import get_completion_class

    from bpcalc.cli.group import cli

    completer = get_completion_class(shell)
    assert completer is not None
    source = completer(cli, {}, "bpcalc", "_BPCALC_COMPLETE").source()
    if shell == "zsh":  # compdef exists only once compinit ran: start it when ~/.zshrc did not
        first, _, rest = source.partition("\n")
        source = f"{first}\n{ZSH_COMPINIT}{rest}"
    click.echo(source)


# zsh's compdef, which the script calls, comes with its completion system (compinit).
ZSH_COMPINIT = "(( $+functions[compdef] )) || { autoload -Uz compinit && compinit; }\n"
