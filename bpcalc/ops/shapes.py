"""Shape rules: the shape of an op's result from its operands' shapes and its attributes.

Each OpSpec names one; bpcalc.engine.sizes applies them to a whole graph before evaluating.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    xw = _matmul(shapes[0], shapes[1])
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
