"""Exact rational arithmetic for ``--exact``: the same layers' protocol over ``Fraction``.

Decimal inputs are read from their text, so ``1.1`` is 11/10 and the apple/orange graph gives
price exactly 715 and dApple exactly 11/5. Only ops that are exact over the rationals have an
exact layer (``OpSpec.exact_layer``); a graph using another op is refused by name.
Tensors are numpy arrays of ``Fraction`` (dtype object), so broadcasting works as for floats.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import numpy as np

from bpcalc.ops.indexing import numpy_key
from bpcalc.ops.protocol import BinaryLayer, LayerClass, UnaryLayer
from bpcalc.ops.shapes import reduced_axes

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
    """The sum of all elements, or over ``axis`` (kept with size 1 with ``keepdims``)."""

    def __init__(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> None:
        self.x: Any = None
        self.axis = axis
        self.keepdims = keepdims

    def _whole(self) -> bool:
        return self.axis is None and not self.keepdims

    def _count(self) -> Any:
        """How many elements each result element adds up, as a Fraction (dout may be an int)."""
        shape = np.shape(self.x)
        return Fraction(math.prod(shape[a] for a in reduced_axes(self.axis, len(shape))))

    def forward(self, x: Any) -> Any:
        self.x = x
        if not isinstance(x, np.ndarray):
            return x
        if self._whole():
            return sum(x.ravel(), ZERO)
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, dout: Any) -> Any:
        return self._spread(dout)

    def _spread(self, dout: Any) -> Any:
        if not isinstance(self.x, np.ndarray):
            return dout
        if self._whole():
            return np.full(self.x.shape, dout, dtype=object)
        d = np.asarray(dout, dtype=object)
        if not self.keepdims:
            d = np.expand_dims(d, reduced_axes(self.axis, self.x.ndim))
        return np.array(np.broadcast_to(d, self.x.shape), dtype=object)


class ExactMean(ExactSum):
    def forward(self, x: Any) -> Any:
        total = super().forward(x)
        return total / self._count() if isinstance(x, np.ndarray) else total

    def backward(self, dout: Any) -> Any:
        if isinstance(self.x, np.ndarray):
            return self._spread(dout / self._count())
        return dout


# ---- exact layers of the common ops (issue 12) ----

HALF: Any = Fraction(1, 2)


def _item(value: Any) -> Any:
    """A 0-d object array as its Fraction; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return Fraction(value.item())  # an int where dout was np.ones_like(an object array)
    return value


def _where(mask: Any, then: Any, otherwise: Any) -> Any:
    """np.where for Fractions: a Fraction when everything is one, else an object array."""
    if not any(isinstance(v, np.ndarray) for v in (mask, then, otherwise)):
        return then if mask else otherwise
    return np.where(mask, np.asarray(then, dtype=object), np.asarray(otherwise, dtype=object))


class ExactSquare:
    def __init__(self) -> None:
        self.x: Any = None

    def forward(self, x: Any) -> Any:
        self.x = x
        return x * x

    def backward(self, dout: Any) -> Any:
        return dout * 2 * self.x


class ExactAbs:
    """abs'(0) = 0, as for floats."""

    def __init__(self) -> None:
        self.x: Any = None

    def forward(self, x: Any) -> Any:
        self.x = x
        return abs(x)

    def backward(self, dout: Any) -> Any:
        x = self.x
        return _where(x > 0, dout, _where(x < 0, -dout, ZERO))


class ExactMaximum(ExactBinary):
    """On a tie each side gets half, as for floats."""

    larger = True

    def forward(self, x: Any, y: Any) -> Any:
        self.x, self.y = x, y
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            func = np.maximum if self.larger else np.minimum
            return func(np.asarray(x, dtype=object), np.asarray(y, dtype=object))
        return max(x, y) if self.larger else min(x, y)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        x, y = self.x, self.y
        wins_x, wins_y = (x > y, x < y) if self.larger else (x < y, x > y)
        tie = _where(x == y, dout * HALF, ZERO)
        dx, dy = _where(wins_x, dout, tie), _where(wins_y, dout, tie)
        shape = np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(dout))
        if shape:
            dx = np.array(np.broadcast_to(np.asarray(dx, dtype=object), shape), dtype=object)
            dy = np.array(np.broadcast_to(np.asarray(dy, dtype=object), shape), dtype=object)
        return _sum_to(dx, x), _sum_to(dy, y)


class ExactMinimum(ExactMaximum):
    larger = False


class ExactLeakyRelu:
    """The slope as its decimal text (0.01 is 1/100)."""

    def __init__(self, slope: float = 0.01) -> None:
        self.slope: Any = Fraction(repr(slope))
        self.x: Any = None

    def forward(self, x: Any) -> Any:
        self.x = x
        return _where(x > 0, x, x * self.slope)

    def backward(self, dout: Any) -> Any:
        return _where(self.x > 0, dout, dout * self.slope)


class ExactMax:
    """The gradient is split evenly among ties, as for floats."""

    larger = True

    def __init__(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> None:
        self.x: Any = None
        self.kept: Any = None
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x: Any) -> Any:
        self.x = x
        if not isinstance(x, np.ndarray):
            return x
        axes = reduced_axes(self.axis, x.ndim)
        func = np.max if self.larger else np.min
        self.kept = func(x, axis=axes, keepdims=True)
        return _item(self.kept if self.keepdims else np.squeeze(self.kept, axis=axes))

    def backward(self, dout: Any) -> Any:
        x = self.x
        if not isinstance(x, np.ndarray):
            return dout
        axes = reduced_axes(self.axis, x.ndim)
        winners = (x == self.kept).astype(bool)
        count = winners.sum(axis=axes, keepdims=True).astype(object)
        d = np.asarray(dout, dtype=object)
        if not self.keepdims:
            d = np.expand_dims(d, axes)
        share = np.broadcast_to(d / count, x.shape)
        return np.where(winners, share, np.full(x.shape, ZERO, dtype=object))


class ExactMin(ExactMax):
    larger = False


class ExactTranspose:
    def __init__(self, axes: tuple[int, ...] | None = None) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return np.transpose(x, self.axes).copy() if isinstance(x, np.ndarray) else x

    def backward(self, dout: Any) -> Any:
        if not isinstance(dout, np.ndarray):
            return dout
        inverse = None if self.axes is None else np.argsort([a % dout.ndim for a in self.axes])
        return np.transpose(dout, inverse).copy()


class ExactReshape:
    def __init__(self, shape: tuple[int, ...] | None = None) -> None:
        self.shape = shape
        self.x_shape: tuple[int, ...] = ()

    def forward(self, x: Any) -> Any:
        self.x_shape = np.shape(x)
        return _item(
            np.array(np.reshape(np.asarray(x, dtype=object), self.shape or ()), dtype=object)
        )

    def backward(self, dout: Any) -> Any:
        d = np.asarray(dout, dtype=object)
        return _item(np.array(np.reshape(d, self.x_shape), dtype=object))


class ExactFlatten:
    def __init__(self) -> None:
        self.x_shape: tuple[int, ...] = ()

    def forward(self, x: Any) -> Any:
        if not isinstance(x, np.ndarray):
            raise ValueError("flatten needs an input with at least one axis: (N, ...)")
        self.x_shape = x.shape
        return x.reshape(x.shape[0], math.prod(x.shape[1:])).copy()

    def backward(self, dout: Any) -> Any:
        return np.reshape(dout, self.x_shape).copy()


class ExactIndex:
    def __init__(self, index: str | None = None) -> None:
        self.index = index
        self.key = numpy_key(index) if index is not None else ()
        self.x_shape: tuple[int, ...] = ()

    def forward(self, x: Any) -> Any:
        self.x_shape = np.shape(x)
        return _item(np.array(np.asarray(x, dtype=object)[self.key], dtype=object))

    def backward(self, dout: Any) -> Any:
        grad = np.full(self.x_shape, ZERO, dtype=object)
        grad[self.key] = dout
        return _item(grad)


class ExactMeanSquaredError(ExactBinary):
    def forward(self, y: Any, t: Any) -> Any:
        self.x, self.y = y, t
        self.diff: Any = y - t
        if isinstance(self.diff, np.ndarray):
            return sum((self.diff * self.diff).ravel(), ZERO) / self.diff.size
        return self.diff * self.diff

    def backward(self, dout: Any) -> tuple[Any, Any]:
        g = dout * 2 * self.diff / Fraction(np.size(self.diff))
        return _sum_to(g, self.x), _sum_to(-g, self.y)


class ExactSumSquaredError(ExactBinary):
    def forward(self, y: Any, t: Any) -> Any:
        self.x, self.y = y, t
        self.diff: Any = y - t
        if isinstance(self.diff, np.ndarray):
            return HALF * sum((self.diff * self.diff).ravel(), ZERO)
        return HALF * self.diff * self.diff

    def backward(self, dout: Any) -> tuple[Any, Any]:
        g = dout * self.diff
        return _sum_to(g, self.x), _sum_to(-g, self.y)


def _exact_layers() -> dict[str, LayerClass]:
    """Each exact op's layer, named by its spec (OpSpec.exact_layer), checked for size."""
    from bpcalc.ops.table import OPS

    module = globals()
    return {spec.name: bounded(module[spec.exact_layer]) for spec in OPS.values() if spec.exact}


EXACT_LAYERS: dict[str, LayerClass] = _exact_layers()

# mypy checks each exact layer against the protocol of its arity.
UNARY: tuple[type[UnaryLayer], ...] = (
    ExactNeg,
    ExactIdentity,
    ExactRelu,
    ExactSum,
    ExactMean,
    ExactSquare,
    ExactAbs,
    ExactLeakyRelu,
    ExactMax,
    ExactMin,
    ExactTranspose,
    ExactReshape,
    ExactFlatten,
    ExactIndex,
)
BINARY: tuple[type[BinaryLayer], ...] = (
    ExactAdd,
    ExactSub,
    ExactMul,
    ExactDiv,
    ExactPow,
    ExactMaximum,
    ExactMinimum,
    ExactMeanSquaredError,
    ExactSumSquaredError,
)
