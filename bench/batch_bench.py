"""`bpcalc run --batch` against a hand-written numpy script, and its memory as files grow.

Run with ``uv run python bench/batch_bench.py`` (``--rows``, ``--repeat``, ``--memory-rows``
to change the sizes). It writes bench/out/rows_1000000.csv (the apple/orange inputs: whole
prices, counts, tax rates to two decimals), then, in one run and interleaved:

- ``bpcalc run apple_orange --batch rows.csv -o csv > out.csv`` and
  ``python bench/batch_numpy_baseline.py rows.csv > base.csv`` (numpy's loadtxt, explicit
  formulas, every number written with repr), each repeated; medians and their ratio. The two
  outputs must be byte for byte the same.
- the peak resident memory of ``bpcalc run --batch`` for 10**6 and 10**7 rows (each run in a
  fresh wrapper process, so ru_maxrss of its one child is that run's peak).

The figures go into docs/performance.md, "## Batch evaluation". Generated data: bench/out/.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BPCALC = str(Path(sys.executable).parent / "bpcalc")
BASELINE = str(HERE / "batch_numpy_baseline.py")
TIME_TARGET = 2.0  # bpcalc within 2x of the numpy script
MEMORY_TARGET = 1.5  # peak memory for 10x the rows within 1.5x


def make_rows(rows: int) -> Path:
    """The apple/orange inputs for ``rows`` rows, made once and kept in bench/out/."""
    path = OUT / f"rows_{rows}.csv"
    if path.exists():
        return path
    OUT.mkdir(exist_ok=True)
    rng = np.random.default_rng(2024)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="ascii") as f:
        f.write("apple,apple_num,orange,orange_num,tax\n")
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            columns = [
                rng.integers(50, 200, n),
                rng.integers(0, 10, n),
                rng.integers(50, 300, n),
                rng.integers(0, 10, n),
            ]
            tax = np.round(rng.uniform(1.0, 1.2, n), 2).tolist()
            f.writelines(
                f"{a},{an},{o},{on},{t!r}\n"
                for a, an, o, on, t in zip(*(c.tolist() for c in columns), tax, strict=True)
            )
    tmp.rename(path)
    return path


def timed(command: list[str], output: Path) -> float:
    """Wall-clock seconds of one run with stdout to a file."""
    with output.open("wb") as out:
        start = time.perf_counter()
        subprocess.run(command, stdout=out, check=True)
        return time.perf_counter() - start


def peak_memory(command: list[str]) -> int:
    """Peak resident memory (bytes) of one run, measured in a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "with open(sys.argv[1], 'wb') as out:\n"
        "    subprocess.run(sys.argv[2:], stdout=out, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, os.devnull, *command],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip()) * 1024  # ru_maxrss is in KiB on Linux


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def bpcalc_command(rows: Path) -> list[str]:
    return [BPCALC, "run", "apple_orange", "--batch", str(rows), "-o", "csv"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, default=10_000_000)
    args = parser.parse_args()

    rows = make_rows(args.rows)
    ours, theirs = OUT / "bpcalc_out.csv", OUT / "numpy_out.csv"
    bpcalc_times, numpy_times = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        bpcalc_times.append(timed(bpcalc_command(rows), ours))
        numpy_times.append(timed([sys.executable, BASELINE, str(rows)], theirs))
    same = filecmp.cmp(ours, theirs, shallow=False)
    bpcalc_median, numpy_median = statistics.median(bpcalc_times), statistics.median(numpy_times)
    ratio = bpcalc_median / numpy_median

    big = make_rows(args.memory_rows)
    small_peak = peak_memory(bpcalc_command(rows))
    big_peak = peak_memory(bpcalc_command(big))
    numpy_peak = peak_memory([sys.executable, BASELINE, str(rows)])
    memory_ratio = big_peak / small_peak

    mib = 1024 * 1024
    bpcalc_runs = ", ".join(f"{t:.2f}" for t in bpcalc_times)
    numpy_runs = ", ".join(f"{t:.2f}" for t in numpy_times)
    lines = [
        f"Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs",
        "",
        f"| what | median of {args.repeat} | runs (s) |",
        "|---|---:|---|",
        f"| `bpcalc run apple_orange --batch rows.csv -o csv`, {args.rows:,} rows "
        f"| {bpcalc_median:.2f} s | {bpcalc_runs} |",
        f"| numpy script (bench/batch_numpy_baseline.py), same rows "
        f"| {numpy_median:.2f} s | {numpy_runs} |",
        "",
        f"bpcalc / numpy: {ratio:.2f}x (target <= {TIME_TARGET}x: "
        f"{_verdict(ratio, TIME_TARGET)}); outputs byte-identical: {'yes' if same else 'NO'}",
        "",
        "| peak resident memory | MiB |",
        "|---|---:|",
        f"| bpcalc, {args.rows:,} rows | {small_peak / mib:.0f} |",
        f"| bpcalc, {args.memory_rows:,} rows | {big_peak / mib:.0f} |",
        f"| numpy script, {args.rows:,} rows (reads the whole file) | {numpy_peak / mib:.0f} |",
        "",
        f"bpcalc {args.memory_rows:,} / {args.rows:,} rows: {memory_ratio:.2f}x "
        f"(target <= {MEMORY_TARGET}x: {_verdict(memory_ratio, MEMORY_TARGET)})",
    ]
    print("\n".join(lines))
    if not same:
        sys.exit("the two outputs differ")


if __name__ == "__main__":
    main()
