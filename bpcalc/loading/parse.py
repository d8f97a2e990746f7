"""Read a graph file (YAML or JSON) into plain data, keeping a way back to line and column.

Scalars come out as their source text (``"1.1"``, ``"on"``): the schema decides what a value
means, so a name never turns into a boolean and a decimal keeps its exact digits. Nothing here
constructs Python objects from tags, and anchors and aliases are refused outright.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bpcalc.errors import CannotOpen, Diagnostic, GraphError
from bpcalc.limits import DEFAULT_LIMITS, Limits, show_bytes
from bpcalc.runtime import gc_paused

DataPath = tuple[str | int, ...]

_STANDARD_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp", "merge")
)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Memory one value written in a YAML graph file takes while it is read: its node, marks,
# text and plain copy (measured: about 550 bytes for a list of a million numbers).
YAML_VALUE_BYTES = 600
_SCALAR_TAG, _SEQUENCE_TAG, _MAPPING_TAG = (
    "tag:yaml.org,2002:" + name for name in ("str", "seq", "map")
)


_SECTIONS = ("inputs", "nodes")  # whose keys name inputs and nodes


class _TooMany(Exception):
    """Composing stopped: more values (or graph names) than the limits allow."""

    def __init__(self, names: bool, where: yaml.Node | None) -> None:
        super().__init__()
        self.names = names
        self.where = where


class _CountingLoader(_Loader):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml when present), counting values as they are composed: a file
    of millions of values is refused when the count passes the limit, before it has cost
    gigabytes of nodes, not after. libyaml calls these hooks for every node, so they do
    as little as they can (a third of the time of composing, when they also kept the depth)."""

    def __init__(self, text: str, values: int) -> None:
        super().__init__(text)
        self._values_left = values

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """Called before each node is composed, with its parent and its key or index."""
        self._values_left -= 1
        if self._values_left < 0:
            raise _TooMany(False, current_node)

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """Every implicit tag is a standard one and bpcalc reads a scalar as its text, so the
        resolvers' regular expressions (half the time of reading a large file) are skipped."""
        if kind is yaml.ScalarNode:
            return _SCALAR_TAG
        return _SEQUENCE_TAG if kind is yaml.SequenceNode else _MAPPING_TAG


class _BoundedLoader(_CountingLoader):
    """Counting graph names (keys of inputs: and nodes:) too, and stopping at whichever limit
    the file passes first: what a file that is refused, or has an error, is composed with."""

    def __init__(self, text: str, limits: Limits) -> None:
        super().__init__(text, limits.max_memory // YAML_VALUE_BYTES)
        self._names_left = limits.max_nodes
        self._depth = 0
        self._section: Any = None

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        super().descend_resolver(current_node, current_index)
        self._depth += 1
        if self._depth == 2 and current_index is not None:  # a value of the top level
            self._section = getattr(current_index, "value", None)
        elif self._depth == 3 and current_index is not None and self._section in _SECTIONS:
            self._names_left -= 1  # the value of an input's or a node's name
            if self._names_left < 0:  # located at that name (at the list, in a list)
                where = current_index if isinstance(current_index, yaml.Node) else current_node
                raise _TooMany(True, where)

    def ascend_resolver(self) -> None:
        self._depth -= 1


@dataclass
class Source:
    """A graph file's text, its data, and where each part of it came from."""

    name: str  # shown in messages: the path as given, or <stdin>
    text: str
    data: Any
    root: yaml.Node | None = None  # YAML only; composed again on demand after forget_tree()
    lines: list[str] = field(default_factory=list)
    # Each mapping's keys, indexed on first use: a lookup per node must not scan the whole file.
    _keys: dict[int, dict[Any, tuple[yaml.Node, yaml.Node]]] = field(
        default_factory=dict, repr=False
    )
    is_yaml: bool = False
    # JSON only, built on first use: the offset of each key, and where each line starts.
    _json_keys: dict[tuple[str, ...], int] | None = field(default=None, repr=False)
    _line_starts: list[int] | None = field(default=None, repr=False)

    def forget_tree(self) -> None:
        """Drop the composed YAML nodes once the graph is built: a large file makes millions
        of them, which the cyclic garbage collector would otherwise traverse again and again
        (seconds, for 100,000 nodes). A later diagnostic composes the text again."""
        self.root = None
        self._keys = {}

    def _tree(self) -> yaml.Node | None:
        if self.root is None and self.is_yaml:
            self.root = _compose(self.text)
        return self.root

    def diagnostic(
        self, message: str, path: DataPath = (), *, key: bool = False, offset: int = 0
    ) -> Diagnostic:
        """A message located at the value (or, with key=True, the key) that ``path`` names."""
        line, col = self.position(path, key=key)
        if line and offset:
            col += offset
        return Diagnostic(message, self.name, line, col, self.source_line(line))

    def source_line(self, line: int) -> str | None:
        if not self.lines:
            self.lines = self.text.splitlines()
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None

    def position(self, path: DataPath, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at ``path``; (0, 0) when unknown."""
        root = self._tree()
        if root is not None:
            return _yaml_position(root, path, key, self._keys)
        if self._json_keys is None:
            self._json_keys = _json_key_offsets(self.text)
        if self._line_starts is None:
            self._line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        offset = _json_offset(self._json_keys, path)
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def value_column_offset(self, path: DataPath) -> int:
        """Columns between a scalar's mark and its text: 1 for a quoted scalar."""
        root = self._tree()
        node = _yaml_node(root, path, False, self._keys) if root is not None else None
        return 1 if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"') else 0


def _yaml_node(
    root: yaml.Node,
    path: DataPath,
    key: bool = False,
    index: dict[int, dict[Any, tuple[yaml.Node, yaml.Node]]] | None = None,
) -> yaml.Node | None:
    node: yaml.Node = root
    index = {} if index is None else index
    last = len(path) - 1
    for depth, step in enumerate(path):
        if isinstance(node, yaml.MappingNode):
            keys = index.get(id(node))
            if keys is None:
                keys = index[id(node)] = {}
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode):
                        keys.setdefault(k.value, (k, v))  # the first of duplicate keys
            found = keys.get(step)
            if found is None:
                return node
            node = found[0] if key and depth == last else found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                return node
            node = node.value[step]
        else:
            return node
    return node


def _yaml_position(
    root: yaml.Node,
    path: DataPath,
    key: bool,
    index: dict[int, dict[Any, tuple[yaml.Node, yaml.Node]]] | None = None,
) -> tuple[int, int]:
    node = _yaml_node(root, path, key, index)
    if node is None:
        return 0, 0
    return node.start_mark.line + 1, node.start_mark.column + 1


def _json_offset(keys: dict[tuple[str, ...], int], path: DataPath) -> int:
    """JSON has no marks: the offset of the last key of ``path`` (list indices aside) that
    the text has, or 0."""
    steps = tuple(step for step in path if isinstance(step, str))
    for end in range(len(steps), 0, -1):
        found = keys.get(steps[:end])
        if found is not None:
            return found
    return 0


def _json_key_offsets(text: str) -> dict[tuple[str, ...], int]:
    """The offset of every key of a JSON text, by its path of keys (list indices left out),
    found in one pass: a position per message, each found by a scan of the text, took
    minutes for 100,000 messages."""
    offsets: dict[tuple[str, ...], int] = {}
    # Per open container: its path, whether it is an object, the path of its latest key.
    open_: list[tuple[tuple[str, ...], bool, tuple[str, ...]]] = []
    previous: re.Match[str] | None = None
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char in "{[":
            path: tuple[str, ...] = ()
            if open_:
                parent, is_object, latest = open_[-1]
                path = latest if is_object else parent
            open_.append((path, char == "{", path))
        elif char in "}]":
            if open_:
                open_.pop()
        elif char == ":" and previous is not None and open_ and open_[-1][1]:
            parent, _, _ = open_[-1]
            try:
                key = json.loads(previous.group())
            except ValueError:
                key = None
            if isinstance(key, str):
                path = (*parent, key)
                offsets.setdefault(path, previous.start())
                open_[-1] = (parent, True, path)
        previous = token
    return offsets


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:]')


def _first_duplicate_json_key(text: str) -> tuple[str, int] | None:
    """The first key repeated within one JSON object, and its offset in the text."""
    objects: list[set[str] | None] = []  # None for a list
    previous: re.Match[str] | None = None
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char in "{[":
            objects.append(set() if char == "{" else None)
        elif char in "}]" and objects:
            objects.pop()
        elif char == ":" and previous is not None and objects and objects[-1] is not None:
            key = json.loads(previous.group())
            if key in objects[-1]:
                return key, previous.start()
            objects[-1].add(key)
        previous = token
    return None


def parse(text: str, name: str, limits: Limits = DEFAULT_LIMITS) -> Source:
    """Parse graph text: JSON when the name ends in .json, YAML otherwise."""
    if name.endswith(".json"):
        return _parse_json(text, name)
    return _parse_yaml(text, name, limits)


def _parse_json(text: str, name: str) -> Source:
    if not text.strip():
        raise GraphError([Diagnostic("the graph file is empty", name)])
    try:
        with gc_paused():
            data = json.loads(
                text,
                parse_float=str,
                parse_int=str,
                parse_constant=str,
                object_pairs_hook=_json_object(name, text),
            )
    except json.JSONDecodeError as err:
        raise GraphError(
            [Diagnostic(err.msg, name, err.lineno, err.colno, _line_of(text, err.lineno))]
        ) from None
    except RecursionError:
        raise GraphError([Diagnostic("JSON is nested too deeply", name)]) from None
    return Source(name, text, data)


def _json_object(name: str, text: str) -> Any:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = dict(pairs)
        if len(result) == len(pairs):  # no duplicate key, the usual case: done at C speed
            return result
        result = {}
        for key, value in pairs:
            if key in result:
                duplicate, offset = _first_duplicate_json_key(text) or (key, 0)
                line, col = _line_col(text, offset)
                raise GraphError(
                    [
                        Diagnostic(
                            f"duplicate key '{duplicate}'", name, line, col, _line_of(text, line)
                        )
                    ]
                )
            result[key] = value
        return result

    return build


def _line_of(text: str, line: int) -> str | None:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else None


def _parse_yaml(text: str, name: str, limits: Limits) -> Source:
    try:
        root = _compose(text, limits)
    except _TooMany as err:
        raise GraphError([_too_many(err, text, name, limits)]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        message = _yaml_message(err, text)
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        raise GraphError([Diagnostic(message, name, line, col, _line_of(text, line))]) from None
    except yaml.reader.ReaderError as err:
        raise GraphError([_unacceptable_character(err, text, name)]) from None
    except yaml.YAMLError as err:
        raise GraphError([Diagnostic(f"invalid YAML: {err}", name)]) from None
    except RecursionError:
        raise GraphError([Diagnostic("YAML is nested too deeply", name)]) from None
    if root is None:
        raise GraphError([Diagnostic("the graph file is empty", name)])
    source = Source(name, text, None, root, is_yaml=True)
    with gc_paused():
        source.data = _plain(root, source)
    return source


def _yaml_message(err: yaml.MarkedYAMLError, text: str) -> str:
    """The YAML parser's complaint in the graph writer's terms: the layout mistakes people make
    (a tab, a key indented too little or too much) said as such, with the fix."""
    raw = " ".join(p for p in (err.context, err.problem) if p) or "invalid YAML"
    mark = err.problem_mark
    if mark is None:
        return raw
    lines = text.splitlines()
    here = lines[mark.line] if mark.line < len(lines) else ""
    problem = err.problem or ""
    if "tab character" in problem or (
        "cannot start any token" in problem and here[mark.column : mark.column + 1] == "\t"
    ):
        return "a tab character: YAML indents with spaces only; replace the tab with spaces"
    indent = len(here) - len(here.lstrip(" "))
    if problem == "did not find expected key" and indent == mark.column:
        above = _indents_above(lines, mark.line)
        if above and indent not in above and indent < max(above):
            columns = " or ".join(str(n) for n in sorted(set(above)))
            return (
                f"this line is indented {_spaces(indent)}, which lines up with no key above it "
                f"(they are indented {columns}): keys of one mapping start in the same column"
            )
    if problem == "mapping values are not allowed in this context":
        before = here[indent : mark.column]
        above = _indents_above(lines, mark.line)
        if ": " not in before and above and indent > above[-1]:
            previous = next(line for line in reversed(lines[: mark.line]) if line.strip())
            return (
                f"this line is indented more ({_spaces(indent)}) than the line above, which "
                f"already has a value ('{previous.strip()}'): keys of one mapping start in the "
                f"same column"
            )
        if ": " in before or before.endswith(":"):
            return (
                "a second ': ' on one line: a value that holds ': ' must be quoted "
                "(description: 'Note: ...')"
            )
    return raw


def _spaces(count: int) -> str:
    return f"{count} space{'s' * (count != 1)}"


def _indents_above(lines: list[str], line: int) -> list[int]:
    """The indentation of each non-blank, non-comment line before ``line``."""
    indents = []
    for text in lines[:line]:
        stripped = text.lstrip(" ")
        if stripped and not stripped.startswith("#"):
            indents.append(len(text) - len(stripped))
    return indents


def _unacceptable_character(err: yaml.reader.ReaderError, text: str, name: str) -> Diagnostic:
    """A character YAML refuses (a control character), located: libyaml counts UTF-8 bytes."""
    offset = err.position
    if _Loader is not yaml.SafeLoader:
        offset = len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))
    line, col = _line_col(text, offset)
    character = err.character if isinstance(err.character, int) else ord(err.character)
    message = f"the character U+{character:04X} is not allowed in a YAML file ({err.reason})"
    return Diagnostic(message, name, line, col, _line_of(text, line))


def _too_many(err: _TooMany, text: str, name: str, limits: Limits) -> Diagnostic:
    if err.names:
        message = (
            f"the graph has more than {limits.max_nodes:,} inputs and nodes; the limit is "
            f"{limits.max_nodes:,} (--max-nodes)"
        )
    else:
        count = limits.max_memory // YAML_VALUE_BYTES
        message = (
            f"the graph file holds more than {count:,} values, more than "
            f"{show_bytes(limits.max_memory)} to read (--max-memory); put large tensors in "
            f".npy files"
        )
    if err.where is None:
        return Diagnostic(message, name)
    line = err.where.start_mark.line + 1
    return Diagnostic(message, name, line, err.where.start_mark.column + 1, _nth_line(text, line))


def _nth_line(text: str, line: int) -> str | None:
    """Line ``line`` (1-based) of ``text``, without splitting a text of millions of lines."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if not start:
            return None
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


def _compose(text: str, limits: Limits | None = None) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None for an empty document), with libyaml if present;
    stopped with _TooMany past the ``limits`` (None: text already read once, unbounded).

    Graph names are counted on the finished tree, where a loop over the keys of inputs: and
    nodes: is cheaper than a hook per node. A file that is refused or has an error is
    composed again with every count kept as it goes, so that it stops where it always did:
    at whichever of its problems comes first."""
    with gc_paused():
        if limits is None:
            return _single_node(_CountingLoader(text, 1 << 62))
        # Also stopped early when the names are few for so many values, so that a file of
        # too many names costs little memory before it is composed again and refused.
        values = min(limits.max_memory // YAML_VALUE_BYTES, VALUES_PER_NAME * limits.max_nodes)
        root: yaml.Node | None
        try:
            root = _single_node(_CountingLoader(text, values))
        except (yaml.YAMLError, _TooMany, RecursionError):
            root = _AGAIN  # outside this block, where the nodes composed so far are freed
        if root is _AGAIN or _past_names_limit(root, limits.max_nodes):
            root = None
            return _single_node(_BoundedLoader(text, limits))  # raises what it meets first
        return root


# The values composed per graph name before a file is read again counting its names as it
# goes: a node {op: mul, in: [a, b]} with its name is 8; bounds the memory a refused file
# takes when --max-nodes is set low.
VALUES_PER_NAME = 8
_AGAIN = yaml.Node("", "", None, None)  # composing stopped: compose again, counting all


def _single_node(loader: _CountingLoader) -> yaml.Node | None:
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def _past_names_limit(root: yaml.Node | None, limit: int) -> bool:
    """Whether the file has more graph names than ``limit``, counted as _BoundedLoader counts
    them: the children of a top-level key or value composed while the latest top-level key
    read is inputs: or nodes:."""
    if not isinstance(root, yaml.MappingNode):
        return False
    names = 0
    section = None
    for key, value in root.value:
        if section in _SECTIONS and isinstance(key, yaml.CollectionNode):
            names += len(key.value)  # a list or mapping as a key: refused later, counted here
        section = getattr(key, "value", None)
        if section in _SECTIONS and isinstance(value, yaml.CollectionNode):
            names += len(value.value)
    return names > limit


def _plain(root: yaml.Node, source: Source) -> Any:
    """Convert composed YAML nodes to dicts, lists and scalar text, iteratively."""
    problems: list[Diagnostic] = []
    seen: set[int] = set()
    reported: set[int] = set()
    # Without an anchor ('&') no node can be reached twice, so plain scalars with a standard
    # tag (nearly every node) skip shell() below: this loop runs once per scalar in the file.
    # Without a '!' either, no node has an explicit tag: every tag is a standard one (the
    # loader resolves none other) and containers skip shell() too.
    fast = "&" not in source.text
    untagged = fast and "!" not in source.text
    scalar_node, mapping_node = yaml.ScalarNode, yaml.MappingNode
    standard = _STANDARD_TAGS

    def at(node: yaml.Node, message: str) -> Diagnostic:
        line = node.start_mark.line + 1
        return Diagnostic(
            message, source.name, line, node.start_mark.column + 1, source.source_line(line)
        )

    def shell(node: yaml.Node) -> Any:
        """An empty container (or the text) for ``node``; None for an alias, never walked."""
        if id(node) in seen:
            # Walking an alias again would let nested aliases multiply ("billion laughs").
            if id(node) not in reported:
                reported.add(id(node))
                problems.append(
                    at(
                        node,
                        "anchors and aliases are not supported in graph files "
                        "(this anchor is used again)",
                    )
                )
            return None
        seen.add(id(node))
        if node.tag not in standard:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            problems.append(at(node, f"YAML tag '{tag}' is not allowed in graph files"))
        if isinstance(node, yaml.MappingNode):
            return {}
        if isinstance(node, yaml.SequenceNode):
            return []
        return node.value

    data = shell(root)
    work = [(root, data)]
    push = work.append
    while work:
        node, container = work.pop()
        if type(node) is mapping_node:
            first_seen: dict[str, yaml.Node] = {}
            for key_node, value_node in node.value:
                if type(key_node) is not scalar_node:
                    problems.append(
                        at(key_node, "a key must be a plain name, not a list or mapping")
                    )
                    continue
                # A key's tag and anchor are checked like a value's.
                plain_key = untagged or (fast and key_node.tag in standard)
                key = key_node.value if plain_key else shell(key_node)
                if key is None:
                    continue
                if key in first_seen:
                    first = first_seen[key].start_mark.line + 1
                    problems.append(
                        at(key_node, f"duplicate key '{key}' (first defined on line {first})")
                    )
                    continue
                first_seen[key] = key_node
                kind = type(value_node)
                if kind is scalar_node and (untagged or (fast and value_node.tag in standard)):
                    container[key] = value_node.value
                    continue
                child: Any = ({} if kind is mapping_node else []) if untagged else shell(value_node)
                container[key] = child
                if isinstance(child, dict | list):
                    push((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                kind = type(item)
                if kind is scalar_node and (untagged or (fast and item.tag in standard)):
                    container.append(item.value)
                    continue
                child = ({} if kind is mapping_node else []) if untagged else shell(item)
                container.append(child)
                if isinstance(child, dict | list):
                    push((item, child))
    if problems:
        problems.sort(key=lambda d: (d.line, d.col))
        raise GraphError(problems)
    return data


def read_text(path: os.PathLike[str] | str, limits: Limits, *, shown: str | None = None) -> str:
    """A graph file's text: UTF-8 (a BOM is allowed), within the size limit, or one clear error."""
    shown = shown or str(path)
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > limits.max_file_bytes:
                raise GraphError(
                    [
                        Diagnostic(
                            f"file is {size:,} bytes; the limit is {limits.max_file_bytes:,} "
                            f"(--max-file-size)",
                            shown,
                        )
                    ]
                )
            data = read_up_to(file.fileno(), limits.max_file_bytes + 1)
    except IsADirectoryError:
        raise CannotOpen([Diagnostic("is a directory, not a graph file", shown)]) from None
    except FileNotFoundError:
        raise CannotOpen([Diagnostic("no such file", shown)]) from None
    except PermissionError:
        raise CannotOpen([Diagnostic("permission denied", shown)]) from None
    except OSError as err:
        raise CannotOpen([Diagnostic(f"cannot read: {err.strerror or err}", shown)]) from None
    return decode(data, shown, limits)


def read_up_to(fd: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``fd``, one system call at a time: a buffered read of many
    bytes from a pipe or a fifo waits on in C, where a Ctrl-C that arrives between two of its
    reads is noticed only when more data comes (perhaps never)."""
    chunks = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(limit - size, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def decode(data: bytes, shown: str, limits: Limits) -> str:
    if len(data) > limits.max_file_bytes:
        raise GraphError(
            [
                Diagnostic(
                    f"input is larger than {limits.max_file_bytes:,} bytes (--max-file-size)", shown
                )
            ]
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 byte order mark
        raise GraphError(
            [Diagnostic("UTF-16 text; graph files are UTF-8: save it as UTF-8", shown, 1, 1)]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise GraphError(
            [
                Diagnostic(
                    f"not UTF-8 text (byte 0x{data[err.start]:02x}); "
                    f"graph files are UTF-8 YAML or JSON",
                    shown,
                    line,
                    col,
                )
            ]
        ) from None
