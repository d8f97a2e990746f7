"""Issue 9, items 2, 4, 10 and 14 (number literals): --exact refusals and formats, gradient
checks that cannot pass on NaN, softmax_with_loss's index vector, huge exponents, and numbers
in ASCII digits only."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bpcalc.loading.literals import NotANumber, is_number_text, parse_number
from bpcalc.ops.exact import MAX_BITS, NotExact, to_fraction
from bpcalc.ops.layers import SoftmaxWithLoss
from bpcalc.output.numbers import exact_text, json_value
from tests.conftest import Invoke
from tests.test_hostile import CORPUS, assert_refused, spawn

WriteGraph = Callable[..., Path]


def refused(result: Any, code: int, first: str) -> None:
    """Exit ``code``, nothing on stdout, ``first`` as the first line of stderr, no traceback."""
    assert (result.exit_code, result.stdout) == (code, ""), result.stderr
    assert result.stderr.splitlines()[0] == first
    assert "Traceback" not in result.stderr


# --- item 2: an input or node as exponent under --exact ------------------------------------


class TestExactExponentNames:
    def test_an_input_exponent_is_refused_at_the_exponent(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """x ** n gave d/dn = 0 (the truth is 9 ln 3); now refused, located at n."""
        path = write_graph("inputs:\n  x: 3\n  n: 2\nnodes:\n  y: x ** n\n")
        for command in (["run"], ["grad", "--wrt", "n"], ["trace"]):
            result = invoke(*command[:1], str(path), *command[1:], "--exact")
            refused(
                result,
                1,
                f"{path}:5:11: --exact: node 'y' has input 'n' as exponent, and d/dn = "
                f"x ** n * ln(x) is not rational; write the exponent as a number, or give "
                f"input 'n' 'grad: false'",
            )

    def test_a_node_exponent_is_refused(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """Also in the explicit form, located at the exponent in the `in:` list."""
        path = write_graph(
            "inputs:\n  x: 3\n  n: {value: 2, grad: false}\nnodes:\n  m: n + 1\n"
            "  y: {op: pow, in: [x, m]}\n"
        )
        refused(
            invoke("run", str(path), "--exact"),
            1,
            f"{path}:6:24: --exact: node 'y' has node 'm' as exponent, and d/dm = "
            f"x ** m * ln(x) is not rational; write the exponent as a number",
        )

    def test_an_input_with_grad_false_may_be_the_exponent(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """Its gradient is never computed, so nothing irrational is asked for."""
        path = write_graph("inputs:\n  x: 3\n  n: {value: 2, grad: false}\nnodes:\n  y: x ** n\n")
        result = invoke("run", str(path), "--exact")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == "x\t3\t6\nn\t2\t\ny\t9\t1\n"

    def test_a_number_exponent_still_works(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        path = write_graph("inputs:\n  x: 3\nnodes:\n  y: x ** 2\n")
        result = invoke("run", str(path), "--exact")
        assert (result.exit_code, result.stdout) == (0, "x\t3\t6\ny\t9\t1\n")


# --- item 4a: every exact number written exactly ----------------------------------------------


def numbers_in(document: Any) -> list[Any]:
    """Every number of a JSON document's values and grads (leaves, in order)."""
    found: list[Any] = []
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict) and "fraction" in item:
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None:
            found.append(item)
    return found


TENSOR_GRAPH = (
    "inputs:\n  x: [1, 2]\n  z: 5\n  w: [3, 4]\n"
    "nodes:\n  s: x + x\n  d: s - x\n  i: identity(d)\n  y: -i\n"
)


class TestExactTensorFormats:
    def test_tensor_gradients_are_exact_in_tsv(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """The seed of a tensor output, gradients through add/sub/neg/identity and zero
        gradients were written as floats: [1.0, 1.0]."""
        path = write_graph(TENSOR_GRAPH)
        result = invoke("run", str(path), "--exact")
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout == (
            "x\t[1, 2]\t[-1, -1]\nz\t5\t0\nw\t[3, 4]\t[0, 0]\ns\t[2, 4]\t[-1, -1]\n"
            "d\t[1, 2]\t[-1, -1]\ni\t[1, 2]\t[-1, -1]\ny\t[-1, -2]\t[1, 1]\n"
        )

    def test_tensor_gradients_are_exact_in_csv(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        path = write_graph(TENSOR_GRAPH)
        result = invoke("run", str(path), "--exact", "-o", "csv")
        assert result.exit_code == 0
        assert 'y,"[-1, -2]","[1, 1]"\n' in result.stdout
        assert 'w,"[3, 4]","[0, 0]"\n' in result.stdout
        assert ".0" not in result.stdout

    def test_every_json_number_is_a_fraction(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """The documented form {"fraction": "p/q", "float": x} for every value and gradient."""
        path = write_graph(TENSOR_GRAPH + "  t: sum(w)\n  o: sum(relu(y)) + t * 0\noutput: o\n")
        for extra in ([], ["--of", "x"], ["--of", "s"]):
            result = invoke("run", str(path), "--exact", "-o", "json", *extra)
            assert result.exit_code == 0, result.stderr
            document = json.loads(result.stdout)
            leaves = numbers_in({"values": document["values"], "grads": document["grads"]})
            assert leaves and all(isinstance(leaf, dict) for leaf in leaves), leaves
            one = {"fraction": "1", "float": 1.0}
            assert document["grads"][extra[1] if extra else "o"] == ([one] * 2 if extra else one)

    def test_the_evaluation_holds_fractions_only(self) -> None:
        """At the source: every element of every value and gradient is a Fraction."""
        from bpcalc import loads

        graph = loads(TENSOR_GRAPH + "  t: sum(w)\noutput: y\n", name="g.yaml")
        evaluation = graph.evaluate(exact=True)
        for item in [*evaluation.values.values(), *evaluation.grads.values()]:
            elements = item.ravel().tolist() if isinstance(item, np.ndarray) else [item]
            assert all(type(e) is Fraction for e in elements), item

    def test_a_value_past_4300_digits_is_written_in_full(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """2 ** 20000 has 6,021 digits: Python's int-to-text limit raised a traceback; its
        float is past float64, written "Infinity" in JSON."""
        path = write_graph("inputs:\n  x: 2\nnodes:\n  y: x ** 20000\n")
        result = invoke("run", str(path), "--exact", "--of", "x")
        assert result.exit_code == 0, result.stderr
        y = result.stdout.splitlines()[1].split("\t")
        assert y[0] == "y" and int(Decimal(y[1])) == 2**20000
        result = invoke("run", str(path), "--exact", "-o", "json")
        assert result.exit_code == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["values"]["y"]["float"] == "Infinity"
        assert int(Decimal(document["values"]["y"]["fraction"])) == 2**20000
        assert int(Decimal(document["grads"]["x"]["fraction"])) == 20000 * 2**19999

    def test_exact_text_of_a_long_decimal_is_fast_and_right(self) -> None:
        """1/10**30000 was divided by 2 and by 5 thirty thousand times each."""
        value = Fraction(-3, 10**30000)
        text = exact_text(value)
        assert text == "-0." + "0" * 29999 + "3"
        assert json_value(value) == {"fraction": "-3/1" + "0" * 30000, "float": -0.0}
        assert exact_text(Fraction(1, 3 * 5**40)) == f"1/{3 * 5**40}"
        assert exact_text(Fraction(7, 2**5 * 5**3)) == "0.00175"


# --- item 4b: check never passes on NaN or infinity ---------------------------------------


class TestCheckNonFinite:
    def test_a_nan_numerical_gradient_fails(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """log(x) at x = 0.00005 with h = 1e-4: x - h < 0, numerical NaN; it said 'pass'."""
        path = write_graph("inputs:\n  x: 0.00005\nnodes:\n  y: log(x)\n")
        result = invoke("check", str(path))
        assert result.exit_code == 1
        assert result.stdout == "x\t1\tnan\tnan\t\tnan\t20000.0\t0\tfail\n"
        assert result.stderr.splitlines() == [
            f"{path}:2:3: x: the numerical gradient is not finite (the output is NaN or "
            f"infinite a step h away, perhaps outside its domain), so it cannot be checked and "
            f"fails; a smaller --eps may help",
            "    2 |   x: 0.00005",
            "      |   ^",
            "check failed: x (1 of 1 checked element) out of tolerance",
        ]
        document = json.loads(invoke("check", str(path), "-o", "json").stdout)
        assert document["passed"] is False
        assert document["inputs"][0]["max_rel_error"] == "NaN"
        assert invoke("check", str(path), "--eps", "1e-7").exit_code == 0

    def test_an_infinite_backprop_gradient_fails(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """x ** 0.5 at 0: backprop inf, numerical NaN; never a pass."""
        path = write_graph("inputs:\n  x: [0, 4]\nnodes:\n  y: sum(x ** 0.5)\n")
        result = invoke("check", str(path), "-o", "json")
        assert result.exit_code == 1
        check = json.loads(result.stdout)["inputs"][0]
        assert [f["index"] for f in check["failures"]] == [[0]]
        assert check["failures"][0]["backprop"] == "Infinity"

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("nan", "'nan' is not a finite number"),
            ("inf", "'inf' is not a finite number"),
            ("NaN", "'NaN' is not a finite number"),
            ("-inf", "-inf is not in the range x>0."),
            ("0", "0.0 is not in the range x>0."),
        ],
    )
    def test_a_bad_eps_is_a_usage_error(self, invoke: Invoke, value: str, message: str) -> None:
        result = invoke("check", "apple_orange", "--eps", value)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.splitlines()[-1] == f"Error: Invalid value for '--eps': {message}"

    @pytest.mark.parametrize("option", ["--rtol", "--atol"])
    def test_a_nan_tolerance_is_a_usage_error(self, invoke: Invoke, option: str) -> None:
        result = invoke("check", "apple_orange", option, "nan")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.splitlines()[-1] == (
            f"Error: Invalid value for '{option}': 'nan' is not a number"
        )


# --- item 4c: softmax_with_loss with an index vector for a 1-D x --------------------------


class TestSoftmaxIndexVector:
    def test_index_vector_of_one_equals_the_scalar_index(self) -> None:
        """t: [2] for a 1-D x, as torch takes it: the same loss and dx as t: 2."""
        x = np.array([1.0, 2.0, 3.0])
        scalar, vector = SoftmaxWithLoss(), SoftmaxWithLoss()
        assert vector.forward(x, np.array([2.0])) == scalar.forward(x, 2.0)
        dx_vector, dt_vector = vector.backward(1.0)
        dx_scalar, _ = scalar.backward(1.0)
        np.testing.assert_array_equal(dx_vector, dx_scalar)
        np.testing.assert_array_equal(dt_vector, np.zeros(1))

    def test_through_the_cli(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        vector = write_graph(
            "inputs:\n  x: [1, 2, 3]\n  t: [2]\nnodes:\n  y: softmax_with_loss(x, t)\n"
        )
        scalar = write_graph(
            "inputs:\n  x: [1, 2, 3]\n  t: 2\nnodes:\n  y: softmax_with_loss(x, t)\n", "s.yaml"
        )
        a, b = invoke("run", str(vector)), invoke("run", str(scalar))
        assert (a.exit_code, b.exit_code) == (0, 0), a.stderr
        assert a.stdout.replace("[2.0]\t[0.0]", "2.0\t0.0") == b.stdout

    def test_two_indices_for_one_sample_are_still_refused(self) -> None:
        with pytest.raises(ValueError, match="fit neither one-hot rows"):
            SoftmaxWithLoss().forward(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]))


# --- item 10: huge exponents, bounded before converting ----------------------------------------


class TestHugeExponents:
    def test_an_input_of_1e_minus_999999999_is_refused_fast(self) -> None:
        """Fraction('1e-999999999') builds 10**999999999: a hang; now refused at the input."""
        assert_refused(
            spawn("run", "exact_huge_exponent_input.yaml", "--exact", cwd=CORPUS),
            1,
            "exact_huge_exponent_input.yaml:2:3: --exact: input 'x': number '1e-999999999' "
            "needs more than 100,000 bits as an exact fraction; drop --exact for this graph",
        )

    def test_a_number_in_an_expression_is_refused_at_itself(self) -> None:
        """1e-9999999 took 19 s and then blamed node 'y'; now the number's node, at the number."""
        assert_refused(
            spawn("run", "exact_huge_exponent_expression.yaml", "--exact", cwd=CORPUS),
            1,
            "exact_huge_exponent_expression.yaml:4:10: --exact: node 'x * 1e-9999999': number "
            "'1e-9999999' needs more than 100,000 bits as an exact fraction; drop --exact for "
            "this graph",
        )

    def test_a_number_in_the_explicit_form_is_refused_at_itself(self) -> None:
        assert_refused(
            spawn("run", "exact_huge_exponent_explicit.yaml", "--exact", cwd=CORPUS),
            1,
            "exact_huge_exponent_explicit.yaml:4:25: --exact: node 'y': number '1e-999999999' "
            "needs more than 100,000 bits as an exact fraction; drop --exact for this graph",
        )

    def test_without_exact_the_same_files_run(self) -> None:
        """As float64, 1e-999999999 is 0.0 (as Python and YAML read it)."""
        outcome = spawn("run", "exact_huge_exponent_input.yaml", cwd=CORPUS)
        assert (outcome.code, outcome.stdout, outcome.stderr) == (
            0,
            "x\t0.0\t2.0\ny\t0.0\t1.0\n",
            "",
        )

    @pytest.mark.parametrize("number", ["1e-99999999", "-2.5E-10000000000000000000"])
    def test_a_set_value_is_refused(self, number: str) -> None:
        """The second has an exponent too long to even convert to an int cheaply."""
        assert_refused(
            spawn("run", "exact_huge_exponent_input.yaml", "--exact", "--set", f"x={number}"),
            1,
            # A --set value is no line of the file: the message says where it came from.
            f"exact_huge_exponent_input.yaml: --exact: input 'x': number '{number}' "
            f"needs more than 100,000 bits as an exact fraction; drop --exact for this graph "
            f"(in --set x)",
        )

    def test_many_large_numbers_are_refused_together(self, tmp_path: Path) -> None:
        """20,000 copies of 1e-30000 (200 KB): each fits, together 250 MB of integers."""
        text = "inputs:\n  x: [" + ", ".join(["1e-30000"] * 20_000) + "]\nnodes:\n  y: sum(x)\n"
        (tmp_path / "many.yaml").write_text(text, encoding="utf-8")
        assert_refused(
            spawn("run", "many.yaml", "--exact", cwd=tmp_path),
            1,
            "many.yaml:2:3: --exact: input 'x': the exact numbers of one value grew past "
            "134,217,728 bits together; drop --exact for this graph",
        )

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("1.1", Fraction(11, 10)),
            ("-1_000.5e-1", Fraction(-2001, 20)),
            (".5", Fraction(1, 2)),
            ("5.", Fraction(5)),
            ("1e-30000", Fraction(1, 10**30000)),
            ("1" + "0" * 20_000 + "e-20000", Fraction(1)),  # trailing zeros cancel
            ("-0.0e999999", Fraction(0)),
            ("7" * 5000, Fraction(int("7" * 2500) * 10**2500 + int("7" * 2500))),
        ],
    )
    def test_to_fraction_reads_decimals_exactly(self, text: str, value: Fraction) -> None:
        assert to_fraction(text) == value

    # In-process, so only cases that were slow, not endless, before the bound (the endless
    # ones run in a process above).
    @pytest.mark.parametrize("text", ["1e-30103", "1e-3000000", "9" * 31_000])
    def test_to_fraction_refuses_past_the_bound(self, text: str) -> None:
        with pytest.raises(NotExact, match=f"needs more than {MAX_BITS:,} bits"):
            to_fraction(text)


# --- item 14: numbers in ASCII digits only -----------------------------------------------------


class TestAsciiDigits:
    @pytest.mark.parametrize("text", ["３", "١٢٣.٤", "1٢", "-３.５e２", "१०"])
    def test_other_digits_are_refused_with_a_message(self, text: str) -> None:
        assert is_number_text(text)  # meant as a number: the explicit form reports it so
        with pytest.raises(NotANumber) as caught:
            parse_number(text)
        assert (
            caught.value.message == f"number '{text}' has digits other than 0-9; write it with 0-9"
        )

    @pytest.mark.parametrize("text", ["3", "-1.5e-3", "1_000", ".5", "1e999999999"])
    def test_ascii_numbers_still_read(self, text: str) -> None:
        assert is_number_text(text)
        if text != "1e999999999":
            assert parse_number(text).value == float(text.replace("_", ""))

    def test_in_a_graph_file(self, invoke: Invoke) -> None:
        """Inputs, list items and explicit node inputs: each located at the number."""
        result = invoke("run", str(CORPUS / "numbers_unicode_digits.yaml"))
        assert (result.exit_code, result.stdout) == (1, "")
        path = CORPUS / "numbers_unicode_digits.yaml"
        located = [line for line in result.stderr.splitlines() if re.match(r"\S+:\d+:\d+: ", line)]
        assert located == [
            f"{path}:2:6: number '３' has digits other than 0-9; write it with 0-9",
            f"{path}:3:10: number '١٢٣.٤' has digits other than 0-9; write it with 0-9",
            f"{path}:5:24: number '３' has digits other than 0-9; write it with 0-9",
        ]

    def test_in_set(self, invoke: Invoke) -> None:
        result = invoke("run", "apple_orange", "--set", "apple=١٠٠")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            "Error: --set apple=١٠٠: number '١٠٠' has digits other than 0-9; write it with 0-9\n"
        )

    def test_in_an_expression(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """Python's parser already refuses them in expressions."""
        path = write_graph("inputs:\n  x: 1\nnodes:\n  y: x * ３\n")
        refused(
            invoke("run", str(path)),
            1,
            f"{path}:4:10: invalid expression: invalid character '３' (U+FF13)",
        )
