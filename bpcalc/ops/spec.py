"""What an op is: ``OpSpec``, its typed ``Attribute``s, and the frozen ``Attrs`` a node carries.

Pure Python on purpose (no numpy): `bpcalc --help`, the loader and error hints read the specs.
Everything else bpcalc says or checks about an op (``bpcalc ops``, docs/ops.md, validation,
``--exact``, ``--batch``, export, the size check) is derived from these fields.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from bpcalc.ops.protocol import LayerClass

Shape = tuple[int, ...]
AttrValue = int | float | bool | tuple[int, ...] | str | None  # str: an index's text
# Input shapes and the node's attributes -> the result's shape; None when the operands do not
# fit (evaluation then reports the mismatch); raises ShapeError for an attribute out of range.
ShapeRule = Callable[[Sequence[Shape], Mapping[str, AttrValue]], Shape | None]

# What each attribute type accepts, as messages word it.
KINDS = {
    "int": "a whole number",
    "bool": "true or false",
    "float": "a number",
    "axes": "a whole number or a list of whole numbers",
    "ints": "a list of whole numbers",
    "index": "a constant index such as [0], [:, 1] or [0:2]",
}


class AttrProblem(ValueError):
    """An attribute value that does not fit its type or range; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ShapeError(ValueError):
    """Input shapes that an op's attributes do not fit, such as an axis beyond ``ndim``."""


class Attribute(NamedTuple):
    """A typed, named constant of an op: ``sum(x, axis=1)``; ``default`` when not given.

    (A NamedTuple rather than a frozen dataclass, as OpSpec: six times faster to define,
    and ``bpcalc --help`` defines both.)"""

    name: str
    kind: str  # a key of KINDS
    default: AttrValue
    help: str
    check: Callable[[AttrValue], str | None] | None = None  # why a value is out of range
    required: bool = False  # no default: every node of the op gives it (reshape's shape)

    @property
    def signature(self) -> str:
        """``axis=None``, as a Python signature writes it; ``shape=(required)``."""
        return f"{self.name}={'(required)' if self.required else attr_text(self.default)}"

    def read(self, op: str, raw: object, shown: str) -> AttrValue:
        """The checked value of ``raw`` (a number, bool, None or list, already parsed)."""
        if self.kind == "index":
            from bpcalc.ops.indexing import IndexProblem, canonical_index

            try:
                return canonical_index(raw)
            except IndexProblem as err:
                raise AttrProblem(f"attribute '{self.name}' of {op} {err}, got {shown}") from None
        value = self._typed(raw)
        if value is _WRONG:
            raise AttrProblem(
                f"attribute '{self.name}' of {op} expects {KINDS[self.kind]}, got {shown}"
            )
        checked = cast(AttrValue, value)
        why = self.check(checked) if self.check is not None else None
        if why:
            raise AttrProblem(f"attribute '{self.name}' of {op} {why}, got {shown}")
        return checked

    def _typed(self, raw: object) -> object:
        if raw is None and self.default is None:
            return None
        if self.kind == "bool":
            return raw if isinstance(raw, bool) else _WRONG
        if self.kind == "int":
            return raw if _is_int(raw) else _WRONG
        if self.kind == "float":
            return (
                float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else _WRONG
            )
        if isinstance(raw, list | tuple):
            return tuple(raw) if all(map(_is_int, raw)) else _WRONG
        if self.kind == "axes" and _is_int(raw):
            return raw
        return _WRONG


_WRONG = object()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def attr_text(value: AttrValue) -> str:
    """A value as Python source: ``1``, ``[0, 1]``, ``True``, ``None``; an index as ``[:, 1]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value)


# Patterns, compiled (and cached by re) on first use: not for `bpcalc --help`.
_INT = r"[+-]?\d[\d_]*"
_FLOAT = r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?"
_WORDS: dict[str, AttrValue] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "null": None,
    "None": None,
    "~": None,
}


def from_text(raw: object) -> object:
    """A value of the explicit form (YAML and JSON scalars arrive as their text) as Python data:
    ``"1"`` is 1, ``"true"`` is True, ``["0", "1"]`` is [0, 1]; other text stays text."""
    if isinstance(raw, list):
        return [from_text(item) for item in raw]
    if not isinstance(raw, str):
        return raw  # JSON's true, false and null arrive as Python values
    text = raw.strip()
    if text in _WORDS:
        return _WORDS[text]
    if re.fullmatch(_INT, text) and len(text) < 100:
        return int(text.replace("_", ""))
    if re.fullmatch(_FLOAT, text) and len(text) < 100:
        return float(text.replace("_", ""))
    return raw


class Attrs(Mapping[str, AttrValue]):
    """A node's attributes as written, frozen and hashable: equal sub-expressions with equal
    attributes are one node, and ``sum(x, axis=0)`` and ``sum(x, axis=1)`` are two."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, AttrValue]] = ()) -> None:
        self._items = tuple(items)

    def __getitem__(self, key: str) -> AttrValue:
        for name, value in self._items:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Attrs):
            return frozenset(self._items) == frozenset(other._items)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Attrs({dict(self._items)!r})"

    def text(self) -> str:
        """``axis=1, keepdims=True``, in the order written."""
        return ", ".join(f"{name}={attr_text(value)}" for name, value in self._items)

    def python(self) -> str:
        """``axis=(0, 1), keepdims=True``: keyword arguments for a layer, as Python source."""
        return ", ".join(
            f"{name}={tuple(value)!r}" if isinstance(value, tuple) else f"{name}={value!r}"
            for name, value in self._items
        )


EMPTY = Attrs()


class OpSpec(NamedTuple):
    """Everything bpcalc knows about one op; see docs/adding-an-op.md."""

    name: str
    layer: str  # class name in bpcalc.ops.layers, or "module:Class" in bpcalc.ops.module
    params: tuple[str, ...]  # forward() argument names, in order
    formula: str  # forward, in terms of params
    derivatives: tuple[str, ...]  # one local derivative per param
    shape: ShapeRule  # the result's shape, checked before evaluating (bpcalc.ops.shapes)
    notes: str = ""
    attributes: tuple[Attribute, ...] = ()  # keyword constants, passed to the layer's __init__
    elementwise: bool = False  # row i of the result depends on row i of the inputs (--batch)
    exact_layer: str = ""  # class name in bpcalc.ops.exact; "" when not exact over the rationals
    exact_note: str = ""  # a limit of the exact layer, shown in --exact's help
    symbol: str = ""  # infix (two params) or prefix (one) operator in expressions, if any
    optional: int = 0  # how many of the last params may be left out (all of them together)
    # Elements of the largest array the layer makes on the way (im2col's matrix), when that
    # can outgrow the result; the size check bounds it by --max-elements too.
    workspace: Callable[[Sequence[Shape], Mapping[str, AttrValue]], int] | None = None
    example: str = ""  # how a node is written, for messages: reshape(x, shape=[3, -1])

    @property
    def arity(self) -> int:
        """How many inputs a node of the op has, optional ones left out."""
        return len(self.params) - self.optional

    def takes(self, count: int) -> bool:
        """Whether a node may have ``count`` inputs: all params, or all but the optional ones."""
        return count in (self.arity, len(self.params))

    def inputs_text(self) -> str:
        """``x, gamma, beta`` or, with optional params, ``x, gamma, beta[, mean, var]``."""
        text = ", ".join(self.params[: self.arity])
        if self.optional:
            text += f"[, {', '.join(self.params[self.arity :])}]"
        return text

    def count_text(self, noun: str) -> str:
        """``3 inputs``, or ``3 or 5 inputs`` with optional params."""
        counts = f"{self.arity}" + (f" or {len(self.params)}" if self.optional else "")
        return f"{counts} {noun}{'s' * (len(self.params) != 1)}"

    @property
    def module(self) -> str:
        """The module of the float layer class: ``bpcalc.ops.layers`` unless ``layer`` names one."""
        module, _, _ = self.layer.rpartition(":")
        return f"bpcalc.ops.{module or 'layers'}"

    @property
    def class_name(self) -> str:
        """The float layer's class name, without its module."""
        return self.layer.rpartition(":")[2]

    @property
    def exact(self) -> bool:
        """Whether ``--exact`` accepts the op: it has an exact layer."""
        return bool(self.exact_layer)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(attribute.name for attribute in self.attributes)

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    def signature(self) -> str:
        """``x, axis=None, keepdims=False``: the params, then the attributes with defaults;
        optional params as ``mean=None``."""
        params = [*self.params[: self.arity], *(f"{p}=None" for p in self.params[self.arity :])]
        return ", ".join([*params, *(a.signature for a in self.attributes)])

    def missing_attributes(self, given: Iterable[str]) -> str | None:
        """The message for required attributes not given, or None."""
        missing = [a.name for a in self.attributes if a.required and a.name not in set(given)]
        if not missing:
            return None
        return f"{self.name}() needs the attribute {_and(missing)}: {self.usage}"

    @property
    def usage(self) -> str:
        """How a node of the op is written, for messages."""
        if self.example:
            return self.example
        if self.symbol:
            return f"{self.symbol}x" if self.arity == 1 else f"x {self.symbol} y"
        return f"{self.name}({', '.join(self.params)})"

    def unknown_attribute(self, name: str) -> str:
        """The message for an attribute this op does not have."""
        from bpcalc.errors import did_you_mean

        return (
            f"{self.name}() has no attribute '{name}'{did_you_mean(name, self.attribute_names)}; "
            f"its attributes are {_and(self.attribute_names)}"
        )

    def layer_class(self) -> LayerClass:
        """The float layer class, imported on first use (it needs numpy)."""
        cls: LayerClass = getattr(importlib.import_module(self.module), self.class_name)
        return cls

    def exact_layer_class(self) -> LayerClass:
        """The exact layer class (bounded in size); KeyError when the op is not exact."""
        if not self.exact:
            raise KeyError(self.name)
        exact = importlib.import_module("bpcalc.ops.exact")
        cls: LayerClass = exact.EXACT_LAYERS[self.name]
        return cls


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
