"""Reading row files (CSV, TSV, JSON Lines) in chunks of float64 rows, for ``--batch``.

Bytes are read in blocks and cut into whole lines; each chunk of lines is parsed by numpy in
one call (``np.loadtxt``), and only a chunk that numpy rejects is parsed again line by line,
to say which row is bad and why. Rows are numbered by their line in the file (the header is
line 1), so ``rows.csv:7: ...`` points at the line to fix. Lines end at LF, CRLF or a lone CR
(as in any text mode), and are at most MAX_LINE_BYTES long, so that a file without line ends
(``/dev/zero``) is refused within bounded memory and time.
"""

from __future__ import annotations

import json
import math
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
MAX_LINE_BYTES = 1 << 20  # the longest line, its end not counted (docs/errors.md, Limits)
_LINE_TOO_LONG = (
    f"line is longer than {MAX_LINE_BYTES:,} bytes, the limit for a row of a --batch file"
)


# The rows of `bpcalc sweep`, which come from no file: messages say "sweep point N".
SWEEP = "<sweep>"


class RowError(BpcalcError):
    """A bad row or header in a row file: ``FILE:LINE: message`` (exit 1); for a sweep,
    ``sweep point N: message``."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__([Diagnostic(message, file=file, line=line)])

    def render(self) -> str:
        d = self.diagnostics[0]
        message = printable(d.message)
        if d.file == SWEEP:
            return f"sweep point {d.line}: {message}"
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
        self._batches = _line_batches(stream, name, chunk_size, on_bytes or (lambda n: None))
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
    stream: BinaryIO, name: str, chunk_size: int, on_bytes: Callable[[int], None]
) -> Iterator[tuple[int, list[str]]]:
    """(number of the first line, lines) of at most chunk_size whole lines at a time.

    A batch goes out early when the input has nothing more to read yet (a slow pipe or a
    person typing), so that rows appear as they come. Each byte is searched and copied a
    bounded number of times, whatever the lengths of the lines; a line longer than
    MAX_LINE_BYTES is a RowError as soon as it gets that long.
    """
    read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
    partial: list[bytes] = []  # the line being read: pieces without a line end
    partial_size = 0
    pending: list[str] = []
    line_no = 1  # the number of pending[0]
    after_cr = False  # the last block ended with CR: an LF first in the next belongs to it
    while True:
        block = read(_BLOCK)
        if not block:
            break
        on_bytes(len(block))
        if after_cr and block.startswith(b"\n"):
            block = block[1:]
        after_cr = block.endswith(b"\r")
        cut = max(block.rfind(b"\n"), block.rfind(b"\r"))  # the last line end
        if cut < 0:
            partial.append(block)
            partial_size += len(block)
            if partial_size > MAX_LINE_BYTES:
                raise RowError(name, line_no + len(pending), _LINE_TOO_LONG)
            continue
        first_end = min(i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0)
        if partial_size + first_end > MAX_LINE_BYTES:
            raise RowError(name, line_no + len(pending), _LINE_TOO_LONG)
        end = cut - 1 if block[cut] == 0x0A and cut and block[cut - 1] == 0x0D else cut
        whole = b"".join([*partial, block[:end]]) if partial else block[:end]
        tail = block[cut + 1 :]
        partial, partial_size = ([tail], len(tail)) if tail else ([], 0)
        text = whole.decode("utf-8", errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        pending.extend(text.split("\n"))
        # Lines within one block are shorter than a block, and _BLOCK <= MAX_LINE_BYTES.
        start = 0
        while len(pending) - start >= chunk_size:
            yield line_no, pending[start : start + chunk_size]
            start += chunk_size
            line_no += chunk_size
        pending = pending[start:] if start else pending
        if pending and not _more_ready(stream):
            yield line_no, pending
            line_no += len(pending)
            pending = []
    if partial:
        pending.append(b"".join(partial).decode("utf-8", errors="replace"))
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
    cells = _cells(text, delimiter)
    if isinstance(cells, str):
        raise RowError(name, line, cells)
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
    first = _json_line(text)
    if isinstance(first, _Problem):
        raise RowError(name, line, first)
    if isinstance(first, _DuplicateKeys):
        raise RowError(name, line, f"duplicate key '{first.duplicate}'")
    if not isinstance(first, dict) or not first:
        raise RowError(name, line, "expected a JSON object with one key per input")
    return [str(key) for key in first]


# --- cells -----------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        parse_cell(text)
    except CellTooLarge:
        return True
    except ValueError:
        return False
    return True


def _parses(text: str) -> bool:
    try:
        parse_cell(text)
    except ValueError:
        return False
    return True


class CellTooLarge(ValueError):
    """A number beyond float64's range, such as 1e400 (float() would make it inf)."""


_INFINITY = ("inf", "infinity")


def parse_cell(text: str) -> float:
    """A cell as numpy's reader takes it: a decimal number, inf or nan, spaces around.

    A number too large for float64 raises CellTooLarge, as graph files refuse 1e999.
    """
    stripped = text.strip()
    if not stripped.isascii() or "_" in stripped or not stripped:
        raise ValueError(text)
    value = float(stripped)
    if math.isinf(value) and stripped.lstrip("+-").lower() not in _INFINITY:
        raise CellTooLarge(text)
    return value


def _cell_message(column: str, text: str) -> str:
    shown = text.strip()
    if not shown:
        return f"column '{column}' is empty"
    if _is_number(shown):  # the only number refused is one too large
        return f"column '{column}': number '{shown[:40]}' is too large for float64"
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"column '{column}': expected a number, got '{shown}'"


def _cells(text: str, delimiter: str) -> list[str] | str:
    """The cells of a CSV or TSV line, or what is wrong with it."""
    if '"' not in text:  # what the csv module makes of it, faster and without its field limit
        return text.split(delimiter)
    import csv

    try:
        return next(csv.reader([text], delimiter=delimiter))
    except csv.Error as err:
        if "field larger than field limit" in str(err):
            return f"a cell is longer than {csv.field_size_limit():,} characters"
        return f"not CSV: {err}"


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
            # It also reads 1e400 as inf: rows with an infinity are read again to tell.
            if data.shape == (len(lines), width) and not _overflows(data, lines, delimiter):
                return Chunk(data, np.arange(first, first + len(lines), dtype=np.int64))
    return _parse_delimited_slowly(first, lines, columns, delimiter)


def _overflows(data: NDArray[np.float64], lines: list[str], delimiter: str) -> bool:
    """Whether a row holds a number too large for float64 (which numpy read as inf)."""
    import numpy as np

    for i in np.flatnonzero(np.isinf(data).any(axis=1)).tolist():
        cells = _cells(lines[i], delimiter)
        if isinstance(cells, str) or not all(map(_parses, cells)):
            return True
    return False


def _parse_delimited_slowly(
    first: int, lines: list[str], columns: list[str], delimiter: str
) -> Chunk:
    import numpy as np

    width = len(columns)
    rows: list[list[float]] = []
    numbers: list[int] = []
    bad: list[BadRow] = []
    for i, text in enumerate(lines):
        if not text.strip():
            continue
        line = first + i
        cells = _cells(text, delimiter)
        if isinstance(cells, str):
            bad.append(BadRow(line, cells, len(rows)))
            continue
        if len(cells) != width:
            bad.append(BadRow(line, f"expected {width} cells, got {len(cells)}", len(rows)))
            continue
        try:
            values = [parse_cell(cell) for cell in cells]
        except ValueError:
            j = next(j for j, cell in enumerate(cells) if not _parses(cell))
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
    objects = _json_line("[" + ",".join(text for _, text in present) + "]")
    rows: list[list[float]] = []
    numbers: list[int] = []
    bad: list[BadRow] = []
    for k, (line, text) in enumerate(present):
        obj = objects[k] if not isinstance(objects, _Problem) else _json_line(text)
        if isinstance(obj, _Problem):
            bad.append(BadRow(line, obj, len(rows)))
            continue
        values = _json_row(obj, columns)
        if values is _READ_EXACTLY:
            values = _json_row(_json_line(text, _EXACT), columns)
        if isinstance(values, str):
            bad.append(BadRow(line, values, len(rows)))
            continue
        rows.append(values)
        numbers.append(line)
    data = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    return Chunk(data, np.array(numbers, dtype=np.int64), bad)


def _json_row(obj: Any, columns: list[str]) -> list[float] | str:
    """The row's values in column order, or what is wrong with it."""
    if isinstance(obj, _DuplicateKeys):
        return f"duplicate key '{obj.duplicate}'"
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
        if type(value) is float and value in _INFINITIES:
            return _READ_EXACTLY  # 1e400 or 1e999? The fast decoder keeps no text.
        if isinstance(value, _TooLarge):
            return f"key '{column}': number '{value.text[:40]}' is too large for float64"
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            shown = json.dumps(value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            return f"key '{column}': expected a number, got {shown}"
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


class _Problem(str):
    """What is wrong with a JSON line, in place of its value."""


class _DuplicateKeys(dict[str, Any]):
    """An object that names a key twice (json would silently keep the last value)."""

    duplicate = ""


class _TooLarge(float):
    """A JSON number beyond float64's range, such as 1e400: inf, with the text as written."""

    text = ""


def _json_number(text: str) -> float:
    value = float(text)  # also for integers: int() refuses more than 4,300 digits
    if math.isinf(value):
        big = _TooLarge(value)
        big.text = text
        return big
    return value


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _DuplicateKeys(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


class _Infinity(float):
    """Infinity or -Infinity as JSON writes them: meant, unlike 1e400."""


def _json_constant(text: str) -> float:
    return float(text) if text == "NaN" else _Infinity(text)


# Rows are read by the fast decoder (numbers by json's C code); a line with an infinite
# number or more than 4,300 digits is read again by the exact one, which sees the text.
_FAST = json.JSONDecoder(parse_constant=_json_constant, object_pairs_hook=_json_object)
_EXACT = json.JSONDecoder(
    parse_float=_json_number,
    parse_int=_json_number,
    parse_constant=_json_constant,
    object_pairs_hook=_json_object,
)
_INFINITIES = (math.inf, -math.inf)
_READ_EXACTLY = _Problem("read the line again with the exact decoder")


def _json_line(text: str, decoder: json.JSONDecoder = _FAST) -> Any:
    """The value of a JSON text, or a _Problem that says why it has none."""
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as err:
        return _Problem(f"not JSON: {err.msg}")
    except RecursionError:
        return _Problem("JSON is nested too deeply")
    except ValueError:  # int() of more than 4,300 digits; _EXACT never calls int()
        return _json_line(text, _EXACT)
