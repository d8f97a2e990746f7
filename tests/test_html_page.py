"""`bpcalc draw -o html`: the page's structure, data and escaping, without a browser.

tests/test_html_browser.py drives the same pages in headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bpcalc import load, loads
from bpcalc.analysis.drawing import build_drawing
from bpcalc.analysis.trace import build_trace
from bpcalc.output.html_page import (
    crossings,
    embed_json,
    lay_out,
    order_ranks,
    page,
    page_data,
    ranks,
)
from tests.conftest import GRAPHS, Invoke

WriteGraph = Callable[..., Path]

# p feeds q and r, a feeds p and q: their gradients are sums of two contributions.
REUSE = """
name: reuse
inputs:
  a: 3
  b: 2
nodes:
  p: a * b
  q: p + a
  r: q * p
"""

# A name and a description that try to end the script, open elements and run code. Names of
# inputs are identifiers; an expression node is named by its text, so it holds spaces and *.
HOSTILE = """
name: "</script><script>window.pwned=1</script>"
description: "<img src=x onerror=\\"window.pwned=2\\"> & <!-- \\u2028 \\u202eevil\\u001b[31m ]]>"
inputs:
  사과: 2
  b: 3
nodes:
  y: (사과 * b + 1) * 사과
"""


def big_graph(nodes: int, lanes: int = 10) -> str:
    """``nodes`` op nodes in ``lanes`` chains side by side, each node also using the next
    lane's previous node (a mesh ``nodes / lanes`` ranks deep), summed into one output."""
    lines = ["name: big", "inputs:"]
    lines += [f"  x{i}: {1 + i / 10}" for i in range(lanes)]
    lines.append("nodes:")
    for i in range(nodes):
        lane = i % lanes
        if i < lanes:
            first, second = f"x{lane}", f"x{(lane + 1) % lanes}"
        else:
            first = f"n{i - lanes}"
            second = f"n{i - lanes + 1}" if lane < lanes - 1 else f"x{lane}"
        expression = f"{first} * {second}" if i % 2 else f"{first} + {second}"
        lines.append(f"  n{i}: tanh({expression})" if i % 3 == 0 else f"  n{i}: {expression}")
    last = " + ".join(f"n{i}" for i in range(nodes - lanes, nodes))
    lines.append(f"  out: {last}")
    return "\n".join(lines) + "\n"


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of each script and style element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.title = ""
        self._open: str | None = None
        self._attrs: dict[str, str | None] = {}
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style", "title"):
            self._open, self._attrs, self._text = tag, dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            text = "".join(self._text)
            if tag == "script":
                self.scripts.append((self._attrs, text))
            elif tag == "style":
                self.styles.append(text)
            else:
                self.title = text
            self._open = None


def parse(text: str) -> Page:
    parser = Page()
    parser.feed(text)
    parser.close()
    return parser


def embedded(text: str) -> dict[str, Any]:
    parsed = parse(text)
    (data,) = [body for attrs, body in parsed.scripts if attrs.get("id") == "bpcalc-data"]
    document: dict[str, Any] = json.loads(data)
    return document


def strip_links(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records without what the page adds: which vertex and edge each is about."""
    out = []
    for record in records:
        record = {k: v for k, v in record.items() if k != "vertex"}
        if "contributions" in record:
            record["contributions"] = [
                {k: v for k, v in c.items() if k not in ("vertex", "edge")}
                for c in record["contributions"]
            ]
        out.append(record)
    return out


def data_for(text: str) -> dict[str, Any]:
    graph = loads(text) if "\n" in text else load(GRAPHS / f"{text}.yaml")
    evaluation = graph.evaluate(trace=True)
    trace = build_trace(graph, evaluation)
    return page_data(build_drawing(graph, evaluation, trace), trace, evaluation, None)


class TestStructure:
    def test_the_page_parses_and_is_self_contained(self, invoke: Invoke) -> None:
        """One HTML document; no src or href anywhere, no URL but the SVG namespace, and a
        Content-Security-Policy that allows no request and only the page's own script and
        style (by their hashes)."""
        result = invoke("draw", "apple_orange", "-o", "html")
        assert result.exit_code == 0, result.output
        text = result.stdout
        assert text.startswith("<!DOCTYPE html>")
        parsed = parse(text)
        for tag, attrs in parsed.tags:
            assert not {"src", "href", "srcset", "action", "data"} & set(attrs), (tag, attrs)
        urls = set(re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"'<>)]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}
        for word in ("fetch(", "XMLHttpRequest", "WebSocket", "import(", "@import"):
            assert word not in text
        assert set(re.findall(r"url\(([^)]*)\)", text)) <= {"#arrow"}  # the arrowhead marker
        (policy,) = [
            attrs["content"]
            for tag, attrs in parsed.tags
            if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
        ]
        assert policy is not None and "default-src 'none'" in policy
        (script,) = [body for attrs, body in parsed.scripts if not attrs]
        (style,) = parsed.styles

        def digest(body: str) -> str:
            return base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()

        assert f"script-src 'sha256-{digest(script)}'" in policy
        assert f"style-src 'sha256-{digest(style)}'" in policy
        assert parsed.title.startswith("apple_orange — Buying apples")

    def test_the_page_embeds_the_trace_records_and_the_drawing(self, invoke: Invoke) -> None:
        """The steps are the records of `bpcalc trace -o json`; each vertex and edge of the
        drawing is there with its place, value and gradient."""
        text = invoke("draw", "apple_orange", "-o", "html").stdout
        data = embedded(text)
        records = json.loads(invoke("trace", "apple_orange", "-o", "json").stdout)
        assert strip_links(data["steps"]) == records
        assert (data["forwardSteps"], data["backwardSteps"]) == (4, 4)
        vertices = {v["id"]: v for v in data["vertices"]}
        assert vertices["apple"]["kind"] == "input" and vertices["apple"]["grad"] == "2.2"
        assert vertices["price"]["label"] == "×" and vertices["all_price"]["label"] == "+"
        assert vertices["price →"]["kind"] == "result"
        labels = {
            (data["vertices"][e["source"]]["id"], data["vertices"][e["target"]]["id"]): (
                e["value"],
                e["grad"],
            )
            for e in data["edges"]
        }
        assert labels[("apple", "apple_price")] == ("100", "2.2")
        assert labels[("tax", "price")] == ("1.1", "650")
        assert labels[("price", "price →")] == ("715", "1")
        assert data["inputGrads"]["orange"] == pytest.approx(3.3)

    def test_each_step_points_at_its_vertex_and_edges(self) -> None:
        """A backward contribution names the vertex it adds to and the edge it flows along."""
        data = data_for(REUSE)
        names = [v["name"] for v in data["vertices"]]
        for record in data["steps"]:
            assert names[record["vertex"]] == record["node"]
            for c in record.get("contributions", []):
                edge = data["edges"][c["edge"]]
                assert names[c["vertex"]] == c["name"] == names[edge["source"]]
                assert names[edge["target"]] == record["node"]

    def test_a_value_used_twice_carries_its_running_sum(self) -> None:
        """p feeds q and r: two contributions, the second with the first as its previous."""
        data = data_for(REUSE)
        into_p = [
            c
            for record in data["steps"]
            for c in record.get("contributions", [])
            if c["name"] == "p"
        ]
        assert [(c["contribution"], c["of"]) for c in into_p] == [(1, 2), (2, 2)]
        assert into_p[1]["previous"] == into_p[0]["total"]
        assert into_p[1]["total"] == pytest.approx(into_p[0]["amount"] + into_p[1]["amount"])

    def test_what_is_revealed_when(self) -> None:
        """Values of op nodes appear at their forward step, gradients at the backward step of
        the node they flow out of; inputs' values are known from the start."""
        data = data_for("apple_orange")
        vertices = {v["id"]: v for v in data["vertices"]}
        assert vertices["apple"]["computedAt"] == 0
        assert vertices["all_price"]["computedAt"] == 3
        assert vertices["price"]["gradAt"] == 5  # d price/d price = 1: the first backward step
        assert vertices["apple"]["gradAt"] == 8  # after apple_price's step, the last
        edges = {
            (data["vertices"][e["source"]]["id"], data["vertices"][e["target"]]["id"]): e
            for e in data["edges"]
        }
        assert edges[("all_price", "price")]["valueAt"] == 3
        assert edges[("all_price", "price")]["gradAt"] == 5
        assert edges[("apple", "apple_price")]["gradAt"] == 8

    def test_tensors_are_summarised_and_expandable(self, invoke: Invoke) -> None:
        """two_layer_net: tensors get a summary, a shape and every element for expanding."""
        data = embedded(invoke("draw", "two_layer_net", "-o", "html").stdout)
        weights = next(v for v in data["vertices"] if v["name"] == "W1")
        assert weights["shape"] and weights["valueFull"] and weights["gradFull"]
        assert "tensor" in weights["value"] or weights["value"].startswith("[")
        labels = next(v for v in data["vertices"] if v["name"] == "t")
        assert labels["grad"] is None

    def test_digits_round_the_edges(self, invoke: Invoke) -> None:
        data = embedded(invoke("draw", "apple_orange", "-o", "html", "--digits", "2").stdout)
        assert data["digits"] == {"scalar": 2, "tensor": 2}
        assert {e["value"] for e in data["edges"]} >= {"1.1", "6.5e+02"}

    @pytest.mark.parametrize("example", sorted(p.stem for p in GRAPHS.glob("*.yaml")))
    def test_every_example_makes_a_page(self, invoke: Invoke, example: str) -> None:
        result = invoke("draw", example, "-o", "html")
        assert result.exit_code == 0, result.output
        data = embedded(result.stdout)
        assert len(data["steps"]) == data["forwardSteps"] + data["backwardSteps"]


class TestEscaping:
    def test_embedded_json_cannot_end_its_script(self) -> None:
        """< > & and the line separators are \\u escapes; JSON reads the same document."""
        document = {"name": "</script><!-- & -->\u2028\u2029", "n": [1.5]}
        text = embed_json(document)
        assert not set("<>&\u2028\u2029") & set(text)
        assert json.loads(text) == document

    def test_hostile_names_stay_text(self, write_graph: WriteGraph, invoke: Invoke) -> None:
        """A graph name that closes the script and a description with an <img> make no
        element: the page still has its own two scripts and nothing else; the title element
        holds the text escaped; the data holds the names as they were (control and bidi
        characters shown as escapes, as everywhere in bpcalc's human output)."""
        text = invoke("draw", str(write_graph(HOSTILE)), "-o", "html").stdout
        parsed = parse(text)
        assert [tag for tag, _ in parsed.tags].count("script") == 2
        assert "img" not in [tag for tag, _ in parsed.tags]
        assert "</script><script>" not in text
        assert "<img" not in text
        assert "\u202e" not in text and "\x1b" not in text and "\u2028" not in text
        data = embedded(text)
        assert data["graph"] == "</script><script>window.pwned=1</script>"
        assert '<img src=x onerror="window.pwned=2"> & <!--' in data["title"]
        assert "\\u202eevil\\x1b[31m" in data["title"]
        assert parsed.title.startswith("</script><script>window.pwned=1</script> — <img")
        assert {v["name"] for v in data["vertices"]} >= {"사과", "사과 * b + 1"}


class TestLayout:
    def test_ranks_run_from_the_inputs_to_the_result(self) -> None:
        """apple_orange: inputs, the two ×, the + (with tax just before its use), the last ×,
        then the result."""
        data = data_for("apple_orange")
        x = {v["id"]: v["x"] for v in data["vertices"]}
        assert x["apple"] == x["orange_num"] < x["apple_price"] == x["orange_price"]
        assert x["orange_price"] < x["all_price"] == x["tax"] < x["price"] < x["price →"]

    def test_ranks_are_longest_paths(self) -> None:
        # 0 -> 1 -> 2, 0 -> 2: 2 is two ranks after 0; an input (3) used by 2 sits just before.
        assert ranks(4, [(0, 1), (1, 2), (0, 2), (3, 2)], ["op", "op", "op", "input"]) == [
            0,
            1,
            2,
            1,
        ]

    def test_the_barycentre_pass_removes_a_crossing(self) -> None:
        """0 -> 3 and 1 -> 2 cross when 2 is above 3; the pass swaps them."""
        rank = [0, 0, 1, 1]
        edges = [(0, 3), (1, 2)]
        assert crossings([[0, 1], [2, 3]], edges, rank) == 1
        layers = order_ranks(rank, edges)
        assert crossings(layers, edges, rank) == 0

    def test_vertices_do_not_overlap(self) -> None:
        for example in ("apple_orange", "two_layer_net", "tanh_neuron"):
            vertices = data_for(example)["vertices"]
            for i, a in enumerate(vertices):
                for b in vertices[i + 1 :]:
                    apart_x = abs(a["x"] - b["x"]) >= (a["w"] + b["w"]) / 2
                    apart_y = abs(a["y"] - b["y"]) >= (a["h"] + b["h"]) / 2
                    assert apart_x or apart_y, (a["id"], b["id"])

    def test_labels_sit_on_their_edges(self) -> None:
        for edge in data_for("two_layer_net")["edges"]:
            x1, y1, x2, y2 = edge["line"]
            lx, ly = edge["label"]
            assert min(x1, x2) <= lx <= max(x1, x2)
            assert ly == pytest.approx(y1 + (lx - x1) / (x2 - x1) * (y2 - y1), abs=0.2)

    def test_three_hundred_nodes_are_laid_out_quickly(self) -> None:
        graph = loads(big_graph(300))
        evaluation = graph.evaluate(trace=True)
        trace = build_trace(graph, evaluation)
        drawing = build_drawing(graph, evaluation, trace)
        started = time.perf_counter()
        text = page(drawing, trace, evaluation, None)
        assert time.perf_counter() - started < 20
        data = embedded(text)
        assert sum(v["kind"] == "op" for v in data["vertices"]) >= 300
        assert data["width"] > 0 and data["height"] > 0

    def test_lay_out_handles_a_lone_input(self) -> None:
        """A graph whose output is an input: no op node, no step; the page is still made."""
        data = data_for("name: lone\ninputs:\n  a: 1\nnodes:\n  b: a + 1\noutput: a\n")
        assert data["backwardSteps"] == 0
        assert lay_out  # the layout ran inside page_data
