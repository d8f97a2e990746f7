"""--exact: rational arithmetic from the decimals as written."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import load, loads
from bpcalc.output.numbers import exact_text
from tests.conftest import GRAPHS, Invoke

WriteGraph = Callable[..., Path]


class TestBookGraphExactly:
    def test_apple_orange_is_exact(self) -> None:
        """Price is exactly 715, dApple 11/5 and dOrange 33/10, as the issue asks."""
        result = load(GRAPHS / "apple_orange.yaml").evaluate(exact=True)
        assert result.values["price"] == 715
        assert isinstance(result.values["price"], Fraction)
        assert result.grads["apple"] == Fraction(11, 5)
        assert result.grads["orange"] == Fraction(33, 10)
        assert result.grads["tax"] == 650

    def test_pipe_shows_exact_decimals(self, invoke: Invoke) -> None:
        """In a pipe the exact values read 3.3 and 715, not 3.3000000000000003."""
        result = invoke("run", "apple_orange", "--exact")
        assert "orange\t150\t3.3\n" in result.stdout
        assert result.stdout.endswith("price\t715\t1\n")

    def test_grad_prints_the_exact_number(self, invoke: Invoke) -> None:
        """`grad --exact --wrt orange` prints 3.3."""
        assert invoke("grad", "apple_orange", "--exact", "--wrt", "orange").stdout == "3.3\n"

    def test_set_values_are_read_from_their_text(self, invoke: Invoke) -> None:
        """--set tax=1.08 with --exact gives dApple exactly 2 x 108/100 = 2.16."""
        result = invoke("grad", "apple_orange", "--exact", "--wrt", "apple", "--set", "tax=1.08")
        assert result.stdout == "2.16\n"

    def test_json_carries_the_fraction_and_a_float(self, invoke: Invoke) -> None:
        """Each exact number in JSON is {"fraction": "p/q", "float": x}."""
        result = invoke("grad", "apple_orange", "--exact", "--wrt", "apple", "-o", "json")
        assert json.loads(result.stdout) == {"apple": {"fraction": "11/5", "float": 2.2}}

    def test_trace_shows_exact_contributions(self, invoke: Invoke) -> None:
        """trace --exact writes d orange += 1.1 × 3 = 3.3."""
        result = invoke("trace", "apple_orange", "--exact")
        assert "d orange += 1.1 × 3 = 3.3 " in result.stdout


class TestFractionsAndTensors:
    def test_non_decimal_results_are_fractions(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """mean([1, 2, 3] squared) / 3 is 14/9, and its gradients ninths."""
        path = write_graph("inputs:\n  x: [1, 2, 3]\nnodes:\n  m: mean(x * x) / 3\n")
        lines = invoke("run", str(path), "--exact").stdout.splitlines()
        assert lines[0] == "x\t[1, 2, 3]\t[2/9, 4/9, 2/3]"
        assert lines[-1] == "m\t14/9\t1"

    def test_relu_and_integer_pow_are_exact(self) -> None:
        """relu and x ** 3 give exact values and derivatives (relu'(0) = 0)."""
        graph = loads("inputs: {x: 0.5, z: 0}\nnodes:\n  y: relu(x) ** 3 + relu(z) * 7\n")
        result = graph.evaluate(exact=True)
        assert result.values["y"] == Fraction(1, 8)
        assert result.grads["x"] == 3 * Fraction(1, 4)
        assert result.grads["z"] == 0

    def test_broadcast_gradient_is_summed_exactly(self) -> None:
        """A scalar times a vector: the scalar's gradient is the exact sum."""
        graph = loads("inputs: {a: 0.1, v: [0.1, 0.2, 0.3]}\nnodes:\n  s: sum(a * v)\n")
        assert graph.evaluate(exact=True).grads["a"] == Fraction(6, 10)


class TestEveryExactOp:
    def test_each_exact_op_gives_exact_values_and_gradients(self) -> None:
        """sub, div, neg, identity, sum and mean over zeros/ones/value inputs, all exact."""
        graph = loads(
            "inputs:\n"
            "  a: {value: [0.1, 0.2]}\n"
            "  z: {zeros: 2}\n"
            "  o: {ones: [2]}\n"
            "  c: 0.3\n"
            "nodes:\n"
            "  d: (a - z) / (o + c)\n"
            "  n: -d\n"
            "  i: n\n"
            "  y: sum(i) + mean(a) * 3\n"
        )
        result = graph.evaluate(exact=True)
        a = [Fraction(1, 10), Fraction(2, 10)]
        expected = -sum(x / Fraction(13, 10) for x in a) + sum(a) / 2 * 3
        assert result.values["y"] == expected
        assert list(result.grads["a"]) == [-1 / Fraction(13, 10) + Fraction(3, 2)] * 2
        # d/dc of -(a1 + a2) / (1 + c) is (a1 + a2) / (1 + c)**2, summed over the vector.
        assert result.grads["c"] == sum(a) / Fraction(13, 10) ** 2
        assert list(result.grads["z"]) == [1 / Fraction(13, 10)] * 2

    def test_a_non_finite_input_has_no_exact_value(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """.nan under --exact is refused, naming the input."""
        path = write_graph("inputs: {x: .nan}\nnodes:\n  y: x * 2\n")
        result = invoke("run", str(path), "--exact")
        assert result.exit_code == 1
        assert "--exact: input 'x': '.nan' has no exact rational value" in result.stderr


class TestRefusals:
    def test_an_op_that_is_not_exact_is_refused_by_node(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """sigmoid under --exact exits 1 naming the node and its position."""
        path = write_graph("inputs: {x: 1}\nnodes:\n  y: x * 2\n  s: sigmoid(y)\n")
        result = invoke("run", str(path), "--exact")
        assert result.exit_code == 1
        assert result.stderr.startswith(
            f"{path}:4:6: --exact: node 's' uses sigmoid, which is not exact over the rationals"
        )

    def test_random_inputs_have_no_exact_value(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A random: input is refused under --exact, naming the input."""
        path = write_graph("inputs:\n  x: {random: 3}\nnodes:\n  s: sum(x)\n")
        result = invoke("run", str(path), "--exact")
        assert result.exit_code == 1
        assert "--exact: input 'x': a 'random:' input has no exact decimal text" in result.stderr

    def test_a_fractional_exponent_is_refused(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """x ** y with y a fraction is not exact (an input or node exponent: test_defects_exact)."""
        path = write_graph("inputs: {x: 2, y: {value: 0.5, grad: false}}\nnodes:\n  p: x ** y\n")
        result = invoke("run", str(path), "--exact")
        assert result.exit_code == 1
        assert "pow is exact only with a whole-number exponent" in result.stderr

    def test_division_by_zero_is_an_error(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """1 / 0 has no exact value: exit 1, not a float infinity."""
        path = write_graph("inputs: {x: 1, z: 0}\nnodes:\n  q: x / z\n")
        result = invoke("run", str(path), "--exact")
        assert result.exit_code == 1
        assert "division by zero" in result.stderr

    def test_a_huge_power_is_refused_before_it_is_computed(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """1.1 ** 100000000 would take hours exactly: it is refused at once."""
        path = write_graph("inputs: {x: 1.1}\nnodes:\n  y: x ** 100000000\n")
        result = invoke("run", str(path), "--exact")
        assert result.exit_code == 1
        assert "x ** 100000000 would grow past 100,000 bits" in result.stderr

    def test_repeated_squaring_stops_at_the_size_limit(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """Each squaring doubles the digits; the node that passes the limit is named."""
        lines = ["inputs: {x: 1.1}", "nodes:", "  y0: x * x"]
        lines += [f"  y{i}: y{i - 1} * y{i - 1}" for i in range(1, 40)]
        path = write_graph("\n".join(lines) + "\n")
        result = invoke("run", str(path), "--exact")
        assert result.exit_code == 1
        assert "grew past 100,000 bits" in result.stderr
        assert "mul failed in node 'y" in result.stderr

    def test_exact_does_not_combine_with_batch(self, invoke: Invoke) -> None:
        """--exact with --batch is a usage error."""
        result = invoke("run", "apple_orange", "--exact", "--batch", "-", input="tax\n1\n")
        assert result.exit_code == 2
        assert "--exact does not combine with --batch" in result.stderr


class TestAgreementWithFloats:
    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.decimals(min_value=-50, max_value=50, places=3, allow_nan=False),
            min_size=3,
            max_size=3,
        )
    )
    def test_exact_results_round_to_the_float_results(self, xs: list[object]) -> None:
        """For exact ops, the float result is the exact result rounded (within a few ulps)."""
        a, b, c = (str(x) for x in xs)
        graph = loads(
            f"inputs: {{a: {a}, b: {b}, c: {c}}}\nnodes:\n  y: (a - b) * c + relu(a) ** 2\n"
        )
        floats = graph.evaluate()
        exact = graph.evaluate(exact=True)
        for name in ("a", "b", "c"):
            assert abs(float(exact.grads[name]) - floats.grads[name]) <= 1e-9 * (
                1 + abs(floats.grads[name])
            )
        assert (
            exact.values["y"]
            == (Fraction(a) - Fraction(b)) * Fraction(c) + max(Fraction(a), Fraction(0)) ** 2
        )


class TestExactText:
    @given(st.integers(-(10**12), 10**12), st.integers(0, 12), st.integers(0, 12))
    def test_terminating_decimals_read_back_exactly(self, n: int, twos: int, fives: int) -> None:
        """n / (2**a 5**b) is written as a decimal that parses back to the same fraction."""
        value = Fraction(n, 2**twos * 5**fives)
        text = exact_text(value)
        assert "/" not in text
        assert Fraction(text) == value

    @given(st.fractions().filter(lambda f: f.denominator % 3 == 0))
    def test_other_fractions_are_written_as_p_over_q(self, value: Fraction) -> None:
        """A denominator with a factor 3 has no finite decimal: it is written p/q."""
        assert exact_text(value) == f"{value.numerator}/{value.denominator}"
