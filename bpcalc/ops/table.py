"""The op table: one ``OpSpec`` per op, the single source for layers, validation, help and docs.

Pure Python on purpose: `bpcalc --help` and error hints read it without importing numpy.
Adding an op is one layer class, one entry here and its tests: see docs/adding-an-op.md.
"""

from __future__ import annotations

from bpcalc.ops import shapes
from bpcalc.ops.spec import Attribute, OpSpec

# sum and mean reduce over some axes, or all of them.
_REDUCTION = (
    Attribute(
        "axis",
        "axes",
        None,
        "the axis or list of axes to reduce (negative counts from the end); None: all",
    ),
    Attribute("keepdims", "bool", False, "keep each reduced axis with size 1"),
)

_SPECS = (
    OpSpec(
        "add",
        "AddLayer",
        ("x", "y"),
        "x + y",
        ("1", "1"),
        shapes.broadcast,
        "broadcasts; gradients summed back to each input's shape",
        elementwise=True,
        exact_layer="ExactAdd",
        symbol="+",
    ),
    OpSpec(
        "sub",
        "SubLayer",
        ("x", "y"),
        "x - y",
        ("1", "-1"),
        shapes.broadcast,
        "broadcasts",
        elementwise=True,
        exact_layer="ExactSub",
        symbol="-",
    ),
    OpSpec(
        "mul",
        "MulLayer",
        ("x", "y"),
        "x * y",
        ("y", "x"),
        shapes.broadcast,
        "broadcasts; the book's MulLayer",
        elementwise=True,
        exact_layer="ExactMul",
        symbol="*",
    ),
    OpSpec(
        "div",
        "DivLayer",
        ("x", "y"),
        "x / y",
        ("1 / y", "-x / y**2"),
        shapes.broadcast,
        "broadcasts",
        elementwise=True,
        exact_layer="ExactDiv",
        symbol="/",
    ),
    OpSpec(
        "pow",
        "PowLayer",
        ("x", "y"),
        "x ** y",
        ("y * x**(y-1)", "x**y * ln(x)"),
        shapes.broadcast,
        "d/dx is 0 where y == 0 and d/dy is 0 where x == 0 and y >= 0 (PyTorch)",
        elementwise=True,
        exact_layer="ExactPow",
        exact_note="with a whole-number exponent",
        symbol="**",
    ),
    OpSpec(
        "matmul",
        "MatMulLayer",
        ("x", "y"),
        "x @ y",
        ("dout @ y.T", "x.T @ dout"),
        shapes.matmul,
        "1-D operands as in numpy.matmul",
        symbol="@",
    ),
    OpSpec(
        "neg",
        "NegLayer",
        ("x",),
        "-x",
        ("-1",),
        shapes.same,
        elementwise=True,
        exact_layer="ExactNeg",
        symbol="-",
    ),
    OpSpec(
        "identity",
        "IdentityLayer",
        ("x",),
        "x",
        ("1",),
        shapes.same,
        "what a node written as a bare name computes",
        elementwise=True,
        exact_layer="ExactIdentity",
    ),
    OpSpec("exp", "ExpLayer", ("x",), "exp(x)", ("exp(x)",), shapes.same, elementwise=True),
    OpSpec(
        "log",
        "LogLayer",
        ("x",),
        "ln(x)",
        ("1 / x",),
        shapes.same,
        "natural logarithm",
        elementwise=True,
    ),
    OpSpec(
        "tanh",
        "TanhLayer",
        ("x",),
        "tanh(x)",
        ("1 - tanh(x)**2",),
        shapes.same,
        "backward uses the output",
        elementwise=True,
    ),
    OpSpec(
        "relu",
        "Relu",
        ("x",),
        "max(x, 0)",
        ("1 if x > 0 else 0",),
        shapes.same,
        "relu'(0) = 0 (PyTorch); works on floats and arrays",
        elementwise=True,
        exact_layer="ExactRelu",
    ),
    OpSpec(
        "sigmoid",
        "Sigmoid",
        ("x",),
        "1 / (1 + exp(-x))",
        ("y * (1 - y)",),
        shapes.same,
        "stable for large |x|; backward uses the output y",
        elementwise=True,
    ),
    OpSpec(
        "sum",
        "SumLayer",
        ("x",),
        "sum of all elements",
        ("1 (broadcast to x)",),
        shapes.reduction,
        "with axis, the sum over those axes only",
        attributes=_REDUCTION,
        exact_layer="ExactSum",
    ),
    OpSpec(
        "mean",
        "MeanLayer",
        ("x",),
        "mean of all elements",
        ("1 / x.size",),
        shapes.reduction,
        "with axis, the mean over those axes only (d/dx is 1 / their size)",
        attributes=_REDUCTION,
        exact_layer="ExactMean",
    ),
    OpSpec(
        "affine",
        "Affine",
        ("x", "W", "b"),
        "x @ W + b",
        ("dout @ W.T", "x.T @ dout", "dout summed over the batch"),
        shapes.affine,
        "1-D x is one sample",
    ),
    OpSpec(
        "softmax_with_loss",
        "SoftmaxWithLoss",
        ("x", "t"),
        "mean cross-entropy of softmax(x) against labels t",
        ("(softmax(x) - t) / N", "-log_softmax(x) / N"),
        shapes.scalar,
        "t: one-hot (or probability) rows, or class indices; a 1-D x is a batch of one; "
        "matches torch.nn.functional.cross_entropy",
    ),
)

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}

# Operators in expressions, derived from the specs: `x - y` is sub, `-x` is neg.
BINARY_SYMBOLS = {spec.symbol: spec.name for spec in _SPECS if spec.symbol and spec.arity == 2}
UNARY_SYMBOLS = {spec.symbol: spec.name for spec in _SPECS if spec.symbol and spec.arity == 1}
EXACT_OPS = tuple(spec.name for spec in _SPECS if spec.exact)
ELEMENTWISE_OPS = frozenset(spec.name for spec in _SPECS if spec.elementwise)


def exact_help() -> str:
    """The ops --exact accepts, with their limits: ``add, ..., pow with a whole-number ...``."""
    ops = [f"{spec.name} {spec.exact_note}".strip() for spec in _SPECS if spec.exact]
    return ", ".join(ops[:-1]) + " and " + ops[-1]
