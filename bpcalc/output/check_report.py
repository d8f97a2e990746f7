"""What ``bpcalc check`` prints: the table, TSV/CSV rows or the JSON document of a CheckResult."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpcalc.analysis.check import CheckResult, InputCheck

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


def print_check(
    result: CheckResult, *, fmt: str, digits: int | None, excel_safe: bool = False
) -> None:
    from bpcalc.output.formats import resolve, write_json, write_rows

    fmt = resolve(fmt)
    if fmt == "json":
        write_json(check_document(result, digits))
    elif fmt in ("tsv", "csv"):
        write_rows(
            (_row(c, digits) for c in result.inputs),
            fmt,
            header=TSV_HEADER,
            excel_safe=excel_safe,
        )
    else:
        _print_table(result, digits)


def _row(check: InputCheck, digits: int | None) -> list[str]:
    from bpcalc.output.numbers import number

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
    from bpcalc.output.numbers import json_value

    return {
        "index": list(check.index(position)),
        "numerical": json_value(float(check.numeric[position]), digits),
        "backprop": json_value(float(check.backprop[position]), digits),
        "abs_error": json_value(float(check.abs_errors[position]), digits),
        "rel_error": json_value(float(check.rel_errors[position]), digits),
    }


def check_document(result: CheckResult, digits: int | None) -> dict[str, Any]:
    """What ``-o json`` writes."""
    from bpcalc.output.numbers import json_value

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
    from bpcalc.output.numbers import number

    if x != x or x in (float("inf"), float("-inf")):
        return number(x)
    return number(x, digits) if digits else f"{x:.1e}"


def _print_table(result: CheckResult, digits: int | None) -> None:
    from bpcalc.output.formats import print_table

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
    from bpcalc.output.formats import print_table, table_cell

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
