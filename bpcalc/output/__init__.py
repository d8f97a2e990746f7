"""Output: how results are written, for people (rich tables, charts, drawings) and for
programs (TSV, CSV, JSON, JSON Lines, bare numbers), and how numbers are formatted.

What each command prints is here: ``reports`` (run, grad, examples), ``check_report``,
``sweep_report``, ``draw_report``, ``trace_text``, ``ops_table``, ``rows`` (--batch rows) and
``progress`` (the progress bars); the command modules in bpcalc.cli only call them.
"""
