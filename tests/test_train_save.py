"""``bpcalc train --save``: the trained graph written back (YAML with comments kept, JSON, or an
.npz), atomically, never over a file without --force; the saved graph runs with the values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bpcalc import load
from tests.conftest import GRAPHS, Invoke


def trained(invoke: Invoke, *args: str) -> dict[str, Any]:
    result = invoke("train", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout)["params"])


class TestSaveRoundTrip:
    def test_yaml_keeps_comments_and_order_and_runs_with_the_trained_values(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        out = tmp_path / "bowl.yaml"
        params = trained(
            invoke, "optimizer_bowl", "--lr", "0.3", "--steps", "7", "--save", str(out)
        )
        original = (GRAPHS / "optimizer_bowl.yaml").read_text(encoding="utf-8")
        text = out.read_text(encoding="utf-8")
        assert text == original.replace("-7.0", repr(params["x"])).replace(
            "y: 2.0", f"y: {params['y']!r}"
        )
        result = invoke("run", str(out), "-o", "json")
        values = json.loads(result.stdout)["values"]
        assert values["x"] == params["x"] and values["y"] == params["y"]

    def test_tensors_and_generated_inputs_become_literals(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        out = tmp_path / "net.yaml"
        args = ["xor_net", "--optimizer", "adam", "--lr", "0.05", "--steps", "20"]
        params = trained(invoke, *args, "--save", str(out), "--force")
        graph = load(out)
        for name, value in params.items():
            np.testing.assert_array_equal(graph.inputs[name].value, np.array(value))
        text = out.read_text(encoding="utf-8")
        assert "# 120 points, one per row" in text  # comments kept
        assert "{random:" not in text

    def test_a_saved_graph_notes_files_relative_to_another_folder(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        folder = tmp_path / "graph"
        folder.mkdir()
        (folder / "x.csv").write_text("1\n2\n3\n", encoding="utf-8")
        graph = folder / "g.yaml"
        graph.write_text(
            "inputs:\n  x: {file: x.csv, grad: false}\n  w: 0.5\nnodes:\n  y: sum(w * x)\n",
            encoding="utf-8",
        )
        out = tmp_path / "net.yaml"
        result = invoke("train", str(graph), "--steps", "2", "--save", str(out))
        assert result.exit_code == 0
        assert f"inputs 'x' read files relative to {folder}" in result.stderr
        assert f"--base-dir {folder}" in result.stderr
        beside = folder / "saved.yaml"
        result = invoke("train", str(graph), "--steps", "2", "--save", str(beside))
        assert result.stderr == ""
        assert load(beside).inputs["w"].value == 0.5 - 2 * 0.01 * 6.0

    def test_block_values_are_replaced_and_their_comments_noted(
        self, invoke: Invoke, write_graph: Any, tmp_path: Path
    ) -> None:
        path = write_graph(
            "# a graph\ninputs:\n  w:\n    - 1.0  # first\n    - 2.0\n  k: 3.0\nnodes:\n"
            "  y: sum(w * w) * k\n"
        )
        out = tmp_path / "out.yaml"
        result = invoke("train", str(path), "--param", "w", "--steps", "2", "--save", str(out))
        assert result.exit_code == 0
        assert "the comments inside the old value of 'w' are not kept" in result.stderr
        text = out.read_text(encoding="utf-8")
        assert text.startswith("# a graph\ninputs:\n  w: [") and "  k: 3.0\n" in text
        np.testing.assert_allclose(load(out).inputs["w"].value, [1.0 * 0.94**2, 2.0 * 0.94**2])

    def test_set_values_go_into_the_saved_graph(self, invoke: Invoke, tmp_path: Path) -> None:
        out = tmp_path / "out.yaml"
        args = ["optimizer_bowl", "--param", "y", "--set", "x=3", "--steps", "1"]
        trained(invoke, *args, "--save", str(out))
        assert load(out).inputs["x"].value == 3.0

    def test_json_graphs_are_written_afresh(
        self, invoke: Invoke, write_graph: Any, tmp_path: Path
    ) -> None:
        path = write_graph('{"inputs": {"x": 3, "c": {"value": 2, "grad": false}}, '
                           '"nodes": {"y": "x * x * c"}}', "g.json")  # fmt: skip
        out = tmp_path / "out.yaml"
        params = trained(invoke, str(path), "--steps", "3", "--save", str(out))
        assert load(out).inputs["x"].value == params["x"]
        assert load(out).inputs["c"].grad is False
        out_json = tmp_path / "out.json"
        trained(invoke, str(path), "--steps", "3", "--save", str(out_json))
        assert json.loads(out_json.read_text())["inputs"]["x"] == params["x"]

    def test_a_yaml_graph_saved_as_json_says_its_comments_go(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        out = tmp_path / "bowl.json"
        result = invoke("train", "optimizer_bowl", "--steps", "2", "--save", str(out))
        assert result.exit_code == 0
        assert "its comments and layout are not kept" in result.stderr
        assert load(out).inputs["x"].value != -7.0

    def test_npz_holds_the_params(self, invoke: Invoke, tmp_path: Path) -> None:
        out = tmp_path / "params.npz"
        params = trained(invoke, "xor_net", "--steps", "3", "--save", str(out))
        with np.load(out) as archive:
            assert sorted(archive.files) == sorted(params)
            for name, value in params.items():
                np.testing.assert_array_equal(archive[name], np.array(value))

    def test_npz_takes_any_param_name(
        self, invoke: Invoke, write_graph: Any, tmp_path: Path
    ) -> None:
        path = write_graph(
            "inputs:\n  file: 1.0\n  allow_pickle: 2.0\nnodes:\n  y: file * allow_pickle\n"
        )
        out = tmp_path / "p.npz"
        trained(invoke, str(path), "--steps", "1", "--save", str(out))
        with np.load(out) as archive:
            assert sorted(archive.files) == ["allow_pickle", "file"]


class TestSaveRefusals:
    def test_an_existing_file_is_not_overwritten_without_force(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        out = tmp_path / "out.yaml"
        out.write_text("precious\n")
        result = invoke("train", "optimizer_bowl", "--save", str(out))
        assert result.exit_code == 2
        assert result.stderr == f"Error: {out} exists; pass --force to overwrite it\n"
        assert out.read_text() == "precious\n"
        assert result.stdout == ""
        forced = invoke("train", "optimizer_bowl", "--save", str(out), "--force")
        assert forced.exit_code == 0 and "precious" not in out.read_text()

    @pytest.mark.parametrize("problem", ["folder", "missing folder"])
    def test_nowhere_to_write(self, invoke: Invoke, tmp_path: Path, problem: str) -> None:
        target = tmp_path if problem == "folder" else tmp_path / "no" / "x.yaml"
        result = invoke("train", "optimizer_bowl", "--save", str(target))
        assert result.exit_code == 2
        assert "Error: cannot write " in result.stderr

    def test_a_failed_write_leaves_no_temporary_file(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import os

        def refuse(*args: Any) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", refuse)
        result = invoke("train", "optimizer_bowl", "--save", str(tmp_path / "out.yaml"))
        assert result.exit_code == 2
        assert "No space left on device" in result.stderr
        assert list(tmp_path.iterdir()) == []
