"""The layer protocol: what the engine, trace and export call on every layer.

A layer is built with its op's attributes as keywords (``SumLayer(axis=1)``; ops without
attributes take none), ``forward`` takes one value per param and keeps what ``backward``
needs, and ``backward(dout)`` returns the gradient of each input: a single value for one input,
a tuple for more. Values are floats, float64 arrays or (``--exact``) Fractions and object
arrays, hence ``Any``. One protocol per arity, so mypy checks that each layer's ``forward``
takes as many values as its op has params (see the typed tuples at the end of
bpcalc.ops.layers and bpcalc.ops.exact).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Value = Any  # float | Fraction | np.ndarray: numpy's stubs know neither unions nor Fraction


class UnaryLayer(Protocol):
    def forward(self, x: Value, /) -> Value: ...

    def backward(self, dout: Value, /) -> Value: ...


class BinaryLayer(Protocol):
    def forward(self, x: Value, y: Value, /) -> Value: ...

    def backward(self, dout: Value, /) -> tuple[Value, Value]: ...


class TernaryLayer(Protocol):
    def forward(self, x: Value, y: Value, z: Value, /) -> Value: ...

    def backward(self, dout: Value, /) -> tuple[Value, Value, Value]: ...


Layer = UnaryLayer | BinaryLayer | TernaryLayer
LayerClass = Callable[..., Layer]  # a layer class, called with the node's attributes
