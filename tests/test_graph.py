"""The engine through the Python API: fan-out, broadcasting, deep chains, cycles, random graphs.

Every expected gradient here is worked out by hand or by central differences on re-evaluated
graphs, never read back from the engine itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bpcalc.engine.evaluation import Evaluation
from bpcalc.errors import GraphError, UsageProblem
from bpcalc.loading.build import loads
from bpcalc.loading.graph import Graph
from bpcalc.loading.inputs import InputValue


def first_line(err: pytest.ExceptionInfo[GraphError]) -> str:
    """The first rendered line of an error: ``file:line:col: message``."""
    return err.value.render().splitlines()[0]


class TestFanOut:
    """A value used several times gets the sum of every contribution."""

    def test_a_value_multiplied_by_itself_gets_both_gradients(self) -> None:
        """d(x * x)/dx = 2x, from the two inputs of one mul added together."""
        result = loads("inputs: {x: 3}\nnodes:\n  y: x * x\n").evaluate()
        assert result.grads["x"] == 6.0

    def test_the_explicit_form_with_the_same_input_twice_adds_up_too(self) -> None:
        """{op: mul, in: [x, x]} is x squared: gradient 2x."""
        result = loads("inputs: {x: -1.5}\nnodes:\n  y: {op: mul, in: [x, x]}\n").evaluate()
        assert result.grads["x"] == -3.0

    def test_a_value_feeding_two_nodes_gets_the_sum_of_their_gradients(self) -> None:
        """x -> 3x and x -> 5x, added: dy/dx = 8, and each branch gets 1."""
        text = "inputs: {x: 2}\nnodes:\n  a: x * 3\n  b: x * 5\n  y: a + b\n"
        result = loads(text).evaluate()
        assert result.grads["x"] == 8.0
        assert result.grads["a"] == 1.0
        assert result.grads["b"] == 1.0

    def test_a_node_used_by_a_later_node_twice_adds_its_gradients(self) -> None:
        """y = h * h with h = x + 1: dy/dh = 2h and dy/dx = 2(x + 1)."""
        text = "inputs: {x: 2}\nnodes:\n  h: x + 1\n  y: h * h\n"
        result = loads(text).evaluate()
        assert result.grads["h"] == 6.0
        assert result.grads["x"] == 6.0

    def test_adding_a_gradient_never_changes_the_one_it_came_from(self) -> None:
        """s = v + v passes the same dout to both inputs: v gets 2, s keeps its own 1."""
        result = loads("inputs: {v: [1, 2]}\nnodes:\n  s: v + v\n  y: sum(s)\n").evaluate()
        np.testing.assert_array_equal(result.grads["v"], [2.0, 2.0])
        np.testing.assert_array_equal(result.grads["s"], [1.0, 1.0])

    def test_fan_out_of_an_array_adds_elementwise(self) -> None:
        """d sum(v * v) / dv = 2v."""
        result = loads("inputs: {v: [1, -2, 3]}\nnodes:\n  y: sum(v * v)\n").evaluate()
        np.testing.assert_array_equal(result.grads["v"], [2.0, -4.0, 6.0])


class TestBroadcasting:
    """Elementwise ops broadcast like numpy; gradients are summed back to each input's shape."""

    def test_vector_plus_scalar_gives_the_scalar_the_sum_of_the_gradients(self) -> None:
        """y = v + s with a vector output seeded with ones: ds = 3, dv = ones."""
        result = loads("inputs: {v: [1, 2, 3], s: 2}\nnodes:\n  y: v + s\n").evaluate()
        np.testing.assert_array_equal(result.values["y"], [3.0, 4.0, 5.0])
        assert result.grads["s"] == 3.0
        assert isinstance(result.grads["s"], float)
        np.testing.assert_array_equal(result.grads["v"], [1.0, 1.0, 1.0])

    def test_vector_times_scalar_sums_the_products_back_into_the_scalar(self) -> None:
        """y = sum(v * s): ds = sum(v) = 6 and dv = s everywhere."""
        result = loads("inputs: {v: [1, 2, 3], s: 2}\nnodes:\n  y: sum(v * s)\n").evaluate()
        assert result.grads["s"] == 6.0
        np.testing.assert_array_equal(result.grads["v"], [2.0, 2.0, 2.0])

    def test_a_row_broadcast_over_a_matrix_gets_column_sums(self) -> None:
        """y = sum(M * r) with r of shape (3,): dr = the column sums of M, dM = r per row."""
        text = "inputs:\n  M: [[1, 2, 3], [4, 5, 6]]\n  r: [1, 10, 100]\nnodes:\n  y: sum(M * r)\n"
        result = loads(text).evaluate()
        np.testing.assert_array_equal(result.grads["r"], [5.0, 7.0, 9.0])
        np.testing.assert_array_equal(result.grads["M"], [[1.0, 10.0, 100.0]] * 2)

    def test_a_column_broadcast_over_a_matrix_gets_row_sums_in_its_own_shape(self) -> None:
        """y = sum(M - c) with c of shape (2, 1): dc = -(number of columns), shaped (2, 1)."""
        text = "inputs:\n  M: [[1, 2, 3], [4, 5, 6]]\n  c: [[1], [2]]\nnodes:\n  y: sum(M - c)\n"
        result = loads(text).evaluate()
        assert result.grads["c"].shape == (2, 1)
        np.testing.assert_array_equal(result.grads["c"], [[-3.0], [-3.0]])


class TestDeepChain:
    """Ordering, forward and backward are iterative: depth is limited by memory, not the stack."""

    def test_a_100000_node_chain_loads_and_evaluates(self) -> None:
        """n_i = n_(i-1) + x, 100,000 deep: the value is 100000x and dy/dx = 100000."""
        depth = 100_000
        lines = ["inputs:", "  x: 0.5", "nodes:", "  n0: x * 1"]
        lines += [f"  n{i}: n{i - 1} + x" for i in range(1, depth)]
        graph = loads("\n".join(lines) + "\n")
        result = graph.evaluate()
        assert result.output == f"n{depth - 1}"
        assert result.values[f"n{depth - 1}"] == 50_000.0
        assert result.grads["x"] == 100_000.0
        assert result.grads["n0"] == 1.0

    def test_a_chain_written_backwards_is_evaluated_forwards(self) -> None:
        """A 2,000-node chain written last node first still comes out in dependency order."""
        depth = 2_000
        lines = ["inputs: {x: 1}", "nodes:"]
        lines += [f"  n{i}: n{i - 1} * 1" for i in range(depth - 1, 0, -1)] + ["  n0: x + 1"]
        result = loads("\n".join(lines) + "\n").evaluate()
        assert list(result.values) == ["x", *(f"n{i}" for i in range(depth))]
        assert result.grads["x"] == 1.0


class TestCycles:
    """A node that depends on itself is refused, naming the nodes of the cycle and where."""

    def test_a_node_that_uses_itself_is_a_cycle(self) -> None:
        """`x: x + 1` is reported at the key x, as the cycle x -> x."""
        with pytest.raises(GraphError) as err:
            loads("inputs: {a: 1}\nnodes:\n  x: x + 1\n  y: a * 2\n", name="g.yaml")
        assert first_line(err) == (
            "g.yaml:3:3: cycle: x -> x; a graph must not feed a node back into itself"
        )
        assert len(err.value.diagnostics) == 1

    def test_a_three_cycle_names_its_nodes_in_the_direction_values_flow(self) -> None:
        """a uses c, b uses a, c uses b: the cycle a -> b -> c -> a, at a's definition."""
        text = "inputs: {x: 1}\nnodes:\n  a: c + x\n  b: a * 2\n  c: b - 1\n"
        with pytest.raises(GraphError) as err:
            loads(text, name="g.yaml")
        assert first_line(err) == (
            "g.yaml:3:3: cycle: a -> b -> c -> a; a graph must not feed a node back into itself"
        )

    def test_nodes_that_merely_depend_on_a_cycle_are_not_named(self) -> None:
        """Only the nodes on the cycle itself are listed, starting from the one written first."""
        text = (
            "inputs: {x: 1}\nnodes:\n  before: x + 1\n  after: q * 2\n  q: p + before\n  p: q * x\n"
        )
        with pytest.raises(GraphError) as err:
            loads(text, name="g.yaml")
        assert first_line(err) == (
            "g.yaml:5:3: cycle: q -> p -> q; a graph must not feed a node back into itself"
        )

    def test_a_cycle_through_a_sub_expression_names_it_by_its_text(self) -> None:
        """a = relu(b) * 2 and b = a - 1: the anonymous node relu(b) is part of the cycle."""
        text = "inputs: {x: 1}\nnodes:\n  a: relu(b) * 2\n  b: a - x\n"
        with pytest.raises(GraphError) as err:
            loads(text, name="g.yaml")
        assert first_line(err) == (
            "g.yaml:3:3: cycle: relu(b) -> a -> b -> relu(b); "
            "a graph must not feed a node back into itself"
        )

    def test_a_long_cycle_is_shown_by_its_ends(self) -> None:
        """A 1,000-node cycle is found quickly and shown as its first and last nodes."""
        depth = 1_000
        lines = ["inputs: {x: 1}", "nodes:", f"  n0: n{depth - 1} * x"]
        lines += [f"  n{i}: n{i - 1} + 1" for i in range(1, depth)]
        with pytest.raises(GraphError) as err:
            loads("\n".join(lines) + "\n", name="g.yaml")
        assert first_line(err) == (
            "g.yaml:3:3: cycle: n0 -> n1 -> n2 -> n3 -> ... -> n998 -> n999 -> n0 "
            "(1,000 nodes); a graph must not feed a node back into itself"
        )


class TestFreshEvaluations:
    """Each evaluation starts from zero gradients and leaves nothing behind."""

    TEXT = "inputs: {x: 2, v: [1, 2]}\nnodes:\n  a: x * x\n  b: sum(v * a)\n  y: a + b\n"

    def test_evaluating_twice_gives_the_same_gradients(self) -> None:
        """A second evaluate() does not add onto the first one's gradients."""
        graph = loads(self.TEXT)
        first, second = graph.evaluate(), graph.evaluate()
        # y = x^2 (1 + sum(v)): dy/dx = 2x * 4 = 16, dy/dv = x^2 = 4 each.
        for result in (first, second):
            assert result.grads["x"] == 16.0
            np.testing.assert_array_equal(result.grads["v"], [4.0, 4.0])

    def test_an_evaluation_of_another_node_in_between_changes_nothing(self) -> None:
        """evaluate(of='a') between two evaluate() calls leaves the later one unchanged."""
        graph = loads(self.TEXT)
        graph.evaluate()
        assert graph.evaluate(of="a").grads["x"] == 4.0
        assert graph.evaluate().grads["x"] == 16.0

    def test_a_later_evaluation_does_not_change_an_earlier_result(self) -> None:
        """Results are snapshots: the arrays of one evaluation survive the next one intact."""
        graph = loads(self.TEXT)
        first = graph.evaluate()
        graph.with_inputs({"v": InputValue(np.array([5.0, 5.0]))}).evaluate()
        graph.evaluate()
        np.testing.assert_array_equal(first.grads["v"], [4.0, 4.0])
        assert first.values["b"] == 12.0

    def test_inputs_cannot_be_changed_behind_the_compiled_plan(self) -> None:
        """The plan reads the inputs once: assigning into them is refused, not ignored, and
        with_inputs is the way to a changed value."""
        graph = loads("inputs: {apple: 100, n: 2}\nnodes:\n  price: apple * n\n")
        assert graph.evaluate().values["price"] == 200.0
        with pytest.raises(TypeError):
            graph.inputs["apple"] = InputValue(300.0)  # type: ignore[index]
        assert graph.with_inputs({"apple": InputValue(300.0)}).evaluate().values["price"] == 600.0
        assert graph.evaluate().values["price"] == 200.0


class TestSeedAndTarget:
    """What is differentiated: the output seeded with ones, another node, or an input."""

    def test_a_vector_output_is_seeded_with_ones(self) -> None:
        """y = v * w as the output: the gradient of sum(y), so dv = w and dw = v."""
        text = "inputs: {v: [1, 2, 3], w: [4, 5, 6]}\nnodes:\n  y: v * w\n"
        result = loads(text).evaluate()
        np.testing.assert_array_equal(result.grads["y"], [1.0, 1.0, 1.0])
        np.testing.assert_array_equal(result.grads["v"], [4.0, 5.0, 6.0])
        np.testing.assert_array_equal(result.grads["w"], [1.0, 2.0, 3.0])

    def test_a_matrix_output_gives_the_gradient_of_its_sum(self) -> None:
        """tanh of a matrix as the output: d sum(tanh(M)) / dM = 1 - tanh(M)^2."""
        result = loads("inputs: {M: [[0.5, -1], [2, 0]]}\nnodes:\n  y: tanh(M)\n").evaluate()
        m = np.array([[0.5, -1.0], [2.0, 0.0]])
        np.testing.assert_allclose(result.grads["M"], 1 - np.tanh(m) ** 2, rtol=1e-15)

    TEXT = "inputs: {x: 3, z: 5}\nnodes:\n  a: x + 1\n  b: x * 2\n  y: a * b + z\n"

    def test_of_differentiates_another_node(self) -> None:
        """of='b' gives db/dx = 2, nothing for z, and zero for the nodes after b."""
        result = loads(self.TEXT).evaluate(of="b")
        assert result.output == "b"
        assert result.grads["x"] == 2.0
        assert result.grads["z"] == 0.0
        assert result.grads["b"] == 1.0
        assert result.grads["y"] == 0.0
        assert result.grads["a"] == 0.0

    def test_the_default_target_is_the_output(self) -> None:
        """Without of=, y = (x + 1) * 2x + z: dy/dx = 4x + 2 = 14, dy/dz = 1."""
        result = loads(self.TEXT).evaluate()
        assert result.output == "y"
        assert (result.grads["x"], result.grads["z"]) == (14.0, 1.0)

    def test_of_an_input_gives_one_for_itself_and_zero_elsewhere(self) -> None:
        """d x / d x = 1, and x depends on nothing else."""
        result = loads(self.TEXT).evaluate(of="x")
        assert result.grads["x"] == 1.0
        assert result.grads["z"] == 0.0
        assert result.grads["y"] == 0.0

    def test_of_an_array_input_gives_ones_of_its_shape(self) -> None:
        """d v / d v for a vector input is ones of its shape."""
        result = loads("inputs: {v: [1, 2]}\nnodes:\n  y: sum(v)\n").evaluate(of="v")
        np.testing.assert_array_equal(result.grads["v"], [1.0, 1.0])

    def test_of_an_unknown_name_is_a_usage_problem_with_a_hint(self) -> None:
        """of='bb' fails with the names it could have meant."""
        with pytest.raises(UsageProblem) as err:
            loads(self.TEXT, name="g.yaml").evaluate(of="bb")
        assert err.value.diagnostics[0].message == (
            "no input or node named 'bb' in g.yaml (did you mean 'b'?)"
        )


class TestGradFalse:
    """`grad: false` inputs get no gradient and change no other gradient."""

    def graph(self, grad: str) -> Graph:
        return loads(
            f"inputs:\n  x: 2\n  t: {{value: 3, grad: {grad}}}\n"
            "nodes:\n  p: x * t\n  y: p + t * t\n"
        )

    def test_a_grad_false_input_has_no_gradient(self) -> None:
        """The gradient of t is None, and dy/dx = t = 3."""
        result = self.graph("false").evaluate()
        assert result.grads["t"] is None
        assert result.grads["x"] == 3.0
        assert result.values["t"] == 3.0

    def test_other_gradients_are_the_same_as_with_grad_true(self) -> None:
        """Every gradient except t's is identical with grad: false and grad: true."""
        without, with_ = self.graph("false").evaluate(), self.graph("true").evaluate()
        assert with_.grads["t"] == 2.0 + 6.0
        for name in ("x", "p", "t * t", "y"):
            assert without.grads[name] == with_.grads[name]

    def test_differentiating_a_grad_false_input_still_gives_none(self) -> None:
        """of='t' on a grad: false input reports no gradient for it."""
        assert self.graph("false").evaluate(of="t").grads["t"] is None


class TestReportOrder:
    """Results list inputs first, in file order, then nodes in dependency order."""

    def test_nodes_written_out_of_order_come_out_in_dependency_order(self) -> None:
        """c uses b uses a, written c, b, a: reported x, y, a, b, c."""
        text = "inputs: {x: 1, y: 2}\nnodes:\n  c: b + y\n  b: a * 2\n  a: x + 1\n"
        result = loads(text).evaluate()
        assert list(result.values) == ["x", "y", "a", "b", "c"]
        assert list(result.grads) == ["x", "y", "a", "b", "c"]

    def test_independent_nodes_keep_the_order_they_were_written_in(self) -> None:
        """Among nodes ready at the same time, the one written first comes first."""
        text = "inputs: {x: 1}\nnodes:\n  s: p + q\n  q: x * 3\n  p: x * 2\noutput: s\n"
        assert list(loads(text).evaluate().values) == ["x", "q", "p", "s"]

    def test_sub_expressions_come_just_before_the_node_that_uses_them(self) -> None:
        """y = relu(x - 1) * 2 lists x - 1, then relu(x - 1), then y."""
        result = loads("inputs: {x: 3}\nnodes:\n  y: relu(x - 1) * 2\n").evaluate()
        assert list(result.values) == ["x", "x - 1", "relu(x - 1)", "y"]


# ---------------------------------------------------------------- random graphs

H = 1e-6  # central-difference step
RTOL, ATOL = 1e-4, 1e-6

# Each op is written so its inputs stay in its safe domain whatever the operands are, and
# paired with the same formula in numpy for an independent check of the forward pass.
Formula = Any  # a function of one or two float-or-array operands
UNARY: dict[str, tuple[str, Formula]] = {
    "tanh": ("tanh({a})", np.tanh),
    "sigmoid": ("sigmoid({a})", lambda a: 1 / (1 + np.exp(-a))),
    "exp": ("exp(tanh({a}))", lambda a: np.exp(np.tanh(a))),  # bounded exponent
    "neg": ("-{a}", np.negative),
    "relu": ("relu({a})", lambda a: np.maximum(a, 0.0)),  # checked away from 0 (see below)
}
BINARY: dict[str, tuple[str, Formula]] = {
    "add": ("{a} + {b}", np.add),
    "sub": ("{a} - {b}", np.subtract),
    "mul": ("{a} * {b}", np.multiply),
    "div": ("{a} / (2 + tanh({b}))", lambda a, b: a / (2 + np.tanh(b))),  # divisor in (1, 3)
    # base in (0.5, 2.5); the exponent is a node too
    "pow": ("(1.5 + tanh({a})) ** tanh({b})", lambda a, b: (1.5 + np.tanh(a)) ** np.tanh(b)),
}
REDUCE: dict[str, tuple[str, Formula]] = {
    "sum": ("sum({a})", np.sum),
    "mean": ("mean({a})", np.mean),
}
EXPLICIT = {"tanh", "sigmoid", "neg", "relu", "add", "sub", "mul", "sum", "mean"}


@dataclass
class RandomGraph:
    text: str
    inputs: dict[str, Any]
    steps: list[tuple[str, Formula, list[str]]]  # each node, in the order it was made
    relu_args: list[str]
    output: str


def magnitudes() -> st.SearchStrategy[float]:
    return st.builds(
        lambda sign, v: sign * v,
        st.sampled_from([-1.0, 1.0]),
        st.floats(0.1, 2.0, allow_nan=False, allow_infinity=False),
    )


@st.composite
def random_graphs(draw: st.DrawFn) -> RandomGraph:
    """A DAG over scalar inputs x0.. and a vector input v, its nodes written in random order."""
    inputs: dict[str, Any] = {f"x{i}": draw(magnitudes()) for i in range(draw(st.integers(1, 3)))}
    inputs["v"] = np.array(draw(st.lists(magnitudes(), min_size=3, max_size=3)))
    is_vector = {name: name == "v" for name in inputs}
    definitions: list[str] = []
    steps: list[tuple[str, Formula, list[str]]] = []
    relu_args: list[str] = []
    for i in range(draw(st.integers(1, 7))):
        name = f"n{i}"
        kind = draw(st.sampled_from(["unary", "binary", "reduce"]))
        if kind == "reduce":
            op = draw(st.sampled_from(sorted(REDUCE)))
            args = [draw(st.sampled_from([n for n, vec in is_vector.items() if vec]))]
            template, formula = REDUCE[op]
        elif kind == "unary":
            op = draw(st.sampled_from(sorted(UNARY)))
            args = [draw(st.sampled_from(sorted(is_vector)))]
            template, formula = UNARY[op]
        else:
            op = draw(st.sampled_from(sorted(BINARY)))
            args = [draw(st.sampled_from(sorted(is_vector))) for _ in range(2)]
            template, formula = BINARY[op]
        if op == "relu":
            relu_args.append(args[0])
        if op in EXPLICIT and draw(st.booleans()):
            definition = f"{{op: {op}, in: [{', '.join(args)}]}}"
        else:
            definition = template.format(a=args[0], b=args[-1])
        definitions.append(f"  {name}: {definition}")
        steps.append((name, formula, args))
        is_vector[name] = kind != "reduce" and any(is_vector[a] for a in args)
    output = f"n{len(definitions) - 1}"
    order = draw(st.permutations(definitions))
    lines = ["inputs:"]
    lines += [f"  {n}: {yaml_number(v)}" for n, v in inputs.items()]
    lines += ["nodes:", *order, f"output: {output}"]
    return RandomGraph("\n".join(lines) + "\n", inputs, steps, relu_args, output)


def yaml_number(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(repr(float(v)) for v in value) + "]"
    return repr(value)


def objective(result: Evaluation) -> float:
    """What the engine differentiates: the output, summed when it is not a scalar."""
    return float(np.sum(result.values[result.output]))


def central_difference(graph: Graph, name: str, value: Any) -> Any:
    """d objective / d input, element by element, by re-evaluating with changed inputs."""

    def at(changed: Any) -> float:
        return objective(graph.with_inputs({name: InputValue(changed)}).evaluate())

    if isinstance(value, float):
        return (at(value + H) - at(value - H)) / (2 * H)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[index] += H
        down[index] -= H
        grad[index] = (at(up) - at(down)) / (2 * H)
    return grad


class TestRandomGraphs:
    """On random DAGs of safe ops, every input's gradient matches central differences."""

    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(random_graphs())
    def test_gradients_match_central_differences(self, case: RandomGraph) -> None:
        """Backward through any mix of ops, fan-out and broadcasting equals numeric slopes."""
        graph = loads(case.text)
        result = graph.evaluate()
        for arg in case.relu_args:  # relu has a kink at 0: stay clear of it
            assume(np.min(np.abs(result.values[arg])) > 1e-3)
        assume(all(np.max(np.abs(v)) < 1e3 for v in result.values.values()))
        for name, value in case.inputs.items():
            expected = central_difference(graph, name, result.values[name])
            np.testing.assert_allclose(result.grads[name], expected, rtol=RTOL, atol=ATOL)
            assert np.shape(result.grads[name]) == np.shape(value)

    @settings(max_examples=40, deadline=None)
    @given(random_graphs())
    def test_every_node_comes_after_the_names_it_uses(self, case: RandomGraph) -> None:
        """Whatever order the nodes are written in, results list each after its operands."""
        names = list(loads(case.text).evaluate().values)
        assert names[: len(case.inputs)] == list(case.inputs)
        for node, _, args in case.steps:
            assert all(names.index(arg) < names.index(node) for arg in args)

    @settings(max_examples=25, deadline=None)
    @given(random_graphs())
    def test_tracing_the_backward_pass_gives_the_same_gradients(self, case: RandomGraph) -> None:
        """evaluate(trace=True) computes exactly the gradients evaluate() does."""
        graph = loads(case.text)
        plain, traced = graph.evaluate(), graph.evaluate(trace=True)
        for name, grad in plain.grads.items():
            np.testing.assert_array_equal(traced.grads[name], grad)

    @settings(max_examples=25, deadline=None)
    @given(random_graphs())
    def test_values_match_numpy(self, case: RandomGraph) -> None:
        """The output's value equals the same formula computed directly with numpy."""
        result = loads(case.text).evaluate()
        env: dict[str, Any] = dict(case.inputs)
        for node, formula, args in case.steps:
            env[node] = formula(*(env[a] for a in args))
        np.testing.assert_allclose(result.values[case.output], env[case.output], rtol=1e-12)
