"""The mistakes of a new user's first hour get messages in their terms, with the fix (issue 11)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bpcalc.errors import did_you_mean
from bpcalc.loading.hints import unknown_op
from bpcalc.ops.table import OPS
from tests.conftest import Invoke
from tests.test_loading import error_of, errors_of

WriteGraph = Callable[..., Path]


class TestYamlLayout:
    def test_a_tab_is_named_as_a_tab(self) -> None:
        assert error_of("inputs:\n\tx: 1\nnodes:\n  y: x\n") == (
            "g.yaml:2:1: a tab character: YAML indents with spaces only; replace the tab with "
            "spaces"
        )

    def test_a_tab_after_spaces_is_named_as_a_tab(self) -> None:
        assert error_of("inputs:\n  x: 1\nnodes:\n  y: x\n  \tz: 1\n") == (
            "g.yaml:5:3: a tab character: YAML indents with spaces only; replace the tab with "
            "spaces"
        )

    def test_a_one_space_indent(self) -> None:
        assert error_of("inputs:\n  x: 1\nnodes:\n  y: x * 2\n z: y * 2\n") == (
            "g.yaml:5:2: this line is indented 1 space, which lines up with no key above it "
            "(they are indented 0 or 2): keys of one mapping start in the same column"
        )

    def test_too_much_indent(self) -> None:
        assert error_of("inputs:\n  x: 1\nnodes:\n  y: x * 2\n    z: y * 2\n") == (
            "g.yaml:5:6: this line is indented more (4 spaces) than the line above, which "
            "already has a value ('y: x * 2'): keys of one mapping start in the same column"
        )

    def test_a_colon_inside_a_value(self) -> None:
        assert error_of("description: Note: a\ninputs: {x: 1}\nnodes:\n  y: x\n") == (
            "g.yaml:1:18: a second ': ' on one line: a value that holds ': ' must be quoted "
            "(description: 'Note: ...')"
        )

    def test_nodes_at_column_zero_under_nodes(self) -> None:
        assert errors_of("inputs:\n  x: 1\nnodes:\ny: x * 2\n") == [
            "g.yaml:3:1: 'nodes:' has no nodes under it: indent each node under it, as "
            "'  y: x * 2'",
            "g.yaml:4:1: unknown key 'y' (a node? indent it under 'nodes:', as "
            "'  NAME: EXPRESSION'); a graph file has name, description, inputs, nodes, output",
        ]


class TestUnknownOps:
    @pytest.mark.parametrize(
        ("op", "message"),
        [
            ("absolute", "unknown op 'absolute' (did you mean 'abs'?); 'bpcalc ops' lists the ops"),
            ("amax", "unknown op 'amax' (did you mean 'max'?); 'bpcalc ops' lists the ops"),
            ("view", "unknown op 'view' (did you mean 'reshape'?); 'bpcalc ops' lists the ops"),
            ("linear", "unknown op 'linear' (did you mean 'affine'?); 'bpcalc ops' lists the ops"),
            ("qwerty", "unknown op 'qwerty'; 'bpcalc ops' lists the ops"),
            ("reciprocal", "unknown op 'reciprocal': write 1 / x; 'bpcalc ops' lists the ops"),
            ("log2", "unknown op 'log2': write log(x) / log(2); 'bpcalc ops' lists the ops"),
            ("dot", "unknown op 'dot' (did you mean 'matmul'?); 'bpcalc ops' lists the ops"),
            ("Relu", "unknown op 'Relu' (did you mean 'relu'?)"),
            ("sigmod", "unknown op 'sigmod' (did you mean 'sigmoid'?)"),
        ],
    )
    def test_unknown_op_messages(self, op: str, message: str) -> None:
        assert op not in OPS
        assert unknown_op(op) == message

    def test_in_a_graph(self) -> None:
        text = "inputs: {x: 2}\nnodes:\n  y: linear(x)\n  z: {op: dot, in: [x, x]}\n"
        found = errors_of(text)
        assert found[0] == f"g.yaml:3:6: {unknown_op('linear')}"
        assert found[-1] == f"g.yaml:4:11: {unknown_op('dot')}"

    def test_synonyms_name_an_op_once_it_exists(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The hint machinery names the op as soon as the table has it."""
        monkeypatch.setitem(OPS, "max", OPS["relu"])
        assert unknown_op("maximum") == (
            "unknown op 'maximum' (did you mean 'max'?); 'bpcalc ops' lists the ops"
        )
        monkeypatch.setitem(OPS, "softmax", OPS["relu"])
        assert unknown_op("Softmax") == (
            "unknown op 'Softmax' (did you mean 'softmax'?); 'bpcalc ops' lists the ops"
        )

    def test_maximum_does_not_suggest_matmul(self) -> None:
        assert "matmul" not in unknown_op("maximum")
        assert did_you_mean("maximum", ["matmul", "mul"]) == ""

    def test_a_caret_is_not_a_power(self) -> None:
        assert error_of("inputs: {x: 2}\nnodes:\n  y: x ^ 2\n") == (
            "g.yaml:3:6: 'x ^ 2': use ** for powers (^ is not an operator here), as x ** 2"
        )

    def test_an_op_without_arguments(self) -> None:
        assert error_of("inputs: {x: 2}\nnodes:\n  c: relu\n") == (
            "g.yaml:3:6: 'relu' is an op, not a name: call it on its arguments, as relu(x)"
        )


class TestExplicitNodeKeys:
    def test_a_flow_mapping_comma_is_explained(self) -> None:
        assert error_of("inputs: {x: 2}\nnodes:\n  d: {op: mul, in: x, 2}\n") == (
            "g.yaml:3:23: unknown key '2': in {...} a comma separates keys, so 'in: x, 2' is "
            "read as 'in: x' and a key '2'; write the inputs as a list: in: [x, 2]"
        )

    def test_inputs_means_in(self) -> None:
        assert error_of("inputs: {x: 2}\nnodes:\n  e: {op: mul, inputs: [x, 2]}\n") == (
            "g.yaml:3:16: unknown key 'inputs' (did you mean 'in'?); an explicit node has op and in"
        )


class TestMessagesInTheRightTerms:
    def test_a_semicolon_csv(self, invoke: Invoke, tmp_path: Path) -> None:
        rows = tmp_path / "rows.csv"
        rows.write_text("apple;tax\n100;1.1\n")
        result = invoke("run", "apple_orange", "--batch", str(rows))
        assert result.exit_code == 2
        assert result.stderr == (
            f"{rows}:1: column 'apple;tax': the header is separated by ';', but a CSV file's "
            "columns are separated by ',' (a TSV file's by tabs): write apple,tax (and the "
            "rows likewise), or save the file as CSV with commas\n"
        )

    def test_a_batch_column_naming_a_node(self, invoke: Invoke, tmp_path: Path) -> None:
        rows = tmp_path / "rows.csv"
        rows.write_text("price\n1\n")
        result = invoke("run", "apple_orange", "--batch", str(rows))
        assert result.stderr == f"{rows}:1: column 'price': 'price' is a node, not an input\n"

    def test_sweep_of_a_node(self, invoke: Invoke) -> None:
        result = invoke("sweep", "apple_orange", "price=1:2:3")
        assert result.stderr == "Error: sweep: 'price' is a node, not an input\n"

    def test_sweep_warnings_name_no_file(self, invoke: Invoke) -> None:
        result = invoke("sweep", "apple_orange", "tax=1e308:1.7e308:3")
        assert result.stderr == (
            "warning: 3 sweep points have a value or gradient that is not finite "
            "(the first is point 1: price = inf)\n"
        )
        strict = invoke("sweep", "apple_orange", "tax=1e308:1.7e308:3", "--strict")
        assert strict.stderr == "sweep point 1: price = inf is not finite (--strict)\n"

    def test_a_set_value_warning_points_at_set(self, invoke: Invoke) -> None:
        result = invoke("run", "apple_orange", "--set", "tax=inf")
        assert result.stderr.splitlines()[0] == (
            "apple_orange.yaml: warning: the value of 'tax' is not finite "
            "(NaN or infinity first appears in --set tax)"
        )

    def test_a_matmul_shape_mismatch(self) -> None:
        from bpcalc import loads
        from bpcalc.errors import EvaluationError

        graph = loads("inputs:\n  x: [[1, 2], [3, 4]]\n  W: [[1, 2, 3]]\nnodes:\n  y: x @ W\n")
        with pytest.raises(EvaluationError) as caught:
            graph.evaluate()
        assert caught.value.diagnostics[0].message == (
            "matmul failed in node 'y': shapes (2, 2) and (1, 3) do not fit: a matrix product "
            "needs the first's last axis (2) to equal the second's first axis (1)"
        )

    def test_a_bare_name_with_a_file_here(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "profit.yaml").write_text("inputs: {x: 1}\nnodes:\n  y: x * 2\n")
        monkeypatch.chdir(tmp_path)
        result = invoke("grad", "profit", "--wrt", "x")
        assert result.stderr == (
            "Error: no graph file or example named 'profit' (did you mean the file "
            "'profit.yaml'?); 'bpcalc examples' lists the examples\n"
        )

    def test_a_korean_typo_gets_a_hint(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        path = write_graph("inputs:\n  사과: 100\n  tax: 1.1\nnodes:\n  y: 사과 * tax\n")
        result = invoke("grad", str(path), "--wrt", "사가")
        assert result.stderr == (
            f"Error: --wrt: no input or node named '사가' in {path} (did you mean '사과'?)\n"
        )

    def test_a_data_file_with_a_header_row(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        path = write_graph("inputs:\n  x: {file: data.csv}\nnodes:\n  y: sum(x)\n")
        (path.parent / "data.csv").write_text("a,b\n1,2\n")
        result = invoke("run", str(path))
        assert result.stderr.splitlines()[0] == (
            f"{path}:2:13: cannot read file 'data.csv': line 1 is not numbers: a header row? "
            "a data file holds numbers only; delete the line"
        )
