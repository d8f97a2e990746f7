"""The engine on scalar graphs: bpcalc's ``Graph.evaluate`` (forward, backward, every value
and gradient by name) against hand-written engines on the same graph. Loading is excluded:
each graph is loaded once, before timing."""

from __future__ import annotations

import dataclasses
import gc
import math
import tracemalloc
from typing import Any

import baselines
import shapes
from timing import Row, Table, interleaved

import bpcalc
from bpcalc.runtime import gc_paused


def load_program(program: shapes.Program) -> Any:
    return bpcalc.loads(shapes.json_text(program), name=f"{program.name}.json")


def check_same(graph: Any, program: shapes.Program, book: baselines.Run) -> None:
    """bpcalc and the book-style loop must agree, or the timings compare different work."""
    result = graph.evaluate()
    values, grads = book()
    names = [*program.inputs, *(name for name, _, _ in program.nodes)]
    for i in (0, 1, len(names) // 2, len(names) - 1):
        name = names[i]
        assert math.isclose(result.values[name], values[i], rel_tol=1e-9, abs_tol=1e-12), name
        assert math.isclose(result.grads[name], grads[i], rel_tol=1e-9, abs_tol=1e-12), name


def loops_only(graph: Any) -> Any:
    """The engine's own loops, as evaluate() runs them (gc paused), without the Evaluation."""
    graph.evaluate()  # compiles the plan
    plan = graph.plans[False]
    end = plan.index[graph.output]
    assert plan.floats  # these graphs take the backward pass of graphs of floats

    def run() -> Any:
        with gc_paused():
            _, layers = plan.forward(graph)
            return plan._backward_floats(graph, layers, end)

    return run


def read_by_name(graph: Any) -> Any:
    """Reading every value and gradient of an Evaluation by name (what output does): the
    name lookups that evaluate() no longer makes into dicts of its own."""
    result = graph.evaluate()
    names = list(result.values)

    def run() -> Any:
        values, grads = result.values, result.grads
        return [(values[name], grads[name]) for name in names]

    return run


def gc_off(run: Any) -> Any:
    def call() -> Any:
        with gc_paused():
            return run()

    return call


def measure(nodes: int, repeat: int, shape_names: list[str]) -> Table:
    table = Table(f"Engine: forward + backward of {nodes:,}-node scalar graphs, Python API")
    for shape in shape_names:
        program = shapes.SHAPES[shape](nodes)
        n = len(program.nodes)
        graph = load_program(program)
        book = baselines.compile_book(program)
        check_same(graph, program, book)
        label = f"{shape}:"
        book_row = Row(f"{label} book-style layer loop", per=n)
        calls: list[tuple[Row, Any]] = [
            (
                Row(f"{label} bpcalc evaluate()", baseline=book_row.label, target=1.0, per=n),
                graph.evaluate,
            ),
            (
                Row(
                    f"{label} bpcalc first evaluate() (compiles its plan)",
                    baseline=book_row.label,
                    per=n,
                ),
                lambda graph=graph: dataclasses.replace(graph).evaluate(),
            ),
            (
                Row(
                    f"{label} bpcalc forward + backward loops alone (no Evaluation)",
                    baseline=book_row.label,
                    per=n,
                ),
                loops_only(graph),
            ),
            (
                Row(
                    f"{label} reading every value and gradient by name (after evaluate())",
                    baseline=book_row.label,
                    per=n,
                ),
                read_by_name(graph),
            ),
            (book_row, book),
            (
                Row(f"{label} book-style layer loop, gc off", baseline=book_row.label, per=n),
                gc_off(book),
            ),
            (
                Row(f"{label} flat loop over op codes", baseline=book_row.label, per=n),
                baselines.compile_flat(program),
            ),
        ]
        closed = baselines.compile_numpy(program)
        if closed is not None:
            calls.append(
                (Row(f"{label} closed-form numpy", baseline=book_row.label, per=n), closed)
            )
        if baselines.micrograd_available():
            micro_row = Row(f"{label} micrograd (package)", baseline=book_row.label, per=n)
            calls.append((micro_row, baselines.compile_micrograd(program)))
        if baselines.torch_available():
            calls.append(
                (
                    Row(f"{label} PyTorch 0-d float64 tensors", baseline=book_row.label, per=n),
                    baselines.compile_torch(program),
                )
            )
        interleaved(table, calls, repeat)
        if baselines.micrograd_available():
            bpcalc_row = table.row(f"{label} bpcalc evaluate()")
            micro = table.row(f"{label} micrograd (package)")
            speedup = micro.median / bpcalc_row.median
            verdict = "met" if speedup >= 5 else "MISSED"
            table.notes.append(
                f"- {shape}: bpcalc is {speedup:.1f}x faster than micrograd "
                f"(target >= 5x: {verdict})."
            )
        del graph, book, calls
        gc.collect()
    if not baselines.micrograd_available():
        table.notes.append("- micrograd skipped: not installed (uv sync --group bench).")
    if not baselines.torch_available():
        table.notes.append("- PyTorch skipped: not installed (pip install torch==2.13.0).")
    return table


def peak_bytes(run: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_memory(nodes: int, shape: str = "random_dag") -> Table:
    """Peak memory of one evaluation (tracemalloc) at three sizes: linear if bytes per node
    stay level."""
    table = Table(f"Engine memory: peak allocated during one evaluation ({shape})")
    table.notes.append("| nodes | bpcalc evaluate() | per node | book-style loop | per node |")
    table.notes.append("|---:|---:|---:|---:|---:|")
    for size in (nodes // 10, nodes // 2, nodes):
        program = shapes.SHAPES[shape](size)
        graph = load_program(program)
        graph.evaluate()  # the plan is compiled once and kept with the graph
        ours = peak_bytes(graph.evaluate)
        book = peak_bytes(baselines.compile_book(program))
        n = len(program.nodes)
        table.notes.append(
            f"| {n:,} | {ours / 2**20:.1f} MiB | {ours / n:.0f} B | "
            f"{book / 2**20:.1f} MiB | {book / n:.0f} B |"
        )
    return table
