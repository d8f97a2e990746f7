"""What ``run``, ``grad`` and ``examples`` print, in every output format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bpcalc.errors import UsageProblem, did_you_mean
from bpcalc.output.formats import (
    print_table,
    resolve,
    shape_text,
    table_cell,
    table_limit,
    write,
    write_json,
    write_rows,
)
from bpcalc.output.numbers import json_value, json_values, value_text, value_texts

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph


def print_run(
    graph: Graph,
    evaluation: Evaluation,
    *,
    fmt: str,
    digits: int | None,
    excel_safe: bool = False,
) -> None:
    fmt = resolve(fmt)
    names = list(evaluation.values)
    if fmt == "json":
        write_json(
            {
                "graph": evaluation.graph,
                "output": evaluation.output,
                "values": json_values(evaluation.values, names, digits),
                "grads": json_values(evaluation.grads, names, digits),
            }
        )
    elif fmt in ("tsv", "csv"):
        values = value_texts(evaluation.values, names, digits)
        grads = value_texts(evaluation.grads, names, digits)
        lines = zip(names, values, grads, strict=True)
        write_rows(lines, fmt, header=("name", "value", "grad"), excel_safe=excel_safe)
    else:
        ops = {node.name: node.op for node in graph.nodes}
        tensors = any(shape_text(v) != "scalar" for v in evaluation.values.values())
        columns = [("name", "left"), ("op", "left")]
        columns += [("shape", "left")] if tensors else []
        justify = "left" if tensors else "right"
        columns += [("value", justify), (f"d {evaluation.output} / d name", justify)]

        def rows(width: int) -> list[list[str]]:
            laid_out = []
            for n in names:
                value = evaluation.values[n]
                row = [n, ops.get(n, "input")]
                row += [shape_text(value)] if tensors else []
                row += [
                    table_cell(value, digits, width),
                    table_cell(evaluation.grads[n], digits, width),
                ]
                laid_out.append(row)
            return laid_out

        fixed = [
            max(map(_width, names), default=0),
            max(map(len, ops.values()), default=5),
            *([max(len(shape_text(v)) for v in evaluation.values.values())] if tensors else []),
        ]
        width = _tensor_width(len(columns), fixed, 2)
        title = graph.name + (f" — {graph.description}" if graph.description else "")
        value = evaluation.values[evaluation.output]
        print_table(
            title,
            columns,
            rows(width),
            caption=f"{evaluation.output} = {table_cell(value, digits, width)}",
            records=rows,
        )


# A tensor cell in a table gets this many columns in a pipe, at least MIN on a terminal.
PIPE_TENSOR_WIDTH = 72
MIN_TENSOR_WIDTH = 24


def _tensor_width(count: int, fixed: Sequence[int], tensors: int) -> int:
    """Columns for each of ``tensors`` tensor cells beside ``fixed`` columns of these widths,
    for the table to fit the terminal (numpy lays tensors out in them, whole numbers only)."""
    limit = table_limit()
    if limit is None:
        return PIPE_TENSOR_WIDTH
    left = limit - sum(fixed) - 3 * count - 1
    return min(PIPE_TENSOR_WIDTH, max(MIN_TENSOR_WIDTH, left // tensors))


def _width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def print_grad(
    evaluation: Evaluation,
    wrt: Sequence[str],
    *,
    fmt: str,
    digits: int | None,
    excel_safe: bool = False,
) -> None:
    fmt = resolve(fmt, plain="lines")
    if fmt == "lines":
        write("".join(value_text(evaluation.grads[n], digits) + "\n" for n in wrt))
    elif fmt == "json":
        write_json({n: json_value(evaluation.grads[n], digits) for n in wrt})
    elif fmt in ("tsv", "csv"):
        write_rows(
            ([n, value_text(evaluation.grads[n], digits)] for n in wrt),
            fmt,
            header=("name", "grad"),
            excel_safe=excel_safe,
        )
    else:
        columns = [("name", "left"), ("value", "right"), ("gradient", "right")]
        fixed = [max(map(_width, wrt), default=0)]

        def rows(width: int) -> list[list[str]]:
            return [
                [
                    n,
                    table_cell(evaluation.values[n], digits, width),
                    table_cell(evaluation.grads[n], digits, width),
                ]
                for n in wrt
            ]

        print_table(
            f"d {evaluation.output} / d name",
            columns,
            rows(_tensor_width(len(columns), fixed, 2)),
            records=rows,
        )


def print_examples(name: str | None, *, fmt: str) -> None:
    from bpcalc.loading.build import load
    from bpcalc.loading.find import example_paths

    paths = example_paths()
    if name is not None:
        if name not in paths:
            raise UsageProblem(f"no example named '{name}'{did_you_mean(name, paths)}")
        write(paths[name].read_text(encoding="utf-8"))
        return
    described = [(stem, load(path).description) for stem, path in paths.items()]
    fmt = resolve(fmt)
    if fmt == "json":
        write_json([{"name": n, "description": d} for n, d in described])
    elif fmt == "tsv":
        write_rows(([n, d] for n, d in described), "tsv", header=None)
    else:
        print_table(
            "Bundled examples (bpcalc run NAME)",
            [("name", "left"), ("description", "left", "wrap")],
            [[n, d] for n, d in described],
        )
