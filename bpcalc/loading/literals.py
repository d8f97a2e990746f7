"""Numbers as written in a graph: parsed from their text, which is kept for exact arithmetic."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# Decimal numbers as YAML and Python write them, plus the spellings of infinity and NaN.
# ASCII digits only: Python's float() also reads '３' and '١٢٣.٤', a graph file does not.
_NUMBER = re.compile(r"[+-]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?")
# The same shape with any script's decimal digits: a number meant, in the wrong digits.
_OTHER_DIGITS = re.compile(r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?")
_SPECIAL = {
    ".inf": math.inf,
    "+.inf": math.inf,
    "-.inf": -math.inf,
    ".nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "nan": math.nan,
    "infinity": math.inf,  # JSON's Infinity and -Infinity, which Python's json also reads
    "+infinity": math.inf,
    "-infinity": -math.inf,
}


@dataclass(frozen=True)
class Const:
    """A number in the graph: its float64 value and the text it was written as."""

    value: float
    text: str


class NotANumber(ValueError):
    """The text is not a number."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


def parse_number(text: str, *, column: int = 0, error: Any = NotANumber) -> Const:
    """Parse ``text`` as a float64 number, or raise ``error(message, column)``."""
    stripped = text.strip()
    special = _SPECIAL.get(stripped.lower())
    if special is not None:
        return Const(special, stripped)
    if not _NUMBER.fullmatch(stripped):
        shown = stripped if len(stripped) <= 40 else stripped[:37] + "..."
        if _OTHER_DIGITS.fullmatch(stripped):
            raise error(f"number '{shown}' has digits other than 0-9; write it with 0-9", column)
        raise error(f"expected a number, got '{shown}'", column)
    try:
        value = float(stripped.replace("_", ""))
    except ValueError:
        raise error(f"expected a number, got '{stripped[:40]}'", column) from None
    if math.isinf(value):
        raise error(f"number '{stripped[:40]}' is too large for float64", column)
    return Const(value, stripped.replace("_", ""))


def is_number_text(text: str) -> bool:
    """Whether ``text`` is meant as a number: also in non-ASCII digits, which parse_number
    then refuses with a message saying so."""
    stripped = text.strip()
    return bool(_OTHER_DIGITS.fullmatch(stripped)) or stripped.lower() in _SPECIAL
