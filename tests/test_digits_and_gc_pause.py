"""Two defects the speed-ups of issue 15 brought to light: --digits rounding a finite number
past float64 (now written whole), and a long GC pause keeping a caller's cyclic garbage."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Invoke

WriteGraph = Callable[..., Path]

BIG = "1.7976931348623157e+308"  # the largest float64: to 3 digits, 1.8e+308 is past it
BIG_GRAPH = f"inputs:\n  x: {BIG}\n  y: 1.0\nnodes:\n  z: x * y\noutput: z\n"


class TestDigitsNearTheLargestFloat:
    """--digits rounds; it never turns a finite number into infinity, nor fails to write it."""

    def test_json_keeps_a_number_that_rounding_would_make_infinite(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        path = write_graph(BIG_GRAPH)
        result = invoke("run", str(path), "-o", "json", "--digits", "3")
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert document["values"] == {"x": float(BIG), "y": 1.0, "z": float(BIG)}
        assert document["grads"]["y"] == float(BIG)

    def test_grad_json_and_tsv_read_back_finite(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        path = write_graph(BIG_GRAPH)
        result = invoke("grad", str(path), "--wrt", "y", "-o", "json", "--digits", "3")
        assert json.loads(result.stdout) == {"y": float(BIG)}
        for fmt in ("tsv", "csv"):
            result = invoke("run", str(path), "-o", fmt, "--digits", "3")
            cells = result.stdout.replace(",", "\t").split()
            assert BIG in cells
            assert not any(c.endswith("e+308") and math.isinf(float(c)) for c in cells)

    def test_a_table_shows_the_rounding(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        path = write_graph(BIG_GRAPH)
        result = invoke("run", str(path), "-o", "table", "--digits", "3")
        assert "1.8e+308" in result.stdout
        assert "inf" not in result.stdout

    def test_batch_rows_keep_it(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        path = write_graph(BIG_GRAPH)
        rows = tmp_path / "rows.csv"
        rows.write_text(f"x\n{BIG}\n-{BIG}\n", encoding="utf-8")
        result = invoke(
            "grad", str(path), "--wrt", "y", "--batch", str(rows), "-o", "json", "--digits", "3"
        )
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line["z"] for line in lines] == [float(BIG), -float(BIG)]
        result = invoke(
            "grad", str(path), "--wrt", "y", "--batch", str(rows), "-o", "csv", "--digits", "3"
        )
        assert result.stdout.splitlines()[1:] == [f"{BIG},{BIG},{BIG}", f"-{BIG},-{BIG},-{BIG}"]


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_long_pause_does_not_keep_the_callers_cyclic_garbage() -> None:
    """A cycle the program dropped just before a long pause (loading or compiling a large
    graph) is collected as before, not moved to the oldest generation to wait for a full
    collection: a loop of such calls would otherwise hold memory without bound."""
    import gc
    import weakref

    from bpcalc.runtime import PROMOTE_AFTER, gc_paused

    assert gc.isenabled()
    gc.collect()
    dropped = _Cycle()
    alive = weakref.ref(dropped)
    del dropped  # garbage now, in the young generation
    with gc_paused():
        kept = [[i] for i in range(2 * PROMOTE_AFTER)]
    assert alive() is None
    assert len(kept) == 2 * PROMOTE_AFTER


def test_evaluating_large_graphs_in_a_loop_keeps_no_cyclic_garbage() -> None:
    import gc
    import weakref

    import bpcalc
    from bpcalc.loading.inputs import InputValue

    n = 30_000
    lines = ["inputs:", "  x: 1.0", "nodes:", "  n0: x * 2.0"]
    lines += [f"  n{i}: n{i - 1} + x" for i in range(1, n)]
    graph = bpcalc.loads("\n".join(lines))
    gc.collect()
    refs = []
    for step in range(3):
        dropped = _Cycle()
        refs.append(weakref.ref(dropped))
        del dropped
        graph.with_inputs({"x": InputValue(float(step))}).evaluate()  # a new plan each time
    assert [r() for r in refs] == [None, None, None]


def test_train_loss_rows_keep_a_number_that_rounding_would_make_infinite() -> None:
    from bpcalc.analysis.train import TrainResult
    from bpcalc.output.train_report import loss_rows

    result = TrainResult("sgd", 0.1, 2, {}, loss=[float(BIG), 1.23456])
    assert loss_rows([result], 3) == [["1", BIG], ["2", "1.23"]]
