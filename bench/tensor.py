"""The two-layer net (784-50-10, batch 100) forward + backward: bpcalc's graph through the
Python API against the book's own numpy layers (Deep Learning from Scratch, 5.6-5.7) on the
same arrays, and PyTorch float64 where installed."""

from __future__ import annotations

from typing import Any

import baselines
import numpy as np
from timing import Row, Table, interleaved

import bpcalc

GRAPH = """\
name: two_layer_net_784
inputs:
  x: {random: [100, 784], seed: 1, grad: false}
  t: {value: %s, grad: false}
  W1: {random: [784, 50], seed: 2, scale: 0.01}
  b1: {zeros: 50}
  W2: {random: [50, 10], seed: 3, scale: 0.01}
  b2: {zeros: 10}
nodes:
  a1: affine(x, W1, b1)
  h1: relu(a1)
  a2: affine(h1, W2, b2)
  loss: softmax_with_loss(a2, t)
output: loss
"""


# --- the book's layers, as printed (common/layers.py, common/functions.py) -------------------


def softmax(x: Any) -> Any:
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y: Any, t: Any) -> Any:
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class Relu:
    def __init__(self) -> None:
        self.mask: Any = None

    def forward(self, x: Any) -> Any:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: Any) -> Any:
        dout[self.mask] = 0
        return dout


class Affine:
    def __init__(self, W: Any, b: Any) -> None:
        self.W = W
        self.b = b
        self.x: Any = None
        self.dW: Any = None
        self.db: Any = None

    def forward(self, x: Any) -> Any:
        self.x = x
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout: Any) -> Any:
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class SoftmaxWithLoss:
    def __init__(self) -> None:
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: Any, t: Any) -> Any:
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout: Any = 1) -> Any:
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) / batch_size
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


def book_net(x: Any, t: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
    """The book's TwoLayerNet.gradient: forward through the layers, then backward."""

    def run() -> Any:
        layers: list[Any] = [Affine(W1, b1), Relu(), Affine(W2, b2)]
        last = SoftmaxWithLoss()
        y = x
        for layer in layers:
            y = layer.forward(y)
        loss = last.forward(y, t)
        dout = last.backward(1)
        for layer in reversed(layers):
            dout = layer.backward(dout)
        return loss, layers[0].dW, layers[0].db, layers[2].dW, layers[2].db

    return run


def torch_net(x: Any, t: Any, W1: Any, b1: Any, W2: Any, b2: Any, threads: int) -> Any:
    import torch

    tx = torch.from_numpy(x)
    tt = torch.from_numpy(t)
    params = [torch.from_numpy(p.copy()).requires_grad_() for p in (W1, b1, W2, b2)]

    def run() -> Any:
        torch.set_num_threads(threads)
        for p in params:
            p.grad = None
        h = torch.relu(tx @ params[0] + params[1])
        loss = torch.nn.functional.cross_entropy(h @ params[2] + params[3], tt)
        loss.backward()
        return loss

    return run


def measure(repeat: int) -> Table:
    labels = np.random.default_rng(0).integers(0, 10, size=100)
    one_hot = np.eye(10)[labels].astype(int).tolist()
    graph = bpcalc.loads(GRAPH % one_hot)
    inputs = {name: value.value for name, value in graph.inputs.items()}
    book = book_net(**inputs)
    result = graph.evaluate()
    loss, dW1, _db1, dW2, _db2 = book()
    # The book adds 1e-7 inside the log; bpcalc's log-softmax does not: losses agree closely.
    assert abs(result.values["loss"] - loss) < 1e-5, (result.values["loss"], loss)
    assert np.allclose(result.grads["W1"], dW1) and np.allclose(result.grads["W2"], dW2)
    table = Table(
        "Tensors: two-layer net 784-50-10, batch 100, forward + backward, one BLAS thread"
    )
    book_row = Row("book's numpy layers (hand-written)")
    calls: list[tuple[Row, Any]] = [
        (book_row, book),
        (Row("bpcalc evaluate()", baseline=book_row.label, target=1.0), graph.evaluate),
    ]
    # numpy first, on its own: PyTorch's worker threads keep spinning for a while after each
    # call and would slow whatever runs next on this 2-core machine.
    interleaved(table, calls, repeat, warmup=5, collect=False)
    if baselines.torch_available():
        labels_only = np.asarray(labels, dtype=np.int64)
        for threads in (1, 2):
            run = torch_net(
                inputs["x"],
                labels_only,
                inputs["W1"],
                inputs["b1"],
                inputs["W2"],
                inputs["b2"],
                threads=threads,
            )
            row = Row(f"PyTorch float64, {threads} thread(s), run after", baseline=book_row.label)
            interleaved(table, [(row, run)], repeat, warmup=5, collect=False)
    else:
        table.notes.append("- PyTorch skipped: not installed (pip install torch==2.13.0).")
    return table
