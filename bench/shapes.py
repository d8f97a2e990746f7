"""Generated scalar graphs for the benchmark: a long chain, a wide sum and a random DAG.

A graph here is plain data (inputs, then nodes in evaluation order, each ``(name, op, args)``)
so that every engine, bpcalc's and the baselines', reads the same thing. ``yaml_text`` and
``json_text`` write it as a bpcalc graph file in the explicit form, as a program would.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Program:
    """A scalar graph: input values, then ``(name, op, args)`` in dependency order."""

    name: str
    inputs: dict[str, float]
    nodes: list[tuple[str, str, tuple[str, ...]]]

    @property
    def output(self) -> str:
        return self.nodes[-1][0]


def chain(n: int) -> Program:
    """``v_i = v_(i-1) * a`` and ``v_i = v_(i-1) + b`` alternately: depth n, a and b fan out n/2."""
    inputs = {"x": 0.5, "a": 1.0001, "b": 0.25}
    nodes: list[tuple[str, str, tuple[str, ...]]] = []
    prev = "x"
    for i in range(n):
        name = f"v{i:06d}"
        nodes.append((name, "mul", (prev, "a")) if i % 2 == 0 else (name, "add", (prev, "b")))
        prev = name
    return Program("chain", inputs, nodes)


def wide_sum(n: int) -> Program:
    """A dot product: n/2 products ``x_i * w_i`` summed by a balanced tree of adds (depth log n)."""
    rng = random.Random(1)
    half = n // 2
    inputs: dict[str, float] = {}
    nodes: list[tuple[str, str, tuple[str, ...]]] = []
    level = []
    for i in range(half):
        inputs[f"x{i:06d}"] = rng.uniform(-1, 1)
        inputs[f"w{i:06d}"] = rng.uniform(-1, 1)
        name = f"p{i:06d}"
        nodes.append((name, "mul", (f"x{i:06d}", f"w{i:06d}")))
        level.append(name)
    count = 0
    while len(level) > 1:
        paired = []
        for j in range(0, len(level) - 1, 2):
            name = f"s{count:06d}"
            count += 1
            nodes.append((name, "add", (level[j], level[j + 1])))
            paired.append(name)
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return Program("wide_sum", inputs, nodes)


def random_dag(n: int, *, seed: int = 0, window: int = 1000) -> Program:
    """A random DAG with fan-out: every 4th node is tanh of the previous one; the others add,
    subtract or multiply the previous node and a random earlier tanh node (so values stay
    bounded and each tanh node feeds about three others)."""
    rng = random.Random(seed)
    inputs = {f"u{k}": rng.uniform(-1, 1) for k in range(8)}
    nodes: list[tuple[str, str, tuple[str, ...]]] = []
    bounded = list(inputs)  # names whose |value| <= 1: the inputs, then every tanh node
    prev = "u0"
    for i in range(n):
        name = f"n{i:06d}"
        if i % 4 == 0:
            nodes.append((name, "tanh", (prev,)))
            bounded.append(name)
        else:
            other = bounded[rng.randrange(max(0, len(bounded) - window), len(bounded))]
            op = ("add", "sub", "mul")[rng.randrange(3)]
            nodes.append((name, op, (prev, other)))
        prev = name
    return Program("random_dag", inputs, nodes)


SHAPES = {"chain": chain, "wide_sum": wide_sum, "random_dag": random_dag}


def yaml_text(program: Program) -> str:
    """The graph as a bpcalc YAML file, nodes in the explicit ``{op: NAME, in: [...]}`` form."""
    lines = [f"name: {program.name}", "inputs:"]
    lines += [f"  {name}: {value!r}" for name, value in program.inputs.items()]
    lines.append("nodes:")
    lines += [
        f"  {name}: {{op: {op}, in: [{', '.join(args)}]}}" for name, op, args in program.nodes
    ]
    lines.append(f"output: {program.output}")
    return "\n".join(lines) + "\n"


def json_text(program: Program) -> str:
    """The same graph as a bpcalc JSON file."""
    document = {
        "name": program.name,
        "inputs": program.inputs,
        "nodes": {name: {"op": op, "in": list(args)} for name, op, args in program.nodes},
        "output": program.output,
    }
    return json.dumps(document, indent=1)
