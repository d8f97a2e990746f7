"""Batch evaluation: one graph, many rows of input values, evaluated a chunk at a time.

Every row of a chunk is evaluated at once: each input with a column becomes a float64 vector
and the graph runs forward and backward once per chunk, so a row costs numpy's time, not
Python's. That is exact only for graphs whose ops work element by element; ops that mix rows
(sum, mean, matmul, affine, softmax_with_loss) and tensor inputs are refused. Plain data in and
out: reading the rows, writing them and the progress bar are the caller's (``bpcalc.cli.batch``
for ``run --batch`` and ``grad --batch``, ``bpcalc.cli.sweep``).

numpy is imported inside functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpcalc.errors import UsageProblem
from bpcalc.ops.table import ELEMENTWISE_OPS

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bpcalc.loading.graph import Graph
    from bpcalc.loading.rows import BadRow, Chunk, RowError

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


def check_columns(graph: Graph, columns: Sequence[str], file: str, sets: Sequence[str]) -> None:
    """Every column names an input, once, and no input has both a column and a --set."""
    from bpcalc.loading.rows import ColumnError
    from bpcalc.loading.schema import canonical_name

    columns = [canonical_name(column) for column in columns]  # as names in graph files are
    problems = []
    for name in dict.fromkeys(columns):
        if name not in graph.inputs:
            separator = next((c for c in ";|" if c in name), None)
            if separator and all(part.strip() in graph.inputs for part in name.split(separator)):
                problems.append(
                    f"column '{name}': the header is separated by '{separator}', but a CSV "
                    f"file's columns are separated by ',' (a TSV file's by tabs): write "
                    f"{','.join(part.strip() for part in name.split(separator))} (and the rows "
                    f"likewise), or save the file as CSV with commas"
                )
                continue
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


# --- chunk by chunk --------------------------------------------------------------------------


@dataclass
class NonFinite:
    """Rows whose output or gradient is NaN or infinite: how many, and the first one."""

    count: int = 0
    first_line: int = 0
    what: str = ""

    def error(self, file: str) -> RowError:
        """The first such row as an error (--strict)."""
        from bpcalc.loading.rows import RowError

        return RowError(file, self.first_line, f"{self.what} is not finite (--strict)")

    def warning(self, file: str) -> str | None:
        """One line saying how many rows had one and where the first was; None if none."""
        if not self.count:
            return None
        from bpcalc.loading.rows import SWEEP

        if file == SWEEP:  # no file: the points are counted from 1
            points = "point has" if self.count == 1 else "points have"
            return (
                f"warning: {self.count:,} sweep {points} a value or gradient that is not "
                f"finite (the first is point {self.first_line}: {self.what})"
            )
        rows = "row has" if self.count == 1 else "rows have"
        return (
            f"{file}:{self.first_line}: warning: {self.count:,} {rows} a value or "
            f"gradient that is not finite (first here: {self.what})"
        )


class ChunkEvaluation:
    """Evaluates the chunks of one row source in turn and keeps count of non-finite rows.

    For each chunk, ``cut`` first takes the rows to evaluate (up to the first bad row unless
    ``skip_bad``), then ``evaluate`` gives the columns to write for them; ``stop`` is then the
    error to raise once they are written (a bad row, or with ``strict`` a non-finite one).
    """

    def __init__(
        self, evaluator: BatchEvaluator, file: str, *, strict: bool, skip_bad: bool
    ) -> None:
        self.evaluator = evaluator
        self.file = file
        self.strict = strict
        self.skip_bad = skip_bad
        self.non_finite = NonFinite()
        self.stop: RowError | None = None

    def cut(self, chunk: Chunk) -> tuple[Chunk, list[BadRow]]:
        """The rows of ``chunk`` to evaluate, and the bad rows to report as skipped."""
        from bpcalc.loading.rows import RowError

        self.stop = None
        if self.skip_bad:
            return chunk, list(chunk.bad)
        if chunk.bad:
            first = chunk.bad[0]
            self.stop = RowError(self.file, first.line, first.message)
            chunk = _head(chunk, first.before)
        return chunk, []

    def evaluate(self, chunk: Chunk) -> list[NDArray[np.float64]]:
        """The input columns and then the evaluator's output columns, one entry per row of
        ``chunk`` (with ``strict``, only the rows before the first non-finite one); no
        columns for a chunk without rows."""
        if not chunk.data.shape[0]:
            return []
        results = self.evaluator.evaluate(chunk.data)
        limit = _check_finite(chunk, results, self.evaluator, self.non_finite)
        if self.strict and limit is not None:
            # The first non-finite row comes before any bad row left in this chunk.
            self.stop = self.non_finite.error(self.file)
            chunk, results = _head(chunk, limit), [r[:limit] for r in results]
        return [*(chunk.data[:, j] for j in range(chunk.data.shape[1])), *results]

    def warning(self) -> str | None:
        """After the last chunk: the warning about non-finite rows, if any (not with strict)."""
        return None if self.strict else self.non_finite.warning(self.file)


def _head(chunk: Chunk, rows: int) -> Chunk:
    from bpcalc.loading.rows import Chunk

    return Chunk(chunk.data[:rows], chunk.lines[:rows], chunk.bad)


def _check_finite(
    chunk: Chunk, results: list[Any], evaluator: BatchEvaluator, seen: NonFinite
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
