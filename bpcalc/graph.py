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
from pathlib import Path
from typing import Any

from bpcalc.errors import Diagnostic, EvaluationError, GraphError, UsageProblem, did_you_mean
from bpcalc.limits import DEFAULT_LIMITS, Limits
from bpcalc.numbers import Const
from bpcalc.registry import OPS
from bpcalc.schema import GraphDef, NodeDef, read_graph
from bpcalc.source import Source, parse
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

    def evaluate(self, *, of: str | None = None, trace: bool = False) -> Evaluation:
        """Forward, then backward from ``of`` (default: the output) seeded with 1.

        With ``trace=True`` the result also lists every contribution the backward pass adds.
        """
        target = self.output if of is None else of
        if target not in self.inputs and target not in self._node_by_name:
            raise UsageProblem(self.unknown_name_message(target))
        import numpy as np

        with np.errstate(all="ignore"):
            return self._plan.run(self, target, trace=trace)


class _Plan:
    """The graph compiled to slots: inputs, then nodes, then constants, in one list."""

    def __init__(self, graph: Graph) -> None:
        names = graph.names
        self.n_inputs = len(graph.inputs)
        self.slot = {name: i for i, name in enumerate(names)}
        constants: dict[Const, int] = {}
        self.steps: list[tuple[Any, tuple[int, ...], int]] = []
        for node in graph.nodes:
            slots = []
            for arg in node.args:
                if isinstance(arg, Const):
                    index = constants.setdefault(arg, len(names) + len(constants))
                else:
                    index = self.slot[arg]
                slots.append(index)
            spec = OPS[node.op]
            self.steps.append((spec.layer_class(), tuple(slots), spec.arity))
        self.constants = [c.value for c in constants]
        self.names = names

    def run(self, graph: Graph, target: str, *, trace: bool = False) -> Evaluation:
        values, layers = self.forward(graph)
        wants_grad = [v.grad for v in graph.inputs.values()]
        wants_grad += [True] * len(self.steps) + [False] * len(self.constants)
        contributions: list[Contribution] | None = [] if trace else None
        grads = self.backward(graph, values, layers, wants_grad, self.slot[target], contributions)
        names = self.names
        value_map = dict(zip(names, values, strict=False))
        grad_map = {
            name: (
                None
                if not wants_grad[i]
                else grads[i]
                if grads[i] is not None
                else _zeros_like(values[i])
            )
            for i, name in enumerate(names)
        }
        warnings = _non_finite(graph, names, values, grad_map)
        return Evaluation(graph.name, target, value_map, grad_map, warnings, contributions)

    def forward(self, graph: Graph) -> tuple[list[Any], list[Any]]:
        """Every slot's value; each node's layer keeps what its backward needs."""
        n_in = self.n_inputs
        values: list[Any] = [v.value for v in graph.inputs.values()]
        values += [None] * len(self.steps)
        values += self.constants
        layers: list[Any] = []
        for i, (layer_class, slots, _arity) in enumerate(self.steps):
            layer = layer_class()
            try:
                values[n_in + i] = layer.forward(*[values[s] for s in slots])
            except (ValueError, TypeError, ArithmeticError, IndexError) as err:
                raise _failure(graph, i, "", err) from None
            layers.append(layer)
        return values, layers

    def backward(
        self,
        graph: Graph,
        values: list[Any],
        layers: list[Any],
        wants_grad: list[bool],
        end: int,
        contributions: list[Contribution] | None,
    ) -> list[Any]:
        """Gradients of slot ``end`` with respect to every slot (None where none flows)."""
        n_in = self.n_inputs
        names = self.names
        grads: list[Any] = [None] * len(values)
        grads[end] = _ones_like(values[end])
        for i in range(end - n_in, -1, -1):
            dout = grads[n_in + i]
            _, slots, arity = self.steps[i]
            if dout is None or not any(wants_grad[s] for s in slots):
                continue
            try:
                local = layers[i].backward(dout)
            except (ValueError, TypeError, ArithmeticError, IndexError) as err:
                raise _failure(graph, i, " backward", err) from None
            if arity == 1:
                local = (local,)
            for s, d in zip(slots, local, strict=True):
                if wants_grad[s]:
                    # Add, never overwrite: a value used twice gets both contributions.
                    grads[s] = d if grads[s] is None else grads[s] + d
                    if contributions is not None:
                        contributions.append(
                            Contribution(names[n_in + i], names[s], dout, d, grads[s])
                        )
        return grads


def _failure(graph: Graph, i: int, phase: str, err: Exception) -> EvaluationError:
    node = graph.nodes[i]
    message = f"{node.op}{phase} failed in node '{node.name}': {err}"
    return EvaluationError([graph.locate(node.name, message)])


def _ones_like(value: Any) -> Any:
    import numpy as np

    return np.ones_like(value) if isinstance(value, np.ndarray) else 1.0


def _zeros_like(value: Any) -> Any:
    import numpy as np

    return np.zeros_like(value) if isinstance(value, np.ndarray) else 0.0


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    import numpy as np

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
    source = parse(text, name)
    definition = read_graph(source, base_dir or Path.cwd(), limits)
    return build(definition, limits, allow_outside_files=allow_outside_files)


def build(definition: GraphDef, limits: Limits, *, allow_outside_files: bool = False) -> Graph:
    """Resolve names, order the nodes, read input values; report every problem at once."""
    source = definition.source
    problems = list(definition.problems)
    nodes = _unique_nodes(definition, problems)
    known = {inp.name for inp in definition.inputs} | set(nodes)
    for node in nodes.values():
        for i, arg in enumerate(node.args):
            if isinstance(arg, str) and arg not in known:
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
    return source.diagnostic(message, (*node.path, "in", i))


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
            problems.append(definition.source.diagnostic(err.message, (*inp.path, *err.where)))
    return inputs


def _topological(nodes: dict[str, NodeDef], source: Source, known: set[str]) -> list[NodeDef]:
    """Kahn's algorithm; among ready nodes, the one written first goes first."""
    position = {name: i for i, name in enumerate(nodes)}
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
        cycle = _find_cycle(stuck, nodes)
        first = nodes[min(cycle, key=position.__getitem__)]
        path = " -> ".join([*cycle, cycle[0]])
        raise GraphError(
            [
                source.diagnostic(
                    f"cycle: {path}; a graph must not feed a node back into itself",
                    first.path,
                    key=True,
                )
            ]
        )
    return ordered


def _find_cycle(stuck: set[str], nodes: dict[str, NodeDef]) -> list[str]:
    """Walk back along inputs that are themselves stuck until a node repeats."""
    start = min(stuck, key=list(nodes).index)
    seen: dict[str, int] = {}
    walk: list[str] = []
    name = start
    while name not in seen:
        seen[name] = len(walk)
        walk.append(name)
        name = next(a for a in nodes[name].args if isinstance(a, str) and a in stuck)
    cycle = walk[seen[name] :]
    cycle.reverse()  # report in the direction values flow
    return cycle


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
