"""``bpcalc train``: minimise the output by updating inputs with one of the book's optimizers."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from bpcalc.cli.commands import command
from bpcalc.cli.options import (
    GraphOptions,
    canonical_names,
    complete_names,
    digits_option,
    format_option,
    graph_options,
)
from bpcalc.errors import ExitStatus, UsageProblem

if TYPE_CHECKING:
    from bpcalc.analysis.train import Hyper, Trainer, TrainResult
    from bpcalc.loading.graph import Graph

OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


@command("train")
@graph_options
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME",
    callback=canonical_names,
    shell_complete=complete_names,
    help="An input to train (repeatable) [every input without 'grad: false'].",
)
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZER_NAMES),
    default="sgd",
    show_default=True,
    help="The book's optimizer (common/optimizer.py) to update the params with.",
)
@click.option(
    "--lr",
    "rates",
    multiple=True,
    metavar="F|OPT=F",
    help="Learning rate [0.01; adam 0.001]. OPT=F sets one optimizer's rate (for --compare; "
    "repeatable).",
)
@click.option(
    "--steps", type=click.IntRange(1), default=100, show_default=True, help="Updates to make."
)
@click.option(
    "--momentum",
    type=click.FloatRange(0),
    metavar="F",
    help="Momentum of momentum and nesterov [0.9].",
)
@click.option(
    "--decay-rate", type=click.FloatRange(0, 1), metavar="F", help="Decay rate of rmsprop [0.99]."
)
@click.option(
    "--beta1", type=click.FloatRange(0, 1, max_open=True), metavar="F", help="Adam's beta1 [0.9]."
)
@click.option(
    "--beta2",
    type=click.FloatRange(0, 1, max_open=True),
    metavar="F",
    help="Adam's beta2 [0.999].",
)
@click.option(
    "--weight-decay",
    type=click.FloatRange(0),
    default=0.0,
    metavar="L",
    help="Add the book's 0.5*L*sum(p**2) for every param to the loss [0].",
)
@click.option(
    "--data",
    "data_file",
    metavar="FILE",
    help="Values for the inputs that are not trained: an .npz of arrays named after inputs, "
    "or a CSV/TSV with a header (x[0], x[1], ... for tensor rows); rows along axis 0.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    metavar="B",
    help="Rows of --data per step, drawn as np.random.choice(rows, B) [all rows, in order].",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the minibatch draws (numpy.random.RandomState).",
)
@format_option(
    ["auto", "table", "tsv", "csv", "json", "svg"],
    "Output format; auto is a table and a loss chart on a terminal, TSV (step, loss) in a "
    "pipe; svg is the chart (with --compare and two scalar params, the contour figure).",
)
@digits_option()
@click.option(
    "--save",
    metavar="FILE",
    help="Write the graph with the trained values in (YAML, or JSON for .json), or an .npz "
    "of the params.",
)
@click.option("--force", is_flag=True, help="Let --save overwrite FILE.")
@click.option(
    "--save-on-interrupt",
    is_flag=True,
    help="On Ctrl-C, still --save the values of the last finished step.",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Train with every optimizer from the same start and compare them.",
)
def train(
    source: GraphOptions,
    params: tuple[str, ...],
    optimizer: str,
    rates: tuple[str, ...],
    steps: int,
    momentum: float | None,
    decay_rate: float | None,
    beta1: float | None,
    beta2: float | None,
    weight_decay: float,
    data_file: str | None,
    batch_size: int | None,
    seed: int,
    fmt: str,
    digits: int | None,
    save: str | None,
    force: bool,
    save_on_interrupt: bool,
    compare: bool,
) -> None:
    """Minimise the output (or --of NODE, a scalar) by updating the chosen inputs.

    Each step evaluates the loss, runs backward and updates every param once with the
    book's optimizer; loss[i] is the loss at step i, before its update. Ctrl-C stops after
    the current step (exit 130). A loss or gradient that becomes NaN or infinite stops
    training (exit 1). See docs/training.md.

    \b
    Example:
        bpcalc train optimizer_bowl --optimizer momentum --lr 0.1 --steps 30
        bpcalc train optimizer_bowl --compare --steps 30 --lr sgd=0.95 --lr momentum=0.1 \\
            --lr adagrad=1.5 --lr adam=0.3 -o svg > compare.svg
        bpcalc train xor_net --optimizer adam --lr 0.05 --steps 300 --save trained.yaml
    """
    from bpcalc.analysis.train import Hyper, Trainer

    click.get_current_context().meta["bpcalc.debug"] = source.debug
    lr, per_optimizer = _rates(rates)
    if not compare:
        _check_applies(optimizer, lr, per_optimizer, momentum, decay_rate, beta1, beta2)
    elif save is not None:
        raise UsageProblem("--save keeps one run's values; it does not go with --compare")
    if save is None:
        for flag, used in (("--force", force), ("--save-on-interrupt", save_on_interrupt)):
            if used:
                raise UsageProblem(f"{flag} goes with --save FILE")
    graph = source.load()
    data = None
    if data_file is not None:
        from bpcalc.loading.data import read_data

        data = read_data(data_file, source.limits)
    if save is not None:
        from bpcalc.output.files import check_new_file

        check_new_file(save, force=force)  # before training, not after it
    trainer = Trainer(
        graph, of=source.of, params=params, data=data, batch_size=batch_size, seed=seed
    )
    defaults = Hyper()
    hyper = Hyper(
        lr=lr,
        momentum=defaults.momentum if momentum is None else momentum,
        decay_rate=defaults.decay_rate if decay_rate is None else decay_rate,
        beta1=defaults.beta1 if beta1 is None else beta1,
        beta2=defaults.beta2 if beta2 is None else beta2,
        weight_decay=weight_decay,
    )
    from bpcalc.output.formats import resolve

    fmt = resolve(fmt)
    chosen = list(OPTIMIZER_NAMES) if compare else [optimizer]
    contour = compare and _two_scalars(trainer)
    results = _train_all(trainer, chosen, hyper, per_optimizer, steps, record_path=contour)
    if any(result.interrupted for result in results):
        _interrupted(graph, results[-1], steps, save, force, save_on_interrupt, source.sets)
    if save is not None:
        _save(graph, results[0], save, force, source.sets)
    from bpcalc.output.train_report import print_training

    print_training(graph.name, trainer, results, fmt, digits, compare=compare, contour=contour)


def _rates(rates: tuple[str, ...]) -> tuple[float | None, dict[str, float]]:
    """``--lr F`` and ``--lr OPT=F``: the plain rate (or None) and the per-optimizer ones."""
    import math

    plain: float | None = None
    per: dict[str, float] = {}
    for item in rates:
        name, sep, text = item.rpartition("=")
        name = name.strip().lower()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise UsageProblem(f"--lr {item}: expected a rate above 0, such as 0.01 or adam=0.3")
        if sep and name not in OPTIMIZER_NAMES:
            raise UsageProblem(
                f"--lr {item}: no optimizer '{name}'; choose one of {', '.join(OPTIMIZER_NAMES)}"
            )
        if (sep and name in per) or (not sep and plain is not None):
            raise UsageProblem(f"--lr {item}: a rate given twice; give each rate once")
        if sep:
            per[name] = value
        else:
            plain = value
    return plain, per


def _check_applies(
    optimizer: str,
    lr: float | None,
    per: dict[str, float],
    momentum: float | None,
    decay_rate: float | None,
    beta1: float | None,
    beta2: float | None,
) -> None:
    """Without --compare, an option for another optimizer is a mistake: say so."""
    for name in per:
        if name != optimizer:
            raise UsageProblem(
                f"--lr {name}=...: the optimizer is {optimizer}; pass --optimizer {name}, "
                f"or --compare to train with every optimizer"
            )
    if lr is not None and optimizer in per:
        raise UsageProblem(f"--lr: a rate given twice for {optimizer}; give it once")
    takes = {
        "--momentum": (momentum, ("momentum", "nesterov")),
        "--decay-rate": (decay_rate, ("rmsprop",)),
        "--beta1": (beta1, ("adam",)),
        "--beta2": (beta2, ("adam",)),
    }
    for flag, (value, owners) in takes.items():
        if value is not None and optimizer not in owners:
            raise UsageProblem(
                f"{flag} goes with --optimizer {' or '.join(owners)}, not {optimizer}"
            )


def _two_scalars(trainer: Trainer) -> bool:
    return len(trainer.names) == 2 and all(
        isinstance(trainer.start[name], float) for name in trainer.names
    )


@contextmanager
def _deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Ctrl-C sets a flag that the loop reads after each step (a second Ctrl-C stops at
    once); the previous handler comes back afterwards."""
    pressed = [False]
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum: int, frame: Any) -> None:
        if pressed[0]:
            raise KeyboardInterrupt
        pressed[0] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: pressed[0]
    finally:
        signal.signal(signal.SIGINT, previous)


def _train_all(
    trainer: Trainer,
    chosen: list[str],
    hyper: Hyper,
    per: dict[str, float],
    steps: int,
    *,
    record_path: bool,
) -> list[TrainResult]:
    from dataclasses import replace

    from bpcalc.analysis.optimizers import TITLES
    from bpcalc.output.train_report import TrainProgress

    results = []
    with _deferred_interrupt() as stop, TrainProgress(steps, TITLES[chosen[0]]) as bar:
        for name in chosen:
            bar.restart(TITLES[name])
            rate = per.get(name, hyper.lr)
            result = trainer.run(
                name,
                replace(hyper, lr=rate),
                steps=steps,
                on_step=bar.update,
                should_stop=stop,
                record_path=record_path,
            )
            results.append(result)
            if result.interrupted or (stop() and name != chosen[-1]):
                result.interrupted = True
                break
    return results


def _interrupted(
    graph: Graph,
    result: TrainResult,
    steps: int,
    save: str | None,
    force: bool,
    save_on_interrupt: bool,
    sets: tuple[str, ...],
) -> None:
    where = f"interrupted after step {result.completed:,} of {steps:,}"
    if save is not None and save_on_interrupt:
        _save(graph, result, save, force, sets)
        click.echo(f"{where}; saved the values of step {result.completed:,} to {save}", err=True)
    elif save is not None:
        click.echo(f"{where}; nothing saved (--save-on-interrupt saves anyway)", err=True)
    else:
        click.echo(where, err=True)
    raise click.exceptions.Exit(ExitStatus.INTERRUPTED)


def _save(graph: Graph, result: TrainResult, file: str, force: bool, sets: tuple[str, ...]) -> None:
    from bpcalc.analysis.save import saved_data
    from bpcalc.errors import printable
    from bpcalc.loading.schema import canonical_name
    from bpcalc.output.files import write_new_file

    values: dict[str, tuple[Any, bool]] = {}
    for item in sets:  # what --set changed goes into the saved graph too
        name = canonical_name(item.partition("=")[0].strip())
        if name in graph.inputs and name not in result.params:
            values[name] = (graph.inputs[name].value, graph.inputs[name].grad)
    for name, value in result.params.items():
        values[canonical_name(name)] = (value, True)
    data, notes = saved_data(graph, file, values)
    write_new_file(file, data, force=force)
    for note in notes:
        click.echo(printable(f"note: {file}: {note}"), err=True)
