"""``draw -o svg`` and ``draw -o tikz`` without Graphviz: the built-in figure writers, with
the totals of fanned-out values from the evaluation and the worksheet's blanks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpcalc.analysis.blanks import Blanks
    from bpcalc.analysis.drawing import Drawing
    from bpcalc.engine.evaluation import Evaluation


def write_figure(
    drawing: Drawing,
    evaluation: Evaluation,
    blanks: Blanks,
    *,
    fmt: str,
    digits: int | None,
    standalone: bool = False,
) -> None:
    from bpcalc.analysis.blanks import blank_drawing, blank_grads
    from bpcalc.output.formats import write

    drawing = blank_drawing(drawing, blanks)
    grads = blank_grads(evaluation.grads, blanks)
    if fmt == "svg":
        from bpcalc.output.svg_drawing import to_svg

        write(to_svg(drawing, digits=digits, grads=grads))
    else:
        from bpcalc.output.tikz_drawing import to_tikz

        write(to_tikz(drawing, digits=digits, grads=grads, standalone=standalone))
