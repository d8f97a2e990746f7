"""Shared test helpers: invoking the CLI as a terminal or a pipe would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bpcalc.cli import cli

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run ``bpcalc ARGS`` in-process; ``tty=True`` makes stdout look like a terminal of
    ``columns`` columns ($COLUMNS, which rich and shutil read)."""

    def run(
        *args: str, input: str | bytes | None = None, tty: bool = False, columns: int = 120
    ) -> Result:
        monkeypatch.setattr("bpcalc.output.formats.stdout_is_terminal", lambda: tty)
        monkeypatch.setenv("COLUMNS", str(columns))
        return CliRunner().invoke(
            cli, list(args), input=input, catch_exceptions=False, prog_name="bpcalc"
        )

    return run


@pytest.fixture
def write_graph(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write graph text to a file in a fresh folder and return its path."""

    def write(text: str, name: str = "graph.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
