"""What ``bpcalc sweep`` prints when it is not writing rows: a table and a chart, or an SVG."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpcalc.analysis.sweep import SweepResult


def print_sweep(
    result: SweepResult, *, graph_name: str, fmt: str, digits: int | None, chart: bool
) -> None:
    """-o svg: the chart as an SVG document; otherwise the table, then the chart unless not
    ``chart``."""
    if fmt == "svg":
        from bpcalc.output.chart import svg_chart
        from bpcalc.output.formats import write
        from bpcalc.output.sweep_chart import sweep_chart

        write(svg_chart(sweep_chart(result, graph_name=graph_name)))
        return
    print_table(result, graph_name, digits)
    if chart:
        print_chart(result, graph_name)


def print_table(result: SweepResult, graph_name: str, digits: int | None) -> None:
    from rich.text import Text

    from bpcalc.analysis.sweep import marks
    from bpcalc.errors import printable
    from bpcalc.output.formats import print_table, stdout_console, table_cell

    names = [spec.name for spec in result.specs]
    notes = marks(result)
    noted = any(notes)  # once: per row it made the table quadratic
    columns = [(name, "right") for name in [*names, *result.names]]
    columns += [("note", "left")] if noted else []
    results = [r.tolist() for r in result.results]
    rows = []
    for i, point in enumerate(result.points.tolist()):
        row = [table_cell(v, digits) for v in point]
        row += [table_cell(r[i], digits) for r in results]
        row += [notes[i]] if noted else []
        rows.append(row)
    count = len(result.points)
    title = f"{graph_name}: {result.names[0]} over {' × '.join(names)} ({count:,} points)"
    stdout_console().print(Text(printable(title), style="bold"), no_wrap=True, crop=False)
    print_table(None, columns, rows)


def print_chart(result: SweepResult, graph_name: str) -> None:
    from bpcalc.output.chart import terminal_chart
    from bpcalc.output.formats import stdout_console, terminal_width
    from bpcalc.output.sweep_chart import sweep_chart

    console = stdout_console()
    for line in terminal_chart(sweep_chart(result, graph_name=graph_name), terminal_width()):
        console.print(line, no_wrap=True, overflow="ignore", crop=False)
