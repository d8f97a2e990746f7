"""Small facts about the running process that every stage uses."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from fractions import Fraction


@contextmanager
def gc_paused() -> Iterator[None]:
    """Loading and evaluating build many objects and no cycles: the cyclic collector, which
    would traverse them all again and again, only slows them down (a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def is_fraction(x: Any) -> TypeGuard[Fraction]:
    """Whether ``x`` is a ``Fraction``, without importing fractions (and decimal) at start-up:
    no Fraction exists until something has imported the module."""
    fractions = sys.modules.get("fractions")
    return fractions is not None and isinstance(x, fractions.Fraction)
