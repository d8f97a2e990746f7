"""Inputs for the layers of bpcalc.ops.cnn, shared by the tests that iterate over every op
(test_layers' BUILDERS, test_fuzz's operands) and by tests/test_ops_cnn.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

Draw = Callable[[st.SearchStrategy[Any]], Any]
Inputs = tuple[list[Any], list[bool]]

CNN_OPS = ("convolution", "pooling", "batch_norm", "dropout")


def floats(draw: Draw, shape: tuple[int, ...], low: float = 0.1, high: float = 2.0) -> Any:
    """An array with magnitudes in [low, high] and either sign: never near a kink at 0."""
    count = int(np.prod(shape))
    magnitudes = draw(
        st.lists(st.floats(low, high, allow_nan=False), min_size=count, max_size=count)
    )
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=count, max_size=count))
    return (np.array(magnitudes) * np.array(signs)).reshape(shape)


def distinct(draw: Draw, shape: tuple[int, ...]) -> Any:
    """Values at least 0.01 apart, shuffled: every window has one clear maximum, so a
    difference step of 1e-6 never changes which element it is."""
    count = int(np.prod(shape))
    order = draw(st.permutations(list(range(count))))
    offset = draw(st.floats(-1.0, 1.0, allow_nan=False))
    return (np.array(order, dtype=np.float64) * 0.37 + offset).reshape(shape)


def convolution_case(draw: Draw) -> tuple[list[Any], dict[str, int]]:
    """x, W, b that fit, and stride and pad attributes."""
    n, c, fn = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad, stride = draw(st.integers(0, 1)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, fh - 2 * pad), 4))
    w = draw(st.integers(max(1, fw - 2 * pad), 4))
    b_shape = draw(st.sampled_from([(fn,), (fn,), ()]))
    values = [floats(draw, (n, c, h, w)), floats(draw, (fn, c, fh, fw)), floats(draw, b_shape)]
    if not b_shape:
        values[2] = float(values[2])
    return values, {"stride": stride, "pad": pad}


def pooling_case(draw: Draw) -> tuple[list[Any], dict[str, int]]:
    pool_h, pool_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = draw(st.integers(0, min(pool_h, pool_w) // 2))
    stride = draw(st.integers(1, 3))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, pool_h - 2 * pad), 5))
    w = draw(st.integers(max(1, pool_w - 2 * pad), 5))
    attrs = {"pool_h": pool_h, "pool_w": pool_w, "stride": stride, "pad": pad}
    return [distinct(draw, (n, c, h, w))], attrs


def batch_norm_case(draw: Draw, *, running: bool | None = None) -> tuple[list[Any], dict[str, Any]]:
    """x (2-D or 4-D), gamma and beta, and with ``running`` (drawn when None) mean and var."""
    shape = draw(st.sampled_from([(3, 2), (2, 3), (4, 1), (2, 1, 2, 2), (3, 2, 1, 1)]))
    features = int(np.prod(shape[1:]))
    per_feature = draw(st.sampled_from([(features,), (features,), ()]))
    values = [floats(draw, shape), floats(draw, per_feature), floats(draw, per_feature)]
    if running if running is not None else draw(st.booleans()):
        values += [floats(draw, (features,)), floats(draw, (features,), 0.2, 2.0) ** 2]
    values = [v if np.ndim(v) else float(v) for v in values]
    return values, {"eps": draw(st.sampled_from([1e-6, 1e-5, 0.1]))}


def dropout_case(draw: Draw) -> tuple[list[Any], dict[str, Any]]:
    shape = draw(st.sampled_from([(3,), (2, 3), (2, 1, 2, 2)]))
    attrs = {
        "ratio": draw(st.sampled_from([0.0, 0.3, 0.5, 0.9])),
        "train": draw(st.booleans()),
        "seed": draw(st.integers(0, 5)),
    }
    return [floats(draw, shape)], attrs


CASES: dict[str, Callable[..., tuple[list[Any], dict[str, Any]]]] = {
    "convolution": convolution_case,
    "pooling": pooling_case,
    "batch_norm": batch_norm_case,
    "dropout": dropout_case,
}


def _default_attrs(draw: Draw, op: str) -> list[Any]:
    """Inputs that fit the op's default attributes (what test_layers builds layers with)."""
    while True:
        values, attrs = CASES[op](draw, running=False) if op == "batch_norm" else CASES[op](draw)
        if op == "convolution" and attrs == {"stride": 1, "pad": 0}:
            return values
        if op == "pooling":
            n, c = values[0].shape[:2]
            return [distinct(draw, (n, c, draw(st.integers(2, 5)), draw(st.integers(2, 5))))]
        if op in ("batch_norm", "dropout"):
            return values


def layer_builder(op: str) -> Callable[[Draw], Inputs]:
    """test_layers' BUILDERS entry: inputs for the layer with its default attributes."""

    def build(draw: Draw) -> Inputs:
        values = _default_attrs(draw, op)
        return values, [True] * len(values)

    return build


BUILDERS = {op: layer_builder(op) for op in CNN_OPS}


@st.composite
def operands(draw: st.DrawFn, op: str) -> tuple[list[tuple[str, Any, bool]], list[str]]:
    """test_fuzz's operands for a layer of bpcalc.ops.cnn, with its default attributes:
    (name, value, grad) inputs and the arguments (batch_norm with or without mean and var)."""
    if op == "batch_norm":
        values, _ = batch_norm_case(draw)
    else:
        values = _default_attrs(draw, op)
    names = ["x", "W", "b"] if op == "convolution" else ["x", "g", "be", "m", "v"][: len(values)]
    return [(name, value, True) for name, value in zip(names, values, strict=False)], names
