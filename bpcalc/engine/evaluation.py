"""What an evaluation gives: every value and gradient by name, and, when traced, every
contribution the backward pass added."""

from __future__ import annotations

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


@dataclass(frozen=True)
class Evaluation:
    """Values and gradients of one evaluation; gradients are d(output)/d(name)."""

    graph: str
    output: str
    values: dict[str, Any]  # every input and node, inputs first, nodes in evaluation order
    grads: dict[str, Any]  # None for an input with grad: false
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
