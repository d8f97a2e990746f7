"""Issue 9, items 6, 8 and 12 (tables), and the escaping part of 14: text from a graph file
never drives a terminal or breaks a document; CSV for spreadsheets; long tables in linear time.

- Control, bidi and invisible format characters are escaped by one function
  (bpcalc.errors.printable) in every output for people, and written as JSON escapes in JSON.
- Names cannot carry them: names are identifiers, and expressions holding one are refused.
- SVG is always well-formed XML; DOT labels survive Graphviz's ``\\G``/``\\N``/``\\L``.
- ``--excel-safe`` makes names and headers formula-safe in CSV/TSV; the default is lossless.
- A table of 100,000 rows prints in seconds, with the look of rich's.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bpcalc.output.formats as render
from bpcalc.analysis.drawing import Drawing, Edge
from bpcalc.errors import printable
from bpcalc.output.drawings import html_text, render_image, to_dot
from tests.conftest import Invoke
from tests.test_hostile import LARGE_SECONDS, PEAK_MB, spawn

SVG = "{http://www.w3.org/2000/svg}"
GRAPHVIZ = shutil.which("dot") is not None
needs_graphviz = pytest.mark.skipif(not GRAPHVIZ, reason="Graphviz's dot is not installed")

# What a terminal must never receive raw: every control (Cc), format (Cf), surrogate (Cs),
# line and paragraph separator character, except tab, newline and the two joiners.
PASSES = {"\t", "\n", "\u200c", "\u200d"}


def raw_unsafe(text: str) -> list[str]:
    """The characters of ``text`` that would drive a terminal or hide text, as written."""
    return [
        ch
        for ch in text
        if ch not in PASSES
        and (unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") or ch in "\ufffe\uffff")
    ]


# name: and description: are free text; in a JSON graph file they can hold anything.
HOSTILE_NAME = "evil\x1b[2J\x1b]0;title\x07\u202e C:\\Games \x85\ufffe\ud800"
HOSTILE_DESCRIPTION = "desc\x1b[31m\u200f\u061c\u200b\u2066\U000e0041"
HOSTILE = json.dumps(
    {
        "name": HOSTILE_NAME,
        "description": HOSTILE_DESCRIPTION,
        "inputs": {"x": 2, "y": 3},
        "nodes": {"a": "(x * y) + 1", "b": "(-a) * 2"},
        "output": "b",
    }
)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.json"
    path.write_text(HOSTILE, encoding="utf-8")
    return path


class TestOnePrintableFunction:
    def test_every_control_format_and_separator_character_is_escaped(self) -> None:
        """printable escapes all of Cc, Cf, Cs, Zl, Zp (this Python's Unicode) but tab and the
        joiners; the escapes are plain ASCII."""
        left = [
            f"U+{code:04X}"
            for code in range(0x110000)
            if raw_unsafe(chr(code)) and printable(chr(code)) == chr(code)
        ]
        assert left == []
        assert printable("a\tb\u200dc") == "a\tb\u200dc"

    def test_the_escapes_read_like_python_literals(self) -> None:
        assert printable("\x1b[2J\n\r\x85\u202e\U000e0041\ud800") == (
            "\\x1b[2J\\n\\r\\x85\\u202e\\U000e0041\\ud800"
        )

    @pytest.mark.parametrize(
        ("char", "shown"), [("\u200f", "\\u200f"), ("\u061c", "\\u061c"), ("\u200b", "\\u200b")]
    )
    def test_rlm_alm_and_zero_width_space_are_escaped_in_messages(
        self, invoke: Invoke, write_graph: Any, char: str, shown: str
    ) -> None:
        """Item 14: U+200F, U+061C and U+200B reached messages raw."""
        path = write_graph(f'inputs:\n  "a{char}b": 1\nnodes:\n  y: x\n')
        result = invoke("run", str(path))
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.splitlines()[0] == (
            f"{path}:2:3: 'a{shown}b' is not a valid name: use letters, digits and _, "
            f"not starting with a digit"
        )
        assert raw_unsafe(result.stderr) == []


class TestNamesCannotCarryThem:
    @pytest.mark.parametrize(
        ("text", "code", "col"),
        [
            ('"(x # \\e[2J\\n * y) + 1"', "001B", 12),
            ('"x + 1 # \\u202e evil"', "202E", 15),
            ('"x +\\u200b 1"', "200B", 10),
        ],
    )
    def test_an_expression_with_one_is_refused_where_it_is(
        self, invoke: Invoke, write_graph: Any, text: str, code: str, col: int
    ) -> None:
        """In a comment it would become part of a sub-expression's name, and so of every
        output, TSV, CSV and JSON included."""
        path = write_graph(f"inputs:\n  x: 2\n  y: 3\nnodes:\n  a: {text}\n")
        result = invoke("run", str(path), "-o", "tsv")
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.splitlines()[0] == (
            f"{path}:5:{col}: invisible or control character U+{code} in an expression "
            f"(comments included); remove it"
        )
        assert "Traceback" not in result.stderr

    def test_tabs_and_line_breaks_in_an_expression_are_fine(
        self, invoke: Invoke, write_graph: Any
    ) -> None:
        path = write_graph('inputs:\n  x: 2\nnodes:\n  a: "(x\\t*\\n 3) # three x"\n')
        result = invoke("run", str(path), "-o", "tsv")
        assert (result.exit_code, result.stdout) == (0, "x\t2.0\t3.0\na\t6.0\t1.0\n")


class TestHumanOutputsAreEscaped:
    @pytest.mark.parametrize(
        "args",
        [
            ("run", "-o", "table"),
            ("grad", "--wrt", "x", "-o", "table"),
            ("trace",),
            ("trace", "-o", "rich"),
            ("draw", "-o", "text"),
            ("draw", "-o", "dot"),
            ("draw", "-o", "mermaid"),
            ("sweep", "x=1:2:3", "-o", "table"),
        ],
    )
    def test_no_raw_control_character_reaches_stdout(
        self, invoke: Invoke, hostile: Path, args: tuple[str, ...]
    ) -> None:
        result = invoke(args[0], str(hostile), *args[1:])
        assert result.exit_code == 0, result.stderr
        assert raw_unsafe(result.stdout.replace("\n", "")) == []

    def test_the_table_shows_the_title_escaped(self, invoke: Invoke, hostile: Path) -> None:
        first = invoke("run", str(hostile), "-o", "table").stdout.splitlines()[0]
        assert first.startswith("evil\\x1b[2J\\x1b]0;title\\x07\\u202e")

    def test_the_sweep_title_is_escaped(self, invoke: Invoke, hostile: Path) -> None:
        first = invoke("sweep", str(hostile), "x=1:2:3", "-o", "table").stdout.splitlines()[0]
        assert first == (
            "evil\\x1b[2J\\x1b]0;title\\x07\\u202e C:\\Games \\x85\\ufffe\\ud800: b over x "
            "(3 points)"
        )

    def test_a_sweep_svg_is_well_formed_xml(self, invoke: Invoke, hostile: Path) -> None:
        result = invoke("sweep", str(hostile), "x=1:2:3", "-o", "svg")
        assert result.exit_code == 0
        root = ET.fromstring(result.stdout)
        assert root.findtext(f"{SVG}title") == printable(HOSTILE_NAME) + ": b over x"

    @needs_graphviz
    def test_a_drawn_svg_is_well_formed_xml(self, invoke: Invoke, hostile: Path) -> None:
        result = invoke("draw", str(hostile), "-o", "svg", "--engine", "graphviz")
        assert result.exit_code == 0, result.stderr
        root = ET.fromstring(result.stdout)
        texts = [element.text or "" for element in root.iter(f"{SVG}text")]
        assert f"{printable(HOSTILE_NAME)} — {printable(HOSTILE_DESCRIPTION)}" in texts

    def test_the_builtin_svg_is_well_formed_xml(self, invoke: Invoke, hostile: Path) -> None:
        result = invoke("draw", str(hostile), "-o", "svg")
        assert result.exit_code == 0, result.stderr
        root = ET.fromstring(result.stdout)
        texts = [element.text or "" for element in root.iter(f"{SVG}text")]
        assert f"{printable(HOSTILE_NAME)} — {printable(HOSTILE_DESCRIPTION)}" in texts


class TestJsonIsLosslessButNeverRaw:
    def test_run_json_escapes_them_and_reads_back_exactly(
        self, invoke: Invoke, hostile: Path
    ) -> None:
        result = invoke("run", str(hostile), "-o", "json")
        assert result.exit_code == 0
        assert raw_unsafe(result.stdout.rstrip("\n")) == []
        assert json.loads(result.stdout)["graph"] == HOSTILE_NAME
        assert '"graph": "evil\\u001b[2J\\u001b]0;title\\u0007\\u202e C:\\\\Games \\u0085' in (
            result.stdout
        )


class TestGraphvizBackslashes:
    def test_labels_double_every_backslash(self) -> None:
        """Graphviz reads \\G, \\N, \\L, \\E, \\H, \\T in label text; \\\\ is a backslash."""
        assert html_text("C:\\Games \\N") == "C:\\\\Games \\\\N"

    @needs_graphviz
    @pytest.mark.parametrize("text", ["C:\\Games", "\\N \\L \\E \\H \\T", "end\\", "a\\\\b"])
    def test_graphviz_shows_a_backslash_as_written(self, text: str) -> None:
        """With real dot: the graph's title and an edge's name label read as written (before,
        C:\\Games showed as C: + the graph's name + ames)."""
        drawing = Drawing("mygraph", text, "out")
        source = drawing.add("x", "input", "x")
        node = drawing.add(text, "op", text, "neg")
        target = drawing.add("out", "op", "out", "neg")
        drawing.edges += [Edge(source, node, 1.0, 1.0), Edge(node, target, -1.0, 1.0)]
        root = ET.fromstring(render_image(to_dot(drawing), "svg"))
        texts = [element.text or "" for element in root.iter(f"{SVG}text")]
        assert texts.count(text) == 2  # the title, and the name above the edge out of the node


class TestExcelSafe:
    NEGATED = "inputs:\n  x: 2\nnodes:\n  y: (-x) * 3\n"

    def test_csv_is_lossless_by_default(self, invoke: Invoke, write_graph: Any) -> None:
        result = invoke("run", str(write_graph(self.NEGATED)), "-o", "csv")
        assert result.stdout == "name,value,grad\nx,2.0,-3.0\n-x,-2.0,3.0\ny,-6.0,1.0\n"

    @pytest.mark.parametrize(
        ("fmt", "expected"),
        [
            ("csv", "name,value,grad\nx,2.0,-3.0\n'-x,-2.0,3.0\ny,-6.0,1.0\n"),
            ("tsv", "x\t2.0\t-3.0\n'-x\t-2.0\t3.0\ny\t-6.0\t1.0\n"),
        ],
    )
    def test_excel_safe_quotes_names_not_numbers(
        self, invoke: Invoke, write_graph: Any, fmt: str, expected: str
    ) -> None:
        result = invoke("run", str(write_graph(self.NEGATED)), "-o", fmt, "--excel-safe")
        assert (result.exit_code, result.stdout) == (0, expected)

    def test_grad_and_check_take_it_too(self, invoke: Invoke, write_graph: Any) -> None:
        path = str(write_graph(self.NEGATED))
        grad = invoke("grad", path, "--wrt", "-x", "-o", "csv", "--excel-safe")
        assert grad.stdout == "name,grad\n'-x,3.0\n"
        check = invoke("check", path, "-o", "csv", "--excel-safe")
        assert check.exit_code == 0 and check.stdout.startswith("input,")

    def test_a_sweep_header_from_of_is_quoted(self, invoke: Invoke, write_graph: Any) -> None:
        path = str(write_graph(self.NEGATED))
        args = ("sweep", path, "x=1:2:2", "--of", "-x", "-o", "csv")
        assert invoke(*args).stdout == "x,-x,d_x\n1.0,-1.0,-1.0\n2.0,-2.0,-1.0\n"
        assert invoke(*args, "--excel-safe").stdout == ("x,'-x,d_x\n1.0,-1.0,-1.0\n2.0,-2.0,-1.0\n")

    def test_a_batch_header_is_quoted(self, invoke: Invoke, write_graph: Any) -> None:
        path = str(write_graph(self.NEGATED))
        result = invoke(
            "run", path, "--batch", "-", "--of", "-x", "-o", "csv", "--excel-safe", input="x\n1\n"
        )
        assert result.stdout == "x,'-x,d_x\n1.0,-1.0,-1.0\n"

    def test_every_formula_start_is_covered(self) -> None:
        for start in ("=", "+", "-", "@", "\t", "\r"):
            assert render.spreadsheet_text(start + "1+1") == "'" + start + "1+1"
        assert render.spreadsheet_text("d_x") == "d_x"


# --- long tables --------------------------------------------------------------------------------


CONSOLE = render.stdout_console


def table_text(monkeypatch: pytest.MonkeyPatch, rich_rows: int, terminal: bool, *args: Any) -> str:
    """What print_table writes, with tables over ``rich_rows`` rows laid out by bpcalc."""
    out = io.StringIO()
    console = CONSOLE
    monkeypatch.setattr(render, "RICH_TABLE_ROWS", rich_rows)
    monkeypatch.setattr(render, "write", out.write)
    monkeypatch.setattr(
        render,
        "stdout_console",
        lambda **options: console(
            file=out,
            force_terminal=terminal,
            color_system="truecolor" if terminal else None,
            **{"width": 60, **options},
        ),
    )
    render.print_table(*args)
    return out.getvalue()


TABLES = [
    (
        "a long title — with a description that wraps at the width of the table",
        [("name", "left"), ("op", "left"), ("value", "right")],
        [["x", "input", "1"], ["사과", "mul", "[1 2\n 3 4]"], ["w * r", "add", "—"]],
        "x = 1\nnote: a caption of two lines, the second long enough to wrap too",
    ),
    (
        None,
        [("x", "right"), ("y", "right"), ("note", "left")],
        [["1", "-2", ""], ["1.5", "3", "d"]],
    ),
    ("t", [("name", "left"), ("value", "left")], [["W", "[[1. 2.]\n [3. 4.]]"], ["b", "[1]"]]),
]


class TestLongTables:
    @pytest.mark.parametrize("terminal", [False, True])
    @pytest.mark.parametrize("table", TABLES)
    def test_bpcalcs_layout_is_byte_identical_to_richs(
        self, monkeypatch: pytest.MonkeyPatch, terminal: bool, table: tuple[Any, ...]
    ) -> None:
        """Colours, wrapped titles and captions, wide characters, multi-line cells."""
        rich = table_text(monkeypatch, 10**9, terminal, *table)
        ours = table_text(monkeypatch, 0, terminal, *table)
        assert ours == rich

    def test_a_long_table_is_never_cropped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        rows = [[f"name_{i}", "9" * 70] for i in range(3)]
        text = table_text(monkeypatch, 0, False, "t", [("n", "left"), ("v", "right")], rows)
        assert ("9" * 70) in text

    def test_run_table_of_100000_nodes_is_linear(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """print_run of a 100,000-node chain took 87 s through rich."""
        from bpcalc.output.reports import print_run

        names = [f"x{i}" for i in range(100_000)]
        nodes = [SimpleNamespace(name=n, op="mul") for n in names[1:]]
        graph = SimpleNamespace(nodes=nodes, name="chain", description="")
        values = {n: 1.0001**i for i, n in enumerate(names)}
        evaluation = SimpleNamespace(values=values, grads=values, output=names[-1], graph="chain")
        out = io.StringIO()
        console = CONSOLE
        monkeypatch.setattr(render, "write", out.write)
        monkeypatch.setattr(render, "stdout_console", lambda **o: console(file=out, **o))
        started = time.perf_counter()
        print_run(graph, evaluation, fmt="table", digits=None)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        lines = out.getvalue().splitlines()
        assert len(lines) == 4 + 100_000 + 2  # title, edge, header, rule; rows; edge, caption
        assert lines[4].split() == ["x0", "input", "1", "1"]
        assert seconds < LARGE_SECONDS

    def test_a_sweep_table_of_100000_points_is_bounded(self) -> None:
        """132 s before: rich, and a per-row any() over every note (quadratic)."""
        outcome = spawn("sweep", "apple_orange", "tax=1:2:100000", "-o", "table")
        assert (outcome.code, outcome.stderr) == (0, "")
        lines = outcome.stdout.splitlines()
        assert lines[0] == "apple_orange: price over tax (100,000 points)"
        assert lines[4].split() == ["1", "650", "650"]
        assert outcome.seconds < LARGE_SECONDS
        assert outcome.peak_mb < PEAK_MB
