"""The command line: the click group (``group``), the command table (``commands``), the
options commands share (``options``), and one module per command, imported only when used.

Only this package imports click; it turns library errors into messages and exit codes. A
command parses its options, calls the loading and analysis stages, hands the result to one
function of bpcalc.output, and sets the exit code: it builds no table, document or chart itself.
"""

from bpcalc.cli.group import cli, main

__all__ = ["cli", "main"]
