"""Loading a generated graph file end to end (read, parse, check, evaluate) against a plain
parse of the same file plus a hand-written engine, in YAML and in JSON; and what the cyclic
garbage collector costs the YAML parser."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import baselines
import shapes
import yaml
from timing import Row, Table, command_env, interleaved, run_command

import bpcalc
from bpcalc.limits import DEFAULT_LIMITS
from bpcalc.loading.build import build
from bpcalc.loading.parse import parse
from bpcalc.loading.schema import read_graph


def hand_engine(data: dict[str, Any]) -> Any:
    """A hand-written engine on parsed data: names to indexes, then the book-style loop."""
    inputs = {name: float(value) for name, value in data["inputs"].items()}
    nodes = [(name, node["op"], tuple(node["in"])) for name, node in data["nodes"].items()]
    return baselines.compile_book(shapes.Program(data["name"], inputs, nodes))()


@contextlib.contextmanager
def gc_mode(mode: str) -> Iterator[None]:
    """'on' (as Python starts), 'off' (disabled throughout) or 'freeze' (gc.freeze() first)."""
    if mode == "off":
        gc.disable()
    elif mode == "freeze":
        gc.freeze()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def with_gc(mode: str, call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with gc_mode(mode):
            return call()

    return run


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def measure(nodes: int, repeat: int, *, cli: bool = True) -> Table:
    program = shapes.random_dag(nodes)
    folder = Path(tempfile.mkdtemp(prefix="bpcalc-bench-"))
    yaml_path = folder / "dag.yaml"
    json_path = folder / "dag.json"
    yaml_path.write_text(shapes.yaml_text(program), encoding="utf-8")
    json_path.write_text(shapes.json_text(program), encoding="utf-8")
    size = yaml_path.stat().st_size
    table = Table(
        f"Loading: a {len(program.nodes):,}-node random DAG, end to end "
        f"(YAML {size / 1e6:.1f} MB, JSON {json_path.stat().st_size / 1e6:.1f} MB)"
    )
    loader = yaml.CSafeLoader

    def yaml_plain() -> Any:
        return hand_engine(yaml.load(read(yaml_path), Loader=loader))

    def json_plain() -> Any:
        return hand_engine(json.loads(read(json_path)))

    base_yaml = Row("YAML: CSafeLoader load + hand-written engine")
    base_json = Row("JSON: json.loads + hand-written engine")
    calls: list[tuple[Row, Callable[[], Any]]] = [
        (base_yaml, yaml_plain),
        (
            Row("YAML: bpcalc.load(path).evaluate()", baseline=base_yaml.label, target=1.25),
            lambda: bpcalc.load(yaml_path).evaluate(),
        ),
        (base_json, json_plain),
        (
            Row("JSON: bpcalc.load(path).evaluate()", baseline=base_json.label, target=1.5),
            lambda: bpcalc.load(json_path).evaluate(),
        ),
        (
            Row("JSON: json.loads alone", baseline=base_json.label),
            lambda: json.loads(read(json_path)),
        ),
    ]
    for mode in ("on", "off", "freeze"):
        calls.append(
            (
                Row(f"YAML: CSafeLoader load alone, gc {mode}", baseline=base_yaml.label),
                with_gc(mode, lambda: yaml.load(read(yaml_path), Loader=loader)),
            )
        )
    calls.append(
        (
            Row(
                "YAML: CSafeLoader compose alone, gc off (what bpcalc parses with)",
                baseline=base_yaml.label,
            ),
            with_gc("off", lambda: yaml.compose(read(yaml_path), Loader=loader)),
        )
    )
    calls.append(
        (
            Row("YAML: bpcalc.load(path).evaluate(), gc off throughout", baseline=base_yaml.label),
            with_gc("off", lambda: bpcalc.load(yaml_path).evaluate()),
        )
    )
    interleaved(table, calls, repeat)
    stages(table, yaml_path, json_path, repeat)
    if cli:
        command_rows(table, yaml_path, json_path, repeat)
    return table


def stages(table: Table, yaml_path: Path, json_path: Path, repeat: int) -> None:
    """Where bpcalc's load time goes: parse to plain data, check the schema, build, evaluate."""
    for kind, path in (("YAML", yaml_path), ("JSON", json_path)):
        text = read(path)
        source = parse(text, path.name)
        definition = read_graph(source, path.parent, DEFAULT_LIMITS)
        graph = build(definition, DEFAULT_LIMITS)
        calls: list[tuple[Row, Callable[[], Any]]] = [
            (Row(f"{kind} stage: source.parse (to plain data)"), partial(parse, text, path.name)),
            (
                Row(f"{kind} stage: schema.read_graph"),
                partial(read_graph, source, path.parent, DEFAULT_LIMITS),
            ),
            (Row(f"{kind} stage: graph.build"), partial(build, definition, DEFAULT_LIMITS)),
            (Row(f"{kind} stage: first evaluate()"), partial(_first_evaluate, graph)),
        ]
        interleaved(table, calls, repeat)


def _first_evaluate(graph: Any) -> Any:
    return _fresh(graph).evaluate()


def _fresh(graph: Any) -> Any:
    import dataclasses

    return dataclasses.replace(graph)


def command_rows(table: Table, yaml_path: Path, json_path: Path, repeat: int) -> None:
    script = str(Path(sys.executable).parent / "bpcalc")
    env = command_env()
    base = table.row("YAML: CSafeLoader load + hand-written engine")
    calls = [
        (
            Row("YAML: bpcalc grad dag.yaml --wrt u0 | cat (a process)", baseline=base.label),
            lambda: run_command([script, "grad", str(yaml_path), "--wrt", "u0"], env),
        ),
        (
            Row(
                "JSON: bpcalc grad dag.json --wrt u0 | cat (a process)",
                baseline="JSON: json.loads + hand-written engine",
            ),
            lambda: run_command([script, "grad", str(json_path), "--wrt", "u0"], env),
        ),
    ]
    interleaved(table, calls, max(1, repeat // 2 + 1))
