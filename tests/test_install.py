"""An installed ``bpcalc`` (a wheel in its own environment) runs the bundled examples anywhere.

README's Install section says ``uv tool install .`` or ``pipx install .``: both build the
wheel and put its ``bpcalc`` script on PATH. This test does the same by hand, without the
network: the wheel from ``uv build``, its dependencies from ``uv.lock`` (uv's cache has them
once ``uv sync`` ran), then ``bpcalc`` run from a folder that is not the clone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv")

pytestmark = pytest.mark.skipif(UV is None, reason="uv is not on PATH: cannot build the wheel")


def uv(*args: str, env: dict[str, str] | None = None) -> None:
    assert UV is not None
    result = subprocess.run(
        [UV, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bpcalc`` script of a fresh environment that has the built wheel installed."""
    base = tmp_path_factory.mktemp("install")
    venv = base / "venv"
    uv("build", "--offline", "--wheel", "--out-dir", str(base / "dist"), "-q")
    (wheel,) = (base / "dist").glob("bpcalc-*.whl")
    # The locked dependencies, not the project: it comes from the wheel, not editable.
    uv(
        *("sync", "--frozen", "--no-dev", "--no-install-project", "--offline", "-q"),
        env={"UV_PROJECT_ENVIRONMENT": str(venv), "VIRTUAL_ENV": ""},
    )
    python = venv / "bin" / "python"
    uv("pip", "install", "--offline", "--no-deps", "-q", "--python", str(python), str(wheel))
    script = venv / "bin" / "bpcalc"
    assert script.exists()
    return script


def run(script: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_installed_bpcalc_runs_a_bundled_example_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    """`bpcalc run apple_orange` works outside the clone: the examples ship in the wheel."""
    result = run(installed, tmp_path, "run", "apple_orange")
    assert result.returncode == 0, result.stderr
    assert "price\t715.0000000000001\t1.0" in result.stdout.splitlines()
    assert run(installed, tmp_path, "grad", "apple_orange", "--wrt", "tax").stdout == "650.0\n"


def test_installed_bpcalc_lists_and_prints_the_examples(installed: Path, tmp_path: Path) -> None:
    """`bpcalc examples` lists every bundled graph, and prints one, from the installed copy."""
    listed = run(installed, tmp_path, "examples").stdout.splitlines()
    names = [line.split("\t")[0] for line in listed]
    assert names == sorted(p.stem for p in (ROOT / "graphs").glob("*.yaml"))
    shown = run(installed, tmp_path, "examples", "apple_orange").stdout
    assert shown == (ROOT / "graphs" / "apple_orange.yaml").read_text(encoding="utf-8")
    where = subprocess.run(
        [str(installed.parent / "python"), "-c", "import bpcalc; print(bpcalc.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert not where.startswith(str(ROOT)), where  # the wheel's copy, not the clone
