"""`bpcalc draw`: the graph with values and gradients on its edges, in every format."""

from __future__ import annotations

import os
import re
import shutil
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import load
from bpcalc.analysis.drawing import Drawing, Edge
from bpcalc.output.drawings import dot_id, render_image, to_dot, to_mermaid
from tests.conftest import GRAPHS, Invoke

WriteGraph = Callable[..., Path]

EDGE = re.compile(r'^  "(?P<source>[^"]*)" -> "(?P<target>[^"]*)" \[label=<(?P<label>.*)>\];$')
RED = re.compile(r'(?:<br/>)?<font color="red">(.*?)</font>')
MERMAID_EDGE = re.compile(r'^  (v\d+) -->\|"(.*)"\| (v\d+)$')
SVG = "{http://www.w3.org/2000/svg}"

# -o svg, png and pdf are rendered by Graphviz's dot. On a machine without it (one with only uv)
# the tests that render skip and say why; .ci/run installs Graphviz and stops without it.
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not on PATH (install Graphviz: sudo apt-get install graphviz)",
)

# p = a + 1 feeds q twice: each edge p -> q carries d q/d p along it, p = 4; d q/d a = 2p = 8.
SQUARE = """
name: square
inputs:
  a: 3
nodes:
  p: a + 1
  q: p * p
"""

# Expression nodes are named by their text: spaces, @, *, parentheses; an input in Hangul.
ODD_NAMES = """
name: odd
description: 'a "quoted" <title> & more'
inputs:
  사과: [1, 2]
  W: [[1], [2]]
nodes:
  y: sum(relu(사과 @ W) * 2)
"""


def dot_edges(text: str) -> dict[tuple[str, str], list[tuple[str, list[str]]]]:
    """Each DOT edge's label, as the black text before the gradient and the red parts."""
    edges: dict[tuple[str, str], list[tuple[str, list[str]]]] = {}
    for line in text.splitlines():
        match = EDGE.match(line)
        if match:
            label = match["label"]
            edges.setdefault((match["source"], match["target"]), []).append(
                (RED.sub("", label), RED.findall(label))
            )
    return edges


def svg_root(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    return root


def svg_texts(root: ET.Element, tag: str) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}{tag}")]


def fake_dot(folder: Path, script: str, shell: str = "/bin/sh") -> None:
    """A `dot` program in ``folder`` that runs ``script`` with ``shell``."""
    program = folder / "dot"
    program.write_text(f"#!{shell}\n{script}\n", encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)


class TestDot:
    def test_a_pipe_gets_dot_by_default(self, invoke: Invoke) -> None:
        """Piped, `draw` writes DOT text that names the graph."""
        result = invoke("draw", "apple_orange")
        assert result.exit_code == 0
        assert result.stdout.startswith('digraph "apple_orange" {')
        assert "rankdir=LR" in result.stdout
        assert result.stderr == ""

    def test_edges_carry_the_value_above_and_the_gradient_in_red(self, invoke: Invoke) -> None:
        """apple -> apple_price is labelled 100 and, in red, 2.2; the same for every edge."""
        edges = dot_edges(invoke("draw", "apple_orange").stdout)
        assert edges[("apple", "apple_price")] == [("100", ["2.2"])]
        assert edges[("apple_num", "apple_price")] == [("2", ["110"])]
        assert edges[("orange", "orange_price")] == [("150", ["3.3"])]
        assert edges[("tax", "price")] == [("1.1", ["650"])]
        assert edges[("all_price", "price")] == [
            ('<font color="gray35">all_price</font><br/>650', ["1.1"])
        ]

    def test_the_output_leaves_to_the_right_with_gradient_one(self, invoke: Invoke) -> None:
        """The output node gets an edge to a result on the right: 715 with gradient 1."""
        text = invoke("draw", "apple_orange").stdout
        edges = dot_edges(text)
        assert edges[("price", "price →")] == [("715", ["1"])]
        assert '{rank=max; "price →";}' in text

    def test_op_nodes_are_circles_with_the_books_symbols(self, invoke: Invoke) -> None:
        """mul is drawn as ×, add as +, inputs as plain text."""
        text = invoke("draw", "apple_orange").stdout
        assert '"apple_price" [shape=circle, label=<×>' in text
        assert '"all_price" [shape=circle, label=<+>' in text
        assert '"apple" [shape=plaintext, label=<apple>];' in text

    def test_a_value_used_twice_has_an_edge_per_use(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """q = p * p: two edges p -> q, each with its own contribution 4; a gets 8."""
        edges = dot_edges(invoke("draw", str(write_graph(SQUARE))).stdout)
        assert [grads for _, grads in edges[("p", "q")]] == [["4"], ["4"]]
        assert edges[("a", "p")] == [("3", ["8"])]

    def test_constants_have_a_value_and_no_gradient(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """The 1 in a + 1 is drawn as a constant whose edge has no red gradient."""
        text = invoke("draw", str(write_graph(SQUARE))).stdout
        assert '"1 → p" [shape=plaintext, fontcolor=gray30, label=<1>];' in text
        assert dot_edges(text)[("1 → p", "p")] == [("1", [])]

    def test_an_input_without_gradient_has_no_red_label(self, invoke: Invoke) -> None:
        """The labels t of two_layer_net have grad: false."""
        edges = dot_edges(invoke("draw", "two_layer_net").stdout)
        assert edges[("t", "loss")] == [("[0, 2, 1, 2]", [])]

    def test_long_tensors_are_summarised(self, invoke: Invoke) -> None:
        """A 4×5 tensor is its shape and range, not twenty numbers; small ones are in full."""
        edges = dot_edges(invoke("draw", "two_layer_net").stdout)
        (label, grads) = edges[("x", "a1")][0]
        assert re.fullmatch(r"4×5 \[-?[\d.e-]+ … -?[\d.e-]+\]", label)
        assert re.fullmatch(r"4×5 \[-?[\d.e-]+ … -?[\d.e-]+\]", grads[0])
        assert edges[("b1", "a1")][0][0] == "[0, 0, 0]"

    def test_of_leaves_zero_gradient_past_the_target(self, invoke: Invoke) -> None:
        """--of all_price: tax and price get 0, apple gets apple_num = 2."""
        edges = dot_edges(invoke("draw", "apple_orange", "--of", "all_price").stdout)
        assert edges[("tax", "price")] == [("1.1", ["0"])]
        assert edges[("apple", "apple_price")] == [("100", ["2"])]
        assert edges[("price", "price →")] == [("715", ["0"])]

    def test_dot_ids_escape_quotes_and_backslashes(self) -> None:
        """A quote is escaped and every backslash doubled, so no ID can end its string early."""
        assert dot_id('a "b"') == '"a \\"b\\""'
        assert dot_id("c\\") == '"c\\\\"'
        assert dot_id("사과 * 2") == '"사과 * 2"'


class TestImages:
    @needs_dot
    def test_svg_is_an_svg_document_with_the_values(self, invoke: Invoke) -> None:
        """-o svg parses as XML with an <svg> root holding the names, values and gradients."""
        result = invoke("draw", "apple_orange", "-o", "svg", "--engine", "graphviz")
        assert result.exit_code == 0
        root = svg_root(result.stdout_bytes)
        texts = svg_texts(root, "text")
        for expected in ("apple", "apple_price", "100", "2.2", "715", "650", "3.3", "×"):
            assert expected in texts
        red = [t.text for t in root.iter(f"{SVG}text") if t.get("fill") == "red"]
        assert "2.2" in red and "650" in red and "100" not in red

    @needs_dot
    def test_png_starts_with_the_png_signature(self, invoke: Invoke) -> None:
        """-o png in a pipe writes a PNG image."""
        result = invoke("draw", "apple_orange", "-o", "png")
        assert result.exit_code == 0
        assert result.stdout_bytes.startswith(b"\x89PNG\r\n\x1a\n")
        assert result.stdout_bytes[12:16] == b"IHDR"

    @needs_dot
    def test_pdf_starts_with_the_pdf_header(self, invoke: Invoke) -> None:
        """-o pdf in a pipe writes a PDF document."""
        result = invoke("draw", "apple_orange", "-o", "pdf")
        assert result.exit_code == 0
        assert result.stdout_bytes.startswith(b"%PDF-")

    @pytest.mark.parametrize("fmt", ["png", "pdf"])
    def test_binary_is_never_written_to_a_terminal(self, invoke: Invoke, fmt: str) -> None:
        """PNG or PDF to a terminal: exit 2, nothing on stdout, a hint to redirect."""
        result = invoke("draw", "apple_orange", "-o", fmt, tty=True)
        assert result.exit_code == 2
        assert result.stdout_bytes == b""
        assert f"> graph.{fmt}" in result.stderr

    def test_missing_graphviz_says_how_to_install_it(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """With no dot on PATH: exit 1, install instructions, the text formats offered."""
        monkeypatch.setenv("PATH", str(tmp_path))
        result = invoke("draw", "apple_orange", "-o", "svg", "--engine", "graphviz")
        assert result.exit_code == 1
        assert result.stdout == ""
        assert "Graphviz" in result.stderr
        assert "apt-get install graphviz" in result.stderr
        assert "brew install graphviz" in result.stderr
        assert "-o dot" in result.stderr
        assert "Traceback" not in result.stderr

    def test_missing_graphviz_does_not_stop_the_text_formats(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """DOT and Mermaid need nothing installed."""
        monkeypatch.setenv("PATH", str(tmp_path))
        assert invoke("draw", "apple", "-o", "dot").exit_code == 0
        assert invoke("draw", "apple", "-o", "mermaid").exit_code == 0

    def test_a_failing_dot_is_reported_with_its_message(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """When dot exits non-zero its stderr is shown and bpcalc exits 1."""
        fake_dot(tmp_path, "cat > /dev/null; echo 'Error: boom' >&2; exit 3")
        monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
        result = invoke("draw", "apple", "-o", "png")
        assert result.exit_code == 1
        assert "Graphviz's dot failed (exit 3): Error: boom" in result.stderr
        assert result.stdout_bytes == b""

    def test_a_dot_that_cannot_start_is_reported(
        self, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A dot whose interpreter is missing gives exit 1 and a message, not a traceback."""
        fake_dot(tmp_path, "", shell=str(tmp_path / "no-such-shell"))
        monkeypatch.setenv("PATH", str(tmp_path))
        result = invoke("draw", "apple", "-o", "svg", "--engine", "graphviz")
        assert result.exit_code == 1
        assert "could not run Graphviz's dot" in result.stderr
        assert "Traceback" not in result.stderr

    @needs_dot
    def test_odd_names_survive_into_the_svg(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """Spaces, @, *, parentheses, Hangul and a quoted description come out as written."""
        result = invoke("draw", str(write_graph(ODD_NAMES)), "-o", "svg", "--engine", "graphviz")
        assert result.exit_code == 0, result.stderr
        root = svg_root(result.stdout_bytes)
        titles = svg_texts(root, "title")
        for name in ("사과", "사과 @ W", "relu(사과 @ W)", "relu(사과 @ W) * 2", "y"):
            assert name in titles
        assert 'odd — a "quoted" <title> & more' in svg_texts(root, "text")


@needs_dot
class TestEscapingRoundTrip:
    @settings(max_examples=25, deadline=None)
    @given(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")),
            min_size=1,
            max_size=12,
        )
        .filter(lambda s: s.isprintable() and s.strip() == s and "  " not in s and "\\" not in s)
        # The edge labels 1, 2, 3 and 6, and the mul node's own label ×, would be counted as
        # the name: no node is named a number or an op's symbol.
        .filter(lambda s: s not in {"1", "2", "3", "6", "×"})
    )
    def test_any_name_reaches_graphviz_intact(self, name: str) -> None:
        """Whatever a name holds, Graphviz keeps the node apart and shows the name as written."""
        drawing = Drawing("g", "g", "out")
        source = drawing.add("in", "input", "in")
        node = drawing.add(name, "op", name, "mul")
        result = drawing.add(name + " →", "result", name)
        drawing.edges += [Edge(source, node, 2.0, 3.0), Edge(node, result, 6.0, 1.0)]
        root = svg_root(render_image(to_dot(drawing), "svg"))
        titles = svg_texts(root, "title")
        assert {source, node, result} <= set(titles)
        assert f"{source}->{node}" in titles
        assert svg_texts(root, "text").count(name) == 1  # the result's label

    def test_names_starting_with_percent_stay_apart(self) -> None:
        """Graphviz treats IDs starting with % as anonymous; the drawing gives them other IDs."""
        drawing = Drawing("g", "g", "out")
        first = drawing.add("%", "input", "%")
        second = drawing.add("%x", "op", "%x", "neg")
        drawing.edges.append(Edge(first, second, 1.0, -1.0))
        titles = svg_texts(svg_root(render_image(to_dot(drawing), "svg")), "title")
        assert f"{first}->{second}" in titles
        assert first != second and not first.startswith("%")


class TestMermaid:
    def test_mermaid_is_a_left_to_right_flowchart_with_labelled_edges(self, invoke: Invoke) -> None:
        """Every edge carries its value and its gradient; op nodes are circles."""
        text = invoke("draw", "apple_orange", "-o", "mermaid").stdout
        lines = text.splitlines()
        assert "flowchart LR" in lines
        labels = {m[1]: m[2] for m in (re.match(r'^  (v\d+)[\[(]+"(.*?)"', x) for x in lines) if m}
        edges = [(labels[m[1]], m[2], labels[m[3]]) for m in map(MERMAID_EDGE.match, lines) if m]
        assert ("apple", "100<br/>grad 2.2", "×") in edges
        assert ("×", "apple_price<br/>200<br/>grad 1.1", "+") in edges
        assert ("×", "715<br/>grad 1", "price") in edges
        assert sum(line.endswith('(("×"))') for line in lines) == 3

    def test_mermaid_labels_escape_what_would_break_them(self) -> None:
        """Quotes, #, <, >, &, | and backticks become Mermaid entity codes that decode back."""
        name = 'a "b" #1 <i>&|`'
        drawing = Drawing("g", 'title "x"', "out")
        drawing.add(name, "input", name)
        drawing.add("n", "op", "n", "add")
        drawing.edges.append(Edge(name, "n", 1.0, 1.0))
        text = to_mermaid(drawing)
        label = re.search(r'v0\["(.*)"\]', text)
        assert label is not None
        assert '"' not in label[1] and "<" not in label[1] and "|" not in label[1]
        assert decode_mermaid(label[1]) == name
        assert 'title: "title \\"x\\""' in text  # front matter is YAML: a JSON string


def decode_mermaid(text: str) -> str:
    """Mermaid's entity codes back to characters: #quot; and friends, and #35; numbers."""
    named = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}
    return re.sub(
        r"#(\w+);",
        lambda m: named[m[1]] if m[1] in named else chr(int(m[1])),
        text,
    )


class TestTextDrawing:
    def test_a_terminal_gets_the_text_drawing(self, invoke: Invoke) -> None:
        """On a terminal the default is a drawing with values and gradients on each branch."""
        result = invoke("draw", "apple_orange", tty=True)
        assert result.exit_code == 0
        text = result.stdout
        assert "apple ▸100 ◂2.2" in text
        assert "(×) price ▸715 ◂1" in text
        assert "◂ gradient d price/d value (backward)" in text

    def test_inputs_join_their_node_with_brackets(self, invoke: Invoke) -> None:
        """apple and apple_num meet in ├─ (×) apple_price, inputs on the left."""
        lines = invoke("draw", "apple_orange", "-o", "text").stdout.splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith("apple ▸"))
        assert lines[first].endswith("┐")
        assert "├─ (×) apple_price ▸200 ◂1.1" in lines[first + 1]
        assert lines[first + 2].startswith("apple_num ▸2 ◂110")
        assert lines[first + 2].rstrip(" │").endswith("┘")
        assert lines[first + 1].index("├") == lines[first].index("┐")

    def test_a_reused_node_is_drawn_once(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """q = p * p: p's inputs are drawn once and the second use says (see above)."""
        text = invoke("draw", str(write_graph(SQUARE)), "-o", "text").stdout
        assert text.count("a ▸3 ◂8") == 1
        assert "p (see above) ▸4 ◂4" in text
        assert "(+) p ▸4 ◂4" in text

    def test_constants_and_unused_inputs_are_shown(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """In y = x + 2 * 2 both 2s are drawn, and an input nothing uses is listed as such."""
        path = write_graph("inputs:\n  x: 3\n  spare: 1\nnodes:\n  y: x + 2 * 2\n")
        lines = invoke("draw", str(path), "-o", "text").stdout.splitlines()
        assert "├─ (×) 2 * 2 ▸4 ◂1 ─┘" in [line.strip() for line in lines]
        assert sum(line.startswith("2 ─") for line in lines) == 2
        assert lines[-1] == "spare (not used)"
        edges = dot_edges(invoke("draw", str(path), "-o", "dot").stdout)
        assert edges[("2 → 2 * 2", "2 * 2")] == edges[("2 → 2 * 2 (2)", "2 * 2")] == [("2", [])]

    def test_a_wide_drawing_gets_a_note_on_a_terminal(self, invoke: Invoke) -> None:
        """activations is wider than 120 columns: the drawing is printed and stderr says so."""
        result = invoke("draw", "activations", tty=True)
        assert result.exit_code == 0
        assert "(sum) loss" in result.stdout
        assert "columns wide and the terminal 120" in result.stderr

    def test_a_huge_drawing_is_refused_with_advice(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A 200-node chain would be thousands of columns wide: exit 1, use an image instead."""
        nodes = "".join(f"  n{i}: n{i - 1} + 1\n" for i in range(1, 200))
        path = write_graph(f"inputs:\n  n0: 0\nnodes:\n{nodes}")
        result = invoke("draw", str(path), "-o", "text")
        assert result.exit_code == 1
        assert "-o svg" in result.stderr
        assert invoke("draw", str(path), "-o", "dot").exit_code == 0


class TestHelp:
    def test_help_shows_examples_and_formats(self, invoke: Invoke) -> None:
        """`draw --help` lists every format and an example."""
        text = invoke("draw", "--help").stdout
        assert "Example:" in text
        for fmt in ("text", "dot", "mermaid", "svg", "png", "pdf"):
            assert fmt in text

    def test_the_group_lists_draw(self, invoke: Invoke) -> None:
        """`bpcalc --help` lists the lazily loaded draw command."""
        assert "draw" in invoke("--help").stdout


class TestEveryExample:
    @pytest.mark.parametrize("example", sorted(p.stem for p in GRAPHS.glob("*.yaml")))
    def test_every_bundled_example_is_drawn_whole(self, invoke: Invoke, example: str) -> None:
        """Each example's DOT has an edge per argument and a terminal drawing of every node."""
        graph = load(GRAPHS / f"{example}.yaml")
        edges = dot_edges(invoke("draw", example, "-o", "dot").stdout)
        for node in graph.nodes:
            sources = [a for a in node.args if isinstance(a, str)]
            for source in set(sources):
                assert len(edges[(source, node.name)]) == sources.count(source)
        text = invoke("draw", example, "-o", "text").stdout
        for node in graph.nodes:
            assert f") {node.name} ▸" in text
