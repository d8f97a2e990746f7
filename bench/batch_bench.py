"""`bpcalc run --batch` against a hand-written numpy script, and its memory as files grow.

The ``batch`` workload of bench/run.py (``uv run python bench/run.py -w batch``, with
``--rows`` and ``--memory-rows`` for the sizes); ``python bench/batch_bench.py`` runs it
alone. It writes bench/out/rows_1000000.csv (the apple/orange inputs: whole prices, counts,
tax rates to two decimals), then:

- ``bpcalc run apple_orange --batch rows.csv -o csv > out.csv`` and
  ``python bench/batch_numpy_baseline.py rows.csv > base.csv`` (numpy's loadtxt, explicit
  formulas, every number written with repr), interleaved and repeated, each a fresh process
  with stdout a file; medians and their ratio. The two outputs must be byte for byte the same.
- the peak resident memory of ``bpcalc run --batch`` for 10**6 and 10**7 rows (each run in a
  fresh wrapper process, so ru_maxrss of its one child is that run's peak).

Generated data: bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from timing import Row, Table, command_env, interleaved

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BPCALC = str(Path(sys.executable).parent / "bpcalc")
BASELINE = str(HERE / "batch_numpy_baseline.py")
TIME_TARGET = 0.3  # bpcalc within 0.3x of the numpy script (issue 15)
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


def to_file(command: list[str], output: Path, env: dict[str, str]) -> Callable[[], None]:
    """A call that runs ``command`` with its stdout written to ``output``."""

    def run() -> None:
        with output.open("wb") as out:
            subprocess.run(command, stdout=out, env=env, check=True)

    return run


def peak_memory(command: list[str], env: dict[str, str]) -> int:
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
        env=env,
        check=True,
    )
    return int(result.stdout.strip()) * 1024  # ru_maxrss is in KiB on Linux


def bpcalc_command(rows: Path) -> list[str]:
    return [BPCALC, "run", "apple_orange", "--batch", str(rows), "-o", "csv"]


def measure(rows: int, repeat: int, memory_rows: int) -> Table:
    """The time rows (bpcalc against the numpy script) and the peak memory, in one table."""
    env = command_env()
    path = make_rows(rows)
    table = Table(f"Batch: `bpcalc run apple_orange --batch rows.csv -o csv`, {rows:,} rows")
    ours, theirs = OUT / "bpcalc_out.csv", OUT / "numpy_out.csv"
    numpy_row = Row("numpy script (bench/batch_numpy_baseline.py)", per=rows)
    bpcalc_row = Row(
        "bpcalc run apple_orange --batch rows.csv -o csv",
        baseline=numpy_row.label,
        target=TIME_TARGET,
        per=rows,
    )
    calls = [
        (numpy_row, to_file([sys.executable, BASELINE, str(path)], theirs, env)),
        (bpcalc_row, to_file(bpcalc_command(path), ours, env)),
    ]
    interleaved(table, calls, repeat)
    if not filecmp.cmp(ours, theirs, shallow=False):
        raise RuntimeError(f"the two outputs differ: {ours} {theirs}")
    table.notes.append("- per node: per row. The two outputs are byte for byte the same.")

    small_peak = peak_memory(bpcalc_command(path), env)
    big_peak = peak_memory(bpcalc_command(make_rows(memory_rows)), env)
    numpy_peak = peak_memory([sys.executable, BASELINE, str(path)], env)
    ratio = big_peak / small_peak
    verdict = "met" if ratio <= MEMORY_TARGET else "MISSED"
    mib = 1024 * 1024
    table.notes += [
        "",
        "| peak resident memory | MiB |",
        "|---|---:|",
        f"| bpcalc, {rows:,} rows | {small_peak / mib:.0f} |",
        f"| bpcalc, {memory_rows:,} rows | {big_peak / mib:.0f} |",
        f"| numpy script, {rows:,} rows (reads the whole file) | {numpy_peak / mib:.0f} |",
        "",
        f"bpcalc {memory_rows:,} / {rows:,} rows: {ratio:.2f}x "
        f"(target <= {MEMORY_TARGET}x: {verdict})",
    ]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, help="Default: 10 x --rows.")
    args = parser.parse_args()
    print(measure(args.rows, args.repeat, args.memory_rows or 10 * args.rows).render())


if __name__ == "__main__":
    main()
