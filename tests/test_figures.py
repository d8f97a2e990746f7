"""Teaching outputs: the built-in SVG and the TikZ figure (no Graphviz), worksheets with
``--blank``, ``trace -o markdown|latex`` and the notebook display."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bpcalc import load
from bpcalc.analysis.drawing import build_drawing
from bpcalc.analysis.trace import build_trace
from bpcalc.output.layout import layout
from bpcalc.output.numbers import number
from bpcalc.output.svg_drawing import edge_labels, vertex_text
from bpcalc.output.tikz_drawing import latex_text
from tests.conftest import GRAPHS, Invoke

WriteGraph = Callable[..., Path]
SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parent.parent

needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex is not on PATH (apt-get install texlive-latex-base texlive-pictures "
    "texlive-latex-extra; .ci/run installs them)",
)

# Values 3, 5, 15, 45, 90; gradients 1 (the seed, and along each q -> out), 2, 6, 30 (twice),
# 60, 18: no gradient's text is a value's, so a worksheet can be searched for every gradient.
DISTINCT = """
name: distinct
inputs:
  a: 3
  b: 5
nodes:
  p: a * b
  q: p * a
  out: q + q
"""
GRADS = [2.0, 6.0, 30.0, 60.0, 18.0]  # and 1
VALUES = [15.0, 45.0, 90.0]  # the nodes' values; the inputs' 3 and 5 are the exercise's data
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def roundings(x: float) -> set[str]:
    return {number(x)} | {number(x, d) for d in range(1, 18)}


def tokens(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def svg_text(data: str) -> str:
    root = ET.fromstring(data)
    return "\n".join("".join(e.itertext()) for e in root.iter(f"{SVG}text"))


def tikz_text(data: str) -> str:
    """What a TikZ picture prints: the text in braces after each node (no coordinates)."""
    return "\n".join(re.findall(r"\) \{(.*)\};$", data, flags=re.M))


def dot_text(data: str) -> str:
    return "\n".join(re.findall(r"label=<(.*)>\]", data))


def mermaid_text(data: str) -> str:
    return "\n".join(re.findall(r'"([^"]*)"', data))


def human_text(kind: str, fmt: str, data: str) -> str:
    if fmt == "svg":
        return svg_text(data)
    if fmt == "tikz":
        return tikz_text(data)
    if fmt == "dot":
        return dot_text(data)
    if fmt == "mermaid":
        return mermaid_text(data)
    # "(used 2 times)" after an input's total counts its edges: no answer.
    data = re.sub(r"\(used \d+ times\)", "", data)
    if kind == "trace":  # step numbers, "(contribution 1 of 2)", the preamble, the op's
        # derivative formula (∂add(x, y)/∂x = 1) are not answers
        data = data.split(r"\begin{document}")[-1]
        data = re.sub(r"\(\d+\)|contribution \d+ of \d+|\(\d+ of \d+\)", "", data)
        data = re.sub(r"(∂|ensuremath\{\\partial\}).*?= [^ |&]+", "", data)
    return data


FORMATS = [
    ("draw", "text"),
    ("draw", "dot"),
    ("draw", "mermaid"),
    ("draw", "svg"),
    ("draw", "tikz"),
    ("trace", "text"),
    ("trace", "markdown"),
    ("trace", "latex"),
]


class TestLayout:
    def test_ranks_run_left_to_right_with_the_result_last(self) -> None:
        """Every edge goes right; the result sits at the right end; the layout is repeatable."""
        graph = load(GRAPHS / "two_layer_net.yaml")
        evaluation = graph.evaluate(trace=True)
        drawing = build_drawing(graph, evaluation, build_trace(graph, evaluation))
        labels = [label.lines() for label in edge_labels(drawing, None)]

        def place() -> Any:
            return layout(
                drawing, vertex_label=lambda v: vertex_text(drawing, v), edge_labels=labels
            )

        first, second = place(), place()
        for edge in drawing.edges:
            assert first.places[edge.source].rank < first.places[edge.target].rank
        top = max(p.rank for p in first.places.values())
        results = [v for v in drawing.vertices.values() if v.kind == "result"]
        assert all(first.places[v.id].rank == top for v in results)
        assert [(p.x, p.y) for p in first.places.values()] == [
            (p.x, p.y) for p in second.places.values()
        ]

    def test_a_deep_chain_is_laid_out_without_recursion(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A chain of 3000 nodes (deeper than Python's recursion limit) is drawn."""
        nodes = "".join(f"  n{i}: n{i - 1} + 1\n" for i in range(1, 3000))
        result = invoke("draw", str(write_graph(f"inputs:\n  n0: 0\nnodes:\n{nodes}")), "-o", "svg")
        assert result.exit_code == 0, result.stderr
        ET.fromstring(result.stdout)


class TestBuiltinSvg:
    def test_the_book_figure_needs_no_graphviz(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """With no dot on PATH -o svg still draws: values above, gradients red and italic."""
        monkeypatch.setenv("PATH", str(tmp_path))
        result = invoke("draw", "apple_orange", "-o", "svg")
        assert result.exit_code == 0, result.stderr
        root = ET.fromstring(result.stdout)
        assert root.tag == f"{SVG}svg"
        values = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "value"]
        grads = [e for e in root.iter(f"{SVG}text") if e.get("class") == "grad"]
        assert {"100", "2", "150", "3", "1.1", "200", "450", "650", "715"} <= set(values)
        assert {e.text for e in grads} >= {"◂2.2", "◂110", "◂3.3", "◂165", "◂650", "◂1.1", "◂1"}
        assert all(e.get("font-style") == "italic" and e.get("fill") for e in grads)
        ops = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "op"]
        assert sorted(ops) == ["+", "×", "×", "×"]

    def test_a_value_used_twice_shows_its_total(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """a feeds p and q: its total gradient 60 is written under it, with Σ; q the same."""
        root = ET.fromstring(invoke("draw", str(write_graph(DISTINCT)), "-o", "svg").stdout)
        totals = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "total"]
        assert totals == ["Σ 60", "Σ 2"]  # q feeds out twice too

    def test_the_graphviz_engine_is_still_there(self, invoke: Invoke) -> None:
        """--engine graphviz asks for dot; -o dot is unchanged."""
        if shutil.which("dot") is None:
            pytest.skip("Graphviz's dot is not on PATH")
        result = invoke("draw", "apple", "-o", "svg", "--engine", "graphviz")
        assert b"Generated by graphviz" in result.stdout_bytes

    @pytest.mark.parametrize("example", sorted(p.stem for p in GRAPHS.glob("*.yaml")))
    def test_every_example_is_well_formed(self, invoke: Invoke, example: str) -> None:
        for fmt in ("svg", "tikz"):
            result = invoke("draw", example, "-o", fmt)
            assert result.exit_code == 0, result.stderr
        ET.fromstring(invoke("draw", example, "-o", "svg").stdout)

    def test_three_hundred_nodes_stay_readable(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A wide and deep graph of 300 nodes: valid, and no two vertices at one place."""
        nodes = "".join(f"  n{i}: n{i - 1} * x{i % 7} + n{max(0, i - 3)}\n" for i in range(1, 150))
        inputs = "".join(f"  x{k}: {k + 1}\n" for k in range(7))
        text = f"inputs:\n  n0: 1\n{inputs}nodes:\n{nodes}"
        result = invoke("draw", str(write_graph(text)), "-o", "svg")
        root = ET.fromstring(result.stdout)
        circles = {(c.get("cx"), c.get("cy")) for c in root.iter(f"{SVG}circle")}
        assert len(circles) == len(list(root.iter(f"{SVG}circle"))) >= 290


class TestTikz:
    def test_structure(self, invoke: Invoke) -> None:
        """A tikzpicture with a node per vertex and a drawn edge per edge; --standalone wraps it."""
        text = invoke("draw", "apple_orange", "-o", "tikz").stdout
        assert text.count(r"\begin{tikzpicture}") == text.count(r"\end{tikzpicture}") == 1
        assert r"\documentclass" not in text
        assert text.count(r"\draw[bpedge]") == 9
        assert r"\node[bpop] " in text and r"{\ensuremath{\times}}" in text
        assert r"apple\_price" in text
        whole = invoke("draw", "apple_orange", "-o", "tikz", "--standalone").stdout
        assert whole.startswith(r"\documentclass[tikz, border=6pt]{standalone}")
        assert whole.rstrip().endswith(r"\end{document}")
        assert text in whole

    def test_latex_specials_are_escaped(self) -> None:
        assert latex_text(r"a_b%c&d#e$f{g}h~i^j\k") == (
            r"a\_b\%c\&d\#e\$f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
        )

    def test_standalone_needs_tikz(self, invoke: Invoke) -> None:
        result = invoke("draw", "apple", "-o", "svg", "--standalone")
        assert result.exit_code == 2
        assert "--standalone goes with -o tikz" in result.stderr

    @needs_pdflatex
    @pytest.mark.parametrize("blank", [None, "both"])
    def test_it_compiles_with_pdflatex(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path, blank: str | None
    ) -> None:
        """Odd names (every LaTeX special) and a worksheet compile to a PDF."""
        odd = (  # names are identifiers or expressions: the specials go in the description
            "name: odd_name\ndescription: 'a_b%c&d#e$f{g}h~i^j\\k <>|\"'\n"
            "inputs:\n  x: [1, 2]\nnodes:\n  y: sum(exp(x) * 2)\n"
        )
        path = write_graph(odd)
        for i, graph in enumerate(("apple_orange", str(path), "two_layer_net")):
            args = ["draw", graph, "-o", "tikz", "--standalone"]
            result = invoke(*args, *(["--blank", blank] if blank else []))
            assert result.exit_code == 0, result.stderr
            tex = tmp_path / f"figure{i}.tex"
            tex.write_text(result.stdout, encoding="utf-8")
            done = subprocess.run(
                ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                cwd=tmp_path,
                capture_output=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout.decode("utf-8", "replace")[-2000:]
            assert (tmp_path / f"figure{i}.pdf").read_bytes().startswith(b"%PDF-")

    @needs_pdflatex
    def test_the_latex_handout_compiles(self, invoke: Invoke, tmp_path: Path) -> None:
        for i, args in enumerate((["apple_orange"], ["apple_orange", "--blank", "grads"])):
            result = invoke("trace", *args, "-o", "latex")
            tex = tmp_path / f"handout{i}.tex"
            tex.write_text(result.stdout, encoding="utf-8")
            done = subprocess.run(
                ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                cwd=tmp_path,
                capture_output=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout.decode("utf-8", "replace")[-2000:]


class TestWorksheets:
    @pytest.mark.parametrize(("command", "fmt"), FORMATS)
    def test_blank_grads_leaves_no_gradient_number(
        self, invoke: Invoke, write_graph: WriteGraph, command: str, fmt: str
    ) -> None:
        """Every gradient, in every rounding, is absent; the values are all there."""
        path = str(write_graph(DISTINCT))
        key = human_text(command, fmt, invoke(command, path, "-o", fmt).stdout)
        sheet = human_text(
            command, fmt, invoke(command, path, "-o", fmt, "--blank", "grads").stdout
        )
        shown = [grad for grad in GRADS if roundings(grad) & tokens(key)]
        assert len(shown) >= 3  # the answer key has them (totals only where drawn)
        for grad in GRADS:
            assert not roundings(grad) & tokens(sheet), (grad, sheet)
        assert "1" not in tokens(sheet)  # not even the seed
        for value in VALUES:
            assert roundings(value) & tokens(sheet)

    @pytest.mark.parametrize(("command", "fmt"), FORMATS)
    def test_blank_values_leaves_no_computed_value(
        self, invoke: Invoke, write_graph: WriteGraph, command: str, fmt: str
    ) -> None:
        path = str(write_graph(DISTINCT))
        sheet = human_text(
            command, fmt, invoke(command, path, "-o", fmt, "--blank", "values").stdout
        )
        for value in VALUES:
            assert not roundings(value) & tokens(sheet), (value, sheet)
        assert roundings(3.0) & tokens(sheet) and roundings(5.0) & tokens(sheet)

    def test_json_blanks_are_null(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        path = str(write_graph(DISTINCT))
        records = json.loads(invoke("trace", path, "-o", "json", "--blank", "grads").stdout)
        for record in records:
            if record["phase"] == "backward":
                assert record["dout"] is None
                for c in record["contributions"]:
                    assert c["amount"] is None and c["total"] is None and c["local"] is None
            else:
                assert record["value"] is not None

    def test_a_seeded_fraction_is_repeatable(self, invoke: Invoke) -> None:
        args = ["trace", "apple_orange", "-o", "json", "--blank", "both", "--blank-fraction"]
        first = invoke(*args, "0.5", "--seed", "7").stdout
        assert first == invoke(*args, "0.5", "--seed", "7").stdout
        records = json.loads(first)
        values = [r["value"] for r in records if r["phase"] == "forward"]
        assert values.count(None) == 2  # half of the 4 nodes' values

    def test_fraction_needs_blank(self, invoke: Invoke) -> None:
        result = invoke("draw", "apple", "--seed", "3")
        assert result.exit_code == 2
        assert "go with --blank" in result.stderr

    def test_blank_boxes_in_the_svg(self, invoke: Invoke) -> None:
        root = ET.fromstring(invoke("draw", "apple_orange", "-o", "svg", "--blank", "grads").stdout)
        boxes = [r for r in root.iter(f"{SVG}rect") if "blank" in (r.get("class") or "")]
        assert len(boxes) == 9


class TestHandouts:
    def test_markdown_tables_escape_names(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        text = invoke("trace", "apple_orange", "-o", "markdown").stdout
        assert "| (1) | apple\\_price | mul(apple, apple\\_num) | mul(100, 2) | 200 |" in text
        assert "## Gradients of the inputs, d price/d input" in text
        odd = write_graph("description: 'a|b<c>'\ninputs:\n  y: 3\nnodes:\n  z: y * 2\n")
        table = invoke("trace", str(odd), "-o", "markdown").stdout
        assert "a\\|b\\<c\\>" in table and "a|b" not in table

    def test_latex_is_a_document_with_three_tables(self, invoke: Invoke) -> None:
        text = invoke("trace", "apple_orange", "-o", "latex").stdout
        assert text.startswith(r"\documentclass{article}")
        assert text.count(r"\begin{tabular}") == 3
        assert r"apple\_price" in text


class TestNotebook:
    def test_the_example_notebook_runs_without_graphviz(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """docs/notebook.ipynb's code cells, run as a script with no dot anywhere."""
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
        monkeypatch.chdir(ROOT)
        notebook = json.loads((ROOT / "docs" / "notebook.ipynb").read_text(encoding="utf-8"))
        cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert len(cells) >= 3
        scope: dict[str, Any] = {}
        for cell in cells:
            exec("".join(cell["source"]), scope)  # the notebook is ours, in the repository
        ev, graph = scope["ev"], scope["graph"]
        page = ev._repr_html_()
        assert page.count("<svg") == 1 and "<table" in page
        for text in ("apple_price", "715", "2.2", "◂110"):
            assert text in page
        ET.fromstring(ev._repr_svg_())
        figure = ET.fromstring(graph._repr_svg_())
        assert not [e for e in figure.iter(f"{SVG}text") if e.get("class") == "grad"]
        assert "<svg" in graph._repr_html_()

    def test_names_are_escaped_in_the_html(self, write_graph: WriteGraph) -> None:
        graph = load(write_graph("description: '<b>&x'\ninputs:\n  y: 3\nnodes:\n  z: y * 2\n"))
        page = graph.evaluate()._repr_html_()
        assert "<b>" not in page and "&lt;b&gt;&amp;x" in page
        ET.fromstring(page)  # the whole display is well-formed XML too
