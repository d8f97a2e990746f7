"""Commands beyond run and grad, one module each, loaded lazily by bpcalc.cli."""
