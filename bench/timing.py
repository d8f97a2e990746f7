"""Repeated, interleaved measurements and the table of medians and ratios."""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One measured thing: its samples (seconds), and what it is compared with."""

    label: str
    samples: list[float] = field(default_factory=list)
    baseline: str | None = None  # label of the row this one is divided by
    target: float | None = None  # the ratio to the baseline it should stay within
    per: int = 0  # divide the median by this (nodes) for a per-node figure
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, label: str) -> Row:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(label)

    def ratio(self, row: Row) -> float | None:
        if row.baseline is None:
            return None
        return row.median / self.row(row.baseline).median

    def render(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.rows:
            lines.append("| what | median | per node | ratio | target | n |")
            lines.append("|---|---:|---:|---:|---|---:|")
        for row in self.rows:
            ratio = self.ratio(row)
            ratio_text = f"{ratio:.2f}x {row.baseline}" if ratio is not None else ""
            if row.target is not None and ratio is not None:
                verdict = "met" if ratio <= row.target else "MISSED"
                target_text = f"<= {row.target}x: {verdict}"
            else:
                target_text = ""
            per_node = f"{row.median / row.per * 1e6:.3f} us" if row.per else ""
            label = (row.label + (f" ({row.note})" if row.note else "")).replace("|", "\\|")
            lines.append(
                f"| {label} | {seconds(row.median)} | {per_node} | {ratio_text} | "
                f"{target_text} | {len(row.samples)} |"
            )
        lines += ["", *self.notes]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rows": [
                {
                    "label": r.label,
                    "median_s": r.median,
                    "samples_s": r.samples,
                    "baseline": r.baseline,
                    "ratio": self.ratio(r),
                    "target": r.target,
                    "per": r.per,
                }
                for r in self.rows
            ],
            "notes": self.notes,
        }


def seconds(value: float) -> str:
    if value != value:  # NaN: not measured
        return "-"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} us"


def interleaved(
    table: Table,
    calls: Sequence[tuple[Row, Callable[[], Any]]],
    repeat: int,
    *,
    warmup: int = 1,
    collect: bool = True,
) -> None:
    """Run every call once per round, ``repeat`` rounds, so that drift in the machine's load
    falls on all rows alike; a full collection before each call (``collect``) starts them
    level, for calls long enough that it matters."""
    for row, _ in calls:
        if row not in table.rows:
            table.rows.append(row)
    for _ in range(warmup):
        for _, call in calls:
            call()
    for _ in range(repeat):
        for row, call in calls:
            if collect:
                gc.collect()
            start = time.perf_counter()
            call()
            row.samples.append(time.perf_counter() - start)
    gc.collect()


def command_env() -> dict[str, str]:
    """The environment for timed commands: byte-compiled modules cached as in a normal install
    (this machine sets PYTHONDONTWRITEBYTECODE, which would recompile every module each run)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("COLUMNS", None)
    return env


def run_command(argv: Sequence[str], env: dict[str, str], stdin: bytes | None = None) -> None:
    """Run a command with its stdout a pipe, as in ``cmd | cat``; fail loudly if it fails."""
    result = subprocess.run(argv, input=stdin, capture_output=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.decode()[-500:]}")
