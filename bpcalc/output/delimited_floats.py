"""CSV or TSV lines of float64 rows, every number as ``repr`` writes it, formatted in C.

orjson writes a whole float64 matrix as JSON with a shortest round-trip formatter: the digits
are repr's, and so is the text except for NaN and infinities (``null``) and numbers below 1e-4
in size (``0.00001`` and ``1e-7`` where repr writes ``1e-05`` and ``1e-07``). The matrix
``[[a,b],[c,d]]`` becomes the lines ``a,b`` and ``c,d``; rows that hold one of those numbers
are written by the caller's fallback instead. tests/test_batch.py compares the text with repr.

orjson is imported only here, on the ``--batch`` path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Floats = NDArray[np.float64]

# Nonzero numbers below this are written by the fallback, with those orjson writes as null.
# It is where repr turns to scientific notation: float(1e-4) is just above 10**-4, so every
# float64 below it has a shortest decimal below 10**-4, and no other has.
_SMALLEST_LIKE_REPR = 1e-4


def delimited_lines(matrix: Floats, separator: bytes, fallback: Callable[[Floats], bytes]) -> bytes:
    """One line per row of ``matrix`` (rows x columns), cells joined by ``separator``, each
    line ending in LF. ``fallback(rows)`` must give the lines of the rows it is passed, in the
    same layout; it is called once, for the rows orjson would not write as repr does."""
    import numpy as np
    import orjson

    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    if not matrix.size:
        return b""
    text = orjson.dumps(matrix, option=orjson.OPT_SERIALIZE_NUMPY)[2:-2].replace(b"],[", b"\n")
    if separator != b",":
        text = text.replace(b",", separator)  # no number is written with a comma
    size = np.abs(matrix)
    unlike_repr = ~np.isfinite(matrix) | ((size < _SMALLEST_LIKE_REPR) & (size != 0))
    redo = np.flatnonzero(unlike_repr.any(axis=1))
    if not redo.size:
        return text + b"\n"
    lines = text.split(b"\n")
    for i, line in zip(redo.tolist(), fallback(matrix[redo]).splitlines(), strict=True):
        lines[i] = line
    return b"\n".join(lines) + b"\n"
