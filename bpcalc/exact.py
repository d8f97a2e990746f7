"""Exact rational arithmetic for ``--exact``: the same layers' protocol over ``Fraction``.

Decimal inputs are read from their text, so ``1.1`` is 11/10 and the apple/orange graph gives
price exactly 715 and dApple exactly 11/5. Only ops that are exact over the rationals have an
exact layer (``registry.OpSpec.exact``); a graph using another op is refused by name.
Tensors are numpy arrays of ``Fraction`` (dtype object), so broadcasting works as for floats.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import numpy as np

ZERO: Any = Fraction(0)  # typed Any: numpy stubs do not know Fraction
ONE: Any = Fraction(1)


# Numerator and denominator together: past this, exact arithmetic would crawl (x ** 10**8).
MAX_BITS = 100_000
# All the numbers of one value together (16 MB): 20,000 copies of 1e-30000 in a 200 KB file
# would otherwise hold 250 MB of integers and print 600 MB of digits.
MAX_TOTAL_BITS = 2**27


class NotExact(ValueError):
    """A value or op that has no exact rational form."""


def _bits(value: Any) -> int:
    """The size of the largest Fraction in a value, gradient or tuple of them."""
    return _sizes(value)[0]


def _sizes(value: Any) -> tuple[int, int]:
    """The size of the largest Fraction in a value, gradient or tuple of them, and the
    largest total over the Fractions of one value."""
    if isinstance(value, Fraction):
        size = value.numerator.bit_length() + value.denominator.bit_length()
        return size, size
    if isinstance(value, tuple):
        sizes = [_sizes(v) for v in value]
        return max(s[0] for s in sizes), max(s[1] for s in sizes)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        each = [_sizes(v)[0] for v in value.ravel()]
        return max(each, default=0), sum(each)
    return 0, 0


def _bounded(result: Any) -> Any:
    largest, total = _sizes(result)
    if largest > MAX_BITS:
        raise NotExact(f"an exact value grew past {MAX_BITS:,} bits; drop --exact for this graph")
    if total > MAX_TOTAL_BITS:
        raise _too_many_bits()
    return result


def _too_many_bits() -> NotExact:
    return NotExact(
        f"the exact numbers of one value grew past {MAX_TOTAL_BITS:,} bits together; "
        f"drop --exact for this graph"
    )


def bounded(cls: type) -> type:
    """Check the size of everything an exact layer's forward and backward return."""
    forward, backward = cls.forward, cls.backward  # type: ignore[attr-defined]

    def checked_forward(self: Any, *args: Any) -> Any:
        return _bounded(forward(self, *args))

    def checked_backward(self: Any, dout: Any) -> Any:
        return _bounded(backward(self, dout))

    cls.forward = checked_forward  # type: ignore[attr-defined]
    cls.backward = checked_backward  # type: ignore[attr-defined]
    return cls


# A decimal as numbers.parse_number accepts it (ASCII digits, underscores already removed).
_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
_LOG2_10 = math.log2(10)
_STR_DIGITS = 4000  # below Python's 4,300-digit limit on int(str)


def to_fraction(text: str) -> Fraction:
    """A number's exact value from its text (``"1.1"`` is 11/10); no NaN or infinity.

    The size is bounded from the text before anything is built: ``1e-999999999`` would
    otherwise make Fraction compute 10**999999999 (a hang), long before MAX_BITS applies.
    """
    stripped = text.strip().replace("_", "")
    match = _DECIMAL.fullmatch(stripped)
    if match is None or not (match[2] or match[3]):
        raise NotExact(f"'{_shown(text)}' has no exact rational value")
    sign, whole, fraction, exponent_text = match[1], match[2], match[3] or "", match[4] or "0"
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return Fraction(0)
    significant = digits.rstrip("0")
    if len(exponent_text.lstrip("+-").lstrip("0")) > 12:
        raise _too_big(text)
    exponent = int(exponent_text) - len(fraction) + len(digits) - len(significant)
    # Numerator and denominator together have at most about this many decimal digits.
    if (len(significant) + abs(exponent)) * _LOG2_10 > MAX_BITS:
        raise _too_big(text)
    mantissa = _whole(significant) * (-1 if sign == "-" else 1)
    if exponent >= 0:
        return Fraction(mantissa * 10**exponent)
    return Fraction(mantissa, 10**-exponent)


def _whole(digits: str) -> int:
    """int(digits), in pieces below Python's limit on converting long decimal strings."""
    value = 0
    for start in range(0, len(digits), _STR_DIGITS):
        piece = digits[start : start + _STR_DIGITS]
        value = value * 10 ** len(piece) + int(piece)
    return value


def _shown(text: str) -> str:
    stripped = text.strip()
    return stripped if len(stripped) <= 40 else stripped[:37] + "..."


def _too_big(text: str) -> NotExact:
    return NotExact(
        f"number '{_shown(text)}' needs more than {MAX_BITS:,} bits as an exact fraction; "
        f"drop --exact for this graph"
    )


def exact_value(raw: Any) -> Any:
    """An input's plain data (as read from the file or --set) as a Fraction or object array."""
    if isinstance(raw, str):
        return to_fraction(raw)
    if isinstance(raw, list):
        array = np.array(_map_nested(raw), dtype=object)
        return array
    if isinstance(raw, dict):
        for kind, fill in (("zeros", ZERO), ("ones", ONE)):
            if kind in raw:
                shape = raw[kind] if isinstance(raw[kind], list) else [raw[kind]]
                return np.full(tuple(int(s) for s in shape), fill, dtype=object)
        if "value" in raw:
            return exact_value(raw["value"])
        kind = next(k for k in ("file", "random") if k in raw)
        raise NotExact(f"a '{kind}:' input has no exact decimal text")
    raise NotExact(f"{raw!r} has no exact value")


def _map_nested(raw: list[Any]) -> list[Any]:
    """Convert the numbers of a (rectangular, already checked) nested list, iteratively."""
    result: list[Any] = []
    stack = [(raw, result)]
    total = 0  # bits so far: each number is bounded, and so are all of them together
    while stack:
        source, target = stack.pop()
        for item in source:
            if isinstance(item, list):
                child: list[Any] = []
                target.append(child)
                stack.append((item, child))
            else:
                number = to_fraction(item)
                total += number.numerator.bit_length() + number.denominator.bit_length()
                if total > MAX_TOTAL_BITS:
                    raise _too_many_bits()
                target.append(number)
    return result


def _sum_to(grad: Any, like: Any) -> Any:
    """Sum a broadcast gradient back to the shape of ``like``, keeping Fractions exact."""
    if isinstance(like, np.ndarray):
        if not isinstance(grad, np.ndarray):
            return np.full(like.shape, grad, dtype=object)
        extra = grad.ndim - like.ndim
        axes = tuple(range(extra)) + tuple(
            extra + i for i, n in enumerate(like.shape) if n == 1 and grad.shape[extra + i] != 1
        )
        return grad.sum(axis=axes).reshape(like.shape) if axes else grad.reshape(like.shape)
    if isinstance(grad, np.ndarray):
        return sum(grad.ravel(), ZERO)
    return grad


def is_zero(value: Any) -> bool:
    return bool(np.all(value == 0))


class ExactBinary:
    """Shared state of two-input exact layers."""

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None


class ExactAdd(ExactBinary):
    def forward(self, x: Any, y: Any) -> Any:
        self.x, self.y = x, y
        return x + y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return _sum_to(dout, self.x), _sum_to(dout, self.y)


class ExactSub(ExactBinary):
    def forward(self, x: Any, y: Any) -> Any:
        self.x, self.y = x, y
        return x - y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return _sum_to(dout, self.x), _sum_to(-dout, self.y)


class ExactMul(ExactBinary):
    def forward(self, x: Any, y: Any) -> Any:
        self.x, self.y = x, y
        return x * y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return _sum_to(dout * self.y, self.x), _sum_to(dout * self.x, self.y)


class ExactDiv(ExactBinary):
    def forward(self, x: Any, y: Any) -> Any:
        if is_zero(y) if not isinstance(y, np.ndarray) else bool(np.any(y == 0)):
            raise ZeroDivisionError("division by zero has no exact value")
        self.x, self.y = x, y
        return x / y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return _sum_to(dout / self.y, self.x), _sum_to(-dout * self.x / (self.y * self.y), self.y)


class ExactPow(ExactBinary):
    """x ** n for a whole-number n: a number, or an input with ``grad: false`` (graph.py refuses
    any other name as exponent, whose gradient x**n ln x would not be rational)."""

    def forward(self, x: Any, y: Any) -> Any:
        if isinstance(y, np.ndarray) or Fraction(y).denominator != 1:
            raise NotExact("pow is exact only with a whole-number exponent")
        if y < 0 and (is_zero(x) if not isinstance(x, np.ndarray) else bool(np.any(x == 0))):
            raise ZeroDivisionError("0 to a negative power has no exact value")
        if abs(int(y)) * _bits(x) > MAX_BITS:
            raise NotExact(f"x ** {int(y)} would grow past {MAX_BITS:,} bits; drop --exact")
        self.x, self.y = x, int(y)
        return x**self.y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        n = self.y
        dx = dout * n * self.x ** (n - 1) if n != 0 else dout * ZERO * self.x
        # d/dn x**n = x**n ln x is irrational in general; n is never differentiated (above).
        return _sum_to(dx, self.x), ZERO


class ExactNeg:
    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, dout: Any) -> Any:
        return -dout


class ExactIdentity:
    def forward(self, x: Any) -> Any:
        return x

    def backward(self, dout: Any) -> Any:
        return dout


class ExactRelu:
    """relu'(0) = 0, as for floats."""

    def __init__(self) -> None:
        self.mask: Any = None

    def forward(self, x: Any) -> Any:
        self.mask = x <= 0
        if isinstance(x, np.ndarray):
            return np.where(self.mask, ZERO, x)
        return ZERO if self.mask else x

    def backward(self, dout: Any) -> Any:
        if isinstance(self.mask, np.ndarray):
            return np.where(self.mask, ZERO, dout)
        return ZERO if self.mask else dout


class ExactSum:
    def __init__(self) -> None:
        self.x: Any = None

    def forward(self, x: Any) -> Any:
        self.x = x
        return sum(x.ravel(), ZERO) if isinstance(x, np.ndarray) else x

    def backward(self, dout: Any) -> Any:
        return np.full(self.x.shape, dout, dtype=object) if isinstance(self.x, np.ndarray) else dout


class ExactMean(ExactSum):
    def forward(self, x: Any) -> Any:
        self.x = x
        return sum(x.ravel(), ZERO) / x.size if isinstance(x, np.ndarray) else x

    def backward(self, dout: Any) -> Any:
        if isinstance(self.x, np.ndarray):
            return np.full(self.x.shape, dout / self.x.size, dtype=object)
        return dout


EXACT_LAYERS: dict[str, type] = {
    name: bounded(cls)
    for name, cls in {
        "add": ExactAdd,
        "sub": ExactSub,
        "mul": ExactMul,
        "div": ExactDiv,
        "pow": ExactPow,
        "neg": ExactNeg,
        "identity": ExactIdentity,
        "relu": ExactRelu,
        "sum": ExactSum,
        "mean": ExactMean,
    }.items()
}
