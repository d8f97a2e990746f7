"""What an evaluation gives: every value and gradient by name, and, when traced, every
contribution the backward pass added."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bpcalc.errors import Diagnostic

if TYPE_CHECKING:
    from bpcalc.loading.graph import Graph


@dataclass(frozen=True)
class Contribution:
    """One ``+=`` of the backward pass: ``d arg += (local derivative) * dout = amount``."""

    node: str  # the node whose backward ran
    arg: str  # the input or node that receives the contribution
    dout: Any  # d(output)/d(node), the upstream gradient
    amount: Any  # what backward returned for ``arg``
    total: Any  # d(output)/d(arg) so far, after adding ``amount``


class Slots(Mapping[str, Any]):
    """A read-only mapping of names to the engine's list of results, in the list's order.

    ``index`` (name -> position) belongs to the graph's compiled plan and is shared by every
    evaluation of it, so an evaluation costs no dict of its own: a name is looked up when read.
    """

    __slots__ = ("_index", "_items")

    def __init__(self, index: dict[str, int], items: list[Any]) -> None:
        self._index = index
        self._items = items

    def __getitem__(self, name: str) -> Any:
        return self._items[self._index[name]]

    def get(self, name: str, default: Any = None) -> Any:
        i = self._index.get(name)
        return default if i is None else self._items[i]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> ItemsView[str, Any]:
        return _Items(self)

    def values(self) -> ValuesView[Any]:
        return _Values(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Slots) and other._index is self._index:
            return self._items == other._items
        return super().__eq__(other)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class _Items(ItemsView[str, Any]):
    _mapping: Slots

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return zip(self._mapping._index, self._mapping._items, strict=True)


class _Values(ValuesView[Any]):
    _mapping: Slots

    def __iter__(self) -> Iterator[Any]:
        return iter(self._mapping._items)


@dataclass(frozen=True)
class Evaluation:
    """Values and gradients of one evaluation; gradients are d(output)/d(name)."""

    graph: str
    output: str
    values: Mapping[str, Any]  # every input and node, inputs first, nodes in evaluation order
    grads: Mapping[str, Any]  # None for an input with grad: false
    warnings: list[Diagnostic] = field(default_factory=list)
    contributions: list[Contribution] | None = None  # in backward order, with evaluate(trace=True)
    # The graph evaluated, for the notebook display (None when made by hand).
    source: Graph | None = field(default=None, compare=False, repr=False)

    # Jupyter's display hooks: the figure (bpcalc's own SVG, no Graphviz) and a table of the
    # values and gradients. Output is imported only when a notebook asks (pyproject.toml's
    # import contract lists these two imports as its exceptions).
    def _repr_html_(self) -> str:
        from bpcalc.output.notebook import evaluation_html

        return evaluation_html(self)

    def _repr_svg_(self) -> str:
        from bpcalc.output.notebook import evaluation_svg

        return evaluation_svg(self)
