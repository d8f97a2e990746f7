"""Start-up: whole commands, each a fresh process, against interpreters importing the same
libraries. bpcalc runs as the venv's console script (``.venv/bin/bpcalc``), never through
``uv run``, whose own start-up would be measured too."""

from __future__ import annotations

import sys
from pathlib import Path

from timing import Row, Table, command_env, interleaved, run_command


def measure(repeat: int) -> Table:
    python = sys.executable
    script = str(Path(python).parent / "bpcalc")
    env = command_env()
    complete_env = {**env, "_BPCALC_COMPLETE": "bash_complete", "COMP_WORDS": "bpcalc gr"}
    complete_env["COMP_CWORD"] = "1"
    table = Table("Start-up (each a fresh process, stdout a pipe)")
    pass_row = Row("python -c pass")
    heavy = Row('python -c "import numpy, yaml, click"', baseline="python -c pass")
    light = Row('python -c "import click"', baseline="python -c pass")
    help_row = Row("bpcalc --help", baseline=light.label, target=1.2)
    complete_row = Row("bpcalc completion of 'bpcalc gr' (bash)", baseline=light.label)
    grad_row = Row("bpcalc grad apple_orange --wrt apple | cat", baseline=heavy.label, target=0.8)
    run_row = Row("bpcalc run apple_orange | cat", baseline=heavy.label)
    calls = [
        (pass_row, lambda: run_command([python, "-c", "pass"], env)),
        (heavy, lambda: run_command([python, "-c", "import numpy, yaml, click"], env)),
        (light, lambda: run_command([python, "-c", "import click"], env)),
        (help_row, lambda: run_command([script, "--help"], env)),
        (complete_row, lambda: run_command([script], complete_env)),
        (grad_row, lambda: run_command([script, "grad", "apple_orange", "--wrt", "apple"], env)),
        (run_row, lambda: run_command([script, "run", "apple_orange"], env)),
    ]
    interleaved(table, calls, repeat, warmup=2)
    table.notes.append(
        f"Commands: {python} and {script} (the project's venv), wall time of the whole "
        "process as seen by the parent; PYTHONDONTWRITEBYTECODE unset so that the .pyc cache "
        "is used, as in a normal install (the warm-up runs write it)."
    )
    return table
