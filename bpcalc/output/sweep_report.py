"""What ``bpcalc sweep`` prints when it is not writing rows: a table and a chart, or an SVG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpcalc.analysis.sweep import SweepResult


# On a terminal a table of more than ELIDE_ABOVE rows shows its first and last SHOWN_ENDS
# rows and up to SHOWN_NOTED marked rows between them, with a count of the rows left out
# (--full shows every row; a pipe, -o table, always gets every row).
ELIDE_ABOVE = 60
SHOWN_ENDS = 10
SHOWN_NOTED = 20


def print_sweep(
    result: SweepResult,
    *,
    graph_name: str,
    fmt: str,
    digits: int | None,
    chart: bool,
    full: bool = False,
) -> None:
    """-o svg: the chart as an SVG document; otherwise the table, then the chart unless not
    ``chart``. On a terminal a long table is elided in the middle unless ``full``."""
    if fmt == "svg":
        from bpcalc.output.chart import svg_chart
        from bpcalc.output.formats import write
        from bpcalc.output.sweep_chart import sweep_chart

        write(svg_chart(sweep_chart(result, graph_name=graph_name)))
        return
    from bpcalc.output.formats import stdout_is_terminal

    print_table(result, graph_name, digits, elide=stdout_is_terminal() and not full)
    if chart:
        print_chart(result, graph_name)


def shown_rows(count: int, notes: Sequence[str], elide: bool) -> list[int]:
    """The rows a table shows: all, or the first and last and some marked ones between."""
    if not elide or count <= ELIDE_ABOVE:
        return list(range(count))
    middle = range(SHOWN_ENDS, count - SHOWN_ENDS)
    noted = [i for i in middle if notes[i]][:SHOWN_NOTED]
    return [*range(SHOWN_ENDS), *noted, *range(count - SHOWN_ENDS, count)]


def print_table(
    result: SweepResult, graph_name: str, digits: int | None, *, elide: bool = False
) -> None:
    from rich.text import Text

    from bpcalc.analysis.sweep import marks
    from bpcalc.errors import printable
    from bpcalc.output.formats import (
        Gap,
        Row,
        print_table,
        print_wrapped,
        stdout_console,
        table_cell,
    )

    names = [spec.name for spec in result.specs]
    notes = marks(result)
    noted = any(notes)  # once: per row it made the table quadratic
    columns: list[tuple[str, ...]] = [(name, "right") for name in [*names, *result.names]]
    columns += [("note", "left", "wrap")] if noted else []
    count = len(result.points)
    shown = shown_rows(count, notes, elide)
    points = result.points[shown].tolist()
    results = [r[shown].tolist() for r in result.results]
    rows: list[Row] = []
    previous = -1
    for k, i in enumerate(shown):
        if i != previous + 1:
            left_out = i - previous - 1
            rows.append(Gap(f"... {left_out:,} row{'s' * (left_out != 1)} ..."))
        previous = i
        row = [table_cell(v, digits) for v in points[k]]
        row += [table_cell(r[k], digits) for r in results]
        row += [notes[i]] if noted else []
        rows.append(row)
    title = f"{graph_name}: {result.names[0]} over {' × '.join(names)} ({count:,} points)"
    if len(shown) < count:
        title += f", {count - len(shown):,} rows left out (--full shows all)"
    print_wrapped(stdout_console(), Text(printable(title), style="bold"))
    print_table(None, columns, rows)


def print_chart(result: SweepResult, graph_name: str) -> None:
    from bpcalc.output.chart import terminal_chart
    from bpcalc.output.formats import stdout_console, terminal_width
    from bpcalc.output.sweep_chart import sweep_chart

    console = stdout_console()
    for line in terminal_chart(sweep_chart(result, graph_name=graph_name), terminal_width()):
        console.print(line, no_wrap=True, overflow="ignore", crop=False)
