"""The common ops of issue 12 against PyTorch float64, through ``bpcalc run -o json``.

Each graph is ``r = op(inputs, attributes)`` and ``out = sum(r * w)`` with fixed random weights
``w`` (grad: false), so that the upstream gradient is uneven; PyTorch computes the same sum and
its backward. Inputs include ties, zeros, large magnitudes, 1-D and N-D tensors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bpcalc.ops.indexing import numpy_key
from tests.conftest import Invoke

torch = pytest.importorskip("torch", reason="PyTorch is a test-only reference; .ci/run installs it")
F = torch.nn.functional

RTOL, ATOL = 1e-9, 1e-12
TORCH = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _dims(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(axis) if isinstance(axis, tuple | list) else (axis,)


def _cross_entropy(y: Any, t: Any) -> Any:
    n = y.shape[0] if y.dim() >= 2 else 1
    if t.shape == y.shape:
        return -(t * torch.log(y + 1e-7)).sum() / n
    rows = y.reshape(n, -1)[torch.arange(n), t.reshape(n).long()]
    return -torch.log(rows + 1e-7).sum() / n


# op -> what PyTorch computes from the input tensors and the node's attributes.
REFERENCE: dict[str, Callable[..., Any]] = {
    "sqrt": lambda a, x: torch.sqrt(x),
    "square": lambda a, x: torch.square(x),
    "abs": lambda a, x: torch.abs(x),
    "sin": lambda a, x: torch.sin(x),
    "cos": lambda a, x: torch.cos(x),
    "maximum": lambda a, x, y: torch.maximum(x, y),
    "minimum": lambda a, x, y: torch.minimum(x, y),
    "leaky_relu": lambda a, x: F.leaky_relu(x, a.get("slope", 0.01)),
    "softplus": lambda a, x: F.softplus(x, threshold=50.0),  # 20 by default: not log1p(exp(x))
    "max": lambda a, x: torch.amax(x, _dims(a.get("axis"), x.dim()), a.get("keepdims", False)),
    "min": lambda a, x: torch.amin(x, _dims(a.get("axis"), x.dim()), a.get("keepdims", False)),
    "transpose": lambda a, x: x.permute(*(a.get("axes") or reversed(range(x.dim())))),
    "reshape": lambda a, x: x.reshape(a["shape"]),
    "flatten": lambda a, x: x.reshape(x.shape[0], -1),
    "index": lambda a, x: x[numpy_key(a["index"])],
    "softmax": lambda a, x: torch.softmax(x, a.get("axis", -1)),
    "log_softmax": lambda a, x: torch.log_softmax(x, a.get("axis", -1)),
    "mse": lambda a, y, t: F.mse_loss(y, t) if y.shape == t.shape else ((y - t) ** 2).mean(),
    "sum_squared_error": lambda a, y, t: 0.5 * ((y - t) ** 2).sum(),
    "cross_entropy_error": lambda a, y, t: _cross_entropy(y, t),
}


def _yaml(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.ndim:
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return {True: ".inf", False: "-.inf"}[number > 0] if number == number else ".nan"
    return repr(number)


def _attr_yaml(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


def compare(
    invoke: Invoke,
    folder: Path,
    op: str,
    inputs: dict[str, Any],
    attrs: dict[str, Any] | None = None,
    no_grad: tuple[str, ...] = (),
) -> None:
    """bpcalc's value of r and gradients of sum(r * w) equal PyTorch's to rtol 1e-9."""
    attrs = attrs or {}
    tensors = {
        name: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=name not in no_grad)
        for name, v in inputs.items()
    }
    out = REFERENCE[op](attrs, *tensors.values())
    if 0 in out.shape:
        return  # an empty slice: no weights can be written for it (an empty list is no value)
    w = np.random.default_rng(len(op)).uniform(0.5, 1.5, tuple(out.shape))
    (out * torch.tensor(w)).sum().backward()
    lines = ["inputs:"]
    for name, value in inputs.items():
        text = _yaml(np.asarray(value, dtype=np.float64))
        lines.append(
            f"  {name}: " + (f"{{value: {text}, grad: false}}" if name in no_grad else text)
        )
    lines.append(f"  w: {{value: {_yaml(w)}, grad: false}}")
    extra = "".join(f", {k}: {_attr_yaml(v)}" for k, v in attrs.items())
    lines += ["nodes:", f"  r: {{op: {op}, in: [{', '.join(inputs)}]{extra}}}", "  out: sum(r * w)"]
    path = folder / "g.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("run", str(path), "-o", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    got = np.asarray(document["values"]["r"], dtype=np.float64)
    np.testing.assert_allclose(got, out.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=op)
    for name, tensor in tensors.items():
        if name in no_grad:
            continue
        grad = np.asarray(document["grads"][name], dtype=np.float64)
        np.testing.assert_allclose(
            grad, tensor.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=f"{op} d{name}"
        )


# ------------------------------------------------------------------ edge cases, by hand

TIES = np.array([[1.0, 3.0, 3.0], [0.0, 0.0, -2.0]])
ZEROS = np.array([0.0, -0.0, 0.0])
LARGE = np.array([[1e3, -1e3, 7e2], [-7e2, 1e-8, -1e-8]])

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("sqrt", {"x": np.array([0.0, 1e-300, 4.0, 1e300])}, {}),
    ("square", {"x": np.array([[0.0, -3.0], [1e150, -1e-150]])}, {}),
    ("abs", {"x": np.array([0.0, -0.0, -2.5, 1e300])}, {}),
    ("sin", {"x": LARGE}, {}),
    ("cos", {"x": np.array([0.0, np.pi, -1e3])}, {}),
    ("maximum", {"x": TIES, "y": np.array([3.0, 3.0, -2.0])}, {}),
    ("minimum", {"x": TIES, "y": 0.0}, {}),
    ("maximum", {"x": np.array(2.0), "y": np.array(2.0)}, {}),
    ("leaky_relu", {"x": np.array([0.0, -1.0, 2.0, -1e300])}, {}),
    ("leaky_relu", {"x": TIES - 1.0}, {"slope": 0.2}),
    ("softplus", {"x": np.array([0.0, -1e3, 1e3, 30.0, -30.0, 1e-8])}, {}),
    ("max", {"x": TIES}, {}),
    ("max", {"x": TIES}, {"axis": 1}),
    ("max", {"x": TIES}, {"axis": (0, 1), "keepdims": True}),
    ("min", {"x": TIES}, {"axis": 0}),
    ("min", {"x": np.zeros((2, 2, 2))}, {"axis": -1, "keepdims": True}),
    ("transpose", {"x": TIES}, {}),
    ("transpose", {"x": np.arange(24.0).reshape(2, 3, 4)}, {"axes": (1, 2, 0)}),
    ("transpose", {"x": ZEROS}, {}),
    ("reshape", {"x": TIES}, {"shape": (3, -1)}),
    ("reshape", {"x": np.arange(24.0).reshape(2, 3, 4)}, {"shape": (4, 3, 2)}),
    ("flatten", {"x": np.arange(24.0).reshape(2, 3, 4)}, {}),
    ("index", {"x": TIES}, {"index": "[0]"}),
    ("index", {"x": TIES}, {"index": "[-1]"}),
    ("index", {"x": TIES}, {"index": "[:, 1]"}),
    ("index", {"x": TIES}, {"index": "[1, 2]"}),
    ("index", {"x": TIES}, {"index": "[0:2]"}),
    ("index", {"x": TIES}, {"index": "[:, ::2]"}),
    ("index", {"x": np.arange(24.0).reshape(2, 3, 4)}, {"index": "[1:, -2, 1::2]"}),
    ("softmax", {"x": LARGE}, {}),
    ("softmax", {"x": TIES}, {"axis": 0}),
    ("softmax", {"x": ZEROS}, {}),
    ("log_softmax", {"x": LARGE}, {}),
    ("log_softmax", {"x": np.arange(24.0).reshape(2, 3, 4)}, {"axis": 1}),
    ("mse", {"y": TIES, "t": TIES[::-1].copy()}, {}),
    ("mse", {"y": LARGE, "t": np.array([0.0, 1.0, 2.0])}, {}),
    ("sum_squared_error", {"y": TIES, "t": 1.0}, {}),
    ("sum_squared_error", {"y": ZEROS, "t": ZEROS}, {}),
]


@pytest.mark.parametrize(("op", "inputs", "attrs"), CASES, ids=[c[0] for c in CASES])
def test_edge_cases_match_pytorch(
    invoke: Invoke, tmp_path: Path, op: str, inputs: dict[str, Any], attrs: dict[str, Any]
) -> None:
    compare(invoke, tmp_path, op, inputs, attrs)


@pytest.mark.parametrize(
    ("y", "t", "no_grad"),
    [
        (
            np.array([[0.1, 0.7, 0.2], [0.0, 0.5, 0.5]]),
            np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
            (),
        ),
        (np.array([[0.1, 0.7, 0.2], [0.0, 0.5, 0.5]]), np.array([1.0, 0.0]), ("t",)),
        (np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]), np.eye(10)[2], ()),
        (np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]), np.array(2.0), ("t",)),
    ],
)
def test_cross_entropy_error_matches_pytorch(
    invoke: Invoke, tmp_path: Path, y: Any, t: Any, no_grad: tuple[str, ...]
) -> None:
    """One-hot and index labels, 2-D and 1-D (a batch of one), a zero probability (1e-7)."""
    compare(invoke, tmp_path, "cross_entropy_error", {"y": y, "t": t}, no_grad=no_grad)


# ------------------------------------------------------------------ random inputs

# Few distinct values: ties for maximum, max and min; zeros for abs and leaky_relu.
tied = st.sampled_from([0.0, 1.0, -1.0, 2.5])
wide = st.one_of(tied, st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False))
shapes = st.sampled_from([(), (3,), (2, 3), (2, 1, 3)])


@TORCH
@given(
    data=st.data(), op=st.sampled_from(["square", "abs", "sin", "cos", "leaky_relu", "softplus"])
)
def test_unary_ops_match_pytorch(invoke: Invoke, tmp_path: Path, data: Any, op: str) -> None:
    x = data.draw(hnp.arrays(np.float64, data.draw(shapes), elements=wide))
    attrs = {"slope": data.draw(st.sampled_from([0.01, 0.3]))} if op == "leaky_relu" else {}
    compare(invoke, tmp_path, op, {"x": x}, attrs)


@TORCH
@given(data=st.data())
def test_sqrt_matches_pytorch(invoke: Invoke, tmp_path: Path, data: Any) -> None:
    elements = st.one_of(st.just(0.0), st.floats(1e-6, 1e6, allow_subnormal=False))
    compare(
        invoke,
        tmp_path,
        "sqrt",
        {"x": data.draw(hnp.arrays(np.float64, data.draw(shapes), elements=elements))},
    )


@TORCH
@given(data=st.data(), op=st.sampled_from(["maximum", "minimum", "mse", "sum_squared_error"]))
def test_binary_ops_match_pytorch(invoke: Invoke, tmp_path: Path, data: Any, op: str) -> None:
    x_shape, y_shape = data.draw(
        st.sampled_from([((), ()), ((3,), ()), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), (2, 3))])
    )
    x = data.draw(
        hnp.arrays(np.float64, x_shape, elements=tied if op in ("maximum", "minimum") else wide)
    )
    y = data.draw(
        hnp.arrays(np.float64, y_shape, elements=tied if op in ("maximum", "minimum") else wide)
    )
    compare(invoke, tmp_path, op, {"x": x, "y": y})


@TORCH
@given(data=st.data(), op=st.sampled_from(["max", "min"]))
def test_reductions_match_pytorch(invoke: Invoke, tmp_path: Path, data: Any, op: str) -> None:
    shape = data.draw(st.sampled_from([(3,), (2, 3), (2, 2, 3)]))
    x = data.draw(hnp.arrays(np.float64, shape, elements=tied))
    attrs: dict[str, Any] = {}
    if data.draw(st.booleans()):
        attrs["axis"] = data.draw(
            st.one_of(
                st.integers(-len(shape), len(shape) - 1),
                st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple),
            )
        )
    if data.draw(st.booleans()):
        attrs["keepdims"] = True
    compare(invoke, tmp_path, op, {"x": x}, attrs)


@TORCH
@given(data=st.data())
def test_layout_and_index_match_pytorch(invoke: Invoke, tmp_path: Path, data: Any) -> None:
    shape = data.draw(st.sampled_from([(3,), (2, 3), (2, 3, 4)]))
    x = data.draw(hnp.arrays(np.float64, shape, elements=wide))
    compare(
        invoke,
        tmp_path,
        "transpose",
        {"x": x},
        {"axes": tuple(data.draw(st.permutations(range(len(shape)))))},
    )
    compare(invoke, tmp_path, "reshape", {"x": x}, {"shape": (-1, shape[-1])})
    compare(invoke, tmp_path, "flatten", {"x": x})
    entries = []
    for size in shape[: data.draw(st.integers(1, len(shape)))]:
        if data.draw(st.booleans()):
            entries.append(str(data.draw(st.integers(-size, size - 1))))
        else:
            start = data.draw(st.sampled_from(["", "0", "1", "-1"]))
            stop = data.draw(st.sampled_from(["", "2", "-1"]))
            step = data.draw(st.sampled_from(["", ":2", ":1"]))
            entries.append(f"{start}:{stop}{step}")
    compare(invoke, tmp_path, "index", {"x": x}, {"index": "[" + ", ".join(entries) + "]"})


@TORCH
@given(data=st.data(), op=st.sampled_from(["softmax", "log_softmax"]))
def test_softmax_matches_pytorch(invoke: Invoke, tmp_path: Path, data: Any, op: str) -> None:
    shape = data.draw(st.sampled_from([(3,), (2, 3), (2, 3, 2)]))
    x = data.draw(hnp.arrays(np.float64, shape, elements=wide))
    attrs = (
        {"axis": data.draw(st.integers(-len(shape), len(shape) - 1))}
        if data.draw(st.booleans())
        else {}
    )
    compare(invoke, tmp_path, op, {"x": x}, attrs)
