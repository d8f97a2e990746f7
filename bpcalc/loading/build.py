"""From a parsed graph definition to a checked ``Graph``: names resolved, nodes in
dependency order, input values read, the output found; every problem reported at once."""

from __future__ import annotations

import heapq
from dataclasses import replace
from itertools import chain
from operator import attrgetter
from pathlib import Path

from bpcalc.errors import MAX_SHOWN, Diagnostic, GraphError, NameIndex, did_you_mean
from bpcalc.limits import DEFAULT_LIMITS, Limits
from bpcalc.loading.expressions import Arg
from bpcalc.loading.graph import Graph
from bpcalc.loading.inputs import InputError, InputValue, read_input
from bpcalc.loading.parse import Source, parse
from bpcalc.loading.schema import GraphDef, NodeDef, read_graph
from bpcalc.ops.table import OPS
from bpcalc.runtime import gc_paused


def load(
    path: str | Path, *, limits: Limits = DEFAULT_LIMITS, allow_outside_files: bool = False
) -> Graph:
    """Load and check a graph file (YAML, or JSON when it ends in .json)."""
    from bpcalc.loading.parse import read_text

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
    """Load and check graph text; ``name`` is used in messages and picks JSON by its suffix.

    ``file:`` paths are relative to ``base_dir``; without it, text has no folder and
    ``file:`` inputs are refused (never looked for in the current folder).
    """
    with gc_paused():
        source = parse(text, name, limits)
        definition = read_graph(source, base_dir, limits)
        graph = build(definition, limits, allow_outside_files=allow_outside_files)
        source.forget_tree()
        return graph


def build(definition: GraphDef, limits: Limits, *, allow_outside_files: bool = False) -> Graph:
    """Resolve names, order the nodes, read input values; report every problem at once."""
    source = definition.source
    problems = list(definition.problems)
    nodes = _unique_nodes(definition, problems)
    known = {inp.name for inp in definition.inputs} | set(nodes)
    unknown: dict[int, str] = {}  # id of a problem -> the unknown name it is about
    strays: set[Arg] = set()
    if not definition.in_order or problems:
        strays = set(chain.from_iterable(map(attrgetter("args"), nodes.values()))) - known
    named = any(isinstance(arg, str) for arg in strays)  # else only numbers: nothing unknown
    for node in nodes.values() if named else ():
        for i, arg in enumerate(node.args):
            if isinstance(arg, str) and arg not in known and arg not in definition.broken:
                if arg in OPS:  # `c: relu`: an op named without its arguments
                    call = f"{arg}({', '.join(OPS[arg].params)})"
                    message = f"'{arg}' is an op, not a name: call it on its arguments, as {call}"
                    problems.append(_arg_diagnostic(source, node, i, message))
                    continue
                problem = _arg_diagnostic(source, node, i, f"unknown name '{arg}'")
                unknown[id(problem)] = arg
                problems.append(problem)
    inputs = _read_inputs(definition, limits, allow_outside_files, problems)
    if problems:
        problems.sort(key=lambda d: (d.line, d.col))
        raise GraphError(_with_hints(problems, unknown, known))
    ordered = list(nodes.values()) if definition.in_order else _topological(nodes, source, known)
    output = _output(definition, ordered, known)
    return Graph(definition, inputs, tuple(ordered), output)


def _with_hints(
    problems: list[Diagnostic], unknown: dict[int, str], known: set[str]
) -> list[Diagnostic]:
    """ "Did you mean" hints for the unknown names among the messages that are printed only:
    a hint compares a name with every known name, and thousands of them took minutes."""
    if not unknown:
        return problems
    index = NameIndex(known)
    for k, problem in enumerate(problems[:MAX_SHOWN]):
        name = unknown.get(id(problem))
        if name is not None:
            problems[k] = replace(problem, message=problem.message + did_you_mean(name, index))
    return problems


def _unique_nodes(definition: GraphDef, problems: list[Diagnostic]) -> dict[str, NodeDef]:
    input_names = {inp.name for inp in definition.inputs}
    nodes = dict(zip(map(attrgetter("name"), definition.nodes), definition.nodes, strict=True))
    if len(nodes) == len(definition.nodes) and input_names.isdisjoint(nodes):
        return nodes  # every name once, the usual case: what the loop below gives
    nodes = {}
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
    if _in_written_order(nodes):
        return list(nodes.values())  # what Kahn's algorithm would return, without the heap
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


def _in_written_order(nodes: dict[str, NodeDef]) -> bool:
    """Whether every node comes after the nodes it uses, as in most generated files."""
    ahead = set(nodes)  # the node itself and those written after it
    for node in nodes.values():
        if not ahead.isdisjoint(node.args):
            return False
        ahead.discard(node.name)
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
