"""The layers of chapters 6 and 7 of *Deep Learning from Scratch*: Convolution, Pooling,
BatchNormalization and Dropout, with the book's ``im2col`` and ``col2im``.

Written in the book's style (its ``common/layers.py`` and ``common/util.py``), with the
differences the op table documents: every input is a node, so ``forward`` also takes the
weights (``Convolution().forward(x, W, b)``) and ``backward`` then returns one gradient per
input. Built the book's way, with the weights (``Convolution(W, b, stride=1, pad=0)``),
``forward(x)`` uses them and ``backward(dout)`` returns ``dx`` only, leaving ``dW`` and ``db``
on the layer: ``bpcalc export --python`` writes that form. Values are float64 arrays, NCHW.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcalc.ops.layers import _sum_to
from bpcalc.ops.protocol import TernaryLayer, UnaryLayer

Value = Any  # float | np.ndarray


def conv_output_size(size: int, window: int, stride: int = 1, pad: int = 0) -> int:
    """How many windows fit along an axis: ``(size + 2*pad - window) // stride + 1``."""
    return (size + 2 * pad - window) // stride + 1


def im2col(
    input_data: Value,
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
    fill: float = 0.0,
) -> Value:
    """Every window of an (N, C, H, W) batch as one row: (N*out_h*out_w, C*filter_h*filter_w).

    The book's im2col; ``fill`` is the value of the padding (0 for a convolution, -inf for max
    pooling).
    """
    N, C, H, W = input_data.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    img = np.pad(
        input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant", constant_values=fill
    )
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))
    for y in range(filter_h):
        y_end = y + stride * out_h
        for x in range(filter_w):
            x_end = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_end:stride, x:x_end:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(
    col: Value,
    input_shape: tuple[int, ...],
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
) -> Value:
    """im2col's adjoint: each row added back to its window of an (N, C, H, W) batch."""
    N, C, H, W = input_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(filter_h):
        y_end = y + stride * out_h
        for x in range(filter_w):
            x_end = x + stride * out_w
            img[:, :, y:y_end:stride, x:x_end:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad : H + pad, pad : W + pad]


def _refuse(problem: str) -> None:
    """A ValueError for operands that do not fit. bpcalc's size check (bpcalc.ops.shapes)
    refuses them at the node before evaluating, in more words; this guards direct use."""
    raise ValueError(problem)


def _windows_fit(op: str, x: Value, window_h: int, window_w: int, stride: int, pad: int) -> None:
    if np.ndim(x) != 4:
        _refuse(f"{op}: x must be 4-D (N, C, H, W), got shape {np.shape(x)}")
    _, _, H, W = x.shape
    if min(window_h, window_w) < 1 or H + 2 * pad < window_h or W + 2 * pad < window_w:
        _refuse(f"{op}: the {window_h}×{window_w} window does not fit x of shape {x.shape}")


class Convolution:
    """The book's Convolution: an im2col matrix product. x is (N, C, H, W), W is
    (FN, C, FH, FW), b is (FN,); the result is (N, FN, out_h, out_w), as torch's conv2d."""

    book_weights = ("W", "b")  # what the book passes to __init__, and where backward leaves
    book_grads = ("dW", "db")  # their gradients
    # Which inputs want a gradient, when the engine says (None: all); dx is None if x's is not.
    needs_input_grad: tuple[bool, ...] | None = None

    def __init__(self, W: Value = None, b: Value = None, stride: int = 1, pad: int = 0) -> None:
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.book = W is not None  # built the book's way: backward returns dx only
        self.x: Value = None
        self.col: Value = None
        self.col_W: Value = None
        self.dW: Value = None
        self.db: Value = None

    def forward(self, x: Value, W: Value = None, b: Value = None) -> Value:
        if W is not None:
            self.W, self.b = W, b
        if np.ndim(self.W) != 4:
            _refuse(f"convolution: W must be 4-D (FN, C, FH, FW), got shape {np.shape(self.W)}")
        FN, C, FH, FW = self.W.shape
        _windows_fit("convolution", x, FH, FW, self.stride, self.pad)
        if x.shape[1] != C or np.shape(self.b) not in ((), (1,), (FN,)):
            _refuse(
                f"convolution: x {x.shape}, W {self.W.shape} and b {np.shape(self.b)} do not fit"
            )
        N, _, H, W_ = x.shape
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(W_, FW, self.stride, self.pad)
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)
        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout: Value) -> Value:
        FN, C, FH, FW = np.shape(self.W)
        dout = np.asarray(dout, dtype=np.float64).transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = _sum_to(np.sum(dout, axis=0), self.b)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dx = None
        if self.needs_input_grad is None or self.needs_input_grad[0]:
            dcol = np.dot(dout, self.col_W.T)
            dx = col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
        return dx if self.book else (dx, self.dW, self.db)


class Pooling:
    """The book's max Pooling over pool_h × pool_w windows; the gradient goes to the first
    maximum of each window. Two fixes: out_h and out_w count the padding (the book's Pooling
    leaves it out and fails for pad > 0), and the padding is -inf, as in torch's max_pool2d
    (the book's im2col pads with 0, which wins over a window of negatives)."""

    book_weights = ()  # none: the book's Pooling(pool_h, pool_w, stride, pad) holds no weights

    def __init__(self, pool_h: int = 2, pool_w: int = 2, stride: int = 2, pad: int = 0) -> None:
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x: Value = None
        self.arg_max: Value = None

    def forward(self, x: Value) -> Value:
        _windows_fit("pooling", x, self.pool_h, self.pool_w, self.stride, self.pad)
        if 2 * self.pad > min(self.pool_h, self.pool_w):
            _refuse(f"pooling: pad {self.pad} is more than half the window")
        N, C, H, W = x.shape
        out_h = conv_output_size(H, self.pool_h, self.stride, self.pad)
        out_w = conv_output_size(W, self.pool_w, self.stride, self.pad)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, fill=-np.inf)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)
        self.x = x
        self.arg_max = arg_max
        return out

    def backward(self, dout: Value) -> Value:
        dout = np.asarray(dout, dtype=np.float64).transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape((*dout.shape, pool_size))
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class BatchNormalization:
    """The book's BatchNormalization: each feature normalised over the batch (axis 0), then
    ``gamma * xn + beta``. An input of more than 2 dimensions is reshaped to (N, -1) as the book
    does, so the statistics are per (c, h, w) element, not per channel as in torch's BatchNorm2d.

    Training mode (batch statistics) unless the running statistics are given: as inputs
    ``forward(x, gamma, beta, mean, var)``, or, built the book's way,
    ``BatchNormalization(gamma, beta, running_mean=m, running_var=v)`` with
    ``forward(x, train_flg=False)``. The book's ``10e-7`` is ``eps``; its momentum update of the
    running statistics is left out (an evaluation is one pass).
    """

    book_weights = ("gamma", "beta", "running_mean", "running_var")
    book_grads = ("dgamma", "dbeta", "drunning_mean", "drunning_var")
    book_inference = "train_flg=False"  # the forward argument that uses the running statistics

    def __init__(
        self,
        gamma: Value = None,
        beta: Value = None,
        eps: float = 1e-6,
        running_mean: Value = None,
        running_var: Value = None,
    ) -> None:
        self.gamma = gamma
        self.beta = beta
        self.eps = eps
        self.running_mean = running_mean
        self.running_var = running_var
        self.book = gamma is not None  # built the book's way: backward returns dx only
        self.train = True
        self.input_shape: tuple[int, ...] = ()
        self.batch_size = 0
        self.xc: Value = None
        self.xn: Value = None
        self.std: Value = None
        self.dgamma: Value = None
        self.dbeta: Value = None
        self.drunning_mean: Value = None
        self.drunning_var: Value = None

    def forward(
        self,
        x: Value,
        gamma: Value = None,
        beta: Value = None,
        mean: Value = None,
        var: Value = None,
        train_flg: bool = True,
    ) -> Value:
        if gamma is not None:
            self.gamma, self.beta = gamma, beta
            self.running_mean, self.running_var = mean, var
            train_flg = mean is None
        self.train = train_flg
        if np.ndim(x) < 2:
            _refuse(f"batch_norm: x must be a batch (N, ...), got shape {np.shape(x)}")
        features = (np.size(x[0]),)
        per_feature = [self.gamma, self.beta]
        per_feature += [] if train_flg else [self.running_mean, self.running_var]
        if any(np.shape(v) not in ((), (1,), features) for v in per_feature):
            _refuse(f"batch_norm: gamma, beta, mean and var must have shape {features}")
        self.input_shape = x.shape
        out = self._forward(x.reshape(x.shape[0], -1))
        return out.reshape(*self.input_shape)

    def _forward(self, x: Value) -> Value:
        if self.train:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
        else:
            xc = x - self.running_mean
            var = self.running_var
        std = np.sqrt(var + self.eps)
        xn = xc / std
        self.batch_size = x.shape[0]
        self.xc = xc
        self.xn = xn
        self.std = std
        return self.gamma * xn + self.beta

    def backward(self, dout: Value) -> Value:
        dout = np.asarray(dout, dtype=np.float64)
        dx = self._backward(dout.reshape(dout.shape[0], -1)).reshape(*self.input_shape)
        if self.book:
            return dx
        if self.train:
            return dx, self.dgamma, self.dbeta
        return dx, self.dgamma, self.dbeta, self.drunning_mean, self.drunning_var

    def _backward(self, dout: Value) -> Value:
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        self.dgamma = _sum_to(dgamma, self.gamma)
        self.dbeta = _sum_to(dbeta, self.beta)
        if not self.train:  # the statistics are inputs: each gets its own gradient
            self.drunning_mean = _sum_to(-np.sum(dxc, axis=0), self.running_mean)
            dvar = -0.5 * np.sum(dxn * self.xc, axis=0) / (self.std * self.std * self.std)
            self.drunning_var = _sum_to(dvar, self.running_var)
            return dxc
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class Dropout:
    """The book's Dropout (not inverted): training keeps x where a uniform draw exceeds
    ``ratio`` and zeroes it elsewhere; ``train=False`` scales by ``1 - ratio`` instead.

    The draw comes from ``np.random.default_rng(seed)``, so a node's mask is the same on every
    run (the book draws from numpy's global ``np.random.rand``, so its masks differ).
    """

    book_weights = ()  # none

    def __init__(self, ratio: float = 0.5, train: bool = True, seed: int = 0) -> None:
        self.ratio = ratio
        self.train = train
        self.seed = seed
        self.mask: Value = None

    def forward(self, x: Value) -> Value:
        if self.train:
            mask = np.random.default_rng(self.seed).random(np.shape(x)) > self.ratio
            self.mask = mask if isinstance(x, np.ndarray) else float(mask)
        else:
            self.mask = 1.0 - self.ratio
        return x * self.mask

    def backward(self, dout: Value) -> Value:
        return dout * self.mask


# mypy checks each layer against the protocol of its arity; a test checks every op is here.
UNARY: tuple[type[UnaryLayer], ...] = (Pooling, Dropout)
TERNARY: tuple[type[TernaryLayer], ...] = (Convolution, BatchNormalization)
