"""The layers of chapters 6 and 7: convolution, pooling, batch_norm, dropout, and affine's
flatten of an N-D x. Against central differences (hypothesis, small shapes), against PyTorch
float64 through `bpcalc run -o json` where torch is installed, by hand where torch differs
(pooling's ties, dropout's mask), in both node forms, and their errors located.

Hand-worked: pooling the 2×2 window [[1, 3], [3, 2]] gives 3, and its gradient goes to the
first 3 (row 0, column 1) only; a 4-D x of batch_norm is normalised per (c, h, w) element.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.errors import GraphError
from bpcalc.ops.cnn import BatchNormalization, Convolution, Dropout, Pooling, col2im, im2col
from bpcalc.ops.layers import Affine
from bpcalc.ops.table import OPS
from tests import cnn_cases
from tests.conftest import Invoke
from tests.test_export import export_to, parse_output, run_numbers, run_script

H = 1e-6
CHECK = settings(max_examples=20, deadline=None)
# The CLI runs in-process; each example writes its own graph file over the last.
TORCH_CHECK = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TORCH_REASON = "PyTorch is a test-only reference; .ci/run installs it"

Arrays = dict[str, Any]


def graph_json(inputs: Arrays, nodes: dict[str, Any], *, no_grad: tuple[str, ...] = ()) -> str:
    """A graph as JSON (which is YAML): every float written with all its digits."""

    def written(name: str, value: Any) -> Any:
        data = np.asarray(value).tolist() if isinstance(value, np.ndarray) else value
        return {"value": data, "grad": False} if name in no_grad else data

    document = {
        "inputs": {name: written(name, value) for name, value in inputs.items()},
        "nodes": nodes,
    }
    return json.dumps(document)


def run_json(invoke: Invoke, path: Path, text: str) -> tuple[Arrays, Arrays]:
    path.write_text(text, encoding="utf-8")
    result = invoke("run", str(path), "-o", "json")
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    document = json.loads(result.stdout)
    return document["values"], document["grads"]


def attr_keywords(attrs: dict[str, Any]) -> str:
    return "".join(
        f", {k}={str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in attrs.items()
    )


def call(op: str, args: list[str], attrs: dict[str, Any]) -> str:
    return f"{op}({', '.join(args)}{attr_keywords(attrs)})"


def close(ours: Any, theirs: Any) -> None:
    """rtol 1e-9, with an absolute floor for elements that cancel to nearly 0."""
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = max(1.0, float(np.abs(theirs).max())) if theirs.size else 1.0
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-9, atol=1e-12 * scale)


# ------------------------------------------------------------------ central differences


def numerical(layer: Any, inputs: list[Any], dout: Any, index: int) -> Any:
    def objective(values: list[Any]) -> float:
        return float(np.sum(np.asarray(layer().forward(*values)) * dout))

    x = inputs[index]
    if not isinstance(x, np.ndarray):
        up, down = list(inputs), list(inputs)
        up[index], down[index] = x + H, x - H
        return (objective(up) - objective(down)) / (2 * H)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = list(inputs), list(inputs)
        up[index], down[index] = x.copy(), x.copy()
        up[index][i] += H
        down[index][i] -= H
        grad[i] = (objective(up) - objective(down)) / (2 * H)
    return grad


class TestCentralDifferences:
    @pytest.mark.parametrize("op", cnn_cases.CNN_OPS)
    @CHECK
    @given(data=st.data())
    def test_backward_with_attributes(self, op: str, data: st.DataObject) -> None:
        """Every attribute drawn (stride, pad, windows, eps, ratio, train, seed), and
        batch_norm with and without the running statistics."""
        values, attrs = cnn_cases.CASES[op](data.draw)
        cls = OPS[op].layer_class()
        layer = cls(**attrs)
        out = layer.forward(*values)
        dout = cnn_cases.floats(data.draw, np.shape(out)) if np.ndim(out) else 0.7
        grads = layer.backward(dout)
        grads = grads if isinstance(grads, tuple) else (grads,)
        assert len(grads) == len(values)
        for i, (value, grad) in enumerate(zip(values, grads, strict=True)):
            assert np.shape(grad) == np.shape(value)
            expected = numerical(lambda: cls(**attrs), values, dout, i)
            np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6, err_msg=f"{op} {i}")

    @CHECK
    @given(data=st.data())
    def test_affine_flattens_an_nd_x(self, data: st.DataObject) -> None:
        x = cnn_cases.floats(data.draw, (2, 2, 1, 3))
        W, b = cnn_cases.floats(data.draw, (6, 2)), cnn_cases.floats(data.draw, (2,))
        layer = Affine()
        out = layer.forward(x, W, b)
        np.testing.assert_array_equal(out, x.reshape(2, -1) @ W + b)
        dout = cnn_cases.floats(data.draw, (2, 2))
        for i, grad in enumerate(layer.backward(dout)):
            np.testing.assert_allclose(
                grad, numerical(Affine, [x, W, b], dout, i), rtol=1e-5, atol=1e-6
            )
        assert layer.backward(dout)[0].shape == x.shape


class TestIm2col:
    @CHECK
    @given(data=st.data())
    def test_col2im_is_the_adjoint_of_im2col(self, data: st.DataObject) -> None:
        """<im2col(x), c> = <x, col2im(c)>: what makes the convolution's dx right."""
        (x, w, _), attrs = cnn_cases.convolution_case(data.draw)
        fh, fw = w.shape[2:]
        col = im2col(x, fh, fw, attrs["stride"], attrs["pad"])
        c = cnn_cases.floats(data.draw, col.shape)
        back = col2im(c, x.shape, fh, fw, attrs["stride"], attrs["pad"])
        assert np.isclose(np.sum(col * c), np.sum(x * back), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ by hand


class TestByHand:
    def test_pooling_ties_send_the_gradient_to_the_first_maximum(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        x = np.array([[[[1.0, 3.0, 5.0, 5.0], [3.0, 2.0, 5.0, 5.0]]]])
        weights = np.array([2.0, 7.0])
        text = graph_json(
            {"x": x, "r": weights}, {"p": "pooling(x)", "loss": "sum(p * r)"}, no_grad=("r",)
        )
        values, grads = run_json(invoke, tmp_path / "g.json", text)
        assert values["p"] == [[[[3.0, 5.0]]]]
        assert grads["x"] == [[[[0.0, 2.0, 7.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]

    def test_pooling_pads_with_minus_infinity(self) -> None:
        """The book pads with 0, which would win over negatives; torch pads with -inf."""
        x = -np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
        out = Pooling(2, 2, 2, 1).forward(x)
        np.testing.assert_array_equal(out, [[[[-1.0, -2.0], [-3.0, -4.0]]]])

    def test_zeros(self, invoke: Invoke, tmp_path: Path) -> None:
        zeros = np.zeros((2, 1, 3, 3))
        nodes = {
            "c": "convolution(x, W, b, pad=1)",
            "p": "pooling(c, pool_h=3, pool_w=3, stride=1, pad=1)",
            "n": "batch_norm(x, 1, 0)",
            "loss": "sum(p) + sum(n)",
        }
        inputs = {"x": zeros, "W": np.zeros((2, 1, 3, 3)), "b": np.zeros(2)}
        values, grads = run_json(invoke, tmp_path / "g.json", graph_json(inputs, nodes))
        assert values["loss"] == 0.0
        assert np.all(np.asarray(grads["x"]) == 0.0)
        assert np.all(np.asarray(grads["b"]) == 18.0)  # every output once, first maxima

    def test_dropout_is_the_books_with_a_seeded_generator(self) -> None:
        x = np.arange(1.0, 11.0)
        mask = np.random.default_rng(3).random(10) > 0.4
        layer = Dropout(ratio=0.4, seed=3)
        np.testing.assert_array_equal(layer.forward(x), x * mask)
        np.testing.assert_array_equal(layer.backward(np.ones(10)), mask.astype(float))
        assert Dropout(ratio=0.4, seed=3).forward(x).tolist() == layer.forward(x).tolist()
        scaled = Dropout(ratio=0.4, train=False)
        np.testing.assert_array_equal(scaled.forward(x), x * 0.6)
        np.testing.assert_array_equal(scaled.backward(np.ones(10)), np.full(10, 0.6))
        assert Dropout(ratio=0.5, seed=1).forward(2.0) in (0.0, 2.0)

    def test_batch_norm_of_one_sample_is_beta(self) -> None:
        """A batch of one is its own mean: xn is 0, the result beta and dx 0 (torch refuses)."""
        layer = BatchNormalization()
        out = layer.forward(np.array([[3.0, -2.0]]), np.array([2.0, 5.0]), np.array([0.5, 1.5]))
        np.testing.assert_array_equal(out, [[0.5, 1.5]])
        dx, dgamma, dbeta = layer.backward(np.array([[1.0, 1.0]]))
        np.testing.assert_array_equal(dx, [[0.0, 0.0]])
        np.testing.assert_array_equal(dgamma, [0.0, 0.0])
        np.testing.assert_array_equal(dbeta, [1.0, 1.0])

    def test_batch_norm_of_a_4d_x_is_per_element_not_per_channel(self) -> None:
        """The book reshapes (N, C, H, W) to (N, C*H*W): each pixel has its own statistics,
        where torch's BatchNorm2d pools N, H and W of each channel."""
        x = np.arange(16.0).reshape(2, 2, 2, 2) ** 1.5
        out = BatchNormalization(eps=1e-6).forward(x, np.ones(8), np.zeros(8))
        flat = x.reshape(2, -1)
        expected = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-6)
        np.testing.assert_allclose(out, expected.reshape(x.shape), rtol=1e-12)

    def test_the_books_calls_compute_the_same(self) -> None:
        """Built the book's way the layers hold the weights; backward returns dx only."""
        rng = np.random.default_rng(0)
        x, W, b = rng.random((2, 2, 4, 4)), rng.random((3, 2, 2, 2)), rng.random(3)
        dout = rng.random((2, 3, 2, 2))
        ours = Convolution(stride=2)
        out = ours.forward(x, W, b)
        dx, dW, db = ours.backward(dout)
        book = Convolution(W, b, stride=2)
        np.testing.assert_array_equal(book.forward(x), out)
        np.testing.assert_array_equal(book.backward(dout), dx)
        np.testing.assert_array_equal(book.dW, dW)
        np.testing.assert_array_equal(book.db, db)
        g, be, m, v = rng.random(4), rng.random(4), rng.random(4), rng.random(4)
        xs, d = rng.random((3, 4)), rng.random((3, 4))
        for running in (False, True):
            ours_bn = BatchNormalization()
            args = (m, v) if running else ()
            y = ours_bn.forward(xs, g, be, *args)
            grads = ours_bn.backward(d)
            book_bn = BatchNormalization(g, be, running_mean=m, running_var=v)
            np.testing.assert_array_equal(book_bn.forward(xs, train_flg=not running), y)
            np.testing.assert_array_equal(book_bn.backward(d), grads[0])
            np.testing.assert_array_equal(book_bn.dgamma, grads[1])

    def test_explicit_and_expression_forms_agree(self) -> None:
        inputs = (
            "inputs:\n  x: {random: [1, 1, 4, 4], seed: 1}\n  W: {random: [2, 1, 2, 2], seed: 2}\n"
            "  b: [0.5, -0.5]\n  g: {ones: 3}\n  be: {zeros: 3}\n  m: [1, 2, 3]\n  v: [1, 2, 3]\n"
            "  z: {random: [2, 3], seed: 3}\n"
        )
        pairs = [
            (
                "convolution(x, W, b, stride=2, pad=1)",
                "{op: convolution, in: [x, W, b], stride: 2, pad: 1}",
            ),
            (
                "pooling(x, pool_h=3, stride=1, pad=1)",
                "{op: pooling, in: [x], pool_h: 3, stride: 1, pad: 1}",
            ),
            ("batch_norm(z, g, be, eps=0.01)", "{op: batch_norm, in: [z, g, be], eps: 0.01}"),
            ("batch_norm(z, g, be, mean=m, var=v)", "{op: batch_norm, in: [z, g, be, m, v]}"),
            ("batch_norm(z, g, be, m, v)", "{op: batch_norm, in: [z, g, be, m, v]}"),
            ("dropout(z, ratio=0.3, seed=4)", "{op: dropout, in: [z], ratio: 0.3, seed: 4}"),
            ("dropout(z, train=false)", "{op: dropout, in: [z], train: False}"),
        ]
        for expression, explicit in pairs:
            results = []
            for node in (expression, explicit):
                graph = loads(inputs + f"nodes:\n  y: {node}\n  s: sum(y * y)\noutput: s\n")
                evaluation = graph.evaluate()
                results.append((evaluation.values["y"], evaluation.grads))
            np.testing.assert_array_equal(results[0][0], results[1][0])
            for name in ("x", "W", "b", "g", "be", "m", "v", "z"):
                np.testing.assert_array_equal(results[0][1][name], results[1][1][name])

    def test_inference_mode_names_sub_expressions_with_keywords(self) -> None:
        text = (
            "inputs: {z: [[1, 2], [3, 5]], g: 1, be: 0, m: 1, v: 4}\n"
            "nodes:\n  s: sum(batch_norm(z, g, be, mean=m, var=v))\n"
        )
        graph = loads(text)
        assert [n.name for n in graph.nodes] == ["batch_norm(z, g, be, mean=m, var=v)", "s"]
        assert graph.evaluate().values["s"] == pytest.approx((1 - 1 + 2 - 1 + 3 - 1 + 5 - 1) / 2)


# ------------------------------------------------------------------ PyTorch


def torch_grads(inputs: Arrays, build: Any, r: Any) -> tuple[Any, Arrays]:
    """build(tensors) in float64, then d sum(out * r) / d each input."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    tensors = {
        name: torch.tensor(np.asarray(value, dtype=np.float64), requires_grad=True)
        for name, value in inputs.items()
    }
    out = build(torch, tensors)
    (out * torch.tensor(r)).sum().backward()
    grads = {name: t.grad.numpy() for name, t in tensors.items()}
    return out.detach().numpy(), grads


def against_torch(
    invoke: Invoke, tmp_path: Path, inputs: Arrays, node: str, build: Any, draw: Any
) -> None:
    """``node`` in a graph whose loss is sum(y * r), r random: values and gradients as torch's."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    with torch.no_grad():
        shape = tuple(
            build(torch, {k: torch.tensor(np.asarray(v)) for k, v in inputs.items()}).shape
        )
    r = cnn_cases.floats(draw, shape)
    expected, expected_grads = torch_grads(inputs, build, r)
    text = graph_json({**inputs, "r": r}, {"y": node, "loss": "sum(y * r)"}, no_grad=("r",))
    values, grads = run_json(invoke, tmp_path / "g.json", text)
    close(values["y"], expected)
    for name in inputs:
        close(grads[name], expected_grads[name])


MAGNITUDES = st.sampled_from([(0.1, 2.0), (1e-3, 1e-2), (1e5, 1e7)])


def scaled(draw: Any, shape: tuple[int, ...], magnitude: tuple[float, float]) -> Any:
    return cnn_cases.floats(draw, shape, *magnitude)


class TestAgainstTorch:
    @TORCH_CHECK
    @given(data=st.data())
    def test_convolution_is_conv2d(self, invoke: Invoke, tmp_path: Path, data: Any) -> None:
        (x, w, b), attrs = cnn_cases.convolution_case(data.draw)
        magnitude = data.draw(MAGNITUDES)
        x = scaled(data.draw, x.shape, magnitude)
        b = np.asarray(b).reshape(-1) * np.ones(w.shape[0])  # torch's bias is (FN,)
        stride, pad = attrs["stride"], attrs["pad"]

        def build(torch: Any, t: Arrays) -> Any:
            conv = torch.nn.functional.conv2d
            return conv(t["x"], t["W"], t["b"], stride=stride, padding=pad)

        node = call("convolution", ["x", "W", "b"], attrs)
        against_torch(invoke, tmp_path, {"x": x, "W": w, "b": b}, node, build, data.draw)

    @TORCH_CHECK
    @given(data=st.data())
    def test_pooling_is_max_pool2d_without_ties(
        self, invoke: Invoke, tmp_path: Path, data: Any
    ) -> None:
        (x,), attrs = cnn_cases.pooling_case(data.draw)
        x = x * data.draw(st.sampled_from([1.0, 1e-3, 1e6]))

        def build(torch: Any, t: Arrays) -> Any:
            return torch.nn.functional.max_pool2d(
                t["x"],
                (attrs["pool_h"], attrs["pool_w"]),
                stride=attrs["stride"],
                padding=attrs["pad"],
            )

        against_torch(invoke, tmp_path, {"x": x}, call("pooling", ["x"], attrs), build, data.draw)

    @TORCH_CHECK
    @given(data=st.data())
    def test_batch_norm_is_torchs_in_training_mode(
        self, invoke: Invoke, tmp_path: Path, data: Any
    ) -> None:
        n, d = data.draw(st.integers(2, 4)), data.draw(st.integers(1, 3))  # torch needs 2
        magnitude = data.draw(MAGNITUDES)
        x = scaled(data.draw, (n, d), magnitude)
        g, be = cnn_cases.floats(data.draw, (d,)), cnn_cases.floats(data.draw, (d,))
        eps = data.draw(st.sampled_from([1e-6, 1e-5, 0.5]))

        def build(torch: Any, t: Arrays) -> Any:
            return torch.nn.functional.batch_norm(
                t["x"], None, None, t["g"], t["be"], training=True, eps=eps
            )

        node = call("batch_norm", ["x", "g", "be"], {"eps": eps})
        against_torch(invoke, tmp_path, {"x": x, "g": g, "be": be}, node, build, data.draw)

    @TORCH_CHECK
    @given(data=st.data())
    def test_batch_norm_with_running_statistics(
        self, invoke: Invoke, tmp_path: Path, data: Any
    ) -> None:
        """Inference: torch's batch_norm(training=False) for the value; its formula, which
        autograd differentiates with respect to mean and var too, for the gradients."""
        torch = pytest.importorskip("torch", reason=TORCH_REASON)
        d = data.draw(st.integers(1, 4))
        x = scaled(data.draw, (data.draw(st.integers(1, 4)), d), data.draw(MAGNITUDES))
        g, be, m = (cnn_cases.floats(data.draw, (d,)) for _ in range(3))
        v = cnn_cases.floats(data.draw, (d,), 0.2, 2.0) ** 2
        eps = data.draw(st.sampled_from([1e-6, 1e-5, 0.5]))
        expected = torch.nn.functional.batch_norm(
            *(torch.tensor(a) for a in (x, m, v, g, be)), training=False, eps=eps
        )

        def build(torch: Any, t: Arrays) -> Any:
            return (t["x"] - t["m"]) / torch.sqrt(t["v"] + eps) * t["g"] + t["be"]

        inputs = {"x": x, "g": g, "be": be, "m": m, "v": v}
        node = call("batch_norm", ["x", "g", "be"], {"eps": eps})[:-1] + ", mean=m, var=v)"
        against_torch(invoke, tmp_path, inputs, node, build, data.draw)
        close(BatchNormalization(eps=eps).forward(x, g, be, m, v), expected.numpy())

    @TORCH_CHECK
    @given(data=st.data())
    def test_dropout_is_x_times_its_mask(self, invoke: Invoke, tmp_path: Path, data: Any) -> None:
        (x,), attrs = cnn_cases.dropout_case(data.draw)
        ratio, seed = attrs["ratio"], attrs["seed"]
        mask = np.random.default_rng(seed).random(x.shape) > ratio if attrs["train"] else None

        def build(torch: Any, t: Arrays) -> Any:
            keep = torch.tensor(mask, dtype=torch.float64) if mask is not None else 1 - ratio
            return t["x"] * keep

        node = call("dropout", ["x"], attrs)
        against_torch(invoke, tmp_path, {"x": x}, node, build, data.draw)

    @TORCH_CHECK
    @given(data=st.data())
    def test_affine_of_an_nd_x_is_flatten_then_linear(
        self, invoke: Invoke, tmp_path: Path, data: Any
    ) -> None:
        shape = data.draw(st.sampled_from([(2, 3), (2, 1, 3), (3, 2, 2, 1)]))
        k = int(np.prod(shape[1:]))
        x, W, b = (cnn_cases.floats(data.draw, s) for s in (shape, (k, 2), (2,)))

        def build(torch: Any, t: Arrays) -> Any:
            return t["x"].reshape(shape[0], -1) @ t["W"] + t["b"]

        inputs = {"x": x, "W": W, "b": b}
        against_torch(invoke, tmp_path, inputs, "affine(x, W, b)", build, data.draw)


# ------------------------------------------------------------------ errors, located

INPUTS = (
    "inputs:\n  x: {ones: [2, 3, 4, 4]}\n  W: {ones: [5, 2, 3, 3]}\n  W3: {ones: [5, 3, 3, 3]}\n"
    "  b: {zeros: 5}\n  z: {ones: [2, 3]}\n  g: {ones: 3}\n  v1: {ones: 3}\nnodes:\n"
)
ERRORS = [
    (
        "y: convolution(x, W3, b, stride=0)",
        "10:35: attribute 'stride' of convolution must be at least 1, got 0",
    ),
    (
        "y: convolution(x, W3, b, pad=-1)",
        "10:32: attribute 'pad' of convolution must be at least 0, got -1",
    ),
    (
        "y: {op: convolution, in: [x, W3, b], stride: 1.5}",
        "10:48: attribute 'stride' of convolution expects a whole number, got 1.5",
    ),
    (
        "y: convolution(x, W, b)",
        "10:6: node 'y': convolution: x has 3 channels (axis 1) but the filters of W "
        "(5, 2, 3, 3) have 2",
    ),
    (
        "y: convolution(z, W3, b)",
        "10:6: node 'y': convolution: x must be 4-D (N, C, H, W), got shape (2, 3)",
    ),
    (
        "y: convolution(x, W3, g)",
        "10:6: node 'y': convolution: b must hold one bias per filter, shape (5,); got (3,)",
    ),
    (
        "y: pooling(x, pool_h=5)",
        "10:6: node 'y': pooling: the input's height 4 is smaller than the window's height 5",
    ),
    (
        "y: convolution(x, W3, b, stride=2, pad=1)",
        None,
    ),
    ("y: pooling(x, pad=2)", "10:6: node 'y': pooling: pad 2 is more than half the window (2×2)"),
    (
        "y: pooling(x, size=2)",
        "10:17: pooling() has no attribute 'size'; its attributes are "
        "pool_h, pool_w, stride and pad",
    ),
    (
        "y: pooling(x, stide=2)",
        "10:17: pooling() has no attribute 'stide' (did you mean 'stride'?)",
    ),
    (
        "y: dropout(z, ratio=1)",
        "10:23: attribute 'ratio' of dropout must be at least 0 and below 1, got 1",
    ),
    ("y: dropout(z, seed=-1)", "10:22: attribute 'seed' of dropout must be at least 0, got -1"),
    ("y: dropout(z, train=W)", "10:23: attribute 'train' is a constant"),
    (
        "y: batch_norm(z, g, g, eps=0)",
        "10:30: attribute 'eps' of batch_norm must be positive, got 0",
    ),
    (
        "y: batch_norm(z, W, g)",
        "10:6: node 'y': batch_norm: gamma must hold one value per feature, shape (3,)",
    ),
    (
        "y: batch_norm(g, g, g)",
        "10:6: node 'y': batch_norm: x must be a batch (N, ...) of 2 or more dimensions, got (3,)",
    ),
    (
        "y: batch_norm(z, g, g, mean=g)",
        "10:26: batch_norm() takes mean, var together, after 3 "
        "positional arguments; 'var' is missing",
    ),
    (
        "y: batch_norm(z, g)",
        "10:6: batch_norm() takes 3 or 5 arguments (x, gamma, beta[, mean, var]), got 2",
    ),
    (
        "y: {op: batch_norm, in: [z, g, g, g]}",
        "10:27: batch_norm takes 3 or 5 inputs (x, gamma, beta[, mean, var]), got 4",
    ),
    ("y: batch_norm(z, g, g, v1, var=g)", "10:30: batch_norm() takes mean, var together"),
]


class TestErrorsAreLocated:
    @pytest.mark.parametrize(("node", "message"), ERRORS)
    def test_message_and_place(self, node: str, message: str | None) -> None:
        graph_text = INPUTS + f"  {node}\n"
        if message is None:  # fits: (2, 5, 2, 2)
            assert np.shape(loads(graph_text).evaluate().values["y"]) == (2, 5, 2, 2)
            return
        with pytest.raises(GraphError) as raised:
            loads(graph_text, name="g.yaml").evaluate()
        assert f"g.yaml:{message}" in str(raised.value)

    def test_scalars_are_refused_before_evaluating(self) -> None:
        """Even a graph of scalar inputs is size-checked when an op has attributes."""
        with pytest.raises(GraphError, match="node 'y': pooling: x must be 4-D"):
            loads("inputs: {x: 2}\nnodes:\n  y: pooling(x)\n").evaluate()

    @pytest.mark.parametrize(
        "node", ["convolution(x, W, 0.0)", "pooling(x, pool_h=50, pool_w=50, stride=1)"]
    )
    def test_im2col_matrix_is_bounded_before_evaluating(self, node: str) -> None:
        """A 50×50 window over a 1000×1000 image has 2.3 billion elements in im2col's matrix,
        however small the result: refused at the node, by --max-elements."""
        text = (
            "inputs:\n  x: {zeros: [1, 1, 1000, 1000]}\n  W: {zeros: [1, 1, 50, 50]}\n"
            f"nodes:\n  c: {node}\n"
        )
        with pytest.raises(GraphError, match=r"node 'c' would hold 2,261,002,500 elements in"):
            loads(text).evaluate()

    @pytest.mark.parametrize("op", cnn_cases.CNN_OPS)
    def test_batch_and_exact_refuse_them(self, invoke: Invoke, tmp_path: Path, op: str) -> None:
        node = {
            "convolution": "convolution(a, a, a)",
            "pooling": "pooling(a)",
            "batch_norm": "batch_norm(a, a, a)",
            "dropout": "dropout(a)",
        }[op]
        path = tmp_path / "g.yaml"
        path.write_text(f"inputs: {{a: 2}}\nnodes:\n  y: {node}\n", encoding="utf-8")
        rows = tmp_path / "rows.csv"
        rows.write_text("a\n2\n4\n", encoding="utf-8")
        batch = invoke("run", str(path), "--batch", str(rows))
        assert batch.exit_code == 2 and "which would mix rows" in batch.stderr
        exact = invoke("run", str(path), "--exact")
        assert exact.exit_code == 1
        assert f"uses {op}, which is not exact over the rationals" in exact.stderr


# ------------------------------------------------------------------ the commands


class TestCommands:
    @pytest.mark.parametrize("name", ["cnn", "batch_norm_net"])
    def test_check_passes_on_the_examples(self, invoke: Invoke, name: str) -> None:
        result = invoke("check", name)
        assert result.exit_code == 0, result.stdout + result.stderr

    def test_the_examples_are_listed(self, invoke: Invoke) -> None:
        listed = invoke("examples").stdout
        assert "cnn\tConvolution, Relu, Pooling, Affine, SoftmaxWithLoss" in listed
        assert "batch_norm_net\tAffine, BatchNormalization" in listed

    @pytest.mark.parametrize("command", ["trace", "draw", "check"])
    def test_trace_draw_and_check_take_every_op(
        self, invoke: Invoke, tmp_path: Path, command: str
    ) -> None:
        path = tmp_path / "g.yaml"
        path.write_text(EVERY_OP, encoding="utf-8")
        result = invoke(command, str(path))
        assert result.exit_code == 0, result.stderr
        for op in cnn_cases.CNN_OPS if command != "check" else ():
            assert op in result.stdout

    @pytest.mark.parametrize("standalone", [False, True])
    def test_export_prints_runs_numbers(
        self, invoke: Invoke, tmp_path: Path, standalone: bool
    ) -> None:
        """The book's calls, the weights' gradients from the layer; a convolution whose W is
        a node's result keeps bpcalc's form. Every number as run prints it."""
        graph = tmp_path / "g.yaml"
        graph.write_text(EVERY_OP, encoding="utf-8")
        args = ("--python", "--standalone") if standalone else ("--python",)
        path = export_to(invoke, tmp_path, str(graph), *args)
        text = path.read_text(encoding="utf-8")
        assert "Convolution(W, b, stride=1, pad=1)" in text
        assert "c_layer.forward(x)" in text
        assert "dW, db = c_layer.dW, c_layer.db" in text
        assert "Pooling(pool_h=2, pool_w=2, stride=2, pad=0)" in text
        assert "BatchNormalization(g, be, running_mean=m, running_var=v, eps=1e-06)" in text
        assert "i_layer.forward(p, train_flg=False)" in text
        assert "c2_layer = Convolution(stride=2)" in text
        if standalone:
            assert "\nimport bpcalc" not in text and "\nfrom bpcalc" not in text
            assert "def im2col(" in text
        output = run_script(path, without_bpcalc=standalone)
        assert parse_output(output) == run_numbers(invoke, str(graph))


EVERY_OP = """\
inputs:
  x: {random: [2, 1, 4, 4], seed: 1}
  W: {random: [2, 1, 3, 3], seed: 2}
  b: [0.1, -0.1]
  V: {random: [1, 2, 2, 2], seed: 3}
  g: {ones: 8}
  be: {zeros: 8}
  m: {random: [8], seed: 4}
  v: {ones: 8}
  Wa: {random: [8, 2], seed: 5}
  t: {value: [1, 0], grad: false}
nodes:
  c: convolution(x, W, b, pad=1)
  p: pooling(c)
  n: batch_norm(p, g, be)
  d: dropout(n, ratio=0.25, seed=7)
  f: {op: affine, in: [d, Wa, 0.0]}
  i: batch_norm(p, g, be, mean=m, var=v)
  c2: convolution(p, 2 * V, 0.0, stride=2)
  a: affine(i, Wa, 0.0)
  loss: softmax_with_loss(a, t) + sum(f) + sum(c2)
output: loss
"""
