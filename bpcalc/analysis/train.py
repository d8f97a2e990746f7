"""Training: the book's loop (chapter 5's ``train_neuralnet.py``) on a graph's inputs.

One step evaluates the loss (the graph's output, or ``of``), runs backward, adds the weight
decay term ``0.5*L*sum(p**2)`` for every parameter (and ``L*p`` to its gradient) and makes one
update of every parameter with one of the book's optimizers (bpcalc.analysis.optimizers). The
loss recorded for step i is the one evaluated at step i, before its update.

Data (bpcalc.loading.data) gives values to inputs that are not trained, a minibatch of rows
per step drawn as the book draws them, ``np.random.choice(n, B)`` with replacement, from a
``numpy.random.RandomState(seed)``: the legacy Mersenne Twister, whose stream numpy keeps
fixed across versions (NEP 19), so a run repeats bit for bit, and equal to the book's
``np.random.seed(seed)`` then ``np.random.choice`` on each step. Without a batch size (or
with the number of rows) every step uses every row, in order, and draws nothing.

A step costs one forward and one backward pass of the graph's compiled plan
(bpcalc.engine.step), nothing more: no Evaluation is built. No click, no rich.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bpcalc.analysis.optimizers import (
    DEFAULT_BETA1,
    DEFAULT_BETA2,
    DEFAULT_DECAY_RATE,
    DEFAULT_LR,
    DEFAULT_MOMENTUM,
    OPTIMIZERS,
    make_optimizer,
)
from bpcalc.errors import BpcalcError, UsageProblem, did_you_mean

if TYPE_CHECKING:
    from bpcalc.loading.data import DataSet
    from bpcalc.loading.graph import Graph


class TrainingDiverged(BpcalcError):
    """The loss or a gradient became NaN or infinite (exit 1); names the step and param."""


@dataclass(frozen=True)
class Hyper:
    """An optimizer's settings: the book's defaults unless given."""

    lr: float | None = None  # None: the book's default for the optimizer
    momentum: float = DEFAULT_MOMENTUM
    decay_rate: float = DEFAULT_DECAY_RATE
    beta1: float = DEFAULT_BETA1
    beta2: float = DEFAULT_BETA2
    weight_decay: float = 0.0

    def rate(self, optimizer: str) -> float:
        return DEFAULT_LR[optimizer] if self.lr is None else self.lr


@dataclass
class TrainResult:
    """What a run gives: trained params, the loss of each step, how far it went."""

    optimizer: str
    lr: float
    steps: int  # asked for
    params: dict[str, Any]  # the trained values (floats or float64 arrays)
    loss: list[float] = field(default_factory=list)  # loss[i]: step i+1, before its update
    interrupted: bool = False
    # With record_path: each param's value before each step, and after the last (scalars).
    path: dict[str, list[float]] | None = None

    @property
    def completed(self) -> int:
        return len(self.loss)


StepHook = Callable[[int, float], None]


class Trainer:
    """A graph set up for training: which inputs are params, which get data, the plan."""

    def __init__(
        self,
        graph: Graph,
        *,
        of: str | None = None,
        params: Sequence[str] = (),
        data: DataSet | None = None,
        batch_size: int | None = None,
        seed: int = 0,
    ) -> None:
        import numpy as np

        from bpcalc.engine.step import GradientStep
        from bpcalc.loading.inputs import InputValue
        from bpcalc.loading.schema import canonical_name

        self.target = graph.output if of is None else canonical_name(of)
        if self.target not in graph.names:
            raise UsageProblem(graph.unknown_name_message(self.target), about="of")
        self.names = choose_params(graph, params)
        self.data = data
        self.rows = 0
        self.batch_size: int | None = None
        if data is not None:
            check_data(graph, data, self.names)
            self.rows = data.rows
            if batch_size is not None and batch_size > data.rows:
                raise UsageProblem(
                    f"{batch_size:,} is more than the {data.rows:,} rows of {data.file}",
                    about="batch_size",
                )
            if batch_size is not None and batch_size < data.rows:
                self.batch_size = batch_size
        elif batch_size is not None:
            raise UsageProblem("a batch size needs data to draw rows from", about="batch_size")
        self.seed = seed
        # Everything not trained gets grad: false, so backward does no work for it.
        wanted = set(self.names)
        inputs = {}
        for name, value in graph.inputs.items():
            if data is not None and name in data.arrays:
                inputs[name] = InputValue(data.arrays[name], grad=False)
            elif name in wanted:
                inputs[name] = InputValue(_copy(value.value), grad=True)
            else:
                inputs[name] = replace(value, grad=False)
        self.graph = graph
        self.train_graph = graph.with_inputs(inputs)
        order = list(graph.inputs)
        self.slots = [order.index(name) for name in self.names]
        self.data_slots = [] if data is None else [(order.index(n), n) for n in data.arrays]
        self.base = [value.value for value in self.train_graph.inputs.values()]
        self.start = {name: _copy(graph.inputs[name].value) for name in self.names}
        self.step = GradientStep(self.train_graph, self.target, self.names)
        self._np = np

    def run(
        self,
        optimizer: str,
        hyper: Hyper = Hyper(),
        *,
        steps: int,
        start: dict[str, Any] | None = None,
        on_step: StepHook | None = None,
        should_stop: Callable[[], bool] | None = None,
        record_path: bool = False,
    ) -> TrainResult:
        """``steps`` steps of ``optimizer`` from the graph's values (or ``start``).

        ``on_step(i, loss)`` is called after step i; when ``should_stop()`` says so after a
        step, the run ends there (``interrupted``).
        """
        np = self._np
        if optimizer not in OPTIMIZERS:
            raise UsageProblem(
                f"no optimizer '{optimizer}'{did_you_mean(optimizer, OPTIMIZERS)}; "
                f"choose one of {', '.join(OPTIMIZERS)}",
                about="optimizer",
            )
        lr = hyper.rate(optimizer)
        opt = make_optimizer(
            optimizer,
            lr,
            momentum=hyper.momentum,
            decay_rate=hyper.decay_rate,
            beta1=hyper.beta1,
            beta2=hyper.beta2,
        )
        params = {name: _copy(value) for name, value in (start or self.start).items()}
        result = TrainResult(optimizer, lr, steps, params)
        path: dict[str, list[float]] | None = None
        if record_path:
            path = result.path = {name: [] for name in self.names}
        names, slots, base, step = self.names, self.slots, self.base, self.step
        draw = self._batches()
        decay = hyper.weight_decay
        losses = result.loss
        for i in range(1, steps + 1):
            values = base.copy()
            for slot, name in zip(slots, names, strict=True):
                values[slot] = params[name]
            if draw is not None:
                for slot, batch in draw():
                    values[slot] = batch
            loss, found = step(values)
            loss = self._scalar(loss)
            grads = dict(zip(names, found, strict=True))
            if decay:
                for name in names:
                    p = params[name]
                    loss += 0.5 * decay * float(np.sum(p**2))
                    grads[name] = grads[name] + decay * p
            self._check_finite(i, loss, params, grads)
            losses.append(loss)
            if path is not None:
                for name in names:
                    path[name].append(float(params[name]))
            opt.update(params, grads)
            if on_step is not None:
                on_step(i, loss)
            if should_stop is not None and i < steps and should_stop():
                result.interrupted = True
                break
        for name in names:
            if not _finite(params[name]):
                raise TrainingDiverged(
                    f"training stopped after step {len(losses)}: its update made param "
                    f"'{name}' {_what(params[name])}; try a lower learning rate"
                )
        if path is not None:
            for name in names:
                path[name].append(float(params[name]))
        return result

    def _batches(self) -> Callable[[], list[tuple[int, Any]]] | None:
        """What gives each step its data: None when every step uses all rows (the data is
        in the base values already)."""
        if self.data is None or self.batch_size is None:
            return None
        rng = self._np.random.RandomState(self.seed)
        rows, size = self.rows, self.batch_size
        arrays = [(slot, self.data.arrays[name]) for slot, name in self.data_slots]

        def draw() -> list[tuple[int, Any]]:
            mask = rng.choice(rows, size)
            return [(slot, array[mask]) for slot, array in arrays]

        return draw

    def _scalar(self, loss: Any) -> float:
        if isinstance(loss, float):
            return loss
        shape = getattr(loss, "shape", None)
        if shape == ():
            return float(loss)
        shown = "×".join(map(str, shape or ()))
        raise UsageProblem(
            f"'{self.target}' is a tensor of shape {shown}; training minimises a scalar: "
            f"reduce it with sum(...) or mean(...), or name a scalar node",
            about="of",
        )

    def _check_finite(
        self, i: int, loss: float, params: dict[str, Any], grads: dict[str, Any]
    ) -> None:
        if math.isfinite(loss) and all(_finite(g) for g in grads.values()):
            return
        where = f"training stopped at step {i}"
        for name in self.names:
            if not _finite(params[name]):
                raise TrainingDiverged(f"{where}: param '{name}' is {_what(params[name])}")
        if not math.isfinite(loss):
            largest = max(self.names, key=lambda n: _largest(params[n]))
            raise TrainingDiverged(
                f"{where}: the loss '{self.target}' is {_what(loss)}, with param "
                f"'{largest}' at {_largest(params[largest]):.6g} in size; try a lower "
                f"learning rate"
            )
        name = next(n for n in self.names if not _finite(grads[n]))
        raise TrainingDiverged(
            f"{where}: the gradient of param '{name}' is {_what(grads[name])}; try a lower "
            f"learning rate"
        )

    def loss_at(self, values: dict[str, Any]) -> float:
        """The loss (before weight decay) with these param values and all rows of the data."""
        full = self.base.copy()
        for slot, name in zip(self.slots, self.names, strict=True):
            full[slot] = values[name]
        loss, _ = self.step(full)
        return self._scalar(loss)

    def loss_grid(self, xs: Any, ys: Any) -> Any:
        """The loss over a grid of the two (scalar) params: Z[j, i] at (xs[i], ys[j])."""
        np = self._np
        first, second = self.names
        values = dict(self.start)
        z = np.empty((len(ys), len(xs)))
        for j, y in enumerate(ys.tolist()):
            values[second] = y
            for i, x in enumerate(xs.tolist()):
                values[first] = x
                z[j, i] = self.loss_at(values)
        return z


def choose_params(graph: Graph, params: Sequence[str]) -> list[str]:
    """The inputs to train: ``params`` checked, or every input with a gradient."""
    from bpcalc.loading.schema import canonical_name

    if not params:
        chosen = [name for name, value in graph.inputs.items() if value.grad]
        if not chosen:
            raise UsageProblem(
                "every input of the graph has 'grad: false': there is nothing to train; "
                "remove 'grad: false' from the inputs to train",
                about="params",
            )
        return chosen
    chosen = []
    for raw in params:
        name = canonical_name(raw)
        if name not in graph.inputs:
            if name in graph.names:
                raise UsageProblem(
                    f"'{name}' is a node, not an input; only inputs are trained "
                    f"(inputs: {', '.join(graph.inputs)})",
                    about="params",
                )
            raise UsageProblem(graph.unknown_name_message(name, inputs_only=True), about="params")
        if not graph.inputs[name].grad:
            raise UsageProblem(
                f"input '{name}' has 'grad: false', so it has no gradient to train with; "
                f"remove 'grad: false' from it in the graph to train it",
                about="params",
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


def check_data(graph: Graph, data: DataSet, params: Sequence[str]) -> None:
    """Every array names an input that is not trained, with rows that fit its value."""
    from bpcalc.errors import NameIndex
    from bpcalc.loading.data import DataError, DataNameError

    index = NameIndex(graph.inputs)
    for name, array in data.arrays.items():
        origin = data.origin[name]
        if name not in graph.inputs:
            kind = "node" if name in graph.names else "input"
            hint = "" if kind == "node" else did_you_mean(name, index)
            message = (
                f"{origin} names a node of {graph.definition.source.name}, not an input"
                if kind == "node"
                else f"{origin} names no input of {graph.definition.source.name}{hint}"
            )
            raise DataNameError([data.diagnostic(message, header=True)])
        if name in params:
            raise DataNameError(
                [
                    data.diagnostic(
                        f"{origin} gives values to '{name}', which is a param being trained; "
                        f"data is for the other inputs (pass --param to choose the params)",
                        header=True,
                    )
                ]
            )
        value = graph.inputs[name].value
        shape = getattr(value, "shape", ())
        row = tuple(shape[1:])
        got = tuple(array.shape[1:])
        if got != row:
            what = "×".join(map(str, shape)) if shape else "a scalar"
            want = "one number" if not row else "shape " + "×".join(map(str, row))
            has = "one number" if not got else "shape " + "×".join(map(str, got))
            message = (
                f"{origin} has rows of {has}, which do not fit input '{name}' ({what}): "
                f"its rows along axis 0 are {want}"
            )
            note = graph.locate(name, f"note: input '{name}' is defined here")
            raise DataError([data.diagnostic(message, header=True), note])


def _copy(value: Any) -> Any:
    return value.copy() if hasattr(value, "copy") and not isinstance(value, float) else value


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    import numpy as np

    return bool(np.isfinite(value).all())


def _what(value: Any) -> str:
    import numpy as np

    if np.isnan(value).any():
        return "NaN"
    return "infinite"


def _largest(value: Any) -> float:
    if isinstance(value, float):
        return abs(value)
    import numpy as np

    finite = np.abs(value[np.isfinite(value)])
    return float(finite.max()) if finite.size else math.inf
