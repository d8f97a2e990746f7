"""Loading a generated graph file end to end (read, parse, check, evaluate) against a plain
parse of the same file plus a hand-written engine, in YAML and in JSON; the whole command
(``bpcalc run FILE -o json``, a process) against a hand-written script that does the same;
and what the cyclic garbage collector costs the YAML parser."""

from __future__ import annotations

import contextlib
import gc
import io
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
from bpcalc.output.reports import print_run


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
        return baselines.hand_engine(yaml.load(read(yaml_path), Loader=loader))

    def json_plain() -> Any:
        return baselines.hand_engine(json.loads(read(json_path)))

    base_yaml = Row("YAML: CSafeLoader load + hand-written engine")
    base_json = Row("JSON: json.loads + hand-written engine")
    calls: list[tuple[Row, Callable[[], Any]]] = [
        (base_yaml, yaml_plain),
        (
            Row("YAML: bpcalc.load(path).evaluate()", baseline=base_yaml.label, target=0.3),
            lambda: bpcalc.load(yaml_path).evaluate(),
        ),
        (base_json, json_plain),
        (
            Row("JSON: bpcalc.load(path).evaluate()", baseline=base_json.label, target=1.0),
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
    for kind, path, base in (("YAML", yaml_path, base_yaml), ("JSON", json_path, base_json)):
        calls.append(
            (
                Row(
                    f"{kind}: bpcalc.load(path).evaluate(), gc off throughout",
                    baseline=base.label,
                ),
                with_gc("off", partial(_load_and_evaluate, path)),
            )
        )
    interleaved(table, calls, repeat)
    stages(table, yaml_path, json_path, repeat)
    if cli:
        command_rows(table, yaml_path, json_path, repeat)
    return table


def _load_and_evaluate(path: Path) -> Any:
    return bpcalc.load(path).evaluate()


def stages(table: Table, yaml_path: Path, json_path: Path, repeat: int) -> None:
    """Where bpcalc's time goes: parse to plain data, check the schema, build, evaluate, write
    the JSON document; each with the collector paused, as bpcalc runs them."""
    for kind, path in (("YAML", yaml_path), ("JSON", json_path)):
        text = read(path)
        source = parse(text, path.name)
        definition = read_graph(source, path.parent, DEFAULT_LIMITS)
        graph = build(definition, DEFAULT_LIMITS)
        source.forget_tree()
        evaluation = graph.evaluate()
        calls: list[tuple[Row, Callable[[], Any]]] = [
            (Row(f"{kind} stage: source.parse (to plain data)"), partial(parse, text, path.name)),
            (
                Row(f"{kind} stage: schema.read_graph"),
                partial(read_graph, source, path.parent, DEFAULT_LIMITS),
            ),
            (Row(f"{kind} stage: graph.build"), partial(build, definition, DEFAULT_LIMITS)),
            (Row(f"{kind} stage: first evaluate()"), partial(_first_evaluate, graph)),
            (
                Row(f"{kind} stage: print_run -o json (to a string)"),
                partial(_json_text, graph, evaluation),
            ),
        ]
        interleaved(table, [(row, with_gc("off", call)) for row, call in calls], repeat)


def _first_evaluate(graph: Any) -> Any:
    return _fresh(graph).evaluate()


def _json_text(graph: Any, evaluation: Any) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_run(graph, evaluation, fmt="json", digits=None)
    return buffer.getvalue()


def _fresh(graph: Any) -> Any:
    import dataclasses

    return dataclasses.replace(graph)


def command_rows(table: Table, yaml_path: Path, json_path: Path, repeat: int) -> None:
    """Whole processes, stdout a pipe: ``bpcalc run FILE -o json`` against a hand-written
    script that reads the file, runs the book-style loop and writes the same JSON document
    (bench/hand_loading.py); and ``bpcalc grad`` against the in-process baselines above."""
    script = str(Path(sys.executable).parent / "bpcalc")
    hand = [sys.executable, str(Path(__file__).resolve().parent / "hand_loading.py")]
    env = command_env()
    calls: list[tuple[Row, Callable[[], Any]]] = []
    for kind, path, target in (("YAML", yaml_path, 0.3), ("JSON", json_path, 1.0)):
        base = Row(f"{kind}: hand-written script, piped (parse, book-style loop, json.dumps)")
        calls += [
            (base, partial(run_command, [*hand, str(path)], env)),
            (
                Row(
                    f"{kind}: bpcalc run {path.name} -o json | cat (a process)",
                    baseline=base.label,
                    target=target,
                ),
                partial(run_command, [script, "run", str(path), "-o", "json"], env),
            ),
            (
                Row(
                    f"{kind}: bpcalc grad {path.name} --wrt u0 | cat (a process)",
                    baseline=f"{kind}: {'CSafeLoader load' if kind == 'YAML' else 'json.loads'}"
                    " + hand-written engine",
                ),
                partial(run_command, [script, "grad", str(path), "--wrt", "u0"], env),
            ),
        ]
    interleaved(table, calls, max(1, repeat // 2 + 1))
