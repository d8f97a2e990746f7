"""``bpcalc train`` when something is wrong: divergence, bad data, bad options, Ctrl-C."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import Invoke
from tests.test_hostile import start

REGRESSION = """\
inputs:
  X: {zeros: [1, 3], grad: false}
  t: {zeros: 1, grad: false}
  W: [0.1, -0.2, 0.3]
  b: 0.0
nodes:
  y: X @ W + b
  loss: mean((y - t)**2)
output: loss
"""


@pytest.fixture
def regression(tmp_path: Path) -> Path:
    path = tmp_path / "regression.yaml"
    path.write_text(REGRESSION, encoding="utf-8")
    return path


def npz(folder: Path, **arrays: Any) -> str:
    path = folder / "data.npz"
    np.savez(path, **arrays)
    return str(path)


class TestDivergence:
    def test_an_infinite_loss_stops_with_exit_1_naming_step_and_param(self, invoke: Invoke) -> None:
        result = invoke("train", "optimizer_bowl", "--lr", "1e100", "--steps", "50")
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.startswith("Error: training stopped at step 3: the loss 'f' is ")
        assert "param 'y'" in result.stderr and "lower learning rate" in result.stderr

    def test_a_nan_gradient_names_its_param(self, invoke: Invoke, write_graph: Any) -> None:
        path = write_graph("inputs:\n  a: 1.0\n  w: 0.5\nnodes:\n  y: a * w**0.5\n")
        result = invoke("train", str(path), "--param", "w", "--lr", "1", "--steps", "5")
        assert result.exit_code == 1
        assert "training stopped at step 2" in result.stderr
        assert "param 'w'" in result.stderr

    def test_nan_in_the_data_stops_at_step_1(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        x = np.ones((4, 3))
        x[2, 1] = np.nan
        data = npz(tmp_path, X=x, t=np.zeros(4))
        result = invoke("train", str(regression), "--data", data)
        assert result.exit_code == 1
        assert "training stopped at step 1" in result.stderr

    def test_the_last_update_is_checked_too(self, invoke: Invoke) -> None:
        result = invoke("train", "optimizer_bowl", "--lr", "1e308", "--steps", "1")
        assert result.exit_code == 1
        assert "after step 1: its update made param 'y' infinite" in result.stderr


class TestBadData:
    def test_rows_that_do_not_fit_the_input_are_located(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        data = npz(tmp_path, X=np.ones((4, 2)), t=np.zeros(4))
        result = invoke("train", str(regression), "--data", data)
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert lines[0] == (
            f"{data}: array 'X' has rows of shape 2, which do not fit input 'X' (1×3): "
            f"its rows along axis 0 are shape 3"
        )
        assert lines[1].startswith(f"{regression}:2:3: note: input 'X' is defined here")

    def test_a_scalar_input_takes_one_number_per_row(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        data = npz(tmp_path, X=np.ones((4, 3)), t=np.zeros((4, 2)))
        result = invoke("train", str(regression), "--data", data)
        assert result.exit_code == 1
        assert "array 't' has rows of shape 2" in result.stderr

    def test_arrays_of_different_lengths(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        data = npz(tmp_path, X=np.ones((4, 3)), t=np.zeros(5))
        result = invoke("train", str(regression), "--data", data)
        assert result.exit_code == 1
        assert result.stderr == (
            f"{data}: array 't' has 5 rows but array 'X' has 4; every array of the data "
            f"needs the same number of rows\n"
        )

    def test_an_array_naming_no_input_is_a_usage_error_with_a_hint(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        data = npz(tmp_path, X=np.ones((4, 3)), tt=np.zeros(4))
        result = invoke("train", str(regression), "--data", data)
        assert result.exit_code == 2
        assert "array 'tt' names no input of" in result.stderr
        assert "(did you mean 't'?)" in result.stderr

    def test_data_for_a_param_is_refused(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        data = npz(tmp_path, W=np.ones((4, 3)))
        result = invoke("train", str(regression), "--data", data)
        assert result.exit_code == 2
        assert "gives values to 'W', which is a param being trained" in result.stderr

    def test_a_csv_cell_that_is_not_a_number_is_located(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        path = tmp_path / "d.csv"
        path.write_text("t,X[0],X[1],X[2]\n1,2,3,4\n1,2,x,4\n", encoding="utf-8")
        result = invoke("train", str(regression), "--data", str(path))
        assert result.exit_code == 1
        assert result.stderr == f"{path}:3: column 'X[1]': expected a number, got 'x'\n"

    @pytest.mark.parametrize(
        ("header", "message"),
        [
            ("t,X[0],X[2]", "column 'X[1]' is missing"),
            ("t,X[0],X[1],X[1]", "column 'X[1]' appears twice"),
            ("t,X[0],X[0][1]", "the columns of 'X' differ in their indices"),
            ("t,X,X[0]", "'X' has a column of its own as well"),
            ("t,X[a]", "write a tensor's element as NAME[i]"),
        ],
    )
    def test_bad_csv_headers(
        self, invoke: Invoke, regression: Path, tmp_path: Path, header: str, message: str
    ) -> None:
        path = tmp_path / "d.csv"
        cells = ",".join("1" for _ in header.split(","))
        path.write_text(f"{header}\n{cells}\n", encoding="utf-8")
        result = invoke("train", str(regression), "--data", str(path))
        assert result.exit_code == 1
        assert result.stderr.startswith(f"{path}:1: ") and message in result.stderr

    def test_files_that_are_not_data(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        (tmp_path / "bad.npz").write_bytes(b"not a zip")
        (tmp_path / "d.json").write_text("{}")
        cases = {
            str(tmp_path / "bad.npz"): (1, "not an .npz file"),
            str(tmp_path / "d.json"): (2, "Error: --data: "),
            str(tmp_path / "missing.csv"): (2, "does not exist"),
        }
        for file, (code, text) in cases.items():
            result = invoke("train", str(regression), "--data", file)
            assert result.exit_code == code, file
            assert text in result.stderr

    def test_a_batch_larger_than_the_data(
        self, invoke: Invoke, regression: Path, tmp_path: Path
    ) -> None:
        data = npz(tmp_path, X=np.ones((4, 3)), t=np.zeros(4))
        result = invoke("train", str(regression), "--data", data, "--batch-size", "5")
        assert result.exit_code == 2
        assert result.stderr == f"Error: --batch-size: 5 is more than the 4 rows of {data}\n"


class TestBadOptions:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--param", "f"], "Error: --param: 'f' is a node, not an input; only inputs are"),
            (["--param", "xx"], "(did you mean 'x'?)"),
            (["--batch-size", "4"], "Error: --batch-size: a batch size needs data"),
            (["--lr", "0"], "Error: --lr 0: expected a rate above 0"),
            (["--lr", "sgdd=1"], "no optimizer 'sgdd'"),
            (["--lr", "0.1", "--lr", "0.2"], "a rate given twice"),
            (["--lr", "adam=0.3"], "the optimizer is sgd; pass --optimizer adam"),
            (["--momentum", "0.5"], "--momentum goes with --optimizer momentum or nesterov"),
            (["--beta1", "0.5", "--optimizer", "rmsprop"], "--beta1 goes with --optimizer adam"),
            (["--force"], "Error: --force goes with --save FILE"),
            (["--save-on-interrupt"], "--save-on-interrupt goes with --save FILE"),
            (["--compare", "--save", "x.yaml"], "it does not go with --compare"),
            (["--of", "nope"], "Error: --of: no input or node named 'nope'"),
        ],
    )
    def test_usage_errors(self, invoke: Invoke, args: list[str], message: str) -> None:
        result = invoke("train", "optimizer_bowl", *args)
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr
        assert result.stdout == ""

    def test_a_grad_false_input_is_not_a_param(self, invoke: Invoke) -> None:
        result = invoke("train", "two_layer_net", "--param", "t")
        assert result.exit_code == 2
        assert "Error: --param: input 't' has 'grad: false'" in result.stderr
        assert "remove 'grad: false'" in result.stderr

    def test_nothing_to_train(self, invoke: Invoke, write_graph: Any) -> None:
        path = write_graph("inputs:\n  x: {value: 1.0, grad: false}\nnodes:\n  y: x * 2\n")
        result = invoke("train", str(path))
        assert result.exit_code == 2
        assert "there is nothing to train" in result.stderr

    def test_a_tensor_loss_is_refused(self, invoke: Invoke) -> None:
        result = invoke("train", "two_layer_net", "--of", "a2")
        assert result.exit_code == 2
        assert "Error: --of: 'a2' is a tensor of shape 4×3; training minimises a scalar" in (
            result.stderr
        )


class TestCtrlC:
    @staticmethod
    def interrupt(folder: Path, *args: str, wait: float) -> tuple[int, bytes, bytes]:
        with start("train", "optimizer_bowl", "--steps", "100000000", *args, cwd=folder) as p:
            time.sleep(wait)
            p.send_signal(signal.SIGINT)
            stdout, stderr = p.communicate(timeout=30)
        return p.returncode, stdout, stderr

    def test_ctrl_c_exits_130_and_saves_nothing(self, tmp_path: Path) -> None:
        code, stdout, stderr = self.interrupt(tmp_path, "--save", "out.yaml", wait=2.0)
        assert code == 130
        assert stdout == b""
        assert b"Traceback" not in stderr
        assert not (tmp_path / "out.yaml").exists()
        assert not list(tmp_path.iterdir())  # no temporary file left either
        if stderr:  # interrupted while training (not while starting up)
            assert b"nothing saved (--save-on-interrupt saves anyway)" in stderr

    def test_save_on_interrupt_saves_the_last_finished_step(self, tmp_path: Path) -> None:
        for wait in (2.0, 4.0, 8.0):  # a slow machine may still be starting up
            args = ("--save", "out.yaml", "--save-on-interrupt", "--lr", "1e-9")
            code, _, stderr = self.interrupt(tmp_path, *args, wait=wait)
            assert code == 130
            if b"interrupted after step" in stderr:
                break
        assert b"saved the values of step" in stderr
        text = (tmp_path / "out.yaml").read_text(encoding="utf-8")
        assert "# the book's starting point" in text  # the original, values rewritten
        from bpcalc import load

        x = load(tmp_path / "out.yaml").inputs["x"].value
        assert -7.0 < x < -6.9  # trained, but a tiny rate moves it little
        assert json.dumps(x)
