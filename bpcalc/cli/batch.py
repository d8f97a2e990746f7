"""``run --batch FILE`` and ``grad --batch FILE``: open the rows, evaluate, write one row per row.

The evaluation is bpcalc.analysis.batch's; this module reads the --batch file (or stdin),
writes the rows to stdout as bytes, reports skipped rows and warnings on stderr, and shows the
progress bar (bpcalc.output.progress). ``stream_rows`` also serves ``bpcalc sweep``.

This module is imported only when --batch is given (or by sweep); numpy and rich are imported
inside functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from bpcalc.errors import UsageProblem, printable

if TYPE_CHECKING:
    from bpcalc.analysis.batch import BatchEvaluator
    from bpcalc.cli.options import BatchOptions, GraphOptions, OutputOptions


def run_batch(
    source: GraphOptions,
    batch: BatchOptions,
    output: OutputOptions,
    *,
    wrt: Sequence[str] | None = None,
) -> None:
    """Evaluate the graph once per row of the --batch file and write one row per row."""
    from bpcalc.analysis.batch import BatchEvaluator, check_columns
    from bpcalc.limits import DEFAULT_CHUNK_SIZE
    from bpcalc.output.formats import resolve
    from bpcalc.output.progress import BatchProgress

    click.get_current_context().meta["bpcalc.analysis.batch"] = True  # for the out-of-memory hint
    if batch.file == "-" and source.graph == "-":
        raise UsageProblem("GRAPH and --batch cannot both be '-' (stdin)")
    graph = source.load()
    fmt = resolve(output.fmt)
    assert batch.file is not None
    with _open_rows(batch.file) as (stream, name, size), BatchProgress(size) as progress:
        from bpcalc.loading.rows import RowReader

        reader = RowReader(
            stream,
            name,
            fmt=batch.fmt,
            chunk_size=batch.chunk_size or DEFAULT_CHUNK_SIZE,
            on_bytes=progress.advance_bytes,
        )
        check_columns(graph, reader.columns, name, source.sets)
        evaluator = BatchEvaluator(graph, reader.columns, of=source.of, wrt=wrt)
        evaluator.memory_hint = "; a smaller --chunk-size evaluates fewer rows at once"
        stream_rows(
            reader,
            evaluator,
            fmt=fmt,
            digits=output.digits,
            strict=source.strict,
            skip_bad=batch.skip_bad,
            excel_safe=output.excel_safe,
            progress=progress,
        )


def stream_rows(
    reader: Any,
    evaluator: BatchEvaluator,
    *,
    fmt: str,
    digits: int | None,
    strict: bool,
    skip_bad: bool,
    excel_safe: bool = False,
    progress: Any = None,
) -> None:
    """Read, evaluate and write chunk by chunk; stop at a bad row unless skip_bad.

    ``reader`` gives ``name``, ``columns`` and ``chunks()`` (a RowReader, or sweep's points).
    """
    import sys

    from bpcalc.analysis.batch import ChunkEvaluation
    from bpcalc.output.rows import RowWriter

    name = reader.name
    out = _binary_stdout()
    writer = RowWriter(
        [*reader.columns, *evaluator.output_columns],
        fmt,
        digits=digits,
        out=out,
        excel_safe=excel_safe,
    )
    chunks = ChunkEvaluation(evaluator, name, strict=strict, skip_bad=skip_bad)
    try:
        writer.start()
        for chunk in reader.chunks():
            chunk, skipped = chunks.cut(chunk)
            for bad in skipped:
                sys.stderr.write(f"{name}:{bad.line}: {printable(bad.message)} (row skipped)\n")
            columns = chunks.evaluate(chunk)
            if columns:
                writer.write(columns)
            if progress is not None:
                progress.advance_rows(len(columns[0]) if columns else 0)
            if chunks.stop is not None:
                raise chunks.stop
    except BrokenPipeError:
        _silence_stdout()
        return
    warning = chunks.warning()
    if warning is not None:
        sys.stderr.write(warning + "\n")


# --- input and output ------------------------------------------------------------------------


@contextmanager
def _open_rows(path: str) -> Iterator[tuple[Any, str, int | None]]:
    """The --batch file as a binary stream, its name for messages, and its size if known."""
    import os
    import sys

    from bpcalc.errors import CannotOpen

    if path == "-":
        yield sys.stdin.buffer, "<stdin>", None
        return
    try:
        file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed below)
    except OSError as err:
        reason = "it is a folder" if os.path.isdir(path) else (err.strerror or str(err))
        raise CannotOpen(f"--batch: cannot open '{path}': {reason}") from None
    with file:
        yield file, path, os.fstat(file.fileno()).st_size or None


def _binary_stdout() -> Any:
    import sys

    sys.stdout.flush()
    return getattr(sys.stdout, "buffer", None) or _TextAsBinary(sys.stdout)


class _TextAsBinary:
    """A text stream that takes bytes (for a stdout that has no binary buffer)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()


def _silence_stdout() -> None:
    """After the reader of our stdout went away (``| head``): no error, no more output."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
