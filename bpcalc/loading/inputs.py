"""Input values: numbers, nested lists, and ``{value|file|zeros|ones|random: ...}`` mappings."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpcalc.errors import did_you_mean
from bpcalc.limits import Limits
from bpcalc.loading.literals import NotANumber, parse_number

SOURCES = ("value", "file", "zeros", "ones", "random")
OPTIONS = ("grad", "seed", "scale")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
MAX_DIMENSIONS = 32  # numpy allows 64; a value nested deeper is a mistake or an attack
MAX_SEED_DIGITS = 1000


class InputError(Exception):
    """A bad input value; ``where`` is the path below the input's value that is at fault
    (its key, with ``key=True``)."""

    def __init__(
        self, message: str, where: tuple[str | int, ...] = (), *, key: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.key = key


@dataclass(frozen=True)
class InputValue:
    """An input's value and whether its gradient is wanted."""

    value: Any  # float | np.ndarray
    grad: bool = True
    source: Any = None  # the plain data it was read from: --exact reads decimals from it


def read_input(
    raw: Any, *, base_dir: Path | None, limits: Limits, allow_outside_files: bool = False
) -> InputValue:
    """Turn an input's plain data (text, lists, mappings) into a float or float64 array.

    ``base_dir`` is the folder ``file:`` paths are relative to; None (a graph read from stdin
    or a string) refuses ``file:`` inputs, rather than guess the current folder.
    """
    if isinstance(raw, dict):
        return _read_mapping(raw, base_dir, limits, allow_outside_files)
    return InputValue(read_literal(raw, limits), source=raw)


def read_literal(raw: Any, limits: Limits, where: tuple[str | int, ...] = ()) -> Any:
    """A number or a rectangular nested list of numbers."""
    if isinstance(raw, list):
        return _read_array(raw, limits, where)
    if isinstance(raw, str):
        try:
            return parse_number(raw).value
        except NotANumber as err:
            raise InputError(err.message, where) from None
    if isinstance(raw, dict):
        raise InputError("expected a number or a list of numbers, got a mapping", where)
    raise InputError(f"expected a number, got {_describe(raw)}", where)


def _describe(raw: Any) -> str:
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list | dict):
        return "a list" if isinstance(raw, list) else "a mapping"
    return repr(raw)


def _read_array(raw: list[Any], limits: Limits, where: tuple[str | int, ...]) -> Any:
    """Check the nesting is rectangular, iteratively, then build one float64 array."""
    import numpy as np

    shape: list[int] = []
    level: list[tuple[Any, tuple[str | int, ...]]] = [(raw, where)]
    while level and isinstance(level[0][0], list):
        width = len(level[0][0])
        for item, path in level:
            if not isinstance(item, list) or len(item) != width:
                size = len(item) if isinstance(item, list) else "a number"
                raise InputError(f"ragged list: expected {width} items here, got {size}", path)
        shape.append(width)
        if len(shape) > MAX_DIMENSIONS:
            raise InputError(_too_deep(), where)
        if math.prod(shape) > limits.max_elements:
            raise InputError(_too_many(math.prod(shape), limits), where)
        level = [(child, (*path, i)) for item, path in level for i, child in enumerate(item)]
    if not shape or 0 in shape:
        raise InputError("an empty list is not a value", where)
    flat = []
    for item, path in level:
        if isinstance(item, list | dict) or not isinstance(item, str):
            raise InputError(
                f"ragged list: expected a number here, got {_describe(item)}"
                if not isinstance(item, list | dict)
                else "ragged list: expected a number here, got a list or mapping",
                path,
            )
        try:
            flat.append(parse_number(item).value)
        except NotANumber as err:
            raise InputError(err.message, path) from None
    return np.array(flat, dtype=np.float64).reshape(shape)


def _too_deep(dimensions: int | None = None) -> str:
    if dimensions is None:
        return (
            f"lists nested more than {MAX_DIMENSIONS} deep; a value has at most "
            f"{MAX_DIMENSIONS} dimensions"
        )
    return f"a shape has at most {MAX_DIMENSIONS} dimensions, got {dimensions}"


def _digits(raw: Any) -> str | None:
    """The ASCII digits of a whole number >= 0 as written (``1_000`` allowed), or None."""
    if not isinstance(raw, str):
        return None
    digits = raw.strip().replace("_", "")
    return digits if digits.isascii() and digits.isdigit() else None


def _too_many(count: int, limits: Limits) -> str:
    return (
        f"tensor of {count:,} elements exceeds the limit of {limits.max_elements:,} "
        f"(--max-elements)"
    )


def _read_mapping(
    raw: dict[str, Any], base_dir: Path | None, limits: Limits, allow_outside_files: bool
) -> InputValue:
    for key in raw:
        if key not in SOURCES and key not in OPTIONS:
            raise InputError(
                f"unknown key '{key}'{did_you_mean(key, SOURCES + OPTIONS)}; "
                f"an input mapping takes one of {', '.join(SOURCES)}",
                (key,),
                key=True,
            )
    given = [key for key in SOURCES if key in raw]
    if len(given) != 1:
        raise InputError(
            "an input mapping needs exactly one of "
            + ", ".join(SOURCES)
            + (f" (got {', '.join(given)})" if given else "")
        )
    kind = given[0]
    for option in ("seed", "scale"):
        if option in raw and kind != "random":
            raise InputError(f"'{option}' only goes with 'random'", (option,), key=True)
    grad = _read_bool(raw["grad"], ("grad",)) if "grad" in raw else True
    body = raw[kind]
    if kind == "value":
        value = read_literal(body, limits, (kind,))
    elif kind == "file":
        value = _read_file(body, base_dir, limits, allow_outside_files)
    else:
        value = _generate(kind, raw, limits)
    return InputValue(value, grad, source=raw)


def _read_bool(raw: Any, where: tuple[str | int, ...]) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _BOOLS:
        return _BOOLS[raw.lower()]
    raise InputError(f"expected true or false, got {_describe(raw)}", where)


def read_shape(raw: Any, limits: Limits, where: tuple[str | int, ...]) -> tuple[int, ...]:
    items = raw if isinstance(raw, list) else [raw]
    shape = []
    if len(items) > MAX_DIMENSIONS:
        raise InputError(_too_deep(len(items)), where)
    for i, item in enumerate(items):
        path = (*where, i) if isinstance(raw, list) else where
        digits = _digits(item)
        if digits is None or not digits.strip("0"):
            raise InputError(
                f"a shape is a positive whole number or a list of them, "
                f"got {repr(item) if isinstance(item, str) else _describe(item)}",
                path,
            )
        digits = digits.lstrip("0")
        if len(digits) > 30:  # more than any memory holds; and never int() 5,000 digits
            shown = digits if len(digits) <= 20 else digits[:17] + "..."
            raise InputError(
                f"a dimension of {shown} exceeds the limit of {limits.max_elements:,} "
                f"elements (--max-elements)",
                path,
            )
        shape.append(int(digits))
    if not shape:
        raise InputError("a shape needs at least one dimension", where)
    if math.prod(shape) > limits.max_elements:
        raise InputError(_too_many(math.prod(shape), limits), where)
    return tuple(shape)


def _generate(kind: str, raw: dict[str, Any], limits: Limits) -> Any:
    import numpy as np

    shape = read_shape(raw[kind], limits, (kind,))
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "ones":
        return np.ones(shape)
    seed_text = raw.get("seed", "0")
    seed = _digits(seed_text)
    if seed is None:
        shown = repr(seed_text) if isinstance(seed_text, str) else _describe(seed_text)
        raise InputError(f"seed must be a whole number >= 0, got {shown}", ("seed",))
    if len(seed) > MAX_SEED_DIGITS:
        raise InputError(f"seed has more than {MAX_SEED_DIGITS:,} digits", ("seed",))
    scale = read_literal(raw.get("scale", "1"), limits, ("scale",))
    if not isinstance(scale, float):
        raise InputError("scale must be a number", ("scale",))
    rng = np.random.default_rng(int(seed))
    return rng.standard_normal(shape) * scale


def _read_file(raw: Any, base_dir: Path | None, limits: Limits, allow_outside_files: bool) -> Any:
    import numpy as np

    if not isinstance(raw, str) or not raw.strip():
        raise InputError("file: expects a path", ("file",))
    if "\0" in raw:
        raise InputError("file: a path cannot contain a NUL character", ("file",))
    if base_dir is None:
        # A graph piped in (`curl ... | bpcalc run -`) must not read files below wherever
        # the command happens to run: it names its folder, or reads no files.
        raise InputError(
            f"file '{raw}': a graph read from stdin has no folder for its files; "
            f"pass --base-dir DIR to read them from DIR",
            ("file",),
        )
    try:
        path = (base_dir / raw).resolve()  # symlinks followed: a link cannot lead outside
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        raise InputError(f"cannot read file '{raw}': a symlink loop", ("file",)) from None
    if not allow_outside_files and not path.is_relative_to(base_dir.resolve()):
        raise InputError(
            f"file '{raw}' is outside the graph's folder; pass --allow-outside-files to read it",
            ("file",),
        )
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv", ".txt"):
        raise InputError(f"file '{raw}': expected a .npy, .csv or .txt file", ("file",))
    try:
        if path.exists() and not path.is_file():
            # A directory fails to open; a fifo or a device would block or never end.
            raise InputError(f"file '{raw}' is not a regular file", ("file",))
        with warnings.catch_warnings():  # numpy's warnings; the problems are reported below
            warnings.simplefilter("ignore")
            array = _load_array(path, suffix, limits, raw)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"file '{raw}' does not exist (looked for {path})", ("file",)) from None
    except OSError as err:
        raise InputError(f"cannot read file '{raw}': {err.strerror or err}", ("file",)) from None
    except EOFError:  # numpy's for a .npy file of 0 bytes (click would print 'Aborted!')
        raise InputError(f"cannot read file '{raw}': the file is empty", ("file",)) from None
    except (ValueError, TypeError, ArithmeticError):
        reason = _reason(suffix, path)
        raise InputError(f"cannot read file '{raw}': {reason}", ("file",)) from None
    if array.size == 0:
        raise InputError(f"file '{raw}' holds no numbers", ("file",))
    return float(array.reshape(())) if array.ndim == 0 else np.array(array)


def _reason(suffix: str, path: Path) -> str:
    """Why a data file cannot be read: where and what kind of problem, never the file's text
    (numpy's messages quote the cell, which may be a secret in a file the graph points at)."""
    if suffix == ".npy":  # numpy's reasons name its internals, and suggest unpickling
        return "not a .npy file of numbers (pickled Python objects are never loaded)"
    return _locate_problem(path, suffix) or "not a table of numbers"


def _data_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The lines of a .csv or .txt file that hold data, as numpy reads them: 1-based line
    numbers, comments (#) removed, blank lines skipped. Lazily: a huge file is never split
    into a list."""
    number = 0
    with open(path, "rb") as file:
        for chunk in file:
            for line in chunk.splitlines():  # a lone CR ends a line too, as numpy reads it
                number += 1
                data = line.split(b"#", 1)[0].strip()
                if data:
                    yield number, data


def _fields(line: bytes, suffix: str) -> Iterator[bytes]:
    """The cells of a data line, one at a time (a line may hold millions)."""
    if suffix != ".csv":
        for match in re.finditer(rb"\S+", line):
            yield match.group()
        return
    start = 0
    while True:
        end = line.find(b",", start)
        yield line[start:] if end < 0 else line[start:end]
        if end < 0:
            return
        start = end + 1


def _count_fields(line: bytes, suffix: str) -> int:
    if suffix == ".csv":
        return line.count(b",") + 1
    return sum(1 for _ in re.finditer(rb"\S+", line))


def _is_number(field: bytes) -> bool:
    text = field.strip()
    if not text or not text.isascii() or b"_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _locate_problem(path: Path, suffix: str) -> str | None:
    """The first line and column numpy cannot read, said by position and kind only."""
    width: tuple[int, int] | None = None  # (line, columns) of the first data line
    try:
        for number, line in _data_lines(path):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return f"line {number} is not UTF-8 text"
            count = 0
            for count, field in enumerate(_fields(line, suffix), 1):
                if not _is_number(field):
                    return f"line {number}, column {count} is not a number"
            if width is None:
                width = (number, count)
            elif count != width[1]:
                return f"line {number} has {_columns(count)}, line {width[0]} has {width[1]:,}"
    except OSError:
        return None
    return None


def _columns(count: int) -> str:
    return f"{count:,} column{'s' * (count != 1)}"


def _rows_to_read(path: Path, suffix: str, limits: Limits) -> int | None:
    """For a .csv or .txt file that might hold more numbers than --max-elements: the most
    rows numpy needs to read to tell (0: the first line alone has too many), or None when
    the file is too small to hold too many."""
    # n numbers need at least 2n - 1 bytes (a character each and a separator between).
    if (path.stat().st_size + 1) // 2 <= limits.max_elements:
        return None
    first = next(_data_lines(path), None)
    if first is None:
        return None
    columns = _count_fields(first[1], suffix)
    return 0 if columns > limits.max_elements else limits.max_elements // columns + 1


def _load_array(path: Path, suffix: str, limits: Limits, raw: str) -> Any:
    """A data file's numbers as float64, its size checked before they are read."""
    import numpy as np

    if suffix == ".npy":
        array = np.load(path, allow_pickle=False, mmap_mode="r")  # mapped: nothing read yet
        if array.size > limits.max_elements:
            raise InputError(_too_many(array.size, limits), ("file",))
        if array.dtype.kind not in "biuf":  # complex would lose its imaginary part
            raise InputError(
                f"file '{raw}' holds {array.dtype} values; expected real numbers", ("file",)
            )
        return np.asarray(array, dtype=np.float64)
    if path.stat().st_size > limits.max_file_bytes:
        raise InputError(
            f"file '{raw}' is larger than {limits.max_file_bytes:,} bytes (--max-file-size)",
            ("file",),
        )
    max_rows = _rows_to_read(path, suffix, limits)
    too_many = InputError(
        f"file '{raw}' holds more than {limits.max_elements:,} numbers; the limit is "
        f"{limits.max_elements:,} (--max-elements)",
        ("file",),
    )
    if max_rows == 0:
        raise too_many
    array = np.loadtxt(
        path,
        delimiter="," if suffix == ".csv" else None,
        dtype=np.float64,
        ndmin=1,
        max_rows=max_rows,
    )
    if array.size > limits.max_elements:  # read only up to the limit, then stopped
        raise too_many
    return array
