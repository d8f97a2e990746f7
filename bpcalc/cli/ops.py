"""``bpcalc ops``: every op with its forward formula and local derivatives, from the registry."""

from __future__ import annotations

from bpcalc.cli.commands import command
from bpcalc.cli.options import format_option


@command("ops")
@format_option(
    ["auto", "table", "tsv", "csv", "json", "markdown"],
    "Output format; auto is a table on a terminal, TSV in a pipe.",
)
def ops(fmt: str) -> None:
    """List every op a graph can use: class, inputs, forward formula, local derivatives.

    Generated from bpcalc's op registry, the same table the engine runs on, so it is
    always complete. docs/ops.md is its markdown output.

    \b
    Example:
        bpcalc ops
        bpcalc ops -o json | jq '.[] | select(.name == "relu")'
    """
    from bpcalc.output.ops_table import print_ops

    print_ops(fmt)


if __name__ == "__main__":
    # `python -m bpcalc.cli.ops -o markdown > docs/ops.md` works as well as `bpcalc ops`.
    ops()
