"""What an evaluation gives: every value and gradient by name, and, when traced, every
contribution the backward pass added."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpcalc.errors import Diagnostic


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
