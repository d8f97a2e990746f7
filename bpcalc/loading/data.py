"""Training data (``bpcalc train --data FILE``): arrays named after inputs, rows along axis 0.

An ``.npz`` file holds one array per input (``np.savez("data.npz", x=x, t=t)``). A CSV or TSV
file has a header naming each column: ``t`` is a column holding one number per row (a scalar
row), and ``x[0]``, ``x[1]``, ... hold the rows of a tensor input, one column per element with
its indices in brackets, row-major (``x[0][0]``, ``x[0][1]``, ``x[1][0]``, ... for rows of shape
2×2). Every element of the row shape has its column, once.

What the arrays are checked against (inputs, parameters, shapes) is the training's business
(bpcalc.analysis.train); this module reads the file and says where it is wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpcalc.errors import BpcalcError, Diagnostic, ExitStatus, UsageProblem, printable
from bpcalc.limits import Limits

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

DATA_SUFFIXES = {".npz": "npz", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
_COLUMN = re.compile(r"(?P<name>[^\[\]]+?)\s*(?P<index>(?:\[\s*\d+\s*\])+)")
_INDEX = re.compile(r"\[\s*(\d+)\s*\]")


class DataError(BpcalcError):
    """A data file that cannot be used: ``FILE[:LINE]: message`` (exit 1), as a bad row of
    a --batch file reads; a note may follow at the graph's input."""

    def render(self) -> str:
        return "\n".join(
            d.render() if d.col or not d.line else printable(f"{d.file}:{d.line}: {d.message}")
            for d in self.diagnostics
        )


class DataNameError(DataError):
    """An array or column that names no input the data can fill (exit 2, like --set)."""

    exit_status = ExitStatus.USAGE


@dataclass
class DataSet:
    """The arrays of a data file by (canonical) input name, all with the same rows."""

    file: str  # as given on the command line
    arrays: dict[str, NDArray[np.float64]]
    origin: dict[str, str]  # name -> "array 'x'" or "columns x[0]..x[1]", for messages
    header_line: int = 0  # CSV/TSV: the line of the header (to locate name problems)
    rows: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rows = next(iter(self.arrays.values())).shape[0] if self.arrays else 0

    def diagnostic(self, message: str, *, header: bool = False) -> Diagnostic:
        return Diagnostic(message, file=self.file, line=self.header_line if header else 0)


def read_data(file: str, limits: Limits) -> DataSet:
    """The arrays of an .npz, .csv or .tsv file (float64, at least 1-D)."""
    from bpcalc.loading.schema import canonical_name

    path = Path(file)
    kind = DATA_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UsageProblem(
            f"'{file}': expected an .npz, .csv or .tsv file (arrays or columns named after inputs)",
            about="data",
        )
    try:
        if not path.exists():
            raise UsageProblem(f"'{file}' does not exist", about="data")
        if not path.is_file():
            raise UsageProblem(f"'{file}' is not a regular file", about="data")
        data = (
            _read_npz(path, file, limits)
            if kind == "npz"
            else _read_table(path, file, kind, limits)
        )
    except OSError as err:
        raise UsageProblem(f"cannot read '{file}': {err.strerror or err}", about="data") from None
    renamed = DataSet(
        data.file,
        {canonical_name(k): v for k, v in data.arrays.items()},
        {canonical_name(k): v for k, v in data.origin.items()},
        data.header_line,
    )
    _check_lengths(renamed)
    return renamed


def _error(file: str, message: str, line: int = 0) -> DataError:
    return DataError([Diagnostic(message, file=file, line=line)])


def _read_npz(path: Path, file: str, limits: Limits) -> DataSet:
    import zipfile

    import numpy as np

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError):
        raise _error(file, "not an .npz file (a zip of .npy arrays, as np.savez writes)") from None
    arrays: dict[str, Any] = {}
    with archive:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            try:
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            except (ValueError, OSError, zipfile.BadZipFile, EOFError, RuntimeError):
                raise _error(file, f"array '{name}' is not a .npy array") from None
            count = math.prod(shape)
            if count > limits.max_elements:
                raise _error(
                    file,
                    f"array '{name}' has {count:,} elements, more than the limit of "
                    f"{limits.max_elements:,} (--max-elements)",
                )
            if dtype.kind not in "biuf":
                raise _error(file, f"array '{name}' holds {dtype} values; expected real numbers")
            if not shape:
                raise _error(
                    file, f"array '{name}' is a single number; data arrays have a row per sample"
                )
            if count == 0:
                raise _error(file, f"array '{name}' is empty")
            try:
                with archive.open(info) as member:
                    value = np.lib.format.read_array(member, allow_pickle=False)
            except (ValueError, OSError, zipfile.BadZipFile, EOFError, RuntimeError):
                raise _error(file, f"array '{name}' cannot be read: the file is damaged") from None
            arrays[name] = np.asarray(value, dtype=np.float64)
    if not arrays:
        raise _error(file, "the file holds no arrays")
    return DataSet(file, arrays, {name: f"array '{name}'" for name in arrays})


def _read_table(path: Path, file: str, kind: str, limits: Limits) -> DataSet:
    import numpy as np

    from bpcalc.loading.rows import RowError, RowReader

    if path.stat().st_size > limits.max_file_bytes:
        raise _error(file, f"file is larger than {limits.max_file_bytes:,} bytes (--max-file-size)")
    with open(path, "rb") as stream:
        try:
            reader = RowReader(stream, file, fmt=kind)
        except RowError as err:
            raise DataError(err.diagnostics) from None
        header_line = _header_line(path)
        layout = _layout(reader.columns, file, header_line)
        width = len(reader.columns)
        parts = []
        count = 0
        for chunk in reader.chunks():
            if chunk.bad:
                bad = chunk.bad[0]
                raise _error(file, bad.message, bad.line)
            count += chunk.data.shape[0] * width
            if count > limits.max_elements:
                raise _error(
                    file,
                    f"the file holds more than {limits.max_elements:,} numbers (--max-elements)",
                )
            parts.append(chunk.data)
    data = np.concatenate(parts) if parts else np.zeros((0, width))
    if data.shape[0] == 0:
        raise _error(file, "the file has a header but no rows", header_line)
    arrays = {}
    origin = {}
    for name, (columns, shape) in layout.items():
        arrays[name] = np.ascontiguousarray(data[:, columns].reshape(data.shape[0], *shape))
        first, last = reader.columns[columns[0]], reader.columns[columns[-1]]
        origin[name] = f"column '{first}'" if not shape else f"columns {first}..{last}"
    return DataSet(file, arrays, origin, header_line)


def _header_line(path: Path) -> int:
    """The number of the first line that is not blank (the header), as RowReader reads it."""
    with open(path, "rb") as stream:
        for number, line in enumerate(stream, 1):
            if line.strip():
                return number
    return 1


def _layout(
    columns: list[str], file: str, line: int
) -> dict[str, tuple[list[int], tuple[int, ...]]]:
    """Per input: its column numbers in row-major order and the shape of one row."""
    bare: dict[str, int] = {}
    indexed: dict[str, dict[tuple[int, ...], int]] = {}
    for j, column in enumerate(columns):
        match = _COLUMN.fullmatch(column)
        if match is None:
            if "[" in column or "]" in column:
                raise _error(
                    file,
                    f"column '{column}': write a tensor's element as NAME[i] or NAME[i][j] "
                    f"(whole numbers from 0)",
                    line,
                )
            if column in bare or column in indexed:
                raise _error(file, f"column '{column}' appears twice", line)
            bare[column] = j
            continue
        name = match.group("name").strip()
        index = tuple(int(i) for i in _INDEX.findall(match.group("index")))
        if name in bare:
            raise _error(file, f"column '{column}': '{name}' has a column of its own as well", line)
        cells = indexed.setdefault(name, {})
        if index in cells:
            raise _error(file, f"column '{column}' appears twice", line)
        if cells and len(next(iter(cells))) != len(index):
            raise _error(
                file, f"column '{column}': the columns of '{name}' differ in their indices", line
            )
        cells[index] = j
    layout: dict[str, tuple[list[int], tuple[int, ...]]] = {
        name: ([j], ()) for name, j in bare.items()
    }
    for name, cells in indexed.items():
        depth = len(next(iter(cells)))
        shape = tuple(max(index[d] for index in cells) + 1 for d in range(depth))
        order = []
        for flat in range(math.prod(shape)):
            index = _unravel(flat, shape)
            if index not in cells:
                shown = name + "".join(f"[{i}]" for i in index)
                size = "×".join(map(str, shape))
                raise _error(
                    file,
                    f"column '{shown}' is missing: the columns of '{name}' make rows of shape "
                    f"{size}, which need every element",
                    line,
                )
            order.append(cells[index])
        layout[name] = (order, shape)
    return layout


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return tuple(reversed(index))


def _check_lengths(data: DataSet) -> None:
    rows = {name: array.shape[0] for name, array in data.arrays.items()}
    first = next(iter(rows))
    for name, count in rows.items():
        if count != rows[first]:
            raise _error(
                data.file,
                f"{data.origin[name]} has {count:,} rows but {data.origin[first]} has "
                f"{rows[first]:,}; every array of the data needs the same number of rows",
            )
