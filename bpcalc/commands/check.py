"""``bpcalc check``: backprop against central differences, as in the book's 5.7.3."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from bpcalc.check import DEFAULT_ATOL, DEFAULT_EPS, DEFAULT_RTOL
from bpcalc.errors import ExitStatus
from bpcalc.options import CONTEXT, complete_names, graph_options, output_options, pass_params

if TYPE_CHECKING:
    from bpcalc.check import CheckResult, InputCheck
    from bpcalc.graph import Graph

# Show a progress bar (on a terminal) from this many elements on: two forward passes each.
PROGRESS_MIN_ELEMENTS = 500
FAILURES_SHOWN = 10  # per input, in the table; -o json lists them all
TSV_HEADER = (
    "input",
    "checked",
    "max_abs_error",
    "max_rel_error",
    "worst_index",
    "numerical",
    "backprop",
    "kinks",
    "result",
)


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


@click.command(context_settings=CONTEXT, short_help="Check backprop against central differences.")
@graph_options
@click.option(
    "--wrt",
    "wrt",
    multiple=True,
    metavar="NAME",
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
@pass_params
def check(params: dict[str, Any]) -> None:
    """Check every gradient backprop gives against central differences; exit 1 if one is off.

    Each element of each input is moved by +h and -h, and (f(x+h) - f(x-h)) / 2h is compared
    with backprop's gradient. Elements whose step crosses a relu's kink at 0 are reported on
    stderr and left out. Inputs with 'grad: false' are skipped.

    \b
    Example:
        bpcalc check two_layer_net
        bpcalc check graph.yaml --wrt W1 --sample 100 -o json
    """
    from bpcalc.check import Tolerance, check_gradients, element_count, inputs_to_check
    from bpcalc.options import evaluate_graph

    graph, evaluation = evaluate_graph(params)
    names, _ = inputs_to_check(graph, params["wrt"])
    total = element_count(graph, names, params["sample"])
    kwargs: dict[str, Any] = {
        "wrt": params["wrt"],
        "eps": params["eps"],
        "tolerance": Tolerance(rtol=params["rtol"], atol=params["atol"]),
        "sample": params["sample"],
        "seed": params["seed"],
    }
    if total >= PROGRESS_MIN_ELEMENTS and stderr_is_terminal():
        result = _with_progress(
            total, lambda advance: check_gradients(graph, evaluation, progress=advance, **kwargs)
        )
    else:
        result = check_gradients(graph, evaluation, **kwargs)
    _warn_kinks(graph, result)
    _explain_not_finite(graph, result)
    print_check(result, fmt=params["fmt"], digits=params["digits"])
    if not result.passed:
        failed = [
            f"{c.name} ({len(c.failures)} of {c.checked} checked element{'s' * (c.checked != 1)})"
            for c in result.inputs
            if not c.passed
        ]
        click.echo(f"check failed: {', '.join(failed)} out of tolerance", err=True)
        raise click.exceptions.Exit(ExitStatus.ERROR)


def _with_progress(total: int, work: Any) -> CheckResult:
    from rich.console import Console
    from rich.progress import Progress

    console = Console(file=sys.stderr, force_terminal=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("checking gradients", total=total)
        result: CheckResult = work(lambda n: progress.advance(task, n))
    return result


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


# --- output --------------------------------------------------------------------------------


def print_check(result: CheckResult, *, fmt: str, digits: int | None) -> None:
    from bpcalc.render import resolve, write_json, write_rows

    fmt = resolve(fmt)
    if fmt == "json":
        write_json(check_document(result, digits))
    elif fmt in ("tsv", "csv"):
        write_rows((_row(c, digits) for c in result.inputs), fmt, header=TSV_HEADER)
    else:
        _print_table(result, digits)


def _row(check: InputCheck, digits: int | None) -> list[str]:
    from bpcalc.numfmt import number

    worst = check.worst()
    cells = [check.name, str(check.checked)]
    cells += [number(check.max_abs_error(), digits), number(check.max_rel_error(), digits)]
    if worst is None:
        cells += ["", "", ""]
    else:
        index = check.index(worst)
        cells += [
            f"[{', '.join(map(str, index))}]" if index else "",
            number(check.numeric[worst], digits),
            number(check.backprop[worst], digits),
        ]
    cells += [str(len(check.kinks)), "pass" if check.passed else "fail"]
    return cells


def _element(check: InputCheck, position: int, digits: int | None) -> dict[str, Any]:
    from bpcalc.numfmt import json_value

    return {
        "index": list(check.index(position)),
        "numerical": json_value(float(check.numeric[position]), digits),
        "backprop": json_value(float(check.backprop[position]), digits),
        "abs_error": json_value(float(check.abs_errors[position]), digits),
        "rel_error": json_value(float(check.rel_errors[position]), digits),
    }


def check_document(result: CheckResult, digits: int | None) -> dict[str, Any]:
    """What ``-o json`` writes."""
    from bpcalc.numfmt import json_value

    inputs = []
    for check in result.inputs:
        worst = check.worst()
        positions = {int(index): k for k, index in enumerate(check.indices.tolist())}
        inputs.append(
            {
                "name": check.name,
                "shape": list(check.shape),
                "size": check.size,
                "checked": check.checked,
                # With --sample: the elements looked at; null when every element was.
                "sampled": None
                if len(check.indices) == check.size
                else [list(check.index(k)) for k in range(len(check.indices))],
                "max_abs_error": json_value(check.max_abs_error(), digits),
                "max_rel_error": json_value(check.max_rel_error(), digits),
                "worst": None if worst is None else _element(check, worst, digits),
                "failures": [_element(check, k, digits) for k in check.failures],
                "kinks": [
                    {**_element(check, positions[index], digits), "relu": relu}
                    for index, relu in sorted(check.kinks.items())
                ],
                "passed": check.passed,
            }
        )
    return {
        "graph": result.graph,
        "output": result.output,
        "eps": result.eps,
        "rtol": result.tolerance.rtol,
        "atol": result.tolerance.atol,
        "passed": result.passed,
        "inputs": inputs,
        "skipped": result.skipped,
    }


def _error_text(x: float, digits: int | None) -> str:
    from bpcalc.numfmt import number

    if x != x or x in (float("inf"), float("-inf")):
        return number(x)
    return number(x, digits) if digits else f"{x:.1e}"


def _print_table(result: CheckResult, digits: int | None) -> None:
    from bpcalc.render import print_table

    rows = []
    for check in result.inputs:
        checked = str(check.checked) + (f" of {check.size}" if check.checked != check.size else "")
        rows.append(
            [
                check.name,
                "×".join(map(str, check.shape)) or "scalar",
                checked,
                _error_text(check.max_abs_error(), digits),
                _error_text(check.max_rel_error(), digits),
                "pass" if check.passed else "FAIL",
            ]
        )
    columns = [
        ("input", "left"),
        ("shape", "left"),
        ("checked", "right"),
        ("max abs error", "right"),
        ("max rel error", "right"),
        ("result", "left"),
    ]
    tol = result.tolerance
    notes = [f"pass: abs error <= {tol.atol:g} or rel error <= {tol.rtol:g}"]
    kinks = sum(len(c.kinks) for c in result.inputs)
    if kinks:
        notes.append(f"left out: {kinks} element{'s' * (kinks != 1)} at a relu kink (see stderr)")
    if result.skipped:
        notes.append(f"skipped (grad: false): {', '.join(result.skipped)}")
    print_table(
        f"Gradient check of {result.output}, h = {result.eps:g}",
        columns,
        rows,
        caption="\n".join(notes),
    )
    if not result.passed:
        _print_failures(result, digits)


def _print_failures(result: CheckResult, digits: int | None) -> None:
    """The first elements out of tolerance of each failing input: numerical vs backprop."""
    from bpcalc.render import print_table, table_cell

    rows = []
    for check in result.inputs:
        failures = check.failures
        for position in failures[:FAILURES_SHOWN]:
            rows.append(
                [
                    check.label(position),
                    table_cell(float(check.numeric[position]), digits),
                    table_cell(float(check.backprop[position]), digits),
                    _error_text(float(check.abs_errors[position]), digits),
                    _error_text(float(check.rel_errors[position]), digits),
                ]
            )
        if len(failures) > FAILURES_SHOWN:
            rows.append([f"... {len(failures) - FAILURES_SHOWN} more in {check.name}", *[""] * 4])
    print_table(
        "Out of tolerance",
        [
            ("element", "left"),
            ("numerical", "right"),
            ("backprop", "right"),
            ("abs error", "right"),
            ("rel error", "right"),
        ],
        rows,
    )
