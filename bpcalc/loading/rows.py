"""Reading row files (CSV, TSV, JSON Lines) in chunks of float64 rows, for ``--batch``.

Bytes are read in blocks and cut into whole lines; each chunk of lines is parsed by numpy in
one call (``np.loadtxt``), and only a chunk that numpy rejects is parsed again line by line,
to say which row is bad and why. Rows are numbered by their line in the file (the header is
line 1), so ``rows.csv:7: ...`` points at the line to fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from bpcalc.errors import BpcalcError, Diagnostic, ExitStatus, printable

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

ROW_FORMATS = ("csv", "tsv", "jsonl")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_BLOCK = 1 << 20  # bytes per read


class RowError(BpcalcError):
    """A bad row or header in a row file: ``FILE:LINE: message`` (exit 1)."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__([Diagnostic(message, file=file, line=line)])

    def render(self) -> str:
        d = self.diagnostics[0]
        message = printable(d.message)
        return f"{d.file}:{d.line}: {message}" if d.line else f"{d.file}: {message}"


class ColumnError(RowError):
    """Header columns that name no input of the graph (exit 2, like ``--set`` with one)."""

    exit_status = ExitStatus.USAGE


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read; ``before`` good rows of its chunk come before it."""

    line: int
    message: str
    before: int


@dataclass
class Chunk:
    """Consecutive rows: values (rows x columns), their line numbers, and the bad rows."""

    data: NDArray[np.float64]
    lines: NDArray[np.int64]
    bad: list[BadRow] = field(default_factory=list)


def detect_format(name: str, first_line: str) -> str:
    """csv, tsv or jsonl, from the file's extension, else from its first line."""
    from pathlib import PurePath

    by_extension = _EXTENSIONS.get(PurePath(name).suffix.lower())
    if by_extension:
        return by_extension
    if first_line.lstrip().startswith("{"):
        return "jsonl"
    return "tsv" if "\t" in first_line else "csv"


class RowReader:
    """The columns of a row file, then its rows chunk by chunk.

    ``fmt`` is csv, tsv, jsonl or auto; ``on_bytes`` is told how many bytes each read got.
    """

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        *,
        fmt: str = "auto",
        chunk_size: int = 65536,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self._batches = _line_batches(stream, chunk_size, on_bytes or (lambda n: None))
        self._pending: list[str] = []
        self._next_line = 1
        first = self._first_line()
        if first is None:
            raise RowError(name, 0, "the file is empty; expected a header line naming inputs")
        line_no, text = first
        self.format = detect_format(name, text) if fmt == "auto" else fmt
        if self.format == "jsonl":
            self.columns = _json_columns(name, line_no, text)
            self._pending.insert(0, text)
            self._next_line = line_no
        else:
            self.columns = _header_columns(name, line_no, text, _DELIMITERS[self.format])
        self._chunk_size = chunk_size

    def _first_line(self) -> tuple[int, str] | None:
        """The first line that is not blank, removed from the pending lines."""
        for first, lines in self._batches:
            for i, text in enumerate(lines):
                if text.strip():
                    self._pending = lines[i + 1 :]
                    self._next_line = first + i + 1
                    return first + i, text.lstrip("\ufeff")
        return None

    def chunks(self) -> Iterator[Chunk]:
        """Chunks of at most chunk_size rows, in file order."""
        if self._pending:
            yield from self._parse_lines(self._next_line, self._pending)
        self._pending = []
        for first, lines in self._batches:
            yield from self._parse_lines(first, lines)

    def _parse_lines(self, first: int, lines: list[str]) -> Iterator[Chunk]:
        for start in range(0, len(lines), self._chunk_size):
            part = lines[start : start + self._chunk_size]
            if self.format == "jsonl":
                yield _parse_json(first + start, part, self.columns)
            else:
                yield _parse_delimited(first + start, part, self.columns, _DELIMITERS[self.format])


_DELIMITERS = {"csv": ",", "tsv": "\t"}


def _line_batches(
    stream: BinaryIO, chunk_size: int, on_bytes: Callable[[int], None]
) -> Iterator[tuple[int, list[str]]]:
    """(number of the first line, lines) of at most chunk_size whole lines at a time.

    A batch goes out early when the input has nothing more to read yet (a slow pipe or a
    person typing), so that rows appear as they come.
    """
    read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
    partial = b""
    pending: list[str] = []
    line_no = 1
    while True:
        block = read(_BLOCK)
        if not block:
            break
        on_bytes(len(block))
        data = partial + block if partial else block
        cut = data.rfind(b"\n")
        if cut < 0:
            partial = data
            continue
        partial = data[cut + 1 :]
        text = data[:cut].decode("utf-8", errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        pending.extend(text.split("\n"))
        while len(pending) >= chunk_size:
            yield line_no, pending[:chunk_size]
            del pending[:chunk_size]
            line_no += chunk_size
        if pending and not _more_ready(stream):
            yield line_no, pending
            line_no += len(pending)
            pending = []
    if partial:
        pending.append(partial.decode("utf-8", errors="replace").rstrip("\r"))
    if pending:
        yield line_no, pending


def _more_ready(stream: BinaryIO) -> bool:
    """Whether more input can be read right away (always true for files and unknowns)."""
    import os
    import select
    import stat

    try:
        fd = stream.fileno()
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return True
        ready, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError, AttributeError):
        return True
    return bool(ready)


# --- headers ---------------------------------------------------------------------------------


def _header_columns(name: str, line: int, text: str, delimiter: str) -> list[str]:
    import csv

    cells = next(csv.reader([text], delimiter=delimiter))
    columns = [cell.strip() for cell in cells]
    for i, column in enumerate(columns):
        if not column:
            raise RowError(name, line, f"header cell {i + 1} is empty; name an input there")
        if _is_number(column):
            raise RowError(
                name,
                line,
                f"the first line holds numbers ('{column}'); it must be a header line "
                f"naming the input of each column",
            )
    return columns


def _json_columns(name: str, line: int, text: str) -> list[str]:
    try:
        first = json.loads(text)
    except json.JSONDecodeError as err:
        raise RowError(name, line, f"not JSON: {err.msg}") from None
    if not isinstance(first, dict) or not first:
        raise RowError(name, line, "expected a JSON object with one key per input")
    return [str(key) for key in first]


# --- cells -----------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        parse_cell(text)
    except ValueError:
        return False
    return True


def parse_cell(text: str) -> float:
    """A cell as numpy's reader takes it: a decimal number, inf or nan, spaces around."""
    stripped = text.strip()
    if not stripped.isascii() or "_" in stripped or not stripped:
        raise ValueError(text)
    return float(stripped)


def _cell_message(column: str, text: str) -> str:
    shown = text.strip()
    if not shown:
        return f"column '{column}' is empty"
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"column '{column}': expected a number, got '{shown}'"


# --- parsing chunks --------------------------------------------------------------------------


def _parse_delimited(first: int, lines: list[str], columns: list[str], delimiter: str) -> Chunk:
    """numpy's loadtxt on the whole chunk; line by line only if it fails."""
    import numpy as np

    width = len(columns)
    if any(lines):
        try:
            data = np.loadtxt(
                lines,
                delimiter=delimiter,
                dtype=np.float64,
                ndmin=2,
                comments=None,
                quotechar='"',
                encoding=None,
            )
        except ValueError:
            pass
        else:
            # loadtxt skips empty lines silently; re-read those chunks to number rows right.
            if data.shape == (len(lines), width):
                return Chunk(data, np.arange(first, first + len(lines), dtype=np.int64))
    return _parse_delimited_slowly(first, lines, columns, delimiter)


def _parse_delimited_slowly(
    first: int, lines: list[str], columns: list[str], delimiter: str
) -> Chunk:
    import csv

    import numpy as np

    width = len(columns)
    rows: list[list[float]] = []
    numbers: list[int] = []
    bad: list[BadRow] = []
    for i, text in enumerate(lines):
        if not text.strip():
            continue
        line = first + i
        cells = next(csv.reader([text], delimiter=delimiter))
        if len(cells) != width:
            bad.append(BadRow(line, f"expected {width} cells, got {len(cells)}", len(rows)))
            continue
        try:
            values = [parse_cell(cell) for cell in cells]
        except ValueError:
            j = next(j for j, cell in enumerate(cells) if not _is_number(cell))
            bad.append(BadRow(line, _cell_message(columns[j], cells[j]), len(rows)))
            continue
        rows.append(values)
        numbers.append(line)
    data = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    return Chunk(data, np.array(numbers, dtype=np.int64), bad)


def _parse_json(first: int, lines: list[str], columns: list[str]) -> Chunk:
    """One json.loads for the whole chunk; line by line if that fails."""
    import numpy as np

    present = [(first + i, text) for i, text in enumerate(lines) if text.strip()]
    try:
        objects = json.loads("[" + ",".join(text for _, text in present) + "]")
    except json.JSONDecodeError:
        objects = None
    rows: list[list[float]] = []
    numbers: list[int] = []
    bad: list[BadRow] = []
    for k, (line, text) in enumerate(present):
        try:
            obj = objects[k] if objects is not None else json.loads(text)
        except json.JSONDecodeError as err:
            bad.append(BadRow(line, f"not JSON: {err.msg}", len(rows)))
            continue
        values = _json_row(obj, columns)
        if isinstance(values, str):
            bad.append(BadRow(line, values, len(rows)))
            continue
        rows.append(values)
        numbers.append(line)
    data = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    return Chunk(data, np.array(numbers, dtype=np.int64), bad)


def _json_row(obj: Any, columns: list[str]) -> list[float] | str:
    """The row's values in column order, or what is wrong with it."""
    if not isinstance(obj, dict):
        return "expected a JSON object with one key per input"
    if len(obj) != len(columns) or any(column not in obj for column in columns):
        missing = [c for c in columns if c not in obj]
        if missing:
            return f"missing key '{missing[0]}'"
        extra = next(str(key) for key in obj if key not in columns)
        return f"unexpected key '{extra}' (the first row's keys name the columns)"
    values = []
    for column in columns:
        value = obj[column]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return f"key '{column}': expected a number, got {json.dumps(value)}"
        if isinstance(value, str):
            try:
                value = parse_cell(_JSON_SPECIALS.get(value, value))
            except ValueError:
                return _cell_message(column, value).replace("column", "key", 1)
        try:
            values.append(float(value))
        except OverflowError:
            return f"key '{column}': {value} is too large for float64"
    return values


_JSON_SPECIALS = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}
