"""Ops: everything bpcalc knows about each op, in one table.

``spec`` defines ``OpSpec`` (parameters, attributes, formulas, shape rule, flags); ``table``
holds one entry per op; ``layers`` has the float64 layers in the book's style, ``exact`` the
rational ones for ``--exact``, ``shapes`` the result-shape rules used before evaluating,
``protocol`` the typing.Protocol every layer satisfies (checked by mypy).
"""
