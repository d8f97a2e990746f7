"""Writing rows of numbers chunk by chunk: an aligned table, TSV, CSV or JSON Lines.

Machine formats are lossless: every number is written as ``repr`` writes it. CSV and TSV
chunks are formatted by bpcalc.output.delimited_floats (in C); JSON Lines, and the rows that
module leaves to its fallback, by bpcalc.output.float_repr for a whole column at once, the
cells and separators of a chunk laid side by side in one byte matrix and the padding bytes
dropped in one pass. Each chunk is written whole with one call, so an interrupted run leaves
only complete rows. With ``--digits`` the numbers are rounded, one at a time, as everywhere
else in bpcalc.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from bpcalc.errors import json_escaped, printable
from bpcalc.output.numbers import TABLE_DIGITS, machine_number, rounded, table_number

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Column = NDArray[np.float64]

_JSON_SPECIALS = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}


def json_number_text(x: float) -> str:
    """A float as a JSON value: repr, or "NaN", "Infinity", "-Infinity" as strings."""
    text = repr(x)
    return _JSON_SPECIALS.get(text, text)


class RowWriter:
    """Writes chunks of columns (one float64 array per column) to a binary stream."""

    def __init__(
        self,
        columns: Sequence[str],
        fmt: str,
        *,
        digits: int | None,
        out: IO[bytes],
        excel_safe: bool = False,
    ) -> None:
        self.columns = list(columns)
        self.fmt = fmt
        self.digits = digits
        self.out = out
        self.excel_safe = excel_safe  # --excel-safe: a formula-safe CSV header
        self._widths: list[int] | None = None
        if fmt == "json":
            keys = [json_escaped(json.dumps(c, ensure_ascii=False)) + ": " for c in self.columns]
            self._pieces = ["{" + keys[0], *(", " + k for k in keys[1:]), "}\n"]
        else:
            separator = "," if fmt == "csv" else "\t"
            self._separator = separator.encode()
            self._pieces = ["", *([separator] * (len(self.columns) - 1)), "\n"]

    def start(self) -> None:
        """The header: a CSV header line; nothing for TSV and JSON Lines (see the docs)."""
        if self.fmt == "csv":
            import csv
            import io

            from bpcalc.output.formats import spreadsheet_text

            header = self.columns
            if self.excel_safe:
                header = [spreadsheet_text(column) for column in header]
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(header)
            self._write(buffer.getvalue().encode("utf-8"))

    def write(self, values: Sequence[Column]) -> None:
        """One chunk of rows, written with one call."""
        if not len(values[0]):
            return
        if self.fmt == "table":
            self._write(self._table_text(values).encode("utf-8"))
        elif self.digits is None:
            self._write(self._lossless(values))
        else:
            self._write(self._rounded(values).encode("utf-8"))

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.out.flush()

    def _lossless(self, values: Sequence[Column]) -> bytes:
        if self.fmt == "json":
            return self._laid_out(values)
        import numpy as np

        from bpcalc.output.delimited_floats import delimited_lines

        return delimited_lines(
            np.column_stack(values), self._separator, lambda rows: self._laid_out(list(rows.T))
        )

    def _laid_out(self, values: Sequence[Column]) -> bytes:
        """The rows as text, each column's numbers by float_repr, laid out in one matrix."""
        import numpy as np

        from bpcalc.output.float_repr import repr_matrix

        n = len(values[0])
        fallback = json_number_text if self.fmt == "json" else repr
        parts: list[Any] = []
        for piece, column in zip(self._pieces, values, strict=False):
            if piece:
                parts.append(_constant(piece, n))
            parts.append(repr_matrix(column, fallback))
        parts.append(_constant(self._pieces[-1], n))
        flat = np.concatenate(parts, axis=1).reshape(-1)
        # Every character is non-zero; zero bytes are padding.
        return bytes(flat[flat != 0].tobytes())

    def _rounded(self, values: Sequence[Column]) -> str:
        digits = self.digits
        if self.fmt == "json":
            cells = [
                [json_number_text(rounded(x, digits)) for x in column.tolist()] for column in values
            ]
        else:
            cells = [[machine_number(x, digits) for x in column.tolist()] for column in values]
        pieces = self._pieces
        return "".join(
            "".join(p + c for p, c in zip(pieces, row, strict=False)) + pieces[-1]
            for row in zip(*cells, strict=True)
        )

    def _table_text(self, values: Sequence[Column]) -> str:
        """Right-aligned columns under a header. Widths come from the header and the first
        chunk; a later chunk with a wider number widens its column and repeats the header,
        so every row stays aligned with the header above it and no number is cut."""
        digits = self.digits or TABLE_DIGITS
        cells = [[table_number(x, digits) for x in column.tolist()] for column in values]
        names = [printable(name) for name in self.columns]  # for people: escaped
        needed = [
            max(len(name), *map(len, column)) for name, column in zip(names, cells, strict=True)
        ]
        lines = []
        if self._widths is None or any(
            need > width for need, width in zip(needed, self._widths, strict=True)
        ):
            if self._widths is not None:
                lines.append("")
                needed = [max(n, w) for n, w in zip(needed, self._widths, strict=True)]
            self._widths = needed
            lines.append("  ".join(n.rjust(w) for n, w in zip(names, self._widths, strict=False)))
            lines.append("  ".join("─" * w for w in self._widths))
        widths = self._widths
        lines += [
            "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=False))
            for row in zip(*cells, strict=False)
        ]
        return "\n".join(lines) + "\n"


def _constant(text: str, n: int) -> Any:
    """The same bytes in every row, as an n-row matrix view."""
    import numpy as np

    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return np.broadcast_to(data, (n, data.size))
