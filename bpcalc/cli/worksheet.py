"""``--blank``, ``--blank-fraction`` and ``--seed`` of ``draw`` and ``trace``: worksheets with
the answers left out (bpcalc.analysis.blanks)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from bpcalc.analysis.blanks import Blanks, BlankWhat
    from bpcalc.loading.graph import Graph

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class BlankOptions:
    what: BlankWhat | None
    fraction: float
    seed: int | None

    def choose(self, graph: Graph) -> Blanks:
        from bpcalc.analysis.blanks import choose_blanks

        return choose_blanks(graph, self.what, fraction=self.fraction, seed=self.seed)


def blank_options(func: F) -> F:
    """Adds the three options and gives the command ``blank: BlankOptions``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        what = kwargs.pop("blank_what")
        fraction = kwargs.pop("blank_fraction")
        seed = kwargs.pop("seed")
        if what is None and (fraction != 1.0 or seed is not None):
            raise click.UsageError("--blank-fraction and --seed go with --blank")
        return func(*args, blank=BlankOptions(what, fraction, seed), **kwargs)

    options = [
        click.option(
            "--blank",
            "blank_what",
            type=click.Choice(["grads", "values", "both"]),
            help="A worksheet: leave boxes (____) where the gradients, the computed values or "
            "both would be; the same command without it prints the answer key.",
        ),
        click.option(
            "--blank-fraction",
            type=click.FloatRange(0.0, 1.0),
            default=1.0,
            metavar="F",
            help="Blank only this fraction of those answers, chosen at random with --seed.",
        ),
        click.option(
            "--seed",
            type=int,
            metavar="S",
            help="Seed for --blank-fraction: the same seed blanks the same answers.",
        ),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
