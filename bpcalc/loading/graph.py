"""The checked graph: inputs with their values, nodes in evaluation order, an output.

What loading produces and everything downstream works on. ``evaluate`` is a convenience that
hands the graph to the engine (bpcalc.engine.plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bpcalc.errors import Diagnostic, UsageProblem, did_you_mean
from bpcalc.loading.inputs import InputValue
from bpcalc.loading.schema import GraphDef, NodeDef, canonical_name

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation

_NAME = attrgetter("name")


@dataclass(frozen=True)
class Graph:
    """A checked graph: inputs with their values, nodes in evaluation order, an output."""

    definition: GraphDef
    # Read-only: the engine's plan reads the values once, so a changed value must come
    # through with_inputs (a new graph), never by assignment into this mapping.
    inputs: Mapping[str, InputValue]
    nodes: tuple[NodeDef, ...]  # topological order
    output: str
    # The inputs whose values --set (with_inputs) gave: the file's line is not where they are.
    replaced: frozenset[str] = frozenset()
    # The engine's compiled plans (float and exact), made on first evaluation; a copy made by
    # with_inputs starts without them, since which inputs want gradients may have changed.
    plans: dict[bool, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, MappingProxyType):
            object.__setattr__(self, "inputs", MappingProxyType(self.inputs))

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def description(self) -> str:
        return self.definition.description

    @property
    def names(self) -> list[str]:
        """Every input and node, in the order results are reported."""
        return [*self.inputs, *map(_NAME, self.nodes)]

    def with_inputs(self, values: Mapping[str, InputValue]) -> Graph:
        """A copy with some input values replaced (what ``--set`` does)."""
        values = {canonical_name(name): value for name, value in values.items()}
        for name in values:
            if name not in self.inputs:
                raise UsageProblem(self.unknown_name_message(name, inputs_only=True), about="sets")
        return replace(
            self, inputs={**self.inputs, **values}, replaced=self.replaced | frozenset(values)
        )

    def unknown_name_message(self, name: str, *, inputs_only: bool = False) -> str:
        choices = list(self.inputs) if inputs_only else self.names
        kind = "input" if inputs_only else "input or node"
        hint = did_you_mean(name, choices)
        if not hint and inputs_only and name in self.names:
            return f"'{name}' is a node, not an input"
        return f"no {kind} named '{name}' in {self.definition.source.name}{hint}"

    def locate(self, name: str, message: str) -> Diagnostic:
        """A diagnostic pointing at where ``name`` is defined."""
        source = self.definition.source
        if name in self.replaced:  # its value came from the command line, not the file
            where = f"in --set {name}"
            if message.endswith("here)"):
                return Diagnostic(f"{message[: -len('here)')]}{where})", file=source.name)
            return Diagnostic(f"{message} ({where})", file=source.name)
        if name in self.inputs:
            path = next(i.path for i in self.definition.inputs if i.name == name)
            return source.diagnostic(message, path, key=True)  # the key as written
        node = self.node_by_name[name]
        return source.diagnostic(message, node.path, offset=node.column)

    # Jupyter's display hooks: the graph's figure without numbers (evaluate it to see them).
    def _repr_html_(self) -> str:
        from bpcalc.output.notebook import graph_html

        return graph_html(self)

    def _repr_svg_(self) -> str:
        from bpcalc.output.notebook import graph_svg

        return graph_svg(self)

    @cached_property
    def node_by_name(self) -> dict[str, NodeDef]:
        return dict(zip(map(_NAME, self.nodes), self.nodes, strict=True))

    def evaluate(
        self,
        *,
        of: str | None = None,
        trace: bool = False,
        exact: bool = False,
        memory_hint: str = "",
    ) -> Evaluation:
        """Values and gradients d(``of``)/d(name); see bpcalc.engine.plan.evaluate."""
        from bpcalc.engine.plan import evaluate

        return evaluate(self, of=of, trace=trace, exact=exact, memory_hint=memory_hint)
