"""bpcalc's benchmark: bpcalc and its baselines side by side, in one run.

    uv run --group bench python bench/run.py                    # everything, default sizes
    uv run python bench/run.py --workload startup --repeat 20
    uv run python bench/run.py --workload engine --nodes 10000  # a quick look
    uv run python bench/run.py --workload batch --rows 100000 --repeat 3

Prints a markdown table per workload: the median of the repeats, the figure per node, and
the ratio to the row it is compared with (and the target, where there is one). ``--json``
also saves every sample. Baselines that are not installed (micrograd: the ``bench`` group;
PyTorch: ``pip install torch==2.13.0``) are skipped and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import batch_bench
import engine
import loading
import shapes
import startup
import tensor
import train

WORKLOADS = ("startup", "engine", "memory", "loading", "tensor", "train", "batch")
DEFAULT_REPEAT = {
    "startup": 20,
    "engine": 5,
    "memory": 1,
    "loading": 3,
    "tensor": 200,
    "train": 15,
    "batch": 5,
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import numpy

    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, load average {load:.2f} at start"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-w",
        "--workload",
        action="append",
        choices=WORKLOADS,
        help="Workload to run (repeatable; default: all).",
    )
    parser.add_argument(
        "-r", "--repeat", type=int, help="Repetitions of each measurement (default per workload)."
    )
    parser.add_argument(
        "-n", "--nodes", type=int, default=100_000, help="Nodes in the generated graphs."
    )
    parser.add_argument(
        "--shape",
        action="append",
        choices=("chain", "wide_sum", "random_dag"),
        help="Engine graph shapes (repeatable; default: all).",
    )
    parser.add_argument(
        "--no-cli", action="store_true", help="Loading: skip the whole-command rows."
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="Batch: rows of the --batch file."
    )
    parser.add_argument(
        "--memory-rows", type=int, help="Batch: rows of the larger file (default: 10 x --rows)."
    )
    parser.add_argument("--json", type=Path, help="Also write every sample to this JSON file.")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    chosen = args.workload or list(WORKLOADS)
    if not args.in_process:
        print(f"# bpcalc benchmark\n\n{machine()}\n", flush=True)
    if len(chosen) > 1 or not args.in_process:
        return run_each_apart(chosen, argv if argv is not None else sys.argv[1:], args.json)
    name = chosen[0]
    repeat = args.repeat or DEFAULT_REPEAT[name]
    started = time.perf_counter()
    if name == "startup":
        table = startup.measure(repeat)
    elif name == "engine":
        table = engine.measure(args.nodes, repeat, args.shape or list(shapes.SHAPES))
    elif name == "memory":
        table = engine.measure_memory(args.nodes)
    elif name == "loading":
        table = loading.measure(args.nodes, repeat, cli=not args.no_cli)
    elif name == "train":
        table = train.measure(repeat)
    elif name == "batch":
        table = batch_bench.measure(args.rows, repeat, args.memory_rows or 10 * args.rows)
    else:
        table = tensor.measure(repeat)
    table.notes.append(f"({name}: {time.perf_counter() - started:.0f} s in all)")
    print(table.render(), flush=True)
    if args.json:
        args.json.write_text(json.dumps(table.as_dict(), indent=1), encoding="utf-8")
    return 0


def run_each_apart(chosen: list[str], argv: list[str], json_path: Path | None) -> int:
    """Each workload in a fresh interpreter: no heap, threads or imports left by the one
    before (PyTorch's spinning worker threads slow numpy's BLAS many times over)."""
    passed = [a for a in argv if a not in chosen and a not in ("-w", "--workload")]
    passed = [a for a in passed if not a.startswith("--workload=")]
    if json_path is not None:
        i = passed.index("--json") if "--json" in passed else -1
        passed = passed[:i] + passed[i + 2 :] if i >= 0 else passed
        passed = [a for a in passed if not a.startswith("--json=")]
    tables = []
    with tempfile.TemporaryDirectory() as folder:
        for name in chosen:
            part = Path(folder) / f"{name}.json"
            command = [sys.executable, __file__, "--in-process", "-w", name, *passed]
            # The tensor rows compare numpy with one BLAS thread: on 2 shared cores a second
            # thread waits for a busy core and makes a matrix product several times slower.
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"} if name == "tensor" else None
            status = subprocess.run(
                [*command, "--json", str(part)], check=False, env=env
            ).returncode
            if status != 0:
                print(f"(workload {name} failed with exit status {status})", flush=True)
                continue
            tables.append(json.loads(part.read_text(encoding="utf-8")))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        document = {"machine": machine(), "tables": tables}
        json_path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return 0 if len(tables) == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
