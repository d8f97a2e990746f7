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
    # --max-memory: what reading a graph and evaluating it may take, estimated beforehand
    # (docs/errors.md): enough for a laptop of 8 GB alongside other programs.
    max_memory: int = 2 * 2**30


DEFAULT_LIMITS = Limits()

# Rows of a --batch file (or points of a sweep) evaluated at once (--chunk-size): the memory
# an evaluation takes grows with it.
DEFAULT_CHUNK_SIZE = 65536


def show_bytes(size: int, *, up: bool = False) -> str:
    """A size for a message: ``2 GiB``, ``1.5 MiB``, ``900 bytes``; rounded down, or up
    (for a need that passes a limit, so that it never shows as equal to the limit)."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            tenths = -(-size * 10 // scale) if up else size * 10 // scale
            return f"{tenths / 10:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size:,} bytes"
