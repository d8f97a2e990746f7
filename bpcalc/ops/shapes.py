"""Shape rules: the shape of an op's result from its operands' shapes and its attributes.

Each OpSpec names one; bpcalc.engine.sizes applies them to a whole graph before evaluating.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import cast

from bpcalc.ops.spec import AttrValue, Shape, ShapeError

Shapes = Sequence[Shape]
Attributes = Mapping[str, AttrValue]

# The rules, one per kind of op; OpSpec.shape names one. Each returns None when the operands
# do not fit (evaluation then reports the mismatch) and raises ShapeError for a bad attribute.


def _broadcast(*shapes: Shape) -> Shape | None:
    """numpy's broadcasting of ``shapes``, or None when they do not broadcast."""
    ndim = max(map(len, shapes), default=0)
    result = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            return None
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def _matmul(x: Shape, y: Shape) -> Shape | None:
    """numpy.matmul's result shape: 1-D operands are promoted, then their axis dropped."""
    if not x or not y:
        return None  # matmul refuses scalars
    x2 = (1, *x) if len(x) == 1 else x
    y2 = (*y, 1) if len(y) == 1 else y
    if x2[-1] != y2[-2]:
        return None
    batch = _broadcast(x2[:-2], y2[:-2])
    if batch is None:
        return None
    rows = (x2[-2],) if len(x) > 1 else ()
    columns = (y2[-1],) if len(y) > 1 else ()
    return (*batch, *rows, *columns)


def same(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """Element-wise on one input: its shape."""
    return shapes[0]


def broadcast(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """Element-wise on several inputs: numpy's broadcasting."""
    return _broadcast(*shapes)


def scalar(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """A single number, whatever the inputs."""
    return ()


def matmul(shapes: Shapes, attrs: Attributes) -> Shape | None:
    return _matmul(shapes[0], shapes[1])


def affine(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """x @ W + b, an x of more than 2 dimensions flattened to (N, -1) first, as the book does."""
    x = shapes[0]
    if len(x) > 2:
        x = (x[0], math.prod(x[1:]))
    xw = _matmul(x, shapes[1])
    return None if xw is None else _broadcast(xw, shapes[2])


def reduction(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """``sum`` and ``mean``: the input without the reduced axes (kept as 1 with keepdims)."""
    x = shapes[0]
    axes = reduced_axes(attrs.get("axis"), len(x))
    if attrs.get("keepdims", False):
        return tuple(1 if i in axes else n for i, n in enumerate(x))
    return tuple(n for i, n in enumerate(x) if i not in axes)


def reduced_axes(axis: AttrValue, ndim: int) -> tuple[int, ...]:
    """``axis`` (None for all, an int, or a tuple of them; negative from the end) as sorted
    axes in 0..ndim-1; ShapeError when one is out of range or named twice."""
    if axis is None:
        return tuple(range(ndim))
    wanted = axis if isinstance(axis, tuple) else (int(axis),)
    axes: list[int] = []
    for a in wanted:
        if not -ndim <= a < ndim:
            if ndim == 0:
                raise ShapeError(f"axis {a} is out of range: the input is a scalar, with no axes")
            raise ShapeError(
                f"axis {a} is out of range for an input with {ndim} dimension"
                f"{'s' * (ndim != 1)} (axes are {-ndim}..{ndim - 1})"
            )
        if a % ndim in axes:
            raise ShapeError(f"axis {list(wanted)} names axis {a % ndim} twice")
        axes.append(a % ndim)
    return tuple(sorted(axes))


# ---- the layers of chapters 6 and 7 (bpcalc.ops.cnn): NCHW batches, sizes checked here so that
# a convolution whose channels do not match is refused at its node before anything is evaluated.


def _dims(shape: Shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _windows(size: int, window: int, stride: int, pad: int, axis: str) -> int:
    """How many windows fit along ``axis``; ShapeError when not even one does."""
    if size + 2 * pad < window:
        padded = f" (padded: {size + 2 * pad})" if pad else ""
        raise ShapeError(
            f"the input's {axis} {size}{padded} is smaller than the window's {axis} {window}"
        )
    return (size + 2 * pad - window) // stride + 1


def _int(attrs: Attributes, name: str, default: int) -> int:
    value = attrs.get(name, default)
    return value if isinstance(value, int) else default


def convolution(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """x (N, C, H, W) and W (FN, C, FH, FW) make (N, FN, out_h, out_w); b is (FN,)."""
    x, w, b = shapes
    if len(x) != 4:
        raise ShapeError(f"x must be 4-D (N, C, H, W), got shape {_dims(x)}")
    if len(w) != 4:
        raise ShapeError(f"W must be 4-D (FN, C, FH, FW), got shape {_dims(w)}")
    n, c, h, width = x
    fn, wc, fh, fw = w
    if wc != c:
        raise ShapeError(
            f"x has {c} channel{'s' * (c != 1)} (axis 1) but the filters of W {_dims(w)} have {wc}"
        )
    if fh == 0 or fw == 0:
        raise ShapeError(f"the filters of W {_dims(w)} are empty")
    if b not in ((), (1,), (fn,)):
        raise ShapeError(f"b must hold one bias per filter, shape ({fn},); got {_dims(b)}")
    stride, pad = _int(attrs, "stride", 1), _int(attrs, "pad", 0)
    return (
        n,
        fn,
        _windows(h, fh, stride, pad, "height"),
        _windows(width, fw, stride, pad, "width"),
    )


def pooling(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """x (N, C, H, W) makes (N, C, out_h, out_w), the padding counted."""
    x = shapes[0]
    if len(x) != 4:
        raise ShapeError(f"x must be 4-D (N, C, H, W), got shape {_dims(x)}")
    pool_h, pool_w = _int(attrs, "pool_h", 2), _int(attrs, "pool_w", 2)
    stride, pad = _int(attrs, "stride", 2), _int(attrs, "pad", 0)
    if 2 * pad > min(pool_h, pool_w):
        raise ShapeError(
            f"pad {pad} is more than half the window ({pool_h}×{pool_w}), "
            f"as torch's max_pool2d refuses too: a window would be padding only"
        )
    n, c, h, w = x
    return (
        n,
        c,
        _windows(h, pool_h, stride, pad, "height"),
        _windows(w, pool_w, stride, pad, "width"),
    )


def batch_norm(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """x (N, ...) keeps its shape; gamma, beta (and mean, var) hold one value per feature,
    the D = prod(x.shape[1:]) columns of x reshaped to (N, D)."""
    x = shapes[0]
    if len(x) < 2:
        raise ShapeError(f"x must be a batch (N, ...) of 2 or more dimensions, got {_dims(x)}")
    features = math.prod(x[1:])
    for name, shape in zip(("gamma", "beta", "mean", "var"), shapes[1:], strict=False):
        if shape not in ((), (1,), (features,)):
            raise ShapeError(
                f"{name} must hold one value per feature, shape ({features},) for x of shape "
                f"{_dims(x)} (reshaped to ({x[0]}, {features})); got {_dims(shape)}"
            )
    return x


def im2col_elements(shapes: Shapes, attrs: Attributes) -> int:
    """The size of im2col's matrix for a convolution or a pooling whose shapes fit: one row of
    C*FH*FW per window position (the rule above has checked the shapes)."""
    x = shapes[0]
    if len(shapes) > 1:  # convolution: the window is W's
        fh, fw = shapes[1][2], shapes[1][3]
        stride, pad = _int(attrs, "stride", 1), _int(attrs, "pad", 0)
    else:
        fh, fw = _int(attrs, "pool_h", 2), _int(attrs, "pool_w", 2)
        stride, pad = _int(attrs, "stride", 2), _int(attrs, "pad", 0)
    out_h = (x[2] + 2 * pad - fh) // stride + 1
    out_w = (x[3] + 2 * pad - fw) // stride + 1
    return x[0] * x[1] * fh * fw * out_h * out_w


# ---- shape rules of the common ops (issue 12): layout, indexing, softmax, losses ----


def _axis_in(axis: int, ndim: int) -> int:
    """One axis (negative from the end) as 0..ndim-1; ShapeError when out of range."""
    return reduced_axes(axis, ndim)[0]


def along_axis(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """``softmax`` and ``log_softmax``: the input's shape; ``axis`` must be one of its axes
    (a scalar, with no axes, is its own softmax)."""
    x = shapes[0]
    if x:
        _axis_in(int(cast(int, attrs.get("axis", -1))), len(x))
    return x


def transpose(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """numpy.transpose: the axes reversed, or permuted as ``axes`` lists them."""
    x = shapes[0]
    axes = attrs.get("axes")
    if axes is None:
        return tuple(reversed(x))
    order = cast(tuple[int, ...], axes)
    if len(order) != len(x):
        raise ShapeError(
            f"axes {list(order)} has {len(order)} entr{'y' if len(order) == 1 else 'ies'} for "
            f"an input with {len(x)} dimension{'s' * (len(x) != 1)}: list each axis once"
        )
    if sorted(_axis_in(a, len(x)) for a in order) != list(range(len(x))):
        raise ShapeError(f"axes {list(order)} is not a permutation of the axes 0..{len(x) - 1}")
    return tuple(x[a] for a in order)


def reshape(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """numpy.reshape: ``shape`` with at most one -1, standing for what the other sizes leave."""
    x = shapes[0]
    wanted = cast(tuple[int, ...], attrs.get("shape") or ())
    size = math.prod(x)
    shown = list(wanted)
    if wanted.count(-1) > 1:
        raise ShapeError(f"shape {shown} has more than one -1")
    if any(n < -1 for n in wanted):
        raise ShapeError(f"shape {shown} has a negative size other than -1")
    known = math.prod(n for n in wanted if n != -1)
    if -1 in wanted:
        if known == 0 or size % known:
            raise ShapeError(
                f"cannot reshape {size:,} element{'s' * (size != 1)} (shape {list(x)}) into "
                f"{shown}: {size:,} is not a multiple of {known:,}"
            )
        return tuple(size // known if n == -1 else n for n in wanted)
    if known != size:
        raise ShapeError(
            f"cannot reshape {size:,} element{'s' * (size != 1)} (shape {list(x)}) into "
            f"{shown} ({known:,} element{'s' * (known != 1)})"
        )
    return wanted


def flatten(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """The book's ``x.reshape(x.shape[0], -1)``: (N, the rest); None for a scalar (no N)."""
    x = shapes[0]
    return (x[0], math.prod(x[1:])) if x else None


def index(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """numpy's basic indexing with the constant ``index``: whole numbers drop their axis."""
    from bpcalc.ops.indexing import index_shape

    text = attrs.get("index")
    if text is None:  # required, so only a layer built bare: IndexLayer() keeps x whole
        return shapes[0]
    return index_shape(shapes[0], str(text))


def loss(shapes: Shapes, attrs: Attributes) -> Shape | None:
    """A loss of two operands that broadcast together: a single number."""
    return None if _broadcast(*shapes) is None else ()
