"""Loading graph files: YAML and JSON, names, numbers, expressions, inputs, and every error.

Errors are asserted with their exact text and ``line:col``, since that is what users read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bpcalc.errors import BpcalcError, GraphError
from bpcalc.limits import Limits
from bpcalc.loading.build import load, loads
from bpcalc.loading.graph import Graph
from bpcalc.ops.indexing import FORMS
from bpcalc.ops.table import OPS

WriteGraph = Callable[..., Path]

ALLOWED = "numbers, names, + - * / ** @, parentheses and op calls such as relu(x)"


def errors_of(text: str, **options: object) -> list[str]:
    """Every diagnostic loading ``text`` (as g.yaml, unless a name is given) reports."""
    options.setdefault("name", "g.yaml")
    with pytest.raises(GraphError) as err:
        loads(text, **options)  # type: ignore[arg-type]
    return [f"{d.location()}: {d.message}" for d in err.value.diagnostics]


def error_of(text: str, **options: object) -> str:
    """The single diagnostic loading ``text`` reports, as ``file:line:col: message``."""
    found = errors_of(text, **options)
    assert len(found) == 1, found
    return found[0]


def node_error(expression: str) -> str:
    """The error for a node `z` defined by ``expression`` (at line 3, column 6)."""
    return error_of(f"inputs: {{a: 2, b: 3, c: 4}}\nnodes:\n  z: {expression}\n")


class TestYamlOneOneNames:
    """Words YAML 1.1 reads as booleans or null stay names; True and None are refused."""

    def test_boolean_and_null_words_are_input_names_usable_in_expressions(self) -> None:
        """on, no, yes, off, null, y and n are inputs, and expressions read them as names."""
        text = (
            "inputs: {on: 1, no: 2, yes: 3, off: 4, null: 5, y: 6, n: 7}\n"
            "nodes:\n  z: on + no * yes - off + null * y - n\n"
        )
        result = loads(text).evaluate()
        assert list(result.values)[:7] == ["on", "no", "yes", "off", "null", "y", "n"]
        assert result.values["z"] == 1 + 2 * 3 - 4 + 5 * 6 - 7
        assert result.grads["no"] == 3.0
        assert result.grads["null"] == 6.0
        assert result.grads["off"] == -1.0

    def test_boolean_words_name_nodes_and_explicit_arguments_and_the_output(self) -> None:
        """A node called `yes`, `in: [on, yes]` and `output: no` all mean those names."""
        text = (
            "inputs: {off: 2}\nnodes:\n  on: off + 1\n  yes: on * 2\n"
            "  no: {op: mul, in: [on, yes]}\noutput: no\n"
        )
        result = loads(text).evaluate()
        assert result.output == "no"
        assert result.values["no"] == 3.0 * 6.0
        assert result.grads["off"] == 2 * 2 * 3.0  # no = 2 (off + 1)^2

    def test_grad_accepts_yaml_one_one_booleans(self) -> None:
        """`grad: no` and `grad: off` turn the gradient off like `grad: false`."""
        text = (
            "inputs:\n  s: {value: 2, grad: no}\n  t: {value: 3, grad: off}\nnodes:\n  z: s * t\n"
        )
        grads = loads(text).evaluate().grads
        assert grads["s"] is None
        assert grads["t"] is None

    def test_python_keywords_cannot_be_names(self) -> None:
        """`True` and `None` are refused as names, at their keys, instead of meaning 1 or null."""
        assert errors_of("inputs: {True: 1}\nnodes:\n  None: 2\n") == [
            "g.yaml:1:10: 'True' is a Python keyword and cannot be a name",
            "g.yaml:3:3: 'None' is a Python keyword and cannot be a name",
        ]

    def test_a_name_must_be_an_identifier(self) -> None:
        """`1x` is not a name; a use of the input it tried to define is unknown too."""
        assert errors_of("inputs: {1x: 1}\nnodes:\n  z: x + 1\n") == [
            "g.yaml:1:10: '1x' is not a valid name: use letters, digits and _, "
            "not starting with a digit",
            "g.yaml:3:6: unknown name 'x'",
        ]


class TestNumbers:
    """Every number is float64, however YAML would have typed it."""

    @pytest.mark.parametrize(
        ("written", "expected"),
        [
            ("1e-4", 1e-4),
            ("1E+3", 1000.0),
            ("1_000", 1000.0),
            (".5", 0.5),
            ("-.5", -0.5),
            ("+1", 1.0),
            ("7", 7.0),
            ("1.1", 1.1),
            ("'2.5'", 2.5),
            ('"1e-4"', 1e-4),
            (".inf", float("inf")),
        ],
    )
    def test_numbers_in_every_spelling_are_float64(self, written: str, expected: float) -> None:
        """`x: WRITTEN` loads as the float ``expected``."""
        value = loads(f"inputs:\n  x: {written}\nnodes:\n  z: x\n").inputs["x"].value
        assert isinstance(value, float)
        assert value == expected

    def test_integer_lists_are_float64_arrays(self) -> None:
        """[[1, 2], [3, 4]] is a 2x2 float64 array."""
        value = loads("inputs:\n  x: [[1, 2], [3, 4]]\nnodes:\n  z: x\n").inputs["x"].value
        assert value.dtype == np.float64
        np.testing.assert_array_equal(value, [[1.0, 2.0], [3.0, 4.0]])

    def test_numbers_in_expressions_and_explicit_arguments(self) -> None:
        """1e-4, 1_000 and .5 are numbers inside expressions and in `in: [...]` too."""
        text = "inputs: {x: 2}\nnodes:\n  a: 1_000 * x + .5\n  b: {op: mul, in: [a, 1e-4]}\n"
        result = loads(text).evaluate()
        assert result.values["a"] == 2000.5
        assert result.grads["x"] == 1000 * 1e-4

    def test_text_where_a_number_belongs_is_an_error(self) -> None:
        """`x: true`, `x: abc` and a number too large for float64 say what they got."""
        assert error_of("inputs:\n  x: true\nnodes:\n  z: x\n") == (
            "g.yaml:2:6: expected a number, got 'true'"
        )
        assert error_of("inputs:\n  x: abc\nnodes:\n  z: x\n") == (
            "g.yaml:2:6: expected a number, got 'abc'"
        )
        assert error_of("inputs:\n  x: 1e400\nnodes:\n  z: x\n") == (
            "g.yaml:2:6: number '1e400' is too large for float64"
        )

    def test_inf_and_nan_are_names_in_both_node_forms(self) -> None:
        """An input called nan means that input in `in: [...]` as in expressions, not NaN."""
        text = "inputs: {nan: 2, inf: 3}\nnodes:\n  a: {op: mul, in: [nan, inf]}\n  b: nan * a\n"
        result = loads(text).evaluate()
        assert result.values["a"] == 6.0
        assert result.values["b"] == 12.0


class TestDuplicateKeys:
    """A repeated key is an error wherever it is, never "the last one wins"."""

    def test_a_repeated_top_level_key(self) -> None:
        """Two `inputs:` sections are reported at the second, naming the first's line."""
        assert error_of("inputs: {x: 1}\ninputs: {x: 2}\nnodes:\n  a: x\n") == (
            "g.yaml:2:1: duplicate key 'inputs' (first defined on line 1)"
        )

    def test_a_repeated_input_and_a_repeated_node_are_both_reported(self) -> None:
        """Duplicate inputs and duplicate nodes in one file give one error each."""
        text = "inputs:\n  x: 1\n  x: 2\nnodes:\n  z: x\n  z: x * 2\n"
        assert errors_of(text) == [
            "g.yaml:3:3: duplicate key 'x' (first defined on line 2)",
            "g.yaml:6:3: duplicate key 'z' (first defined on line 5)",
        ]

    def test_a_repeated_key_inside_a_node_or_an_input_mapping(self) -> None:
        """`op` twice in a node and `value` twice in an input are errors at the second one."""
        text = "inputs: {x: {value: 1, value: 2}}\nnodes:\n  a: {op: neg, in: [x], op: exp}\n"
        assert errors_of(text) == [
            "g.yaml:1:24: duplicate key 'value' (first defined on line 1)",
            "g.yaml:3:25: duplicate key 'op' (first defined on line 3)",
        ]

    def test_a_node_with_the_name_of_an_input(self) -> None:
        """Names are unique across inputs and nodes."""
        assert error_of("inputs: {x: 1}\nnodes:\n  x: x + 1\n") == (
            "g.yaml:3:3: 'x' is already an input; names must be unique"
        )


class TestUnknownNames:
    """Misspelled keys, ops and names get a "did you mean" at the exact column."""

    def test_unknown_top_level_key(self) -> None:
        """`input:` suggests `inputs`; the names it would have defined are then unknown."""
        assert errors_of("input: {x: 1}\nnodes:\n  a: x\n") == [
            "g.yaml:1:1: unknown key 'input' (did you mean 'inputs'?); "
            "a graph file has name, description, inputs, nodes, output",
            "g.yaml:3:6: unknown name 'x'",
        ]

    def test_unknown_op_in_the_explicit_form(self) -> None:
        """`op: mull` points at mull and suggests mul."""
        assert error_of("inputs: {x: 1}\nnodes:\n  a: {op: mull, in: [x, x]}\n") == (
            "g.yaml:3:11: unknown op 'mull' (did you mean 'mul'?)"
        )

    def test_unknown_op_called_in_an_expression(self) -> None:
        """`mull(x, x)` points at the call and suggests mul."""
        assert error_of("inputs: {x: 1}\nnodes:\n  a: mull(x, x)\n") == (
            "g.yaml:3:6: unknown op 'mull' (did you mean 'mul'?)"
        )

    def test_unknown_name_in_an_expression_points_at_the_name(self) -> None:
        """In `2 * xyy` the column is that of xyy, also inside a quoted expression."""
        assert error_of("inputs: {xyz: 1}\nnodes:\n  a: 2 * xyy\n") == (
            "g.yaml:3:10: unknown name 'xyy' (did you mean 'xyz'?)"
        )
        assert error_of('inputs: {xyz: 1}\nnodes:\n  a: "2 * xyy"\n') == (
            "g.yaml:3:11: unknown name 'xyy' (did you mean 'xyz'?)"
        )

    def test_columns_count_characters_not_bytes(self) -> None:
        """After the Hangul name 사과, yy and foo are located by character, as editors count."""
        assert error_of("inputs: {사과: 1}\nnodes:\n  z: 사과 * yy\n") == (
            "g.yaml:3:11: unknown name 'yy'"
        )
        assert error_of("inputs: {사과: 1}\nnodes:\n  z: 사과 * foo(사과)\n") == (
            "g.yaml:3:11: unknown op 'foo'; 'bpcalc ops' lists the ops"
        )

    def test_unknown_name_in_the_explicit_form_points_at_the_argument(self) -> None:
        """In `in: [x, xx]` the column is that of xx."""
        assert error_of("inputs: {x: 1}\nnodes:\n  a: {op: mul, in: [x, xx]}\n") == (
            "g.yaml:3:24: unknown name 'xx' (did you mean 'x'?)"
        )

    def test_unknown_key_in_an_explicit_node_points_at_that_key(self) -> None:
        """`inn:` suggests `in`, and a key named like the node is located inside the node."""
        assert error_of("inputs: {x: 1}\nnodes:\n  z: {op: neg, inn: [x]}\n") == (
            "g.yaml:3:16: unknown key 'inn' (did you mean 'in'?); an explicit node has op and in"
        )
        assert error_of("inputs: {x: 1}\nnodes:\n  z: {op: neg, in: [x], z: 1}\n") == (
            "g.yaml:3:25: unknown key 'z'; an explicit node has op and in"
        )

    def test_explicit_nodes_missing_parts(self) -> None:
        """A node without op, without in, or with the wrong number of inputs is explained."""
        text = (
            "inputs: {x: 1}\nnodes:\n  a: {in: [x]}\n  b: {op: neg}\n  c: {op: neg, in: [x, x]}\n"
            "  d: {op: mul, in: [x, 'x + 1']}\n  e: [x]\n"
        )
        assert errors_of(text) == [
            "g.yaml:3:6: this node needs 'op: NAME'",
            "g.yaml:4:6: this node needs 'in: [x]'",
            "g.yaml:5:20: neg takes 1 input (x), got 2",
            "g.yaml:6:24: 'x + 1' is not a valid name: use letters, digits and _, not starting "
            "with a digit; expressions go in the expression form",
            "g.yaml:7:6: a node is an expression or {op: NAME, in: [ARG, ...]}",
        ]


class TestExpressions:
    """Expressions follow Python's precedence and become one node per operator or call."""

    def test_python_precedence(self) -> None:
        """a + b * c ** 2 is a + (b * (c ** 2)), with a node per operator."""
        graph = loads("inputs: {a: 2, b: 3, c: 4}\nnodes:\n  z: a + b * c ** 2\n")
        assert [(n.name, n.op) for n in graph.nodes] == [
            ("c ** 2", "pow"),
            ("b * c ** 2", "mul"),
            ("z", "add"),
        ]
        result = graph.evaluate()
        assert result.values["z"] == 2 + 3 * 16
        assert (result.grads["a"], result.grads["b"], result.grads["c"]) == (1.0, 16.0, 24.0)

    def test_unary_minus_binds_looser_than_power(self) -> None:
        """-x ** 2 is -(x ** 2): -9 at x = 3, slope -6."""
        graph = loads("inputs: {x: 3}\nnodes:\n  z: -x ** 2\n")
        assert [(n.name, n.op) for n in graph.nodes] == [("x ** 2", "pow"), ("z", "neg")]
        result = graph.evaluate()
        assert (result.values["z"], result.grads["x"]) == (-9.0, -6.0)

    def test_unary_minus_and_parentheses(self) -> None:
        """-x * (y + 1) negates x first and adds before multiplying."""
        graph = loads("inputs: {x: 3, y: 4}\nnodes:\n  z: -x * (y + 1)\n")
        assert [(n.name, n.op) for n in graph.nodes] == [
            ("-x", "neg"),
            ("y + 1", "add"),
            ("z", "mul"),
        ]
        result = graph.evaluate()
        assert (result.values["z"], result.grads["x"], result.grads["y"]) == (-15.0, -5.0, -3.0)

    def test_negative_constants_are_numbers_not_nodes(self) -> None:
        """In x ** -1 and 2 - -x, -1 is a constant; -x is a neg node."""
        graph = loads("inputs: {x: 2}\nnodes:\n  a: x ** -1\n  b: 2 - -x\n  z: a + b\n")
        assert [n.op for n in graph.nodes] == ["pow", "neg", "sub", "add"]
        assert graph.evaluate().values["z"] == 0.5 + 4.0

    @pytest.mark.parametrize("op", list(OPS))
    def test_every_op_can_be_called_by_name(self, op: str) -> None:
        """`op(x, y, ...)` with the op's arity becomes one node of that op."""
        args = ", ".join(["x", "y", "w"][: OPS[op].arity])
        args += {"reshape": ", shape=[1]", "index": ", index=[0]"}.get(op, "")  # required
        graph = loads(f"inputs: {{x: 1, y: 2, w: 3}}\nnodes:\n  z: {op}({args})\n")
        assert [(n.name, n.op, n.args) for n in graph.nodes] == [
            ("z", op, tuple(["x", "y", "w"][: OPS[op].arity]))
        ]

    def test_sub_expressions_are_named_by_their_text_in_results(self) -> None:
        """relu(x @ W + b) reports `x @ W` and `x @ W + b` with their values."""
        text = "inputs:\n  x: [1, 2]\n  W: [[1, 0], [0, -1]]\n  b: [0.5, 0.5]\nnodes:\n"
        result = loads(text + "  h: relu(x @ W + b)\n").evaluate()
        assert list(result.values) == ["x", "W", "b", "x @ W", "x @ W + b", "h"]
        np.testing.assert_array_equal(result.values["x @ W + b"], [1.5, -1.5])
        np.testing.assert_array_equal(result.values["h"], [1.5, 0.0])
        np.testing.assert_array_equal(result.grads["b"], [1.0, 0.0])

    def test_a_repeated_sub_expression_is_one_node(self) -> None:
        """x * w + x  *  w has one node `x * w` used twice: dz/dx = 2w."""
        graph = loads("inputs: {x: 3, w: 5}\nnodes:\n  z: x * w + x  *  w\n")
        assert [n.name for n in graph.nodes] == ["x * w", "z"]
        result = graph.evaluate()
        assert (result.values["z"], result.grads["x"], result.grads["x * w"]) == (30.0, 10.0, 2.0)

    def test_the_same_sub_expression_in_two_nodes_is_one_node(self) -> None:
        """`x * w` in both a and b is computed once and gets both gradients."""
        text = "inputs: {x: 3, w: 5}\nnodes:\n  a: x * w + 1\n  b: x * w - 1\n  z: a * b\n"
        graph = loads(text)
        assert [n.name for n in graph.nodes].count("x * w") == 1
        result = graph.evaluate()
        # z = (xw)^2 - 1: dz/dx = 2 x w^2 = 150
        assert (result.values["z"], result.grads["x"]) == (224.0, 150.0)

    def test_non_ascii_names_in_sub_expressions(self) -> None:
        """Sub-expressions over Hangul names are named by their exact text."""
        graph = loads("inputs: {사과: 2, 개수: 3}\nnodes:\n  가격: relu(사과 * 개수) + 1\n")
        assert [n.name for n in graph.nodes] == ["사과 * 개수", "relu(사과 * 개수)", "가격"]
        assert graph.evaluate().grads["사과"] == 3.0

    def test_a_long_expression_is_one_node_per_operator(self) -> None:
        """x + x + ... with 2,400 terms: 2,399 add nodes and dz/dx = 2400."""
        graph = loads(f"inputs: {{x: 1}}\nnodes:\n  z: {' + '.join(['x'] * 2400)}\n")
        assert len(graph.nodes) == 2399
        assert graph.evaluate().grads["x"] == 2400.0

    def test_a_bare_name_or_number_is_a_node(self) -> None:
        """`y: x` copies x (gradient 1 flows through); `c: -3` is the constant -3."""
        text = "inputs: {x: 4}\nnodes:\n  y: x\n  c: -3\n  z: y * c\n"
        graph = loads(text)
        assert [(n.name, n.op) for n in graph.nodes] == [
            ("y", "identity"),
            ("c", "identity"),
            ("z", "mul"),
        ]
        result = graph.evaluate()
        assert (result.values["c"], result.values["z"], result.grads["x"]) == (-3.0, -12.0, -3.0)

    @pytest.mark.parametrize(
        ("expression", "message"),
        [
            ("np.exp(a)", "3:6: 'np.exp' is not an op; ops are called by name, such as relu(x)"),
            ("a[b]", f"3:8: an index is a constant: {FORMS}, not 'b'"),
            ('"lambda: a"', f"3:7: 'lambda: a' is not allowed in an expression; use {ALLOWED}"),
            ("a < b", f"3:6: 'a < b' is not allowed in an expression; use {ALLOWED}"),
            ("a and b", f"3:6: 'a and b' is not allowed in an expression; use {ALLOWED}"),
            ("a.b", f"3:6: 'a.b' is not allowed in an expression; use {ALLOWED}"),
            (
                "a + 'b'",
                f"3:10: strings such as 'b' are not allowed in an expression; use {ALLOWED}",
            ),
            ("True + a", "3:6: True is not a number"),
            ("mul(a, y=b)", "3:6: mul() takes positional arguments only"),
            ("mul(a)", "3:6: mul() takes 2 arguments (x, y), got 1"),
            ("relu(a, b)", "3:6: relu() takes 1 argument (x), got 2"),
            ("a * foo(b)", "3:10: unknown op 'foo'; 'bpcalc ops' lists the ops"),
            ("''", "3:7: empty expression: write an expression or {op: NAME, in: [...]}"),
            ("a +", "3:9: invalid expression: invalid syntax"),
            ("a +* b", "3:9: invalid expression: invalid syntax"),
            ("(a", "3:6: invalid expression: '(' was never closed"),
            ("a = 1", "3:8: invalid expression: invalid syntax"),
        ],
    )
    def test_refused_syntax_is_explained_at_its_column(self, expression: str, message: str) -> None:
        """Only numbers, names, operators, parentheses and op calls are accepted."""
        assert node_error(expression) == f"g.yaml:{message}"

    def test_nothing_in_an_expression_is_executed(self, tmp_path: Path) -> None:
        """A call of __import__ is an unknown op, and nothing runs."""
        marker = tmp_path / "ran"
        expression = f"__import__('os').system('touch {marker}')"
        assert "is not an op" in node_error(json.dumps(expression))
        assert not marker.exists()


class TestUnsafeYaml:
    """Tags that construct objects and anchors or aliases are refused; nothing is executed."""

    def test_a_python_tag_is_refused_and_not_executed(self, tmp_path: Path) -> None:
        """!!python/object/apply:os.system is an error at the tag, and the command never runs."""
        marker = tmp_path / "ran"
        text = f'inputs:\n  x: !!python/object/apply:os.system ["touch {marker}"]\nnodes:\n  z: x\n'
        assert error_of(text) == (
            "g.yaml:2:6: YAML tag '!!python/object/apply:os.system' is not allowed in graph files"
        )
        assert not marker.exists()

    def test_a_tag_on_the_whole_document_is_refused(self) -> None:
        """Even a tagged top level is refused before anything is built."""
        assert error_of('!!python/object/apply:os.system ["echo hi"]\n') == (
            "g.yaml:1:1: YAML tag '!!python/object/apply:os.system' is not allowed in graph files"
        )

    def test_tags_and_aliases_on_keys_are_refused_too(self) -> None:
        """A tagged key and an aliased key get the same errors as values do."""
        assert error_of("inputs: {!!python/name:os.system x: 1}\nnodes:\n  z: x\n") == (
            "g.yaml:1:10: YAML tag '!!python/name:os.system' is not allowed in graph files"
        )
        assert error_of("inputs: {&k x: 1}\nnodes:\n  *k : x\n") == (
            "g.yaml:1:10: anchors and aliases are not supported in graph files "
            "(this anchor is used again)"
        )

    def test_an_alias_is_refused_at_its_anchor(self) -> None:
        """`y: *a` reuses `&a`: one error, located at the anchor."""
        assert error_of("inputs: {x: &a 1, y: *a}\nnodes:\n  z: x + y\n") == (
            "g.yaml:1:13: anchors and aliases are not supported in graph files "
            "(this anchor is used again)"
        )

    def test_a_merge_key_with_an_alias_is_refused(self) -> None:
        """`<<: *base` does not merge anything: it is an alias, refused."""
        assert error_of("base: &b {x: 1}\ninputs:\n  <<: *b\nnodes:\n  z: x\n") == (
            "g.yaml:1:7: anchors and aliases are not supported in graph files "
            "(this anchor is used again)"
        )

    def test_nested_aliases_cannot_blow_up(self) -> None:
        """A "billion laughs" file is refused at once, one error per reused anchor."""
        lines = ["inputs:", "  l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
        for i in range(1, 9):  # 10**9 elements if the aliases were expanded
            lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
        started = time.perf_counter()
        found = errors_of("\n".join([*lines, "nodes:", "  z: l0"]) + "\n")
        assert time.perf_counter() - started < 5
        assert found == [
            f"g.yaml:{i + 2}:7: anchors and aliases are not supported in "
            "graph files (this anchor is used again)"
            for i in range(8)
        ]


class TestDocumentShape:
    """What the file as a whole must be."""

    def test_several_documents_are_refused(self) -> None:
        """A second `---` document is an error at its start."""
        text = "inputs: {x: 1}\nnodes:\n  z: x\n---\ninputs: {x: 2}\nnodes:\n  z: x\n"
        assert error_of(text) == (
            "g.yaml:4:1: expected a single document in the stream but found another document"
        )

    def test_one_document_with_a_start_marker_is_fine(self) -> None:
        """A leading `---` is allowed."""
        assert loads("---\ninputs: {x: 1}\nnodes:\n  z: x * 2\n").evaluate().values["z"] == 2.0

    @pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
    def test_an_empty_file(self, text: str) -> None:
        """An empty file says so, without a position."""
        assert error_of(text) == "g.yaml: the graph file is empty"

    @pytest.mark.parametrize("text", ["- a\n- b\n", "42\n", "hello\n"])
    def test_a_top_level_that_is_not_a_mapping(self, text: str) -> None:
        """A list or a scalar at the top is not a graph."""
        assert error_of(text) == (
            "g.yaml:1:1: a graph file is a mapping with 'inputs' and 'nodes' "
            "(see docs/graph-format.md)"
        )

    def test_a_graph_without_nodes(self) -> None:
        """`nodes:` missing or empty is explained."""
        message = (
            "g.yaml:1:1: a graph needs 'nodes': a mapping of name: expression "
            "(see docs/graph-format.md)"
        )
        assert error_of("inputs: {x: 1}\n") == message
        assert error_of("inputs: {x: 1}\nnodes:\n") == (
            "g.yaml:2:1: 'nodes:' has no nodes under it: indent each node under it, as '  y: x * 2'"
        )

    def test_a_graph_without_inputs_is_fine(self) -> None:
        """Inputs are optional: a graph of constants evaluates."""
        result = loads("inputs:\nnodes:\n  z: 3 * 2\n").evaluate()
        assert (result.values["z"], list(result.values)) == (6.0, ["z"])


class TestInputForms:
    """Numbers, lists, and {value|file|zeros|ones|random: ...} mappings."""

    def load_input(self, written: str, **options: object) -> Graph:
        return loads(f"inputs:\n  x: {written}\nnodes:\n  z: sum(x)\n", **options)  # type: ignore[arg-type]

    def test_a_value_mapping(self) -> None:
        """{value: [1, 2]} is the list [1, 2]."""
        np.testing.assert_array_equal(self.load_input("{value: [1, 2]}").inputs["x"].value, [1, 2])

    @pytest.mark.parametrize(
        ("written", "message"),
        [
            ("[[1, 2], [3]]", "2:15: ragged list: expected 2 items here, got 1"),
            ("[[1, 2], 3]", "2:15: ragged list: expected 2 items here, got a number"),
            ("[[1,2],[3,4,5]]", "2:13: ragged list: expected 2 items here, got 3"),
            ("[1, [2]]", "2:10: ragged list: expected a number here, got a list or mapping"),
            ("[1, 2, x]", "2:13: expected a number, got 'x'"),
            ("[]", "2:6: an empty list is not a value"),
            ("{value: {value: 1}}", "2:14: expected a number or a list of numbers, got a mapping"),
        ],
    )
    def test_bad_lists_name_the_position(self, written: str, message: str) -> None:
        """The error points at the row or item that breaks the rectangle."""
        assert error_of(f"inputs:\n  x: {written}\nnodes:\n  z: sum(x)\n") == f"g.yaml:{message}"

    def test_files_are_read_relative_to_the_graph_file(
        self, write_graph: WriteGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """.npy, .csv and .txt files next to the graph load, whatever the working folder."""
        matrix = np.arange(6.0).reshape(2, 3) / 7
        (tmp_path / "data").mkdir()
        np.save(tmp_path / "data" / "m.npy", matrix)
        np.savetxt(tmp_path / "data" / "m.csv", matrix, delimiter=",", fmt="%.17g")
        np.savetxt(tmp_path / "data" / "m.txt", matrix, fmt="%.17g")
        path = write_graph(
            "inputs:\n  a: {file: data/m.npy}\n  b: {file: data/m.csv}\n  c: {file: data/m.txt}\n"
            "nodes:\n  z: sum(a + b + c)\n"
        )
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        graph = load(path)
        for name in "abc":
            value = graph.inputs[name].value
            assert value.dtype == np.float64
            np.testing.assert_array_equal(value, matrix)

    def test_a_file_outside_the_graph_folder_needs_permission(
        self, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """../x.npy is refused unless allow_outside_files=True."""
        np.save(tmp_path / "outside.npy", np.array([1.0, 2.0]))
        (tmp_path / "graphs").mkdir()
        path = tmp_path / "graphs" / "g.yaml"
        path.write_text("inputs:\n  x: {file: ../outside.npy}\nnodes:\n  z: sum(x)\n")
        with pytest.raises(GraphError) as err:
            load(path)
        assert [f"{d.location()}: {d.message}" for d in err.value.diagnostics] == [
            f"{path}:2:13: file '../outside.npy' is outside the graph's folder; "
            "pass --allow-outside-files to read it"
        ]
        value = load(path, allow_outside_files=True).inputs["x"].value
        np.testing.assert_array_equal(value, [1.0, 2.0])

    def test_an_absolute_path_outside_the_folder_is_refused_too(
        self, write_graph: WriteGraph, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """An absolute path elsewhere is outside the graph's folder."""
        other = tmp_path_factory.mktemp("other") / "x.npy"
        np.save(other, np.ones(2))
        path = write_graph(f"inputs:\n  x: {{file: {other}}}\nnodes:\n  z: sum(x)\n")
        with pytest.raises(GraphError, match="is outside the graph's folder"):
            load(path)

    def test_a_missing_file_and_an_unknown_file_type(self, write_graph: WriteGraph) -> None:
        """A missing file says where it looked; other suffixes are refused."""
        path = write_graph(
            "inputs:\n  x: {file: nope.npy}\n  y: {file: x.dat}\nnodes:\n  z: sum(x * y)\n"
        )
        with pytest.raises(GraphError) as err:
            load(path)
        assert [f"{d.location()}: {d.message}" for d in err.value.diagnostics] == [
            f"{path}:2:13: file 'nope.npy' does not exist "
            f"(looked for {path.parent.resolve() / 'nope.npy'})",
            f"{path}:3:13: file 'x.dat': expected a .npy, .csv or .txt file",
        ]

    def test_zeros_and_ones(self) -> None:
        """{zeros: 3} and {ones: [2, 3]} have those shapes and values."""
        np.testing.assert_array_equal(self.load_input("{zeros: 3}").inputs["x"].value, [0, 0, 0])
        np.testing.assert_array_equal(
            self.load_input("{ones: [2, 3]}").inputs["x"].value, np.ones((2, 3))
        )

    def test_random_is_reproducible_and_scaled(self) -> None:
        """Same seed, same numbers; the default seed is fixed; scale multiplies."""

        def random(written: str) -> np.ndarray:
            value = self.load_input(written).inputs["x"].value
            assert value.shape == (2, 3)
            return value  # type: ignore[no-any-return]

        np.testing.assert_array_equal(random("{random: [2, 3]}"), random("{random: [2, 3]}"))
        seeded = random("{random: [2, 3], seed: 7}")
        np.testing.assert_array_equal(seeded, random("{random: [2, 3], seed: 7}"))
        assert not np.array_equal(seeded, random("{random: [2, 3], seed: 8}"))
        np.testing.assert_array_equal(random("{random: [2, 3], seed: 7, scale: 0.5}"), seeded / 2)
        assert len(set(seeded.ravel())) == 6

    def test_grad_false_input_has_no_gradient(self) -> None:
        """{value: 3, grad: false} keeps its value and reports no gradient."""
        result = loads("inputs:\n  t: {value: 3, grad: false}\n  x: 2\nnodes:\n  z: t * x\n")
        evaluation = result.evaluate()
        assert (evaluation.values["t"], evaluation.grads["t"]) == (3.0, None)
        assert evaluation.grads["x"] == 3.0

    @pytest.mark.parametrize(
        ("written", "message"),
        [
            ("{zeros: 0}", "2:14: a shape is a positive whole number or a list of them, got '0'"),
            ("{zeros: -1}", "2:14: a shape is a positive whole number or a list of them, got '-1'"),
            (
                "{ones: 1.5}",
                "2:13: a shape is a positive whole number or a list of them, got '1.5'",
            ),
            (
                "{zeros: abc}",
                "2:14: a shape is a positive whole number or a list of them, got 'abc'",
            ),
            (
                "{zeros: [2, 0]}",
                "2:18: a shape is a positive whole number or a list of them, got '0'",
            ),
            (
                "{zeros: [2, [3]]}",
                "2:18: a shape is a positive whole number or a list of them, got a list",
            ),
            ("{zeros: []}", "2:14: a shape needs at least one dimension"),
            (
                "{random: 3, seed: -1}",
                "2:24: seed must be a whole number >= 0, got '-1'",
            ),
            ("{value: 1, grad: maybe}", "2:23: expected true or false, got 'maybe'"),
        ],
    )
    def test_bad_shapes_and_options(self, written: str, message: str) -> None:
        """Shapes are positive whole numbers; seeds whole numbers; grad a boolean."""
        assert error_of(f"inputs:\n  x: {written}\nnodes:\n  z: sum(x)\n") == f"g.yaml:{message}"

    def test_a_shape_may_use_underscores_like_other_numbers(self) -> None:
        """{zeros: 1_000} has 1,000 elements."""
        assert self.load_input("{zeros: 1_000}").inputs["x"].value.shape == (1000,)

    def test_the_element_limit_is_checked_before_allocating(self) -> None:
        """A 1e9 x 1e9 zeros shape fails at once instead of allocating 8 exabytes."""
        started = time.perf_counter()
        message = error_of("inputs:\n  x: {zeros: [1000000000, 1000000000]}\nnodes:\n  z: x\n")
        assert time.perf_counter() - started < 5
        assert message == (
            "g.yaml:2:14: tensor of 1,000,000,000,000,000,000 elements exceeds the limit of "
            "20,000,000 (--max-elements)"
        )

    def test_the_element_limit_applies_to_every_way_of_making_an_array(self) -> None:
        """With max_elements=10, a 4x4 `ones` and a 4x3 list are both too big."""
        limits = Limits(max_elements=10)
        text = "inputs:\n  x: {ones: [4, 4]}\n  y: [[1,2,3],[4,5,6],[7,8,9],[1,2,3]]\nnodes:\n"
        assert errors_of(text + "  z: sum(x) + sum(y)\n", limits=limits) == [
            "g.yaml:2:13: tensor of 16 elements exceeds the limit of 10 (--max-elements)",
            "g.yaml:3:6: tensor of 12 elements exceeds the limit of 10 (--max-elements)",
        ]

    @pytest.mark.parametrize(
        ("written", "message"),
        [
            (
                "{zeros: 2, bogus: 1}",
                "2:17: unknown key 'bogus'; an input mapping takes one of "
                "value, file, zeros, ones, random",
            ),
            (
                "{valeu: 1}",
                "2:7: unknown key 'valeu' (did you mean 'value'?); an input mapping takes one "
                "of value, file, zeros, ones, random",
            ),
            (
                "{zeros: 2, ones: 2}",
                "2:6: an input mapping needs exactly one of value, file, zeros, ones, random "
                "(got zeros, ones)",
            ),
            (
                "{grad: false}",
                "2:6: an input mapping needs exactly one of value, file, zeros, ones, random",
            ),
            ("{zeros: 2, seed: 1}", "2:17: 'seed' only goes with 'random'"),
            ("{ones: 2, scale: 3}", "2:16: 'scale' only goes with 'random'"),
        ],
    )
    def test_bad_input_mappings(self, written: str, message: str) -> None:
        """Unknown keys, no source or two sources, and options without random are errors."""
        text = f"inputs:\n  x: {written}\nnodes:\n  z: sum(x)\n"
        assert error_of(text) == f"g.yaml:{message}"


APPLE_ORANGE_JSON = {
    "name": "apple_orange",
    "inputs": {"apple": 100, "apple_num": 2, "orange": 150, "orange_num": 3, "tax": 1.1},
    "nodes": {
        "price": {"op": "mul", "in": ["all_price", "tax"]},
        "apple_price": {"op": "mul", "in": ["apple", "apple_num"]},
        "orange_price": "orange * orange_num",
        "all_price": "apple_price + orange_price",
    },
    "output": "price",
}


class TestJson:
    """JSON files use the same schema and give the same results."""

    def test_a_json_graph_gives_the_books_numbers(self, write_graph: WriteGraph) -> None:
        """apple_orange as JSON: price 715, dApple 2.2, dOrange 3.3000000000000003, dTax 650."""
        path = write_graph(json.dumps(APPLE_ORANGE_JSON, indent=2), "apple_orange.json")
        result = load(path).evaluate()
        assert result.values["price"] == 715.0000000000001
        assert result.grads["apple"] == 2.2
        assert result.grads["orange"] == 3.3000000000000003
        assert result.grads["tax"] == 650.0
        assert list(result.values) == [
            "apple",
            "apple_num",
            "orange",
            "orange_num",
            "tax",
            "apple_price",
            "orange_price",
            "all_price",
            "price",
        ]

    def test_json_and_yaml_versions_agree(self, write_graph: WriteGraph) -> None:
        """The same graph in JSON and in YAML gives identical values and gradients."""
        text = (
            '{"inputs": {"x": [1.5, -2], "t": {"value": 3, "grad": false}},'
            ' "nodes": {"y": "sum(tanh(x) * t)"}}'
        )
        from_json = loads(text, name="g.json").evaluate()
        yaml_text = "inputs:\n  x: [1.5, -2]\n  t: {value: 3, grad: false}\nnodes:\n"
        from_yaml = loads(yaml_text + "  y: sum(tanh(x) * t)\n").evaluate()
        assert from_json.values["y"] == from_yaml.values["y"]
        np.testing.assert_array_equal(from_json.grads["x"], from_yaml.grads["x"])
        assert from_json.grads["t"] is None

    def test_a_duplicate_key_in_json_is_located_at_the_second_one(self) -> None:
        """JSON's last-wins is refused too, pointing at the repeated key."""
        text = '{"inputs": {"x": 1, "x": 2},\n "nodes": {"z": {"op": "neg", "in": ["x"]}}}'
        assert error_of(text, name="g.json") == "g.json:1:21: duplicate key 'x'"
        text = '{"inputs": {"op": 1},\n "nodes": {"z": {"op": "neg", "in": ["op"], "op": "exp"}}}'
        assert error_of(text, name="g.json") == "g.json:2:45: duplicate key 'op'"

    def test_json_errors_under_non_ascii_names_are_located(self) -> None:
        """A bad op in a node named 가격 points at that node's op, not at `nodes`."""
        text = (
            '{"inputs": {"사과": 100, "x": 1},\n'
            ' "nodes": {"x2": "x * 2", "가격": {"op": "mull", "in": ["사과", "x"]}}}'
        )
        assert error_of(text, name="g.json") == (
            "g.json:2:34: unknown op 'mull' (did you mean 'mul'?)"
        )

    def test_json_errors_are_located(self) -> None:
        """Syntax errors, a JSON true where a number belongs, and an empty file."""
        assert error_of('{"inputs": {"x": 1},\n "nodes": {"z": "x"}', name="g.json") == (
            "g.json:2:21: Expecting ',' delimiter"
        )
        assert error_of('{"inputs": {"x": true}, "nodes": {"z": "x"}}', name="g.json") == (
            "g.json:1:13: expected a number, got true"
        )
        assert error_of("  \n", name="g.json") == "g.json: the graph file is empty"


class TestEveryErrorAtOnce:
    """All the problems of a file are reported together, sorted by line."""

    def test_several_bad_nodes_give_several_diagnostics(self) -> None:
        """Bad op, unknown function, syntax error, unknown name and unknown key: five errors."""
        text = (
            "names: 3\ninputs: {x: 1}\nnodes:\n  a: {op: mull, in: [x]}\n  b: foo(x)\n"
            "  c: x +\n  d: yy * 2\n  e: x * 2\n"
        )
        assert errors_of(text) == [
            "g.yaml:1:1: unknown key 'names' (did you mean 'name'?); "
            "a graph file has name, description, inputs, nodes, output",
            "g.yaml:4:11: unknown op 'mull' (did you mean 'mul'?)",
            "g.yaml:5:6: unknown op 'foo'; 'bpcalc ops' lists the ops",
            "g.yaml:6:9: invalid expression: invalid syntax",
            "g.yaml:7:6: unknown name 'yy'",
        ]

    def test_input_and_node_errors_are_reported_together(self) -> None:
        """A bad input value and a bad node in the same file are both reported."""
        text = "inputs:\n  x: [1, [2]]\n  y: {zeros: 0}\nnodes:\n  z: x ** \n"
        assert errors_of(text) == [
            "g.yaml:2:10: ragged list: expected a number here, got a list or mapping",
            "g.yaml:3:14: a shape is a positive whole number or a list of them, got '0'",
            "g.yaml:5:10: invalid expression: invalid syntax",
        ]

    def test_a_broken_node_is_not_also_reported_as_unknown_where_used(self) -> None:
        """A node whose definition fails is reported once, not again at each use."""
        text = "inputs: {x: 1}\nnodes:\n  w: broken +\n  v: w * 2\n"
        assert errors_of(text) == ["g.yaml:3:14: invalid expression: invalid syntax"]

    def test_errors_render_with_the_source_line_and_a_caret(self) -> None:
        """The rendered error shows the line and a caret under the column."""
        with pytest.raises(BpcalcError) as err:
            loads("inputs: {xyz: 1}\nnodes:\n  a: 2 * xyy\n", name="g.yaml")
        assert err.value.render() == (
            "g.yaml:3:10: unknown name 'xyy' (did you mean 'xyz'?)\n"
            "    3 |   a: 2 * xyy\n"
            "      |          ^"
        )


class TestOutput:
    """The output: given, inferred from the only sink, or an error saying what to write."""

    def test_an_explicit_output(self) -> None:
        """`output: a` picks a even though b feeds nothing either."""
        text = "inputs: {x: 2}\nnodes:\n  a: x * 3\n  b: x * 5\noutput: a\n"
        result = loads(text).evaluate()
        assert (result.output, result.grads["x"], result.grads["b"]) == ("a", 3.0, 0.0)

    def test_the_only_node_that_feeds_nothing_is_the_output(self) -> None:
        """Without `output:`, the single sink is the output, wherever it is written."""
        text = "inputs: {x: 2}\nnodes:\n  y: a * 2\n  a: x + 1\n"
        assert loads(text).output == "y"

    def test_several_sinks_without_an_output_is_an_error(self) -> None:
        """Two nodes that feed nothing: the error names both and says what to write."""
        text = "inputs: {x: 2}\nnodes:\n  a: x * 3\n  b: x * 5\n"
        assert error_of(text) == (
            "g.yaml:2:1: several nodes feed nothing else (a, b): "
            "say which one is the result with 'output: NAME'"
        )

    def test_an_unknown_output(self) -> None:
        """`output: zz` suggests z."""
        text = "inputs: {x: 1}\nnodes:\n  z: x\n  w: x\noutput: zz\n"
        assert (
            error_of(text) == "g.yaml:5:9: output: no input or node named 'zz' (did you mean 'z'?)"
        )

    def test_an_output_that_is_not_a_name(self) -> None:
        """`output: [a]` is not a name."""
        text = "inputs: {x: 1}\nnodes:\n  a: x * 2\noutput: [a]\n"
        assert error_of(text) == "g.yaml:4:9: output: expects the name of a node"
