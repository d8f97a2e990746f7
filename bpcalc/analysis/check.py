"""Gradient check, as in the book's 5.7.3: central differences against backprop.

Every checked element of an input is moved by ``+h`` and ``-h`` (in place, as the book's
``numerical_gradient`` does), the graph is evaluated forward each time, and
``(f(x + h) - f(x - h)) / 2h`` is compared with the gradient backprop gave. ``f`` is the
output, or the sum of its elements when it is a tensor: that is what backward seeded with ones
differentiates.

Kinks: relu is not differentiable at 0, and when the step ``x ± h`` moves some relu's input
across 0 the central difference averages two slopes and means nothing. Such elements are
found exactly, by comparing the sign pattern (``input <= 0``) of every relu's input at
``x - h``, ``x`` and ``x + h``, and are left out of the verdict and reported instead.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bpcalc.errors import EvaluationError, UsageProblem, did_you_mean
from bpcalc.loading.inputs import InputValue

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph

DEFAULT_EPS = 1e-4  # the book's h
# Central differences with h = 1e-4 in float64 are off by about h**2 * f''' / 6 (~1e-9) plus
# rounding of about 1e-16 * |f| / h (~1e-12 * |f|): a right gradient agrees to ~1e-8 or better,
# a wrong one (a missing factor, a wrong sign) is off by a relative error near 1.
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-7


@dataclass(frozen=True)
class Tolerance:
    """An element passes when its absolute error <= atol or its relative error <= rtol."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL


@dataclass(frozen=True)
class InputCheck:
    """The check of one input: numerical and backprop gradients at the elements looked at."""

    name: str
    shape: tuple[int, ...]  # () for a scalar
    indices: Any  # flat indices of the elements looked at (int array)
    numeric: Any  # central differences, one per index (float array)
    backprop: Any  # the gradients backprop gave, one per index (float array)
    kinks: dict[int, str]  # flat index -> the relu node whose kink the step crosses
    tolerance: Tolerance

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def abs_errors(self) -> Any:
        import numpy as np

        with np.errstate(all="ignore"):
            return np.abs(self.numeric - self.backprop)

    @property
    def rel_errors(self) -> Any:
        """|numeric - backprop| / max(|numeric|, |backprop|), 0 where both are 0; NaN where
        either is NaN or infinite."""
        import numpy as np

        scale = np.maximum(np.abs(self.numeric), np.abs(self.backprop))  # NaN if either is
        with np.errstate(all="ignore"):
            return np.where(scale == 0, 0.0, self.abs_errors / np.where(scale == 0, 1.0, scale))

    @property
    def finite(self) -> Any:
        """Per element: both gradients finite. A NaN or infinity cannot be checked: it fails."""
        import numpy as np

        return np.isfinite(self.numeric) & np.isfinite(self.backprop)

    @property
    def counted(self) -> Any:
        """Mask of the elements that count: all but those at a kink."""
        import numpy as np

        return ~np.isin(self.indices, list(self.kinks))

    @property
    def passes(self) -> Any:
        """Per element: both gradients finite, and within tolerance."""
        within = (self.abs_errors <= self.tolerance.atol) | (self.rel_errors <= self.tolerance.rtol)
        return self.finite & within

    @property
    def checked(self) -> int:
        return int(self.counted.sum())

    @property
    def failures(self) -> list[int]:
        """Positions (into ``indices``) of counted elements out of tolerance."""
        import numpy as np

        return [int(k) for k in np.flatnonzero(self.counted & ~self.passes)]

    @property
    def passed(self) -> bool:
        return not self.failures

    def max_abs_error(self) -> float:
        return _max(self.abs_errors[self.counted])

    def max_rel_error(self) -> float:
        return _max(self.rel_errors[self.counted])

    def worst(self) -> int | None:
        """Position of the counted element furthest out of tolerance (NaN counts as worst)."""
        import numpy as np

        if not self.checked:
            return None
        with np.errstate(all="ignore"):
            allowed = np.maximum(
                self.tolerance.atol,
                self.tolerance.rtol * np.maximum(np.abs(self.numeric), np.abs(self.backprop)),
            )
            badness = np.where(np.isnan(self.abs_errors), np.inf, self.abs_errors / allowed)
        badness = np.where(self.counted, badness, -1.0)
        return int(np.argmax(badness))

    def index(self, position: int) -> tuple[int, ...]:
        """The element at ``position`` of ``indices`` as a tuple index into the input."""
        import numpy as np

        if not self.shape:
            return ()
        return tuple(int(i) for i in np.unravel_index(int(self.indices[position]), self.shape))

    def label(self, position: int) -> str:
        index = self.index(position)
        return self.name + (f"[{', '.join(map(str, index))}]" if index else "")


@dataclass(frozen=True)
class CheckResult:
    """Every input's check; ``skipped`` lists inputs with ``grad: false``."""

    graph: str
    output: str
    eps: float
    tolerance: Tolerance
    inputs: list[InputCheck]
    skipped: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.inputs)


def _max(values: Any) -> float:
    import numpy as np

    if values.size == 0:
        return 0.0
    return float(np.nan if np.isnan(values).any() else values.max())


def inputs_to_check(graph: Graph, wrt: Sequence[str]) -> tuple[list[str], list[str]]:
    """The inputs to perturb and the ones skipped for ``grad: false``; a bad name in ``wrt``
    is a UsageProblem about it (exit 2)."""
    for name in wrt:
        if name in graph.inputs:
            if not graph.inputs[name].grad:
                raise UsageProblem(
                    f"input '{name}' has 'grad: false', so it has no gradient to check",
                    about="wrt",
                )
        elif name in graph.names:
            raise UsageProblem(
                f"'{name}' is a node; check perturbs inputs "
                f"(use --of to differentiate another node)",
                about="wrt",
            )
        else:
            message = f"no input named '{name}'{did_you_mean(name, graph.inputs)}"
            raise UsageProblem(message, about="wrt")
    names = list(dict.fromkeys(wrt)) if wrt else list(graph.inputs)
    skipped = [n for n in graph.inputs if not graph.inputs[n].grad and not wrt]
    chosen = [n for n in names if graph.inputs[n].grad]
    if not chosen:
        raise UsageProblem("nothing to check: every input has 'grad: false'")
    return chosen, skipped


def sample_indices(name: str, size: int, sample: int | None, seed: int) -> Any:
    """All flat indices, or ``sample`` of them drawn without replacement, sorted.

    The draw depends on ``seed`` and the input's name only, so ``--wrt`` does not change it.
    """
    import numpy as np

    if sample is None or sample >= size:
        return np.arange(size)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    return np.sort(rng.choice(size, size=sample, replace=False))


def element_count(graph: Graph, names: Sequence[str], sample: int | None) -> int:
    """How many elements a check looks at (two evaluations each)."""
    import numpy as np

    total = 0
    for name in names:
        size = int(np.size(graph.inputs[name].value))
        total += size if sample is None else min(size, sample)
    return total


def check_gradients(
    graph: Graph,
    evaluation: Evaluation,
    *,
    wrt: Sequence[str] = (),
    eps: float = DEFAULT_EPS,
    tolerance: Tolerance = Tolerance(),
    sample: int | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> CheckResult:
    """Compare ``evaluation``'s gradients with central differences of step ``eps``.

    ``progress`` is called with 1 after each element.
    """
    names, skipped = inputs_to_check(graph, wrt)
    relus = _relu_inputs(graph)
    checks = [
        _check_input(graph, evaluation, name, eps, tolerance, sample, seed, relus, progress)
        for name in names
    ]
    return CheckResult(evaluation.graph, evaluation.output, eps, tolerance, checks, skipped)


def _relu_inputs(graph: Graph) -> list[tuple[str, str]]:
    """(relu node, the name it reads) for every relu whose input is not a constant."""
    return [
        (node.name, node.args[0])
        for node in graph.nodes
        if node.op == "relu" and isinstance(node.args[0], str)
    ]


def _check_input(
    graph: Graph,
    evaluation: Evaluation,
    name: str,
    eps: float,
    tolerance: Tolerance,
    sample: int | None,
    seed: int,
    relus: list[tuple[str, str]],
    progress: Callable[[int], None] | None,
) -> InputCheck:
    import numpy as np

    original = graph.inputs[name]
    value = original.value
    target = evaluation.output
    base_masks = [np.asarray(evaluation.values[arg]) <= 0 for _, arg in relus]
    backprop_all = np.asarray(evaluation.grads[name], dtype=np.float64).reshape(-1)
    shape: tuple[int, ...] = tuple(np.shape(value))
    indices = sample_indices(name, int(np.size(value)), sample, seed)
    numeric = np.empty(len(indices))
    kinks: dict[int, str] = {}

    if isinstance(value, np.ndarray):
        work = value.copy()
        flat = work.reshape(-1)  # a view: writing to it moves the element the graph reads
        perturbed = graph.with_inputs({name: replace(original, value=work)})

        def at(index: int, x: float) -> tuple[float, list[Any]]:
            flat[index] = x
            return _objective(perturbed, name, target, relus, shape, index)

    else:

        def at(index: int, x: float) -> tuple[float, list[Any]]:
            moved = graph.with_inputs({name: InputValue(x, original.grad)})
            return _objective(moved, name, target, relus, shape, index)

    start = value.reshape(-1) if isinstance(value, np.ndarray) else [value]
    for k, index in enumerate(indices.tolist()):
        x = float(start[index])
        f_plus, masks_plus = at(index, x + eps)
        f_minus, masks_minus = at(index, x - eps)
        if isinstance(value, np.ndarray):
            flat[index] = x
        with np.errstate(all="ignore"):
            numeric[k] = (f_plus - f_minus) / (2 * eps)
        for (relu, _), base, plus, minus in zip(
            relus, base_masks, masks_plus, masks_minus, strict=True
        ):
            if not (np.array_equal(base, plus) and np.array_equal(base, minus)):
                kinks[index] = relu
                break
        if progress is not None:
            progress(1)
    return InputCheck(
        name, shape, indices, numeric, backprop_all[indices], kinks, tolerance=tolerance
    )


def _objective(
    graph: Graph,
    name: str,
    target: str,
    relus: list[tuple[str, str]],
    shape: tuple[int, ...],
    index: int,
) -> tuple[float, list[Any]]:
    """The (summed) output and every relu's sign pattern, from a forward pass only."""
    import numpy as np

    try:
        # Differentiating the input itself leaves nothing for backward to do.
        evaluation = graph.evaluate(of=name)
    except EvaluationError as err:
        where = name + (f"[{', '.join(map(str, np.unravel_index(index, shape)))}]" if shape else "")
        raise EvaluationError(
            [
                replace(d, message=f"check: with {where} moved by ±h, {d.message}")
                for d in err.diagnostics
            ]
        ) from None
    value = evaluation.values[target]
    f = float(np.sum(value)) if isinstance(value, np.ndarray) else float(value)
    return f, [np.asarray(evaluation.values[arg]) <= 0 for _, arg in relus]
