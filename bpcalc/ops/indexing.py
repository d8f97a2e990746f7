"""Constant indices of the ``index`` op: ``x[0]``, ``x[:, 1]``, ``x[0:2]``, ``x[:, ::2]``.

An index is kept as its canonical text (``"[:, 1]"``): hashable, printable by trace and draw, and
written as it reads into exported scripts. Pure Python (no numpy): the loader checks indices.
Each entry is a whole number (the axis is dropped, as in numpy) or a slice
``start:stop:step`` of whole numbers, each part optional; basic indexing only, numpy's semantics.
"""

from __future__ import annotations

from collections.abc import Sequence

from bpcalc.ops.spec import Shape, ShapeError

Slice = tuple[int | None, int | None, int | None]
Entry = int | Slice
FORMS = "whole numbers and slices such as [0], [-1], [:, 1], [1, 2], [0:2] or [:, ::2]"


class IndexProblem(ValueError):
    """Text that is not a constant index; the message says why."""


def _whole(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    body = text[1:] if text[0] in "+-" else text
    if not body.isdigit() or not body.isascii() or len(body) > 18:
        raise IndexProblem(f"must hold {FORMS}")
    return int(text)


def parse_index(raw: object) -> tuple[Entry, ...]:
    """The entries of an index written as text (``"[:, 1]"``, brackets optional), a whole
    number (``0``) or a list of whole numbers (``[1, 2]``, as YAML reads ``index: [1, 2]``)."""
    if isinstance(raw, bool):
        raise IndexProblem(f"must hold {FORMS}")
    if isinstance(raw, int):
        return (raw,)
    if isinstance(raw, list | tuple):  # index: [1, 2], or [":", 1] from YAML's [:, 1]
        if any(isinstance(v, bool) or not isinstance(v, int | str) for v in raw):
            raise IndexProblem(f"must hold {FORMS}")
        raw = ", ".join(map(str, raw))
    if not isinstance(raw, str):
        raise IndexProblem(f"must hold {FORMS}")
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text.strip():
        raise IndexProblem("needs at least one entry, such as [0]")
    entries: list[Entry] = []
    for part in text.split(","):
        if ":" in part:
            pieces = part.split(":")
            if len(pieces) > 3:
                raise IndexProblem(f"must hold {FORMS}")
            start, stop, step = (*map(_whole, pieces), None, None)[:3]
            if step == 0:
                raise IndexProblem("has a slice step of 0")
            entries.append((start, stop, step))
        else:
            number = _whole(part)
            if number is None:
                raise IndexProblem(f"must hold {FORMS}")
            entries.append(number)
    return tuple(entries)


def _part(value: int | None) -> str:
    return "" if value is None else str(value)


def index_text(entries: Sequence[Entry]) -> str:
    """The canonical text: ``[:, 1]``, ``[0:2]``, ``[::2]``, ``[-1]``."""
    words = []
    for entry in entries:
        if isinstance(entry, int):
            words.append(str(entry))
        else:
            start, stop, step = entry
            word = f"{_part(start)}:{_part(stop)}"
            words.append(word if step is None else f"{word}:{step}")
    return "[" + ", ".join(words) + "]"


def canonical_index(raw: object) -> str:
    """``raw`` checked and written canonically; IndexProblem when it is not an index."""
    return index_text(parse_index(raw))


def index_shape(shape: Shape, text: str) -> Shape:
    """The shape of ``x[index]`` for x of ``shape``; ShapeError for an index that does not fit."""
    entries = parse_index(text)
    if len(entries) > len(shape):
        what = "a scalar" if not shape else f"an input of shape {list(shape)}"
        raise ShapeError(
            f"index {text} has {len(entries)} entr{'ies' if len(entries) != 1 else 'y'} for {what}"
        )
    result: list[int] = []
    for axis, (entry, size) in enumerate(zip(entries, shape, strict=False)):
        if isinstance(entry, int):
            if not -size <= entry < size:
                raise ShapeError(
                    f"index {entry} is out of range for axis {axis} with size {size} "
                    f"(in {text}; valid: {-size}..{size - 1})"
                )
        else:
            result.append(len(range(*slice(*entry).indices(size))))
    return (*result, *shape[len(entries) :])


def numpy_key(text: str) -> tuple[int | slice, ...]:
    """The key numpy indexes with: ``"[:, 1]"`` is ``(slice(None), 1)``."""
    return tuple(e if isinstance(e, int) else slice(*e) for e in parse_index(text))
