"""What a Jupyter notebook shows for an Evaluation or a Graph (their ``_repr_html_`` and
``_repr_svg_``): the book's figure in bpcalc's own SVG (no Graphviz), and for an evaluation a
table of every value and gradient. Everything in the HTML is escaped."""

from __future__ import annotations

import html
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from bpcalc.errors import printable

if TYPE_CHECKING:
    from bpcalc.analysis.drawing import Drawing
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph

MAX_TABLE_ROWS = 500


def evaluation_drawing(evaluation: Evaluation) -> Drawing | None:
    """The drawing of an evaluation, traced again when it was made without ``trace=True``."""
    from bpcalc.analysis.drawing import build_drawing
    from bpcalc.analysis.trace import build_trace

    graph = evaluation.source
    if graph is None:
        return None
    if evaluation.contributions is None:
        exact = any(isinstance(v, Fraction) for v in evaluation.values.values())
        evaluation = graph.evaluate(of=evaluation.output, trace=True, exact=exact)
    return build_drawing(graph, evaluation, build_trace(graph, evaluation))


def evaluation_svg(evaluation: Evaluation) -> str:
    from bpcalc.output.svg_drawing import to_svg

    drawing = evaluation_drawing(evaluation)
    if drawing is None:
        return _svg_note("no graph to draw: this evaluation was made by hand")
    return _inline(to_svg(drawing, grads=evaluation.grads))


def evaluation_html(evaluation: Evaluation) -> str:
    from bpcalc.output.trace_text import Numbers

    numbers = Numbers.for_people(None, False)
    ops = {}
    if evaluation.source is not None:
        ops = {node.name: node.op for node in evaluation.source.nodes}
    rows = []
    for k, (name, value) in enumerate(evaluation.values.items()):
        if k == MAX_TABLE_ROWS:
            rows.append(f'<tr><td colspan="4">… {len(evaluation.values) - k} more</td></tr>')
            break
        grad = evaluation.grads.get(name)
        cells = [
            name,
            ops.get(name, "input"),
            numbers.text(value),
            "no gradient" if grad is None else numbers.text(grad),
        ]
        rows.append(
            "<tr>"
            + "".join(f"<td><pre style='margin:0'>{_h(c)}</pre></td>" for c in cells)
            + "</tr>"
        )
    target = _h(evaluation.output)
    table = (
        '<table class="bpcalc-values">'
        f"<thead><tr><th>name</th><th>op</th><th>value</th><th>d {target}/d name</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return f'<div class="bpcalc">{evaluation_svg(evaluation)}{table}</div>'


def graph_drawing(graph: Graph) -> Drawing:
    """The graph's vertices and edges with no numbers (nothing is evaluated)."""
    from bpcalc.analysis.drawing import Drawing, Edge
    from bpcalc.loading.literals import Const

    title = graph.name + (f" — {graph.description}" if graph.description else "")
    drawing = Drawing(graph.name, title, graph.output)
    ids = {name: drawing.add(name, "input", name) for name in graph.inputs}
    for node in graph.nodes:
        ids[node.name] = drawing.add(node.name, "op", node.name, node.op, node.attrs.text())
    used: set[str] = set()
    for node in graph.nodes:
        for arg in node.args:
            if isinstance(arg, Const):
                source = drawing.add(f"{arg.text} → {node.name}", "constant", arg.text)
            else:
                used.add(arg)
                source = ids[arg]
            drawing.edges.append(Edge(source, ids[node.name], 0.0, None))
    for node in graph.nodes:
        if node.name not in used:
            result = drawing.add(f"{node.name} →", "result", node.name)
            drawing.edges.append(Edge(ids[node.name], result, 0.0, None))
    return drawing


def graph_svg(graph: Graph) -> str:
    from bpcalc.output.svg_drawing import to_svg

    return _inline(to_svg(graph_drawing(graph), numbers=False))


def graph_html(graph: Graph) -> str:
    return f'<div class="bpcalc">{graph_svg(graph)}</div>'


def _inline(svg: str) -> str:
    """The SVG without its XML declaration, to sit inside HTML."""
    return svg.split("\n", 1)[1] if svg.startswith("<?xml") else svg


def _svg_note(text: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="30">'
        f'<text x="5" y="20" font-size="12">{_h(text)}</text></svg>'
    )


def _h(text: Any) -> str:
    return html.escape(printable(str(text)), quote=True)
