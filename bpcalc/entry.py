"""Where the ``bpcalc`` console script and ``python -m bpcalc`` start.

Ctrl-C handling is installed here, before click, PyYAML or numpy are imported, so an early
Ctrl-C exits 130 quietly too instead of printing a traceback from the middle of an import.
"""

from __future__ import annotations

import gc
import signal
from types import FrameType

INTERRUPTED = 130  # bpcalc.errors.ExitStatus.INTERRUPTED, without importing it first


# Young collections of the cyclic collector in a bpcalc process: one per this many new
# objects (Python's default is 700). Importing click, PyYAML and numpy makes hundreds of
# thousands of objects and no garbage; a command that loops (train, sweep, --batch) is still
# collected, a little less often.
YOUNG_COLLECTION_EVERY = 100_000


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if ignored
        signal.signal(signal.SIGINT, _interrupted)
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
    from bpcalc.cli import main as run

    try:
        run()
    finally:
        # The process ends: the collection Python makes as it exits would traverse every
        # object still alive (the modules) to free nothing; frozen, they are left alone.
        gc.freeze()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: exit 130 at once. (A KeyboardInterrupt while click parses the command line
    would make click print 'Aborted!' and exit 1.)"""
    raise SystemExit(INTERRUPTED)
