"""Small facts about the running process that every stage uses."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from fractions import Fraction

    import numpy as np


# A pause that leaves more new objects than this ends by promoting them (see gc_paused).
PROMOTE_AFTER = 100_000
# A pause starts by collecting the young generation when it holds fewer objects than this
# (always in a library user's process, where it holds at most 700: a fraction of a
# microsecond); the bpcalc command, which collects every 100,000 new objects, may skip it.
SWEEP_BELOW = 10_000


@contextmanager
def gc_paused() -> Iterator[None]:
    """Loading and evaluating build many objects and no cycles: the cyclic collector, which
    would traverse them all again and again, only slows them down (a third of the time).

    The library pauses it inside its own calls only. A command that loads, evaluates and
    writes once pauses it for all of that, and drops the graph before the end of the pause:
    reference counting frees it then, and the collector, back on, finds little to traverse.
    Commands that loop (--batch, sweep, train) leave it on between their calls.

    A pause that leaves many new objects (a loaded graph, a compiled plan: long-lived) ends
    by moving every tracked object to the oldest generation, where only a full collection
    looks: back on, the collector would otherwise traverse them all at its next young
    collection and again at the next middle one, only to find them alive (0.2-0.5 s for a
    100,000-node graph). The caller's young objects would move too, and a cycle among them
    wait for the next full collection (in a loop, memory without bound): so a pause begins by
    collecting them, when they are few (see SWEEP_BELOW). The move is not made when the
    program has frozen objects of its own (gc.freeze()), which it would unfreeze."""
    enabled = gc.isenabled()
    if enabled and gc.get_count()[0] < SWEEP_BELOW:
        gc.collect(0)  # the caller's young objects, before a long pause could promote them
    gc.disable()
    young = gc.get_count()[0]
    try:
        yield
    finally:
        if enabled:
            left = gc.get_count()[0] - young  # new objects the pause leaves alive
            if left > PROMOTE_AFTER and not gc.get_freeze_count():
                gc.freeze()  # every tracked object to the permanent generation,
                gc.unfreeze()  # and from there to the oldest one
            gc.enable()


def is_fraction(x: Any) -> TypeGuard[Fraction]:
    """Whether ``x`` is a ``Fraction``, without importing fractions (and decimal) at start-up:
    no Fraction exists until something has imported the module."""
    fractions = sys.modules.get("fractions")
    return fractions is not None and isinstance(x, fractions.Fraction)


def is_array(x: Any) -> TypeGuard[np.ndarray]:
    """Whether ``x`` is a numpy array, without importing numpy: no array exists until
    something has imported it, so a scalar graph never does."""
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(x, numpy.ndarray)


def numpy_quiet() -> AbstractContextManager[object]:
    """numpy's ``errstate(all="ignore")`` (inf and nan as results, without a RuntimeWarning)
    when numpy is imported; nothing otherwise, since then every value is a float (the layers
    silence the numpy they call for a float themselves)."""
    numpy = sys.modules.get("numpy")
    return nullcontext() if numpy is None else numpy.errstate(all="ignore")


class LazyModule:
    """Stands in a module's globals for a module imported on first use: the first attribute
    read imports it and puts the real module in its place, so later reads cost nothing.

    ``np = LazyModule("numpy", globals(), "np")`` at the top of a module keeps ``np.exp``
    in its functions as written, while a process that never reaches one never imports numpy.
    """

    def __init__(self, module: str, namespace: dict[str, Any], name: str) -> None:
        self._module = module
        self._namespace = namespace
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module: ModuleType = importlib.import_module(self._module)
        self._namespace[self._name] = module
        return getattr(module, attribute)
