"""Output: how results are written, for people (rich tables, charts, drawings) and for
programs (TSV, CSV, JSON, JSON Lines, bare numbers), and how numbers are formatted.
"""
