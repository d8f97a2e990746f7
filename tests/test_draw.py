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
        assert (
            '"apple" [shape=plaintext, label=<apple<br/>'
            '<font color="red" point-size="11">∂price/∂apple = 2.2</font>>];'
        ) in text

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
        assert ("apple<br/>∂price/∂apple = 2.2", "100<br/>grad 2.2", "×") in edges
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
        assert "◂ gradient ∂price/∂value (backward)" in text

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


# a is used three times: the edges carry 2, 2 and 3, and d q/d a = 2a + b = 7 (issue 11, item 6).
REUSED = """
name: reused
inputs:
  a: 2
  b: 3
nodes:
  p: a * a
  q: p + a * b
output: q
"""

# A value with many digits: 1/3 and its gradient 3.
THIRD = """
name: third
inputs:
  x: 0.3333333333333333
nodes:
  y: 3 * x
"""


def fake_fc_list(tmp_path: Path, output: str) -> str:
    """An fc-list that prints ``output`` for any question."""
    program = tmp_path / "fc-list"
    program.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return str(program)


class TestTeachingFigures:
    def test_dot_labels_each_input_with_its_total(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """The DOT label of a, under its name, in red: 2 + 2 + 3 = 7."""
        text = invoke("draw", str(write_graph(REUSED)), "-o", "dot").stdout
        assert (
            '"a" [shape=plaintext, label=<a<br/>'
            '<font color="red" point-size="11">∂q/∂a = 2 + 2 + 3 = 7</font>>];'
        ) in text
        assert '<font color="red" point-size="11">∂q/∂b = 2</font>' in text

    def test_mermaid_labels_each_input_with_its_total(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        text = invoke("draw", str(write_graph(REUSED)), "-o", "mermaid").stdout
        assert '  v0["a<br/>∂q/∂a = 2 + 2 + 3 = 7"]' in text.splitlines()

    def test_the_text_drawing_sums_each_input_once(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """a is drawn at each of its three uses, and once more with its total."""
        text = invoke("draw", str(write_graph(REUSED)), "-o", "text").stdout
        lines = text.splitlines()
        start = lines.index("Gradient of each input, summed over its edges:")
        assert lines[start + 1 :] == ["  ∂q/∂a = 2 + 2 + 3 = 7   (used 3 times)", "  ∂q/∂b = 2"]

    def test_negative_edge_gradients_are_summed_in_parentheses(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        path = write_graph("inputs:\n  a: 2\nnodes:\n  q: a - 3 * a\n")  # -3 and then 1
        text = invoke("draw", str(path), "-o", "text").stdout
        assert "  ∂q/∂a = -3 + 1 = -2   (used 2 times)" in text.splitlines()

    @needs_dot
    def test_the_svg_shows_the_total_under_the_input(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        result = invoke("draw", str(write_graph(REUSED)), "-o", "svg", "--engine", "graphviz")
        assert result.exit_code == 0, result.stderr
        texts = svg_texts(svg_root(result.stdout_bytes), "text")
        assert "∂q/∂a = 2 + 2 + 3 = 7" in texts

    @needs_dot
    def test_the_png_is_made_with_the_totals(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """PNG is Graphviz's rendering of the same DOT (the label is checked there)."""
        result = invoke("draw", str(write_graph(REUSED)), "-o", "png")
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes.startswith(b"\x89PNG")

    def test_drawings_default_to_four_digits_and_say_so(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        path = str(write_graph(THIRD))
        dot = invoke("draw", path, "-o", "dot").stdout
        assert '"x" -> "y" [label=<0.3333<br/><font color="red">3</font>>];' in dot
        assert "0.33333" not in dot
        assert "numbers to 4 significant digits" in dot
        text = invoke("draw", path, "-o", "text").stdout
        assert "x ▸0.3333 ◂3" in text
        assert "numbers to 4 significant digits (--digits N for more)" in text
        mermaid = invoke("draw", path, "-o", "mermaid").stdout
        assert '"0.3333<br/>grad 3"' in mermaid and "4 significant digits" in mermaid

    def test_digits_still_wins(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        path = str(write_graph(THIRD))
        dot = invoke("draw", path, "-o", "dot", "--digits", "12").stdout
        assert '"x" -> "y" [label=<0.333333333333<br/><font color="red">3</font>>];' in dot
        assert "numbers to 12 significant digits" in dot
        text = invoke("draw", path, "-o", "text", "--digits", "12").stdout
        assert "x ▸0.333333333333 ◂3" in text

    def test_edge_labels_are_tied_to_their_edges(self, invoke: Invoke) -> None:
        """decorate=true draws a line from each label to its edge, so crossing edges keep
        their labels apart."""
        dot = invoke("draw", "apple_orange", "-o", "dot").stdout
        assert re.search(r"^  edge \[.*decorate=true", dot, re.M)

    @needs_dot
    def test_png_resolution(self, invoke: Invoke) -> None:
        """--dpi 300 makes the PNG about 300/96 times as wide as Graphviz's default."""
        plain = invoke("draw", "apple_orange", "-o", "png").stdout_bytes
        sharp = invoke("draw", "apple_orange", "-o", "png", "--dpi", "300").stdout_bytes
        width = int.from_bytes(plain[16:20], "big")
        sharp_width = int.from_bytes(sharp[16:20], "big")
        assert 2.8 < sharp_width / width < 3.4

    def test_dpi_is_for_png_only(self, invoke: Invoke) -> None:
        result = invoke("draw", "apple_orange", "-o", "dot", "--dpi", "300")
        assert result.exit_code == 2
        assert "--dpi applies to -o png only, not -o dot" in result.stderr

    def test_dpi_is_passed_to_graphviz(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without Graphviz too: a stand-in dot records its arguments."""
        log = tmp_path / "args"
        program = tmp_path / "dot"
        program.write_text(f'#!/bin/sh\necho "$@" > {log}\nprintf PNG\n')
        program.chmod(program.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        result = invoke("draw", "apple_orange", "-o", "png", "--dpi", "150")
        assert result.exit_code == 0, result.stderr
        assert log.read_text().split() == ["-Tpng", "-Gdpi=150"]

    def test_the_font_stack_has_cjk_fonts(self, invoke: Invoke) -> None:
        dot = invoke("draw", "apple_orange", "-o", "dot").stdout
        assert 'fontname="Helvetica,Arial,Noto Sans CJK KR,' in dot
        assert "NanumGothic" in dot

    @needs_dot
    def test_korean_names_without_a_korean_font_are_warned_about(
        self,
        invoke: Invoke,
        write_graph: WriteGraph,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("bpcalc.output.drawings.FC_LIST", fake_fc_list(tmp_path, ""))
        path = write_graph("inputs:\n  사과: 100\n  개수: 2\nnodes:\n  가격: 사과 * 개수\n")
        result = invoke("draw", str(path), "-o", "svg", "--engine", "graphviz")
        assert result.exit_code == 0
        assert re.match(r"warning: the drawing has Korean \(.\) text but no font", result.stderr)
        assert "fc-list :lang=ko lists none" in result.stderr
        assert "fonts-noto-cjk" in result.stderr

    @needs_dot
    def test_no_warning_with_a_korean_font_or_without_fc_list(
        self,
        invoke: Invoke,
        write_graph: WriteGraph,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        path = write_graph("inputs:\n  사과: 100\nnodes:\n  가격: 2 * 사과\n")
        monkeypatch.setattr("bpcalc.output.drawings.FC_LIST", fake_fc_list(tmp_path, "NanumGothic"))
        assert invoke("draw", str(path), "-o", "svg", "--engine", "graphviz").stderr == ""
        monkeypatch.setattr("bpcalc.output.drawings.FC_LIST", str(tmp_path / "no-such-fc-list"))
        assert invoke("draw", str(path), "-o", "svg", "--engine", "graphviz").stderr == ""

    def test_latin_names_get_no_font_warning(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("bpcalc.output.drawings.FC_LIST", fake_fc_list(tmp_path, ""))
        if shutil.which("dot") is None:
            pytest.skip("Graphviz's dot is not on PATH")
        assert invoke("draw", "apple_orange", "-o", "svg").stderr == ""


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
