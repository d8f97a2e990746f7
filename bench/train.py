"""Training: one step of ``bpcalc train`` (forward, backward, one update of every param)
against one ``Graph.evaluate()`` of the same graph (what ``bpcalc run`` computes), in the
same process. Loading is excluded; each graph is loaded once, before timing.

    uv run python bench/run.py --workload train

Target: a step costs at most 1.3x an evaluate(). Each row times ``STEPS`` of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timing import Row, Table, interleaved

import bpcalc
from bpcalc.analysis.train import Hyper, Trainer

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
STEPS = 200
CASES = ("optimizer_bowl", "tanh_neuron", "two_layer_net", "xor_net")


def evaluations(graph: Any) -> Any:
    def run() -> None:
        for _ in range(STEPS):
            graph.evaluate()

    return run


def training(trainer: Trainer, optimizer: str) -> Any:
    def run() -> None:
        trainer.run(optimizer, Hyper(lr=1e-6), steps=STEPS)

    return run


def measure(repeat: int) -> Table:
    table = Table(f"Training: {STEPS} steps against {STEPS} evaluate() calls of the same graph")
    for name in CASES:
        graph = bpcalc.load(GRAPHS / f"{name}.yaml")
        graph.evaluate()  # compiles the plan, as a step's first call does
        trainer = Trainer(graph)
        evaluate_row = Row(f"{name}: {STEPS} x evaluate()", per=STEPS)
        calls: list[tuple[Row, Any]] = [(evaluate_row, evaluations(graph))]
        for optimizer in ("sgd", "adam"):
            row = Row(
                f"{name}: {STEPS} steps of {optimizer}",
                baseline=evaluate_row.label,
                target=1.3,
                per=STEPS,
            )
            calls.append((row, training(trainer, optimizer)))
        interleaved(table, calls, repeat)
    table.notes.append(
        "- per node: the time of one step (or one evaluate()); a step reuses the graph's "
        "compiled plan and builds no Evaluation."
    )
    return table
