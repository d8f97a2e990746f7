"""Loading's and writing's fast paths give exactly what the full paths give.

Reading the usual explicit node by lookups, the ASCII shortcut of canonical names, the check
for printable ASCII before the escaping pattern, the JSON and TSV writers' shortcuts for
columns of floats, and the collector paused for a whole command: each is checked here against
the slow path it replaces, or for the behaviour it must keep.
"""

from __future__ import annotations

import gc
import json
import math
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcalc import loads
from bpcalc.errors import (
    _UNPRINTABLE,
    GraphError,
    _escaped,
    _json_escape,
    json_escaped,
    printable,
)
from bpcalc.limits import DEFAULT_LIMITS, Limits
from bpcalc.loading import parse as parse_module
from bpcalc.loading import schema
from bpcalc.loading.parse import YAML_VALUE_BYTES, _BoundedLoader, parse
from bpcalc.loading.schema import NodeDef, canonical_name
from bpcalc.output.numbers import (
    _json_number,
    json_value,
    json_values,
    value_text,
    value_texts,
)
from bpcalc.runtime import PROMOTE_AFTER, gc_paused
from tests.conftest import Invoke

# --- canonical names ----------------------------------------------------------------------


@given(st.text() | st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_canonical_name_is_nfkc(text: str) -> None:
    """The ASCII shortcut gives what NFKC gives (pure ASCII is its own NFKC form)."""
    assert canonical_name(text) == unicodedata.normalize("NFKC", text)


# --- escaping -----------------------------------------------------------------------------

# Mostly printable ASCII, with the characters either side of its edges and some non-ASCII.
TEXTS = st.text(
    alphabet=st.characters(max_codepoint=0x7F)
    | st.sampled_from(["\t", "\n", "\x1b", "\x7f", "\x80", "\u202e", "é", "ｘ", "\U000e0041"])
)


@given(TEXTS)
def test_printable_equals_the_pattern(text: str) -> None:
    assert printable(text) == _UNPRINTABLE.sub(_escaped, text)


@given(TEXTS)
def test_json_escaped_equals_the_pattern(text: str) -> None:
    dumped = json.dumps(text, ensure_ascii=False)
    assert json_escaped(dumped) == _UNPRINTABLE.sub(_json_escape, dumped)
    assert json_escaped(text) == _UNPRINTABLE.sub(_json_escape, text)


# --- the JSON and TSV writers --------------------------------------------------------------

EDGE_FLOATS = [0.0, -0.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3, -2.5]
FLOATS = st.floats() | st.sampled_from([*EDGE_FLOATS, math.inf, -math.inf, math.nan])
VALUES = FLOATS | st.none() | st.integers(-(10**20), 10**20) | st.builds(np.float64, FLOATS)


def slow_json_values(values: dict[str, Any], digits: int | None) -> dict[str, Any]:
    """What the JSON writer did for each name before the shortcut."""
    return {name: json_value(values[name], digits) for name in values}


def dumped(document: Any) -> str:
    """The JSON text, or the error json.dumps raises (rounding 1.8e308 to 2e+308 makes inf)."""
    try:
        return json.dumps(document, ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        return f"ValueError: {error}"


@settings(max_examples=300)
@given(
    st.lists(VALUES, max_size=8) | st.lists(st.sampled_from(EDGE_FLOATS), min_size=1),
    st.none() | st.integers(1, 17),
    st.booleans(),
)
def test_json_values_equal_one_value_at_a_time(
    items: list[Any], digits: int | None, shuffled: bool
) -> None:
    """The same document, byte for byte, for finite and non-finite floats, None, ints and
    numpy floats, rounded or not, with the names in the mapping's order or another."""
    values = {f"v{i}": item for i, item in enumerate(items)}
    names = list(reversed(values)) if shuffled else list(values)
    expected = {name: json_value(values[name], digits) for name in names}
    got = json_values(values, names, digits)
    assert list(got) == names
    assert dumped(got) == dumped(expected)


def test_json_values_of_finite_floats_are_the_floats_themselves() -> None:
    values = {"a": -0.0, "b": 1e16, "c": 5e-324, "d": None}
    assert json_values(values, list(values)) == values
    assert (
        dumped(json_values(values, list(values)))
        == '{"a": -0.0, "b": 1e+16, "c": 5e-324, "d": null}'
    )


def test_json_values_of_non_finite_floats_are_strings() -> None:
    values = {"a": math.nan, "b": math.inf, "c": -math.inf, "d": 1.0}
    assert json_values(values, list(values)) == {
        "a": "NaN",
        "b": "Infinity",
        "c": "-Infinity",
        "d": 1.0,
    }


def test_json_values_of_a_sum_that_overflows_are_still_the_floats() -> None:
    values = {"a": 1e308, "b": 1e308}
    assert json_values(values, list(values)) == values


@settings(max_examples=200)
@given(
    st.lists(FLOATS, min_size=1, max_size=12),
    st.sampled_from([(-1,), (1, -1), (-1, 1), (-1, 1, 1)]),
    st.none() | st.integers(1, 17),
)
def test_json_value_of_an_array_equals_one_element_at_a_time(
    items: list[float], shape: tuple[int, ...], digits: int | None
) -> None:
    array = np.array(items, dtype=np.float64).reshape(shape)
    flat: Any = [_json_number(x, digits) for x in array.ravel().tolist()]
    for size in reversed(array.shape[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    assert dumped(json_value(array, digits)) == dumped(flat)


@settings(max_examples=200)
@given(st.lists(VALUES, max_size=8), st.none() | st.integers(1, 17), st.booleans())
def test_value_texts_equal_one_value_at_a_time(
    items: list[Any], digits: int | None, shuffled: bool
) -> None:
    values = {f"v{i}": item for i, item in enumerate(items)}
    names = list(reversed(values)) if shuffled else list(values)
    expected = ["" if values[n] is None else value_text(values[n], digits) for n in names]
    assert value_texts(values, names, digits) == expected


# --- reading explicit nodes ---------------------------------------------------------------

# Argument texts: names of inputs and nodes (as written, in another spelling, padded),
# numbers, keywords, and things that are neither.
NAMES_AND_NUMBERS = ["x", "y", "n0", "n1", "n2", "ｘ", " x", "x ", "2", " 2.5", "1_0", "inf"]
OTHERS = ["nan", "-.inf", "if", "None", "3x", "x y", "", "٣", "n9", "relu"]
ARGUMENTS = st.sampled_from(NAMES_AND_NUMBERS + OTHERS) | st.sampled_from([["x"], {"a": 1}, None])
OPS = st.sampled_from(["add", "mul", "tanh", "sum", "leaky_relu", "relu", "nope", ""])


@st.composite
def explicit_graphs(draw: st.DrawFn) -> str:
    nodes: dict[str, Any] = {}
    for k in range(draw(st.integers(1, 6))):
        definition: dict[str, Any] = {"op": draw(OPS)}
        arguments = draw(st.lists(ARGUMENTS, max_size=3))
        definition["in"] = arguments[0] if draw(st.booleans()) and arguments else arguments
        if draw(st.integers(0, 5)) == 0:
            definition[draw(st.sampled_from(["axis", "slope", "inputs", "extra"]))] = "1"
        if draw(st.integers(0, 5)) == 0:
            del definition[draw(st.sampled_from(["op", "in"]))]
        nodes[draw(st.sampled_from([f"n{k}", f"n{k}", "ｎ0", "if", "x"]))] = definition
    return json.dumps({"inputs": {"x": "1.5", "y": "-2"}, "nodes": nodes})


def read(text: str) -> Any:
    """The loaded graph's nodes and output, or the rendered error."""
    try:
        graph = loads(text, name="g.json")
    except GraphError as error:
        return error.render()
    return graph.nodes, graph.output


@settings(max_examples=300, deadline=None)
@given(explicit_graphs())
def test_reading_explicit_nodes_by_lookups_equals_the_full_check(text: str) -> None:
    """The same nodes, or the same messages at the same places, as with every node read by
    the full check."""
    fast = read(text)
    with mock.patch.object(schema, "_usual_node", lambda *args: None):
        assert read(text) == fast


def graph_of(nodes: dict[str, tuple[str, list[str]]]) -> str:
    explicit = {name: {"op": op, "in": args} for name, (op, args) in nodes.items()}
    return json.dumps({"inputs": {"x": "1.5", "y": "-2"}, "nodes": explicit})


@pytest.mark.parametrize(
    "nodes",
    [
        {"a": ("tanh", ["a"])},  # uses itself: a cycle
        {"a": ("tanh", ["b"]), "b": ("tanh", ["x"])},  # uses a node below
        {"a": ("tanh", ["b"]), "c": ("mul", ["b", "a"]), "b": ("tanh", ["x"])},  # twice
        {"a": ("tanh", ["b"]), "b": ("tanh", ["a"])},  # a longer cycle
        {"a": ("add", ["x", "2"]), "b": ("add", ["a", "2"]), "c": ("add", ["zz", "b"])},
        {"a": ("mul", ["x", "y"]), "x": ("tanh", ["y"])},  # a node named as an input
    ],
)
def test_nodes_out_of_order_are_read_as_by_the_full_check(
    nodes: dict[str, tuple[str, list[str]]],
) -> None:
    text = graph_of(nodes)
    fast = read(text)
    with mock.patch.object(schema, "_usual_node", lambda *args: None):
        assert read(text) == fast


def test_the_usual_node_is_read_by_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node of names read before does not reach the full check (which would be slow)."""
    calls = []
    full = schema._explicit_node

    def counted(*args: Any) -> NodeDef:
        calls.append(args[0])
        return full(*args)

    monkeypatch.setattr(schema, "_explicit_node", counted)
    text = json.dumps(
        {
            "inputs": {"x": "1", "y": "2"},
            "nodes": {"a": {"op": "mul", "in": ["x", "y"]}, "b": {"op": "add", "in": ["a", "2"]}},
        }
    )
    graph = loads(text, name="g.json")
    assert calls == ["b"]  # "2" is read once, by the full check
    assert graph.nodes[0] == NodeDef("a", "mul", ("x", "y"), ("nodes", "a"))


def test_node_definitions_are_equal_and_hashable_by_their_fields() -> None:
    a = NodeDef("a", "mul", ("x", "y"), ("nodes", "a"))
    b = NodeDef("a", "mul", ("x", "y"), ("nodes", "a"))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != NodeDef("a", "add", ("x", "y"), ("nodes", "a"))


# --- the collector ------------------------------------------------------------------------


def test_a_pause_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()


def test_a_long_pause_leaves_no_young_objects() -> None:
    """What a large load leaves is moved to the oldest generation, so the collector does not
    traverse it again right away."""
    with gc_paused():
        kept = [[i] for i in range(2 * PROMOTE_AFTER)]
        assert gc.get_count()[0] > PROMOTE_AFTER
    assert gc.get_count()[0] < 1000
    assert gc.is_tracked(kept[0])


def test_a_short_pause_moves_nothing() -> None:
    """Young objects made before a pause stay young when the pause itself made few."""
    threshold = gc.get_threshold()
    gc.set_threshold(10**9)  # no collection while the counts are read
    try:
        kept = [[i] for i in range(2 * PROMOTE_AFTER)]
        before = gc.get_count()[0]
        with gc_paused():
            few = [[i] for i in range(10)]
        assert gc.get_count()[0] >= before
        assert len(kept) + len(few) > 2 * PROMOTE_AFTER
    finally:
        gc.set_threshold(*threshold)


def test_a_long_pause_keeps_the_programs_frozen_objects_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            kept = [[i] for i in range(2 * PROMOTE_AFTER)]
        assert gc.get_freeze_count() == frozen
        assert len(kept) == 2 * PROMOTE_AFTER
    finally:
        gc.unfreeze()


def test_a_command_turns_the_collector_back_on(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("inputs:\n  x: 2\nnodes:\n  y: x * x\n", encoding="utf-8")
    for args in (["run", str(path), "-o", "json"], ["grad", str(path), "--wrt", "x"]):
        result = invoke(*args)
        assert result.exit_code == 0
        assert gc.isenabled()
    assert invoke("run", str(path), "--of", "nope").exit_code != 0
    assert gc.isenabled()


# --- YAML to plain data -------------------------------------------------------------------

SCALARS = st.sampled_from(["x", "1.5", "on", "null", "", "a b", "- x", "é", "[1]", "k: v"])


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(SCALARS, inner, max_size=3)


PLAIN_DATA = st.recursive(SCALARS, containers, max_leaves=12)
# Duplicate keys, a list as a key, flow and block styles, an empty document.
AWKWARD_YAML = st.sampled_from(
    [
        "a: 1\nb: 2\na: 3\n",
        "? [x]\n: 1\n",
        "{a: 1, a: 2}",
        "x: [1, {y: 2, y: 3}]\n",
        "- {op: add, in: [a, b]}\n- [c]\n",
        "",
        "nodes:\n  y: {op: mul, in: [x, 2]}\n",
    ]
)


def plain_or_error(text: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    try:
        return parse(text, "g.yaml", limits).data
    except GraphError as error:
        return error.render()


@settings(max_examples=200, deadline=None)
@given(
    st.builds(yaml.safe_dump, PLAIN_DATA, default_flow_style=st.sampled_from([None, True, False]))
    | AWKWARD_YAML
)
def test_yaml_without_tags_or_anchors_reads_as_with_them(text: str) -> None:
    """The shortcuts for a file without '!' and '&' give the data, or the messages, that the
    full walk gives (a comment with both characters, at the end, turns them off)."""
    assert plain_or_error(text) == plain_or_error(text + "\n# ! &\n")


def compose_as_it_goes(text: str, limits: Limits | None = None) -> Any:
    """The reference: every count kept while composing (what every file was read with)."""
    loader = _BoundedLoader(text, limits or replace(DEFAULT_LIMITS, max_memory=1 << 62))
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


SECTION_TEXTS = st.sampled_from(
    [
        "inputs:\n  a: 1\n  b: 2\n",
        "nodes:\n  c: a + b\n  d: {op: mul, in: [c, 2]}\n",
        "inputs: [1, 2, 3]\n",
        "? {x: 1, y: 2}\n: 3\n",
        "? [p, q]\n: 4\n",
        "name: g\n",
        "output: d\n",
        "nodes: {e: [1, [2, 3]], f: 4}\n",
        "x: [unclosed\n",
        "- item\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(SECTION_TEXTS, max_size=5).map("".join),
    st.integers(0, 8),
    st.integers(0, 40),
)
def test_counting_names_on_the_tree_refuses_as_counting_them_while_composing(
    text: str, max_nodes: int, values: int
) -> None:
    """The same data, or the same message at the same place, for any limits."""
    limits = replace(DEFAULT_LIMITS, max_nodes=max_nodes, max_memory=values * YAML_VALUE_BYTES)
    fast = plain_or_error(text, limits)
    with mock.patch.object(parse_module, "_compose", compose_as_it_goes):
        assert plain_or_error(text, limits) == fast


def test_a_list_of_inputs_past_the_names_limit_is_refused_with_a_message() -> None:
    """(It raised AttributeError: the list's index has no position.)"""
    limits = replace(DEFAULT_LIMITS, max_nodes=1)
    assert plain_or_error("inputs: [1, 2, 3]\n", limits) == (
        "g.yaml:1:9: the graph has more than 1 inputs and nodes; the limit is 1 (--max-nodes)\n"
        "    1 | inputs: [1, 2, 3]\n"
        "      |         ^"
    )
