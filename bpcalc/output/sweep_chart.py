"""The chart of a ``bpcalc sweep``: its result as a Chart model (bpcalc.output.chart draws it).

The output and d(output)/d(first swept input) are stacked panels against that input; with a
second swept input, one series per value of it (at most eight).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpcalc.analysis.sweep import finite_signs
from bpcalc.output.chart import Chart, Panel, Series
from bpcalc.output.numbers import number

if TYPE_CHECKING:
    from bpcalc.analysis.sweep import SweepResult

_MAX_SERIES = 8


def sweep_chart(result: SweepResult, *, graph_name: str) -> Chart:
    """Output and d(output)/d(first swept input) against that input; one series per value of
    the second input, if any (at most 8, evenly picked)."""
    import numpy as np

    first = result.specs[0]
    output = result.names[0]
    shape = tuple(spec.count for spec in result.specs)
    gradient_name = f"d_{first.name}"
    has_gradient = gradient_name in result.names
    note = ""
    if len(result.specs) == 1:
        picks = [None]
    else:
        second = result.specs[1]
        count = second.count
        picks = list(
            np.unique(np.linspace(0, count - 1, min(count, _MAX_SERIES)).round()).astype(int)
        )
        if len(picks) < count:
            note = f"showing {len(picks)} of {count} values of {second.name}"
    x = first.values()
    output_series, gradient_series = [], []
    output_values = result.column(output).reshape(shape)
    gradient_values = result.column(gradient_name).reshape(shape) if has_gradient else None
    for pick in picks:
        if pick is None:
            label, where = "", (slice(None),)
        else:
            value = result.specs[1].values()[pick]
            label, where = f"{result.specs[1].name} = {number(value, 4)}", (slice(None), pick)
        output_series.append(Series(label, output_values[where]))
        if gradient_values is not None:
            gradient_series.append(Series(label, gradient_values[where]))
    panels = [Panel(output, output_series)]
    if gradient_values is not None:
        changes = _sign_change_positions(x, [s.y for s in gradient_series], first.log)
        panels.append(Panel(f"d {output} / d {first.name}", gradient_series, changes))
    return Chart(
        f"{graph_name}: {output} over {first.name}", x, first.name, panels, first.log, note
    )


def _sign_change_positions(x: Any, gradients: list[Any], log: bool) -> list[float]:
    """x halfway between consecutive points whose gradients have different signs."""
    import math

    import numpy as np

    positions = set()
    for g in gradients:
        signs = finite_signs(g)
        changed = (signs[:-1] != signs[1:]) & np.isfinite(signs[:-1]) & np.isfinite(signs[1:])
        for i in np.flatnonzero(changed).tolist():
            a, b = float(x[i]), float(x[i + 1])
            positions.add(math.sqrt(a * b) if log else (a + b) / 2)
    return sorted(positions)
