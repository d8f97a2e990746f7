"""What ``bpcalc train`` prints: the trained params and the loss curve (a table and a terminal
chart, TSV/CSV/JSON, SVG), the contour figure of ``--compare`` with two params, and the
progress bar on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bpcalc.output.chart import PALETTE, Chart, Panel, Series, label
from bpcalc.output.numbers import json_value, machine_number, number

if TYPE_CHECKING:
    from bpcalc.analysis.train import Trainer, TrainResult


def document(result: TrainResult) -> dict[str, Any]:
    """The JSON of one run: params, loss per step, steps, optimizer, lr (floats lossless)."""
    return {
        "params": {name: json_value(value) for name, value in result.params.items()},
        "loss": [json_value(loss) for loss in result.loss],
        "steps": result.completed,
        "optimizer": result.optimizer,
        "lr": result.lr,
    }


def loss_rows(results: Sequence[TrainResult], digits: int | None) -> list[list[str]]:
    """``step, loss`` (one loss column per run) for TSV and CSV."""
    steps = max(result.completed for result in results)
    rows = []
    for i in range(steps):
        row = [str(i + 1)]
        row += [machine_number(r.loss[i], digits) if i < r.completed else "" for r in results]
        rows.append(row)
    return rows


def loss_chart(results: Sequence[TrainResult], graph_name: str, of: str) -> Chart:
    """The loss against the step, one series per run (labelled by optimizer when several)."""
    import numpy as np

    from bpcalc.analysis.optimizers import TITLES

    steps = max(result.completed for result in results)
    x = np.arange(1, steps + 1, dtype=np.float64)
    series = []
    for result in results:
        y = np.full(steps, np.nan)
        y[: result.completed] = result.loss
        name = f"{TITLES[result.optimizer]} (lr {number(result.lr)})" if len(results) > 1 else ""
        series.append(Series(name, y))
    if len(results) == 1:
        only = results[0]
        title = f"{graph_name}: {of} over {steps:,} steps of {TITLES[only.optimizer]}"
    else:
        title = f"{graph_name}: {of} over {steps:,} steps, by optimizer"
    return Chart(title, x, "step", [Panel(f"loss ({of})", series)])


def print_result(
    result: TrainResult, start: dict[str, Any], graph_name: str, of: str, digits: int | None
) -> None:
    """The trained params as a table, then the loss chart."""
    from rich.text import Text

    from bpcalc.analysis.optimizers import TITLES
    from bpcalc.errors import printable
    from bpcalc.output.formats import print_table, shape_text, stdout_console, table_cell

    first, last = result.loss[0], result.loss[-1]
    title = (
        f"{graph_name}: {TITLES[result.optimizer]}, lr {number(result.lr)}, "
        f"{result.completed:,} steps; {of} {table_cell(first, digits)} → "
        f"{table_cell(last, digits)}"
    )
    stdout_console().print(Text(printable(title), style="bold"), no_wrap=True, crop=False)
    columns = [("param", "left"), ("shape", "left"), ("start", "right"), ("trained", "right")]
    rows = [
        [name, shape_text(value), table_cell(start[name], digits), table_cell(value, digits)]
        for name, value in result.params.items()
    ]
    print_table(None, columns, rows)
    print_chart(loss_chart([result], graph_name, of))


def print_comparison(
    results: Sequence[TrainResult], graph_name: str, of: str, digits: int | None
) -> None:
    """One row per optimizer (rate, final loss, params), then the loss curves."""
    from rich.text import Text

    from bpcalc.analysis.optimizers import TITLES
    from bpcalc.errors import printable
    from bpcalc.output.formats import print_table, stdout_console, table_cell

    steps = max(result.completed for result in results)
    title = f"{graph_name}: {len(results)} optimizers, {steps:,} steps each"
    stdout_console().print(Text(printable(title), style="bold"), no_wrap=True, crop=False)
    names = list(results[0].params)
    columns = [("optimizer", "left"), ("lr", "right"), (f"final {of}", "right")]
    columns += [(name, "right") for name in names]
    rows = [
        [
            TITLES[r.optimizer],
            number(r.lr),
            table_cell(r.loss[-1], digits),
            *(table_cell(r.params[name], digits, width=40) for name in names),
        ]
        for r in results
    ]
    print_table(None, columns, rows)
    print_chart(loss_chart(results, graph_name, of))


def print_chart(chart: Chart) -> None:
    from bpcalc.output.chart import terminal_chart
    from bpcalc.output.formats import stdout_console, terminal_width

    console = stdout_console()
    for line in terminal_chart(chart, terminal_width()):
        console.print(line, no_wrap=True, overflow="ignore", crop=False)


# --- the contour figure ----------------------------------------------------------------------

_PANEL_W, _PANEL_H = 380, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 40, 44


def contour_levels(z: Any, count: int = 8) -> list[float]:
    """Levels spread over the lower part of the surface (where the paths run)."""
    import numpy as np

    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return []
    quantiles = np.quantile(finite, np.linspace(0.03, 0.6, count))
    return sorted({float(q) for q in quantiles if float(q) > float(finite.min())})


def contour_segments(
    xs: Any, ys: Any, z: Any, level: float
) -> list[tuple[float, float, float, float]]:
    """Marching squares: the segments where the surface z (rows: ys, columns: xs) crosses
    ``level``, one or two per grid cell."""
    segments = []
    rows, cols = z.shape
    zl = z.tolist()
    xl, yl = xs.tolist(), ys.tolist()
    for j in range(rows - 1):
        for i in range(cols - 1):
            corners = (
                (xl[i], yl[j], zl[j][i]),
                (xl[i + 1], yl[j], zl[j][i + 1]),
                (xl[i + 1], yl[j + 1], zl[j + 1][i + 1]),
                (xl[i], yl[j + 1], zl[j + 1][i]),
            )
            points = []
            for k in range(4):
                x0, y0, z0 = corners[k]
                x1, y1, z1 = corners[(k + 1) % 4]
                if (z0 < level) != (z1 < level) and z0 == z0 and z1 == z1:
                    t = (level - z0) / (z1 - z0)
                    points.append((x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
            for a in range(0, len(points) - 1, 2):
                (ax, ay), (bx, by) = points[a], points[a + 1]
                segments.append((ax, ay, bx, by))
    return segments


def contour_svg(
    results: Sequence[TrainResult],
    names: tuple[str, str],
    xs: Any,
    ys: Any,
    z: Any,
    graph_name: str,
) -> str:
    """The book's figure 6-8: one panel per optimizer, the loss's contours over the two
    params and the optimizer's path on them (a dot per step), ``+`` at the grid's lowest
    point."""
    import numpy as np

    from bpcalc.analysis.optimizers import TITLES
    from bpcalc.output.chart import _xml

    columns = 2 if len(results) > 1 else 1
    rows = -(-len(results) // columns)
    width, height = columns * _PANEL_W, 40 + rows * _PANEL_H
    x_lo, x_hi, y_lo, y_hi = float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1])
    title = f"{graph_name}: paths of {len(results)} optimizers over {names[0]} and {names[1]}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{_xml(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="16" '
        f'font-weight="bold">{_xml(title)}</text>',
    ]
    levels = contour_levels(z)
    lowest = np.unravel_index(int(np.nanargmin(z)), z.shape) if np.isfinite(z).any() else None
    contours = [contour_segments(xs, ys, z, level) for level in levels]
    for n, result in enumerate(results):
        ox = (n % columns) * _PANEL_W
        oy = 40 + (n // columns) * _PANEL_H
        left, right = ox + _LEFT, ox + _PANEL_W - _RIGHT
        top, bottom = oy + _TOP, oy + _PANEL_H - _BOTTOM

        def sx(x: float, left: float = left, right: float = right) -> float:
            return left + (x - x_lo) / (x_hi - x_lo) * (right - left)

        def sy(y: float, top: float = top, bottom: float = bottom) -> float:
            return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top)

        heading = f"{TITLES[result.optimizer]} (lr {number(result.lr)})"
        parts.append(
            f'<text x="{(left + right) / 2}" y="{top - 10}" text-anchor="middle" '
            f'font-size="14" font-weight="bold">{_xml(heading)}</text>'
        )
        parts.append(f'<g clip-path="url(#clip{n})">')
        parts.append(
            f'<clipPath id="clip{n}"><rect x="{left}" y="{top}" width="{right - left}" '
            f'height="{bottom - top}"/></clipPath>'
        )
        for k, segments in enumerate(contours):
            shade = PALETTE[k % len(PALETTE)]
            d = " ".join(
                f"M{sx(a):.1f} {sy(b):.1f}L{sx(c):.1f} {sy(e):.1f}" for a, b, c, e in segments
            )
            if d:
                parts.append(
                    f'<path d="{d}" fill="none" stroke="{shade}" stroke-opacity="0.55" '
                    f'stroke-width="1"/>'
                )
        assert result.path is not None
        px, py = result.path[names[0]], result.path[names[1]]
        points = " ".join(f"{sx(a):.2f},{sy(b):.2f}" for a, b in zip(px, py, strict=True))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="#d62728" stroke-width="1.5"/>'
        )
        for a, b in zip(px, py, strict=True):
            parts.append(
                f'<circle cx="{sx(a):.2f}" cy="{sy(b):.2f}" r="2.5" fill="none" stroke="#d62728"/>'
            )
        parts.append("</g>")
        if lowest is not None:
            cx, cy = sx(float(xs[lowest[1]])), sy(float(ys[lowest[0]]))
            parts.append(
                f'<path d="M{cx - 5:.1f} {cy:.1f}H{cx + 5:.1f}M{cx:.1f} {cy - 5:.1f}V{cy + 5:.1f}" '
                f'stroke="#1f77b4" stroke-width="1.5"/>'
            )
        parts.append(
            f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
            f'fill="none" stroke="#333"/>'
        )
        for value in (x_lo, (x_lo + x_hi) / 2, x_hi):
            parts.append(
                f'<text x="{sx(value):.1f}" y="{bottom + 15}" text-anchor="middle">'
                f"{label(value)}</text>"
            )
        for value in (y_lo, (y_lo + y_hi) / 2, y_hi):
            parts.append(
                f'<text x="{left - 5}" y="{sy(value) + 4:.1f}" text-anchor="end">'
                f"{label(value)}</text>"
            )
        parts.append(
            f'<text x="{(left + right) / 2}" y="{bottom + 32}" text-anchor="middle">'
            f"{_xml(names[0])}</text>"
        )
        parts.append(
            f'<text x="{left - 40}" y="{(top + bottom) / 2}" text-anchor="middle" '
            f'transform="rotate(-90 {left - 40} {(top + bottom) / 2})">{_xml(names[1])}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def contour_box(results: Sequence[TrainResult], names: tuple[str, str]) -> tuple[Any, Any]:
    """Grid values (xs, ys) covering every path with a margin: 61 × 46 points."""
    import numpy as np

    box = []
    for name in names:
        values = [v for r in results if r.path for v in r.path[name] if np.isfinite(v)]
        lo, hi = min(values), max(values)
        span = hi - lo or max(abs(lo), 1.0)
        box.append((lo - 0.25 * span, hi + 0.25 * span))
    return np.linspace(*box[0], 61), np.linspace(*box[1], 46)


# --- progress --------------------------------------------------------------------------------


class TrainProgress:
    """A rich progress bar on stderr with the running loss, when stderr is a terminal; it
    redraws at most ten times a second, so a step costs no more for it."""

    def __init__(self, steps: int, label: str = "train") -> None:
        self.steps = steps
        self.label = label
        self._bar: Any = None
        self._task: Any = None
        self._next = 0.0
        self._enabled = sys.stderr.isatty()

    def __enter__(self) -> TrainProgress:
        if not self._enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task(self.label, total=self.steps, loss="—")
        return self

    def restart(self, label: str) -> None:
        """The next run of --compare: the bar starts again under a new label."""
        if self._bar is not None:
            self._bar.reset(self._task, description=label, loss="—")

    def update(self, step: int, loss: float) -> None:
        if self._bar is None:
            return
        now = time.monotonic()
        if now < self._next and step != self.steps:
            return
        self._next = now + 0.1
        self._bar.update(self._task, completed=step, loss=number(loss, 6))

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def print_training(
    graph_name: str,
    trainer: Trainer,
    results: Sequence[TrainResult],
    fmt: str,
    digits: int | None,
    *,
    compare: bool,
    contour: bool,
) -> None:
    """The results in ``fmt`` (json, tsv, csv, svg, or a table and a chart)."""
    from bpcalc.output.formats import write, write_json, write_rows

    of = trainer.target
    if fmt == "json":
        documents = [document(result) for result in results]
        write_json({"runs": documents} if compare else documents[0])
    elif fmt in ("tsv", "csv"):
        header = ["step", *(f"loss_{r.optimizer}" for r in results)] if compare else None
        write_rows(loss_rows(results, digits), fmt, header or ["step", "loss"])
    elif fmt == "svg":
        if contour:
            names = (trainer.names[0], trainer.names[1])
            xs, ys = contour_box(results, names)
            z = trainer.loss_grid(xs, ys)
            write(contour_svg(results, names, xs, ys, z, graph_name))
        else:
            from bpcalc.output.chart import svg_chart

            write(svg_chart(loss_chart(results, graph_name, of)))
    elif compare:
        print_comparison(results, graph_name, of, digits)
    else:
        print_result(results[0], trainer.start, graph_name, of, digits)
