"""The op table: one entry per op, the single source for layers, validation, help and docs.

Pure Python on purpose: `bpcalc --help` and error hints read it without importing numpy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OpSpec:
    """What bpcalc knows about one op."""

    name: str
    layer: str  # class name in bpcalc.layers
    params: tuple[str, ...]  # forward() argument names, in order
    formula: str  # forward, in terms of params
    derivatives: tuple[str, ...]  # one local derivative per param
    notes: str = ""
    exact: bool = False  # exact over the rationals (usable with --exact)
    symbol: str = ""  # infix or prefix operator in expressions, if any

    @property
    def arity(self) -> int:
        return len(self.params)

    def layer_class(self) -> Any:
        """The layer class, imported on first use (it needs numpy)."""
        return getattr(importlib.import_module("bpcalc.layers"), self.layer)


_SPECS = (
    OpSpec(
        "add",
        "AddLayer",
        ("x", "y"),
        "x + y",
        ("1", "1"),
        "broadcasts; gradients summed back to each input's shape",
        exact=True,
        symbol="+",
    ),
    OpSpec(
        "sub", "SubLayer", ("x", "y"), "x - y", ("1", "-1"), "broadcasts", exact=True, symbol="-"
    ),
    OpSpec(
        "mul",
        "MulLayer",
        ("x", "y"),
        "x * y",
        ("y", "x"),
        "broadcasts; the book's MulLayer",
        exact=True,
        symbol="*",
    ),
    OpSpec(
        "div",
        "DivLayer",
        ("x", "y"),
        "x / y",
        ("1 / y", "-x / y**2"),
        "broadcasts",
        exact=True,
        symbol="/",
    ),
    OpSpec(
        "pow",
        "PowLayer",
        ("x", "y"),
        "x ** y",
        ("y * x**(y-1)", "x**y * ln(x)"),
        "d/dx is 0 where y == 0 and d/dy is 0 where x == 0 and y >= 0 (PyTorch)",
        exact=True,
        symbol="**",
    ),
    OpSpec(
        "matmul",
        "MatMulLayer",
        ("x", "y"),
        "x @ y",
        ("dout @ y.T", "x.T @ dout"),
        "1-D operands as in numpy.matmul",
        symbol="@",
    ),
    OpSpec("neg", "NegLayer", ("x",), "-x", ("-1",), exact=True, symbol="-"),
    OpSpec(
        "identity",
        "IdentityLayer",
        ("x",),
        "x",
        ("1",),
        "what a node written as a bare name computes",
        exact=True,
    ),
    OpSpec("exp", "ExpLayer", ("x",), "exp(x)", ("exp(x)",)),
    OpSpec("log", "LogLayer", ("x",), "ln(x)", ("1 / x",), "natural logarithm"),
    OpSpec("tanh", "TanhLayer", ("x",), "tanh(x)", ("1 - tanh(x)**2",), "backward uses the output"),
    OpSpec(
        "relu",
        "Relu",
        ("x",),
        "max(x, 0)",
        ("1 if x > 0 else 0",),
        "relu'(0) = 0 (PyTorch); works on floats and arrays",
        exact=True,
    ),
    OpSpec(
        "sigmoid",
        "Sigmoid",
        ("x",),
        "1 / (1 + exp(-x))",
        ("y * (1 - y)",),
        "stable for large |x|; backward uses the output y",
    ),
    OpSpec("sum", "SumLayer", ("x",), "sum of all elements", ("1 (broadcast to x)",), exact=True),
    OpSpec("mean", "MeanLayer", ("x",), "mean of all elements", ("1 / x.size",), exact=True),
    OpSpec(
        "affine",
        "Affine",
        ("x", "W", "b"),
        "x @ W + b",
        ("dout @ W.T", "x.T @ dout", "dout summed over the batch"),
        "1-D x is one sample",
    ),
    OpSpec(
        "softmax_with_loss",
        "SoftmaxWithLoss",
        ("x", "t"),
        "mean cross-entropy of softmax(x) against labels t",
        ("(softmax(x) - t) / N", "-log_softmax(x) / N"),
        "t: one-hot (or probability) rows, or class indices; a 1-D x is a batch of one "
        "(its index t: 2 or t: [2]); matches torch.nn.functional.cross_entropy",
    ),
)

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}

BINARY_SYMBOLS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "@": "matmul"}
