"""The story of one evaluation, step by step: forward in order, then backward in reverse.

Steps are numbered like the ``(1)``...``(4)`` comments of the book's ``buy_apple_orange.py``:
node ``(k)`` is the k-th forward layer call, and its backward call carries the same number.
Each backward step lists what it adds to each input, ``d x += dout × local = amount``, and the
running sum when a value feeds several nodes. This module builds the steps as data;
bpcalc.output.trace_text writes them for people and programs.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from bpcalc.loading.literals import Const
from bpcalc.ops.spec import EMPTY, Attrs
from bpcalc.ops.table import OPS
from bpcalc.runtime import numpy_quiet

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph
    from bpcalc.loading.schema import NodeDef


@dataclass(frozen=True)
class Operand:
    """One argument of a forward step: an input, a node or a constant, with its value."""

    name: str  # for a constant, the text it was written as
    param: str  # the op's name for this argument (x, y, W, ...)
    value: Any
    constant: bool


@dataclass(frozen=True)
class ForwardStep:
    number: int
    node: str
    op: str
    operands: tuple[Operand, ...]
    value: Any
    attrs: Attrs = EMPTY


@dataclass(frozen=True)
class Term:
    """``d name += dout × local = amount``; ``index`` of ``count`` contributions to ``name``."""

    name: str
    param: str
    position: int  # index of the argument in the node's inputs
    derivative: str  # the op's formula for this local derivative, in its params
    local: Any  # a float when every value of the step is a scalar, else None
    amount: Any
    previous: Any  # the running sum before this contribution; None for the first
    total: Any
    index: int
    count: int
    formula: LocalFormula  # ``derivative`` in the node's own names: ``tax``, ``s * (1 - s)``


@dataclass(frozen=True)
class Piece:
    """A piece of a local derivative in the node's terms: the op's own text (``kind`` "text"),
    or an argument or the node's output (``kind`` "name", or "constant" for a number written
    in the graph, ``name`` being its text), with its value."""

    kind: Literal["text", "name", "constant"]
    name: str
    value: Any = None


@dataclass(frozen=True)
class LocalFormula:
    """The op's local derivative with its params (and its output, ``y`` or ``out`` where that
    is not a param) replaced by the node's arguments and name: mul's ``y`` in
    ``price = all_price * tax`` is ``tax``; sigmoid's ``y * (1 - y)`` in ``s = sigmoid(x)`` is
    ``s * (1 - s)``. ``arithmetic``: every value is a scalar and the rest reads as arithmetic,
    so the numbers can be written in for the names."""

    pieces: tuple[Piece, ...]
    arithmetic: bool

    @property
    def names_values(self) -> bool:
        """Whether any piece stands for a value (else it is a constant such as ``1``)."""
        return any(piece.kind != "text" for piece in self.pieces)


@dataclass(frozen=True)
class BackwardStep:
    number: int  # the same as the node's forward step
    node: str
    op: str
    dout: Any
    terms: tuple[Term, ...]
    attrs: Attrs = EMPTY


@dataclass(frozen=True)
class Trace:
    graph: str
    description: str
    target: str  # the node differentiated (the output, or --of)
    forward: tuple[ForwardStep, ...]
    backward: tuple[BackwardStep, ...]
    input_grads: dict[str, Any]  # None for an input with grad: false


def build_trace(graph: Graph, evaluation: Evaluation) -> Trace:
    """Forward and backward steps of an evaluation made with ``evaluate(trace=True)``."""
    if evaluation.contributions is None:
        raise ValueError("build_trace needs an evaluation made with trace=True")
    values = evaluation.values
    numbers = {node.name: i for i, node in enumerate(graph.nodes, start=1)}
    forward = tuple(
        ForwardStep(
            numbers[node.name],
            node.name,
            node.op,
            tuple(_operands(node, values)),
            values[node.name],
            node.attrs,
        )
        for node in graph.nodes
    )
    nodes = {node.name: node for node in graph.nodes}
    counts = Counter(c.arg for c in evaluation.contributions)
    seen: Counter[str] = Counter()
    running: dict[str, Any] = {}
    backward = []
    for name, group in itertools.groupby(evaluation.contributions, key=lambda c: c.node):
        node = nodes[name]
        contributions = list(group)
        # The engine skips constants and inputs with grad: false; match the rest by position.
        receivers = [
            i
            for i, arg in enumerate(node.args)
            if isinstance(arg, str) and evaluation.grads.get(arg) is not None
        ]
        locals_ = _local_derivatives(node, values)
        spec = OPS[node.op]
        terms = []
        for position, c in zip(receivers, contributions, strict=True):
            seen[c.arg] += 1
            terms.append(
                Term(
                    c.arg,
                    spec.params[position],
                    position,
                    spec.derivatives[position],
                    None if locals_ is None else locals_[position],
                    c.amount,
                    running.get(c.arg),
                    c.total,
                    seen[c.arg],
                    counts[c.arg],
                    local_formula(node, position, values),
                )
            )
            running[c.arg] = c.total
        backward.append(
            BackwardStep(
                numbers[name], name, node.op, contributions[0].dout, tuple(terms), node.attrs
            )
        )
    return Trace(
        graph.name,
        graph.description,
        evaluation.output,
        forward,
        tuple(backward),
        {name: evaluation.grads[name] for name in graph.inputs},
    )


def _operands(node: NodeDef, values: Mapping[str, Any]) -> Iterator[Operand]:
    params = OPS[node.op].params
    for param, arg in zip(params, node.args, strict=False):  # optional params may be left out
        if isinstance(arg, Const):
            yield Operand(arg.text, param, arg.value, True)
        else:
            yield Operand(arg, param, values[arg], False)


def _local_derivatives(node: NodeDef, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Each input's local derivative, by running the layer backward from 1 (scalars only)."""
    if isinstance(values[node.name], Fraction):
        return _exact_local_derivatives(node, values)
    inputs = [arg.value if isinstance(arg, Const) else values[arg] for arg in node.args]
    if not all(isinstance(v, float | int) for v in [*inputs, values[node.name]]):
        return None
    layer = OPS[node.op].layer_class()(**node.attrs)
    with numpy_quiet():
        layer.forward(*inputs)
        local: Any = layer.backward(1.0)
    return tuple(float(x) for x in (local if len(inputs) > 1 else (local,)))


def _exact_local_derivatives(node: NodeDef, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The same with the exact layers of ``--exact``: rational local derivatives."""
    from bpcalc.ops.exact import to_fraction

    inputs = [to_fraction(arg.text) if isinstance(arg, Const) else values[arg] for arg in node.args]
    if not all(isinstance(v, Fraction) for v in inputs):
        return None
    layer = OPS[node.op].exact_layer_class()(**node.attrs)
    layer.forward(*inputs)
    local = layer.backward(Fraction(1))
    return tuple(local if len(inputs) > 1 else (local,))


# Words a derivative text may use and still read as arithmetic (numbers can be written in).
_ARITHMETIC_WORDS = frozenset(
    {"exp", "ln", "log", "tanh", "sqrt", "abs", "sin", "cos", "max", "min", "sign", "if", "else"}
    | {"and", "or", "not"}
)
_OUTPUT_WORDS = ("y", "out")  # the op's output, where the derivative text uses it
_TOKEN = re.compile(
    r"(?P<word>[^\W\d]\w*)|(?P<number>\d[\d.]*(?:[eE][+-]?\d+)?)|(?P<other>.)", re.S
)
_CALL = re.compile(r"[^\W\d]\w*\(.*\)", re.S)


def local_formula(node: NodeDef, position: int, values: Mapping[str, Any]) -> LocalFormula:
    """The local derivative of ``node`` with respect to its argument at ``position``, written
    with the node's own names (see LocalFormula). Generic over the op table: a param of the
    op's spec is replaced by the argument in its place, token by token, never inside a longer
    word or after a dot (``x.T``, ``x.size``)."""
    spec = OPS[node.op]
    arguments: dict[str, Piece] = {}
    # A node may leave out the op's optional params (batch_norm's mean and var).
    for param, arg in zip(spec.params, node.args, strict=False):
        if isinstance(arg, Const):
            arguments[param] = Piece("constant", arg.text, arg.value)
        else:
            arguments[param] = Piece("name", arg, values[arg])
    output = Piece("name", node.name, values[node.name])
    for word in _OUTPUT_WORDS:
        arguments.setdefault(word, output)
    pieces: list[Piece] = []
    arithmetic = True
    for chunk, is_output in _split_output(spec.derivatives[position], spec.formula, spec.params):
        if is_output:
            pieces.append(output)
            continue
        previous = ""
        for match in _TOKEN.finditer(chunk):
            token = match.group()
            word = match.group("word")
            if word is not None and previous != "." and word in arguments:
                pieces.append(arguments[word])
            else:
                if word is not None and (previous == "." or word not in _ARITHMETIC_WORDS):
                    arithmetic = False
                if pieces and pieces[-1].kind == "text":
                    pieces[-1] = Piece("text", pieces[-1].name + token)
                else:
                    pieces.append(Piece("text", token))
            if not token.isspace():
                previous = token
    scalar = all(_is_scalar(p.value) for p in pieces if p.kind != "text")
    return LocalFormula(tuple(pieces), arithmetic and scalar)


def _split_output(derivative: str, formula: str, params: tuple[str, ...]) -> list[tuple[str, bool]]:
    """``derivative`` cut where it writes the op's own formula (``tanh(x)`` in tanh's
    ``1 - tanh(x)**2``, exp's ``exp(x)``): those pieces are the output. Only a formula that is
    one call is matched, so that operator precedence cannot change what the text means."""
    if (
        formula in params
        or not _CALL.fullmatch(formula)
        or not _balanced(formula[formula.index("(") :])
    ):
        return [(derivative, False)]
    chunks: list[tuple[str, bool]] = []
    pending, rest = "", derivative
    while (at := rest.find(formula)) >= 0:
        before = pending + rest[:at]
        if before and (before[-1].isalnum() or before[-1] in "_."):  # inside a longer word
            pending, rest = before + rest[at], rest[at + 1 :]
            continue
        if before:
            chunks.append((before, False))
        chunks.append((formula, True))
        pending, rest = "", rest[at + len(formula) :]
    if pending + rest:
        chunks.append((pending + rest, False))
    return chunks


def _balanced(text: str) -> bool:
    """Whether the parenthesis opening ``text`` closes at its end (``(x)``, not ``(a) * (b)``)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return i == len(text) - 1
    return False


def _is_scalar(value: Any) -> bool:
    return isinstance(value, float | int | Fraction)
