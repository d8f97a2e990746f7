"""The engine: a checked graph in dependency order, evaluated forward then backward.

Reverse mode as in the book: each node's layer runs ``forward`` in topological order, then
``backward`` in reverse, and every contribution to a gradient is *added*, so a value used
twice gets both. Nothing here recurses, so a 100,000-node chain is fine.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import compress, repeat
from operator import is_
from pathlib import Path
from typing import Any

from bpcalc.errors import Diagnostic, EvaluationError, GraphError, UsageProblem, did_you_mean
from bpcalc.expr import Arg
from bpcalc.limits import DEFAULT_LIMITS, Limits
from bpcalc.numbers import Const
from bpcalc.numfmt import is_fraction
from bpcalc.registry import OPS
from bpcalc.schema import GraphDef, NodeDef, read_graph
from bpcalc.source import Source, gc_paused, parse
from bpcalc.values import InputError, InputValue, read_input


@dataclass(frozen=True)
class Contribution:
    """One ``+=`` of the backward pass: ``d arg += (local derivative) * dout = amount``."""

    node: str  # the node whose backward ran
    arg: str  # the input or node that receives the contribution
    dout: Any  # d(output)/d(node), the upstream gradient
    amount: Any  # what backward returned for ``arg``
    total: Any  # d(output)/d(arg) so far, after adding ``amount``


@dataclass(frozen=True)
class Evaluation:
    """Values and gradients of one evaluation; gradients are d(output)/d(name)."""

    graph: str
    output: str
    values: dict[str, Any]  # every input and node, inputs first, nodes in evaluation order
    grads: dict[str, Any]  # None for an input with grad: false
    warnings: list[Diagnostic] = field(default_factory=list)
    contributions: list[Contribution] | None = None  # in backward order, with evaluate(trace=True)


@dataclass(frozen=True)
class Graph:
    """A checked graph: inputs with their values, nodes in evaluation order, an output."""

    definition: GraphDef
    inputs: dict[str, InputValue]
    nodes: tuple[NodeDef, ...]  # topological order
    output: str

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def description(self) -> str:
        return self.definition.description

    @property
    def names(self) -> list[str]:
        """Every input and node, in the order results are reported."""
        return [*self.inputs, *(node.name for node in self.nodes)]

    def with_inputs(self, values: Mapping[str, InputValue]) -> Graph:
        """A copy with some input values replaced (what ``--set`` does)."""
        for name in values:
            if name not in self.inputs:
                raise UsageProblem(self.unknown_name_message(name, inputs_only=True))
        return replace(self, inputs={**self.inputs, **values})

    def unknown_name_message(self, name: str, *, inputs_only: bool = False) -> str:
        choices = list(self.inputs) if inputs_only else self.names
        kind = "input" if inputs_only else "input or node"
        hint = did_you_mean(name, choices)
        if not hint and inputs_only and name in self.names:
            return f"'{name}' is a node, not an input; --set only changes inputs"
        return f"no {kind} named '{name}' in {self.definition.source.name}{hint}"

    def locate(self, name: str, message: str) -> Diagnostic:
        """A diagnostic pointing at where ``name`` is defined."""
        source = self.definition.source
        if name in self.inputs:
            return source.diagnostic(message, ("inputs", name), key=True)
        node = self._node_by_name[name]
        return source.diagnostic(message, node.path, offset=node.column)

    @cached_property
    def _node_by_name(self) -> dict[str, NodeDef]:
        return {node.name: node for node in self.nodes}

    @cached_property
    def _plan(self) -> _Plan:
        return _Plan(self)

    @cached_property
    def _exact_plan(self) -> _Plan:
        return _Plan(self, exact=True)

    def evaluate(
        self, *, of: str | None = None, trace: bool = False, exact: bool = False
    ) -> Evaluation:
        """Forward, then backward from ``of`` (default: the output) seeded with 1.

        With ``trace=True`` the result also lists every contribution the backward pass adds.
        With ``exact=True`` it computes with Fractions from the decimals as written (only for
        ops that are exact over the rationals; see bpcalc.exact).
        """
        target = self.output if of is None else of
        if target not in self.inputs and target not in self._node_by_name:
            raise UsageProblem(self.unknown_name_message(target))
        import numpy as np

        from bpcalc.sizes import check_sizes

        check_sizes(self)  # before allocating: a broadcast can be far larger than its inputs
        plan = self._exact_plan if exact else self._plan
        with np.errstate(all="ignore"), gc_paused():
            return plan.run(self, target, trace=trace)


class _Plan:
    """The graph compiled to slots: inputs, then nodes, then constants, in one list.

    The loops below run once per node, so they avoid per-node overhead: no generators or
    star-arguments, branches on a precomputed arity, and which arguments want a gradient is
    decided once here rather than on every run.
    """

    def __init__(self, graph: Graph, *, exact: bool = False) -> None:
        self.exact = exact
        inputs = graph.inputs
        self.names = names = graph.names
        self.n_inputs = len(inputs)
        self.n_nodes = len(graph.nodes)
        self.slot = slot = {name: i for i, name in enumerate(names)}
        self.no_grad = no_grad = {i for i, value in enumerate(inputs.values()) if not value.grad}
        const_base = len(names)
        constants: list[Any] = []
        lookup: dict[Any, int] = dict(slot)  # names, and each distinct Const once seen
        get = lookup.get

        def constant(arg: Arg, node: NodeDef, i: int) -> int:
            assert isinstance(arg, Const)
            found = lookup[arg] = const_base + len(constants)
            constants.append(_exact_constant(graph, node, i) if exact else arg.value)
            return found

        def wanted(s: int) -> int:
            return -1 if s < 0 or s >= const_base or s in no_grad else s

        # Per node: (layer class, arity, a, b, c) with unused slots -1, for the forward pass;
        # (arity or 0 if no argument wants a gradient, and the slots, -1 where none is
        # wanted), for the backward pass.
        self.steps: list[tuple[Any, int, int, int, int]] = []
        self.back: list[tuple[int, int, int, int]] = []
        step = self.steps.append
        back = self.back.append
        classes: dict[str, Any] = {}
        for node in graph.nodes:
            args = node.args
            arity = len(args)
            layer_class = classes.get(node.op)
            if layer_class is None:
                layer_class = _exact_layer(graph, node) if exact else OPS[node.op].layer_class()
                classes[node.op] = layer_class
            if exact and node.op == "pow":
                _refuse_exponent_name(graph, node)
            a = get(args[0])
            if a is None:
                a = constant(args[0], node, 0)
            b = c = -1
            if arity > 1:
                found = get(args[1])
                b = constant(args[1], node, 1) if found is None else found
                if arity > 2:
                    found = get(args[2])
                    c = constant(args[2], node, 2) if found is None else found
            step((layer_class, arity, a, b, c))
            if no_grad or a >= const_base or b >= const_base or c >= const_base:
                wa, wb, wc = wanted(a), wanted(b), wanted(c)
                back((arity if wa >= 0 or wb >= 0 or wc >= 0 else 0, wa, wb, wc))
            else:
                back((arity, a, b, c))
        self.constants = constants

    def run(self, graph: Graph, target: str, *, trace: bool = False) -> Evaluation:
        values, layers = self.forward(graph)
        end = self.slot[target]
        contributions: list[Contribution] | None = None
        if trace:
            contributions = []
            grads = self.backward_traced(graph, values, layers, end, contributions)
        else:
            grads = self.backward(graph, values, layers, end)
        names = self.names
        del values[len(names) :]  # the constants
        del grads[len(names) :]
        no_grad = self.no_grad
        for i in no_grad:
            grads[i] = None  # even when differentiating that input itself (--of)
        # Names no gradient reached get zeros, except inputs with grad: false (None).
        for i in list(compress(range(len(grads)), map(is_, grads, repeat(None)))):
            if i not in no_grad:
                grads[i] = _zeros_like(values[i])
        value_map = dict(zip(names, values, strict=True))
        grad_map = dict(zip(names, grads, strict=True))
        warnings: list[Diagnostic] = []
        some_grads = [g for g in grads if g is not None] if no_grad else grads
        if not (_surely_finite(values) and _surely_finite(some_grads)):
            warnings = _non_finite(graph, names, values, grad_map)
        return Evaluation(graph.name, target, value_map, grad_map, warnings, contributions)

    def forward(self, graph: Graph) -> tuple[list[Any], list[Any]]:
        """Every slot's value; each node's layer keeps what its backward needs."""
        values = _exact_inputs(graph) if self.exact else [v.value for v in graph.inputs.values()]
        values += [None] * self.n_nodes
        values += self.constants
        layers: list[Any] = []
        keep = layers.append
        k = self.n_inputs
        try:
            for layer_class, arity, a, b, c in self.steps:
                layer = layer_class()
                if arity == 2:
                    values[k] = layer.forward(values[a], values[b])
                elif arity == 1:
                    values[k] = layer.forward(values[a])
                else:
                    values[k] = layer.forward(values[a], values[b], values[c])
                keep(layer)
                k += 1
        except (ValueError, TypeError, ArithmeticError, IndexError) as err:
            raise _failure(graph, len(layers), "", err) from None
        return values, layers

    def backward(self, graph: Graph, values: list[Any], layers: list[Any], end: int) -> list[Any]:
        """Gradients of slot ``end`` with respect to every slot (None where none flows)."""
        base = self.n_inputs
        back = self.back
        grads: list[Any] = [None] * len(values)
        grads[end] = _ones_like(values[end])
        i = end - base
        try:
            while i >= 0:
                dout = grads[base + i]
                arity, a, b, c = back[i]
                i -= 1
                if dout is None or not arity:
                    continue
                # Add, never overwrite: a value used twice gets both contributions.
                if arity == 2:
                    da, db = layers[i + 1].backward(dout)
                    if a >= 0:
                        g = grads[a]
                        grads[a] = da if g is None else g + da
                    if b >= 0:
                        g = grads[b]
                        grads[b] = db if g is None else g + db
                elif arity == 1:
                    da = layers[i + 1].backward(dout)
                    g = grads[a]
                    grads[a] = da if g is None else g + da
                else:
                    da, db, dc = layers[i + 1].backward(dout)
                    if a >= 0:
                        g = grads[a]
                        grads[a] = da if g is None else g + da
                    if b >= 0:
                        g = grads[b]
                        grads[b] = db if g is None else g + db
                    if c >= 0:
                        g = grads[c]
                        grads[c] = dc if g is None else g + dc
        except (ValueError, TypeError, ArithmeticError, IndexError) as err:
            raise _failure(graph, i + 1, " backward", err) from None
        return grads

    def backward_traced(
        self,
        graph: Graph,
        values: list[Any],
        layers: list[Any],
        end: int,
        contributions: list[Contribution],
    ) -> list[Any]:
        """``backward``, also recording every contribution in the order it is added."""
        base = self.n_inputs
        names = self.names
        grads: list[Any] = [None] * len(values)
        grads[end] = _ones_like(values[end])
        for i in range(end - base, -1, -1):
            dout = grads[base + i]
            arity, *wanted = self.back[i]
            if dout is None or not arity:
                continue
            try:
                local = layers[i].backward(dout)
            except (ValueError, TypeError, ArithmeticError, IndexError) as err:
                raise _failure(graph, i, " backward", err) from None
            if self.steps[i][1] == 1:
                local = (local,)
            for s, d in zip(wanted, local, strict=False):
                if s >= 0:
                    grads[s] = d if grads[s] is None else grads[s] + d
                    contributions.append(Contribution(names[base + i], names[s], dout, d, grads[s]))
        return grads


def _surely_finite(items: list[Any]) -> bool:
    """True when every item is a finite float, found with one sum at C speed (an inf or NaN
    carries through a sum of floats); False when unsure, and then the exact scan decides.
    Short lists, where tensors are likely and the exact scan is cheap, go to it directly."""
    if len(items) < 64:
        return False
    try:
        total = sum(items, 0.0)
    except (TypeError, ValueError):
        return False
    return type(total) is float and math.isfinite(total)


def _failure(graph: Graph, i: int, phase: str, err: Exception) -> EvaluationError:
    node = graph.nodes[i]
    message = f"{node.op}{phase} failed in node '{node.name}': {err}"
    return EvaluationError([graph.locate(node.name, message)])


def _exact_layer(graph: Graph, node: NodeDef) -> Any:
    """The exact layer of a node's op, or an error naming the node."""
    from bpcalc.exact import EXACT_LAYERS

    if node.op not in EXACT_LAYERS:
        exact_ops = ", ".join(EXACT_LAYERS)
        message = (
            f"--exact: node '{node.name}' uses {node.op}, which is not exact over the "
            f"rationals (exact ops: {exact_ops})"
        )
        raise EvaluationError([graph.locate(node.name, message)])
    return EXACT_LAYERS[node.op]


def _exact_constant(graph: Graph, node: NodeDef, i: int) -> Any:
    """Argument ``i`` of ``node``, a number, as a Fraction; or an error located at it."""
    from bpcalc.exact import NotExact, to_fraction

    arg = node.args[i]
    assert isinstance(arg, Const)
    try:
        return to_fraction(arg.text)
    except NotExact as err:
        message = f"--exact: node '{node.name}': {err}"
        raise EvaluationError([_locate_arg(graph, node, i, message)]) from None


def _refuse_exponent_name(graph: Graph, node: NodeDef) -> None:
    """Refuse ``x ** n`` for an input or node ``n`` under --exact: d/dn = x**n ln x is not
    rational. An input with ``grad: false`` is fine: its gradient is never computed."""
    exponent = node.args[1]
    if isinstance(exponent, Const):
        return
    if exponent in graph.inputs:
        if not graph.inputs[exponent].grad:
            return
        kind, hint = "input", f", or give input '{exponent}' 'grad: false'"
    else:
        kind, hint = "node", ""
    message = (
        f"--exact: node '{node.name}' has {kind} '{exponent}' as exponent, and "
        f"d/d{exponent} = x ** {exponent} * ln(x) is not rational; write the exponent as a "
        f"number{hint}"
    )
    raise EvaluationError([_locate_arg(graph, node, 1, message)])


def _locate_arg(graph: Graph, node: NodeDef, i: int, message: str) -> Diagnostic:
    """A diagnostic at argument ``i`` of ``node``, as written (expression or explicit form)."""
    source = graph.definition.source
    if node.arg_columns:
        return source.diagnostic(message, node.path, offset=node.arg_columns[i])
    path = (*node.path, "in", i)
    return source.diagnostic(message, path, offset=source.value_column_offset(path))


def _exact_inputs(graph: Graph) -> list[Any]:
    """Input values as Fractions read from the decimals written in the file or --set."""
    from bpcalc.exact import NotExact, exact_value

    values = []
    for name, value in graph.inputs.items():
        try:
            values.append(exact_value(value.source))
        except NotExact as err:
            raise EvaluationError([graph.locate(name, f"--exact: input '{name}': {err}")]) from None
    return values


def _ones_like(value: Any) -> Any:
    import numpy as np

    if is_fraction(value):
        return type(value)(1)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":  # --exact: Fractions, not ints
        return _filled_like(value, 1)
    return np.ones_like(value) if isinstance(value, np.ndarray) else 1.0


def _zeros_like(value: Any) -> Any:
    import numpy as np

    if is_fraction(value):
        return type(value)(0)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":  # --exact: Fractions, not ints
        return _filled_like(value, 0)
    return np.zeros_like(value) if isinstance(value, np.ndarray) else 0.0


def _filled_like(value: Any, number: int) -> Any:
    from fractions import Fraction

    import numpy as np

    return np.full(value.shape, Fraction(number), dtype=object)


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    import numpy as np

    if is_fraction(value) or value.dtype == np.dtype(object):
        return True  # exact rationals are always finite

    return bool(np.isfinite(value).all())


def _non_finite(
    graph: Graph, names: list[str], values: list[Any], grads: dict[str, Any]
) -> list[Diagnostic]:
    """Warnings at the first value and the first gradient that is NaN or infinite."""
    warnings = []
    for name, value in zip(names, values, strict=False):
        if not _finite(value):
            warnings.append(
                graph.locate(
                    name,
                    f"warning: the value of '{name}' is not finite "
                    f"(NaN or infinity first appears here)",
                )
            )
            break
    for name in reversed(names):
        grad = grads[name]
        if grad is not None and not _finite(grad):
            warnings.append(
                graph.locate(
                    name,
                    f"warning: the gradient of '{name}' is not "
                    f"finite (NaN or infinity first appears here)",
                )
            )
            break
    return warnings


# --- loading -------------------------------------------------------------------------------


def load(
    path: str | Path, *, limits: Limits = DEFAULT_LIMITS, allow_outside_files: bool = False
) -> Graph:
    """Load and check a graph file (YAML, or JSON when it ends in .json)."""
    from bpcalc.source import read_text

    path = Path(path)
    text = read_text(path, limits)
    return loads(
        text,
        name=str(path),
        base_dir=path.parent,
        limits=limits,
        allow_outside_files=allow_outside_files,
    )


def loads(
    text: str,
    *,
    name: str = "<string>",
    base_dir: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    allow_outside_files: bool = False,
) -> Graph:
    """Load and check graph text; ``name`` is used in messages and picks JSON by its suffix."""
    with gc_paused():
        source = parse(text, name)
        definition = read_graph(source, base_dir or Path.cwd(), limits)
        graph = build(definition, limits, allow_outside_files=allow_outside_files)
        source.forget_tree()
        return graph


def build(definition: GraphDef, limits: Limits, *, allow_outside_files: bool = False) -> Graph:
    """Resolve names, order the nodes, read input values; report every problem at once."""
    source = definition.source
    problems = list(definition.problems)
    nodes = _unique_nodes(definition, problems)
    known = {inp.name for inp in definition.inputs} | set(nodes)
    for node in nodes.values():
        for i, arg in enumerate(node.args):
            if isinstance(arg, str) and arg not in known and arg not in definition.broken:
                problems.append(
                    _arg_diagnostic(
                        source, node, i, f"unknown name '{arg}'{did_you_mean(arg, known)}"
                    )
                )
    inputs = _read_inputs(definition, limits, allow_outside_files, problems)
    if problems:
        raise GraphError(sorted(problems, key=lambda d: (d.line, d.col)))
    ordered = _topological(nodes, source, known)
    output = _output(definition, ordered, known)
    return Graph(definition, inputs, tuple(ordered), output)


def _unique_nodes(definition: GraphDef, problems: list[Diagnostic]) -> dict[str, NodeDef]:
    input_names = {inp.name for inp in definition.inputs}
    nodes: dict[str, NodeDef] = {}
    for node in definition.nodes:
        if node.name in input_names:
            problems.append(
                definition.source.diagnostic(
                    f"'{node.name}' is already an input; names must be unique", node.path, key=True
                )
            )
        elif node.name not in nodes:  # a repeated sub-expression is the same node
            nodes[node.name] = node
    return nodes


def _arg_diagnostic(source: Source, node: NodeDef, i: int, message: str) -> Diagnostic:
    if node.arg_columns:
        return source.diagnostic(message, node.path, offset=node.arg_columns[i])
    path = (*node.path, "in", i)
    return source.diagnostic(message, path, offset=source.value_column_offset(path))


def _read_inputs(
    definition: GraphDef, limits: Limits, allow_outside_files: bool, problems: list[Diagnostic]
) -> dict[str, InputValue]:
    inputs = {}
    for inp in definition.inputs:
        try:
            inputs[inp.name] = read_input(
                inp.raw,
                base_dir=definition.base_dir,
                limits=limits,
                allow_outside_files=allow_outside_files,
            )
        except InputError as err:
            where = (*inp.path, *err.where)
            problems.append(definition.source.diagnostic(err.message, where, key=err.key))
    return inputs


def _topological(nodes: dict[str, NodeDef], source: Source, known: set[str]) -> list[NodeDef]:
    """Kahn's algorithm; among ready nodes, the one written first goes first."""
    position = {name: i for i, name in enumerate(nodes)}
    if _in_written_order(nodes, position):
        return list(nodes.values())  # what Kahn's algorithm would return, without the heap
    waiting = {name: 0 for name in nodes}
    users: dict[str, list[str]] = {}
    for node in nodes.values():
        for arg in {a for a in node.args if isinstance(a, str) and a in nodes}:
            waiting[node.name] += 1
            users.setdefault(arg, []).append(node.name)
    ready = [position[name] for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    names = list(nodes)
    ordered = []
    while ready:
        name = names[heapq.heappop(ready)]
        ordered.append(nodes[name])
        for user in users.get(name, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, position[user])
    if len(ordered) < len(nodes):
        stuck = {name for name, count in waiting.items() if count > 0}
        cycle = _find_cycle(stuck, nodes, position)
        shown = [*cycle, cycle[0]]
        if len(cycle) > 8:  # a long cycle: its start and end are enough to find it
            shown = [*cycle[:4], "...", *cycle[-2:], cycle[0]]
        count = f" ({len(cycle):,} nodes)" if len(cycle) > 8 else ""
        raise GraphError(
            [
                source.diagnostic(
                    f"cycle: {' -> '.join(shown)}{count}; "
                    f"a graph must not feed a node back into itself",
                    nodes[cycle[0]].path,
                    key=True,
                )
            ]
        )
    return ordered


def _in_written_order(nodes: dict[str, NodeDef], position: dict[str, int]) -> bool:
    """Whether every node comes after the nodes it uses, as in most generated files."""
    for i, node in enumerate(nodes.values()):
        for arg in node.args:
            if isinstance(arg, str) and position.get(arg, -1) >= i:
                return False
    return True


def _find_cycle(stuck: set[str], nodes: dict[str, NodeDef], position: dict[str, int]) -> list[str]:
    """Walk back along inputs that are themselves stuck until a node repeats.

    The cycle is returned in the direction values flow, from its node written first.
    """
    start = min(stuck, key=position.__getitem__)
    seen: dict[str, int] = {}
    walk: list[str] = []
    name = start
    while name not in seen:
        seen[name] = len(walk)
        walk.append(name)
        name = next(a for a in nodes[name].args if isinstance(a, str) and a in stuck)
    cycle = walk[seen[name] :]
    cycle.reverse()
    first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
    return cycle[first:] + cycle[:first]


def _output(definition: GraphDef, ordered: list[NodeDef], known: set[str]) -> str:
    source = definition.source
    if definition.output is not None:
        if definition.output not in known:
            raise GraphError(
                [
                    source.diagnostic(
                        f"output: no input or node named '{definition.output}'"
                        f"{did_you_mean(definition.output, known)}",
                        ("output",),
                    )
                ]
            )
        return definition.output
    used = {a for node in ordered for a in node.args if isinstance(a, str)}
    sinks = [node.name for node in ordered if node.name not in used]
    if len(sinks) == 1:
        return sinks[0]
    where = ("nodes",) if ordered else ()
    if not sinks:
        raise GraphError([source.diagnostic("the graph has no nodes", where)])
    raise GraphError(
        [
            source.diagnostic(
                f"several nodes feed nothing else ({', '.join(sinks)}): "
                f"say which one is the result with 'output: NAME'",
                where,
                key=True,
            )
        ]
    )
