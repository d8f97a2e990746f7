"""Line charts for ``bpcalc sweep``: in the terminal with braille dots, or as an SVG document.

A chart has one x axis (the swept input) and stacked panels (the output, its gradient), each
with one or more series (one per value of a second swept input). Points that are not finite
break the line and get a red ``×`` on the x axis; places where a gradient changes sign get a
``▲`` there (a dashed line in SVG).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from bpcalc.errors import printable
from bpcalc.output.numbers import number

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Floats = NDArray[np.float64]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
TERMINAL_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_white", "white")
LABEL_DIGITS = 4


@dataclass
class Series:
    label: str  # empty for a single series
    y: Floats


@dataclass
class Panel:
    title: str
    series: list[Series]
    sign_changes: list[float] = field(default_factory=list)  # x where a gradient changes sign


@dataclass
class Chart:
    title: str
    x: Floats
    x_label: str
    panels: list[Panel]
    log_x: bool = False
    note: str = ""  # e.g. which series are shown


# --- scales ----------------------------------------------------------------------------------


def _finite_range(values: list[Floats]) -> tuple[float, float] | None:
    import numpy as np

    finite = [v[np.isfinite(v)] for v in values]
    finite = [v for v in finite if v.size]
    if not finite:
        return None
    lo = float(min(v.min() for v in finite))
    hi = float(max(v.max() for v in finite))
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _x_position(x: Floats, lo: float, hi: float, log: bool) -> Floats:
    """x mapped to [0, 1] across the axis."""
    import numpy as np

    if log:
        return (np.log10(x) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return (x - lo) / (hi - lo)


def _x_range(chart: Chart) -> tuple[float, float]:
    lo, hi = float(chart.x.min()), float(chart.x.max())
    if lo == hi:
        if chart.log_x:
            return lo / 2, hi * 2
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    return lo, hi


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return [lo]
    raw = span / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value = first + len(ticks) * step
    return ticks


def _log_ticks(lo: float, hi: float) -> list[float]:
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks = [10.0**e for e in range(first, last + 1) if lo <= 10.0**e <= hi]
    if len(ticks) < 3:
        ticks = sorted(
            {
                m * 10.0**e
                for e in range(first, last + 1)
                for m in (1, 2, 5)
                if lo <= m * 10.0**e <= hi
            }
        )
    return ticks or [lo, hi]


def label(x: float) -> str:
    return number(x, LABEL_DIGITS)


# --- terminal --------------------------------------------------------------------------------

_BRAILLE_BASE = 0x2800
# Bit of each dot in a braille cell, by (row 0..3, column 0..1).
_DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def terminal_chart(chart: Chart, width: int, height: int = 10) -> list[Any]:
    """The chart as rich Text lines, at most ``width`` characters wide."""
    from rich.text import Text

    lines: list[Any] = [Text(printable(chart.title), style="bold")]
    if chart.note:
        lines.append(Text(printable(chart.note), style="dim"))
    x_lo, x_hi = _x_range(chart)
    y_labels = [
        label(v)
        for panel in chart.panels
        for v in (_finite_range([s.y for s in panel.series]) or (0.0, 0.0))
    ]
    gutter = max(map(len, y_labels)) + 1
    plot_width = max(16, min(width - gutter - 2, 100))
    for panel in chart.panels:
        lines.append(Text(""))
        lines += _terminal_panel(chart, panel, x_lo, x_hi, gutter, plot_width, height)
    return lines


def _terminal_panel(
    chart: Chart, panel: Panel, x_lo: float, x_hi: float, gutter: int, width: int, height: int
) -> list[Any]:
    import numpy as np
    from rich.text import Text

    title = Text(printable(panel.title), style="bold")
    for i, series in enumerate(panel.series):
        if series.label:
            title.append("   ")
            colour = TERMINAL_COLOURS[i % len(TERMINAL_COLOURS)]
            title.append("━━ " + printable(series.label), style=colour)
    lines = [title]
    y_range = _finite_range([s.y for s in panel.series])
    if y_range is None:
        lines.append(Text("(no finite values to draw)", style="red"))
        return lines
    y_lo, y_hi = y_range
    cols, rows = width * 2, height * 4
    dots = np.zeros((height, width), dtype=np.int64)
    owner = np.full((height, width), -1)
    xs = _x_position(chart.x, x_lo, x_hi, chart.log_x) * (cols - 1)
    for i, series in enumerate(panel.series):
        ys = (y_hi - series.y) / (y_hi - y_lo) * (rows - 1)
        c, r = _line_dots(xs, ys)
        np.bitwise_or.at(dots, (r // 4, c // 2), np.array(_DOT_BITS)[r % 4, c % 2])
        owner[r // 4, c // 2] = i
    zero_row = round(y_hi / (y_hi - y_lo) * (rows - 1)) // 4 if y_lo < 0 < y_hi else None
    for row in range(height):
        value = y_hi if row == 0 else y_lo if row == height - 1 else None
        if value is None and height > 2 and row == height // 2:
            value = (y_hi + y_lo) / 2
        left = label(value) if value is not None else ""
        line = Text(left.rjust(gutter - 1) + " " + ("┤" if value is not None else "│"))
        for col in range(width):
            if dots[row, col]:
                colour = TERMINAL_COLOURS[owner[row, col] % len(TERMINAL_COLOURS)]
                line.append(chr(_BRAILLE_BASE + int(dots[row, col])), style=colour)
            elif row == zero_row:
                line.append("┈", style="dim")
            else:
                line.append(" ")
        lines.append(line)
    lines.append(_terminal_x_axis(chart, panel, x_lo, x_hi, gutter, width))
    lines.append(_terminal_x_labels(chart, x_lo, x_hi, gutter, width))
    return lines


def _line_dots(xs: Floats, ys: Floats) -> tuple[Any, Any]:
    """Dot positions (columns, rows) along the line through consecutive finite points: from
    each point to the next in ``max(|dx|, |dy|) + 1`` even steps, as ``np.linspace`` takes
    them, all at once (a point at a time took seconds for 100,000 points)."""
    import numpy as np

    finite = np.isfinite(xs) & np.isfinite(ys)
    joined = np.zeros(len(xs), dtype=bool)
    joined[:-1] = finite[:-1] & finite[1:]
    start = np.flatnonzero(joined)
    x0, y0 = xs[start], ys[start]
    dx, dy = xs[start + 1] - x0, ys[start + 1] - y0
    steps = np.maximum(np.abs(dx), np.abs(dy)).astype(np.int64) + 1
    counts = steps + 1
    segment = np.repeat(np.arange(len(start)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    per = steps[segment]
    t = k * (1.0 / per)  # linspace(0, 1, steps + 1): k times the step, and exactly 1 at the end
    t[k == per] = 1.0
    alone = np.flatnonzero(finite & ~joined)
    columns = np.concatenate([np.rint(x0[segment] + dx[segment] * t), np.rint(xs[alone])])
    rows = np.concatenate([np.rint(y0[segment] + dy[segment] * t), np.rint(ys[alone])])
    return columns.astype(np.int64), rows.astype(np.int64)


def _terminal_x_axis(
    chart: Chart, panel: Panel, x_lo: float, x_hi: float, gutter: int, width: int
) -> Any:
    import numpy as np
    from rich.text import Text

    axis = ["─"] * width
    styles: list[str | None] = [None] * width
    for x in panel.sign_changes:
        col = _column(x, chart, x_lo, x_hi, width)
        axis[col], styles[col] = "▲", "yellow"
    for series in panel.series:
        for x in chart.x[~np.isfinite(series.y)]:
            col = _column(float(x), chart, x_lo, x_hi, width)
            axis[col], styles[col] = "×", "bold red"
    line = Text(" " * gutter + "└")
    for char, style in zip(axis, styles, strict=True):
        line.append(char, style=style)
    return line


def _column(x: float, chart: Chart, x_lo: float, x_hi: float, width: int) -> int:
    import numpy as np

    position = float(_x_position(np.array([x]), x_lo, x_hi, chart.log_x)[0])
    return min(width - 1, max(0, round(position * (width * 2 - 1)) // 2))


def _terminal_x_labels(chart: Chart, x_lo: float, x_hi: float, gutter: int, width: int) -> Any:
    from rich.text import Text

    left, right = label(x_lo), label(x_hi)
    name = printable(chart.x_label) + (" (log scale)" if chart.log_x else "")
    middle_space = width + 1 - len(left) - len(right)
    centre = name.center(middle_space) if middle_space >= len(name) + 2 else " " * middle_space
    return Text(" " * gutter + left + centre + right)


# --- SVG -------------------------------------------------------------------------------------

_SVG_WIDTH = 760
_PANEL_HEIGHT = 260
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 84, 24, 44, 56
_LEGEND_WIDTH = 150


def _xml(text: str) -> str:
    """Text for an SVG document: control characters shown escaped (most are not allowed in
    XML at all), then ``& < >`` as entities."""
    return escape(printable(text))


def svg_chart(chart: Chart) -> str:
    """A standalone SVG document with one panel per chart panel, stacked."""
    title_height = 48 if chart.note else 34
    height = title_height + _PANEL_HEIGHT * len(chart.panels)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SVG_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_SVG_WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{_xml(chart.title)}</title>",
        f'<rect width="{_SVG_WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{_SVG_WIDTH / 2}" y="22" text-anchor="middle" font-size="16" '
        f'font-weight="bold">{_xml(chart.title)}</text>',
    ]
    if chart.note:
        parts.append(
            f'<text x="{_SVG_WIDTH / 2}" y="40" text-anchor="middle" fill="#555">'
            f"{_xml(chart.note)}</text>"
        )
    x_lo, x_hi = _x_range(chart)
    for i, panel in enumerate(chart.panels):
        parts += _svg_panel(chart, panel, x_lo, x_hi, title_height + i * _PANEL_HEIGHT)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_panel(chart: Chart, panel: Panel, x_lo: float, x_hi: float, top: float) -> list[str]:
    import numpy as np

    legend = any(series.label for series in panel.series)
    left, right = _MARGIN_LEFT, _SVG_WIDTH - _MARGIN_RIGHT - (_LEGEND_WIDTH if legend else 0)
    plot_top, bottom = top + _MARGIN_TOP, top + _PANEL_HEIGHT - _MARGIN_BOTTOM
    parts = [
        f'<text x="{left}" y="{top + 24}" font-size="14" font-weight="bold">'
        f"{_xml(panel.title)}</text>"
    ]
    y_range = _finite_range([s.y for s in panel.series])
    if y_range is None:
        parts.append(
            f'<text x="{(left + right) / 2}" y="{(plot_top + bottom) / 2}" text-anchor="middle" '
            f'fill="#c00">no finite values to draw</text>'
        )
        return parts
    y_lo, y_hi = y_range

    def sx(x: Any) -> Any:
        return left + _x_position(x, x_lo, x_hi, chart.log_x) * (right - left)

    def sy(y: Any) -> Any:
        return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - plot_top)

    x_ticks = _log_ticks(x_lo, x_hi) if chart.log_x else nice_ticks(x_lo, x_hi, 7)
    for t in x_ticks:
        x = float(sx(np.array([t]))[0])
        parts.append(
            f'<line x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{bottom}" stroke="#e4e4e4"/>'
        )
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{label(t)}</text>')
    for t in nice_ticks(y_lo, y_hi, 5):
        y = float(sy(t))
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label(t)}</text>')
    if y_lo < 0 < y_hi:
        y = float(sy(0.0))
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#888"/>')
    parts.append(
        f'<rect x="{left}" y="{plot_top}" width="{right - left}" height="{bottom - plot_top}" '
        f'fill="none" stroke="#333"/>'
    )
    x_name = chart.x_label + (" (log scale)" if chart.log_x else "")
    parts.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 36}" text-anchor="middle">'
        f"{_xml(x_name)}</text>"
    )
    xs = sx(chart.x)
    for i, series in enumerate(panel.series):
        colour = PALETTE[i % len(PALETTE)]
        finite = np.isfinite(series.y)
        ys = sy(np.where(finite, series.y, 0.0))
        for run in _finite_runs(finite):
            points = " ".join(f"{xs[j]:.2f},{ys[j]:.2f}" for j in run)
            if len(run) == 1:
                j = run[0]
                parts.append(f'<circle cx="{xs[j]:.2f}" cy="{ys[j]:.2f}" r="2.5" fill="{colour}"/>')
            else:
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
        for x in chart.x[~finite]:
            px = float(sx(np.array([x]))[0])
            parts.append(
                f'<text x="{px:.1f}" y="{bottom - 4}" text-anchor="middle" fill="#c00" '
                f'font-size="14" font-weight="bold">×<title>{_xml(series.label or panel.title)}'
                f" is not finite at {_xml(chart.x_label)} = {label(float(x))}</title></text>"
            )
        if series.label:
            lx, ly = right + 14, plot_top + 10 + 18 * i
            parts.append(
                f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 18}" y2="{ly - 4}" stroke="{colour}" '
                f'stroke-width="2"/><text x="{lx + 24}" y="{ly}">{_xml(series.label)}</text>'
            )
    for x in panel.sign_changes:
        px = float(sx(np.array([x]))[0])
        parts.append(
            f'<line x1="{px:.1f}" y1="{plot_top}" x2="{px:.1f}" y2="{bottom}" stroke="#e67e22" '
            f'stroke-dasharray="4 3"><title>the gradient changes sign near '
            f"{_xml(chart.x_label)} = {label(x)}</title></line>"
        )
    notes = []
    if panel.sign_changes:
        notes.append('<tspan fill="#e67e22">- - gradient changes sign</tspan>')
    if any(not np.isfinite(series.y).all() for series in panel.series):
        notes.append('<tspan fill="#c00">× not finite</tspan>')
    if notes:
        parts.append(
            f'<text x="{right}" y="{plot_top - 6}" text-anchor="end">{"   ".join(notes)}</text>'
        )
    return parts


def _finite_runs(finite: Any) -> list[list[int]]:
    runs: list[list[int]] = []
    current: list[int] = []
    for i, ok in enumerate(finite.tolist()):
        if ok:
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs
