"""A trace (bpcalc.analysis.trace) written out: numbered steps for people, with the local
derivatives and the numbers plugged in, or records for programs (``-o json``)."""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from bpcalc.analysis.blanks import has_blanks, is_blank
from bpcalc.errors import printable
from bpcalc.ops.spec import EMPTY, Attrs
from bpcalc.output.numbers import (
    TABLE_DIGITS,
    TENSOR_DIGITS,
    json_value,
    number,
    table_number,
    value_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from bpcalc.analysis.trace import BackwardStep, ForwardStep, LocalFormula, Term, Trace

INLINE_ELEMENTS = 6  # tensors up to this size are shown in full even without --full
BLANK_TEXT = "____"  # a worksheet's left-out answer (--blank)


@dataclass(frozen=True)
class Numbers:
    """How values are written: significant digits for scalars, tensors, and ``--full`` tensors."""

    scalar: int | None
    tensor: int | None
    full_tensor: int | None
    full: bool = False
    people: bool = False  # 0 for -0, as tables show it

    def number(self, x: Any, digits: int | None) -> str:
        return table_number(x, digits) if self.people else number(x, digits)

    @classmethod
    def for_people(cls, digits: int | None, full: bool) -> Numbers:
        """Rounded, as the tables of ``run`` are."""
        shown = digits or TENSOR_DIGITS
        return cls(digits or TABLE_DIGITS, shown, shown, full, people=True)

    @classmethod
    def for_text(cls, digits: int | None, full: bool) -> Numbers:
        """Every digit (as ``run`` writes in a pipe), except tensors that are not ``--full``."""
        return cls(digits, digits or TENSOR_DIGITS, digits, full)

    def text(self, value: Any) -> str:
        """A scalar, a small or ``--full`` tensor in numpy's layout, or a tensor's summary."""
        if value is None:
            return "—"
        if is_blank(value):
            return BLANK_TEXT
        if isinstance(value, float | int | Fraction):
            return self.number(value, self.scalar)
        if value.dtype.kind == "O":  # exact Fractions (--exact): always in full
            return value_text(value)
        if self.full:
            return tensor_text(value, self.full_tensor, people=self.people)
        if value.size <= INLINE_ELEMENTS:
            return tensor_text(value, self.tensor, people=self.people)
        return summary(value, self.tensor, people=self.people)


def tensor_text(value: Any, digits: int | None, *, people: bool = False) -> str:
    """Every element, numpy-style, with ``, `` between them (several lines if it is large);
    for ``people``, -0 reads 0."""
    import numpy as np

    write = table_number if people else number
    formatter: Any = {"float_kind": lambda x: write(x, digits)}
    return np.array2string(
        value, threshold=sys.maxsize, max_line_width=100, separator=", ", formatter=formatter
    )


def summary(value: Any, digits: int | None, *, people: bool = False) -> str:
    """``4×3 tensor: min -1.3, mean 0.12, max 2``."""
    shape = "×".join(map(str, value.shape))
    low, mean, high = _stats(value)
    write = table_number if people else number
    return (
        f"{shape} tensor: min {write(low, digits)}, mean {write(mean, digits)}, "
        f"max {write(high, digits)}"
    )


def _stats(value: Any) -> tuple[float, float, float]:
    import numpy as np

    with np.errstate(all="ignore"):
        return float(value.min()), float(value.mean()), float(value.max())


def json_summary(value: Any, digits: int | None, full: bool) -> Any:
    """A scalar as a number; a tensor as nested lists with ``full``, else shape and statistics."""
    if value is None or is_blank(value):
        return None
    if isinstance(value, float | int | Fraction) or full:
        return json_value(value, digits)
    if value.dtype.kind == "O":  # exact Fractions (--exact)
        return json_value(value, digits)
    low, mean, high = _stats(value)
    return {
        "shape": list(value.shape),
        "min": json_value(low, digits),
        "mean": json_value(mean, digits),
        "max": json_value(high, digits),
    }


def shown_name(name: str) -> str:
    """A name as it reads in a formula: in parentheses unless it is a plain identifier."""
    clean = printable(name)
    return clean if clean.isidentifier() else f"({clean})"


_PLAIN = re.compile(r"[\d.]+(?:[eE][+-]?\d+)?|[^\W\d]\w*")


def formula_text(formula: LocalFormula, write: Callable[[Any], str] | None = None) -> str:
    """A local derivative in the node's names (``s * (1 - s)``), or with ``write``, the numbers
    written in for them (``0.7311 * (1 - 0.7311)``); a negative number or a fraction inside a
    longer formula goes in parentheses."""
    alone = len(formula.pieces) == 1
    parts = []
    for piece in formula.pieces:
        if piece.kind == "text":
            parts.append(piece.name)
            continue
        if write is not None and piece.kind == "name":
            text = write(piece.value)
        elif piece.kind == "name":
            text = shown_name(piece.name)
        else:
            text = printable(piece.name)
        parts.append(text if alone or _PLAIN.fullmatch(text) or text[0] == "(" else f"({text})")
    return "".join(parts)


def partial_text(node: str, term: Term, formula: str, values: str | None, local: str | None) -> str:
    """``∂price/∂all_price = tax = 1.1``: the formula, the numbers written in, the value; each
    only when it says something the one before did not."""
    parts = [f"∂{shown_name(node)}/∂{shown_name(term.name)}", formula]
    if term.formula.names_values:
        for text in (values, local):
            if text is not None and text != parts[-1]:
                parts.append(text)
    return " = ".join(parts)


def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide (CJK) characters take two."""
    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in text
    )


# --- the trace as lines of styled text ------------------------------------------------------

Segment = tuple[str, str]  # text and a rich style ("" for none)
Line = list[Segment]

COMPACT_WIDTH = 100  # a forward step fits on one line up to this many columns
INDENT = "      "


def trace_lines(trace: Trace, numbers: Numbers) -> list[Line]:
    """The whole trace: heading, forward steps, backward steps, input gradients."""
    lines: list[Line] = []
    title = trace.graph + (f" — {trace.description}" if trace.description else "")
    lines.append([(printable(title), "bold")])
    lines.append([])
    lines.append([("Forward, in dependency order", "bold underline")])
    for step in trace.forward:
        lines += _forward_lines(step, numbers)
    lines.append([])
    target = shown_name(trace.target)
    seed = " (fill in the blanks)" if has_blanks(trace) else " = 1"
    heading = f"Backward, in reverse order, from d {target}{seed} (d name means d {target}/d name)"
    lines.append([(heading, "bold underline")])
    if not trace.backward:
        why = "it is an input" if trace.target in trace.input_grads else "no input needs a gradient"
        lines.append([(f"{INDENT}no step: {why}", "dim")])
    for back in trace.backward:
        lines += _backward_lines(back, trace.forward[back.number - 1], numbers)
    lines.append([])
    lines += _gradient_lines(trace, numbers)
    return lines


def _call(op: str, args: list[str], attrs: Attrs = EMPTY) -> str:
    return f"{op}({', '.join([*args, attrs.text()] if attrs else args)})"


def _forward_lines(step: ForwardStep, numbers: Numbers) -> list[Line]:
    number_text = f"({step.number}) "
    head: Line = [
        (number_text, "bold"),
        (shown_name(step.node), "bold cyan"),
        (" = " + _call(step.op, [shown_name(o.name) for o in step.operands], step.attrs), ""),
    ]
    operand_texts = [numbers.text(o.value) for o in step.operands]
    value_text = numbers.text(step.value)
    compact = f" = {_call(step.op, operand_texts, step.attrs)} = {value_text}"
    head_width = sum(cell_width(text) for text, _ in head)
    if "\n" not in compact and head_width + cell_width(compact) <= COMPACT_WIDTH:
        return [
            [*head, (f" = {_call(step.op, operand_texts, step.attrs)} = ", ""), (value_text, "")]
        ]
    lines = [head]
    for operand, text in zip(step.operands, operand_texts, strict=True):
        if not operand.constant:
            lines += _named_value(shown_name(operand.name), text, "")
    lines += _named_value(shown_name(step.node), value_text, "bold cyan")
    return lines


def _named_value(name: str, text: str, style: str, value_style: str = "") -> list[Line]:
    """``name = value`` indented; a value of several lines continues under the first."""
    first, *rest = text.split("\n")
    lead = f"{name} = "
    pad = " " * cell_width(lead)
    lines: list[Line] = [[(INDENT, ""), (name, style), (" = ", ""), (first, value_style)]]
    lines += [[(INDENT + pad, ""), (line, value_style)] for line in rest]
    return lines


def _backward_lines(step: BackwardStep, forward: ForwardStep, numbers: Numbers) -> list[Line]:
    head: Line = [
        (f"({step.number}) ", "bold"),
        (shown_name(step.node), "bold cyan"),
        (" = " + _call(step.op, [shown_name(o.name) for o in forward.operands], step.attrs), ""),
    ]
    dout = numbers.text(step.dout)
    if "\n" in dout:
        lines = [head, *_named_value("dout", dout, "", "red")]
    else:
        lines = [[*head, (", dout = ", ""), (dout, "red")]]
    terms = [(term, _term_segments(term, step.dout, numbers)) for term in step.terms]
    width = max(sum(cell_width(text) for text, _ in segs) for _, segs in terms)
    formulas = [_partial(step.node, term, numbers) for term in step.terms]
    # Side by side when every line of the step fits, else each formula under its line.
    below = width + 3 + max(map(cell_width, formulas)) > COMPACT_WIDTH
    for (term, segments), formula in zip(terms, formulas, strict=True):
        used = sum(cell_width(text) for text, _ in segments)
        if below:
            lines += [segments, [(INDENT + "    " + formula, "dim")]]
        else:
            lines.append([*segments, (" " * (width - used + 3) + formula, "dim")])
        amount = numbers.text(term.amount)
        if "\n" in amount:  # a --full tensor: what is added goes below, aligned
            lines += [[(INDENT * 2, ""), (line, "red")] for line in amount.split("\n")]
        if term.count > 1:
            lines += _running_sum(term, numbers)
    return lines


def _partial(node: str, term: Term, numbers: Numbers) -> str:
    """``∂price/∂all_price = tax = 1.1``, rounded as the rest of the trace is."""
    values = formula_text(term.formula, numbers.text) if term.formula.arithmetic else None
    local = None if term.local is None else numbers.text(term.local)
    return partial_text(node, term, formula_text(term.formula), values, local)


def _term_segments(term: Term, dout: Any, numbers: Numbers) -> Line:
    """``d apple_price += 1.1 × 1 = 1.1``, or ``d W += <tensor>`` when it is not all scalars."""
    segments: Line = [(INDENT + "d ", ""), (shown_name(term.name), "cyan"), (" +=", "")]
    amount = numbers.text(term.amount)
    if term.local is not None:
        segments += [
            (" ", ""),
            (numbers.text(dout), "red"),
            (" × ", ""),
            (numbers.text(term.local), ""),
            (" =", ""),
        ]
    if "\n" in amount:
        return segments
    return [*segments, (" ", ""), (amount, "red")]


def _running_sum(term: Term, numbers: Numbers) -> list[Line]:
    """``running sum: d x = 2 + 3 = 5   (contribution 2 of 2)``; tensors show only the sum."""
    lead: Line = [(INDENT + "  running sum: d ", "dim"), (shown_name(term.name), "cyan")]
    where: Segment = (f"   (contribution {term.index} of {term.count})", "dim")
    total = numbers.text(term.total)
    if term.previous is not None and isinstance(term.total, float | int):
        added = f"{numbers.text(term.previous)} + {numbers.text(term.amount)} = "
        return [[*lead, (" = " + added, ""), (total, "red"), where]]
    first, *rest = total.split("\n")
    lines = [[*lead, (" = ", ""), (first, "red"), where]]
    return lines + [[(INDENT * 2, ""), (line, "red")] for line in rest]


def _gradient_lines(trace: Trace, numbers: Numbers) -> list[Line]:
    target = shown_name(trace.target)
    lines: list[Line] = [[(f"Gradients of the inputs, d {target}/d input", "bold underline")]]
    names = [shown_name(name) for name in trace.input_grads]
    width = max(map(cell_width, names), default=0)
    for name, grad in zip(names, trace.input_grads.values(), strict=True):
        pad = " " * (width - cell_width(name))
        text = "no gradient (grad: false)" if grad is None else numbers.text(grad)
        first, *rest = text.split("\n")
        lines.append([(INDENT, ""), (name, "cyan"), (pad + " = ", ""), (first, "red")])
        lines += [[(INDENT + " " * (width + 3), ""), (line, "red")] for line in rest]
    return lines


def plain(lines: list[Line]) -> str:
    return "".join("".join(text for text, _ in line).rstrip() + "\n" for line in lines)


# --- the trace as JSON records --------------------------------------------------------------


def trace_records(trace: Trace, *, digits: int | None, full: bool) -> list[dict[str, Any]]:
    """One record per step: the forward steps, then the backward steps in the order they ran."""

    def value(x: Any) -> Any:
        return json_summary(x, digits, full)

    records: list[dict[str, Any]] = [
        {
            "phase": "forward",
            "step": step.number,
            "node": step.node,
            "op": step.op,
            "inputs": [
                {
                    "name": o.name,
                    "param": o.param,
                    "constant": o.constant,
                    "value": value(o.value),
                }
                for o in step.operands
            ],
            "value": value(step.value),
            **({"attrs": _json_attrs(step.attrs)} if step.attrs else {}),
        }
        for step in trace.forward
    ]
    records += [
        {
            "phase": "backward",
            "step": step.number,
            "node": step.node,
            "op": step.op,
            "dout": value(step.dout),
            "contributions": [
                {
                    "name": t.name,
                    "param": t.param,
                    "derivative": t.derivative,
                    "partial": f"∂{printable(step.node)}/∂{printable(t.name)}",
                    "formula": formula_text(t.formula),
                    "formula_values": (
                        formula_text(t.formula, lambda x: number(x, digits))
                        if t.formula.arithmetic
                        else None
                    ),
                    "local": value(t.local),
                    "amount": value(t.amount),
                    "previous": value(t.previous),
                    "total": value(t.total),
                    "contribution": t.index,
                    "of": t.count,
                }
                for t in step.terms
            ],
            **({"attrs": _json_attrs(step.attrs)} if step.attrs else {}),
        }
        for step in trace.backward
    ]
    return records


def _json_attrs(attrs: Attrs) -> dict[str, Any]:
    """Attributes as JSON: lists for tuples of axes."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}


def print_trace(story: Trace, *, fmt: str, digits: int | None, full: bool) -> None:
    """``bpcalc trace -o FMT``: JSON records, plain text, or rich (auto: rich on a terminal)."""
    from bpcalc.output.formats import resolve, write, write_json

    fmt = resolve(fmt, plain="text")
    if fmt == "json":
        write_json(trace_records(story, digits=digits, full=full))
    elif fmt in ("markdown", "latex"):
        from bpcalc.output.handouts import trace_latex, trace_markdown

        numbers = Numbers.for_people(digits, full)
        write((trace_markdown if fmt == "markdown" else trace_latex)(story, numbers))
    elif fmt == "text":
        write(plain(trace_lines(story, Numbers.for_text(digits, full))))
    else:
        print_rich(trace_lines(story, Numbers.for_people(digits, full)))


def print_rich(lines: list[Line]) -> None:
    from rich.text import Text

    from bpcalc.output.formats import print_wrapped, stdout_console

    console = stdout_console()
    for line in lines:  # wrapped at spaces, never a number cut
        print_wrapped(console, Text.assemble(*line))
