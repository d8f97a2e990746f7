"""The op table written out for ``bpcalc ops``: rich table, TSV/CSV, JSON and docs/ops.md."""

from __future__ import annotations

from typing import Any

from bpcalc.ops.spec import KINDS, OpSpec, attr_text
from bpcalc.ops.table import OPS

COLUMNS = ("op", "class", "inputs", "forward", "local derivatives", "notes")
REGENERATE = "uv run bpcalc ops -o markdown > docs/ops.md"


def print_ops(fmt: str) -> None:
    """``bpcalc ops -o FMT``: json, tsv, csv, markdown, or the table (auto: TSV in a pipe)."""
    from bpcalc.output.formats import resolve, write, write_json, write_rows

    fmt = resolve(fmt)
    if fmt == "json":
        write_json(ops_document())
    elif fmt in ("tsv", "csv"):
        write_rows((op_row(spec) for spec in OPS.values()), fmt, header=COLUMNS)
    elif fmt == "markdown":
        write(ops_markdown())
    else:
        _print_table()


def derivatives_text(spec: OpSpec) -> str:
    """``d/dx = y; d/dy = x``: one local derivative per input."""
    return "; ".join(f"d/d{p} = {d}" for p, d in zip(spec.params, spec.derivatives, strict=True))


def op_row(spec: OpSpec) -> list[str]:
    return [
        spec.name,
        spec.class_name,
        spec.signature(),
        spec.formula,
        derivatives_text(spec),
        spec.notes,
    ]


def ops_document() -> list[dict[str, Any]]:
    """What ``-o json`` writes: every field of every op."""
    return [
        {
            "name": spec.name,
            "class": spec.class_name,
            "inputs": list(spec.params),
            "forward": spec.formula,
            "derivatives": dict(zip(spec.params, spec.derivatives, strict=True)),
            "notes": spec.notes,
            "symbol": spec.symbol or None,
            "exact": spec.exact,
            "exact_class": spec.exact_layer or None,
            "elementwise": spec.elementwise,
            "attributes": [
                {
                    "name": a.name,
                    "type": a.kind,
                    "accepts": KINDS[a.kind],
                    "default": list(a.default) if isinstance(a.default, tuple) else a.default,
                    "help": a.help,
                    "required": a.required,
                }
                for a in spec.attributes
            ],
        }
        for spec in OPS.values()
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def ops_markdown() -> str:
    """docs/ops.md: the table, written from the registry."""
    lines = [
        "# Ops",
        "",
        f"<!-- Generated from bpcalc/ops/table.py by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "Every op a graph can use, as `bpcalc ops` lists it. In an expression, an op is called",
        "by name (`relu(x)`) or written with its operator (`x * y`). Each is a layer class of",
        "`bpcalc.ops.layers` with `forward` and `backward`, in the style of *Deep Learning from",
        "Scratch*, chapter 5. A local derivative is what backward multiplies the upstream",
        "gradient `dout` by (for `matmul` and `affine`, the whole product with `dout`).",
        "",
        "| op | operator | class | inputs | forward | local derivatives | notes | example |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for spec in OPS.values():
        derivatives = "<br>".join(
            f"d/d{p}: `{_cell(d)}`" for p, d in zip(spec.params, spec.derivatives, strict=True)
        )
        cells = [
            f"`{spec.name}`",
            f"`{_cell(spec.symbol)}`" if spec.symbol else "",
            f"`{spec.class_name}`",
            spec.signature(),
            f"`{_cell(spec.formula)}`",
            derivatives,
            _cell(spec.notes),
            f"`{_cell(spec.usage)}`",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    exact = ", ".join(f"`{spec.name}`" for spec in OPS.values() if spec.exact)
    elementwise = ", ".join(f"`{spec.name}`" for spec in OPS.values() if spec.elementwise)
    lines += [
        "",
        f"Exact over the rationals (usable with `--exact`): {exact}.",
        "",
        f"Element-wise (usable with `--batch`): {elementwise}.",
        "",
        "## Attributes",
        "",
        "Constants written as keywords, `sum(M, axis=1)`, or as keys of the explicit form,",
        "`{op: sum, in: [M], axis: 1}` (see docs/graph-format.md).",
        "",
        "| op | attribute | accepts | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in OPS.values():
        for a in spec.attributes:
            cells = [
                spec.name,  # plain, unlike the op table's `op` cells
                f"`{a.name}`",
                KINDS[a.kind],
                "required" if a.required else f"`{attr_text(a.default)}`",
                _cell(a.help),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _print_table() -> None:
    """Six columns when they fit the terminal; else op, class and inputs share a cell. The
    formulas and notes wrap at spaces; too narrow for that, one record per op."""
    from bpcalc.output.formats import print_table, table_fits

    wraps = ("inputs", "forward", "local derivatives", "notes")
    title = "Ops (bpcalc ops -o json for every field)"
    rows = []
    for spec in OPS.values():
        name, layer, params, *rest = op_row(spec)
        rest[1] = rest[1].replace("; ", "\n")
        rows.append([name, layer, params, *rest])
    columns = [(h, "left", "wrap") if h in wraps else (h, "left") for h in COLUMNS]
    if table_fits(columns, rows):
        print_table(title, columns, rows)
        return
    narrow = [(f"{name}({params})\n  {layer}", *rest) for name, layer, params, *rest in rows]
    print_table(title, [("op", "left", "wrap"), *columns[3:]], narrow)
