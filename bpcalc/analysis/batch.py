"""``run --batch FILE`` and ``grad --batch FILE``: one graph, many rows of input values.

Every row of a chunk is evaluated at once: each input with a column becomes a float64 vector
and the graph runs forward and backward once per chunk, so a row costs numpy's time, not
Python's. That is exact only for graphs whose ops work element by element; ops that mix rows
(sum, mean, matmul, affine, softmax_with_loss) and tensor inputs are refused. Rows are read,
evaluated and written chunk by chunk, so memory stays flat however long the file is.

This module is imported by the CLI at start-up: numpy and rich are imported inside functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bpcalc.cli.options import DEFAULT_CHUNK_SIZE
from bpcalc.errors import UsageProblem, printable
from bpcalc.ops.table import ELEMENTWISE_OPS

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bpcalc.loading.graph import Graph
    from bpcalc.loading.rows import Chunk, RowError

F = TypeVar("F", bound=Callable[..., Any])

# ELEMENTWISE_OPS (from the op table): ops whose row i of the result depends on row i of their
# inputs only, as OpSpec.elementwise says.


# --- evaluation ------------------------------------------------------------------------------


class BatchEvaluator:
    """Evaluates a graph for many rows at once: the output and chosen gradients per row."""

    memory_hint = ""  # ends the message when a chunk's values would pass --max-memory

    def __init__(
        self, graph: Graph, columns: Sequence[str], *, of: str | None, wrt: Sequence[str] | None
    ) -> None:
        from bpcalc.loading.schema import canonical_name

        _check_elementwise(graph)
        self.graph = graph
        self.columns = [canonical_name(column) for column in columns]  # as names are read
        self.target = graph.output if of is None else of
        if self.target not in graph.names:
            raise UsageProblem(f"--of: {graph.unknown_name_message(self.target)}")
        if wrt is None:
            self.wrt = [name for name, value in graph.inputs.items() if value.grad]
        else:
            self.wrt = list(dict.fromkeys(wrt))
            for name in self.wrt:
                if name not in graph.names:
                    raise UsageProblem(f"--wrt: {graph.unknown_name_message(name)}")
                if name in graph.inputs and not graph.inputs[name].grad:
                    raise UsageProblem(
                        f"--wrt: input '{name}' has 'grad: false', so it has no gradient"
                    )

    @property
    def output_columns(self) -> list[str]:
        """Names of what evaluate() returns, in order."""
        return [self.target, *(f"d_{name}" for name in self.wrt)]

    def evaluate(self, data: NDArray[np.float64]) -> list[NDArray[np.float64]]:
        """The output and d(output)/d(name) for each --wrt name, one float64 per row of data."""
        import numpy as np

        from bpcalc.loading.inputs import InputValue

        rows = data.shape[0]
        position = {name: j for j, name in enumerate(self.columns)}
        wanted = set(self.wrt)
        inputs = {}
        for name, value in self.graph.inputs.items():
            if name in position:
                column = np.ascontiguousarray(data[:, position[name]])
                inputs[name] = InputValue(column, grad=name in wanted)
            elif name in wanted:
                # A gradient is needed per row: a broadcast scalar would get it summed over
                # the rows, so give the input one (equal) value per row.
                inputs[name] = InputValue(np.full(rows, float(value.value)), grad=True)
            else:
                inputs[name] = InputValue(value.value, grad=False)
        evaluation = self.graph.with_inputs(inputs).evaluate(
            of=self.target, memory_hint=self.memory_hint
        )
        results = [evaluation.values[self.target]]
        results += [evaluation.grads[name] for name in self.wrt]
        return [
            np.ascontiguousarray(np.broadcast_to(np.asarray(r, dtype=np.float64), (rows,)))
            for r in results
        ]


def _check_elementwise(graph: Graph) -> None:
    for name, value in graph.inputs.items():
        if not isinstance(value.value, float):
            shape = "×".join(map(str, value.value.shape))
            raise UsageProblem(
                f"--batch works on graphs of scalar inputs, one value per row; input "
                f"'{name}' is a tensor of shape {shape}"
            )
    for node in graph.nodes:
        if node.op not in ELEMENTWISE_OPS:
            raise UsageProblem(
                f"--batch evaluates graphs of element-wise ops only; node '{node.name}' uses "
                f"'{node.op}', which would mix rows (element-wise: "
                f"{', '.join(sorted(ELEMENTWISE_OPS))})"
            )


# --- the command -----------------------------------------------------------------------------


@dataclass
class _NonFinite:
    """Rows whose output or gradient is NaN or infinite: how many, and the first one."""

    count: int = 0
    first_line: int = 0
    what: str = ""


def run_batch(params: dict[str, Any], *, wrt: Sequence[str] | None = None) -> None:
    """Evaluate the graph once per row of the --batch file and write one row per row."""
    from bpcalc.cli.options import limits_from, load_graph
    from bpcalc.output.formats import resolve

    click.get_current_context().meta["bpcalc.debug"] = params["debug"]
    click.get_current_context().meta["bpcalc.analysis.batch"] = True  # for the out-of-memory hint
    if params["batch"] == "-" and params["graph"] == "-":
        raise UsageProblem("GRAPH and --batch cannot both be '-' (stdin)")
    graph = load_graph(
        params["graph"],
        params["sets"],
        limits_from(params),
        params["allow_outside_files"],
        params.get("base_dir"),
    )
    fmt = resolve(params["fmt"])
    with _open_rows(params["batch"]) as (stream, name, size), _Progress(size) as progress:
        from bpcalc.loading.rows import RowReader

        reader = RowReader(
            stream,
            name,
            fmt=params["batch_format"],
            chunk_size=params["chunk_size"] or DEFAULT_CHUNK_SIZE,
            on_bytes=progress.advance_bytes,
        )
        check_columns(graph, reader.columns, name, params["sets"])
        evaluator = BatchEvaluator(graph, reader.columns, of=params["of"], wrt=wrt)
        evaluator.memory_hint = "; a smaller --chunk-size evaluates fewer rows at once"
        stream_rows(
            reader,
            evaluator,
            fmt=fmt,
            digits=params["digits"],
            strict=params["strict"],
            skip_bad=params["skip_bad"],
            progress=progress,
        )


def check_columns(graph: Graph, columns: Sequence[str], file: str, sets: Sequence[str]) -> None:
    """Every column names an input, once, and no input has both a column and a --set."""
    from bpcalc.loading.rows import ColumnError
    from bpcalc.loading.schema import canonical_name

    columns = [canonical_name(column) for column in columns]  # as names in graph files are
    problems = []
    for name in dict.fromkeys(columns):
        if name not in graph.inputs:
            problems.append(
                f"column '{name}': {graph.unknown_name_message(name, inputs_only=True)}"
            )
    if problems:
        raise ColumnError(file, 1, "; ".join(problems))
    seen = set()
    for name in columns:
        if name in seen:
            raise ColumnError(file, 1, f"column '{name}' appears twice")
        seen.add(name)
    for item in sets:
        name = canonical_name(item.partition("=")[0].strip())
        if name in seen:
            raise UsageProblem(f"--set {name}: '{name}' is also a column of {file}; drop one")


def stream_rows(
    reader: Any,
    evaluator: BatchEvaluator,
    *,
    fmt: str,
    digits: int | None,
    strict: bool,
    skip_bad: bool,
    progress: Any = None,
) -> None:
    """Read, evaluate and write chunk by chunk; stop at a bad row unless skip_bad."""
    import sys

    from bpcalc.loading.rows import RowError
    from bpcalc.output.rows import RowWriter

    name = reader.name
    out = _binary_stdout()
    writer = RowWriter([*reader.columns, *evaluator.output_columns], fmt, digits=digits, out=out)
    non_finite = _NonFinite()
    try:
        writer.start()
        for chunk in reader.chunks():
            stop: RowError | None = None
            if chunk.bad and not skip_bad:
                first = chunk.bad[0]
                stop = RowError(name, first.line, first.message)
                chunk = _head(chunk, first.before)
            for bad in chunk.bad if skip_bad else ():
                sys.stderr.write(f"{name}:{bad.line}: {printable(bad.message)} (row skipped)\n")
            if chunk.data.shape[0]:
                results = evaluator.evaluate(chunk.data)
                limit = _check_finite(chunk, results, evaluator, non_finite)
                if strict and limit is not None:
                    # The first non-finite row comes before any bad row left in this chunk.
                    stop = _not_finite_error(name, non_finite)
                    chunk, results = _head(chunk, limit), [r[:limit] for r in results]
                columns = [chunk.data[:, j] for j in range(chunk.data.shape[1])]
                writer.write([*columns, *results])
            if progress is not None:
                progress.advance_rows(chunk.data.shape[0])
            if stop is not None:
                raise stop
    except BrokenPipeError:
        _silence_stdout()
        return
    if non_finite.count and not strict:
        rows = "row has" if non_finite.count == 1 else "rows have"
        sys.stderr.write(
            f"{name}:{non_finite.first_line}: warning: {non_finite.count:,} {rows} a value or "
            f"gradient that is not finite (first here: {non_finite.what})\n"
        )


def _head(chunk: Chunk, rows: int) -> Chunk:
    from bpcalc.loading.rows import Chunk

    return Chunk(chunk.data[:rows], chunk.lines[:rows], chunk.bad)


def _check_finite(
    chunk: Chunk, results: list[Any], evaluator: BatchEvaluator, seen: _NonFinite
) -> int | None:
    """Count rows with a non-finite result; the index of the first one in this chunk."""
    import numpy as np

    finite = np.isfinite(results[0])
    for r in results[1:]:
        finite &= np.isfinite(r)
    if finite.all():
        return None
    bad = np.flatnonzero(~finite)
    first = int(bad[0])
    if not seen.count:
        names = evaluator.output_columns
        culprit = next(n for n, r in zip(names, results, strict=True) if not np.isfinite(r[first]))
        seen.first_line = int(chunk.lines[first])
        seen.what = f"{culprit} = {float(results[names.index(culprit)][first])!r}"
    seen.count += int(bad.size)
    return first


def _not_finite_error(name: str, seen: _NonFinite) -> RowError:
    from bpcalc.loading.rows import RowError

    return RowError(name, seen.first_line, f"{seen.what} is not finite (--strict)")


# --- input, output, progress -----------------------------------------------------------------


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


class _Progress:
    """A rich progress bar on stderr with rows per second, when stderr is a terminal and
    stdout is not (on a terminal the rows themselves show the progress)."""

    def __init__(self, total_bytes: int | None) -> None:
        import sys

        self.total = total_bytes
        self.rows = 0
        self._bar: Any = None
        self._task: Any = None
        self._enabled = sys.stderr.isatty() and not sys.stdout.isatty()

    def __enter__(self) -> _Progress:
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
