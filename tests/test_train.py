"""``bpcalc train``: the book's optimizers on the bowl, the training loop on data, every option
and output format."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bpcalc import load
from bpcalc.analysis.optimizers import OPTIMIZERS, make_optimizer
from bpcalc.analysis.train import Hyper, Trainer
from bpcalc.limits import DEFAULT_LIMITS
from bpcalc.loading.data import read_data
from tests.conftest import GRAPHS, Invoke

BOWL = GRAPHS / "optimizer_bowl.yaml"
BOOK_RATES = {"sgd": 0.95, "momentum": 0.1, "adagrad": 1.5, "adam": 0.3}
OTHER_RATES = {"nesterov": 0.1, "rmsprop": 0.1}


# --- the book's optimizers, restated from their formulas --------------------------------------


def reference_bowl(
    name: str,
    lr: float,
    steps: int = 30,
    *,
    m: float = 0.9,
    d: float = 0.99,
    b1: float = 0.9,
    b2: float = 0.999,
    start: tuple[float, float] = (-7.0, 2.0),
) -> list[float]:
    """chapter 6's loop on f(x, y) = x**2/20 + y**2 with the book's df = (x/10, 2y), each
    optimizer written out from its formula (docs/training.md); returns the final (x, y)."""
    p = np.array(start, dtype=np.float64)
    v = np.zeros(2)
    h = np.zeros(2)
    for t in range(1, steps + 1):
        g = np.array([p[0] / 10.0, 2.0 * p[1]])
        if name == "sgd":
            p = p - lr * g
        elif name == "momentum":
            v = m * v - lr * g
            p = p + v
        elif name == "nesterov":
            v = v * m
            v = v - lr * g
            p = p + m * m * v
            p = p - (1 + m) * lr * g
        elif name == "adagrad":
            h = h + g * g
            p = p - lr * g / (np.sqrt(h) + 1e-7)
        elif name == "rmsprop":
            h = h * d
            h = h + (1 - d) * g * g
            p = p - lr * g / (np.sqrt(h) + 1e-7)
        else:
            lr_t = lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
            v = v + (1 - b1) * (g - v)  # m, the first moment
            h = h + (1 - b2) * (g**2 - h)  # v, the second
            p = p - lr_t * v / (np.sqrt(h) + 1e-7)
    return [float(p[0]), float(p[1])]


def final(invoke: Invoke, *args: str) -> dict[str, Any]:
    result = invoke("train", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return dict(json.loads(result.stdout))


class TestTheBooksOptimizers:
    @pytest.mark.parametrize("name", OPTIMIZERS)
    def test_thirty_steps_on_the_bowl_match_the_book(self, invoke: Invoke, name: str) -> None:
        """The book's rates (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3; Nesterov and
        RMSprop at 0.1): the final x, y agree with the book's loop to 1e-9."""
        lr = {**BOOK_RATES, **OTHER_RATES}[name]
        doc = final(invoke, "optimizer_bowl", "--optimizer", name, "--lr", str(lr), "--steps", "30")
        expected = reference_bowl(name, lr)
        got = [doc["params"]["x"], doc["params"]["y"]]
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)
        assert doc["steps"] == 30 and doc["optimizer"] == name and doc["lr"] == lr
        assert len(doc["loss"]) == 30
        assert doc["loss"][0] == (-7.0) ** 2 / 20 + 2.0**2  # step 1: before its update

    @pytest.mark.parametrize("name", OPTIMIZERS)
    def test_defaults_are_the_books(self, invoke: Invoke, name: str) -> None:
        """Without --lr: 0.01 (Adam 0.001), momentum 0.9, decay 0.99, betas 0.9 and 0.999."""
        doc = final(invoke, "optimizer_bowl", "--optimizer", name, "--steps", "7")
        lr = 0.001 if name == "adam" else 0.01
        assert doc["lr"] == lr
        expected = reference_bowl(name, lr, 7)
        np.testing.assert_allclose([doc["params"]["x"], doc["params"]["y"]], expected, rtol=1e-9)

    @pytest.mark.parametrize(
        ("name", "option", "value", "keyword"),
        [
            ("momentum", "--momentum", "0.5", "m"),
            ("nesterov", "--momentum", "0.7", "m"),
            ("rmsprop", "--decay-rate", "0.9", "d"),
            ("adam", "--beta1", "0.8", "b1"),
            ("adam", "--beta2", "0.99", "b2"),
        ],
    )
    def test_hyperparameters_are_honoured(
        self, invoke: Invoke, name: str, option: str, value: str, keyword: str
    ) -> None:
        doc = final(
            invoke, "optimizer_bowl", "--optimizer", name, "--lr", "0.2", option, value,
            "--steps", "12",
        )  # fmt: skip
        expected = reference_bowl(name, 0.2, 12, **{keyword: float(value)})
        np.testing.assert_allclose([doc["params"]["x"], doc["params"]["y"]], expected, rtol=1e-9)

    def test_the_library_updates_dicts_of_floats_and_arrays_in_the_books_way(self) -> None:
        """update(params, grads): arrays in place, floats replaced in the dict."""
        array = np.array([1.0, -2.0])
        params: dict[str, Any] = {"w": array, "b": 0.5}
        optimizer = make_optimizer("momentum", 0.1)
        optimizer.update(params, {"w": np.array([1.0, 1.0]), "b": 2.0})
        assert params["w"] is array
        np.testing.assert_array_equal(array, [0.9, -2.1])
        assert params["b"] == 0.5 - 0.1 * 2.0
        assert isinstance(params["b"], float)


# --- the loop on data -------------------------------------------------------------------------

REGRESSION = """\
name: regression
inputs:
  X: {zeros: [1, 3], grad: false}  # rows come from --data
  t: {zeros: 1, grad: false}
  W: [0.1, -0.2, 0.3]
  b: 0.0
nodes:
  y: X @ W + b
  loss: mean((y - t)**2)
output: loss
"""


def regression_data(folder: Path, rows: int = 40, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 3))
    t = x @ np.array([1.5, -2.0, 0.5]) + 0.7 + 0.01 * rng.standard_normal(rows)
    path = folder / "data.npz"
    np.savez(path, X=x, t=t)
    return path


def load_npz(path: Path) -> dict[str, Any]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def hand_regression(
    x: Any,
    t: Any,
    lr: float,
    steps: int,
    *,
    batch: int | None = None,
    seed: int = 0,
    weight_decay: float = 0.0,
) -> tuple[Any, float, list[float]]:
    """The book's loop by hand: minibatch by np.random.choice, gradients of the mean squared
    error, weight decay 0.5*L*sum(p**2), SGD."""
    w = np.array([0.1, -0.2, 0.3])
    b = 0.0
    rng = np.random.RandomState(seed)
    losses = []
    for _ in range(steps):
        if batch is None:
            xb, tb = x, t
        else:
            mask = rng.choice(len(x), batch)
            xb, tb = x[mask], t[mask]
        e = xb @ w + b - tb
        n = len(tb)
        loss = float(np.mean(e**2)) + 0.5 * weight_decay * (float(np.sum(w**2)) + b**2)
        dw = 2.0 * xb.T @ e / n + weight_decay * w
        db = 2.0 * float(np.sum(e)) / n + weight_decay * b
        losses.append(loss)
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses


class TestTrainingOnData:
    def test_full_batch_linear_regression_matches_a_hand_written_loop(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        data = regression_data(tmp_path)
        doc = final(invoke, str(graph), "--data", str(data), "--lr", "0.1", "--steps", "60")
        arrays = load_npz(data)
        w, b, losses = hand_regression(arrays["X"], arrays["t"], 0.1, 60)
        np.testing.assert_allclose(doc["params"]["W"], w, rtol=1e-9)
        assert doc["params"]["b"] == pytest.approx(b, rel=1e-9)
        np.testing.assert_allclose(doc["loss"], losses, rtol=1e-9)
        np.testing.assert_allclose(w, [1.5, -2.0, 0.5], atol=0.05)  # it did learn

    def test_a_batch_size_equal_to_the_rows_is_full_batch(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        data = str(regression_data(tmp_path, rows=20))
        args = (str(graph), "--data", data, "--lr", "0.05", "--steps", "9")
        assert final(invoke, *args) == final(invoke, *args, "--batch-size", "20", "--seed", "5")

    def test_minibatches_are_drawn_as_the_book_draws_them(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """np.random.choice(rows, B) from RandomState(seed): the hand loop gets the same."""
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        data = regression_data(tmp_path)
        args = [str(graph), "--data", str(data), "--lr", "0.05", "--steps", "25"]
        doc = final(invoke, *args, "--batch-size", "8", "--seed", "11")
        arrays = load_npz(data)
        w, _, losses = hand_regression(arrays["X"], arrays["t"], 0.05, 25, batch=8, seed=11)
        np.testing.assert_allclose(doc["params"]["W"], w, rtol=1e-9)
        np.testing.assert_allclose(doc["loss"], losses, rtol=1e-9)

    def test_seeded_minibatch_runs_repeat_exactly(self, invoke: Invoke, tmp_path: Path) -> None:
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        data = str(regression_data(tmp_path))
        args = [str(graph), "--data", data, "--optimizer", "adam", "--lr", "0.1"]
        args += ["--steps", "30", "--batch-size", "5"]
        first = invoke("train", *args, "-o", "json").stdout
        assert first == invoke("train", *args, "-o", "json").stdout
        assert first == invoke("train", *args, "--seed", "0", "-o", "json").stdout
        assert first != invoke("train", *args, "--seed", "1", "-o", "json").stdout

    def test_the_book_seeding_gives_the_same_rows(self, tmp_path: Path) -> None:
        """np.random.seed(S) then np.random.choice per step, as train_neuralnet.py draws."""
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        data = read_data(str(regression_data(tmp_path)), DEFAULT_LIMITS)
        trainer = Trainer(load(graph), data=data, batch_size=4, seed=7)
        draw = trainer._batches()
        assert draw is not None
        state = np.random.get_state()
        try:
            np.random.seed(7)
            for _ in range(5):
                mask = np.random.choice(data.rows, 4)
                for (_, batch), name in zip(draw(), ["X", "t"], strict=True):
                    np.testing.assert_array_equal(batch, data.arrays[name][mask])
        finally:
            np.random.set_state(state)

    def test_weight_decay_adds_the_books_term(self, invoke: Invoke, tmp_path: Path) -> None:
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        data = regression_data(tmp_path)
        args = [str(graph), "--data", str(data), "--lr", "0.1", "--steps", "20"]
        doc = final(invoke, *args, "--weight-decay", "0.3")
        arrays = load_npz(data)
        w, _, losses = hand_regression(arrays["X"], arrays["t"], 0.1, 20, weight_decay=0.3)
        np.testing.assert_allclose(doc["params"]["W"], w, rtol=1e-9)
        np.testing.assert_allclose(doc["loss"], losses, rtol=1e-9)

    def test_csv_and_tsv_data_with_tensor_columns(self, invoke: Invoke, tmp_path: Path) -> None:
        """X[0], X[1], X[2] make rows of shape 3; t is one number per row. Same as the .npz."""
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        npz = regression_data(tmp_path, rows=12)
        arrays = load_npz(npz)
        for suffix, delimiter in ((".csv", ","), (".tsv", "\t")):
            path = tmp_path / f"data{suffix}"
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
            writer.writerow(["t", "X[0]", "X[1]", "X[2]"])
            for row, target in zip(arrays["X"], arrays["t"], strict=True):
                writer.writerow([repr(float(target)), *(repr(float(v)) for v in row)])
            path.write_text(buffer.getvalue(), encoding="utf-8")
            args = [str(graph), "--lr", "0.1", "--steps", "5"]
            assert final(invoke, *args, "--data", str(path)) == final(
                invoke, *args, "--data", str(npz)
            )

    def test_two_dimensional_rows_in_csv(self, tmp_path: Path) -> None:
        path = tmp_path / "d.csv"
        path.write_text("m[0][0],m[0][1],m[1][0],m[1][1]\n1,2,3,4\n5,6,7,8\n", encoding="utf-8")
        data = read_data(str(path), DEFAULT_LIMITS)
        np.testing.assert_array_equal(data.arrays["m"], [[[1, 2], [3, 4]], [[5, 6], [7, 8]]])

    def test_the_bundled_classifier_learns_xor(self, invoke: Invoke) -> None:
        """xor_net with Adam: loss below 0.05 and every one of the 120 points right."""
        doc = final(invoke, "xor_net", "--optimizer", "adam", "--lr", "0.05", "--steps", "300")
        assert doc["loss"][-1] < 0.05
        p = {name: np.array(value) for name, value in doc["params"].items()}
        x = np.loadtxt(GRAPHS / "data" / "xor_x.csv", delimiter=",")
        t = np.loadtxt(GRAPHS / "data" / "xor_t.csv")
        scores = np.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        assert (scores.argmax(axis=1) == t).mean() == 1.0

    def test_the_bundled_npz_minibatches(self, invoke: Invoke) -> None:
        data = str(GRAPHS / "data" / "xor.npz")
        args = ["xor_net", "--data", data, "--batch-size", "16", "--optimizer", "adam"]
        doc = final(invoke, *args, "--lr", "0.05", "--steps", "300")
        assert doc["loss"][-1] < 0.1


# --- the command's options and formats -------------------------------------------------------


class TestOptions:
    def test_param_trains_only_those_inputs(self, invoke: Invoke) -> None:
        doc = final(invoke, "optimizer_bowl", "--param", "y", "--lr", "0.1", "--steps", "3")
        assert list(doc["params"]) == ["y"]
        assert doc["params"]["y"] == pytest.approx(2.0 * 0.8**3, rel=1e-12)
        assert doc["loss"][0] == 6.45

    def test_of_trains_another_scalar_node(self, invoke: Invoke, write_graph: Any) -> None:
        path = write_graph("inputs:\n  x: 3.0\nnodes:\n  a: x**2\n  b: a + 1\noutput: b\n")
        doc = final(invoke, str(path), "--of", "a", "--lr", "0.25", "--steps", "1")
        assert doc["loss"] == [9.0] and doc["params"]["x"] == 1.5

    def test_tsv_and_csv_write_the_loss_curve(self, invoke: Invoke) -> None:
        args = ("train", "optimizer_bowl", "--steps", "3", "--lr", "0.5")
        tsv = invoke(*args).stdout  # a pipe: TSV
        assert tsv == invoke(*args, "-o", "tsv").stdout
        lines = tsv.splitlines()
        assert [line.split("\t")[0] for line in lines] == ["1", "2", "3"]
        assert lines[0] == "1\t6.45"
        assert invoke(*args, "-o", "csv").stdout.splitlines()[:2] == ["step,loss", "1,6.45"]
        assert invoke(*args, "-o", "csv", "--digits", "2").stdout.splitlines()[1] == "1,6.5"

    def test_svg_is_the_loss_chart(self, invoke: Invoke) -> None:
        svg = invoke("train", "optimizer_bowl", "--steps", "10", "-o", "svg").stdout
        assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
        assert "loss (f)" in svg and "<polyline" in svg

    def test_a_terminal_gets_a_table_and_a_chart(self, invoke: Invoke) -> None:
        result = invoke("train", "optimizer_bowl", "--steps", "10", "--lr", "0.5", tty=True)
        assert result.exit_code == 0 and result.stderr == ""
        assert "param" in result.stdout and "trained" in result.stdout
        assert "loss (f)" in result.stdout and "┤" in result.stdout
        assert "SGD, lr 0.5, 10 steps" in result.stdout

    def test_compare_runs_every_optimizer(self, invoke: Invoke) -> None:
        args = ["optimizer_bowl", "--compare", "--steps", "30"]
        for name, lr in BOOK_RATES.items():
            args += ["--lr", f"{name}={lr}"]
        doc = final(invoke, *args)
        runs = {run["optimizer"]: run for run in doc["runs"]}
        assert list(runs) == list(OPTIMIZERS)
        for name, run in runs.items():
            lr = BOOK_RATES.get(name, 0.001 if name == "adam" else 0.01)
            assert run["lr"] == lr
            expected = reference_bowl(name, lr)
            np.testing.assert_allclose(
                [run["params"]["x"], run["params"]["y"]], expected, rtol=1e-9
            )

    def test_compare_with_two_params_draws_the_books_contour_figure(self, invoke: Invoke) -> None:
        args = ["train", "optimizer_bowl", "--compare", "--steps", "30", "-o", "svg"]
        svg = invoke(*args, "--lr", "sgd=0.95", "--lr", "adam=0.3").stdout
        assert svg.count("<polyline") == 6  # a path per optimizer
        assert svg.count("<circle") == 6 * 31  # a dot per position: the start and 30 steps
        assert '<path d="M' in svg and "SGD (lr 0.95)" in svg and "Adam (lr 0.3)" in svg

    def test_compare_otherwise_draws_the_loss_curves(self, invoke: Invoke, tmp_path: Path) -> None:
        graph = tmp_path / "regression.yaml"
        graph.write_text(REGRESSION, encoding="utf-8")
        data = str(regression_data(tmp_path))
        args = ["train", str(graph), "--data", data, "--compare", "--steps", "5"]
        svg = invoke(*args, "-o", "svg").stdout
        assert "loss (loss)" in svg and "RMSprop (lr 0.01)" in svg
        rows = invoke(*args, "-o", "csv").stdout.splitlines()
        assert rows[0] == "step," + ",".join(f"loss_{name}" for name in OPTIMIZERS)
        table = invoke(*args, tty=True).stdout
        assert "optimizer" in table and "Nesterov" in table

    def test_compare_takes_a_plain_lr_for_the_others(self, invoke: Invoke) -> None:
        doc = final(invoke, "optimizer_bowl", "--compare", "--steps", "2", "--lr", "0.2",
                    "--lr", "sgd=0.9")  # fmt: skip
        assert [run["lr"] for run in doc["runs"]] == [0.9, 0.2, 0.2, 0.2, 0.2, 0.2]

    def test_the_loaded_graph_keeps_its_values(self) -> None:
        """Training copies its params: the graph it started from is unchanged."""
        graph = load(GRAPHS / "xor_net.yaml")
        before = graph.inputs["W1"].value.copy()
        trainer = Trainer(graph)
        trainer.run("sgd", Hyper(lr=0.5), steps=3)
        np.testing.assert_array_equal(graph.inputs["W1"].value, before)
        again = trainer.run("sgd", Hyper(lr=0.5), steps=3)
        assert again.loss[0] == trainer.run("sgd", Hyper(lr=0.5), steps=1).loss[0]

    def test_an_input_no_gradient_reaches_stays_put(self, invoke: Invoke, write_graph: Any) -> None:
        path = write_graph("inputs:\n  x: 3.0\n  unused: 5.0\nnodes:\n  y: x**2\n")
        doc = final(invoke, str(path), "--steps", "2")
        assert doc["params"]["unused"] == 5.0

    def test_help_lists_the_command(self, invoke: Invoke) -> None:
        assert "train" in invoke("--help").stdout
        assert "--save-on-interrupt" in invoke("train", "--help").stdout


def test_losses_are_lossless_in_json(invoke: Invoke) -> None:
    doc = final(invoke, "optimizer_bowl", "--steps", "4", "--lr", "0.3")
    losses = Trainer(load(BOWL)).run("sgd", Hyper(lr=0.3), steps=4).loss
    assert doc["loss"] == losses
    assert all(isinstance(loss, float) and math.isfinite(loss) for loss in losses)
