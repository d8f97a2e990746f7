"""Results on stdout: rich tables for people, TSV/CSV/JSON or bare numbers for programs.

Machine formats are written with plain ``print``-style writes and never pass through rich,
which would wrap lines, expand tabs and eat ``[name]`` as markup.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bpcalc.errors import json_escaped, printable
from bpcalc.output.numbers import TABLE_DIGITS, TENSOR_DIGITS, number, table_number
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
        import csv  # only here: TSV, the pipe's default, needs no quoting

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)
        write(buffer.getvalue())
    else:
        write("".join("\t".join(row) + "\n" for row in rows))


# --- tables ------------------------------------------------------------------------------
#
# A value is shown whole or not at all: a table is never cropped, squeezed or ellipsised by
# rich. Number columns keep their widest cell; only text columns marked "wrap" (descriptions,
# formulas) wrap, at spaces. A table too wide for the terminal is folded into records (one
# block of ``header  value`` lines per row). In a pipe (``-o table``) a table has its natural
# width, whatever $COLUMNS says.


def table_cell(value: Any, digits: int | None, width: int = 72) -> str:
    """A value for people: rounded, and long tensors summarised the numpy way in ``width``."""
    if value is None:
        return "—"
    if isinstance(value, float | int) or is_fraction(value):
        return table_number(value, digits or TABLE_DIGITS)
    import numpy as np

    shown_digits = digits or TENSOR_DIGITS
    formatter: Any = {
        "float_kind": lambda x: table_number(x, shown_digits),
        "object": number,  # exact Fractions (--exact), never rounded
    }
    return np.array2string(
        value, threshold=24, edgeitems=3, max_line_width=width, formatter=formatter
    )


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size().columns


def table_limit() -> int | None:
    """The width a table must fit in: the terminal's, or none in a pipe (``-o table``)."""
    return terminal_width() if stdout_is_terminal() else None


def shape_text(value: Any) -> str:
    shape = getattr(value, "shape", ())
    return "×".join(map(str, shape)) if shape else "scalar"


# Up to this many rows a table is rich's own; longer ones get the same look from a plain
# writer (rich lays out every cell several times: 100,000 rows took minutes).
RICH_TABLE_ROWS = 500
RECORD_INDENT = 2  # a record's lines: "  header  value"
RECORD_VALUES = 16  # narrower than this beside the headers, a record's values go below them


@dataclass(frozen=True)
class Gap:
    """A line in place of rows left out of a table: ``... 19,980 rows ...``."""

    text: str


Row = Sequence[str] | Gap


def table_width(widths: Sequence[int]) -> int:
    """Columns a SIMPLE_HEAD table of these column widths takes: a space either side of each
    cell, one between cells, one at each edge."""
    return sum(widths) + 3 * len(widths) + 1


def print_table(
    title: str | None,
    columns: Sequence[tuple[str, ...]],
    rows: Iterable[Row],
    caption: str | None = None,
    *,
    records: Callable[[int], Iterable[Row]] | None = None,
) -> None:
    """A table (rich's SIMPLE_HEAD look); columns are (header, justify) pairs, or (header,
    justify, "wrap") for text that may wrap at spaces. Every text is made printable: control
    and bidi characters from a graph file are shown escaped.

    Too wide for the terminal, the table is printed as records; ``records(width)`` then gives
    the rows again with values laid out in ``width`` columns (tensors), if given."""
    headers = [printable(column[0]) for column in columns]
    justify = [column[1] for column in columns]
    wraps = [len(column) > 2 and column[2] == "wrap" for column in columns]
    laid_out = _laid_out(rows)
    title = None if title is None else printable(title)
    caption = _cell_text(caption) if caption else None
    limit = table_limit()
    widths = _fit(headers, wraps, laid_out, limit)
    if widths is None:
        assert limit is not None
        if records is not None:
            laid_out = _laid_out(records(_record_layout(headers, limit)[1]))
        _print_records(title, headers, wraps, laid_out, caption, limit)
        return
    laid_out = [
        row
        if isinstance(row, Gap)
        else [
            _wrap(cell, w) if wrap else cell
            for cell, w, wrap in zip(row, widths, wraps, strict=True)
        ]
        for row in laid_out
    ]
    table = _rich_table(title, list(zip(headers, justify, strict=True)), widths, caption=caption)
    if len(laid_out) <= RICH_TABLE_ROWS and not any(isinstance(row, Gap) for row in laid_out):
        from rich.text import Text

        for row in laid_out:
            assert not isinstance(row, Gap)
            table.add_row(*(Text(cell) for cell in row))
        console = stdout_console()
        stdout_console(width=max(console.width, table_width(widths))).print(table)
    else:
        _print_long_table(table, justify, widths, laid_out)


def table_fits(columns: Sequence[tuple[str, ...]], rows: Iterable[Row]) -> bool:
    """Whether print_table would print these as a table, not as records."""
    headers = [printable(column[0]) for column in columns]
    wraps = [len(column) > 2 and column[2] == "wrap" for column in columns]
    return _fit(headers, wraps, _laid_out(rows), table_limit()) is not None


def _laid_out(rows: Iterable[Row]) -> list[list[str] | Gap]:
    return [
        Gap(printable(row.text)) if isinstance(row, Gap) else [_cell_text(cell) for cell in row]
        for row in rows
    ]


def _natural_widths(headers: Sequence[str], rows: Sequence[list[str] | Gap]) -> list[int]:
    """The widest line of each column, its header included."""
    widths = [_width(header) for header in headers]
    for row in rows:
        if isinstance(row, Gap):
            continue
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], *(_width(line) for line in cell.split("\n")))
    return widths


def _fit(
    headers: Sequence[str],
    wraps: Sequence[bool],
    rows: Sequence[list[str] | Gap],
    limit: int | None,
) -> list[int] | None:
    """Column widths for a table no wider than ``limit``, or None when it cannot be done
    without cutting a value (then the table is folded into records)."""
    natural = _natural_widths(headers, rows)
    if limit is None or table_width(natural) <= limit:
        return natural
    # A column that wraps needs room for its longest word (and its header); others all.
    widths = [
        max(_width(header), *(_longest_word(row[i]) for row in rows if not isinstance(row, Gap)))
        if wrap
        else natural[i]
        for i, (header, wrap) in enumerate(zip(headers, wraps, strict=True))
    ]
    spare = limit - table_width(widths)
    if spare < 0:
        return None
    while spare > 0:
        growing = [i for i, wrap in enumerate(wraps) if wrap and widths[i] < natural[i]]
        if not growing:
            break
        share = max(1, spare // len(growing))
        for i in growing:
            extra = min(share, natural[i] - widths[i], spare)
            widths[i] += extra
            spare -= extra
    return widths


def _longest_word(cell: str) -> int:
    return max((_width(word) for line in cell.split("\n") for word in line.split(" ")), default=0)


def _wrap(cell: str, width: int) -> str:
    """``cell`` wrapped at spaces into lines of ``width`` columns; a longer word is never cut
    (it has a line of its own)."""
    out = []
    for line in cell.split("\n"):
        if _width(line) <= width:
            out.append(line)
            continue
        current = ""
        for word in line.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and _width(candidate) > width:
                out.append(current)
                current = word
            else:
                current = candidate
        out.append(current)
    return "\n".join(out)


def _record_layout(headers: Sequence[str], limit: int) -> tuple[bool, int]:
    """Whether a record's values go beside its headers, and the columns they get there (on a
    narrow terminal they go below the headers, indented)."""
    beside = limit - RECORD_INDENT - max(map(_width, headers), default=0) - 2
    if beside >= RECORD_VALUES:
        return True, beside
    return False, max(1, limit - 2 * RECORD_INDENT)


def _print_records(
    title: str | None,
    headers: Sequence[str],
    wraps: Sequence[bool],
    rows: Sequence[list[str] | Gap],
    caption: str | None,
    limit: int,
) -> None:
    """The table folded for a narrow terminal: for each row a block of ``header  value``
    lines (values of several lines continue under the first), blocks apart by a blank line."""
    from rich.text import Text

    console = stdout_console()
    if title is not None:
        print_wrapped(console, Text(title, style="bold"))
    beside, value_width = _record_layout(headers, limit)
    label = max(map(_width, headers), default=0)
    lead = " " * RECORD_INDENT
    out = []
    for row in rows:
        out.append("\n")
        if isinstance(row, Gap):
            out.append(lead + row.text + "\n")
            continue
        for header, cell, wrap in zip(headers, row, wraps, strict=True):
            if not cell:
                continue
            lines = (_wrap(cell, value_width) if wrap else cell).split("\n")
            if beside:
                pad = " " * (label - _width(header) + 2)
                out.append(lead + header + pad + lines[0] + "\n")
                under = " " * (RECORD_INDENT + label + 2)
                out += [under + line + "\n" for line in lines[1:]]
            else:
                out.append(lead + header + "\n")
                out += [lead * 2 + line + "\n" for line in lines]
    write("".join(out))
    if caption:
        write("\n")
        print_wrapped(console, Text(caption))


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
    table: Any, justify: Sequence[str], widths: Sequence[int], rows: Sequence[list[str] | Gap]
) -> None:
    """``table`` with ``rows`` as rich would print it, in linear time: rich prints the table
    without rows (title, header, rule; then bottom edge and caption) and the rows are laid out
    here, each cell padded by one space as in SIMPLE_HEAD. Never cropped to the terminal.
    A Gap is a line of its own, indented as the first cell."""
    console = stdout_console()
    console = stdout_console(width=max(console.width, table_width(widths)))
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
            if isinstance(row, Gap):
                out.append("  " + row.text + "\n")
                continue
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


def print_wrapped(console: Any, text: Any) -> None:
    """A rich Text wrapped at spaces to the terminal's width (not in a pipe), a word longer
    than the width on a line of its own and never cut (rich folds or crops such words)."""
    from rich._wrap import divide_line

    width = table_limit()
    for line in text.split("\n", allow_blank=True):
        if width is None or line.cell_len <= width:
            pieces = [line]
        else:
            pieces = list(line.divide(divide_line(line.plain, width, fold=False)))
        for piece in pieces:
            piece.rstrip()
            console.print(piece, no_wrap=True, overflow="ignore", crop=False)


def stdout_console(**options: Any) -> Any:
    """A rich console on stdout that prints text as given (no markup, highlighting or emoji)
    and lets a closed pipe (``| head``) end bpcalc quietly like the plain formats do."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError  # rich's own handler exits 1; bpcalc's exits 0

    return _Console(highlight=False, markup=False, emoji=False, **options)
