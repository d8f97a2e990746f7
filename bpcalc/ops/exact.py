"""Exact rational arithmetic for ``--exact``: the same layers' protocol over ``Fraction``.

Decimal inputs are read from their text, so ``1.1`` is 11/10 and the apple/orange graph gives
price exactly 715 and dApple exactly 11/5. Only ops that are exact over the rationals have an
exact layer (``OpSpec.exact_layer``); a graph using another op is refused by name.
Tensors are numpy arrays of ``Fraction`` (dtype object), so broadcasting works as for floats.
"""

from __future__ import annotations

import math
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


class NotExact(ValueError):
    """A value or op that has no exact rational form."""


def _bits(value: Any) -> int:
    """The size of the largest Fraction in a value, gradient or tuple of them."""
    if isinstance(value, Fraction):
        return value.numerator.bit_length() + value.denominator.bit_length()
    if isinstance(value, tuple):
        return max(map(_bits, value))
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return max((_bits(v) for v in value.ravel()), default=0)
    return 0


def _bounded(result: Any) -> Any:
    if _bits(result) > MAX_BITS:
        raise NotExact(f"an exact value grew past {MAX_BITS:,} bits; drop --exact for this graph")
    return result


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


def to_fraction(text: str) -> Fraction:
    """A number's exact value from its text (``"1.1"`` is 11/10); no NaN or infinity."""
    try:
        return Fraction(text.strip().replace("_", ""))
    except (ValueError, ZeroDivisionError):
        raise NotExact(f"'{text}' has no exact rational value") from None


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
    while stack:
        source, target = stack.pop()
        for item in source:
            if isinstance(item, list):
                child: list[Any] = []
                target.append(child)
                stack.append((item, child))
            else:
                target.append(to_fraction(item))
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
    """x ** n for a whole-number constant n (a node exponent would need ln x)."""

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
        # d/dn x**n = x**n ln x is irrational in general; n is a constant, so no one asks.
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
