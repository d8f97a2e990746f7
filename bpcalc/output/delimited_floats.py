"""CSV or TSV lines of float64 rows, every number as ``repr`` writes it, formatted in C.

orjson writes a whole float64 matrix as JSON with a shortest round-trip formatter, and in
fixed notation, where repr uses it too (1e-4 <= |x| < 1e16, and zeros), its text is repr's:
the same shortest digits, ``.0`` after a whole number. The matrix ``[[a,b],[c,d]]`` becomes
the lines ``a,b`` and ``c,d``. Rows holding any other number (NaN and infinities, which orjson
writes as ``null``, and the numbers repr writes in scientific notation, where orjson's
exponents and thresholds differ: ``1e-7`` for ``1e-07``) are written by the caller's
fallback instead. tests/test_batch.py compares the text with repr.

orjson is imported only here, on the ``--batch`` path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Floats = NDArray[np.float64]

# repr's fixed notation: float(1e-4) is just above 10**-4 and float(1e16) is 10**16, so a
# float64 has a shortest decimal in [10**-4, 10**16) exactly when it is in this range.
_FIXED_NOTATION = (1e-4, 1e16)


def delimited_lines(matrix: Floats, separator: bytes, fallback: Callable[[Floats], bytes]) -> bytes:
    """One line per row of ``matrix`` (rows x columns), cells joined by ``separator``, each
    line ending in LF. ``fallback(rows)`` must give the lines of the rows it is passed, in the
    same layout; it is called once, for the rows with a number outside fixed notation."""
    import numpy as np
    import orjson

    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    if not matrix.size:
        return b""
    text = orjson.dumps(matrix, option=orjson.OPT_SERIALIZE_NUMPY)[2:-2].replace(b"],[", b"\n")
    if separator != b",":
        text = text.replace(b",", separator)  # no number is written with a comma
    size = np.abs(matrix)
    low, high = _FIXED_NOTATION
    fixed = ((size >= low) & (size < high)) | (size == 0)  # False for NaN
    redo = np.flatnonzero(~fixed.all(axis=1))
    if not redo.size:
        return text + b"\n"
    lines = text.split(b"\n")
    for i, line in zip(redo.tolist(), fallback(matrix[redo]).splitlines(), strict=True):
        lines[i] = line
    return b"\n".join(lines) + b"\n"
