"""The command line: the click group (``group``), the command table (``commands``), the
options commands share (``options``), and one module per command, imported only when used.

Only this package imports click; it turns library errors into messages and exit codes.
"""

from bpcalc.cli.group import cli, main

__all__ = ["cli", "main"]
