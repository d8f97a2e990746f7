"""Analysis: what bpcalc computes from a graph beyond one evaluation.

Gradient checks, traces of the backward pass, drawings as data, export to a script, and batch
and sweep evaluation. Plain data in and out: no click and no rich here (those belong to
``cli`` and ``output``).
"""
