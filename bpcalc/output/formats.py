"""Results on stdout: rich tables for people, TSV/CSV/JSON or bare numbers for programs.

Machine formats are written with plain ``print``-style writes and never pass through rich,
which would wrap lines, expand tabs and eat ``[name]`` as markup.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from bpcalc.errors import json_escaped, printable
from bpcalc.output.numbers import TABLE_DIGITS, TENSOR_DIGITS, number
from bpcalc.runtime import is_fraction

Format = Literal["auto", "table", "tsv", "csv", "json"]
FORMATS: tuple[str, ...] = ("auto", "table", "tsv", "csv", "json")


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal: decides between a table and plain text (tests fake it)."""
    return sys.stdout.isatty()


def resolve(fmt: str, plain: str = "tsv") -> str:
    if fmt == "auto":
        return "table" if stdout_is_terminal() else plain
    return fmt


def write(text: str) -> None:
    sys.stdout.write(text)


def write_json(document: Any) -> None:
    write(json_escaped(json.dumps(document, ensure_ascii=False, allow_nan=False)) + "\n")


# --- spreadsheets ------------------------------------------------------------------------

# A cell beginning with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(cell: str) -> str:
    """A text cell (a name, a header) that a spreadsheet shows as text, not runs as a formula:
    a ``'`` before a leading ``= + - @``, tab or CR. Only with --excel-safe: it is lossy."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def write_rows(
    rows: Iterable[Sequence[str]],
    fmt: str,
    header: Sequence[str] | None,
    *,
    excel_safe: bool = False,
) -> None:
    """TSV (no header, as ``cut`` and ``awk`` like it) or CSV (with a header). The first
    column holds names; with ``excel_safe`` (--excel-safe), names and header cells are made
    formula-safe."""
    if excel_safe:
        header = [spreadsheet_text(cell) for cell in header] if header else header
        rows = ([spreadsheet_text(row[0]), *row[1:]] if row else row for row in rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)
        write(buffer.getvalue())
    else:
        write("".join("\t".join(row) + "\n" for row in rows))


# --- tables ------------------------------------------------------------------------------


def table_cell(value: Any, digits: int | None, width: int = 72) -> str:
    """A value for people: rounded, and long tensors summarised the numpy way in ``width``."""
    if value is None:
        return "—"
    if isinstance(value, float | int) or is_fraction(value):
        return number(value, digits or TABLE_DIGITS)
    import numpy as np

    shown_digits = digits or TENSOR_DIGITS
    formatter: Any = {
        "float_kind": lambda x: number(x, shown_digits),
        "object": number,  # exact Fractions (--exact), never rounded
    }
    return np.array2string(
        value, threshold=24, edgeitems=3, max_line_width=width, formatter=formatter
    )


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size().columns


def shape_text(value: Any) -> str:
    shape = getattr(value, "shape", ())
    return "×".join(map(str, shape)) if shape else "scalar"


# Up to this many rows a table is rich's own; longer ones get the same look from a plain
# writer (rich lays out every cell several times: 100,000 rows took minutes).
RICH_TABLE_ROWS = 500


def print_table(
    title: str | None,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[str]],
    caption: str | None = None,
) -> None:
    """A table (rich's SIMPLE_HEAD look); columns are (header, justify) pairs. Every text is
    made printable: control and bidi characters from a graph file are shown escaped."""
    headers = [printable(header) for header, _ in columns]
    laid_out = [[_cell_text(cell) for cell in row] for row in rows]
    # Cells are laid out already (tensors by numpy): never re-wrap or squeeze them.
    widths = [
        max(
            _width(header),
            max((_width(line) for row in laid_out for line in row[i].split("\n")), default=0),
        )
        for i, header in enumerate(headers)
    ]
    table = _rich_table(
        None if title is None else printable(title),
        [(h, justify) for h, (_, justify) in zip(headers, columns, strict=True)],
        widths,
        caption=_cell_text(caption) if caption else None,
    )
    if len(laid_out) <= RICH_TABLE_ROWS:
        from rich.text import Text

        for row in laid_out:
            table.add_row(*(Text(cell) for cell in row))
        stdout_console().print(table)
    else:
        _print_long_table(table, [justify for _, justify in columns], widths, laid_out)


def _cell_text(text: str) -> str:
    """A cell or caption: its own line breaks kept (numpy's tensor layout), all else printable."""
    if "\n" not in text:
        return printable(text)
    return "\n".join(printable(line) for line in text.split("\n"))


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal, as rich counts them."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _rich_table(
    title: str | None,
    columns: Sequence[tuple[str, str]],
    widths: Sequence[int],
    caption: str | None,
) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=None if title is None else Text(title, style="bold"),
        caption=Text(caption) if caption else None,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
    )
    for (header, justify), width in zip(columns, widths, strict=True):
        table.add_column(header, justify=justify, no_wrap=True, min_width=width)  # type: ignore[arg-type]
    return table


def _print_long_table(
    table: Any, justify: Sequence[str], widths: Sequence[int], rows: list[list[str]]
) -> None:
    """``table`` with ``rows`` as rich would print it, in linear time: rich prints the table
    without rows (title, header, rule; then bottom edge and caption) and the rows are laid out
    here, each cell padded by one space as in SIMPLE_HEAD. Never cropped to the terminal."""
    table_width = sum(widths) + 3 * len(widths) + 1
    console = stdout_console()
    console = stdout_console(width=max(console.width, table_width))
    caption, table.caption = table.caption, None
    with console.capture() as capture:
        console.print(table)
    head = capture.get().splitlines(keepends=True)[:-1]  # without the bottom edge
    table.caption = caption
    with console.capture() as capture:
        console.print(table)
    tail = capture.get().splitlines(keepends=True)[len(head) :]  # bottom edge and caption
    write("".join(head))

    def line(cells: Sequence[str]) -> str:
        return " " + " ".join(cells) + " \n"

    def fit(text: str, width: int, how: str) -> str:
        if "\t" in text:
            text = text.expandtabs()
        if how == "right":
            text = text.rstrip()
            return " " * (width - _width(text)) + text
        return text + " " * (width - _width(text))

    blank = [" " * w for w in widths]
    for start in range(0, len(rows), 10_000):
        out = []
        for row in rows[start : start + 10_000]:
            if all("\n" not in cell for cell in row):
                out.append(
                    line(
                        [
                            " " + fit(cell, w, how) + " "
                            for cell, w, how in zip(row, widths, justify, strict=True)
                        ]
                    )
                )
                continue
            split = [cell.split("\n") for cell in row]
            for k in range(max(map(len, split))):
                out.append(
                    line(
                        [
                            " " + (fit(lines[k], w, how) if k < len(lines) else b) + " "
                            for lines, w, how, b in zip(split, widths, justify, blank, strict=True)
                        ]
                    )
                )
        write("".join(out))
    write("".join(tail))


def stdout_console(**options: Any) -> Any:
    """A rich console on stdout that prints text as given (no markup, highlighting or emoji)
    and lets a closed pipe (``| head``) end bpcalc quietly like the plain formats do."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError  # rich's own handler exits 1; bpcalc's exits 0

    return _Console(highlight=False, markup=False, emoji=False, **options)
