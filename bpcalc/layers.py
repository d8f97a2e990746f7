"""Layers in the style of *Deep Learning from Scratch*, chapter 5.

Every layer has ``forward(*inputs)``, which keeps what the backward pass needs, and
``backward(dout)``, which returns the gradient for each input: a single value for a layer with
one input, a tuple otherwise (the book's ``Affine`` and ``SoftmaxWithLoss`` return only ``dx``;
here they return one gradient per input too, and keep ``dW``/``db`` as attributes as well).

Values are Python floats or float64 numpy arrays; scalars stay floats because numpy scalars
are several times slower per operation. Conventions follow PyTorch: relu'(0) = 0, broadcast
gradients are summed back to each input's shape, and ``dout`` is never modified in place.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Value = Any  # float | np.ndarray


def _sum_to(grad: Value, like: Value) -> Value:
    """Sum a broadcast gradient back to the shape of ``like`` (PyTorch's ``sum_to_size``)."""
    if isinstance(like, np.ndarray):
        if not isinstance(grad, np.ndarray):
            return np.full(like.shape, float(grad))
        if grad.shape == like.shape:
            return grad
        extra = grad.ndim - like.ndim
        axes = tuple(range(extra)) + tuple(
            extra + i for i, n in enumerate(like.shape) if n == 1 and grad.shape[extra + i] != 1
        )
        return grad.sum(axis=axes).reshape(like.shape) if axes else grad.reshape(like.shape)
    if isinstance(grad, np.ndarray):
        return float(grad.sum())
    return grad


def _scalar(value: Value) -> Value:
    """A 0-d array or numpy scalar as a Python float; anything else unchanged."""
    if isinstance(value, np.ndarray):
        return float(value) if value.ndim == 0 else value
    return float(value) if isinstance(value, np.floating) else value


def _np(func: Any, *args: Value) -> Value:
    """Apply a numpy ufunc with IEEE results (inf, nan) instead of Python exceptions."""
    with np.errstate(all="ignore"):
        return _scalar(func(*args))


def _is_scalar(value: Value) -> bool:
    return not isinstance(value, np.ndarray)


def _div(x: Value, y: Value) -> Value:
    try:
        return x / y
    except ZeroDivisionError:
        return _np(np.divide, np.float64(x), np.float64(y))


class MulLayer:
    """z = x * y; the gradients are the inputs swapped."""

    x: Value = None
    y: Value = None

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

    x: Value = None
    y: Value = None

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

    x: Value = None
    y: Value = None

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

    y: Value = None
    x: Value = None
    out: Value = None

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

    def forward(self, x: Value, y: Value) -> Value:
        self.x = x
        self.y = y
        return _scalar(np.matmul(x, y))

    def backward(self, dout: Value) -> tuple[Value, Value]:
        return _matmul_grads(self.x, self.y, dout)


def _matmul_grads(x: Value, y: Value, dout: Value) -> tuple[Value, Value]:
    """Gradients of x @ y, promoting 1-D operands to matrices the way matmul does."""
    x, y = np.asarray(x), np.asarray(y)
    x2 = x[np.newaxis, :] if x.ndim == 1 else x
    y2 = y[:, np.newaxis] if y.ndim == 1 else y
    d2 = np.asarray(dout, dtype=np.float64)
    # Restore the dropped axes, the column first: for vector @ vector dout is 0-d.
    if y.ndim == 1:
        d2 = np.expand_dims(d2, -1)
    if x.ndim == 1:
        d2 = np.expand_dims(d2, -2)
    dx = _sum_to(d2 @ np.swapaxes(y2, -1, -2), x2).reshape(x.shape)
    dy = _sum_to(np.swapaxes(x2, -1, -2) @ d2, y2).reshape(y.shape)
    return dx, dy


class NegLayer:
    """z = -x."""

    def forward(self, x: Value) -> Value:
        return -x

    def backward(self, dout: Value) -> Value:
        return -dout


class IdentityLayer:
    """z = x: a node defined as another node's name."""

    def forward(self, x: Value) -> Value:
        return x

    def backward(self, dout: Value) -> Value:
        return dout


class ExpLayer:
    """z = exp(x); dz/dx = z."""

    out: Value = None

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

    x: Value = None

    def forward(self, x: Value) -> Value:
        self.x = x
        if _is_scalar(x):
            return math.log(x) if x > 0 else _np(np.log, np.float64(x))
        return np.log(x)

    def backward(self, dout: Value) -> Value:
        return _div(dout, self.x)


class TanhLayer:
    """z = tanh(x); dz/dx = 1 - z**2."""

    out: Value = None

    def forward(self, x: Value) -> Value:
        self.out = math.tanh(x) if type(x) is float or _is_scalar(x) else np.tanh(x)
        return self.out

    def backward(self, dout: Value) -> Value:
        return dout * (1.0 - self.out * self.out)


class Relu:
    """z = max(x, 0); relu'(0) = 0 as in PyTorch. Works on floats, unlike the book's."""

    mask: Value = None  # True where x <= 0

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

    out: Value = None

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
    """z = the sum of all elements of x."""

    x: Value = None

    def forward(self, x: Value) -> Value:
        self.x = x
        return x if _is_scalar(x) else float(np.sum(x))

    def backward(self, dout: Value) -> Value:
        return _sum_to(dout, self.x)


class MeanLayer:
    """z = the mean of all elements of x."""

    x: Value = None

    def forward(self, x: Value) -> Value:
        self.x = x
        return x if _is_scalar(x) else float(np.mean(x))

    def backward(self, dout: Value) -> Value:
        if _is_scalar(self.x):
            return dout
        return np.full(self.x.shape, dout / self.x.size)


class Affine:
    """z = x @ W + b for a batch of rows x (or one sample, 1-D); db is summed over the batch."""

    x: Value = None
    W: Value = None
    b: Value = None
    dW: Value = None
    db: Value = None
    _xw: Value = None

    def forward(self, x: Value, W: Value, b: Value) -> Value:
        self.x = x
        self.W = W
        self.b = b
        self._xw = np.matmul(x, W)
        return _scalar(self._xw + b)

    def backward(self, dout: Value) -> tuple[Value, Value, Value]:
        dx, self.dW = _matmul_grads(self.x, self.W, _sum_to(dout, self._xw))
        self.db = _sum_to(dout, self.b)
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
        if t_shape == self._x_shape:
            dt = _scalar((-self._logp * (dout / n)).reshape(t_shape))
        else:
            # Loss is piecewise constant in a class index: its derivative is 0 where it exists.
            dt = np.zeros(t_shape) if t_shape else 0.0
        return dx.reshape(self._x_shape), dt
