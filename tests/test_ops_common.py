"""The common ops of issue 12: elementwise functions, maximum/minimum, max/min, layout, indexing,
softmax and the book's losses.

Hand-worked values: maximum([1, 2, 3], [1, 0, 5]) = [1, 2, 5] with dx = [1/2, 1, 0] (a tie
splits the gradient); max([[1, 3], [3, 0]]) = 3 with dx = [[0, 1/2], [1/2, 0]]; abs'(0) = 0;
leaky_relu'(0) = slope; x[:, 1] of a 2x3 matrix has gradient [[0, 1, 0], [0, 1, 0]];
sum_squared_error([1, 2], [0, 0]) = 2.5; cross_entropy_error([0.5, 0.5], [1, 0]) = -ln(0.5 + 1e-7).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bpcalc import loads
from bpcalc.errors import GraphError
from bpcalc.ops import layers
from bpcalc.ops.indexing import canonical_index, numpy_key, parse_index
from bpcalc.ops.table import OPS
from tests.conftest import Invoke
from tests.test_export import export_to, parse_output, run_numbers, run_script

COMMON = [
    *("sqrt", "square", "abs", "sin", "cos", "maximum", "minimum", "leaky_relu", "softplus"),
    *("max", "min", "transpose", "reshape", "flatten", "index", "softmax", "log_softmax"),
    *("mse", "sum_squared_error", "cross_entropy_error"),
]
H = 1e-6
CHECK = settings(max_examples=30, deadline=None)


def test_every_common_op_is_registered() -> None:
    assert set(COMMON) <= set(OPS)


# ------------------------------------------------------------------ layers: central differences


def between(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def layer_objective(make: Callable[[], Any], inputs: list[Any], dout: Any) -> float:
    out = make().forward(*inputs)
    return math.fsum((np.asarray(out, dtype=np.float64) * dout).ravel().tolist())


def assert_backward_is_numerical(
    make: Callable[[], Any], inputs: list[Any], differentiable: list[bool], seed: int = 0
) -> None:
    """backward(dout) for a random dout equals central differences of sum(forward * dout)."""
    layer = make()
    out = layer.forward(*inputs)
    rng = np.random.default_rng(seed)
    dout = (
        float(rng.uniform(0.5, 1.5)) if np.ndim(out) == 0 else rng.uniform(0.5, 1.5, np.shape(out))
    )
    if not isinstance(out, np.ndarray) and not isinstance(dout, float):
        dout = float(dout)
    grads = layer.backward(dout)
    grads = (grads,) if len(inputs) == 1 else grads
    for i, (x, grad) in enumerate(zip(inputs, grads, strict=True)):
        assert np.shape(grad) == np.shape(x)
        if not differentiable[i]:
            np.testing.assert_array_equal(grad, np.zeros(np.shape(x)))
            continue
        expected = np.zeros(np.shape(x))
        for index in np.ndindex(np.shape(x)):
            plus, minus = np.array(x, dtype=np.float64), np.array(x, dtype=np.float64)
            plus[index] += H
            minus[index] -= H
            args_plus, args_minus = list(inputs), list(inputs)
            args_plus[i] = float(plus) if np.ndim(x) == 0 else plus
            args_minus[i] = float(minus) if np.ndim(x) == 0 else minus
            expected[index] = (
                layer_objective(make, args_plus, dout) - layer_objective(make, args_minus, dout)
            ) / (2 * H)
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


shapes_nd = st.sampled_from([(3,), (2, 3), (2, 1, 3), (1, 4), (2, 2, 2)])


@st.composite
def distinct(draw: Any, shape: tuple[int, ...]) -> Any:
    """Values at least 0.01 apart (no ties within a difference step), of any magnitude."""
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3]))
    elements = st.integers(-500, 500).map(lambda k: k / 100 * scale)
    return draw(hnp.arrays(np.float64, shape, elements=elements, unique=True))


class TestLayersAgainstCentralDifferences:
    @CHECK
    @given(data=st.data())
    def test_reductions_with_any_axis(self, data: st.DataObject) -> None:
        """max and min over every axis choice, with and without keepdims, no ties."""
        shape = data.draw(shapes_nd)
        x = data.draw(distinct(shape))
        ndim = len(shape)
        axis = data.draw(
            st.one_of(
                st.none(),
                st.integers(-ndim, ndim - 1),
                st.lists(st.integers(0, ndim - 1), unique=True).map(tuple),
            )
        )
        keepdims = data.draw(st.booleans())
        for cls in (layers.MaxLayer, layers.MinLayer):
            assert_backward_is_numerical(lambda c=cls: c(axis=axis, keepdims=keepdims), [x], [True])
            expected = (np.max if cls is layers.MaxLayer else np.min)(
                x, axis=axis, keepdims=keepdims
            )
            np.testing.assert_array_equal(cls(axis=axis, keepdims=keepdims).forward(x), expected)

    @CHECK
    @given(data=st.data())
    def test_layout_ops(self, data: st.DataObject) -> None:
        """transpose (any permutation), reshape (with -1), flatten and index (random keys)."""
        shape = data.draw(shapes_nd)
        x = data.draw(hnp.arrays(np.float64, shape, elements=between(-1e3, 1e3)))
        axes = tuple(data.draw(st.permutations(range(len(shape)))))
        assert_backward_is_numerical(lambda: layers.TransposeLayer(axes=axes), [x], [True])
        assert_backward_is_numerical(lambda: layers.TransposeLayer(), [x], [True])
        size = x.size
        first = data.draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
        target = data.draw(
            st.sampled_from([(first, -1), (-1, first), (size,), (first, size // first)])
        )
        out = layers.ReshapeLayer(shape=target).forward(x)
        assert out.shape == np.reshape(x, target).shape
        assert_backward_is_numerical(lambda: layers.ReshapeLayer(shape=target), [x], [True])
        assert_backward_is_numerical(lambda: layers.FlattenLayer(), [x], [True])
        text = data.draw(index_texts(shape))
        out = layers.IndexLayer(index=text).forward(x)
        np.testing.assert_array_equal(out, x[numpy_key(text)])
        assert_backward_is_numerical(lambda: layers.IndexLayer(index=text), [x], [True])

    @CHECK
    @given(data=st.data())
    def test_softmax_and_log_softmax_along_any_axis(self, data: st.DataObject) -> None:
        shape = data.draw(shapes_nd)
        x = data.draw(hnp.arrays(np.float64, shape, elements=between(-30.0, 30.0)))
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        for cls in (layers.Softmax, layers.LogSoftmax):
            assert_backward_is_numerical(lambda c=cls: c(axis=axis), [x], [True])
        y = layers.Softmax(axis=axis).forward(x)
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-12)

    @CHECK
    @given(data=st.data())
    def test_elementwise_ops_on_nd_inputs(self, data: st.DataObject) -> None:
        shape = data.draw(st.sampled_from([(), (3,), (2, 3), (2, 1, 2)]))
        away = st.builds(lambda s, v: s * v, st.sampled_from([-1.0, 1.0]), between(0.01, 50.0))

        def draw(elements: st.SearchStrategy[float]) -> Any:
            if shape == ():
                return float(data.draw(elements))
            return data.draw(hnp.arrays(np.float64, shape, elements=elements))

        assert_backward_is_numerical(layers.SqrtLayer, [draw(between(0.01, 1e4))], [True])
        for cls in (layers.SquareLayer, layers.SinLayer, layers.CosLayer, layers.Softplus):
            assert_backward_is_numerical(cls, [draw(between(-30.0, 30.0))], [True])
        assert_backward_is_numerical(layers.AbsLayer, [draw(away)], [True])
        slope = data.draw(between(0.0, 2.0))
        assert_backward_is_numerical(lambda: layers.LeakyRelu(slope=slope), [draw(away)], [True])

    @CHECK
    @given(data=st.data())
    def test_binary_ops_broadcast(self, data: st.DataObject) -> None:
        x_shape, y_shape = data.draw(
            st.sampled_from(
                [((), ()), ((3,), ()), ((2, 3), (3,)), ((2, 1), (1, 3)), ((3,), (2, 3))]
            )
        )

        def draw(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> Any:
            if shape == ():
                return float(data.draw(elements))
            return data.draw(hnp.arrays(np.float64, shape, elements=elements))

        x, y = draw(x_shape, between(-3.0, 3.0)), draw(y_shape, between(-3.0, 3.0))
        assume(np.all(np.abs(np.subtract(x, y)) > 1e-3))  # no tie within a step
        for cls in (
            layers.MaximumLayer,
            layers.MinimumLayer,
            layers.MeanSquaredError,
            layers.SumSquaredError,
        ):
            assert_backward_is_numerical(cls, [x, y], [True, True])

    @CHECK
    @given(data=st.data())
    def test_cross_entropy_error(self, data: st.DataObject) -> None:
        """One-hot or probability rows (differentiable) and class indices (gradient 0)."""
        n, classes = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
        shape = data.draw(st.sampled_from([(classes,), (n, classes)]))
        y = data.draw(hnp.arrays(np.float64, shape, elements=between(0.05, 1.0)))
        rows = 1 if len(shape) == 1 else n
        labels = np.array(
            data.draw(st.lists(st.integers(0, classes - 1), min_size=rows, max_size=rows))
        )
        if data.draw(st.booleans()):
            t = np.eye(classes)[labels].reshape(shape)
            assert_backward_is_numerical(layers.CrossEntropyError, [y, t], [True, True])
        else:
            t = float(labels[0]) if len(shape) == 1 else labels.astype(np.float64)
            assert_backward_is_numerical(layers.CrossEntropyError, [y, t], [True, False])


@st.composite
def index_texts(draw: Any, shape: tuple[int, ...]) -> str:
    """A random constant index that fits ``shape``, as canonical text."""
    count = draw(st.integers(1, len(shape)))
    entries: list[Any] = []
    for size in shape[:count]:
        if draw(st.booleans()):
            entries.append(draw(st.integers(-size, size - 1)))
        else:
            part = st.one_of(st.none(), st.integers(-size - 1, size + 1))
            step = draw(st.one_of(st.none(), st.integers(1, 3), st.integers(-2, -1)))
            entries.append((draw(part), draw(part), step))
    from bpcalc.ops.indexing import index_text

    return index_text(entries)


class TestTiesZerosAndEdges:
    def test_maximum_and_minimum_split_a_tie(self) -> None:
        layer = layers.MaximumLayer()
        np.testing.assert_array_equal(
            layer.forward(np.array([1.0, 2, 3]), np.array([1.0, 0, 5])), [1, 2, 5]
        )
        dx, dy = layer.backward(np.ones(3))
        np.testing.assert_array_equal(dx, [0.5, 1, 0])
        np.testing.assert_array_equal(dy, [0.5, 0, 1])
        layer = layers.MinimumLayer()
        assert layer.forward(2.0, 2.0) == 2.0 and layer.backward(1.0) == (0.5, 0.5)

    def test_max_and_min_split_the_gradient_among_ties(self) -> None:
        x = np.array([[1.0, 3.0], [3.0, 0.0]])
        layer = layers.MaxLayer()
        assert layer.forward(x) == 3.0
        np.testing.assert_array_equal(layer.backward(1.0), [[0, 0.5], [0.5, 0]])
        layer = layers.MinLayer(axis=1)
        np.testing.assert_array_equal(layer.forward(np.array([[2.0, 2.0], [1.0, 5.0]])), [2, 1])
        np.testing.assert_array_equal(layer.backward(np.array([1.0, 1.0])), [[0.5, 0.5], [1, 0]])

    def test_abs_and_leaky_relu_at_zero(self) -> None:
        layer = layers.AbsLayer()
        layer.forward(0.0)
        assert layer.backward(1.0) == 0.0
        layer.forward(np.array([-2.0, 0.0, 3.0]))
        np.testing.assert_array_equal(layer.backward(np.ones(3)), [-1, 0, 1])
        leaky = layers.LeakyRelu(slope=0.1)
        assert leaky.forward(-2.0) == pytest.approx(-0.2)
        leaky.forward(0.0)
        assert leaky.backward(1.0) == 0.1

    def test_sqrt_at_zero_has_an_infinite_slope(self) -> None:
        layer = layers.SqrtLayer()
        assert layer.forward(0.0) == 0.0 and layer.backward(1.0) == math.inf
        assert math.isnan(layers.SqrtLayer().forward(-1.0))

    def test_softplus_is_stable_for_large_magnitudes(self) -> None:
        layer = layers.Softplus()
        np.testing.assert_array_equal(layer.forward(np.array([-1000.0, 1000.0])), [0.0, 1000.0])
        np.testing.assert_array_equal(layer.backward(np.ones(2)), [0.0, 1.0])
        assert layers.Softplus().forward(0.0) == pytest.approx(math.log(2))

    def test_softmax_is_stable_for_large_logits(self) -> None:
        y = layers.Softmax().forward(np.array([1000.0, 1000.0, -1000.0]))
        np.testing.assert_array_equal(y, [0.5, 0.5, 0.0])
        logp = layers.LogSoftmax().forward(np.array([1000.0, 0.0]))
        np.testing.assert_allclose(logp, [0.0, -1000.0])

    def test_the_books_losses(self) -> None:
        """Chapter 4's examples: t = one-hot 2, y with 0.6 at 2 gives SSE 0.0975 and CEE 0.5108."""
        y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
        t = np.eye(10)[2]
        assert layers.SumSquaredError().forward(y, t) == pytest.approx(0.0975, rel=1e-12)
        assert layers.CrossEntropyError().forward(y, t) == pytest.approx(
            0.510825457099338, rel=1e-9
        )
        assert layers.CrossEntropyError().forward(y, 2.0) == layers.CrossEntropyError().forward(
            y, t
        )
        batch = np.stack([y, y])
        assert layers.CrossEntropyError().forward(batch, np.array([2.0, 2.0])) == pytest.approx(
            0.510825457099338, rel=1e-9
        )
        with pytest.raises(ValueError, match=r"class indices must be whole numbers in 0\.\.9"):
            layers.CrossEntropyError().forward(y, 10.0)

    def test_index_keys_agree_with_the_loaders_parser(self) -> None:
        """The layer's small parser (copied into standalone scripts) reads what the loader wrote."""
        for text in ("[0]", "[-1]", "[:, 1]", "[1, 2]", "[0:2]", "[:, ::2]", "[::-1, 1:3:2]"):
            assert layers._index_key(text) == numpy_key(text)
            assert canonical_index(text) == text
        assert canonical_index(" :, 1 ") == "[:, 1]" and canonical_index(0) == "[0]"
        assert canonical_index([1, 2]) == "[1, 2]" and parse_index("[1:]") == ((1, None, None),)


# ------------------------------------------------------------------ graphs: both forms and tools

M = [[1.5, -2.0, 0.5], [3.0, 0.25, -1.0]]
P = [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]
# op -> (inputs, expression, explicit form): the same node written both ways.
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "sqrt": ({"x": [0.5, 2.0, 9.0]}, "sqrt(x)", "{op: sqrt, in: [x]}"),
    "square": ({"x": M}, "square(x)", "{op: square, in: [x]}"),
    "abs": ({"x": M}, "abs(x)", "{op: abs, in: [x]}"),
    "sin": ({"x": M}, "sin(x)", "{op: sin, in: [x]}"),
    "cos": ({"x": M}, "cos(x)", "{op: cos, in: [x]}"),
    "maximum": ({"x": M, "y": [0.0, 1.0, -0.75]}, "maximum(x, y)", "{op: maximum, in: [x, y]}"),
    "minimum": ({"x": M, "y": 0.3}, "minimum(x, y)", "{op: minimum, in: [x, y]}"),
    "leaky_relu": (
        {"x": M},
        "leaky_relu(x, slope=0.2)",
        "{op: leaky_relu, in: [x], slope: 0.2}",
    ),
    "softplus": ({"x": M}, "softplus(x)", "{op: softplus, in: [x]}"),
    "max": (
        {"x": M},
        "max(x, axis=1, keepdims=true)",
        "{op: max, in: [x], axis: 1, keepdims: true}",
    ),
    "min": ({"x": M}, "min(x, axis=[0])", "{op: min, in: [x], axis: [0]}"),
    "transpose": ({"x": M}, "x.T", "{op: transpose, in: [x]}"),
    "reshape": ({"x": M}, "reshape(x, shape=[3, -1])", "{op: reshape, in: [x], shape: [3, -1]}"),
    "flatten": ({"x": [M, M]}, "flatten(x)", "{op: flatten, in: [x]}"),
    "index": ({"x": M}, "x[:, 1:]", "{op: index, in: [x], index: '[:, 1:]'}"),
    "softmax": ({"x": M}, "softmax(x, axis=0)", "{op: softmax, in: [x], axis: 0}"),
    "log_softmax": ({"x": M}, "log_softmax(x)", "{op: log_softmax, in: [x]}"),
    "mse": ({"y": M, "t": P}, "mse(y, t)", "{op: mse, in: [y, t]}"),
    "sum_squared_error": (
        {"y": M, "t": P},
        "sum_squared_error(y, t)",
        "{op: sum_squared_error, in: [y, t]}",
    ),
    "cross_entropy_error": (
        {"y": P, "t": [2, 0]},
        "cross_entropy_error(y, t)",
        "{op: cross_entropy_error, in: [y, t]}",
    ),
}
WEIGHTS = "[[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]"  # makes the upstream gradient uneven


def case_graph(op: str, *, explicit: bool) -> str:
    inputs, expression, form = CASES[op]
    lines = ["inputs:"]
    for name, value in inputs.items():
        grad = not (op == "cross_entropy_error" and name == "t")
        lines.append(
            f"  {name}: "
            + (json.dumps(value) if grad else f"{{value: {json.dumps(value)}, grad: false}}")
        )
    lines += ["nodes:", f"  r: {form if explicit else expression}", "  out: sum(r * r) + sum(r)"]
    return "\n".join(lines) + "\n"


@pytest.fixture(params=COMMON)
def op_case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / f"{request.param}.yaml"
    path.write_text(case_graph(request.param, explicit=False), encoding="utf-8")
    return request.param, path


class TestGraphs:
    @pytest.mark.parametrize("op", COMMON)
    def test_explicit_and_expression_forms_agree(self, op: str) -> None:
        a = loads(case_graph(op, explicit=False), name="a.yaml")
        b = loads(case_graph(op, explicit=True), name="b.yaml")
        assert a.node_by_name["r"].attrs == b.node_by_name["r"].attrs
        assert a.node_by_name["r"].op == b.node_by_name["r"].op == op
        ea, eb = a.evaluate(), b.evaluate()
        for name in ea.values:
            np.testing.assert_array_equal(ea.values[name], eb.values[name])
            if ea.grads[name] is not None:
                np.testing.assert_array_equal(ea.grads[name], eb.grads[name])

    def test_export_prints_the_numbers_of_run(
        self, invoke: Invoke, tmp_path: Path, op_case: tuple[str, Path]
    ) -> None:
        _, path = op_case
        expected = run_numbers(invoke, str(path))
        for standalone in (False, True):
            script = export_to(
                invoke, tmp_path, str(path), "--python", *(["--standalone"] * standalone)
            )
            assert parse_output(run_script(script, without_bpcalc=standalone)) == expected

    def test_trace_draw_and_check_work(self, invoke: Invoke, op_case: tuple[str, Path]) -> None:
        op, path = op_case
        for args in (
            ("trace", str(path)),
            ("trace", str(path), "-o", "json"),
            ("draw", str(path), "-o", "text"),
            ("draw", str(path), "-o", "dot"),
            ("draw", str(path), "-o", "mermaid"),
            ("check", str(path)),
        ):
            result = invoke(*args)
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
        assert op in invoke("draw", str(path), "-o", "dot").stdout

    def test_scalar_trace_shows_local_derivatives(self, invoke: Invoke, tmp_path: Path) -> None:
        path = tmp_path / "g.yaml"
        path.write_text(
            "inputs: {x: 2.0, y: 2.0}\nnodes:\n  z: maximum(square(x), y * 2) + leaky_relu(-x)\n",
            encoding="utf-8",
        )
        result = invoke("trace", str(path))
        assert result.exit_code == 0, result.stderr
        assert "maximum" in result.stdout and "leaky_relu" in result.stdout

    def test_exact_gives_rationals(self, invoke: Invoke, tmp_path: Path) -> None:
        """A three-way tie of max gives each 1/3, maximum's tie 1/2: dx = 5/6; the layout ops,
        mse and the index are exact too, and every value equals the float run's."""
        path = tmp_path / "g.yaml"
        path.write_text(
            "inputs: {x: [0.1, 0.1, 0.1], y: [[1, 2], [3, 4]]}\nnodes:\n"
            "  a: sum(maximum(x, 0.1)) + max(x) + mse(y, y.T) + sum(y[:, 1])\n"
            "  b: sum(reshape(y, shape=[-1])[1:]) + sum(flatten(y))\n"
            "  d: sum_squared_error(abs(x), 0) + sum(min(square(y), axis=0))\n"
            "  c: leaky_relu(-1, slope=0.1) + sum(transpose(y, axes=[1, 0]))\n"
            "  out: a + b + c + d\n",
            encoding="utf-8",
        )
        result = invoke("run", str(path), "--exact", "-o", "json")
        assert result.exit_code == 0, result.stderr
        exact = json.loads(result.stdout)
        floats = json.loads(invoke("run", str(path), "-o", "json").stdout)
        fractions = [Fraction(v["fraction"]) for v in exact["grads"]["x"]]
        assert fractions == [Fraction(5, 6) + Fraction(1, 10)] * 3  # + d sse/dx = |x| = 1/10
        assert exact["values"]["leaky_relu(-1, slope=0.1)"]["fraction"] == "-1/10"
        for name, value in floats["values"].items():
            np.testing.assert_allclose(_floats(exact["values"][name]), value, rtol=1e-12)
            np.testing.assert_allclose(
                _floats(exact["grads"][name]), floats["grads"][name], rtol=1e-12
            )


def _floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value["float"]


# ------------------------------------------------------------------ attribute errors, located

ERRORS = [
    ("reshape(M)", "4:6: reshape() needs the attribute shape: reshape(x, shape=[3, -1])"),
    ("{op: reshape, in: [M]}", "4:6: reshape() needs the attribute shape"),
    ("reshape(M, shape=5)", "4:23: attribute 'shape' of reshape expects a list of whole numbers"),
    (
        "reshape(M, shape=[4, -1])",
        "4:6: node 's': reshape: cannot reshape 6 elements (shape [2, 3]) into [4, -1]: "
        "6 is not a multiple of 4",
    ),
    ("reshape(M, shape=[-1, -1])", "4:6: node 's': reshape: shape [-1, -1] has more than one -1"),
    ("transpose(M, axes=[0, 0])", "4:6: node 's': transpose: axes [0, 0] is not a permutation"),
    ("transpose(M, axes=[0])", "4:6: node 's': transpose: axes [0] has 1 entry for an input"),
    ("softmax(M, axis=2)", "4:6: node 's': softmax: axis 2 is out of range for an input with 2"),
    ("softmax(M, axis=[0])", "4:22: attribute 'axis' of softmax expects a whole number, got [0]"),
    ("max(M, axis=3)", "4:6: node 's': max: axis 3 is out of range"),
    ("min(M, axis=[0, 0])", "4:6: node 's': min: axis [0, 0] names axis 0 twice"),
    ("leaky_relu(M, slope=x)", "4:26: attribute 'slope' is a constant"),
    (
        "leaky_relu(M, slop=0.1)",
        "4:20: leaky_relu() has no attribute 'slop' (did you mean 'slope'?)",
    ),
    ("{op: leaky_relu, in: [M], slope: true}", "4:39: attribute 'slope' of leaky_relu expects a"),
    ("M[x]", "4:8: an index is a constant: whole numbers and slices such as [0]"),
    ("M[0:n]", "4:10: an index is a constant"),
    ("M[()]", "4:6: an index needs at least one entry, such as x[0]"),
    ("M[::0]", "4:8: a slice step cannot be 0"),
    ("M[0, 0, 0]", "4:6: node 's': index: index [0, 0, 0] has 3 entries for an input of shape"),
    ("M[2]", "4:6: node 's': index: index 2 is out of range for axis 0 with size 2"),
    ("{op: index, in: [M]}", "4:6: index() needs the attribute index"),
    ("{op: index, in: [M], index: '[a]'}", "4:34: attribute 'index' of index must hold whole"),
    ("{op: index, in: [M], index: '0:1:2:3'}", "4:34: attribute 'index' of index must hold"),
    ("{op: flatten, in: [M], axis: 1}", "4:29: unknown key 'axis'"),
    ("M.U", "4:6: 'M.U' is not allowed in an expression"),
]


@pytest.mark.parametrize(("node", "message"), ERRORS)
def test_attribute_errors_are_located_before_evaluating(node: str, message: str) -> None:
    text = f"inputs:\n  M: [[1, 2, 3], [4, 5, 6]]\nnodes:\n  s: {node}\n"
    with pytest.raises(GraphError) as raised:
        loads(text, name="g.yaml").evaluate()
    assert f"g.yaml:{message}" in str(raised.value)


def test_index_forms_of_the_explicit_node() -> None:
    """index: '[:, 1]' (quoted), ':, 1', a whole number or a list of them are one index."""
    texts = ["'[:, 1]'", "':, 1'", '"[:, 1]"']
    graphs = [
        loads(f"inputs:\n  M: [[1, 2], [3, 4]]\nnodes:\n  s: {{op: index, in: [M], index: {t}}}\n")
        for t in texts
    ]
    assert {g.nodes[0].attrs["index"] for g in graphs} == {"[:, 1]"}
    one = loads(
        "inputs:\n  M: [[1, 2], [3, 4]]\nnodes:\n  s: {op: index, in: [M], index: [1, 0]}\n"
    )
    assert one.evaluate().values["s"] == 3.0
