"""An op is one entry: what bpcalc says and does about each op is derived from its OpSpec.

For every op of ``bpcalc.ops.table.OPS``: ``bpcalc ops`` prints the spec's fields, ``--exact``
accepts exactly the ops with an exact layer, ``--batch`` exactly the element-wise ones, the size
check predicts the shape the layer really makes, and the layer classes satisfy the protocol of
their arity. Marking ``exp`` exact in the table without an exact layer fails here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.analysis import batch
from bpcalc.errors import EvaluationError, GraphError
from bpcalc.loading import expressions
from bpcalc.ops import cnn, exact, layers
from bpcalc.ops.spec import KINDS, Attrs, AttrValue, OpSpec
from bpcalc.ops.table import BINARY_SYMBOLS, ELEMENTWISE_OPS, EXACT_OPS, OPS, UNARY_SYMBOLS
from tests.conftest import Invoke

SPECS = list(OPS.values())
NAMES = [spec.name for spec in SPECS]

# Scalar inputs every elementwise op evaluates without trouble (log and pow need x > 0, pow's
# exact layer a whole-number exponent).
SCALARS = {"a": "2", "b": "3", "c": "5"}


# Ops that need a tensor or a required attribute (the common ops of issue 12).
GRAPHS = {
    "reshape": "inputs: {a: 2}\nnodes:\n  y: {op: reshape, in: [a], shape: [1, 1]}\n",
    "flatten": "inputs: {a: 2}\nnodes:\n  y: flatten(reshape(a, shape=[1, 1]))\n",
    "index": "inputs: {a: 2}\nnodes:\n  y: reshape(a, shape=[1])[0]\n",
    # --exact takes pow with a number as exponent (d/dn of x ** n is not rational)
    "pow": "inputs: {a: 2}\nnodes:\n  y: {op: pow, in: [a, 3]}\n",
}


def scalar_graph(spec: OpSpec) -> str:
    if spec.name in GRAPHS:
        return GRAPHS[spec.name]
    args = ", ".join("abc"[: spec.arity])
    inputs = ", ".join(f"{k}: {v}" for k, v in list(SCALARS.items())[: spec.arity])
    return f"inputs: {{{inputs}}}\nnodes:\n  y: {{op: {spec.name}, in: [{args}]}}\n"


class TestOpsCommandPrintsTheSpec:
    def test_json_has_every_field_of_every_spec(self, invoke: Invoke) -> None:
        """-o json: class, inputs, symbol, exact and its class, element-wise, attributes."""
        document = {
            entry["name"]: entry for entry in json.loads(invoke("ops", "-o", "json").stdout)
        }
        assert list(document) == NAMES
        for spec in SPECS:
            entry = document[spec.name]
            assert entry["class"] == spec.class_name
            assert entry["inputs"] == list(spec.params)
            assert entry["symbol"] == (spec.symbol or None)
            assert entry["exact"] is spec.exact
            assert entry["exact_class"] == (spec.exact_layer or None)
            assert entry["elementwise"] is spec.elementwise
            assert [a["name"] for a in entry["attributes"]] == list(spec.attribute_names)
            for shown, attribute in zip(entry["attributes"], spec.attributes, strict=True):
                assert shown["type"] == attribute.kind
                assert shown["accepts"] == KINDS[attribute.kind]
                assert shown["help"] == attribute.help

    def test_the_table_shows_params_and_attributes(self, invoke: Invoke) -> None:
        """The inputs column is the signature: ``x, axis=None, keepdims=False`` for sum."""
        rows = {line.split("\t")[0]: line.split("\t") for line in invoke("ops").stdout.splitlines()}
        for spec in SPECS:
            assert rows[spec.name][2] == spec.signature()
        assert rows["sum"][2] == "x, axis=None, keepdims=False"

    def test_markdown_lists_exact_and_elementwise_ops_and_every_attribute(
        self, invoke: Invoke
    ) -> None:
        text = invoke("ops", "-o", "markdown").stdout
        exact_line = next(line for line in text.splitlines() if "usable with `--exact`" in line)
        assert exact_line.count("`") - 2 == 2 * len(EXACT_OPS)
        for spec in SPECS:
            for attribute in spec.attributes:
                assert f"| {spec.name} | `{attribute.name}` |" in text

    def test_exact_help_names_every_exact_op(self, invoke: Invoke) -> None:
        """--exact's help is written from the specs, with pow's limit."""
        text = "".join(invoke("run", "--help").stdout.split())  # wrapped anywhere, even at -
        assert "onlyforadd,sub,mul,div,powwithawhole-numberexponent," in text
        listed = text.split("onlyfor", 1)[1].split(".", 1)[0]
        assert listed.startswith("add,sub,mul,div,pow")
        assert listed.endswith(f"and{EXACT_OPS[-1]}")
        assert all(name in listed for name in EXACT_OPS)


class TestExactAndBatchAcceptWhatTheSpecSays:
    @pytest.mark.parametrize("op", NAMES)
    def test_exact_accepts_exactly_the_exact_ops(
        self, invoke: Invoke, tmp_path: Path, op: str
    ) -> None:
        spec = OPS[op]
        path = tmp_path / "g.yaml"
        path.write_text(scalar_graph(spec), encoding="utf-8")
        result = invoke("run", str(path), "--exact")
        refused = "which is not exact over the rationals" in result.stderr
        assert refused is not spec.exact, result.stderr
        if spec.exact:
            assert result.exit_code == 0, result.stderr
        else:
            assert result.exit_code == 1

    @pytest.mark.parametrize("op", NAMES)
    def test_batch_accepts_exactly_the_elementwise_ops(
        self, invoke: Invoke, tmp_path: Path, op: str
    ) -> None:
        spec = OPS[op]
        path = tmp_path / "g.yaml"
        path.write_text(scalar_graph(spec), encoding="utf-8")
        rows = tmp_path / "rows.csv"
        rows.write_text("a\n2\n4\n", encoding="utf-8")
        result = invoke("run", str(path), "--batch", str(rows), "-o", "csv")
        refused = "which would mix rows" in result.stderr
        assert refused is not spec.elementwise, result.stderr
        assert result.exit_code == (0 if spec.elementwise else 2), result.stderr

    def test_the_derived_sets_are_the_specs(self) -> None:
        assert batch.ELEMENTWISE_OPS is ELEMENTWISE_OPS
        assert {s.name for s in SPECS if s.elementwise} == ELEMENTWISE_OPS
        assert list(exact.EXACT_LAYERS) == [s.name for s in SPECS if s.exact] == list(EXACT_OPS)
        for spec in SPECS:
            if spec.exact:
                assert exact.EXACT_LAYERS[spec.name].__name__ == spec.exact_layer


class TestSymbols:
    def test_every_symbol_is_python_syntax_the_parser_knows(self) -> None:
        """Binary symbols come from the specs; the parser only maps Python's syntax to them."""
        assert set(BINARY_SYMBOLS) <= set(expressions.OPERATORS.values())
        assert UNARY_SYMBOLS == {"-": "neg"}
        for spec in SPECS:
            if spec.symbol:
                assert spec.arity in (1, 2)

    @pytest.mark.parametrize("symbol", sorted(BINARY_SYMBOLS))
    def test_an_operator_makes_its_op(self, symbol: str) -> None:
        calls = expressions.parse_expression("z", f"a {symbol} b", max_length=1000)
        assert [(c.name, c.op) for c in calls] == [("z", BINARY_SYMBOLS[symbol])]

    def test_prefix_minus_is_the_unary_symbol(self) -> None:
        calls = expressions.parse_expression("z", "-a", max_length=1000)
        assert [c.op for c in calls] == [UNARY_SYMBOLS["-"]]


class TestLayerProtocol:
    """mypy checks the typed tuples of bpcalc.ops.layers and .exact against the protocols;
    these tests check that every op's classes are in the tuple of its arity."""

    @pytest.mark.parametrize("op", NAMES)
    def test_float_layer_is_checked_for_its_arity(self, op: str) -> None:
        spec = OPS[op]
        checked = {
            1: layers.UNARY + cnn.UNARY,
            2: layers.BINARY,
            3: layers.TERNARY + cnn.TERNARY,
        }[spec.arity]
        assert spec.layer_class() in checked

    @pytest.mark.parametrize("op", EXACT_OPS)
    def test_exact_layer_is_checked_for_its_arity(self, op: str) -> None:
        spec = OPS[op]
        checked = {1: exact.UNARY, 2: exact.BINARY}[spec.arity]
        assert spec.exact_layer_class() in checked

    def test_a_non_exact_op_has_no_exact_layer(self) -> None:
        with pytest.raises(KeyError):
            OPS["exp"].exact_layer_class()

    @pytest.mark.parametrize("op", [s.name for s in SPECS if s.attributes])
    def test_attributes_are_the_layers_keyword_arguments(self, op: str) -> None:
        """Each attribute is a keyword of the layer's __init__, with the spec's default."""
        import inspect

        spec = OPS[op]
        for cls in (spec.layer_class(), *([spec.exact_layer_class()] if spec.exact else [])):
            parameters = inspect.signature(cls).parameters
            for attribute in spec.attributes:
                assert parameters[attribute.name].default == attribute.default


# ------------------------------------------------------------------ the size check


def _input_text(shape: tuple[int, ...]) -> str:
    return "1.5" if not shape else f"{{ones: {list(shape)}}}"


small_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


# Values of required attributes, in range or not depending on the drawn shapes.
REQUIRED: dict[str, AttrValue] = {"shape": (-1,), "index": "[0, -1]"}


@st.composite
def attribute_values(draw: Any, spec: OpSpec, ndim: int) -> dict[str, AttrValue]:
    """Some of the op's attributes, in or (rarely) out of range for an input of ``ndim``."""
    values: dict[str, AttrValue] = {}
    for attribute in spec.attributes:
        if not attribute.required and not draw(st.booleans()):
            continue
        if attribute.required:
            values[attribute.name] = REQUIRED[attribute.name]
        elif attribute.kind == "bool":
            values[attribute.name] = draw(st.booleans())
        elif attribute.kind == "axes":
            axis = st.integers(-ndim - 1, ndim)
            values[attribute.name] = draw(
                st.one_of(axis, st.lists(axis, max_size=3).map(tuple), st.none())
            )
    return values


def _attr_yaml(values: dict[str, AttrValue]) -> str:
    parts = []
    for name, value in values.items():
        if isinstance(value, tuple):
            parts.append(f"{name}: {list(value)}")
        elif isinstance(value, bool):
            parts.append(f"{name}: {str(value).lower()}")
        else:
            parts.append(f"{name}: {'null' if value is None else value}")
    return "".join(", " + p for p in parts)


class TestSizeCheckPredictsTheRealShape:
    @settings(max_examples=40, deadline=None)
    @given(
        op=st.sampled_from(NAMES),
        shapes=st.lists(small_shapes, min_size=3, max_size=3),
        data=st.data(),
    )
    def test_predicted_shape_is_the_evaluated_shape(
        self, op: str, shapes: list[tuple[int, ...]], data: Any
    ) -> None:
        """The spec's rule, with the node's attributes, gives the shape evaluation makes; where it
        refuses an attribute the graph is refused before evaluating, at the node; where it
        cannot tell (None), evaluation fails. (A layer may still refuse operands the rule
        sized, such as a 3-D x for softmax_with_loss: the rule bounds sizes, not validity.)"""
        spec = OPS[op]
        operands = shapes[: spec.arity]
        if op == "softmax_with_loss":
            operands = [operands[0], operands[0]]
        values = data.draw(attribute_values(spec, len(operands[0])))
        names = "abc"[: spec.arity]
        text = (
            "inputs:\n"
            + "".join(f"  {n}: {_input_text(s)}\n" for n, s in zip(names, operands, strict=True))
            + f"nodes:\n  y: {{op: {op}, in: [{', '.join(names)}]{_attr_yaml(values)}}}\n"
        )
        graph = loads(text, name="g.yaml")
        attrs = graph.nodes[0].attrs
        assert dict(attrs) == values
        try:
            predicted = spec.shape(operands, attrs)
        except ValueError as err:  # ShapeError
            with pytest.raises(GraphError, match="node 'y'") as raised:
                graph.evaluate()
            assert str(err) in str(raised.value)
            return
        try:
            evaluation = graph.evaluate()
        except EvaluationError:
            return
        assert predicted is not None
        assert predicted == np.shape(evaluation.values["y"])
        # The gradient comes back in each input's shape.
        for name, shape in zip(names, operands, strict=True):
            grad = evaluation.grads[name]
            assert np.shape(grad) == shape


def test_no_duplicated_tables_are_left() -> None:
    """The facts that used to live in other modules are gone from them."""
    root = Path(__file__).resolve().parent.parent / "bpcalc"
    for module, name in [
        ("ops/shapes.py", "RULES"),
        ("loading/expressions.py", 'ast.Add: "add"'),
        ("analysis/export.py", '"**": "pow"'),
    ]:
        assert name not in (root / module).read_text("utf-8"), (module, name)
    tree = ast.parse((root / "ops" / "exact.py").read_text("utf-8"))
    literal_dicts = [n for n in ast.walk(tree) if isinstance(n, ast.Dict) and len(n.keys) > 3]
    assert literal_dicts == []
    assert Attrs() == Attrs([])
