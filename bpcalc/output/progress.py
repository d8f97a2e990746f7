"""Progress bars on stderr: ``--batch``'s rows per second, and ``check``'s elements done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class BatchProgress:
    """A rich progress bar on stderr with rows per second, when stderr is a terminal and
    stdout is not (on a terminal the rows themselves show the progress).

    Use it as a context manager; ``advance_bytes`` moves the bar (of ``total_bytes``, the
    file's size if known), ``advance_rows`` counts the rows written.
    """

    def __init__(self, total_bytes: int | None) -> None:
        import sys

        self.total = total_bytes
        self.rows = 0
        self._bar: Any = None
        self._task: Any = None
        self._enabled = sys.stderr.isatty() and not sys.stdout.isatty()

    def __enter__(self) -> BatchProgress:
        if not self._enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            redirect_stdout=False,  # rows go to stdout untouched, never through rich
            redirect_stderr=False,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("batch", total=self.total, rows=0, rate="—")
        return self

    def advance_bytes(self, count: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, count)

    def advance_rows(self, count: int) -> None:
        self.rows += count
        if self._bar is not None:
            elapsed = self._bar.tasks[0].elapsed or 0.0
            rate = f"{self.rows / elapsed:,.0f}" if elapsed > 0 else "—"
            self._bar.update(self._task, rows=self.rows, rate=rate)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def with_progress(description: str, total: int, work: Callable[[Callable[[int], None]], T]) -> T:
    """``work(advance)`` under a transient rich bar of ``total`` steps on stderr, which is
    drawn whatever stderr is (the caller decides whether to show one)."""
    import sys

    from rich.console import Console
    from rich.progress import Progress

    console = Console(file=sys.stderr, force_terminal=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        result = work(lambda n: progress.advance(task, n))
    return result
