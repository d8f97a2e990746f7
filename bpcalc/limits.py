"""Bounds that keep a hostile or mistaken graph file from eating the machine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Checked before the work they bound; each has a command-line override (docs/errors.md)."""

    max_file_bytes: int = 32 * 2**20  # --max-file-size
    max_nodes: int = 1_000_000  # --max-nodes, counting inputs and expression sub-nodes
    max_expression_length: int = 10_000  # --max-expression-length, in characters
    max_elements: int = 20_000_000  # --max-elements, per tensor (160 MB of float64)


DEFAULT_LIMITS = Limits()
