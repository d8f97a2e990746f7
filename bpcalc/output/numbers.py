"""How numbers are written: lossless for machines, rounded for people."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bpcalc.runtime import is_fraction

if TYPE_CHECKING:
    from fractions import Fraction

TABLE_DIGITS = 12  # so the book's 3.3000000000000003 reads 3.3 in a table
TENSOR_DIGITS = 4  # tensors in a table: enough to read, short enough to fit


def number(x: float | Fraction, digits: int | None = None) -> str:
    """Shortest round-trip text of a float64 (``repr``), or ``digits`` significant digits.

    An exact ``Fraction`` (from ``--exact``) is written exactly, whatever ``digits`` says.
    """
    if type(x) is not float and is_fraction(x):
        return exact_text(x)
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if digits is None:
        return repr(x)
    return format(x, f".{digits}g")


def table_number(x: float | Fraction, digits: int | None = None) -> str:
    """``number`` for people: ``0`` rather than ``-0`` (machine formats keep -0.0 exactly)."""
    text = number(x, digits)
    return "0" if text in ("-0", "-0.0") else text


def rounded(x: float, digits: int | None) -> float:
    """The float that ``number(x, digits)`` writes."""
    return float(x) if digits is None else float(format(float(x), f".{digits}g"))


def value_text(value: Any, digits: int | None = None) -> str:
    """A float, or an array as a nested list on one line (``[[1.0, 2.0], [3.0, 4.0]]``)."""
    if isinstance(value, float | int) or is_fraction(value):
        return number(value, digits)
    return _nested(value.tolist(), digits)


def _nested(items: Any, digits: int | None) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(item, digits) for item in items) + "]"
    return number(items, digits)


def json_value(value: Any, digits: int | None = None) -> Any:
    """A float or nested lists of floats for ``json.dumps``; non-finite numbers as the strings
    "NaN", "Infinity" and "-Infinity" (the convention of JavaScript and Protocol Buffers)."""
    if value is None:
        return None
    if isinstance(value, float | int) or is_fraction(value):
        return _json_number(value, digits)
    flat = [_json_number(x, digits) for x in value.ravel().tolist()]
    for size in reversed(value.shape[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


def _json_number(x: float | Fraction, digits: int | None) -> Any:
    if type(x) is not float and is_fraction(x):
        return {"fraction": str(x), "float": float(x)}
    if math.isfinite(x):
        return rounded(float(x), digits)
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def exact_text(value: Fraction) -> str:
    """An exact decimal where one exists (``3.3``, ``715``), else the fraction (``1/3``)."""
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return f"{value.numerator}/{value.denominator}"
    # A denominator 2**a 5**b divides 10**max(a, b): that many decimal places are exact.
    places = max(twos, fives)
    digits = str(abs(value.numerator) * 10**places // value.denominator).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return sign + (f"{digits[:-places]}.{digits[-places:]}" if places else digits)
