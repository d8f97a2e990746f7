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
    write(json.dumps(document, ensure_ascii=False, allow_nan=False) + "\n")


def write_rows(rows: Iterable[Sequence[str]], fmt: str, header: Sequence[str] | None) -> None:
    """TSV (no header, as ``cut`` and ``awk`` like it) or CSV (with a header)."""
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


def print_table(
    title: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[str]],
    caption: str | None = None,
) -> None:
    """A rich table; columns are (header, justify) pairs."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(title, style="bold"),
        caption=Text(caption) if caption else None,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
    )
    laid_out = list(rows)
    for i, (header, justify) in enumerate(columns):
        # Cells are laid out already (tensors by numpy): never re-wrap or squeeze them.
        widest = max((len(line) for row in laid_out for line in row[i].splitlines()), default=0)
        table.add_column(
            header,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=True,
            min_width=max(widest, len(header)),
        )
    for row in laid_out:
        table.add_row(*(Text(cell) for cell in row))
    stdout_console().print(table)


def stdout_console(**options: Any) -> Any:
    """A rich console on stdout that prints text as given (no markup, highlighting or emoji)
    and lets a closed pipe (``| head``) end bpcalc quietly like the plain formats do."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError  # rich's own handler exits 1; bpcalc's exits 0

    return _Console(highlight=False, markup=False, emoji=False, **options)
