"""Per-layer correctness: every op's backward against central differences, and the sharp edges.

The gradient checks iterate ``bpcalc.ops.table.OPS``, so a new op is checked as soon as it is
registered: unary and binary ops get elementwise inputs by default, and an op that needs special
inputs gets an entry in ``BUILDERS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bpcalc.ops.layers import AddLayer, Affine, MulLayer, PowLayer, Relu, Sigmoid, SoftmaxWithLoss
from bpcalc.ops.table import OPS, OpSpec
from tests import cnn_cases

H = 1e-6  # central-difference step
RTOL, ATOL = 1e-5, 1e-6
CHECK = settings(max_examples=25, deadline=None)

Draw = Callable[[st.SearchStrategy[Any]], Any]
Inputs = tuple[list[Any], list[bool]]  # the forward() arguments, and which are differentiable
SCALAR: tuple[int, ...] = ()  # the shape of a Python float input


# ---------------------------------------------------------------- input builders


def between(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def away_from_zero(low: float, high: float) -> st.SearchStrategy[float]:
    """Numbers with low <= |v| <= high, of either sign."""
    return st.builds(lambda sign, v: sign * v, st.sampled_from([-1.0, 1.0]), between(low, high))


def value(draw: Draw, shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> Any:
    """A Python float for shape (), else a float64 array of that shape."""
    if shape == SCALAR:
        return float(draw(elements))
    return draw(hnp.arrays(np.float64, shape, elements=elements))


UNARY_SHAPES = [SCALAR, (3,), (2, 3), (2, 1, 2)]
BINARY_SHAPES = [
    (SCALAR, SCALAR),
    (SCALAR, (3,)),
    ((2, 3), SCALAR),
    ((3,), (3,)),
    ((3,), (2, 3)),
    ((2, 3), (3,)),
    ((2, 1), (1, 3)),
    ((1, 3), (2, 1)),
    ((2, 3), (2, 3)),
    ((2, 1, 2), (3, 1)),
]
GENERAL = between(-3.0, 3.0)
# Safe domains: positive bases for log and pow, no division near 0, no relu near its kink.
DOMAINS: dict[str, tuple[st.SearchStrategy[float], ...]] = {
    "log": (between(0.25, 4.0),),
    "pow": (between(0.25, 3.0), between(-2.0, 2.0)),
    "div": (GENERAL, away_from_zero(0.5, 3.0)),
    "relu": (away_from_zero(0.01, 3.0),),
    # The common ops (issue 12): no kink inside a step, no tie between maximum's operands.
    "sqrt": (between(0.25, 4.0),),
    "abs": (away_from_zero(0.01, 3.0),),
    "leaky_relu": (away_from_zero(0.01, 3.0),),
    "maximum": (away_from_zero(1.0, 3.0), between(-0.5, 0.5)),
    "minimum": (away_from_zero(1.0, 3.0), between(-0.5, 0.5)),
}


def elementwise(name: str, arity: int) -> Callable[[Draw], Inputs]:
    """Inputs for an elementwise op: floats and arrays, with every broadcasting pair."""
    domains = DOMAINS.get(name, (GENERAL,) * arity)

    def build(draw: Draw) -> Inputs:
        shapes = draw(st.sampled_from(UNARY_SHAPES if arity == 1 else BINARY_SHAPES))
        shapes = (shapes,) if arity == 1 else shapes
        return [value(draw, s, d) for s, d in zip(shapes, domains, strict=True)], [True] * arity

    return build


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (2, 3, 4)),
    ((2, 2, 3), (2, 3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
    ((2, 1, 2, 3), (3, 3, 2)),
]


def matmul_inputs(draw: Draw) -> Inputs:
    x_shape, y_shape = draw(st.sampled_from(MATMUL_SHAPES))
    return [value(draw, x_shape, GENERAL), value(draw, y_shape, GENERAL)], [True, True]


def affine_inputs(draw: Draw) -> Inputs:
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x_shape = draw(st.sampled_from([(k,), (n, k)]))
    b_shape = draw(st.sampled_from([(m,), (1, m), SCALAR]))
    x, w, b = (value(draw, s, GENERAL) for s in (x_shape, (k, m), b_shape))
    return [x, w, b], [True, True, True]


def softmax_inputs(draw: Draw) -> Inputs:
    """Logits with one-hot or probability rows (differentiable), or class indices (not)."""
    n, classes = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    x_shape = draw(st.sampled_from([(classes,), (n, classes)]))
    x = value(draw, x_shape, between(-5.0, 5.0))
    rows = 1 if len(x_shape) == 1 else n
    index = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=rows, max_size=rows)))
    kind = draw(st.sampled_from(["one-hot", "probabilities", "indices"]))
    if kind == "indices":
        t = float(index[0]) if len(x_shape) == 1 else index.astype(np.float64)
        return [x, t], [True, False]
    if kind == "one-hot":
        t = np.eye(classes)[index].reshape(x_shape)
    else:
        weights = value(draw, (rows, classes), between(0.1, 1.0))
        t = (weights / weights.sum(axis=1, keepdims=True)).reshape(x_shape)
    return [x, t], [True, True]


# ---- inputs of the common ops (issue 12); tests/test_ops_common.py varies their attributes


def distinct_array(draw: Draw) -> Inputs:
    """An array of distinct values at least 0.1 apart: no tie for max and min to split."""
    shape = draw(st.sampled_from(UNARY_SHAPES[1:]))
    elements = st.integers(-40, 40).map(lambda k: k / 10)
    return [draw(hnp.arrays(np.float64, shape, elements=elements, unique=True))], [True]


def any_array(draw: Draw) -> Inputs:
    return [value(draw, draw(st.sampled_from(UNARY_SHAPES[1:])), GENERAL)], [True]


def probability_inputs(draw: Draw) -> Inputs:
    """cross_entropy_error's y (probabilities, away from 0) with labels as softmax_inputs."""
    (x, t), differentiable = softmax_inputs(draw)
    y = value(draw, np.shape(x), between(0.1, 1.0))
    return [y, t], differentiable


# Fixed attributes for the generic checks here (the layers' defaults otherwise).
LAYER_ATTRS: dict[str, dict[str, Any]] = {"reshape": {"shape": (-1,)}, "index": {"index": "[-1]"}}


def new_layer(spec: OpSpec) -> Any:
    return spec.layer_class()(**LAYER_ATTRS.get(spec.name, {}))


BUILDERS: dict[str, Callable[[Draw], Inputs]] = {
    "matmul": matmul_inputs,
    "affine": affine_inputs,
    "softmax_with_loss": softmax_inputs,
    **cnn_cases.BUILDERS,
    "max": distinct_array,
    "min": distinct_array,
    "flatten": any_array,
    "reshape": any_array,
    "index": any_array,
    "cross_entropy_error": probability_inputs,
}
ARRAY_ONLY = set(BUILDERS)  # ops that need arrays; every other op also takes Python floats


def build_inputs(spec: OpSpec, draw: Draw) -> Inputs:
    if spec.name in BUILDERS:
        return BUILDERS[spec.name](draw)
    assert spec.arity in (1, 2), f"op {spec.name!r} needs an input builder in BUILDERS"
    return elementwise(spec.name, spec.arity)(draw)


def upstream(draw: Draw, out: Any) -> Any:
    """A random upstream gradient shaped like the output (a float for a float output)."""
    elements = away_from_zero(0.1, 2.0)
    return value(draw, np.shape(out) if isinstance(out, np.ndarray) else SCALAR, elements)


# ---------------------------------------------------------------- numerical gradients


def run(spec: OpSpec, inputs: Sequence[Any], dout: Any) -> tuple[Any, tuple[Any, ...]]:
    """Forward then backward through a fresh layer; the gradients always as a tuple."""
    layer = new_layer(spec)
    out = layer.forward(*inputs)
    grads = layer.backward(dout)
    return out, (grads,) if spec.arity == 1 else tuple(grads)


def objective(spec: OpSpec, inputs: Sequence[Any], dout: Any) -> float:
    """sum(forward(inputs) * dout), the scalar whose gradient backward(dout) must be."""
    out = new_layer(spec).forward(*inputs)
    return math.fsum((np.asarray(out, dtype=np.float64) * dout).ravel().tolist())


def numerical_gradient(spec: OpSpec, inputs: Sequence[Any], dout: Any, index: int) -> Any:
    """Central differences of the objective with respect to every element of one input."""

    def at(replacement: Any) -> float:
        args = list(inputs)
        args[index] = replacement
        return objective(spec, args, dout)

    x = inputs[index]
    if not isinstance(x, np.ndarray):
        return (at(x + H) - at(x - H)) / (2 * H)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += H
        minus[i] -= H
        grad[i] = (at(plus) - at(minus)) / (2 * H)
    return grad


def sum_to(grad: Any, shape: tuple[int, ...]) -> Any:
    """Reference reduction: add up the broadcast copies of each element of an input."""
    out = np.zeros(shape)
    for index in np.ndindex(grad.shape):
        source = index[len(index) - len(shape) :]
        out[tuple(0 if n == 1 else i for i, n in zip(source, shape, strict=True))] += grad[index]
    return out


# ---------------------------------------------------------------- every op


OP_NAMES = sorted(OPS)


class TestBackwardMatchesCentralDifferences:
    @pytest.mark.parametrize("name", OP_NAMES)
    @CHECK
    @given(data=st.data())
    def test_backward_matches_central_differences(self, name: str, data: st.DataObject) -> None:
        """For random inputs and a random dout, backward(dout) is the numerical gradient."""
        spec = OPS[name]
        inputs, differentiable = build_inputs(spec, data.draw)
        out = new_layer(spec).forward(*inputs)
        dout = upstream(data.draw, out)
        _, grads = run(spec, inputs, dout)
        assert len(grads) == spec.arity
        for i, (x, grad) in enumerate(zip(inputs, grads, strict=True)):
            assert np.shape(grad) == np.shape(x), f"{name}: gradient {i} has the wrong shape"
            expected = numerical_gradient(spec, inputs, dout, i) if differentiable[i] else 0.0
            np.testing.assert_allclose(grad, expected, rtol=RTOL, atol=ATOL, err_msg=name)


class TestNoLayerModifiesItsArguments:
    @pytest.mark.parametrize("name", OP_NAMES)
    @settings(max_examples=15, deadline=None)
    @given(data=st.data())
    def test_dout_and_inputs_are_left_unchanged(self, name: str, data: st.DataObject) -> None:
        """Neither forward nor backward writes into dout or into an input array."""
        spec = OPS[name]
        inputs, _ = build_inputs(spec, data.draw)
        out = new_layer(spec).forward(*inputs)
        dout = upstream(data.draw, out)
        inputs_before = [np.copy(x) for x in inputs]
        dout_before = np.copy(dout)
        for array in [*inputs, dout]:
            if isinstance(array, np.ndarray):
                array.flags.writeable = False  # so that an in-place write raises
        run(spec, inputs, dout)
        np.testing.assert_array_equal(dout, dout_before)
        for x, before in zip(inputs, inputs_before, strict=True):
            np.testing.assert_array_equal(x, before)


class TestScalarGradientsArePythonFloats:
    def test_array_only_ops_are_registered(self) -> None:
        """Every op exempted from the float check below is a real op."""
        assert set(OPS) >= ARRAY_ONLY

    @pytest.mark.parametrize("name", sorted(set(OPS) - ARRAY_ONLY))
    @settings(max_examples=15, deadline=None)
    @given(data=st.data())
    def test_float_inputs_give_float_values_and_gradients(
        self, name: str, data: st.DataObject
    ) -> None:
        """With Python float inputs and dout, the output and each gradient are of type float."""
        spec = OPS[name]
        domains = DOMAINS.get(name, (GENERAL,) * spec.arity)
        inputs = [float(data.draw(d)) for d in domains]
        out, grads = run(spec, inputs, float(data.draw(away_from_zero(0.1, 2.0))))
        assert type(out) is float
        assert [type(g) for g in grads] == [float] * spec.arity


ELEMENTWISE_BINARY = sorted(n for n in set(OPS) - ARRAY_ONLY if OPS[n].arity == 2)


class TestBroadcastGradients:
    @pytest.mark.parametrize("name", ELEMENTWISE_BINARY)
    @pytest.mark.parametrize(
        ("x_shape", "y_shape"),
        [((3,), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((1, 3), (2, 1)), ((2, 1, 3), (4, 1))],
    )
    def test_gradients_are_summed_back_to_each_inputs_shape(
        self, name: str, x_shape: tuple[int, ...], y_shape: tuple[int, ...]
    ) -> None:
        """Each gradient has its input's shape and is the broadcast gradient summed over copies."""
        spec = OPS[name]
        rng = np.random.default_rng(7)
        x = rng.uniform(0.5, 2.0, x_shape)
        y = rng.uniform(0.5, 2.0, y_shape)
        shape = np.broadcast_shapes(x_shape, y_shape)
        dout = rng.uniform(-1.0, 1.0, shape)
        _, (dx, dy) = run(spec, [x, y], dout)
        # The same op on explicit copies gives per-copy gradients; the copies of an element add up.
        big_x, big_y = np.broadcast_to(x, shape).copy(), np.broadcast_to(y, shape).copy()
        _, (dbig_x, dbig_y) = run(spec, [big_x, big_y], dout)
        assert dx.shape == x_shape and dy.shape == y_shape
        np.testing.assert_allclose(dx, sum_to(dbig_x, x_shape), rtol=1e-12)
        np.testing.assert_allclose(dy, sum_to(dbig_y, y_shape), rtol=1e-12)

    @pytest.mark.parametrize("name", ELEMENTWISE_BINARY)
    def test_a_float_with_an_array_gets_the_sum_of_its_gradients(self, name: str) -> None:
        """A Python float combined with an array gets the sum over the array's elements."""
        spec = OPS[name]
        y = np.array([[0.5, 1.5], [2.0, 2.5]])
        dout = np.array([[1.0, -2.0], [0.5, 3.0]])
        _, (dx, _dy) = run(spec, [1.25, y], dout)
        _, (dbig_x, _) = run(spec, [np.full(y.shape, 1.25), y], dout)
        assert type(dx) is float
        assert dx == pytest.approx(float(dbig_x.sum()), rel=1e-12)


# ---------------------------------------------------------------- specific behaviours


class TestRelu:
    def test_derivative_at_zero_is_zero_for_floats(self) -> None:
        """relu(0.0) = 0.0 and relu'(0.0) = 0, as in PyTorch."""
        relu = Relu()
        assert relu.forward(0.0) == 0.0
        assert relu.backward(1.0) == 0.0

    def test_derivative_at_zero_is_zero_for_arrays(self) -> None:
        """At exactly 0 an array element gets gradient 0; positive elements pass dout through."""
        relu = Relu()
        out = relu.forward(np.array([-1.5, 0.0, 2.0]))
        np.testing.assert_array_equal(out, [0.0, 0.0, 2.0])
        np.testing.assert_array_equal(relu.backward(np.array([3.0, 4.0, 5.0])), [0.0, 0.0, 5.0])

    def test_works_on_python_floats(self) -> None:
        """Relu takes and returns Python floats (the book's version needs arrays)."""
        positive, negative = Relu(), Relu()
        assert (positive.forward(2.5), negative.forward(-1.5)) == (2.5, 0.0)
        assert (positive.backward(0.75), negative.backward(0.75)) == (0.75, 0.0)
        assert type(positive.backward(0.75)) is float and type(negative.backward(0.75)) is float

    @pytest.mark.parametrize("dout", [math.inf, -math.inf, math.nan])
    def test_blocked_gradient_is_zero_even_when_dout_is_not_finite(self, dout: float) -> None:
        """Where x <= 0 the gradient is 0 whatever dout is, for floats as for arrays (PyTorch)."""
        for x in (-1.0, 0.0):
            relu = Relu()
            relu.forward(x)
            assert relu.backward(dout) == 0.0
            relu.forward(np.array([x]))
            np.testing.assert_array_equal(relu.backward(np.array([dout])), [0.0])


class TestSigmoid:
    def test_very_negative_float_gives_zero_without_a_warning(self) -> None:
        """Sigmoid(-1000.0) is ~0 and raises no overflow warning (warnings are errors here)."""
        sigmoid = Sigmoid()
        y = sigmoid.forward(-1000.0)
        assert 0.0 <= y < 1e-300
        assert sigmoid.backward(1.0) == pytest.approx(0.0, abs=1e-300)

    def test_very_negative_array_elements_give_zero_without_a_warning(self) -> None:
        """An array holding -1000 and 1000 gives ~0 and 1 with no numpy warning."""
        y = Sigmoid().forward(np.array([-1000.0, -745.5, 0.0, 1000.0]))
        assert np.all(y[:2] < 1e-300) and np.all(y[:2] >= 0.0)
        np.testing.assert_array_equal(y[2:], [0.5, 1.0])

    def test_very_positive_input_gives_one(self) -> None:
        """Sigmoid(1000) = 1 exactly, as a float and in an array."""
        assert Sigmoid().forward(1000.0) == 1.0
        assert Sigmoid().forward(1000) == 1.0
        np.testing.assert_array_equal(Sigmoid().forward(np.array([1000.0])), [1.0])

    @CHECK
    @given(x=between(-40.0, 40.0), dout=between(-2.0, 2.0))
    def test_backward_is_dout_times_y_times_one_minus_y(self, x: float, dout: float) -> None:
        """backward(dout) = dout * y * (1 - y) with y the forward output."""
        sigmoid = Sigmoid()
        y = sigmoid.forward(x)
        assert y == pytest.approx(1.0 / (1.0 + math.exp(-x)), rel=1e-14)
        assert sigmoid.backward(dout) == pytest.approx(dout * y * (1.0 - y), rel=1e-14, abs=1e-300)
        array = Sigmoid()
        ys = array.forward(np.array([x, -x]))
        np.testing.assert_allclose(array.backward(np.array([dout, dout])), dout * ys * (1 - ys))


def reference_log_softmax(row: Sequence[float]) -> list[float]:
    """log softmax of one row in plain Python: each logit minus the row's log-sum-exp."""
    top = max(row)
    log_sum_exp = top + math.log(math.fsum(math.exp(v - top) for v in row))
    return [v - log_sum_exp for v in row]


def reference_softmax(row: Sequence[float]) -> list[float]:
    return [math.exp(v) for v in reference_log_softmax(row)]


def reference_losses(x: Any, t: Any) -> list[float]:
    """Per-sample cross-entropy in plain Python; t holds probability rows or class indices."""
    losses = []
    for row, target in zip(x, t, strict=True):
        logp = reference_log_softmax(row)
        if isinstance(target, int):
            losses.append(-logp[target])
        else:
            losses.append(-math.fsum(p * q for p, q in zip(target, logp, strict=True)))
    return losses


@st.composite
def batches(draw: Draw, low: float = -10.0, high: float = 10.0) -> tuple[Any, list[int]]:
    """A batch of logits (n, C) and one class index per row."""
    n, classes = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    x = draw(hnp.arrays(np.float64, (n, classes), elements=between(low, high)))
    index = draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n))
    return x, index


class TestSoftmaxWithLoss:
    @CHECK
    @given(batch=batches())
    def test_one_hot_labels_match_the_reference(self, batch: tuple[Any, list[int]]) -> None:
        """With one-hot rows the loss is the mean reference cross-entropy and dx = (y - t) / N."""
        x, index = batch
        n, classes = x.shape
        t = np.eye(classes)[index]
        layer = SoftmaxWithLoss()
        loss = layer.forward(x, t)
        assert type(loss) is float
        assert loss == pytest.approx(math.fsum(reference_losses(x.tolist(), t.tolist())) / n)
        dx, dt = layer.backward(1.0)
        expected_dx = [
            [(p - q) / n for p, q in zip(reference_softmax(row), target, strict=True)]
            for row, target in zip(x.tolist(), t.tolist(), strict=True)
        ]
        np.testing.assert_allclose(dx, expected_dx, rtol=1e-9, atol=1e-15)
        assert dt.shape == t.shape

    @CHECK
    @given(batch=batches())
    def test_class_indices_match_the_reference(self, batch: tuple[Any, list[int]]) -> None:
        """Integer class indices give the reference loss, the one-hot dx and a zero label grad."""
        x, index = batch
        n, classes = x.shape
        layer = SoftmaxWithLoss()
        loss = layer.forward(x, np.array(index))
        assert loss == pytest.approx(math.fsum(reference_losses(x.tolist(), index)) / n)
        dx, dt = layer.backward(1.0)
        one_hot = SoftmaxWithLoss()
        one_hot.forward(x, np.eye(classes)[index])
        np.testing.assert_array_equal(dx, one_hot.backward(1.0)[0])
        np.testing.assert_array_equal(dt, np.zeros(n))

    @CHECK
    @given(batch=batches())
    def test_label_gradient_of_one_hot_rows_is_minus_log_softmax_over_n(
        self, batch: tuple[Any, list[int]]
    ) -> None:
        """d loss / d t = -log_softmax(x) / N, the loss being linear in the label rows."""
        x, index = batch
        n, classes = x.shape
        layer = SoftmaxWithLoss()
        layer.forward(x, np.eye(classes)[index])
        _, dt = layer.backward(1.0)
        expected = [[q / -n for q in reference_log_softmax(row)] for row in x.tolist()]
        np.testing.assert_allclose(dt, expected, rtol=1e-9, atol=1e-15)

    def test_known_value_from_pytorch(self) -> None:
        """cross_entropy([[1, 2, 3]], [0]) is 2.4076059644443806 in PyTorch (float64)."""
        layer = SoftmaxWithLoss()
        assert layer.forward(np.array([[1.0, 2.0, 3.0]]), np.array([0])) == pytest.approx(
            2.4076059644443806, rel=1e-15
        )

    def test_one_dimensional_input_is_a_batch_of_one(self) -> None:
        """A 1-D x with a 1-D one-hot row or a scalar index acts as a batch of one, shapes kept."""
        x = np.array([0.5, -1.0, 2.0])
        batch = SoftmaxWithLoss()
        expected = batch.forward(x.reshape(1, 3), np.array([[0.0, 0.0, 1.0]]))
        expected_dx = batch.backward(1.0)[0].reshape(3)
        for t in (np.array([0.0, 0.0, 1.0]), 2.0, 2, np.array(2)):
            layer = SoftmaxWithLoss()
            assert layer.forward(x, t) == expected
            dx, dt = layer.backward(1.0)
            np.testing.assert_array_equal(dx, expected_dx)
            assert np.shape(dt) == np.shape(t)

    @CHECK
    @given(batch=batches(), dout=away_from_zero(0.1, 3.0))
    def test_backward_scales_with_dout(self, batch: tuple[Any, list[int]], dout: float) -> None:
        """backward(dout) is dout times backward(1) for both gradients; dout=2 doubles them."""
        x, index = batch
        t = np.eye(x.shape[1])[index]
        layer = SoftmaxWithLoss()
        layer.forward(x, t)
        dx1, dt1 = layer.backward(1.0)
        dx2, dt2 = layer.backward(2.0)
        dxd, dtd = layer.backward(dout)
        np.testing.assert_array_equal(dx2, 2 * dx1)
        np.testing.assert_array_equal(dt2, 2 * dt1)
        np.testing.assert_allclose(dxd, dout * dx1, rtol=1e-14)
        np.testing.assert_allclose(dtd, dout * dt1, rtol=1e-14)

    def test_large_logits_give_a_finite_exact_loss(self) -> None:
        """Logits of 1000 neither overflow nor lose the loss: [1000, 0] against class 1 is 1000."""
        layer = SoftmaxWithLoss()
        assert layer.forward(np.array([[1000.0, 0.0], [1000.0, 1000.0]]), np.array([1, 0])) == (
            pytest.approx((1000.0 + math.log(2.0)) / 2, rel=1e-15)
        )
        dx, _ = layer.backward(1.0)
        np.testing.assert_allclose(dx, [[0.5, -0.5], [-0.25, 0.25]])
        assert math.isfinite(SoftmaxWithLoss().forward(np.array([1000.0, -1000.0]), 0))

    def test_loss_is_the_mean_over_the_batch(self) -> None:
        """The loss of a batch is the mean of the per-sample losses (not their sum)."""
        a, b = np.array([0.2, 1.0, -0.5]), np.array([3.0, 0.0, 1.0])
        loss_a = SoftmaxWithLoss().forward(a, 1)
        loss_b = SoftmaxWithLoss().forward(b, 2)
        both = SoftmaxWithLoss().forward(np.stack([a, b]), np.array([1, 2]))
        assert both == pytest.approx((loss_a + loss_b) / 2, rel=1e-15)
        doubled = SoftmaxWithLoss().forward(np.stack([a, a]), np.array([1, 1]))
        assert doubled == pytest.approx(loss_a, rel=1e-15)

    @pytest.mark.parametrize(
        ("t", "message"),
        [
            (np.array([0, 3]), r"class indices must be whole numbers in 0\.\.2"),
            (np.array([-1, 0]), r"class indices must be whole numbers in 0\.\.2"),
            (np.array([0.5, 1.0]), r"class indices must be whole numbers in 0\.\.2"),
            (np.array([np.nan, 1.0]), r"class indices must be whole numbers in 0\.\.2"),
            (np.array([0, 1, 2]), r"labels of shape \(3,\) fit neither one-hot rows \(2, 3\)"),
            (np.zeros((3, 2)), r"labels of shape \(3, 2\) fit neither"),
            (np.array([[0], [1]]), r"labels of shape \(2, 1\) fit neither"),
        ],
    )
    def test_bad_labels_raise_a_clear_value_error(self, t: Any, message: str) -> None:
        """Out-of-range, non-integer or misshapen labels raise ValueError saying what is wrong."""
        with pytest.raises(ValueError, match=r"softmax_with_loss: " + message):
            SoftmaxWithLoss().forward(np.zeros((2, 3)), t)

    def test_logits_of_too_many_dimensions_raise_a_value_error(self) -> None:
        """A 3-D x is rejected with its shape in the message."""
        with pytest.raises(ValueError, match=r"x must be 1-D or 2-D, got shape \(1, 2, 3\)"):
            SoftmaxWithLoss().forward(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)))


class TestAffine:
    def test_one_dimensional_x_is_one_sample(self) -> None:
        """A 1-D x gives x @ W + b, dx of x's shape, dW = outer(x, dout) and db = dout."""
        x, w, b = np.array([1.0, 2.0]), np.array([[1.0, 0.5, -1.0], [2.0, 0.0, 3.0]]), np.ones(3)
        layer = Affine()
        np.testing.assert_array_equal(layer.forward(x, w, b), [6.0, 1.5, 6.0])
        dout = np.array([1.0, -2.0, 0.5])
        dx, dw, db = layer.backward(dout)
        np.testing.assert_array_equal(dx, [1.0 - 1.0 - 0.5, 2.0 + 0.0 + 1.5])
        np.testing.assert_array_equal(dw, np.outer(x, dout))
        np.testing.assert_array_equal(db, dout)

    def test_db_is_summed_over_the_batch(self) -> None:
        """With a batch of rows, db is dout summed over the rows and has b's shape."""
        layer = Affine()
        layer.forward(np.arange(6.0).reshape(3, 2), np.ones((2, 2)), np.array([0.5, -0.5]))
        dout = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        _, dw, db = layer.backward(dout)
        np.testing.assert_array_equal(db, [9.0, 12.0])
        np.testing.assert_array_equal(dw, np.arange(6.0).reshape(3, 2).T @ dout)

    def test_dw_and_db_are_kept_as_attributes(self) -> None:
        """As in the book, backward leaves dW and db on the layer, equal to what it returns."""
        layer = Affine()
        layer.forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
        _, dw, db = layer.backward(np.full((2, 4), 0.5))
        assert layer.dW is dw and layer.db is db
        np.testing.assert_array_equal(layer.dW, np.ones((3, 4)))
        np.testing.assert_array_equal(layer.db, np.ones(4))


class TestPow:
    def test_exponent_derivative_is_x_to_the_y_times_ln_x(self) -> None:
        """d/dy x**y = x**y ln x and d/dx = y x**(y-1), for floats and arrays."""
        layer = PowLayer()
        assert layer.forward(2.0, 3.0) == 8.0
        dx, dy = layer.backward(1.5)
        assert dx == 1.5 * 3.0 * 4.0
        assert dy == pytest.approx(1.5 * 8.0 * math.log(2.0), rel=1e-15)
        array = PowLayer()
        array.forward(np.array([2.0, 9.0]), np.array([3.0, 0.5]))
        dx, dy = array.backward(np.ones(2))
        np.testing.assert_allclose(dx, [12.0, 0.5 / 3.0], rtol=1e-15)
        np.testing.assert_allclose(dy, [8.0 * math.log(2.0), 3.0 * math.log(9.0)], rtol=1e-15)

    def test_pytorch_masks_at_zero_base(self) -> None:
        """0**0: dx = 0 (y == 0); 0**y with y >= 0: dy = 0, never nan from 0 * -inf."""
        for x, y, expected in [(0.0, 0.0, (1.0, 0.0, 0.0)), (0.0, 2.0, (0.0, 0.0, 0.0))]:
            layer = PowLayer()
            assert layer.forward(x, y) == expected[0]
            assert layer.backward(1.0) == expected[1:]
        array = PowLayer()
        np.testing.assert_array_equal(
            array.forward(np.zeros(3), np.array([0.0, 2.0, 0.5])), [1.0, 0.0, 0.0]
        )
        dx, dy = array.backward(np.ones(3))
        np.testing.assert_array_equal(dx, [0.0, 0.0, math.inf])
        np.testing.assert_array_equal(dy, [0.0, 0.0, 0.0])

    def test_y_zero_masks_dx_also_for_nonzero_bases(self) -> None:
        """Where y == 0, dx is 0 even if x**(y-1) is infinite or nan (PyTorch)."""
        layer = PowLayer()
        layer.forward(np.array([-2.0, 0.0, math.inf]), 0.0)
        dx, _ = layer.backward(np.ones(3))
        np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0])

    def test_negative_base_with_fractional_exponent_is_nan_not_complex(self) -> None:
        """(-8.0) ** (1/3) is a float nan (Python would give a complex number), with no warning."""
        layer = PowLayer()
        out = layer.forward(-8.0, 1.0 / 3.0)
        assert type(out) is float and math.isnan(out)
        assert all(type(g) is float and math.isnan(g) for g in layer.backward(1.0))
        array = PowLayer().forward(np.array([-8.0, 8.0]), 1.0 / 3.0)
        assert array.dtype == np.float64 and math.isnan(array[0])
        assert array[1] == pytest.approx(2.0, rel=1e-15)

    def test_negative_base_with_whole_exponent_is_real(self) -> None:
        """(-2) ** 3 = -8 with dx = 12; the exponent's derivative (ln of a negative) is nan."""
        layer = PowLayer()
        assert layer.forward(-2.0, 3.0) == -8.0
        dx, dy = layer.backward(1.0)
        assert dx == 12.0 and math.isnan(dy)


class TestIeeeResultsInsteadOfExceptions:
    @pytest.mark.parametrize(
        ("x", "check"),
        [
            (1.0, lambda v: v == math.inf),
            (-1.0, lambda v: v == -math.inf),
            (0.0, math.isnan),
        ],
    )
    def test_float_division_by_zero(self, x: float, check: Callable[[float], bool]) -> None:
        """x / 0.0 gives inf, -inf or nan as a float, and backward does not raise either."""
        layer = OPS["div"].layer_class()()
        out = layer.forward(x, 0.0)
        assert type(out) is float and check(out)
        dx, dy = layer.backward(1.0)
        assert dx == math.inf and type(dy) is float and not math.isfinite(dy)

    def test_exp_of_a_large_float_is_inf(self) -> None:
        """exp(1000.0) is inf rather than an OverflowError; its gradient is inf too."""
        layer = OPS["exp"].layer_class()()
        assert layer.forward(1000.0) == math.inf
        assert layer.backward(1.0) == math.inf

    def test_log_of_zero_is_minus_inf_and_of_a_negative_is_nan(self) -> None:
        """log(0.0) = -inf with gradient inf, log(-1.0) = nan, both floats and no exception."""
        layer = OPS["log"].layer_class()()
        out = layer.forward(0.0)
        assert type(out) is float and out == -math.inf
        assert layer.backward(1.0) == math.inf
        assert math.isnan(OPS["log"].layer_class()().forward(-1.0))

    def test_pow_overflow_and_zero_to_a_negative_power(self) -> None:
        """10.0 ** 400 is inf and 0.0 ** -1 is inf, instead of Python's exceptions."""
        assert PowLayer().forward(10.0, 400.0) == math.inf
        assert PowLayer().forward(0.0, -1.0) == math.inf


class TestBookProtocol:
    def test_mul_layer_backward_swaps_the_inputs(self) -> None:
        """MulLayer.backward(dout) returns (dout * y, dout * x), as in the book's 5.4.1."""
        layer = MulLayer()
        assert layer.forward(100, 2) == 200
        assert layer.backward(1.1) == (1.1 * 2, 1.1 * 100)
        assert layer.backward(1) == (2, 100)

    def test_add_layer_passes_dout_through(self) -> None:
        """AddLayer.backward(dout) returns dout for both inputs."""
        layer = AddLayer()
        assert layer.forward(200.0, 450.0) == 650.0
        assert layer.backward(1.1) == (1.1, 1.1)
        dout = np.array([1.0, 2.0])
        layer.forward(np.zeros(2), np.ones(2))
        dx, dy = layer.backward(dout)
        np.testing.assert_array_equal(dx, dout)
        np.testing.assert_array_equal(dy, dout)

    def test_every_layer_class_named_in_the_registry_exists(self) -> None:
        """Each op's layer class is importable and has forward and backward."""
        for spec in OPS.values():
            layer_class = spec.layer_class()
            assert layer_class.__name__ == spec.class_name
            assert callable(layer_class.forward) and callable(layer_class.backward)
