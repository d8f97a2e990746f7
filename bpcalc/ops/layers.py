"""Layers in the style of *Deep Learning from Scratch*, chapter 5.

Every layer has ``forward(*inputs)``, which keeps what the backward pass needs, and
``backward(dout)``, which returns the gradient for each input: a single value for a layer with
one input, a tuple otherwise (the book's ``Affine`` and ``SoftmaxWithLoss`` return only ``dx``;
here they return one gradient per input too, and keep ``dW``/``db`` as attributes as well).

Values are Python floats or float64 numpy arrays; scalars stay floats because numpy scalars
are several times slower per operation. The layers of scalar graphs declare ``__slots__``
(set by ``forward``): one is made per node on every evaluation, and without a ``__dict__`` it
is made and freed faster. Conventions follow PyTorch: relu'(0) = 0, broadcast
gradients are summed back to each input's shape, and ``dout`` is never modified in place.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from bpcalc.ops.protocol import BinaryLayer, TernaryLayer, UnaryLayer
from bpcalc.runtime import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy", globals(), "np")  # a graph of floats never imports numpy

Value = Any  # float | np.ndarray


# bpcalc.runtime.is_array again: `bpcalc export --standalone` copies this module's helpers.
def _is_array(value: Value) -> bool:
    """Whether ``value`` is a numpy array, without importing numpy: no array exists before
    numpy is imported."""
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _sum_to(grad: Value, like: Value) -> Value:
    """Sum a broadcast gradient back to the shape of ``like`` (PyTorch's ``sum_to_size``)."""
    if _is_array(like):
        if not _is_array(grad):
            return np.full(like.shape, float(grad))
        if grad.shape == like.shape:
            return grad
        extra = grad.ndim - like.ndim
        axes = tuple(range(extra)) + tuple(
            extra + i for i, n in enumerate(like.shape) if n == 1 and grad.shape[extra + i] != 1
        )
        return grad.sum(axis=axes).reshape(like.shape) if axes else grad.reshape(like.shape)
    if _is_array(grad):
        return float(grad.sum())
    return grad


def _scalar(value: Value) -> Value:
    """A 0-d array or numpy scalar as a Python float; anything else unchanged."""
    numpy = sys.modules.get("numpy")
    if numpy is None:  # then no value is an array or a numpy scalar
        return value
    if isinstance(value, numpy.ndarray):
        return float(value) if value.ndim == 0 else value
    return float(value) if isinstance(value, numpy.floating) else value


def _np(func: Any, *args: Value) -> Value:
    """Apply a numpy ufunc with IEEE results (inf, nan) instead of Python exceptions."""
    with np.errstate(all="ignore"):
        return _scalar(func(*args))


def _is_scalar(value: Value) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is None or not isinstance(value, numpy.ndarray)


def _div(x: Value, y: Value) -> Value:
    try:
        return x / y
    except ZeroDivisionError:
        return _np(np.divide, np.float64(x), np.float64(y))


class MulLayer:
    """z = x * y; the gradients are the inputs swapped."""

    __slots__ = ("x", "y")
    x: Value
    y: Value

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout: Value) -> tuple[Value, Value]:
        x, y = self.x, self.y
        if type(dout) is float and type(x) is float and type(y) is float:
            return dout * y, dout * x  # what _sum_to returns for floats, without the calls
        return _sum_to(dout * y, x), _sum_to(dout * x, y)


class AddLayer:
    """z = x + y; the gradient passes through unchanged."""

    __slots__ = ("x", "y")
    x: Value
    y: Value

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        return x + y

    def backward(self, dout: Value) -> tuple[Value, Value]:
        x, y = self.x, self.y
        if type(dout) is float and type(x) is float and type(y) is float:
            return dout, dout
        return _sum_to(dout, x), _sum_to(dout, y)


class SubLayer:
    """z = x - y."""

    __slots__ = ("x", "y")
    x: Value
    y: Value

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        return x - y

    def backward(self, dout: Value) -> tuple[Value, Value]:
        x, y = self.x, self.y
        if type(dout) is float and type(x) is float and type(y) is float:
            return dout, -dout
        return _sum_to(dout, x), _sum_to(-dout, y)


class DivLayer:
    """z = x / y; dz/dx = 1/y, dz/dy = -x/y**2 = -z/y."""

    __slots__ = ("out", "x", "y")
    y: Value
    x: Value
    out: Value

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        self.out = _div(x, y)
        return self.out

    def backward(self, dout: Value) -> tuple[Value, Value]:
        dx = _sum_to(_div(dout, self.y), self.x)
        dy = _sum_to(-_div(dout * self.out, self.y), self.y)
        return dx, dy


class PowLayer:
    """z = x ** y, where the exponent may be a node too: dz/dy = x**y ln x."""

    x: Value = None
    y: Value = None
    out: Value = None

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        if _is_scalar(x) and _is_scalar(y):
            try:
                out = x**y
                if isinstance(out, float):
                    self.out = out
                    return out
            except (OverflowError, ZeroDivisionError):
                pass
        self.out = _np(np.power, np.float64(x) if _is_scalar(x) else x, y)
        return self.out

    def backward(self, dout: Value) -> tuple[Value, Value]:
        x = np.asarray(self.x, dtype=np.float64)
        y = np.asarray(self.y, dtype=np.float64)
        out = np.asarray(self.out, dtype=np.float64)
        with np.errstate(all="ignore"):
            # PyTorch's masks: d/dx is 0 where y == 0 (avoids 0 * inf at x == 0), and
            # d/dy is 0 where x == 0 and y >= 0 (the limit of x**y ln x).
            dx = np.where(y == 0, 0.0, dout * y * np.power(x, y - 1))
            dy = np.where((x == 0) & (y >= 0), 0.0, dout * out * np.log(x))
        return _sum_to(_scalar(dx), self.x), _sum_to(_scalar(dy), self.y)


class MatMulLayer:
    """z = x @ y with numpy's rules for 1-D and stacked operands."""

    x: Value = None
    y: Value = None
    # Which inputs want a gradient, when the engine says (None: all); the others' are None.
    needs_input_grad: tuple[bool, ...] | None = None

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        return _scalar(np.matmul(x, y))

    def backward(self, dout: Value) -> tuple[Value, Value]:
        return _matmul_grads(self.x, self.y, dout, self.needs_input_grad)


def _matmul_grads(
    x: Value, y: Value, dout: Value, needs: tuple[bool, ...] | None = None
) -> tuple[Value, Value]:
    """Gradients of x @ y, promoting 1-D operands to matrices the way matmul does; None for
    one that ``needs`` says is not wanted."""
    x, y = np.asarray(x), np.asarray(y)
    x2 = x[np.newaxis, :] if x.ndim == 1 else x
    y2 = y[:, np.newaxis] if y.ndim == 1 else y
    d2 = np.asarray(dout, dtype=np.float64)
    # Restore the dropped axes, the column first: for vector @ vector dout is 0-d.
    if y.ndim == 1:
        d2 = np.expand_dims(d2, -1)
    if x.ndim == 1:
        d2 = np.expand_dims(d2, -2)
    dx = dy = None
    if needs is None or needs[0]:
        dx = _sum_to(d2 @ np.swapaxes(y2, -1, -2), x2).reshape(x.shape)
    if needs is None or needs[1]:
        dy = _sum_to(np.swapaxes(x2, -1, -2) @ d2, y2).reshape(y.shape)
    return dx, dy


class NegLayer:
    """z = -x."""

    __slots__ = ()

    def forward(self, x: Value) -> Value:
        return -x

    def backward(self, dout: Value) -> Value:
        return -dout


class IdentityLayer:
    """z = x: a node defined as another node's name."""

    __slots__ = ()

    def forward(self, x: Value) -> Value:
        return x

    def backward(self, dout: Value) -> Value:
        return dout


class ExpLayer:
    """z = exp(x); dz/dx = z."""

    __slots__ = ("out",)
    out: Value

    def forward(self, x: Value) -> Value:
        if _is_scalar(x):
            try:
                self.out = math.exp(x)
            except OverflowError:
                self.out = math.inf
        else:
            self.out = np.exp(x)
        return self.out

    def backward(self, dout: Value) -> Value:
        return dout * self.out


class LogLayer:
    """z = ln(x); dz/dx = 1/x."""

    __slots__ = ("x",)
    x: Value

    def forward(self, x: Value) -> Value:
        self.x = x
        if _is_scalar(x):
            return math.log(x) if x > 0 else _np(np.log, np.float64(x))
        return np.log(x)

    def backward(self, dout: Value) -> Value:
        return _div(dout, self.x)


class TanhLayer:
    """z = tanh(x); dz/dx = 1 - z**2."""

    __slots__ = ("out",)
    out: Value

    def forward(self, x: Value) -> Value:
        self.out = math.tanh(x) if type(x) is float or _is_scalar(x) else np.tanh(x)
        return self.out

    def backward(self, dout: Value) -> Value:
        return dout * (1.0 - self.out * self.out)


class Relu:
    """z = max(x, 0); relu'(0) = 0 as in PyTorch. Works on floats, unlike the book's."""

    __slots__ = ("mask",)
    mask: Value  # True where x <= 0

    def forward(self, x: Value) -> Value:
        self.mask = x <= 0
        if _is_scalar(x):
            return 0.0 if self.mask else x
        return np.where(self.mask, 0.0, x)

    def backward(self, dout: Value) -> Value:
        if _is_scalar(self.mask):
            return 0.0 if self.mask else dout  # not 0 * dout: that is nan for dout = inf
        return np.where(self.mask, 0.0, dout)


class Sigmoid:
    """z = 1 / (1 + exp(-x)), computed without overflow; dz/dx = z (1 - z)."""

    __slots__ = ("out",)
    out: Value

    def forward(self, x: Value) -> Value:
        if _is_scalar(x):
            if x >= 0:
                out = 1.0 / (1.0 + math.exp(-x))
            else:
                e = math.exp(x)
                out = e / (1.0 + e)
        else:
            # exp(-|x|) never overflows; pick the form that divides by a number >= 1.
            e = np.exp(-np.abs(x))
            out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        self.out = out
        return out

    def backward(self, dout: Value) -> Value:
        return dout * (1.0 - self.out) * self.out


class SumLayer:
    """z = the sum of all elements of x, or over ``axis`` (kept with size 1 with ``keepdims``)."""

    x: Value = None
    axis: int | tuple[int, ...] | None = None
    keepdims: bool = False

    def __init__(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> None:
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x: Value) -> Value:
        self.x = x
        if self.axis is None and not self.keepdims:
            return x if _is_scalar(x) else float(np.sum(x))
        return _scalar(np.sum(x, axis=self.axis, keepdims=self.keepdims))

    def backward(self, dout: Value) -> Value:
        if self.axis is None and not self.keepdims:
            return _sum_to(dout, self.x)
        return _spread(dout, self.x, self.axis, self.keepdims)


class MeanLayer(SumLayer):
    """z = the mean of all elements of x, or over ``axis``; dz/dx = 1 / (elements averaged)."""

    def forward(self, x: Value) -> Value:
        self.x = x
        if self.axis is None and not self.keepdims:
            return x if _is_scalar(x) else float(np.mean(x))
        return _scalar(np.mean(x, axis=self.axis, keepdims=self.keepdims))

    def backward(self, dout: Value) -> Value:
        if self.axis is None and not self.keepdims:
            if _is_scalar(self.x):
                return dout
            return np.full(self.x.shape, dout / self.x.size)
        shape = np.shape(self.x)
        count = math.prod(shape[a] for a in _axes(self.axis, len(shape)))
        return _spread(dout / count, self.x, self.axis, self.keepdims)


def _axes(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """The reduced axes, counted from 0 (the size check has refused any out of range)."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _spread(dout: Value, x: Value, axis: int | tuple[int, ...] | None, keepdims: bool) -> Value:
    """A reduction's gradient: ``dout`` broadcast back over the reduced axes to x's shape."""
    shape = np.shape(x)
    if not shape:
        return float(dout)
    d = np.asarray(dout, dtype=np.float64)
    if not keepdims:
        d = np.expand_dims(d, _axes(axis, len(shape)))
    return np.array(np.broadcast_to(d, shape))  # a copy: a gradient may be added to in place


class Affine:
    """z = x @ W + b for a batch of rows x (or one sample, 1-D); db is summed over the batch.

    As the book's Affine, an x of more than 2 dimensions (an (N, C, H, W) batch of images) is
    flattened to (N, -1) first, and dx reshaped back to x's shape.
    """

    x: Value = None
    W: Value = None
    b: Value = None
    dW: Value = None
    db: Value = None
    original_x_shape: tuple[int, ...] | None = None  # set when x was flattened
    _xw: Value = None
    # Which inputs want a gradient, when the engine says (None: all); the others' are None.
    needs_input_grad: tuple[bool, ...] | None = None

    def forward(self, x: Value, W: Value, b: Value) -> Value:
        if isinstance(x, np.ndarray) and x.ndim > 2:
            self.original_x_shape = x.shape
            x = x.reshape(x.shape[0], -1)
        self.x = x
        self.W = W
        self.b = b
        self._xw = np.matmul(x, W)
        return _scalar(self._xw + b)

    def backward(self, dout: Value) -> tuple[Value, Value, Value]:
        needs = self.needs_input_grad
        dx, self.dW = _matmul_grads(self.x, self.W, _sum_to(dout, self._xw), needs)
        self.db = _sum_to(dout, self.b) if needs is None or needs[2] else None
        if self.original_x_shape is not None and dx is not None:
            dx = dx.reshape(self.original_x_shape)
        return dx, self.dW, self.db


class SoftmaxWithLoss:
    """Mean cross-entropy of softmax(x) against labels t, as ``torch.nn.functional.cross_entropy``.

    Rows of x are samples (a 1-D x is a batch of one). t is either one-hot or probability rows
    shaped like x, or class indices with one entry per sample. The log-softmax is computed
    stably, so no ``1e-7`` is needed inside the log.
    """

    loss: Value = None
    y: Value = None  # softmax output
    t: Value = None
    _logp: Any = None
    _targets: Any = None  # probability rows, shaped like the batch
    _x_shape: tuple[int, ...] = ()
    # Which inputs want a gradient, when the engine says (None: all); the others' are None.
    needs_input_grad: tuple[bool, ...] | None = None

    def forward(self, x: Value, t: Value) -> Value:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim not in (1, 2):
            raise ValueError(f"softmax_with_loss: x must be 1-D or 2-D, got shape {x.shape}")
        self._x_shape = x.shape
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        n, classes = x2.shape
        shifted = x2 - x2.max(axis=1, keepdims=True)
        self._logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.t = t
        self._targets = self._target_rows(np.asarray(t, dtype=np.float64), x.shape, n, classes)
        self.y = np.exp(self._logp)
        self.loss = float(-(self._targets * self._logp).sum() / n)
        return self.loss

    @staticmethod
    def _target_rows(t: Any, x_shape: tuple[int, ...], n: int, classes: int) -> Any:
        if t.shape == x_shape:
            return t.reshape(n, classes)
        # One index per sample: t of shape (N,) for x (N, C), and () or (1,) for a 1-D x.
        if t.size == n and (t.ndim == len(x_shape) - 1 or (len(x_shape) == 1 and t.ndim == 1)):
            idx = t.reshape(n)
            if not np.all((idx == np.round(idx)) & (idx >= 0) & (idx < classes)):
                raise ValueError(
                    f"softmax_with_loss: class indices must be whole numbers in 0..{classes - 1}"
                )
            rows = np.zeros((n, classes))
            rows[np.arange(n), idx.astype(np.intp)] = 1.0
            return rows
        raise ValueError(
            f"softmax_with_loss: labels of shape {t.shape} fit neither one-hot rows "
            f"{x_shape} nor class indices for {n} sample(s)"
        )

    def backward(self, dout: Value = 1.0) -> tuple[Value, Value]:
        n = self._logp.shape[0]
        weight = self._targets.sum(axis=1, keepdims=True)  # 1 for one-hot rows
        dx = (self.y * weight - self._targets) * (dout / n)
        t_shape = np.shape(self.t)
        if self.needs_input_grad is not None and not self.needs_input_grad[1]:
            dt = None
        elif t_shape == self._x_shape:
            dt = _scalar((-self._logp * (dout / n)).reshape(t_shape))
        else:
            # Loss is piecewise constant in a class index: its derivative is 0 where it exists.
            dt = np.zeros(t_shape) if t_shape else 0.0
        return dx.reshape(self._x_shape), dt


# ---- the common ops (issue 12): elementwise functions, reductions, layout, softmax, losses ----


def _unary(scalar_func: Any, ufunc: str, x: Value) -> Value:
    """``math`` on a float (IEEE inf or nan where math raises), the numpy ufunc named
    ``ufunc`` on an array (named, so that a float that math takes never imports numpy)."""
    if _is_scalar(x):
        try:
            return float(scalar_func(x))
        except (ValueError, OverflowError):
            return _np(getattr(np, ufunc), np.float64(x))
    return _np(getattr(np, ufunc), x)


def _pick(mask: Value, dout: Value, other: Value) -> Value:
    """``dout`` where ``mask``, else ``other`` (a float for floats), never ``0 * dout``."""
    if _is_scalar(mask) and _is_scalar(dout):
        return dout if mask else other
    return _scalar(np.where(mask, dout, other))


class SqrtLayer:
    """z = sqrt(x); dz/dx = 1 / (2 z), inf at 0 (PyTorch)."""

    __slots__ = ("out",)
    out: Value

    def forward(self, x: Value) -> Value:
        self.out = _unary(math.sqrt, "sqrt", x)
        return self.out

    def backward(self, dout: Value) -> Value:
        return _div(dout, 2.0 * self.out)


class SquareLayer:
    """z = x ** 2; dz/dx = 2x."""

    __slots__ = ("x",)
    x: Value

    def forward(self, x: Value) -> Value:
        self.x = x
        return x * x

    def backward(self, dout: Value) -> Value:
        return dout * 2.0 * self.x


class AbsLayer:
    """z = |x|; dz/dx = sign(x), 0 at 0 (PyTorch)."""

    __slots__ = ("x",)
    x: Value

    def forward(self, x: Value) -> Value:
        self.x = x
        return abs(x) if _is_scalar(x) else np.abs(x)

    def backward(self, dout: Value) -> Value:
        x = self.x
        if _is_scalar(x) and _is_scalar(dout):
            return dout if x > 0 else -dout if x < 0 else 0.0 if x == 0 else math.nan
        return _pick(x > 0, dout, np.where(x < 0, -dout, np.where(x == 0, 0.0, np.nan)))


class SinLayer:
    """z = sin(x); dz/dx = cos(x)."""

    __slots__ = ("x",)
    x: Value

    def forward(self, x: Value) -> Value:
        self.x = x
        return _unary(math.sin, "sin", x)

    def backward(self, dout: Value) -> Value:
        return dout * _unary(math.cos, "cos", self.x)


class CosLayer:
    """z = cos(x); dz/dx = -sin(x)."""

    __slots__ = ("x",)
    x: Value

    def forward(self, x: Value) -> Value:
        self.x = x
        return _unary(math.cos, "cos", x)

    def backward(self, dout: Value) -> Value:
        return dout * -_unary(math.sin, "sin", self.x)


class MaximumLayer:
    """z = max(x, y) elementwise (NaN if either is); on a tie each side gets half (PyTorch)."""

    x: Value = None
    y: Value = None
    larger = True  # maximum; False: minimum

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        return _np(np.maximum if self.larger else np.minimum, x, y)

    def backward(self, dout: Value) -> tuple[Value, Value]:
        x, y = self.x, self.y
        wins_x, wins_y = (x > y, x < y) if self.larger else (x < y, x > y)
        tie = x == y
        dx = _pick(wins_x, dout, _pick(tie, dout * 0.5, 0.0))
        dy = _pick(wins_y, dout, _pick(tie, dout * 0.5, 0.0))
        return _sum_to(_shaped(dx, x, y, dout), x), _sum_to(_shaped(dy, x, y, dout), y)


class MinimumLayer(MaximumLayer):
    """z = min(x, y) elementwise; on a tie each side gets half (PyTorch)."""

    larger = False


def _shaped(grad: Value, *operands: Value) -> Value:
    """``grad`` broadcast to the shape of all ``operands`` together (a float stays a float)."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in operands))
    if np.shape(grad) == shape:
        return grad
    return np.array(np.broadcast_to(grad, shape))


class LeakyRelu:
    """z = x if x > 0 else slope * x; dz/dx = slope at 0 and below (PyTorch)."""

    x: Value = None

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = slope

    def forward(self, x: Value) -> Value:
        self.x = x
        if _is_scalar(x):
            return x if x > 0 else self.slope * x
        return np.where(x > 0, x, self.slope * x)

    def backward(self, dout: Value) -> Value:
        return _pick(self.x > 0, dout, dout * self.slope)


class Softplus:
    """z = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable; dz/dx = sigmoid(x)."""

    x: Value = None

    def forward(self, x: Value) -> Value:
        self.x = x
        if _is_scalar(x):
            if math.isinf(x):
                return x if x > 0 else 0.0
            return max(x, 0.0) + math.log1p(math.exp(-abs(x))) if x == x else x
        return _np(lambda v: np.maximum(v, 0.0) + np.log1p(np.exp(-np.abs(v))), x)

    def backward(self, dout: Value) -> Value:
        sigmoid = Sigmoid()
        return dout * sigmoid.forward(self.x)


class MaxLayer:
    """z = the largest element of x, or over ``axis``; the gradient is split evenly among the
    elements equal to it (PyTorch's amax)."""

    x: Value = None
    axis: int | tuple[int, ...] | None = None
    keepdims: bool = False
    _kept: Value = None  # the result with the reduced axes kept, to compare x with
    larger = True  # max; False: min

    def __init__(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> None:
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x: Value) -> Value:
        self.x = x
        if _is_scalar(x):
            return x
        axes = _axes(self.axis, x.ndim)
        self._kept = (np.max if self.larger else np.min)(x, axis=axes, keepdims=True)
        return _scalar(self._kept if self.keepdims else np.squeeze(self._kept, axis=axes))

    def backward(self, dout: Value) -> Value:
        x = self.x
        if _is_scalar(x):
            return dout
        axes = _axes(self.axis, x.ndim)
        winners = x == self._kept
        count = winners.sum(axis=axes, keepdims=True)
        d = np.asarray(dout, dtype=np.float64)
        if not self.keepdims:
            d = np.expand_dims(d, axes)
        with np.errstate(all="ignore"):
            return np.where(winners, d / count, 0.0)


class MinLayer(MaxLayer):
    """z = the smallest element of x, or over ``axis``; ties split the gradient evenly."""

    larger = False


class TransposeLayer:
    """z = x with its axes reversed, or permuted as ``axes`` lists them (numpy.transpose)."""

    def __init__(self, axes: tuple[int, ...] | None = None) -> None:
        self.axes = axes

    def forward(self, x: Value) -> Value:
        if _is_scalar(x):
            return x
        return np.transpose(x, self.axes).copy()

    def backward(self, dout: Value) -> Value:
        if _is_scalar(dout):
            return dout
        inverse = None if self.axes is None else np.argsort([a % dout.ndim for a in self.axes])
        return np.transpose(dout, inverse).copy()


class ReshapeLayer:
    """z = x reshaped to ``shape`` (one -1 allowed); the gradient is dout reshaped back."""

    x_shape: tuple[int, ...] = ()

    def __init__(self, shape: tuple[int, ...] | None = None) -> None:
        self.shape = shape

    def forward(self, x: Value) -> Value:
        self.x_shape = np.shape(x)
        return _scalar(np.array(np.reshape(x, self.shape or ())))

    def backward(self, dout: Value) -> Value:
        return _scalar(np.array(np.reshape(dout, self.x_shape)))


class FlattenLayer:
    """z = x.reshape(x.shape[0], -1), as the book's Affine flattens a batch; dx reshaped back."""

    x_shape: tuple[int, ...] = ()

    def forward(self, x: Value) -> Value:
        if _is_scalar(x):
            raise ValueError("flatten needs an input with at least one axis: (N, ...)")
        self.x_shape = x.shape
        return x.reshape(x.shape[0], math.prod(x.shape[1:])).copy()

    def backward(self, dout: Value) -> Value:
        return np.reshape(dout, self.x_shape).copy()


def _index_key(text: str) -> tuple[int | slice, ...]:
    """``"[:, 1]"`` (canonical, as the loader checked it) as numpy's key ``(slice(None), 1)``."""
    key: list[int | slice] = []
    for part in text.strip()[1:-1].split(","):
        if ":" in part:
            key.append(slice(*(int(p) if p.strip() else None for p in part.split(":"))))
        else:
            key.append(int(part))
    return tuple(key)


class IndexLayer:
    """z = x[index] for a constant index (``x[0]``, ``x[:, 1]``, ``x[0:2]``, ``x[:, ::2]``); the
    gradient is dout scattered back into zeros shaped like x."""

    x_shape: tuple[int, ...] = ()

    def __init__(self, index: str | None = None) -> None:
        self.index = index
        self.key = _index_key(index) if index is not None else ()

    def forward(self, x: Value) -> Value:
        self.x_shape = np.shape(x)
        return _scalar(np.array(np.asarray(x)[self.key]))

    def backward(self, dout: Value) -> Value:
        grad = np.zeros(self.x_shape)
        grad[self.key] = dout
        return _scalar(grad)


class Softmax:
    """z = exp(x) / sum(exp(x)) over ``axis`` (the last by default), computed stably;
    dx = z * (dout - sum(dout * z))."""

    out: Value = None

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Value) -> Value:
        if _is_scalar(x):
            self.out = 1.0 if x == x else math.nan
            return self.out
        with np.errstate(all="ignore"):
            e = np.exp(x - x.max(axis=self.axis, keepdims=True))
            self.out = e / e.sum(axis=self.axis, keepdims=True)
        return self.out

    def backward(self, dout: Value) -> Value:
        if _is_scalar(self.out):
            return 0.0 * dout if _is_scalar(dout) else np.zeros(np.shape(dout))
        y = self.out
        return y * (dout - (dout * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax:
    """z = x - log(sum(exp(x))) over ``axis`` (the last by default), computed stably;
    dx = dout - softmax(x) * sum(dout)."""

    out: Value = None

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Value) -> Value:
        if _is_scalar(x):
            self.out = 0.0 if x == x else math.nan
            return self.out
        with np.errstate(all="ignore"):
            shifted = x - x.max(axis=self.axis, keepdims=True)
            self.out = shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))
        return self.out

    def backward(self, dout: Value) -> Value:
        if _is_scalar(self.out):
            return 0.0 * dout if _is_scalar(dout) else np.zeros(np.shape(dout))
        return dout - np.exp(self.out) * np.sum(dout, axis=self.axis, keepdims=True)


class MeanSquaredError:
    """z = mean((y - t) ** 2) over the broadcast elements (PyTorch's mse_loss)."""

    y: Value = None
    t: Value = None
    diff: Value = None

    def forward(self, y: Value, t: Value) -> Value:
        self.y, self.t = y, t
        self.diff = y - t
        return float(np.mean(self.diff * self.diff))

    def backward(self, dout: Value) -> tuple[Value, Value]:
        g = dout * 2.0 * self.diff / np.size(self.diff)
        return _sum_to(g, self.y), _sum_to(-g, self.t)


class SumSquaredError:
    """z = 0.5 * sum((y - t) ** 2), the book's chapter 4 loss; dy = y - t, dt = t - y."""

    y: Value = None
    t: Value = None
    diff: Value = None

    def forward(self, y: Value, t: Value) -> Value:
        self.y, self.t = y, t
        self.diff = y - t
        return 0.5 * float(np.sum(self.diff * self.diff))

    def backward(self, dout: Value) -> tuple[Value, Value]:
        g = dout * self.diff
        return _sum_to(g, self.y), _sum_to(-g, self.t)


class CrossEntropyError:
    """The book's chapter 4 ``cross_entropy_error``: ``-sum(t * log(y + 1e-7)) / N`` with
    one-hot (or probability) rows t shaped like y, or ``-sum(log(y[i, t[i]] + 1e-7)) / N`` with
    class indices t; N = y.shape[0], and a 1-D y is a batch of one. y holds probabilities
    (a softmax's output), not logits."""

    y: Value = None
    t: Value = None
    _rows: Any = None  # the labels as rows shaped like y (one-hot for class indices)
    _n: int = 1

    def forward(self, y: Value, t: Value) -> Value:
        ya = np.asarray(y, dtype=np.float64)
        ta = np.asarray(t, dtype=np.float64)
        self.y, self.t = y, t
        self._n = ya.shape[0] if ya.ndim >= 2 else 1
        if ta.shape == ya.shape:
            self._rows = ta
        elif ya.ndim in (1, 2) and ta.size == self._n and ta.ndim == ya.ndim - 1:
            y2 = ya.reshape(self._n, -1)
            classes = y2.shape[1]
            index = ta.reshape(self._n)
            if not np.all((index == np.round(index)) & (index >= 0) & (index < classes)):
                raise ValueError(
                    f"cross_entropy_error: class indices must be whole numbers in 0..{classes - 1}"
                )
            rows = np.zeros(y2.shape)
            rows[np.arange(self._n), index.astype(np.intp)] = 1.0
            self._rows = rows.reshape(ya.shape)
        else:
            raise ValueError(
                f"cross_entropy_error: labels of shape {ta.shape} fit neither one-hot rows "
                f"{ya.shape} nor class indices for {self._n} sample(s)"
            )
        with np.errstate(all="ignore"):
            return float(-np.sum(self._rows * np.log(ya + 1e-7)) / self._n)

    def backward(self, dout: Value) -> tuple[Value, Value]:
        ya = np.asarray(self.y, dtype=np.float64)
        with np.errstate(all="ignore"):
            dy = _scalar(-self._rows / (ya + 1e-7) * (dout / self._n))
            if np.shape(self.t) == ya.shape:
                dt = _scalar(-np.log(ya + 1e-7) * (dout / self._n))
            else:
                # The loss is piecewise constant in a class index: its derivative is 0.
                dt = np.zeros(np.shape(self.t)) if np.shape(self.t) else 0.0
        return dy, dt


# mypy checks each layer against the protocol of its arity; a test checks every op is here.
UNARY: tuple[type[UnaryLayer], ...] = (
    NegLayer,
    IdentityLayer,
    ExpLayer,
    LogLayer,
    TanhLayer,
    Relu,
    Sigmoid,
    SumLayer,
    MeanLayer,
    SqrtLayer,
    SquareLayer,
    AbsLayer,
    SinLayer,
    CosLayer,
    LeakyRelu,
    Softplus,
    MaxLayer,
    MinLayer,
    TransposeLayer,
    ReshapeLayer,
    FlattenLayer,
    IndexLayer,
    Softmax,
    LogSoftmax,
)
BINARY: tuple[type[BinaryLayer], ...] = (
    AddLayer,
    SubLayer,
    MulLayer,
    DivLayer,
    PowLayer,
    MatMulLayer,
    SoftmaxWithLoss,
    MaximumLayer,
    MinimumLayer,
    MeanSquaredError,
    SumSquaredError,
    CrossEntropyError,
)
TERNARY: tuple[type[TernaryLayer], ...] = (Affine,)
