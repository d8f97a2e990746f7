"""The graph file's schema: plain data in, checked definitions out, every problem located."""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from bpcalc.errors import Diagnostic, GraphError, did_you_mean, first_unprintable
from bpcalc.limits import DEFAULT_LIMITS, Limits
from bpcalc.loading.expressions import Arg, ExpressionError, OpCall, parse_expression
from bpcalc.loading.hints import unknown_op
from bpcalc.loading.literals import NotANumber, is_number_text, parse_number
from bpcalc.loading.parse import DataPath, Source
from bpcalc.ops.spec import EMPTY, AttrProblem, Attrs, AttrValue, OpSpec, from_text
from bpcalc.ops.table import OPS

TOP_LEVEL_KEYS = ("name", "description", "inputs", "nodes", "output")


@dataclass(frozen=True)
class InputDef:
    name: str
    raw: Any  # plain data, read into a value by bpcalc.loading.inputs
    path: DataPath


# Not frozen, though nothing assigns to one: a frozen dataclass's __init__ sets every field
# through object.__setattr__, which took a fifth of the time of reading a large file. Equal
# and hashable by its fields, as when it was frozen.
@dataclass(slots=True, unsafe_hash=True)
class NodeDef:
    """``name = op(*args)``; paths and columns say where each part was written."""

    name: str
    op: str
    args: tuple[Arg, ...]
    path: DataPath  # the node's definition in the file
    column: int = 0  # of the operator, within an expression
    arg_columns: tuple[int, ...] = ()  # within an expression; () for the explicit form
    anonymous: bool = False  # a sub-expression, named by its canonical syntax tree
    attrs: Attrs = EMPTY  # the op's attributes as written (sum(x, axis=1)), checked


@dataclass
class GraphDef:
    name: str
    description: str
    inputs: list[InputDef]
    nodes: list[NodeDef]
    output: str | None
    source: Source
    base_dir: Path | None  # for file: inputs; None refuses them (a graph from stdin)
    problems: list[Diagnostic] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # defined, but wrongly: not "unknown" too
    limits: Limits = DEFAULT_LIMITS  # what it was read with; evaluation checks sizes with it
    # Every node was read by lookups (_usual_node) and does not use itself: until a node is
    # read by the full check, the lookups hold only numbers and the names claimed above. So,
    # without problems, the nodes use known names and are in dependency order (build checks
    # neither).
    in_order: bool = False

    @cached_property
    def has_attrs(self) -> bool:
        """Whether some node has attributes, or an op that has some (then sizes are checked
        even for scalar inputs: a convolution refuses them); worked out on the first
        evaluation of scalars only, once per file."""
        return any(node.attrs is not EMPTY or OPS[node.op].attributes for node in self.nodes)


def canonical_name(name: str) -> str:
    """``name`` as bpcalc stores and compares it: NFKC-normalised, as Python reads identifiers.

    Python's parser turns ``ｘ`` (fullwidth) into ``x`` and ``ﬁ`` into ``fi`` (PEP 3131), so
    every name is normalised the same way wherever it is read: keys, ``in:`` lists, ``output:``
    and names on the command line. Two names that normalise alike are refused (see read_graph).
    """
    if name.isascii():
        return name
    import unicodedata  # only for non-ASCII names: keeps it off the start-up path

    return unicodedata.normalize("NFKC", name)


def check_name(name: str) -> str | None:
    """Why ``name`` cannot name an input or node, or None when it can."""
    if name.isascii() and name.isidentifier() and not keyword.iskeyword(name):
        return None  # the usual name, its own canonical form: the checks below pass
    if not name.isidentifier():
        return f"'{name}' is not a valid name: use letters, digits and _, not starting with a digit"
    canonical = canonical_name(name)
    if keyword.iskeyword(canonical):
        if canonical != name:
            return f"'{name}' reads as the Python keyword '{canonical}' and cannot be a name"
        return f"'{name}' is a Python keyword and cannot be a name"
    return None


class _Spellings:
    """The first spelling of each canonical name, to refuse a second one that differs; and
    every argument text already read, with what it reads as."""

    def __init__(self, source: Source, problems: list[Diagnostic]) -> None:
        self.source = source
        self.problems = problems
        self.first: dict[str, DataPath] = {}  # the path of its key, which ends in the spelling
        # An argument (an item of an explicit node's `in:`) as written -> its name or number:
        # the names claimed so far (a claimed name reads the same as an argument) and every
        # argument read. Most arguments, which name an input or a node above, are one lookup.
        self.arguments: dict[str, Arg] = {}

    def claim(self, raw: str, path: DataPath) -> str | None:
        """The canonical name, or None (and a problem) when another spelling already has it."""
        name = canonical_name(raw)
        found = self.first.get(name)
        if found is None:
            self.first[name] = path
            self.arguments[raw] = name
            return name
        other_path = found
        other = other_path[-1]
        if other == raw:
            return name  # the same spelling: an input and a node, reported by graph.build
        line, _ = self.source.position(other_path, key=True)
        where = f" (line {line})" if line else ""
        self.problems.append(
            self.source.diagnostic(
                f"'{raw}' and '{other}'{where} are the same name once Unicode-normalised "
                f"(NFKC, as Python reads names: both are '{name}'); rename one of them",
                path,
                key=True,
            )
        )
        return None


def read_graph(source: Source, base_dir: Path | None, limits: Limits) -> GraphDef:
    """Check the top level, inputs and nodes; raise GraphError with every problem found."""
    data = source.data
    if not isinstance(data, dict):
        raise GraphError(
            [
                source.diagnostic(
                    "a graph file is a mapping with 'inputs' and 'nodes' (see docs/graph-format.md)"
                )
            ]
        )
    problems: list[Diagnostic] = []
    # `nodes:` with its nodes written at column 0 under it: they are top-level keys
    unindented = "nodes" in data and data["nodes"] in (None, "")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = did_you_mean(key, TOP_LEVEL_KEYS)
            if unindented and not hint and isinstance(key, str) and not check_name(key):
                hint = " (a node? indent it under 'nodes:', as '  NAME: EXPRESSION')"
            problems.append(
                source.diagnostic(
                    f"unknown key '{key}'{hint}; a graph file has {', '.join(TOP_LEVEL_KEYS)}",
                    (key,),
                    key=True,
                )
            )
    name = _text(data, "name", source, problems) or Path(source.name).stem
    description = _text(data, "description", source, problems)
    spellings = _Spellings(source, problems)
    inputs = _read_inputs(data.get("inputs", {}), source, problems, spellings)
    nodes, in_order = _read_nodes(data.get("nodes"), source, limits, problems, spellings)
    output = None
    if "output" in data:
        raw = data["output"]
        if isinstance(raw, str) and raw.strip():
            output = canonical_name(raw.strip())
        else:
            problems.append(source.diagnostic("output: expects the name of a node", ("output",)))
    graph = GraphDef(
        name,
        description,
        inputs,
        nodes,
        output,
        source,
        base_dir,
        problems,
        limits=limits,
        in_order=in_order,
    )
    # Keys declared but defining nothing. A key that is a defined name is its own canonical
    # name (NFKC is idempotent), so only the other keys are normalised.
    defined = {i.name for i in inputs} | {n.name for n in nodes}
    graph.broken = {
        canonical_name(key) if isinstance(key, str) else key
        for section in ("inputs", "nodes")
        if isinstance(data.get(section), dict)
        for key in data[section].keys() - defined
    } - defined
    if len(inputs) + len(nodes) > limits.max_nodes:
        problems.append(
            source.diagnostic(
                f"the graph has {len(inputs) + len(nodes):,} inputs and nodes; the limit is "
                f"{limits.max_nodes:,} (--max-nodes)"
            )
        )
    return graph


def _text(data: dict[str, Any], key: str, source: Source, problems: list[Diagnostic]) -> str:
    raw = data.get(key, "")
    if not isinstance(raw, str):
        problems.append(source.diagnostic(f"{key}: expects text", (key,)))
        return ""
    return raw


def _read_inputs(
    raw: Any, source: Source, problems: list[Diagnostic], spellings: _Spellings
) -> list[InputDef]:
    if raw == "":
        return []  # `inputs:` with nothing under it
    if not isinstance(raw, dict):
        problems.append(source.diagnostic("inputs: expects a mapping of name: value", ("inputs",)))
        return []
    inputs = []
    for key, value in raw.items():
        path: DataPath = ("inputs", key)
        name = _claimed(key, path, source, problems, spellings)
        if name is None:
            continue
        if value == "":
            problems.append(source.diagnostic(f"input '{name}' has no value", path, key=True))
        else:
            inputs.append(InputDef(name, value, path))
    return inputs


def _claimed(
    key: str, path: DataPath, source: Source, problems: list[Diagnostic], spellings: _Spellings
) -> str | None:
    """The canonical name a key of inputs: or nodes: defines, or None (and a problem) when
    it is no valid name or another spelling of a name already defined."""
    reason = check_name(key)
    if reason:
        problems.append(source.diagnostic(reason, path, key=True))
        return None
    return spellings.claim(key, path)


def _read_nodes(
    raw: Any, source: Source, limits: Limits, problems: list[Diagnostic], spellings: _Spellings
) -> tuple[list[NodeDef], bool]:
    """The nodes, and whether each was read by lookups of numbers and names above it (see
    GraphDef.in_order)."""
    if (raw is None or raw == "") and "nodes" in source.data:
        problems.append(
            source.diagnostic(
                "'nodes:' has no nodes under it: indent each node under it, as '  y: x * 2'",
                ("nodes",),
                key=True,
            )
        )
        return [], False
    if raw is None or raw == "":
        problems.append(
            source.diagnostic(
                "a graph needs 'nodes': a mapping of name: expression (see docs/graph-format.md)"
            )
        )
        return [], False
    if not isinstance(raw, dict):
        problems.append(
            source.diagnostic("nodes: expects a mapping of name: definition", ("nodes",))
        )
        return [], False
    nodes: list[NodeDef] = []
    in_order = True
    for key, definition in raw.items():
        path: DataPath = ("nodes", key)
        name = _claimed(key, path, source, problems, spellings)
        if name is None:
            continue
        try:
            if isinstance(definition, dict):
                node = _usual_node(name, definition, path, spellings.arguments)
                if node is None or name in node.args:
                    in_order = False
                if node is None:
                    node = _explicit_node(name, definition, path, spellings.arguments)
                nodes.append(node)
            elif isinstance(definition, str):
                in_order = False
                nodes.extend(_expression_nodes(name, definition, path, source, limits))
            else:
                raise _At("a node is an expression or {op: NAME, in: [ARG, ...]}")
        except _At as err:
            problems.append(
                source.diagnostic(err.message, (*path, *err.where), key=err.key, offset=err.offset)
            )
    return nodes, in_order


class _At(Exception):
    def __init__(
        self, message: str, where: DataPath = (), *, key: bool = False, offset: int = 0
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.key = key
        self.offset = offset


# Other words for an explicit node's keys.
_KEY_SYNONYMS = {"inputs": "in", "input": "in", "args": "in", "arguments": "in", "type": "op"}


# Each op without attributes: the counts of inputs its nodes may have.
_PLAIN_OPS = {
    name: (spec.arity, len(spec.params)) for name, spec in OPS.items() if not spec.attributes
}


def _usual_node(
    name: str, definition: dict[str, Any], path: DataPath, arguments: dict[str, Arg]
) -> NodeDef | None:
    """The usual explicit node, ``{op: OP, in: [ARG, ...]}`` of an op without attributes
    whose arguments were all read before: what _explicit_node makes of it, by lookups. None
    for any other node, which _explicit_node reads (and says what is wrong with)."""
    if len(definition) != 2:
        return None
    op = definition.get("op")
    raw_args = definition.get("in")
    if type(op) is not str or type(raw_args) is not list:
        return None
    counts = _PLAIN_OPS.get(op)
    if counts is None or len(raw_args) not in counts:
        return None
    try:
        args = tuple(map(arguments.__getitem__, raw_args))
    except (KeyError, TypeError):  # an argument not read yet, or not text (unhashable)
        return None
    return NodeDef(name, op, args, path)


def _explicit_node(
    name: str, definition: dict[str, Any], path: DataPath, arguments: dict[str, Arg]
) -> NodeDef:
    op = definition.get("op")
    spec = OPS.get(op) if isinstance(op, str) else None
    attribute_names = spec.attribute_names if spec is not None else ()
    for key in definition:
        if key not in ("op", "in") and key not in attribute_names:
            if (
                definition[key] in (None, "")
                and "in" in definition
                and not isinstance(definition["in"], list)
            ):  # {op: mul, in: x, 2}: a flow mapping's comma ends 'in' at x
                raise _At(
                    f"unknown key '{key}': in {{...}} a comma separates keys, so "
                    f"'in: {definition['in']}, {key}' is read as 'in: {definition['in']}' and "
                    f"a key '{key}'; write the inputs as a list: in: [{definition['in']}, {key}]",
                    (key,),
                    key=True,
                )
            if key in _KEY_SYNONYMS and _KEY_SYNONYMS[key] not in definition:
                raise _At(
                    f"unknown key '{key}' (did you mean '{_KEY_SYNONYMS[key]}'?); "
                    f"an explicit node has op and in",
                    (key,),
                    key=True,
                )
            if spec is not None and attribute_names:
                keys = ("op", "in", *attribute_names)
                raise _At(
                    f"unknown key '{key}'{did_you_mean(key, keys)}; a {spec.name} node has op, "
                    f"in and the attributes {', '.join(attribute_names)}",
                    (key,),
                    key=True,
                )
            raise _At(
                f"unknown key '{key}'{did_you_mean(key, ('op', 'in'))}; "
                f"an explicit node has op and in",
                (key,),
                key=True,
            )
    if not isinstance(op, str) or not op:
        raise _At("this node needs 'op: NAME'")
    if spec is None:
        raise _At(unknown_op(op), ("op",))
    raw_args = definition.get("in")
    if raw_args is None:
        raise _At(f"this node needs 'in: [{OPS[op].inputs_text()}]'")
    if not isinstance(raw_args, list):
        raw_args = [raw_args]
    spec = OPS[op]
    if not spec.takes(len(raw_args)):
        raise _At(
            f"{op} takes {spec.count_text('input')} ({spec.inputs_text()}), got {len(raw_args)}",
            ("in",),
        )
    args: list[Arg] = []
    for i, raw in enumerate(raw_args):
        if not isinstance(raw, str) or not raw.strip():
            raise _At("an input of a node is a name or a number", ("in", i))
        text = raw.strip()
        arg: Arg
        if is_number_text(text) and not text.isidentifier():  # `inf` is a name, as in `inf + 1`
            try:
                arg = parse_number(text)
            except NotANumber as err:
                raise _At(err.message, ("in", i)) from None
        else:
            reason = check_name(text)
            if reason:
                raise _At(reason + "; expressions go in the expression form", ("in", i))
            arg = canonical_name(text)
        arguments[raw] = arg
        args.append(arg)
    attrs = _explicit_attrs(spec, definition)
    return NodeDef(name, op, tuple(args), path, attrs=attrs)


def _explicit_attrs(spec: OpSpec, definition: dict[str, Any]) -> Attrs:
    """``{op: sum, in: [M], axis: 1}``: the attributes among the keys, checked."""
    if not spec.attributes:
        return EMPTY
    values: list[tuple[str, AttrValue]] = []
    for key, raw in definition.items():
        attribute = spec.attribute(key)
        if attribute is None:
            continue
        shown = _shown(raw)
        try:
            values.append((key, attribute.read(spec.name, from_text(raw), shown)))
        except AttrProblem as err:
            raise _At(err.message, (key,)) from None
    missing = spec.missing_attributes(name for name, _ in values)
    if missing:
        raise _At(missing)
    return Attrs(values) if values else EMPTY


def _shown(raw: Any) -> str:
    """A raw value of the file as the message quotes it: ``1.5``, ``[0, x]``, ``a mapping``."""
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "[" + ", ".join(map(_shown, raw)) + "]"
    if isinstance(raw, bool):
        return str(raw).lower()
    text = "null" if raw is None else str(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def _expression_nodes(
    name: str, text: str, path: DataPath, source: Source, limits: Limits
) -> list[NodeDef]:
    indent = source.value_column_offset(path) + (len(text) - len(text.lstrip()))
    bad = first_unprintable(text.strip(), allowed="\n\r")
    if bad >= 0:  # it would reach names of sub-expressions, and every output, through comments
        column = bad - text.strip().rfind("\n", 0, bad) - 1
        raise _At(
            f"invisible or control character U+{ord(text.strip()[bad]):04X} in an expression "
            f"(comments included); remove it",
            offset=indent + column,
        )
    try:
        calls = parse_expression(name, text, max_length=limits.max_expression_length)
    except ExpressionError as err:
        raise _At(err.message, offset=indent + err.column) from None
    return [_from_call(call, name, path, indent) for call in calls]


def _from_call(call: OpCall, name: str, path: DataPath, indent: int) -> NodeDef:
    return NodeDef(
        call.name,
        call.op,
        call.args,
        path,
        indent + call.column,
        tuple(indent + c for c in call.arg_columns),
        anonymous=call.name != name,
        attrs=call.attrs,
    )
