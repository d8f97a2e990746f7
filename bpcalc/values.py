"""Input values: numbers, nested lists, and ``{value|file|zeros|ones|random: ...}`` mappings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpcalc.errors import did_you_mean
from bpcalc.limits import Limits
from bpcalc.numbers import NotANumber, parse_number

SOURCES = ("value", "file", "zeros", "ones", "random")
OPTIONS = ("grad", "seed", "scale")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


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
    raw: Any, *, base_dir: Path, limits: Limits, allow_outside_files: bool = False
) -> InputValue:
    """Turn an input's plain data (text, lists, mappings) into a float or float64 array."""
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


def _too_many(count: int, limits: Limits) -> str:
    return (
        f"tensor of {count:,} elements exceeds the limit of {limits.max_elements:,} "
        f"(--max-elements)"
    )


def _read_mapping(
    raw: dict[str, Any], base_dir: Path, limits: Limits, allow_outside_files: bool
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
    for i, item in enumerate(items):
        path = (*where, i) if isinstance(raw, list) else where
        text = item.replace("_", "") if isinstance(item, str) else ""  # 1_000, as elsewhere
        if not text.strip().isdigit() or int(text) == 0:
            raise InputError(
                f"a shape is a positive whole number or a list of them, "
                f"got {_describe(item) if not text else repr(item)}",
                path,
            )
        shape.append(int(text))
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
    if not isinstance(seed_text, str) or not seed_text.strip().isdigit():
        raise InputError(f"seed must be a whole number >= 0, got {_describe(seed_text)}", ("seed",))
    scale = read_literal(raw.get("scale", "1"), limits, ("scale",))
    if not isinstance(scale, float):
        raise InputError("scale must be a number", ("scale",))
    rng = np.random.default_rng(int(seed_text))
    return rng.standard_normal(shape) * scale


def _read_file(raw: Any, base_dir: Path, limits: Limits, allow_outside_files: bool) -> Any:
    import numpy as np

    if not isinstance(raw, str) or not raw.strip():
        raise InputError("file: expects a path", ("file",))
    path = (base_dir / raw).resolve()
    if not allow_outside_files and not path.is_relative_to(base_dir.resolve()):
        raise InputError(
            f"file '{raw}' is outside the graph's folder; pass --allow-outside-files to read it",
            ("file",),
        )
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv", ".txt"):
        raise InputError(f"file '{raw}': expected a .npy, .csv or .txt file", ("file",))
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False, mmap_mode="r")
            if array.size > limits.max_elements:
                raise InputError(_too_many(array.size, limits), ("file",))
            array = np.asarray(array, dtype=np.float64)
        else:
            if path.stat().st_size > limits.max_file_bytes:
                raise InputError(
                    f"file '{raw}' is larger than {limits.max_file_bytes:,} "
                    f"bytes (--max-file-size)",
                    ("file",),
                )
            array = np.loadtxt(
                path, delimiter="," if suffix == ".csv" else None, dtype=np.float64, ndmin=1
            )
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"file '{raw}' does not exist (looked for {path})", ("file",)) from None
    except (OSError, ValueError, TypeError) as err:
        raise InputError(f"cannot read file '{raw}': {err}", ("file",)) from None
    if array.size == 0:
        raise InputError(f"file '{raw}' holds no numbers", ("file",))
    return float(array.reshape(())) if array.ndim == 0 else np.array(array)
