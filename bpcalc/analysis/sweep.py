"""Sweep evaluation: the output and its gradients over evenly spaced values of one or two inputs.

A spec ``NAME=START:STOP:COUNT`` gives COUNT values from START to STOP (``:log`` spaces them
evenly on a log scale); two specs give every pair (the first input in the outer loop). The
points are evaluated with the --batch machinery (bpcalc.analysis.batch), so a sweep of a
million points is one pass. This module parses and checks specs, makes the grid, evaluates it
and marks the notable points; its chart is drawn by bpcalc.output.sweep_chart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpcalc.errors import UsageProblem
from bpcalc.loading.rows import SWEEP

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bpcalc.analysis.batch import BatchEvaluator
    from bpcalc.loading.graph import Graph
    from bpcalc.loading.rows import Chunk

SPEC_FORM = "NAME=START:STOP:COUNT[:log]"
_SPEC = re.compile(r"^\s*([^=\s]+)\s*=([^:]*):([^:]*):([^:]*)(?::(\w*))?\s*$")


@dataclass(frozen=True)
class SweepSpec:
    """COUNT values of input NAME from START to STOP, evenly spaced (on a log scale if log)."""

    name: str
    start: float
    stop: float
    count: int
    log: bool = False

    def values(self) -> NDArray[np.float64]:
        import numpy as np

        if self.log:
            return np.geomspace(self.start, self.stop, self.count)
        return np.linspace(self.start, self.stop, self.count)


def looks_like_spec(text: str) -> bool:
    """Whether a command-line word is a spec rather than a graph file or name."""
    return bool(_SPEC.match(text))


def parse_spec(text: str) -> SweepSpec:
    """NAME=START:STOP:COUNT[:log], or a usage error that says what is wrong."""
    from bpcalc.loading.literals import NotANumber, parse_number

    match = _SPEC.match(text)
    if not match:
        raise UsageProblem(f"expected {SPEC_FORM}, got '{text}'")
    name, start_text, stop_text, count_text, scale = match.groups()
    from bpcalc.loading.schema import canonical_name

    name = canonical_name(name)  # as names in graph files are read
    bounds = []
    for part, what in ((start_text, "START"), (stop_text, "STOP")):
        try:
            value = parse_number(part).value
        except NotANumber:
            raise UsageProblem(f"{text}: {what} must be a number, got '{part.strip()}'") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise UsageProblem(f"{text}: {what} must be finite")
        bounds.append(value)
    if abs(bounds[1] - bounds[0]) == float("inf"):
        raise UsageProblem(f"{text}: STOP - START is too large for float64")
    count = count_text.strip()
    # ASCII digits only ('²'.isdigit() is true); never int() of 4,301 digits or more.
    if not (count.isascii() and count.isdigit()) or not count.strip("0"):
        raise UsageProblem(f"{text}: COUNT must be a whole number >= 1, got '{count}'")
    count = count.lstrip("0")
    if len(count) > 30:
        raise UsageProblem(
            f"sweep {name}: COUNT has {len(count):,} digits, more points than --max-elements allows"
        )
    if scale not in (None, "log"):
        raise UsageProblem(f"{text}: the only scale is ':log', got ':{scale}'")
    if scale == "log" and min(bounds) <= 0:
        raise UsageProblem(f"{text}: a log scale needs START and STOP above 0")
    return SweepSpec(name, bounds[0], bounds[1], int(count), scale == "log")


def check_specs(graph: Graph, specs: Sequence[SweepSpec], sets: Sequence[str], limit: int) -> None:
    if not specs:
        raise UsageProblem(f"name at least one input to sweep: {SPEC_FORM}")
    if len(specs) > 2:
        raise UsageProblem("sweep takes one spec (a line) or two (a grid), not more")
    names = [spec.name for spec in specs]
    for name in names:
        if name not in graph.inputs:
            raise UsageProblem(f"sweep: {graph.unknown_name_message(name, inputs_only=True)}")
    if len(set(names)) < len(names):
        raise UsageProblem(f"sweep: '{names[0]}' is swept twice")
    for item in sets:
        name = item.partition("=")[0].strip()
        if name in names:
            raise UsageProblem(f"--set {name}: '{name}' is swept; drop one")
    points = 1
    for spec in specs:
        points *= spec.count
    if points > limit:
        raise UsageProblem(
            f"sweep of {points:,} points exceeds the limit of {limit:,} (--max-elements)"
        )


def grid(specs: Sequence[SweepSpec]) -> NDArray[np.float64]:
    """Every combination of the specs' values, one row each, the first spec outermost."""
    import numpy as np

    axes = np.meshgrid(*(spec.values() for spec in specs), indexing="ij")
    return np.stack([axis.reshape(-1) for axis in axes], axis=1)


class SweepRows:
    """The sweep's points in chunks, read like a row file (see bpcalc.loading.rows)."""

    name = SWEEP

    def __init__(self, points: NDArray[np.float64], columns: list[str], chunk_size: int) -> None:
        self.points = points
        self.columns = columns
        self.chunk_size = chunk_size

    def chunks(self) -> Iterator[Chunk]:
        import numpy as np

        from bpcalc.loading.rows import Chunk

        for start in range(0, len(self.points), self.chunk_size):
            data = self.points[start : start + self.chunk_size]
            yield Chunk(data, np.arange(start + 1, start + 1 + len(data), dtype=np.int64))


@dataclass
class SweepResult:
    """Every point with its output and gradients (columns as BatchEvaluator names them)."""

    specs: list[SweepSpec]
    points: NDArray[np.float64]
    names: list[str]  # output column names: the output, then d_NAME
    results: list[NDArray[np.float64]]

    def column(self, name: str) -> NDArray[np.float64]:
        return self.results[self.names.index(name)]


def evaluate_all(
    specs: list[SweepSpec],
    evaluator: BatchEvaluator,
    chunk_size: int,
    advance: Callable[[int], None] | None = None,
) -> SweepResult:
    """Every point, chunk by chunk; ``advance(n)`` is called after each chunk of n points."""
    import numpy as np

    points = grid(specs)
    parts = []
    for i in range(0, len(points), chunk_size):
        chunk = points[i : i + chunk_size]
        parts.append(evaluator.evaluate(chunk))
        if advance is not None:
            advance(len(chunk))
    results = [np.concatenate(columns) for columns in zip(*parts, strict=True)]
    return SweepResult(specs, points, evaluator.output_columns, results)


def finite_signs(values: Any) -> Any:
    """-1, 0 or 1 per value; NaN where the value is not finite."""
    import numpy as np

    return np.where(np.isfinite(values), np.sign(values), np.nan)


_SIGN_TEXT = {-1.0: "−", 0.0: "0", 1.0: "+"}


def marks(result: SweepResult) -> list[str]:
    """For each point: where a value is not finite, and where d_NAME of a swept NAME has
    changed sign (+, 0 or −) since the previous point along NAME."""
    import numpy as np

    n = len(result.points)
    notes: list[list[str]] = [[] for _ in range(n)]
    for name, values in zip(result.names, result.results, strict=True):
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            notes[i].append(f"{name} is {float(values[i])!r}")
    shape = tuple(spec.count for spec in result.specs)
    for axis, spec in enumerate(result.specs):
        column = f"d_{spec.name}"
        if column not in result.names:
            continue
        signs = finite_signs(result.column(column)).reshape(shape)
        before = np.take(signs, range(0, shape[axis] - 1), axis=axis)
        after = np.take(signs, range(1, shape[axis]), axis=axis)
        changed = (before != after) & np.isfinite(before) & np.isfinite(after)
        for index in zip(*np.nonzero(changed), strict=True):
            later = list(index)
            later[axis] += 1
            i = int(np.ravel_multi_index(tuple(later), shape))
            old, new = float(before[index]), float(after[index])
            notes[i].append(f"{column}: {_SIGN_TEXT[old]} → {_SIGN_TEXT[new]}")
    return ["; ".join(items) for items in notes]
