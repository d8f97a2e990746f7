"""How numbers are written: lossless for machines, rounded for people."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bpcalc.runtime import is_fraction

if TYPE_CHECKING:
    from fractions import Fraction

TABLE_DIGITS = 12  # so the book's 3.3000000000000003 reads 3.3 in a table
TENSOR_DIGITS = 4  # tensors in a table: enough to read, short enough to fit
_LOG2_5 = math.log2(5)


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
    """The float that ``number(x, digits)`` writes; ``x`` itself when that text is past
    float64's range (1.797e308 to 3 digits is 1.8e+308, which reads back as infinity), since a
    machine format must not turn a finite number into an infinite one."""
    if digits is None:
        return float(x)
    shown = float(format(float(x), f".{digits}g"))
    return shown if math.isfinite(shown) or not math.isfinite(x) else float(x)


def machine_number(x: float | Fraction, digits: int | None = None) -> str:
    """``number`` for machine formats (TSV, CSV): ``repr`` of a finite float whose rounding to
    ``digits`` would read back as infinity (see ``rounded``)."""
    text = number(x, digits)
    if digits is not None and text.endswith("e+308") and math.isinf(float(text)):
        return repr(float(x))
    return text


def value_text(value: Any, digits: int | None = None) -> str:
    """A float, or an array as a nested list on one line (``[[1.0, 2.0], [3.0, 4.0]]``)."""
    if type(value) is float and digits is None:
        return repr(value)  # what number() writes for every float, nan and inf included
    if isinstance(value, float | int) or is_fraction(value):
        return machine_number(value, digits)
    return _nested(value.tolist(), digits)


def value_texts(values: Mapping[str, Any], names: Sequence[str], digits: int | None) -> list[str]:
    """``value_text`` of the value of each of ``names``, "" for None (an input without a
    gradient): repr of each, in one pass, when they are all floats and nothing is rounded."""
    items = list(values.values()) if list(values) == list(names) else [values[n] for n in names]
    if digits is None and set(map(type, items)) <= _FLOAT_OR_NONE:
        return ["" if item is None else repr(item) for item in items]
    return ["" if item is None else value_text(item, digits) for item in items]


def _nested(items: Any, digits: int | None) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(item, digits) for item in items) + "]"
    return machine_number(items, digits)


def json_value(value: Any, digits: int | None = None) -> Any:
    """A float or nested lists of floats for ``json.dumps``; non-finite numbers as the strings
    "NaN", "Infinity" and "-Infinity" (the convention of JavaScript and Protocol Buffers)."""
    if value is None:
        return None
    if isinstance(value, float | int) or is_fraction(value):
        return _json_number(value, digits)
    flat = value.ravel().tolist()
    if digits is not None or not _finite_floats(flat):
        flat = [_json_number(x, digits) for x in flat]
    for size in reversed(value.shape[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


def json_values(
    values: Mapping[str, Any], names: Sequence[str], digits: int | None = None
) -> dict[str, Any]:
    """``json_value`` of the value of each of ``names``, by name: the values themselves when
    they are all finite floats (or None) and ``digits`` rounds nothing, since json.dumps
    writes a float as repr does, which is what _json_number gives for a finite float."""
    in_order = list(values) == list(names)  # as an evaluation's are: no lookup per name
    items = list(values.values()) if in_order else [values[name] for name in names]
    if digits is None and _finite_floats(items):
        return dict(zip(names, items, strict=True))
    return {name: json_value(item, digits) for name, item in zip(names, items, strict=True)}


def _finite_floats(items: list[Any]) -> bool:
    """Whether every item is a finite float (not a subclass, such as numpy.float64) or None:
    a sum is finite only if every term is (inf and nan propagate); a sum that overflows says
    no too, and the caller takes the slow path."""
    return set(map(type, items)) <= _FLOAT_OR_NONE and math.isfinite(sum(filter(None, items)))


_FLOAT_OR_NONE = {float, type(None)}


def _json_number(x: float | Fraction, digits: int | None) -> Any:
    if type(x) is not float and is_fraction(x):
        try:
            approx: Any = float(x)
        except OverflowError:  # an exact value past float64's range
            approx = "Infinity" if x > 0 else "-Infinity"
        return {"fraction": fraction_text(x), "float": approx}
    if math.isfinite(x):
        return rounded(float(x), digits)
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def exact_text(value: Fraction) -> str:
    """An exact decimal where one exists (``3.3``, ``715``), else the fraction (``1/3``)."""
    denominator = value.denominator
    twos = (denominator & -denominator).bit_length() - 1
    fives = _power_of_five(denominator >> twos)
    if fives is None:
        return fraction_text(value)
    # A denominator 2**a 5**b divides 10**max(a, b): that many decimal places are exact.
    places = max(twos, fives)
    scaled = abs(value.numerator) * 5 ** (places - fives) << (places - twos)
    digits = _int_text(scaled).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return sign + (f"{digits[:-places]}.{digits[-places:]}" if places else digits)


def _power_of_five(n: int) -> int | None:
    """k if n == 5**k, else None; from n's size, not by dividing by 5 again and again (which
    is quadratic for a denominator such as 10**30000)."""
    if n == 1:
        return 0
    if n % 5:
        return None
    guess = int((n.bit_length() - 1) / _LOG2_5)
    for k in (guess, guess + 1, guess - 1):
        if k > 0 and 5**k == n:
            return k
    return None


def fraction_text(value: Fraction) -> str:
    """``p/q``, or ``p`` for a whole number, as ``str(Fraction)`` writes it, at any size."""
    if value.denominator == 1:
        return _int_text(value.numerator)
    return f"{_int_text(value.numerator)}/{_int_text(value.denominator)}"


def _int_text(n: int) -> str:
    """str(n), also past Python's 4,300-digit limit on converting ints to text (an exact value
    may have up to bpcalc.ops.exact.MAX_BITS bits): decimal converts without that limit."""
    if n.bit_length() < 14_000:  # 4,214 digits at most
        return str(n)
    from decimal import Decimal  # already imported: fractions imports it

    return str(Decimal(n))
