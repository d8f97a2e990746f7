"""The op table: one ``OpSpec`` per op, the single source for layers, validation, help and docs.

Pure Python on purpose: `bpcalc --help` and error hints read it without importing numpy.
Adding an op is one layer class, one entry here and its tests: see docs/adding-an-op.md.
"""

from __future__ import annotations

from collections.abc import Callable

from bpcalc.ops import shapes
from bpcalc.ops.spec import Attribute, AttrValue, OpSpec

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


def _at_least(low: int) -> Callable[[AttrValue], str | None]:
    def check(value: AttrValue) -> str | None:
        return None if isinstance(value, int) and value >= low else f"must be at least {low}"

    return check


def _ratio(value: AttrValue) -> str | None:
    ok = isinstance(value, float) and 0.0 <= value < 1.0
    return None if ok else "must be at least 0 and below 1"


def _positive(value: AttrValue) -> str | None:
    return None if isinstance(value, float) and value > 0.0 else "must be positive"


# The convolution's and the pooling's windows move by stride over an input padded by pad.
_STRIDE = Attribute("stride", "int", 1, "step between windows", check=_at_least(1))
_PAD = Attribute("pad", "int", 0, "zeros added around each image", check=_at_least(0))

# softmax and log_softmax work along one axis.
_AXIS = Attribute("axis", "int", -1, "the axis to normalise over (negative counts from the end)")

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
        "1-D x is one sample; x of more than 2 dimensions is flattened to (N, -1) as in the "
        "book, dx reshaped back",
    ),
    OpSpec(
        "softmax_with_loss",
        "SoftmaxWithLoss",
        ("x", "t"),
        "mean cross-entropy of softmax(x) against labels t",
        ("(softmax(x) - t) / N", "-log_softmax(x) / N"),
        shapes.scalar,
        "t: one-hot (or probability) rows, or class indices; a 1-D x is a batch of one "
        "(its index t: 2 or t: [2]); matches torch.nn.functional.cross_entropy",
    ),
    # ---- the common ops (issue 12) ----
    OpSpec(
        "sqrt",
        "SqrtLayer",
        ("x",),
        "sqrt(x)",
        ("1 / (2 * sqrt(x))",),
        shapes.same,
        "d/dx is inf at 0 and the value NaN below 0 (PyTorch)",
        elementwise=True,
        example="sqrt(x)",
    ),
    OpSpec(
        "square",
        "SquareLayer",
        ("x",),
        "x ** 2",
        ("2 * x",),
        shapes.same,
        elementwise=True,
        exact_layer="ExactSquare",
        example="square(x)",
    ),
    OpSpec(
        "abs",
        "AbsLayer",
        ("x",),
        "|x|",
        ("sign(x)",),
        shapes.same,
        "abs'(0) = 0 (PyTorch)",
        elementwise=True,
        exact_layer="ExactAbs",
        example="abs(x)",
    ),
    OpSpec(
        "sin",
        "SinLayer",
        ("x",),
        "sin(x)",
        ("cos(x)",),
        shapes.same,
        "x in radians",
        elementwise=True,
        example="sin(x)",
    ),
    OpSpec(
        "cos",
        "CosLayer",
        ("x",),
        "cos(x)",
        ("-sin(x)",),
        shapes.same,
        "x in radians",
        elementwise=True,
        example="cos(x)",
    ),
    OpSpec(
        "maximum",
        "MaximumLayer",
        ("x", "y"),
        "max(x, y) elementwise",
        ("1 if x > y, 1/2 if x == y, else 0", "1 if y > x, 1/2 if x == y, else 0"),
        shapes.broadcast,
        "broadcasts; on a tie each side gets half (PyTorch)",
        elementwise=True,
        exact_layer="ExactMaximum",
        example="maximum(x, 0.5)",
    ),
    OpSpec(
        "minimum",
        "MinimumLayer",
        ("x", "y"),
        "min(x, y) elementwise",
        ("1 if x < y, 1/2 if x == y, else 0", "1 if y < x, 1/2 if x == y, else 0"),
        shapes.broadcast,
        "broadcasts; on a tie each side gets half (PyTorch)",
        elementwise=True,
        exact_layer="ExactMinimum",
        example="minimum(x, y)",
    ),
    OpSpec(
        "leaky_relu",
        "LeakyRelu",
        ("x",),
        "x if x > 0 else slope * x",
        ("1 if x > 0 else slope",),
        shapes.same,
        "the derivative is slope at 0 and below (PyTorch)",
        attributes=(Attribute("slope", "float", 0.01, "the slope below 0"),),
        elementwise=True,
        exact_layer="ExactLeakyRelu",
        exact_note="(the slope as its decimal)",
        example="leaky_relu(x, slope=0.1)",
    ),
    OpSpec(
        "softplus",
        "Softplus",
        ("x",),
        "ln(1 + exp(x))",
        ("sigmoid(x)",),
        shapes.same,
        "computed as max(x, 0) + log1p(exp(-|x|)): stable for large |x|",
        elementwise=True,
        example="softplus(x)",
    ),
    OpSpec(
        "max",
        "MaxLayer",
        ("x",),
        "largest element",
        ("1 / (number of ties) at the largest elements, else 0",),
        shapes.reduction,
        "with axis, over those axes only; ties split the gradient evenly (PyTorch's amax)",
        attributes=_REDUCTION,
        exact_layer="ExactMax",
        example="max(x, axis=1)",
    ),
    OpSpec(
        "min",
        "MinLayer",
        ("x",),
        "smallest element",
        ("1 / (number of ties) at the smallest elements, else 0",),
        shapes.reduction,
        "with axis, over those axes only; ties split the gradient evenly (PyTorch's amin)",
        attributes=_REDUCTION,
        exact_layer="ExactMin",
        example="min(x, axis=0)",
    ),
    OpSpec(
        "transpose",
        "TransposeLayer",
        ("x",),
        "x.T, or x's axes in the order axes lists",
        ("dout transposed back",),
        shapes.transpose,
        "numpy.transpose; `x.T` in an expression is transpose(x)",
        attributes=(
            Attribute(
                "axes",
                "ints",
                None,
                "the new order of the axes (negative counts from the end); None: reversed",
            ),
        ),
        exact_layer="ExactTranspose",
        example="transpose(x, axes=[1, 0, 2])",
    ),
    OpSpec(
        "reshape",
        "ReshapeLayer",
        ("x",),
        "x with the given shape",
        ("dout reshaped to x's shape",),
        shapes.reshape,
        "numpy.reshape (row-major); one size may be -1",
        attributes=(
            Attribute(
                "shape",
                "ints",
                None,
                "the new shape; one size may be -1 for what the others leave",
                required=True,
            ),
        ),
        exact_layer="ExactReshape",
        example="reshape(x, shape=[3, -1])",
    ),
    OpSpec(
        "flatten",
        "FlattenLayer",
        ("x",),
        "x.reshape(x.shape[0], -1)",
        ("dout reshaped to x's shape",),
        shapes.flatten,
        "(N, ...) to (N, the rest), as the book's Affine flattens a batch; a 1-D x gives (N, 1)",
        exact_layer="ExactFlatten",
        example="flatten(x)",
    ),
    OpSpec(
        "index",
        "IndexLayer",
        ("x",),
        "x[index]",
        ("dout scattered back into zeros shaped like x",),
        shapes.index,
        "constant whole numbers and slices, numpy's basic indexing; written x[0], x[:, 1], "
        "x[0:2], x[:, ::2] in an expression",
        attributes=(
            Attribute(
                "index",
                "index",
                None,
                "the index as text, such as '[:, 1]' (quoted in YAML)",
                required=True,
            ),
        ),
        exact_layer="ExactIndex",
        example="x[:, 1], or {op: index, in: [x], index: '[:, 1]'}",
    ),
    OpSpec(
        "softmax",
        "Softmax",
        ("x",),
        "exp(x) / sum(exp(x)) over axis",
        ("y * (dout - sum(dout * y))",),
        shapes.along_axis,
        "stable (x minus its maximum first); over the last axis unless axis says",
        attributes=(_AXIS,),
        example="softmax(x, axis=0)",
    ),
    OpSpec(
        "log_softmax",
        "LogSoftmax",
        ("x",),
        "x - ln(sum(exp(x))) over axis",
        ("dout - softmax(x) * sum(dout)",),
        shapes.along_axis,
        "stable; over the last axis unless axis says",
        attributes=(_AXIS,),
        example="log_softmax(x)",
    ),
    OpSpec(
        "mse",
        "MeanSquaredError",
        ("y", "t"),
        "mean((y - t) ** 2)",
        ("2 * (y - t) / size", "-2 * (y - t) / size"),
        shapes.loss,
        "torch.nn.functional.mse_loss (mean); y and t broadcast",
        exact_layer="ExactMeanSquaredError",
        example="mse(y, t)",
    ),
    OpSpec(
        "sum_squared_error",
        "SumSquaredError",
        ("y", "t"),
        "0.5 * sum((y - t) ** 2)",
        ("y - t", "t - y"),
        shapes.loss,
        "the book's chapter 4 loss; y and t broadcast",
        exact_layer="ExactSumSquaredError",
        example="sum_squared_error(y, t)",
    ),
    OpSpec(
        "cross_entropy_error",
        "CrossEntropyError",
        ("y", "t"),
        "-sum(t * ln(y + 1e-7)) / N",
        ("-t / (y + 1e-7) / N", "-ln(y + 1e-7) / N"),
        shapes.scalar,
        "the book's chapter 4 function: y holds probabilities, N = y.shape[0] (a 1-D y is a "
        "batch of one); t: one-hot rows shaped like y, or class indices (d/dt is then 0)",
        example="cross_entropy_error(softmax(x), t)",
    ),
    # ---- chapters 6 and 7: the layers of bpcalc.ops.cnn
    OpSpec(
        "convolution",
        "cnn:Convolution",
        ("x", "W", "b"),
        "im2col(x) @ W.reshape(FN, -1).T + b, as (N, FN, out_h, out_w)",
        ("col2im(dout @ W)", "dout @ im2col(x)", "dout summed over N, out_h, out_w"),
        shapes.convolution,
        "the book's Convolution; x is (N, C, H, W), W (FN, C, FH, FW), b (FN,); "
        "out_h = (H + 2*pad - FH) // stride + 1; matches torch.nn.functional.conv2d",
        attributes=(_STRIDE, _PAD),
        workspace=shapes.im2col_elements,
    ),
    OpSpec(
        "pooling",
        "cnn:Pooling",
        ("x",),
        "the maximum of each pool_h × pool_w window of x",
        ("1 at the first maximum of each window, else 0",),
        shapes.pooling,
        "the book's max Pooling, with out_h = (H + 2*pad - pool_h) // stride + 1 (the book "
        "leaves pad out) and -inf padding; matches torch.nn.functional.max_pool2d",
        attributes=(
            Attribute("pool_h", "int", 2, "window height", check=_at_least(1)),
            Attribute("pool_w", "int", 2, "window width", check=_at_least(1)),
            Attribute("stride", "int", 2, "step between windows", check=_at_least(1)),
            Attribute("pad", "int", 0, "-inf added around each image", check=_at_least(0)),
        ),
        workspace=shapes.im2col_elements,
    ),
    OpSpec(
        "batch_norm",
        "cnn:BatchNormalization",
        ("x", "gamma", "beta", "mean", "var"),
        "gamma * (x - mean) / sqrt(var + eps) + beta, per feature over the batch",
        (
            "gamma / sqrt(var + eps), through the batch statistics",
            "(x - mean) / sqrt(var + eps)",
            "1",
            "-gamma / sqrt(var + eps)",
            "-gamma * (x - mean) / 2 / (var + eps)**1.5",
        ),
        shapes.batch_norm,
        "the book's BatchNormalization: training mode (the batch's mean and biased variance "
        "over axis 0) unless mean and var, running statistics, are given as inputs; x of more "
        "than 2 dimensions is reshaped to (N, -1), so statistics are per (c, h, w), not per "
        "channel as in torch's BatchNorm2d; matches torch.nn.functional.batch_norm",
        attributes=(
            Attribute(
                "eps", "float", 1e-6, "added to the variance (the book's 10e-7)", check=_positive
            ),
        ),
        optional=2,
    ),
    OpSpec(
        "dropout",
        "cnn:Dropout",
        ("x",),
        "x * (rand > ratio) with train, else x * (1 - ratio)",
        ("the mask (rand > ratio) with train, else 1 - ratio",),
        shapes.same,
        "the book's Dropout (not inverted); rand from numpy.random.default_rng(seed), the same "
        "mask on every run",
        attributes=(
            Attribute("ratio", "float", 0.5, "the share of elements dropped", check=_ratio),
            Attribute("train", "bool", True, "drop (true) or scale by 1 - ratio (false)"),
            Attribute("seed", "int", 0, "seed of the random mask", check=_at_least(0)),
        ),
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
