"""``python -m bpcalc``."""

from bpcalc.entry import main

main()
