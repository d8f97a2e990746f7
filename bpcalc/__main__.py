"""``python -m bpcalc``."""

from bpcalc.cli import main

main()
