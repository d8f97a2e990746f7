"""Fuzzing through the command line: whatever a graph file holds, bpcalc answers with a result
or a located message, never a traceback; and on random valid graphs of every op, its gradients
agree with central differences.

Budget per CI run (the sum of the max_examples below): text 100 + bytes 100 + grad 100
+ lookalikes 40 + comments 60 + control characters 60 + mutations 100 + duplicates 30
+ cycles 30 + 12 gradients per op + 100 result sizes + carriage returns 3 x 40 + huge
exponents 15 (in processes): some seconds on one core.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bpcalc.cli import cli
from bpcalc.loading.build import loads
from bpcalc.loading.graph import Graph
from bpcalc.loading.inputs import InputValue
from bpcalc.ops.table import OPS
from tests import cnn_cases

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
EXAMPLES = {path.stem: path.read_text(encoding="utf-8") for path in sorted(GRAPHS.glob("*.yaml"))}


def fuzz(examples: int) -> settings:
    """Hypothesis settings with a fixed budget: no deadline, as CI machines are slow and shared."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole module: hypothesis runs many examples per test function."""
    return tmp_path_factory.mktemp("fuzz")


def bpcalc(*args: str, input: bytes | None = None) -> Result:
    """``bpcalc ARGS`` in-process; any exception escaping the CLI fails the test."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


# --- what every answer must look like ----------------------------------------------------------

EXCERPT_LINES = (
    re.compile(r" *\d+ \| .*"),  # the source line under a located message
    re.compile(r" +\| *\^"),  # the caret under it
    re.compile(r"\.\.\. and [\d,]+ more errors?"),  # a flood of errors, cut
)


def assert_answered(result: Result, shown: str) -> None:
    """Exit 0, 1 or 2; no traceback; a failure prints nothing on stdout and says where and why,
    as ``FILE:LINE:COL: message``, ``FILE: message`` or ``Error: message``."""
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    located = re.compile(rf"{re.escape(shown)}(:\d+:\d+)?: \S")
    lines = result.stderr.split("\n")[:-1] if result.stderr else []
    if result.exit_code == 0:
        assert result.stdout
        for line in lines:
            assert (located.match(line) and "warning:" in line) or _excerpt(line), line
        return
    assert result.stdout == ""
    assert lines, "a failure must say why"
    assert located.match(lines[0]) or re.match(r"Error: \S", lines[0]), lines[0]
    for line in lines:
        assert located.match(line) or re.match(r"Error: \S", line) or _excerpt(line), line


def _excerpt(line: str) -> bool:
    return any(kind.fullmatch(line) for kind in EXCERPT_LINES)


# --- (a) arbitrary text and bytes --------------------------------------------------------------

TOKENS = [
    *("inputs:", "nodes:", "output:", "name:", "description:", "op:", "in:", "grad: false"),
    *("\n", "\n  ", "\n    ", "\n  - ", "  ", "\t", ": ", ":", "-", ", ", "#"),
    *("x", "y", "z", "W", "b", "t", "사과", "りんご", "in", "None", "on", "inf", "nan"),
    *("1", "2.5", "-3", "0", "1e-4", "1_000", ".5", ".nan", "-.inf", "1e999", "0x10", "1j"),
    *("[", "]", "{", "}", "(", ")", "[1, 2]", "[[1, 2], [3]]", "[[1, 2], [3, 4]]"),
    *("x * y", "x + 1", "x @ W", "relu(x)", "sum(", "affine(x, W, b)", "x ** 2", "-x", "x.y"),
    *("mul", "add", "softmax_with_loss", "{op: mul, in: [x, y]}", "{op: relu, in: x}"),
    *("{zeros: 3}", "{ones: [2, 2]}", "{random: [2], seed: 1}", "{value: 2}", "{file: a.csv}"),
    *("{zeros: [1000000000, 1000000000]}", "{zeros: -1}", "{file: ../../etc/passwd}"),
    *("&a ", "*a", "<<: *a", "!!python/object/apply:os.system", "!!str ", "!tag "),
    *("'", '"', "|", ">", "? ", "%YAML 1.1\n", "---\n", "...\n", "\\", "\x00", "\ufeff", "\u2028"),
    *("\x1b[31m", "\r", "\x85", "((((", "))))", "[[[[", "]]]]"),
]


def mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Seven draws in eight from ``good``, so that a fair share of the graphs get far."""
    return st.one_of(*[st.sampled_from(good)] * 7, st.sampled_from(bad))


INPUT_NAMES = mostly(["사과", "W", "b"], ["in", "on", "2x", "a-b", "nodes", "_"])
NODE_NAMES = mostly(["n", "m", "りんご", "out"], ["x", "lambda", "n.m", "None", "on"])
VALUES = mostly(
    ["1", "-2.5", "[1, 2, 3]", "[[1, 2], [3, 4]]", "{zeros: [2, 3]}", "{ones: 3}", "0"],
    [
        *(".nan", "[[1], [2, 3]]", "abc", "[]", "{}", "{zeros: 1.5}", "{random: 2, seed: x}"),
        *("true", "~", "[1, [2]]", "{random: [3, 2], seed: 4, scale: 0.5}", "-.inf", "1e999"),
        *("{value: [0, 1], grad: false}", "{file: a.csv}", "{zeros: [1000000, 1000000]}"),
    ],
)
DEFINITIONS = mostly(
    [
        *("x * y", "x + y", "x - 사과", "x / y", "x ** 2", "-x", "x", "2", "relu(x)", "sum(x)"),
        *("sigmoid(x) * tanh(y)", "exp(x) + log(y)", "mean(x * x)", "n * m"),
        "{op: mul, in: [x, y]}",
    ],
    [
        *("x @ W", "affine(x, W, b)", "softmax_with_loss(x, y)", "{op: sum, in: [x]}", "z"),
        *("x[0]", "x.shape", "lambda: 1", "'s'", "f(x)", "relu(x, y)", "x +", "(x", "n"),
        "{op: nope}",
    ],
)


@st.composite
def skeletons(draw: st.DrawFn) -> str:
    """Text shaped like a graph file, with names, values and definitions good and bad."""
    names = ["x", "y", *draw(st.lists(INPUT_NAMES, max_size=2))]
    inputs = ["inputs:"] + [f"  {name}: {draw(VALUES)}" for name in names]
    nodes = ["nodes:"] + [
        f"  {name}: {draw(DEFINITIONS)}"
        for name in draw(st.lists(NODE_NAMES, min_size=1, max_size=3, unique=True))
    ]
    blocks = [inputs, nodes] + ([[f"output: {draw(NODE_NAMES)}"]] * draw(st.booleans()))
    return "".join(line + "\n" for block in draw(st.permutations(blocks)) for line in block)


token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
graph_texts = st.one_of(st.text(max_size=200), token_soup, skeletons())
graph_bytes = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda text, at, noise: (lambda data: data[:at] + noise + data[at:])(text.encode()),
        graph_texts,
        st.integers(0, 400),
        st.binary(min_size=1, max_size=4),
    ),
)


class TestArbitraryInput:
    @fuzz(100)
    @given(text=graph_texts, suffix=st.sampled_from([".yaml", ".json"]))
    def test_any_text_gets_a_result_or_a_located_message(
        self, folder: Path, text: str, suffix: str
    ) -> None:
        """`bpcalc run FILE` on any text: exit 0/1/2, no traceback, a located message on failure."""
        path = folder / f"graph{suffix}"
        path.write_text(text, encoding="utf-8")
        assert_answered(bpcalc("run", str(path)), str(path))

    @fuzz(100)
    @given(data=graph_bytes, stdin=st.booleans())
    def test_any_bytes_get_a_result_or_a_located_message(
        self, folder: Path, data: bytes, stdin: bool
    ) -> None:
        """Any bytes, from a file or from stdin, get an answer; never a traceback."""
        if stdin:
            assert_answered(bpcalc("run", "-", input=data), "<stdin>")
        else:
            path = folder / "graph.yaml"
            path.write_bytes(data)
            assert_answered(bpcalc("run", str(path)), str(path))

    @fuzz(100)
    @given(text=st.one_of(token_soup, skeletons()))
    def test_grad_wrt_x_of_any_text_gets_an_answer(self, folder: Path, text: str) -> None:
        """`bpcalc grad FILE --wrt x` on any text: a gradient, or a located or usage message."""
        path = folder / "graph.yaml"
        path.write_text(text, encoding="utf-8")
        result = bpcalc("grad", str(path), "--wrt", "x")
        assert_answered(result, str(path))
        if result.exit_code == 0:
            assert len(result.stdout.splitlines()) == 1


# --- (b) Unicode lookalike names and comments inside expressions (issue 9) -------------------

# Spellings Python's parser reads as the same identifier (NFKC): fullwidth, ligature, letterlike.
LOOKALIKES = {"x": ["x", "ｘ"], "fi": ["fi", "ﬁ"], "H": ["H", "ℌ", "Ｈ"], "np": ["np", "ｎｐ"]}


@st.composite
def lookalike_graphs(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """A graph with names in random lookalike spellings, the same graph in plain spellings,
    and the spelling of a second input twin to the first one (when one was added)."""
    bases = draw(st.lists(st.sampled_from(sorted(LOOKALIKES)), min_size=1, max_size=3, unique=True))

    def spelt(base: str, plain: bool) -> str:
        return base if plain else draw(st.sampled_from(LOOKALIKES[base]))

    def graph(plain: bool) -> str:
        inputs = "".join(f"  {spelt(b, plain)}: {i + 2}\n" for i, b in enumerate(bases))
        terms = " + ".join(f"{spelt(b, plain)} * {spelt(b, plain)}" for b in bases)
        mul = f"{{op: mul, in: [{spelt(bases[0], plain)}, {spelt('y', True)}]}}"
        return f"inputs:\n{inputs}nodes:\n  y: {terms}\n  z: {mul}\n"

    fancy = graph(plain=False)
    twin = None
    if draw(st.booleans()):
        first = re.search(r"^  (\S+): 2$", fancy, re.MULTILINE)
        assert first is not None
        others = [s for s in LOOKALIKES[bases[0]] if s != first.group(1)]
        twin = draw(st.sampled_from(others))
        fancy = fancy.replace("nodes:\n", f"  {twin}: 9\nnodes:\n")
    return fancy, graph(plain=True), twin


@st.composite
def commented_trees(draw: st.DrawFn, depth: int = 0) -> tuple[list[str], float]:
    """An expression over x = 2 and y = 3 as tokens, fully parenthesised, and its value."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        leaf = draw(st.sampled_from(["x", "y", "2", "1.5"]))
        return [leaf], {"x": 2.0, "y": 3.0}.get(leaf) or float(leaf)
    if draw(st.integers(0, 3)) == 0:
        tokens, value = draw(commented_trees(depth + 1))
        return ["(", "-", *tokens, ")"], -value
    left, a = draw(commented_trees(depth + 1))
    right, b = draw(commented_trees(depth + 1))
    op = draw(st.sampled_from(["+", "-", "*"]))
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return ["(", *left, op, *right, ")"], value


COMMENT_TEXT = ["*", "- y", "(", ")", "x -", "#", "'", ":", "ｘ"]


def noisy(tokens: list[str], draw: st.DrawFn) -> str:
    """The tokens with line breaks, spaces and comments (holding operators) between them."""
    gaps = [
        draw(st.sampled_from(["", " ", "\n ", None]))
        or f"  # {draw(st.sampled_from(COMMENT_TEXT))}\n  "
        for _ in tokens
    ]
    return "(" + "".join(gap + token for gap, token in zip(gaps, tokens, strict=True)) + "\n)"


class TestLookalikesAndComments:
    @fuzz(40)
    @given(case=lookalike_graphs(), wrt=st.sampled_from(sorted(LOOKALIKES)), data=st.data())
    def test_lookalike_spellings_are_one_name_or_refused(
        self, folder: Path, case: tuple[str, str, str | None], wrt: str, data: st.DataObject
    ) -> None:
        """Any mix of spellings gives the numbers of the plain graph (and --wrt takes any
        spelling); a second input spelt differently is refused, never silently merged."""
        fancy, plain, twin = case
        fancy_path, plain_path = folder / "lookalike.yaml", folder / "plain.yaml"
        fancy_path.write_text(fancy, encoding="utf-8")
        plain_path.write_text(plain, encoding="utf-8")
        result = bpcalc("run", str(fancy_path), "-o", "tsv")
        assert_answered(result, str(fancy_path))
        if twin is not None:
            assert result.exit_code == 1
            assert "are the same name once Unicode-normalised" in result.stderr.splitlines()[0]
            return
        assert (result.exit_code, result.stdout) == (0, bpcalc("run", str(plain_path)).stdout)
        if wrt in plain:
            spelling = data.draw(st.sampled_from(LOOKALIKES[wrt]))
            fancy_grad = bpcalc("grad", str(fancy_path), "--wrt", spelling)
            assert fancy_grad.stdout == bpcalc("grad", str(plain_path), "--wrt", wrt).stdout

    @fuzz(60)
    @given(first=commented_trees(), second=commented_trees(), data=st.data())
    def test_comments_and_line_breaks_never_change_a_value_or_a_name(
        self,
        folder: Path,
        first: tuple[list[str], float],
        second: tuple[list[str], float],
        data: st.DataObject,
    ) -> None:
        """Two expressions split over lines with comments between their tokens: each has the
        value Python gives the same tree, and the names and numbers are those of the same
        expressions written on one line (equal trees, equal nodes; different trees, never)."""
        (tokens_a, a), (tokens_b, b) = first, second
        head = "name: g\ninputs:\n  x: 2\n  y: 3\nnodes:\n"
        noisy_text = (
            f"{head}  a: {json.dumps(noisy(tokens_a, data.draw))}\n"
            f"  b: {json.dumps(noisy(tokens_b, data.draw))}\n  c: a + b\n"
        )
        plain_text = (
            f"{head}  a: {json.dumps(' '.join(tokens_a))}\n"
            f"  b: {json.dumps(' '.join(tokens_b))}\n  c: a + b\n"
        )
        noisy_path, plain_path = folder / "noisy.yaml", folder / "plain.yaml"
        noisy_path.write_text(noisy_text, encoding="utf-8")
        plain_path.write_text(plain_text, encoding="utf-8")
        result = bpcalc("run", str(noisy_path), "-o", "json")
        assert_answered(result, str(noisy_path))
        assert result.exit_code == 0
        values = json.loads(result.stdout)["values"]
        assert (values["a"], values["b"]) == (a, b)
        assert result.stdout == bpcalc("run", str(plain_path), "-o", "json").stdout
        for name in values:
            assert "#" not in name and "\n" not in name and "ｘ" not in name


# Control and bidi characters in names, descriptions and comments (issue 9, item 6): whatever
# reaches an output for people is escaped; JSON holds them as \u escapes only.
HOSTILE_CHARS = [
    *("\x1b[2J", "\x1b]0;t\x07", "\x00", "\r", "\n", "\x7f", "\x85", "\x9b", "\u202e"),
    *("\u2066", "\u200f", "\u061c", "\u200b", "\u2028", "\ufeff", "\U000e0041", "\ud800"),
    *("\ufffe", "a", " ", "\\G", "<&>", '"', "\t"),
]
hostile_text = st.lists(st.sampled_from(HOSTILE_CHARS), max_size=6).map("".join)
HUMAN_OUTPUTS = [
    ("run", "-o", "table"),
    ("trace",),
    ("draw", "-o", "text"),
    ("draw", "-o", "dot"),
    ("draw", "-o", "mermaid"),
    ("sweep", "x=1:2:3", "-o", "table"),
    ("sweep", "x=1:2:3", "-o", "svg"),
    ("run", "-o", "json"),
]


def raw_control(text: str) -> list[str]:
    """Characters that drive a terminal or hide text (tabs and line breaks aside)."""
    return [
        ch
        for ch in text
        if ch not in "\t\n\u200c\u200d"
        and (unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") or ch in "\ufffe\uffff")
    ]


class TestControlCharacters:
    @fuzz(60)
    @given(
        name=hostile_text,
        description=hostile_text,
        key=st.one_of(st.just("x"), hostile_text.map(lambda t: "x" + t)),
        comment=st.one_of(st.just(""), hostile_text),
        command=st.sampled_from(HUMAN_OUTPUTS),
    )
    def test_no_raw_control_character_reaches_an_output(
        self,
        folder: Path,
        name: str,
        description: str,
        key: str,
        comment: str,
        command: tuple[str, ...],
    ) -> None:
        """A JSON graph can hold any character in name:, description:, a key or a comment:
        the answer holds none of them raw, on stdout or stderr; an SVG parses as XML."""
        graph = {
            "name": name,
            "description": description,
            "inputs": {key: 2},
            "nodes": {"y": f"(x * 3) + 1 # {comment}", "z": "(-y) * 2"},
        }
        path = folder / "hostile.json"
        path.write_text(json.dumps(graph), encoding="utf-8")
        result = bpcalc(command[0], str(path), *command[1:])
        assert_answered(result, str(path))
        assert raw_control(result.stdout.replace("\n", "")) == []
        assert raw_control(result.stderr.replace("\n", "")) == []
        if result.exit_code == 0 and command[-1] == "svg":
            ET.fromstring(result.stdout)
        if result.exit_code == 0 and command[-1] == "json":
            # an empty name: falls back to the file's stem, as for a graph without name:
            assert json.loads(result.stdout)["graph"] == (name or "hostile")


# --- (c) random valid graphs of every op, checked against central differences -----------------


@dataclass
class Case:
    """A valid graph: its text, the inputs central differences move, and its node order."""

    text: str
    differentiable: list[str]
    nodes: list[str] = field(default_factory=list)  # definition lines, in written order


Domain = tuple[float, float, bool]  # magnitudes from, to, and whether signs vary


def numbers(domain: Domain, shape: tuple[int, ...]) -> Any:
    """An array of ``shape`` (a float for ()) with magnitudes in the domain: never near 0."""
    low, high, signed = domain
    count = int(np.prod(shape)) if shape else 1
    magnitude = st.floats(low, high, allow_nan=False, allow_infinity=False)
    sign = st.sampled_from([-1.0, 1.0] if signed else [1.0])
    flat = st.lists(st.tuples(sign, magnitude), min_size=count, max_size=count)
    return flat.map(lambda pairs: _shaped([s * m for s, m in pairs], shape))


def _shaped(flat: list[float], shape: tuple[int, ...]) -> Any:
    return np.array(flat).reshape(shape) if shape else flat[0]


ANY: Domain = (0.1, 2.0, True)  # relu's kink at 0 is never within the difference step
POSITIVE: Domain = (0.5, 2.5, False)  # log's argument and pow's base
DIVISOR: Domain = (0.5, 2.0, True)

SHAPES = [(), (3,), (2, 3)]


def broadcast_partner(shape: tuple[int, ...]) -> st.SearchStrategy[tuple[int, ...]]:
    """A shape that broadcasts with ``shape``: itself, a scalar, a suffix, or with 1s."""
    options = [shape, (), shape[1:], tuple(1 if i == 0 else n for i, n in enumerate(shape))]
    return st.sampled_from(options)


def literal(value: Any) -> str:
    """A value as YAML: repr keeps every digit, so the file holds exactly these floats."""
    if isinstance(value, np.ndarray) and value.ndim:
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return repr(float(value))


# ---- the common ops (issue 12): their operands and attributes

COMMON_OPS = {
    *("sqrt", "square", "abs", "sin", "cos", "leaky_relu", "softplus", "softmax", "log_softmax"),
    *("maximum", "minimum", "max", "min", "transpose", "reshape", "flatten", "index", "mse"),
    *("sum_squared_error", "cross_entropy_error"),
}
SMALL: Domain = (0.0, 0.05, True)  # maximum's second operand: never tied with an ANY number


@st.composite
def common_operands(draw: st.DrawFn, op: str) -> tuple[list[tuple[str, Any, bool]], list[str]]:
    if op in ("maximum", "minimum", "mse", "sum_squared_error"):
        first = draw(st.sampled_from(SHAPES))
        x = draw(numbers(ANY, first))
        y = draw(
            numbers(SMALL if op in ("maximum", "minimum") else ANY, draw(broadcast_partner(first)))
        )
        return [("x", x, True), ("y", y, True)], ["x", "y"]
    if op == "cross_entropy_error":
        n, c = draw(st.tuples(st.integers(1, 3), st.integers(2, 4)))
        shape = draw(st.sampled_from([(n, c), (c,)]))
        y = draw(numbers(POSITIVE, shape))
        labels = draw(
            st.lists(
                st.integers(0, c - 1),
                min_size=shape[0] if len(shape) == 2 else 1,
                max_size=shape[0] if len(shape) == 2 else 1,
            )
        )
        if draw(st.booleans()):
            t = np.eye(c)[labels].reshape(shape)
            return [("y", y, True), ("t", t, True)], ["y", "t"]
        t = np.array(labels, dtype=float).reshape(shape[:-1])
        return [("y", y, True), ("t", t, False)], ["y", "t"]
    tensor = op in ("max", "min", "reshape", "flatten", "index")
    shape = draw(st.sampled_from([(3,), (2, 3)] if tensor else SHAPES))
    x = draw(numbers(POSITIVE if op == "sqrt" else ANY, shape))
    if op in ("max", "min"):  # no ties: central differences would see one side of them
        flat = sorted(np.ravel(x).tolist())
        assume(all(b - a > 1e-3 for a, b in itertools.pairwise(flat)))
    return [("x", x, True)], ["x"]


@st.composite
def common_attrs(draw: st.DrawFn, op: str, shape: tuple[int, ...]) -> dict[str, str]:
    """Some attributes of ``op`` that fit an input of ``shape``, as YAML and Python write them."""
    size = int(np.prod(shape))
    choices: dict[str, list[dict[str, str]]] = {
        "leaky_relu": [{}, {"slope": "0.2"}],
        "max": [{}, {"axis": "0"}, {"axis": "-1", "keepdims": "true"}],
        "min": [{}, {"axis": "0"}, {"keepdims": "true"}],
        "softmax": [{}] + ([{"axis": "0"}] if shape else []),
        "log_softmax": [{}] + ([{"axis": "0"}] if shape else []),
        "transpose": [{}] + ([{"axes": "[1, 0]"}, {"axes": "[-2, -1]"}] if len(shape) == 2 else []),
        "reshape": [
            {"shape": v}
            for v in (["[-1]", "[3, 1]", "[1, -1]"] if size == 3 else ["[3, 2]", "[-1, 2]", "[6]"])
        ],
        "index": [
            {"index": v}
            for v in (
                ["[0]", "[-1]", "[0:2]", "[::2]"]
                if len(shape) == 1
                else ["[:, 1]", "[1, 2]", "[0]", "[:, ::2]", "[-1, 0:2]"]
            )
        ],
    }
    return draw(st.sampled_from(choices.get(op, [{}])))


def common_definition(op: str, args: list[str], attrs: dict[str, str], explicit: bool) -> str:
    if explicit:
        extra = "".join(
            f", {k}: '{v}'" if k == "index" else f", {k}: {v}" for k, v in attrs.items()
        )
        return f"{{op: {op}, in: [{', '.join(args)}]{extra}}}"
    if op == "index":
        return f"{args[0]}{attrs['index']}"
    if op == "transpose" and not attrs:
        return f"{args[0]}.T"
    return f"{op}({', '.join([*args, *(f'{k}={v}' for k, v in attrs.items())])})"


@st.composite
def operands(draw: st.DrawFn, op: str) -> tuple[list[tuple[str, Any, bool]], list[str]]:
    """Inputs (name, value, grad) for one call of ``op``, and the arguments it is called with."""
    if op in cnn_cases.CNN_OPS:
        return draw(cnn_cases.operands(op))
    if op in COMMON_OPS:
        return draw(common_operands(op))
    if op in ("add", "sub", "mul", "div", "pow"):
        first = draw(st.sampled_from(SHAPES))
        second = draw(broadcast_partner(first))
        domains = {"div": (ANY, DIVISOR), "pow": (POSITIVE, ANY)}
        x_domain, y_domain = domains.get(op, (ANY, ANY))
        x = draw(numbers(x_domain, first))
        if op in ("add", "sub", "mul") and draw(st.booleans()):
            return [("x", x, True)], ["x", "x"]  # the same value twice: gradients add up
        if not second and draw(st.booleans()):
            constant = draw(numbers(y_domain, ()))
            return [("x", x, True)], ["x", repr(float(constant))]
        y = draw(numbers(y_domain, second))
        return [("x", x, True), ("y", y, True)], ["x", "y"]
    if op == "matmul":
        n, k, m = draw(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
        x_shape = draw(st.sampled_from([(n, k), (k,)]))
        y_shape = draw(st.sampled_from([(k, m), (k,)]))
        x, y = draw(numbers(ANY, x_shape)), draw(numbers(ANY, y_shape))
        return [("x", x, True), ("W", y, True)], ["x", "W"]
    if op == "affine":
        n, k, m = draw(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))
        x = draw(numbers(ANY, draw(st.sampled_from([(n, k), (k,)]))))
        w, b = draw(numbers(ANY, (k, m))), draw(numbers(ANY, (m,)))
        return [("x", x, True), ("W", w, True), ("b", b, True)], ["x", "W", "b"]
    if op == "softmax_with_loss":
        n, c = draw(st.tuples(st.integers(1, 3), st.integers(2, 4)))
        shape = draw(st.sampled_from([(n, c), (c,)]))
        x = draw(numbers(ANY, shape))
        rows = 1 if len(shape) == 1 else n
        labels = draw(st.lists(st.integers(0, c - 1), min_size=rows, max_size=rows))
        if draw(st.booleans()):  # one-hot rows: their gradient exists too
            t = np.eye(c)[labels].reshape(shape)
            return [("x", x, True), ("t", t, True)], ["x", "t"]
        t = np.array(labels, dtype=float).reshape(shape[:-1])  # class indices: no gradient
        return [("x", x, True), ("t", t, False)], ["x", "t"]
    domain = POSITIVE if op == "log" else ANY
    shape = draw(st.sampled_from([(3,), (2, 3)] if op in ("sum", "mean") else SHAPES))
    return [("x", draw(numbers(domain, shape)), True)], ["x"]


POSTS = ["", "sum(r * r)", "sum(tanh(r))", "mean(sigmoid(r)) * 3"]


@st.composite
def op_graphs(draw: st.DrawFn, op: str) -> Case:
    """A valid graph calling ``op`` on random inputs, in either node form, maybe followed by a
    node that makes the upstream gradient uneven; nodes written in a random order."""
    inputs, args = draw(operands(op))
    spec = OPS[op]
    if op in COMMON_OPS:
        attrs = draw(common_attrs(op, np.shape(inputs[0][1])))
        definition = common_definition(op, args, attrs, draw(st.booleans()))
    elif draw(st.booleans()):
        definition = f"{{op: {op}, in: [{', '.join(args)}]}}"
    elif spec.symbol and spec.arity == 2:
        definition = f"{args[0]} {spec.symbol} {args[1]}"
    elif op == "neg":
        definition = f"-{args[0]}"
    else:
        definition = f"{op}({', '.join(args)})"
    lines = ["inputs:"]
    for name, value, grad in inputs:
        written = literal(value)
        lines.append(f"  {name}: " + (written if grad else f"{{value: {written}, grad: false}}"))
    post = draw(st.sampled_from(POSTS))
    nodes = [f"  r: {definition}"] + ([f"  out: {post}"] if post else [])
    nodes = draw(st.permutations(nodes))
    lines += ["nodes:", *nodes, f"output: {'out' if post else 'r'}"]
    differentiable = [name for name, _, grad in inputs if grad]
    return Case("\n".join(lines) + "\n", differentiable, list(nodes))


H = 1e-6


def central_difference(graph: Graph, name: str) -> Any:
    """d sum(output) / d name, element by element, from forward evaluations only."""
    value = graph.inputs[name].value

    def objective(changed: Any) -> float:
        result = graph.with_inputs({name: InputValue(changed)}).evaluate()
        return float(np.sum(result.values[result.output]))

    if isinstance(value, float):
        return (objective(value + H) - objective(value - H)) / (2 * H)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[index] += H
        down[index] -= H
        grad[index] = (objective(up) - objective(down)) / (2 * H)
    return grad


class TestGradientsOfEveryOp:
    def test_the_generator_covers_every_op(self) -> None:
        """A new op in the registry must be added to the generator below."""
        covered = {"add", "sub", "mul", "div", "pow", "matmul", "affine", "softmax_with_loss"}
        covered |= {"neg", "identity", "exp", "log", "tanh", "relu", "sigmoid", "sum", "mean"}
        covered |= set(cnn_cases.CNN_OPS)
        covered |= COMMON_OPS
        assert covered == set(OPS)

    @pytest.mark.parametrize("op", sorted(OPS))
    def test_gradients_agree_with_central_differences(self, folder: Path, op: str) -> None:
        """`bpcalc run -o json` gives, for every input, the slope central differences measure."""

        @fuzz(12)
        @given(case=op_graphs(op))
        def check(case: Case) -> None:
            path = folder / f"{op}.yaml"
            path.write_text(case.text, encoding="utf-8")
            result = bpcalc("run", str(path), "-o", "json")
            assert (result.exit_code, result.stderr) == (0, "")
            grads = json.loads(result.stdout)["grads"]
            graph = loads(case.text)
            for name in case.differentiable:
                expected = central_difference(graph, name)
                np.testing.assert_allclose(grads[name], expected, rtol=1e-5, atol=1e-6)

        check()


# --- (b) valid graphs, mutated -----------------------------------------------------------------

base_graphs = st.one_of(
    st.sampled_from(sorted(EXAMPLES.values())),
    st.sampled_from(sorted(OPS)).flatmap(op_graphs).map(lambda case: case.text),
)
ENTRY = re.compile(r"^  ([^\s:#][^:#]*):")


def entries(lines: list[str], section: str) -> list[int]:
    """Indices of the one-line entries of a top-level section (``inputs`` or ``nodes``)."""
    found, inside = [], False
    for i, line in enumerate(lines):
        if not line.startswith(" "):
            inside = line.startswith(f"{section}:")
        elif inside and ENTRY.match(line):
            found.append(i)
    return found


Mutation = Callable[[list[str], st.DrawFn], list[str]]


def drop_a_line(lines: list[str], draw: st.DrawFn) -> list[str]:
    i = draw(st.integers(0, len(lines) - 1))
    return lines[:i] + lines[i + 1 :]


def rename_a_key(lines: list[str], draw: st.DrawFn) -> list[str]:
    i = draw(st.integers(0, len(lines) - 1))
    new = draw(st.sampled_from(["input", "node", "outputs", "x_", "op", "in", "2", "사과", "a b"]))
    lines[i] = re.sub(r"^(\s*)[^\s:]+:", lambda m: f"{m.group(1)}{new}:", lines[i], count=1)
    return lines


def replace_a_value_by_a_string(lines: list[str], draw: st.DrawFn) -> list[str]:
    i = draw(st.integers(0, len(lines) - 1))
    text = draw(st.sampled_from(['"abc"', "'1.5'", "hello world", '"[1, 2]"', "''", "x y"]))
    lines[i] = re.sub(r"(:\s).*$", lambda m: m.group(1) + text, lines[i], count=1)
    return lines


def make_a_list_ragged(lines: list[str], draw: st.DrawFn) -> list[str]:
    with_lists = [i for i, line in enumerate(lines) if "[" in line]
    if not with_lists:
        return lines
    i = draw(st.sampled_from(with_lists))
    if draw(st.booleans()):
        lines[i] = re.sub(r"\[([^\[\]]*), ([^\[\]]*)\]", r"[\1]", lines[i], count=1)
    else:
        lines[i] = re.sub(r"(-?\d[\d.e+-]*)", r"[\1, 1]", lines[i], count=1)
    return lines


def break_an_indent(lines: list[str], draw: st.DrawFn) -> list[str]:
    i = draw(st.integers(0, len(lines) - 1))
    lines[i] = draw(st.sampled_from([" ", "   ", "\t", "      "])) + lines[i].lstrip(" ")
    return lines


MUTATIONS: list[Mutation] = [
    drop_a_line,
    rename_a_key,
    replace_a_value_by_a_string,
    make_a_list_ragged,
    break_an_indent,
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid graph with one to three mutations applied."""
    lines = draw(base_graphs).splitlines()
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        if lines:
            lines = mutation(list(lines), draw)
    return "\n".join(lines) + "\n"


class TestMutatedGraphs:
    @fuzz(100)
    @given(text=mutated(), command=st.sampled_from(["run", "grad"]))
    def test_a_mutated_graph_gets_a_result_or_a_located_message(
        self, folder: Path, text: str, command: str
    ) -> None:
        """Lines dropped, keys renamed, strings for values, ragged lists, broken indents: an
        answer with a location, never a traceback."""
        path = folder / "mutated.yaml"
        path.write_text(text, encoding="utf-8")
        args = ["--wrt", "x"] if command == "grad" else []
        assert_answered(bpcalc(command, str(path), *args), str(path))

    @fuzz(30)
    @given(text=base_graphs, data=st.data())
    def test_a_duplicated_name_is_reported_at_the_second_one(
        self, folder: Path, text: str, data: st.DataObject
    ) -> None:
        """An input or node line written twice: exit 1, 'duplicate key' at the copy's line."""
        lines = text.splitlines()
        section = data.draw(st.sampled_from(["inputs", "nodes"]))
        candidates = entries(lines, section)
        i = data.draw(st.sampled_from(candidates))
        lines.insert(i + 1, lines[i])
        path = folder / "duplicate.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = bpcalc("run", str(path))
        assert_answered(result, str(path))
        name = ENTRY.match(lines[i])
        assert name is not None
        assert result.exit_code == 1
        assert result.stderr.startswith(
            f"{path}:{i + 2}:3: duplicate key '{name.group(1)}' (first defined on line {i + 1})"
        )

    @fuzz(30)
    @given(text=base_graphs, data=st.data())
    def test_a_closed_cycle_is_reported_by_name(
        self, folder: Path, text: str, data: st.DataObject
    ) -> None:
        """The first node made to use the output: exit 1 and a message naming the cycle."""
        lines = text.splitlines()
        nodes = entries(lines, "nodes")
        output = re.search(r"^output: (\S+)", text, re.MULTILINE)
        names = [ENTRY.match(lines[i]).group(1) for i in nodes]  # type: ignore[union-attr]
        last = output.group(1) if output else names[-1]
        candidates = [i for i, n in zip(nodes, names, strict=True) if n != last]
        assume(candidates)  # a graph of one node has nothing to feed back
        first = data.draw(st.sampled_from(candidates))
        name = ENTRY.match(lines[first]).group(1)  # type: ignore[union-attr]
        lines[first] = f"  {name}: {{op: add, in: [{last}, {last}]}}"
        path = folder / "cycle.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = bpcalc("run", str(path))
        assert_answered(result, str(path))
        assert result.exit_code == 1
        assert re.match(rf"{re.escape(str(path))}:\d+:3: cycle: .*{name}", result.stderr)
        assert "a graph must not feed a node back into itself" in result.stderr


# --- result sizes worked out before evaluating ------------------------------------------------

small_shapes = st.lists(st.integers(1, 3), max_size=3).map(tuple)


def numpy_result_shape(op: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    """What the op's layer actually makes of zeros of these shapes; None if it refuses them."""
    layer = OPS[op].layer_class()()
    operands = [np.ones(shape) if shape else 1.0 for shape in shapes]
    try:
        with np.errstate(all="ignore"):
            return tuple(np.shape(layer.forward(*operands)))
    except (ValueError, TypeError):
        return None


class TestResultSizes:
    def test_every_op_has_a_size_rule(self) -> None:
        """A new op in the registry needs a rule in bpcalc.ops.shapes (OpSpec.shape)."""
        RULES = {name: spec.shape for name, spec in OPS.items() if callable(spec.shape)}

        assert set(RULES) == set(OPS)

    @fuzz(100)
    @given(
        op=st.sampled_from(sorted(OPS)),
        shapes=st.lists(small_shapes, min_size=3, max_size=3),
    )
    def test_the_rules_agree_with_the_layers(self, op: str, shapes: list[Any]) -> None:
        """Wherever the layer makes a result, bpcalc predicted exactly its shape (so no result
        is larger than checked); where the layer refuses the operands, evaluation says so."""
        from bpcalc.ops.spec import EMPTY

        operands = shapes[: OPS[op].arity]
        if op == "softmax_with_loss":  # labels: one-hot rows shaped like x
            operands = [operands[0], operands[0]]
        made = numpy_result_shape(op, operands)
        if made is not None:
            assert OPS[op].shape(operands, EMPTY) == made


# --- carriage returns: old-Mac line ends and lone CRs (issue 9, item 13) ----------------------


@st.composite
def line_ends(draw: st.DrawFn, lines: list[str]) -> str:
    """``lines`` joined with line ends drawn from LF, CR and CRLF. A CR is never followed by
    an empty line ended with LF: together they would be one CRLF, one line fewer."""
    text = ""
    for line, after in zip(lines, [*lines[1:], None], strict=True):
        ends = ["\n", "\r\n"] if after == "" else ["\n", "\r", "\r\n"]
        text += line + draw(st.sampled_from(ends))
    return text


def lone_crs(text: str, draw: st.DrawFn) -> str:
    """``text`` with up to three CRs put in anywhere (inside lines, numbers, names)."""
    for at in draw(st.lists(st.integers(0, len(text)), max_size=3)):
        text = text[:at] + "\r" + text[at:]
    return text


PLAIN_NODE = re.compile(r"^  ([^\s:#][^:#]*): ([^{\"'#\\]+)$")


class TestCarriageReturns:
    @fuzz(40)
    @given(text=base_graphs, data=st.data())
    def test_cr_line_ends_in_a_graph_give_the_same_results(
        self, folder: Path, text: str, data: st.DataObject
    ) -> None:
        """CR and CRLF end lines as LF does; lone CRs anywhere get an answer."""
        path = folder / "cr.yaml"
        path.write_text(text, encoding="utf-8")
        expected = bpcalc("run", str(path), "-o", "csv")
        path.write_bytes(data.draw(line_ends(text.splitlines())).encode())
        assert_answered(got := bpcalc("run", str(path), "-o", "csv"), str(path))
        assert (got.exit_code, got.stdout) == (expected.exit_code, expected.stdout)
        path.write_bytes(lone_crs(text, data.draw).encode())
        assert_answered(bpcalc("run", str(path), "-o", "csv"), str(path))

    @fuzz(40)
    @given(text=base_graphs, data=st.data())
    def test_a_cr_inside_a_parenthesised_expression_is_a_space(
        self, folder: Path, text: str, data: st.DataObject
    ) -> None:
        """An expression node written `"(... \\r ...)"`: the same results as without the CR;
        outside parentheses, a located message (never expr's IndexError)."""
        lines = text.splitlines()
        plain = [i for i, line in enumerate(lines) if PLAIN_NODE.match(line)]
        assume(plain)
        i = data.draw(st.sampled_from(plain))
        name, expression = PLAIN_NODE.match(lines[i]).groups()  # type: ignore[union-attr]
        spaces = [j for j, c in enumerate(expression) if c == " "] or [0]
        j = data.draw(st.sampled_from(spaces))
        path = folder / "cr_expression.yaml"
        lines[i] = f'  {name}: "({expression})"'
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        expected = bpcalc("run", str(path), "-o", "csv")
        with_cr = expression[:j] + "\\r" + expression[j + (expression[j : j + 1] == " ") :]
        for written in (f'"({with_cr})"', f'"{with_cr}"'):
            lines[i] = f"  {name}: {written}"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            result = bpcalc("run", str(path), "-o", "csv")
            assert_answered(result, str(path))
        lines[i] = f'  {name}: "({with_cr})"'
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = bpcalc("run", str(path), "-o", "csv")
        assert (result.exit_code, result.stdout) == (expected.exit_code, expected.stdout)

    @fuzz(40)
    @given(
        values=st.lists(st.sampled_from(["1", "1.08", "-2.5", "1e3", "nan", "x", ""]), max_size=8),
        data=st.data(),
    )
    def test_cr_line_ends_in_a_batch_file_give_the_same_rows(
        self, folder: Path, values: list[str], data: st.DataObject
    ) -> None:
        """CR and CRLF end rows as LF does, with the same line numbers in messages; lone CRs
        get rows or a `FILE:LINE: message`, never _csv.Error."""
        path = folder / "rows.csv"
        args = ["grad", "apple_orange", "--wrt", "tax", "--batch", str(path), "-o", "csv"]
        path.write_text("".join(f"{line}\n" for line in ["tax", *values]), encoding="utf-8")
        expected = bpcalc(*args)  # rows, or a message about a row, or a warning
        path.write_bytes(data.draw(line_ends(["tax", *values])).encode())
        got = bpcalc(*args)
        assert (got.exit_code, got.stdout, got.stderr) == (
            expected.exit_code,
            expected.stdout,
            expected.stderr,
        )
        lf = "".join(f"{line}\n" for line in ["tax", *values])
        path.write_bytes(lone_crs(lf, data.draw).encode())
        result = bpcalc(*args)
        assert result.exit_code in (0, 1, 2), result.stderr  # 2: a header that names no input
        assert "Traceback" not in result.stderr
        for line in result.stderr.splitlines():
            assert re.match(rf"{re.escape(str(path))}:\d+: \S", line), line


# --- huge exponents in number literals (issue 9, item 10) -------------------------------------

exponents = st.one_of(
    st.integers(-400, 400),
    st.integers(-(10**12), 10**12),
    st.sampled_from([-999_999_999, -9_999_999, -30_103, -30_000, 999_999_999, 10**40]),
)


@st.composite
def huge_literals(draw: st.DrawFn) -> str:
    """A number with an exponent anywhere from ordinary to absurd, maybe with many digits."""
    mantissa = draw(st.sampled_from(["1", "-2.5", "0", "9" * 50, "1_0", ".5", "1" + "0" * 400]))
    marker = draw(st.sampled_from(["e", "E"]))
    return f"{mantissa}{marker}{draw(exponents)}"


@st.composite
def huge_exponent_graphs(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A graph holding such literals as an input, a list item, in an expression and in the
    explicit form, and maybe one in --set."""
    a, b, c, d = (draw(huge_literals()) for _ in range(4))
    text = (
        f"inputs:\n  x: {a}\n  v: [1, {b}]\n"
        f"nodes:\n  y: x * {c} + sum(v)\n  z: {{op: mul, in: [y, '{d}']}}\noutput: z\n"
    )
    extra = ["--set", f"x={draw(huge_literals())}"] if draw(st.booleans()) else []
    return text, extra + (["--exact"] if draw(st.booleans()) else [])


class TestHugeExponents:
    @fuzz(15)
    @given(case=huge_exponent_graphs())
    def test_huge_exponents_get_an_answer_quickly(
        self, folder: Path, case: tuple[str, list[str]]
    ) -> None:
        """With or without --exact: a result or a located message, quickly and never a
        traceback. In a process with a time and memory bound: Fraction('1e-999999999') built
        10**999999999, in one C call that nothing in-process can interrupt."""
        from tests.test_hostile import PEAK_MB, SECONDS, spawn

        text, args = case
        path = folder / "huge.yaml"
        path.write_text(text, encoding="utf-8")
        outcome = spawn("run", path.name, *args, cwd=folder)
        assert outcome.seconds < SECONDS and outcome.peak_mb < PEAK_MB
        if outcome.code == 2:  # a bad --set value: a usage error, unlocated
            assert outcome.stderr.startswith("Error: --set x=") and outcome.stdout == ""
        else:
            answer = SimpleNamespace(
                exit_code=outcome.code, stdout=outcome.stdout, stderr=outcome.stderr
            )
            assert_answered(answer, path.name)  # type: ignore[arg-type]
