"""`bpcalc ops`: the op table, generated from the registry, and docs/ops.md."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bpcalc.ops.table import OPS
from tests.conftest import Invoke

DOCS_OPS = Path(__file__).resolve().parent.parent / "docs" / "ops.md"


class TestEveryOpIsListed:
    def test_the_terminal_table_has_a_row_per_registry_op(self, invoke: Invoke) -> None:
        """On a terminal every op of the registry appears with its layer class."""
        result = invoke("ops", tty=True)
        assert result.exit_code == 0
        for spec in OPS.values():
            assert spec.name in result.stdout
            assert spec.class_name in result.stdout

    def test_tsv_has_one_line_per_op_in_registry_order(self, invoke: Invoke) -> None:
        """Piped, each op is one TSV line of six fields: the registry's ops, in its order."""
        lines = [line.split("\t") for line in invoke("ops").stdout.splitlines()]
        assert [fields[0] for fields in lines] == list(OPS)
        assert all(len(fields) == 6 for fields in lines)

    def test_json_carries_every_field_of_the_registry(self, invoke: Invoke) -> None:
        """-o json lists each op with its class, inputs, formula and one derivative per input."""
        document = json.loads(invoke("ops", "-o", "json").stdout)
        assert [entry["name"] for entry in document] == list(OPS)
        for entry in document:
            spec = OPS[entry["name"]]
            assert entry["class"] == spec.class_name
            assert entry["inputs"] == list(spec.params)
            assert entry["forward"] == spec.formula
            assert entry["derivatives"] == dict(zip(spec.params, spec.derivatives, strict=True))
            assert entry["notes"] == spec.notes
            assert entry["exact"] is spec.exact

    def test_csv_has_a_header_and_quotes_commas(self, invoke: Invoke) -> None:
        """-o csv starts with the column names and reads back to the registry's fields."""
        rows = list(csv.reader(io.StringIO(invoke("ops", "-o", "csv").stdout)))
        assert rows[0] == ["op", "class", "inputs", "forward", "local derivatives", "notes"]
        affine = next(row for row in rows if row[0] == "affine")
        assert affine[2] == "x, W, b"
        assert len(rows) == len(OPS) + 1


class TestContent:
    def test_book_layers_show_their_local_derivatives(self, invoke: Invoke) -> None:
        """mul's derivatives are the inputs swapped; relu's note states relu'(0) = 0."""
        rows = {line.split("\t")[0]: line.split("\t") for line in invoke("ops").stdout.splitlines()}
        assert rows["mul"][1:5] == ["MulLayer", "x, y", "x * y", "d/dx = y; d/dy = x"]
        assert "relu'(0) = 0" in rows["relu"][5]
        assert rows["sigmoid"][4] == "d/dx = y * (1 - y)"

    def test_a_narrow_terminal_still_shows_every_op(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """At 80 columns op, inputs and class share a cell such as `affine(x, W, b)`."""
        monkeypatch.setattr("bpcalc.output.formats.terminal_width", lambda: 80)
        result = invoke("ops", tty=True)
        assert "affine(x, W, b)" in result.stdout
        assert "softmax_with_loss(x, t)" in result.stdout


class TestDocsOpsMd:
    def test_docs_ops_md_is_up_to_date(self, invoke: Invoke) -> None:
        """docs/ops.md is exactly what `bpcalc ops -o markdown` writes."""
        written = invoke("ops", "-o", "markdown").stdout
        assert DOCS_OPS.read_text(encoding="utf-8") == written, (
            "docs/ops.md is out of date with bpcalc/ops/table.py; regenerate it with:\n"
            "    uv run bpcalc ops -o markdown > docs/ops.md"
        )

    def test_markdown_table_rows_have_eight_cells(self, invoke: Invoke) -> None:
        """Pipes inside cells (sigmoid's |x|) are escaped, so every row has 8 cells."""
        rows = [
            line
            for line in invoke("ops", "-o", "markdown").stdout.splitlines()
            if line.startswith("| `")
        ]
        assert len(rows) == len(OPS)
        for row in rows:
            unescaped = row.replace("\\|", "")
            assert unescaped.count("|") == 9, row
        assert "large \\|x\\|" in next(row for row in rows if row.startswith("| `sigmoid`"))

    def test_the_module_runs_as_a_script(self) -> None:
        """`python -m bpcalc.cli.ops -o markdown` writes the same markdown."""
        done = subprocess.run(
            [sys.executable, "-m", "bpcalc.cli.ops", "-o", "markdown"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == DOCS_OPS.read_text(encoding="utf-8")
