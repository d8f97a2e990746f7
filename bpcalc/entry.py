"""Where the ``bpcalc`` console script and ``python -m bpcalc`` start.

Ctrl-C handling is installed here, before click, PyYAML or numpy are imported, so an early
Ctrl-C exits 130 quietly too instead of printing a traceback from the middle of an import.
"""

from __future__ import annotations

import signal
from types import FrameType

INTERRUPTED = 130  # bpcalc.errors.ExitStatus.INTERRUPTED, without importing it first


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if ignored
        signal.signal(signal.SIGINT, _interrupted)
    from bpcalc.cli import main as run

    run()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: exit 130 at once. (A KeyboardInterrupt while click parses the command line
    would make click print 'Aborted!' and exit 1.)"""
    raise SystemExit(INTERRUPTED)
