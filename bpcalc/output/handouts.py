"""A trace as handout tables (``trace -o markdown``, ``trace -o latex``): the forward steps,
the backward steps with each ``d x += dout × local = amount``, and the inputs' gradients.

Markdown cells escape what Markdown or HTML would read (``| \\ ` * _ [ ] < > # ~ &``); the
LaTeX document escapes the LaTeX specials (bpcalc.output.tikz_drawing.latex_text) and compiles
with pdflatex as it is. Blanked answers (``--blank``) are empty boxes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpcalc.analysis.blanks import has_blanks
from bpcalc.errors import printable
from bpcalc.ops.table import OPS
from bpcalc.output.tikz_drawing import BLANK_BOX, BLANK_MACRO, latex_text
from bpcalc.output.trace_text import BLANK_TEXT, Numbers

if TYPE_CHECKING:
    from bpcalc.analysis.trace import Trace

Row = list[str]


def _call(op: str, args: list[str], attrs: str) -> str:
    return f"{op}({', '.join([*args, attrs] if attrs else args)})"


def _rows(trace: Trace, numbers: Numbers) -> tuple[list[Row], list[Row], list[Row]]:
    """The three tables as plain text cells (``BLANK_TEXT`` for a blank)."""

    def text(value: Any) -> str:
        return " ".join(numbers.text(value).split())

    forward = [
        [
            f"({step.number})",
            step.node,
            _call(step.op, [o.name for o in step.operands], step.attrs.text()),
            _call(step.op, [text(o.value) for o in step.operands], step.attrs.text()),
            text(step.value),
        ]
        for step in trace.forward
    ]
    backward = []
    for step in trace.backward:
        spec = OPS[step.op]
        for k, term in enumerate(step.terms):
            formula = (
                f"∂{_call(step.op, list(spec.params), step.attrs.text())}/∂{term.param}"
                f" = {term.derivative}"
            )
            product = f"{text(step.dout)} × {text(term.local)}" if term.local is not None else "—"
            running = f"{text(term.total)} ({term.index} of {term.count})" if term.count > 1 else ""
            backward.append(
                [
                    f"({step.number})" if k == 0 else "",
                    step.node if k == 0 else "",
                    text(step.dout) if k == 0 else "",
                    term.name,
                    formula,
                    product,
                    text(term.amount),
                    running,
                ]
            )
    grads = [
        [name, "no gradient (grad: false)" if grad is None else text(grad)]
        for name, grad in trace.input_grads.items()
    ]
    return forward, backward, grads


FORWARD_HEAD = ["step", "node", "computes", "with the numbers", "value"]
BACKWARD_HEAD = [
    "step",
    "node",
    "dout",
    "d x for x =",
    "local derivative",
    "dout × local",
    "adds",
    "running sum",
]


def _heading(trace: Trace) -> tuple[str, str]:
    title = trace.graph + (f" — {trace.description}" if trace.description else "")
    seed = ", fill in the blanks" if has_blanks(trace) else f", from d {trace.target} = 1"
    backward = f"Backward, in reverse order{seed} (d x means d {trace.target}/d x)"
    return title, backward


# --- Markdown -------------------------------------------------------------------------------

MARKDOWN_SPECIALS = "\\`*_[]<>|#~"


def markdown_cell(text: str) -> str:
    """A table cell's text: Markdown and HTML specials escaped, one line (a blank answer,
    ``____``, comes out as a line to write on)."""
    out = printable(text).replace("&", "&amp;")
    for char in MARKDOWN_SPECIALS:
        out = out.replace(char, "\\" + char)
    return out


def _markdown_table(head: Row, rows: list[Row]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def trace_markdown(trace: Trace, numbers: Numbers) -> str:
    forward, backward, grads = _rows(trace, numbers)
    title, back = _heading(trace)
    lines = [f"# {markdown_cell(title)}", "", "## Forward, in dependency order", ""]
    lines += _markdown_table(FORWARD_HEAD, forward)
    lines += ["", f"## {markdown_cell(back)}", ""]
    lines += _markdown_table(BACKWARD_HEAD, backward) if backward else ["No step."]
    lines += ["", f"## Gradients of the inputs, d {markdown_cell(trace.target)}/d input", ""]
    lines += _markdown_table(["input", "gradient"], grads)
    return "\n".join(lines) + "\n"


# --- LaTeX ----------------------------------------------------------------------------------


def latex_cell(text: str) -> str:
    return latex_text(text).replace(latex_text(BLANK_TEXT), BLANK_BOX)


def _latex_table(head: Row, rows: list[Row], columns: str) -> list[str]:
    lines = [
        rf"\begin{{tabular}}{{{columns}}}",
        r"\hline",
        " & ".join(rf"\textbf{{{latex_cell(h)}}}" for h in head) + r" \\",
        r"\hline",
    ]
    lines += [" & ".join(latex_cell(cell) for cell in row) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    return lines


def trace_latex(trace: Trace, numbers: Numbers) -> str:
    """A whole article: three tables in small type; pdflatex compiles it as it is."""
    forward, backward, grads = _rows(trace, numbers)
    title, back = _heading(trace)
    lines = [
        r"\documentclass{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{amssymb}",
        BLANK_MACRO,
        r"\begin{document}",
        r"\small",
        rf"\section*{{{latex_cell(title)}}}",
        r"\subsection*{Forward, in dependency order}",
        *_latex_table(FORWARD_HEAD, forward, "lllll"),
        rf"\subsection*{{{latex_cell(back)}}}",
        *(_latex_table(BACKWARD_HEAD, backward, "llllllll") if backward else ["No step."]),
        rf"\subsection*{{Gradients of the inputs, d {latex_cell(trace.target)}/d input}}",
        *_latex_table(["input", "gradient"], grads, "ll"),
        r"\end{document}",
    ]
    return "\n".join(lines) + "\n"
