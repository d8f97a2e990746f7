"""``bpcalc check``: backprop against central differences, as in the book's 5.7.3."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from bpcalc.analysis.check import DEFAULT_ATOL, DEFAULT_EPS, DEFAULT_RTOL
from bpcalc.cli.commands import command
from bpcalc.cli.options import (
    GraphOptions,
    OutputOptions,
    canonical_names,
    complete_names,
    graph_options,
    output_options,
)
from bpcalc.errors import ExitStatus

if TYPE_CHECKING:
    from bpcalc.analysis.check import CheckResult
    from bpcalc.loading.graph import Graph

# Show a progress bar (on a terminal) from this many elements on: two forward passes each.
PROGRESS_MIN_ELEMENTS = 500


class _FloatRange(click.FloatRange):
    """click's FloatRange, which lets NaN through every bound; also refuses NaN, and with
    ``finite`` infinity (a step h of inf or NaN makes every central difference NaN)."""

    def __init__(self, *args: Any, finite: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.finite = finite

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number or (self.finite and number in (float("inf"), float("-inf"))):
            kind = "finite number" if self.finite else "number"
            self.fail(f"{value!r} is not a {kind}", param, ctx)
        return number


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal: only then is a progress bar drawn (tests fake it)."""
    return sys.stderr.isatty()


@command("check")
@graph_options
@click.option(
    "--wrt",
    "wrt",
    multiple=True,
    metavar="NAME",
    callback=canonical_names,
    shell_complete=complete_names,
    help="Check only this input (default: every input with a gradient). Repeatable.",
)
@click.option(
    "--eps",
    type=_FloatRange(min=0, min_open=True, finite=True),
    default=DEFAULT_EPS,
    show_default=True,
    metavar="H",
    help="Step h of the central difference (f(x+h) - f(x-h)) / 2h.",
)
@click.option(
    "--rtol",
    type=_FloatRange(min=0),
    default=DEFAULT_RTOL,
    show_default=True,
    metavar="R",
    help="Relative tolerance: an element passes when its relative error <= R "
    "or its absolute error <= --atol.",
)
@click.option(
    "--atol",
    type=_FloatRange(min=0),
    default=DEFAULT_ATOL,
    show_default=True,
    metavar="A",
    help="Absolute tolerance (see --rtol).",
)
@click.option(
    "--sample",
    type=click.IntRange(1),
    metavar="K",
    help="Check K random elements of each tensor instead of all of them.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    metavar="N",
    help="Seed of the --sample draw.",
)
@output_options
def check(
    source: GraphOptions,
    output: OutputOptions,
    wrt: tuple[str, ...],
    eps: float,
    rtol: float,
    atol: float,
    sample: int | None,
    seed: int,
) -> None:
    """Check every gradient backprop gives against central differences; exit 1 if one is off.

    Each element of each input is moved by +h and -h, and (f(x+h) - f(x-h)) / 2h is compared
    with backprop's gradient. Elements whose step crosses a relu's kink at 0 are reported on
    stderr and left out. Inputs with 'grad: false' are skipped.

    \b
    Example:
        bpcalc check two_layer_net
        bpcalc check graph.yaml --wrt W1 --sample 100 -o json
    """
    from bpcalc.analysis.check import Tolerance, check_gradients, element_count, inputs_to_check
    from bpcalc.output.check_report import print_check

    graph, evaluation = source.evaluate()
    names, _ = inputs_to_check(graph, wrt)
    total = element_count(graph, names, sample)
    kwargs: dict[str, Any] = {
        "wrt": wrt,
        "eps": eps,
        "tolerance": Tolerance(rtol=rtol, atol=atol),
        "sample": sample,
        "seed": seed,
    }
    if total >= PROGRESS_MIN_ELEMENTS and stderr_is_terminal():
        from bpcalc.output.progress import with_progress

        result = with_progress(
            "checking gradients",
            total,
            lambda advance: check_gradients(graph, evaluation, progress=advance, **kwargs),
        )
    else:
        result = check_gradients(graph, evaluation, **kwargs)
    _warn_kinks(graph, result)
    _explain_not_finite(graph, result)
    print_check(result, fmt=output.fmt, digits=output.digits, excel_safe=output.excel_safe)
    if not result.passed:
        failed = [
            f"{c.name} ({len(c.failures)} of {c.checked} checked element{'s' * (c.checked != 1)})"
            for c in result.inputs
            if not c.passed
        ]
        click.echo(f"check failed: {', '.join(failed)} out of tolerance", err=True)
        raise click.exceptions.Exit(ExitStatus.ERROR)


def _warn_kinks(graph: Graph, result: CheckResult) -> None:
    """One warning per (input, relu), located at the relu node."""
    for check in result.inputs:
        by_relu: dict[str, list[str]] = {}
        for position, index in enumerate(check.indices.tolist()):
            if index in check.kinks:
                by_relu.setdefault(check.kinks[index], []).append(check.label(position))
        for relu, labels in by_relu.items():
            shown = ", ".join(labels[:5]) + (
                f" and {len(labels) - 5} more" if len(labels) > 5 else ""
            )
            message = (
                f"warning: {shown}: moving by ±h crosses the kink of relu node '{relu}' "
                f"(its input is within h of 0), where central differences are meaningless; "
                f"left out of the check"
            )
            click.echo(graph.locate(relu, message).render(), err=True)


def _explain_not_finite(graph: Graph, result: CheckResult) -> None:
    """Why an element whose numerical gradient is NaN or infinite fails, located at the input.
    (A backprop gradient that is not finite already has the evaluation's warning.)"""
    import math

    for check in result.inputs:
        labels = [check.label(k) for k in check.failures if not math.isfinite(check.numeric[k])]
        if not labels:
            continue
        shown = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
        message = (
            f"{shown}: the numerical gradient is not finite (the output is NaN or infinite a "
            f"step h away, perhaps outside its domain), so it cannot be checked and fails; "
            f"a smaller --eps may help"
        )
        click.echo(graph.locate(check.name, message).render(), err=True)
