"""Start-up facts: which libraries each quick command imports, read in a fresh interpreter.

Facts, not timings: ``python -X importtime`` lists every module a process imports, so these
tests hold on any machine however loaded it is. The timings are in bench/run.py.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bpcalc.cli.commands import SHORT_HELP

HEAVY = ("numpy", "rich", "yaml")


def imported_modules(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()
) -> tuple[set[str], str]:
    """Run ``python FLAGS -X importtime -m bpcalc ARGS`` with stdout a pipe; (modules, stdout),
    the modules by full name and by package (``bpcalc.errors`` and ``bpcalc``), leaving out
    what the interpreter imports before bpcalc starts (site hooks: coverage's, under
    ``pytest --cov``, imports dataclasses into every child process)."""
    result = _importtime([*flags, "-m", "bpcalc", *args], cwd, env)
    modules = _modules(result.stderr) - _before_bpcalc(tuple(flags), cwd)
    assert "click" in modules, "importtime output was not read"
    return modules, result.stdout


def _importtime(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _modules(importtime: str) -> set[str]:
    modules = set()
    for line in importtime.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            modules |= {name, name.split(".")[0]}  # bpcalc.errors, and bpcalc
    return modules


@functools.cache
def _before_bpcalc(flags: tuple[str, ...], cwd: Path) -> frozenset[str]:
    """The modules ``python FLAGS -c pass`` imports in this environment."""
    return frozenset(_modules(_importtime([*flags, "-c", "pass"], cwd).stderr))


def completion(words: str, cword: int, cwd: Path) -> tuple[set[str], str]:
    env = {"_BPCALC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return imported_modules([], cwd, env)


class TestHelpAndCompletionStayLight:
    def test_help_imports_neither_numpy_nor_rich_nor_yaml(self, tmp_path: Path) -> None:
        """``bpcalc --help`` lists the commands without importing numpy, rich or PyYAML."""
        modules, stdout = imported_modules(["--help"], tmp_path)
        assert "Usage:" in stdout and "grad" in stdout
        assert modules.isdisjoint(HEAVY), modules & set(HEAVY)

    def test_help_imports_no_more_than_click_and_the_op_table(self, tmp_path: Path) -> None:
        """``bpcalc --help`` leaves out what only a command needs: bpcalc's errors (and
        dataclasses, for the op table is of NamedTuples), and shutil, which click's help
        formatter would import (with zlib, bz2 and lzma) to read the terminal's width."""
        modules, stdout = imported_modules(["--help"], tmp_path)
        assert "Ops: add, sub, mul" in stdout
        assert "bpcalc.ops.table" in modules
        light = {"bpcalc.errors", "dataclasses", "shutil"}
        assert modules.isdisjoint(light), modules & light

    def test_command_help_imports_neither_numpy_nor_rich(self, tmp_path: Path) -> None:
        """``bpcalc grad --help`` shows the options without importing numpy or rich."""
        modules, stdout = imported_modules(["grad", "--help"], tmp_path)
        assert "--wrt" in stdout
        assert modules.isdisjoint({"numpy", "rich"}), modules & {"numpy", "rich"}

    @pytest.mark.parametrize(
        ("words", "cword", "expected"),
        [
            ("bpcalc gr", 1, "grad"),
            ("bpcalc grad --w", 2, "--wrt"),
            ("bpcalc run apple_or", 2, "apple_orange"),
            ("bpcalc grad apple_orange --wrt apple_", 4, "apple_price"),
        ],
    )
    def test_completion_imports_neither_numpy_nor_rich(
        self, tmp_path: Path, words: str, cword: int, expected: str
    ) -> None:
        """Tab completion of commands, options, examples and node names imports no numpy or
        rich (node names need the graph parsed, never evaluated)."""
        modules, stdout = completion(words, cword, tmp_path)
        assert expected in [line.split(",", 1)[1] for line in stdout.splitlines()]
        assert modules.isdisjoint({"numpy", "rich"}), modules & {"numpy", "rich"}

    def test_completing_a_command_name_imports_no_command(self, tmp_path: Path) -> None:
        """``bpcalc gr<TAB>`` takes the name and its help from the command table: neither
        the command's module nor bpcalc's errors are imported for it."""
        modules, stdout = completion("bpcalc gr", 1, tmp_path)
        assert stdout.splitlines() == ["plain,grad"]
        command_modules = {f"bpcalc.cli.{name}" for name in SHORT_HELP} | {"bpcalc.errors"}
        assert modules.isdisjoint(command_modules), modules & command_modules

    def test_the_table_completes_commands_as_click_would(self) -> None:
        """The completions with help (zsh, fish) equal click's own, which imports every
        command: each command is visible, and its short help is the table's."""
        from click.shell_completion import CompletionItem

        from bpcalc.cli import cli

        ctx = click.Context(cli)
        for incomplete in ("", "t", "gr", "x", "-", "--"):
            ours = cli.shell_complete(ctx, incomplete)
            clicks = click.Group.shell_complete(cli, ctx, incomplete)
            assert all(isinstance(item, CompletionItem) for item in ours)
            assert [(c.value, c.help, c.type) for c in ours] == [
                (c.value, c.help, c.type) for c in clicks
            ], incomplete


class TestPipedResultsStayLight:
    def test_grad_in_a_pipe_prints_the_number_without_rich(self, tmp_path: Path) -> None:
        """``bpcalc grad apple_orange --wrt apple | ...`` prints 2.2 and never imports rich."""
        modules, stdout = imported_modules(["grad", "apple_orange", "--wrt", "apple"], tmp_path)
        assert stdout == "2.2\n"
        assert "rich" not in modules

    def test_run_in_a_pipe_writes_tsv_without_rich(self, tmp_path: Path) -> None:
        """``bpcalc run apple_orange | ...`` writes TSV rows and never imports rich."""
        modules, stdout = imported_modules(["run", "apple_orange"], tmp_path)
        assert stdout.splitlines()[0].split("\t") == ["apple", "100.0", "2.2"]
        assert "rich" not in modules

    @pytest.mark.parametrize(
        "args",
        [
            ["grad", "apple_orange", "--wrt", "apple"],
            ["grad", "apple_orange", "--wrt", "apple", "-o", "json"],
            ["run", "apple_orange"],
            ["run", "apple_orange", "-o", "json"],
            ["run", "apple_orange", "-o", "tsv"],
            ["run", "apple_orange", "-o", "csv"],
            ["run", "apple_orange", "-o", "table"],
            ["run", "cs231n", "--set", "x=3"],
            ["trace", "cs231n"],
        ],
    )
    def test_a_graph_of_floats_never_imports_numpy(self, tmp_path: Path, args: list[str]) -> None:
        """Scalar inputs and no attributes: every value is a float, so numpy (a third of the
        start-up) is never imported, whatever the output format."""
        modules, stdout = imported_modules(args, tmp_path)
        assert stdout
        assert "numpy" not in modules

    def test_float_ops_without_attributes_never_import_numpy(self, tmp_path: Path) -> None:
        """math does what these ops need for a float; numpy only stands by for what math
        refuses (sqrt(-1), log(0)), so ordinary values never import it."""
        graph = tmp_path / "floats.yaml"
        graph.write_text(
            "inputs: {x: 0.5, y: 2}\nnodes:\n"
            "  a: sqrt(x) + sin(x) * cos(y) + exp(x) / log(y) - tanh(x) + sigmoid(y)\n"
            "  b: square(a) + softplus(y) - relu(x) + abs(-y) + x - y\n"
            "output: b\n",
            encoding="utf-8",
        )
        for command in ("run", "trace"):
            modules, stdout = imported_modules([command, str(graph)], tmp_path)
            assert "softplus(y)" in stdout
            assert "numpy" not in modules

    def test_a_graph_of_arrays_still_imports_numpy(self, tmp_path: Path) -> None:
        """The same commands on a tensor graph, or with an array set on the command line,
        import numpy and print the arrays (the check above can see numpy)."""
        modules, stdout = imported_modules(["run", "activations", "-o", "json"], tmp_path)
        assert json.loads(stdout)["values"]["x"] == [-2.0, -0.5, 0.0, 0.5, 2.0]
        assert "numpy" in modules
        modules, stdout = imported_modules(
            ["grad", "apple_orange", "--wrt", "apple", "--set", "apple=[1, 2]"], tmp_path
        )
        assert stdout == "[2.2, 2.2]\n"
        assert "numpy" in modules

    def test_floats_that_overflow_give_ieee_results_without_a_warning(self, tmp_path: Path) -> None:
        """Without numpy's errstate (no array, so evaluate sets none), a float op that
        overflows or divides by zero still gives inf or nan, as numpy would, and Python
        prints no RuntimeWarning: -W error would make one fail the command."""
        graph = tmp_path / "ieee.yaml"
        graph.write_text(
            "inputs: {x: 0, y: -1, big: 1000}\n"
            "nodes:\n  a: 1 / x\n  b: log(x)\n  c: sqrt(y)\n  d: big ** big\n"
            "  e: exp(big)\n  f: x ** y + maximum(x, y) + sin(a) + c\n"
            "output: f\n",
            encoding="utf-8",
        )
        _, stdout = imported_modules(["run", str(graph)], tmp_path, flags=("-W", "error"))
        values = {row.split("\t")[0]: row.split("\t")[1] for row in stdout.splitlines()}
        assert [values[name] for name in "abcdef"] == ["inf", "-inf", "nan", "inf", "inf", "nan"]

    def test_importing_the_package_imports_no_heavy_library(self, tmp_path: Path) -> None:
        """``import bpcalc`` alone (the API's entry) imports neither numpy, rich nor PyYAML."""
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, json, bpcalc; print(json.dumps(list(sys.modules)))",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=True,
        )
        modules = {name.split(".")[0] for name in json.loads(result.stdout)}
        assert "bpcalc" in modules
        assert modules.isdisjoint(HEAVY), modules & set(HEAVY)

    def test_the_api_evaluates_a_graph_of_floats_without_numpy(self, tmp_path: Path) -> None:
        """``loads(...).evaluate()`` of scalars, forward and backward, leaves numpy out too."""
        code = (
            "import sys, bpcalc\n"
            "result = bpcalc.loads('inputs: {x: 2, y: 3}\\nnodes:\\n  z: tanh(x * y) + x / y\\n')"
            ".evaluate()\n"
            "print(result.grads['x'], 'numpy' in sys.modules)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=True,
        )
        grad, numpy_imported = result.stdout.split()
        assert float(grad) > 0
        assert numpy_imported == "False"
