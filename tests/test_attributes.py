"""Op attributes: ``sum(M, axis=1)`` and ``{op: sum, in: [M], axis: 1}``, read, checked, located,
and carried to the float and exact layers, export, trace and draw.

Hand-worked: M = [[1, 2, 3], [4, 5, 6]]; sum over axis 1 is [6, 15], over axis 0 [5, 7, 9];
mean over both with keepdims is [[3.5]], and its gradient is 1/6 in every element.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bpcalc import loads
from bpcalc.errors import GraphError
from bpcalc.ops.exact import EXACT_LAYERS
from bpcalc.ops.layers import MeanLayer, SumLayer
from bpcalc.ops.spec import Attribute, AttrProblem, Attrs, from_text
from tests.conftest import Invoke
from tests.test_export import export_to, parse_output, run_numbers, run_script

M = "[[1, 2, 3], [4, 5, 6]]"
H = 1e-6
CHECK = settings(max_examples=30, deadline=None)


def graph_text(*nodes: str, inputs: str = f"M: {M}") -> str:
    return "inputs:\n  " + inputs + "\nnodes:\n" + "".join(f"  {n}\n" for n in nodes)


class TestBothForms:
    def test_expression_and_explicit_forms_are_the_same_node(self) -> None:
        """sum(M, axis=1) and {op: sum, in: [M], axis: 1} both give [6, 15]."""
        a = loads(graph_text("s: sum(M, axis=1)"), name="g.yaml")
        b = loads(graph_text("s: {op: sum, in: [M], axis: 1}"), name="g.yaml")
        assert a.nodes[0].attrs == b.nodes[0].attrs == Attrs([("axis", 1)])
        assert a.evaluate().values["s"].tolist() == b.evaluate().values["s"].tolist() == [6, 15]

    @pytest.mark.parametrize(
        ("expression", "explicit", "expected"),
        [
            ("mean(M, axis=[0, 1], keepdims=true)", "axis: [0, 1], keepdims: true", [[3.5]]),
            ("mean(M, axis=(0, -1), keepdims=True)", "axis: [0, -1], keepdims: True", [[3.5]]),
            ("sum(M, axis=-2)", "axis: -2", [5, 7, 9]),
            ("sum(M, keepdims=true)", "keepdims: true", [[21]]),
            ("sum(M, axis=None)", "axis: null", 21),
            ("sum(M, axis=[])", "axis: []", [[1, 2, 3], [4, 5, 6]]),
        ],
    )
    def test_values(self, expression: str, explicit: str, expected: Any) -> None:
        op = expression.split("(")[0]
        for text in (f"s: {expression}", f"s: {{op: {op}, in: [M], {explicit}}}"):
            value = loads(graph_text(text), name="g.yaml").evaluate().values["s"]
            assert np.asarray(value).tolist() == expected

    def test_json_explicit_form(self) -> None:
        text = json.dumps(
            {
                "inputs": {"M": [[1, 2], [3, 4]]},
                "nodes": {"s": {"op": "sum", "in": ["M"], "axis": 0, "keepdims": True}},
            }
        )
        graph = loads(text, name="g.json")
        assert graph.evaluate().values["s"].tolist() == [[4, 6]]

    def test_equal_attributes_share_a_node_and_different_ones_do_not(self) -> None:
        same = loads(graph_text("t: sum(M, axis=0) * sum(M, axis=0)"), name="g.yaml")
        assert [n.name for n in same.nodes] == ["sum(M, axis=0)", "t"]

    def test_different_attributes_are_different_nodes(self) -> None:
        graph = loads(graph_text("t: sum(sum(M, axis=0)) + sum(sum(M, axis=1))"), name="g.yaml")
        inner = [n for n in graph.nodes if n.name in ("sum(M, axis=0)", "sum(M, axis=1)")]
        assert len(inner) == 2 and inner[0].attrs != inner[1].attrs
        assert graph.evaluate().values["t"] == 42.0

    def test_attrs_are_frozen_and_hashable(self) -> None:
        a = Attrs([("axis", 1), ("keepdims", True)])
        b = Attrs([("keepdims", True), ("axis", 1)])
        assert a == b and hash(a) == hash(b) and len({a, b}) == 1
        assert a != Attrs([("axis", 0), ("keepdims", True)])
        assert dict(a) == {"axis": 1, "keepdims": True}
        assert a.text() == "axis=1, keepdims=True"
        with pytest.raises(TypeError):
            a["axis"] = 2  # type: ignore[index]

    def test_every_kind_of_attribute(self) -> None:
        """The types the next ops need: int with a range, float, list of ints."""
        stride = Attribute("stride", "int", 1, "step", check=lambda v: None if v else "is 0")
        assert stride.read("conv", 2, "2") == 2
        with pytest.raises(AttrProblem, match="attribute 'stride' of conv is 0, got 0"):
            stride.read("conv", 0, "0")
        for wrong in (True, 1.5, [1], None):
            with pytest.raises(AttrProblem, match="expects a whole number, got"):
                stride.read("conv", wrong, "v")
        scale = Attribute("scale", "float", 1.0, "factor")
        assert scale.read("op", 2, "2") == 2.0 and isinstance(scale.read("op", 2, "2"), float)
        with pytest.raises(AttrProblem, match="expects a number"):
            scale.read("op", False, "false")
        sizes = Attribute("sizes", "ints", (1,), "sizes")
        assert sizes.read("op", [2, 3], "[2, 3]") == (2, 3)
        with pytest.raises(AttrProblem, match="expects a list of whole numbers"):
            sizes.read("op", 2, "2")
        with pytest.raises(AttrProblem, match="expects a list of whole numbers"):
            sizes.read("op", [2, 1.5], "[2, 1.5]")
        assert stride.signature == "stride=1" and sizes.signature == "sizes=[1]"

    def test_text_of_the_explicit_form(self) -> None:
        assert from_text("1") == 1 and from_text("-2") == -2 and from_text("1.5") == 1.5
        assert from_text(["0", "1"]) == [0, 1]
        assert from_text("true") is True and from_text("False") is False
        assert from_text("null") is None and from_text("x") == "x"


ERRORS = [
    (
        "s: sum(M, axes=1)",
        "5:13: sum() has no attribute 'axes' (did you mean 'axis'?); its "
        "attributes are axis and keepdims",
    ),
    (
        "s: sum(M, axis=1.5)",
        "5:18: attribute 'axis' of sum expects a whole number or a list of whole numbers, got 1.5",
    ),
    ("s: sum(M, keepdims=1)", "5:22: attribute 'keepdims' of sum expects true or false, got 1"),
    (
        "s: sum(M, axis=x)",
        "5:18: attribute 'axis' is a constant: a number, a list of numbers, true or false, not 'x'",
    ),
    ("s: sum(M, axis=[0, x])", "5:22: attribute 'axis' is a constant"),
    ("s: sum(M, axis=1, axis=0)", "5:21: sum() got attribute 'axis' twice"),
    ("s: sum(M, **k)", "5:13: sum() takes attributes as name=value"),
    ("s: relu(M, axis=1)", "5:6: relu() takes positional arguments only"),
    (
        "s: sum(M, axis=2)",
        "5:6: node 's': sum: axis 2 is out of range for an input with 2 "
        "dimensions (axes are -2..1)",
    ),
    ("s: mean(M, axis=[0, -2])", "5:6: node 's': mean: axis [0, -2] names axis 0 twice"),
    (
        "s: {op: sum, in: [M], axes: 1}",
        "5:25: unknown key 'axes' (did you mean 'axis'?); a sum "
        "node has op, in and the attributes axis, keepdims",
    ),
    (
        "s: {op: sum, in: [M], axis: one}",
        "5:31: attribute 'axis' of sum expects a whole number or a list of whole numbers, got one",
    ),
    (
        "s: {op: sum, in: [M], keepdims: yes}",
        "5:35: attribute 'keepdims' of sum expects true or false, got yes",
    ),
    ("s: {op: sum, in: [M], axis: 3}", "5:6: node 's': sum: axis 3 is out of range"),
    ("s: {op: relu, in: [M], axis: 3}", "5:26: unknown key 'axis'; an explicit node has op and in"),
]


class TestErrorsAreLocated:
    @pytest.mark.parametrize(("node", "message"), ERRORS)
    def test_message_and_place(self, node: str, message: str) -> None:
        with pytest.raises(GraphError) as raised:
            loads(graph_text(node, inputs=f"M: {M}\n  x: 1"), name="g.yaml").evaluate()
        assert f"g.yaml:{message}" in str(raised.value)

    def test_a_scalar_has_no_axis(self) -> None:
        """Refused before evaluating even when every input is a number."""
        with pytest.raises(GraphError, match="axis 0 is out of range: the input is a scalar"):
            loads(graph_text("s: sum(x, axis=0)", inputs="x: 2"), name="g.yaml").evaluate()

    def test_duplicate_key_of_the_explicit_form(self) -> None:
        text = (
            f"inputs:\n  M: {M}\nnodes:\n  s:\n    op: sum\n    in: [M]\n    axis: 1\n    axis: 0\n"
        )
        with pytest.raises(GraphError, match=r"g\.yaml:8:5: duplicate key 'axis'"):
            loads(text, name="g.yaml")

    def test_an_axis_on_a_scalar_is_fine_without_attributes(self) -> None:
        assert (
            loads(graph_text("s: sum(x)", inputs="x: 2"), name="g.yaml").evaluate().values["s"]
            == 2.0
        )


# ------------------------------------------------------------------ the layers


@st.composite
def reductions(draw: Any) -> tuple[Any, Any, bool]:
    """An array, an axis (None, an int or a tuple, negative allowed) and keepdims."""
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3, allow_subnormal=False)))
    ndim = len(shape)
    axis_int = st.integers(-ndim, ndim - 1)
    axes = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(
        lambda a: tuple(i - ndim if i % 2 else i for i in a)
    )
    axis = draw(st.one_of(st.none(), axis_int, axes))
    return x, axis, draw(st.booleans())


def numerical(layer_class: Any, x: Any, axis: Any, keepdims: bool, dout: Any) -> Any:
    def objective(value: Any) -> float:
        out = layer_class(axis=axis, keepdims=keepdims).forward(value)
        return math.fsum((np.asarray(out) * dout).ravel().tolist())

    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += H
        minus[i] -= H
        grad[i] = (objective(plus) - objective(minus)) / (2 * H)
    return grad


@pytest.mark.parametrize(("layer_class", "reduce"), [(SumLayer, np.sum), (MeanLayer, np.mean)])
class TestReductionLayers:
    @CHECK
    @given(case=reductions(), data=st.data())
    def test_backward_matches_central_differences(
        self, layer_class: Any, reduce: Any, case: tuple[Any, Any, bool], data: Any
    ) -> None:
        x, axis, keepdims = case
        layer = layer_class(axis=axis, keepdims=keepdims)
        out = layer.forward(x)
        expected = reduce(x, axis=axis, keepdims=keepdims)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
        shape = np.shape(out)
        dout = (
            data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0.1, 2)))
            if shape
            else data.draw(st.floats(0.1, 2))
        )
        grad = layer.backward(dout)
        assert np.shape(grad) == x.shape
        np.testing.assert_allclose(
            grad, numerical(layer_class, x, axis, keepdims, dout), rtol=1e-5, atol=1e-6
        )

    @CHECK
    @given(case=reductions())
    def test_exact_layer_agrees_with_the_float_layer(
        self, layer_class: Any, reduce: Any, case: tuple[Any, Any, bool]
    ) -> None:
        x, axis, keepdims = case
        x = np.round(x * 4) / 4  # quarters: exact in float64 and as fractions
        exact_class = EXACT_LAYERS["sum" if layer_class is SumLayer else "mean"]
        exact = exact_class(axis=axis, keepdims=keepdims)
        fractions = np.array([Fraction(v) for v in x.ravel()], dtype=object).reshape(x.shape)
        out = exact.forward(fractions)
        floats = layer_class(axis=axis, keepdims=keepdims)
        expected = floats.forward(x)
        assert np.shape(out) == np.shape(expected)
        np.testing.assert_allclose(np.asarray(out, dtype=np.float64), expected, rtol=1e-12)
        one = np.ones(np.shape(out), dtype=object) * Fraction(1) if np.shape(out) else Fraction(1)
        grad = exact.backward(one)
        assert all(isinstance(g, Fraction) for g in np.asarray(grad).ravel())
        np.testing.assert_allclose(
            np.asarray(grad, dtype=np.float64),
            floats.backward(np.ones(np.shape(expected)) if np.shape(expected) else 1.0),
        )

    def test_against_torch(self, layer_class: Any, reduce: Any) -> None:
        torch = pytest.importorskip(
            "torch", reason="torch is not installed: compare only with numpy"
        )
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 3, 4))
        for axis, keepdims in [(1, False), ((0, 2), True), (-1, True), (None, False)]:
            layer = layer_class(axis=axis, keepdims=keepdims)
            out = layer.forward(x)
            dout = rng.standard_normal(np.shape(out)) if np.shape(out) else 1.5
            grad = layer.backward(dout)
            t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            op = torch.sum if layer_class is SumLayer else torch.mean
            tout = op(t) if axis is None else op(t, dim=axis, keepdim=keepdims)
            tout.backward(torch.tensor(dout, dtype=torch.float64))
            np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12)


class TestThroughTheGraph:
    def test_mean_gradient_by_hand(self) -> None:
        """d mean over both axes / d M = 1/6 everywhere; exactly 1/6 with --exact."""
        graph = loads(graph_text("m: mean(M, axis=[0, 1], keepdims=true)"), name="g.yaml")
        assert graph.evaluate().grads["M"].tolist() == [[1 / 6] * 3] * 2
        grads = graph.evaluate(exact=True).grads["M"]
        assert grads.tolist() == [[Fraction(1, 6)] * 3] * 2

    def test_export_prints_the_same_numbers(self, invoke: Invoke, tmp_path: Path) -> None:
        path = tmp_path / "g.yaml"
        path.write_text(
            graph_text(
                "s: sum(M, axis=1)",
                "m: mean(M, axis=[0, 1], keepdims=true)",
                "e: {op: sum, in: [M], axis: -2, keepdims: true}",
                "t: sum(s * 2) + sum(m) + mean(e)",
            ),
            encoding="utf-8",
        )
        for standalone in ([], ["--standalone"]):
            script = export_to(invoke, tmp_path, "--python", *standalone, str(path))
            text = script.read_text("utf-8")
            assert "SumLayer(axis=1)" in text and "MeanLayer(axis=(0, 1), keepdims=True)" in text
            assert parse_output(run_script(script)) == run_numbers(invoke, str(path))

    def test_trace_and_draw_show_attributes(self, invoke: Invoke, tmp_path: Path) -> None:
        path = tmp_path / "g.yaml"
        path.write_text(graph_text("s: sum(M, axis=1)", "t: sum(s)"), encoding="utf-8")
        trace = invoke("trace", str(path)).stdout
        assert "s = sum(M, axis=1)" in trace
        records = json.loads(invoke("trace", str(path), "-o", "json").stdout)
        assert records[0]["attrs"] == {"axis": 1} and "attrs" not in records[1]
        assert "(sum(axis=1))" in invoke("draw", str(path), "-o", "text").stdout
        assert "sum(axis=1)" in invoke("draw", str(path), "-o", "dot").stdout

    def test_batch_still_refuses_sum(self, invoke: Invoke, tmp_path: Path) -> None:
        path = tmp_path / "g.yaml"
        path.write_text(graph_text("s: sum(x, axis=[])", inputs="x: 1"), encoding="utf-8")
        rows = tmp_path / "rows.csv"
        rows.write_text("x\n1\n", encoding="utf-8")
        result = invoke("run", str(path), "--batch", str(rows))
        assert result.exit_code == 2
        assert "node 's' uses 'sum', which would mix rows" in result.stderr


class TestSubExpressionNamesWithAttributes:
    def test_different_attributes_are_different_nodes(self) -> None:
        """sum(M, axis=0) and sum(M, axis=1) inside one expression are two nodes, each named
        with its attributes; the total adds both (2 columns of 4 and 6, rows of 3 and 7)."""
        graph = loads(
            "inputs:\n  M: [[1, 2], [3, 4]]\nnodes:\n"
            "  t: sum(sum(M, axis=0) * 2) + sum(sum(M, axis=1))\n"
        )
        names = [node.name for node in graph.nodes]
        assert "sum(M, axis=0)" in names and "sum(M, axis=1)" in names
        assert graph.evaluate().values["t"] == 2 * (4 + 6) + (3 + 7)

    def test_the_order_attributes_are_written_in_does_not_matter(self) -> None:
        """The same call with its attributes in another order is the same node."""
        graph = loads(
            "inputs:\n  M: [[1, 2], [3, 4]]\nnodes:\n"
            "  t: sum(mean(M, axis=1, keepdims=true) + mean(M, keepdims=true, axis=1))\n"
        )
        means = [node.name for node in graph.nodes if node.op == "mean"]
        assert means == ["mean(M, axis=1, keepdims=True)"]
