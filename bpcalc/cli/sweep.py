"""``bpcalc sweep``: evaluate a graph over a range (or a grid) of input values."""

from __future__ import annotations

from typing import Any

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import (
    GraphOptions,
    canonical_names,
    digits_option,
    excel_safe_option,
    format_option,
    graph_options,
)


@command("sweep")
@graph_options
@click.argument("specs", nargs=-1, metavar="NAME=START:STOP:COUNT[:log]...")
@format_option(
    ["auto", "table", "tsv", "csv", "json", "svg"],
    "Output format; auto is a table and a chart on a terminal, TSV in a pipe; "
    "svg is the chart as an SVG document.",
)
@digits_option(
    "Significant digits to show (default: all digits in machine formats, 12 in tables).",
)
@click.option(
    "--wrt",
    "wrt",
    multiple=True,
    metavar="NAME",
    callback=canonical_names,
    help="Report d(output)/d(NAME) for this input or node (default: the swept inputs). Repeatable.",
)
@click.option("--no-chart", is_flag=True, help="On a terminal, print the table without the chart.")
@excel_safe_option
def sweep(
    source: GraphOptions,
    specs: tuple[str, ...],
    fmt: str,
    digits: int | None,
    wrt: tuple[str, ...],
    no_chart: bool,
    excel_safe: bool,
) -> None:
    """Evaluate the output and its gradients over evenly spaced values of an input.

    NAME=START:STOP:COUNT takes COUNT values from START to STOP (add :log for a log scale);
    two specs take every pair of values (a grid). Prints the swept inputs, the output and
    d_NAME for each swept input (or each --wrt NAME), one row per point. On a terminal a
    chart follows, and the table marks points where a value is not finite or d_NAME of a
    swept input changes sign.

    \b
    Example:
        bpcalc sweep apple_orange tax=1:1.2:5
        bpcalc sweep apple_orange apple=50:150:3 tax=1:1.2:3 -o csv
        bpcalc sweep tanh_neuron b=-10:10:201 -o svg > sweep.svg
    """
    from bpcalc.analysis.sweep import looks_like_spec, parse_spec

    click.get_current_context().meta["bpcalc.debug"] = source.debug
    words = list(specs)
    if source.graph is not None and looks_like_spec(source.graph):
        from dataclasses import replace

        words.insert(0, source.graph)
        source = replace(source, graph=None)
    parsed = [parse_spec(word) for word in words]
    _sweep(source, parsed, fmt, digits, wrt, no_chart=no_chart, excel_safe=excel_safe)


def _sweep(
    source: GraphOptions,
    specs: list[Any],
    fmt: str,
    digits: int | None,
    wrt: tuple[str, ...],
    *,
    no_chart: bool,
    excel_safe: bool,
) -> None:
    from bpcalc.analysis.batch import BatchEvaluator
    from bpcalc.analysis.sweep import SweepRows, check_specs, evaluate_all, grid
    from bpcalc.cli.batch import stream_rows
    from bpcalc.limits import DEFAULT_CHUNK_SIZE
    from bpcalc.output.formats import resolve
    from bpcalc.output.sweep_report import print_sweep

    graph = source.load()
    check_specs(graph, specs, source.sets, source.limits.max_elements)
    names = [spec.name for spec in specs]
    chosen = list(wrt) or [name for name in names if graph.inputs[name].grad]
    evaluator = BatchEvaluator(graph, names, of=source.of, wrt=chosen)
    fmt = resolve(fmt)
    if fmt in ("tsv", "csv", "json"):
        rows = SweepRows(grid(specs), names, DEFAULT_CHUNK_SIZE)
        stream_rows(
            rows,
            evaluator,
            fmt=fmt,
            digits=digits,
            strict=source.strict,
            skip_bad=False,
            excel_safe=excel_safe,
        )
        return
    result = evaluate_all(specs, evaluator, DEFAULT_CHUNK_SIZE)
    if source.strict:
        _check_strict(result)
    print_sweep(result, graph_name=graph.name, fmt=fmt, digits=digits, chart=not no_chart)


def _check_strict(result: Any) -> None:
    import numpy as np

    from bpcalc.loading.rows import RowError

    for name, values in zip(result.names, result.results, strict=True):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            value = float(values[i])
            raise RowError("sweep", i + 1, f"{name} = {value!r} is not finite (--strict)")
