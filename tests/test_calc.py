"""bpcalc calc: a calculator without a file (issue 11, item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Invoke


class TestResults:
    def test_the_issue_example_prints_the_bare_gradient(self, invoke: Invoke) -> None:
        """d(x**2 + 3x)/dx at 2 = 2*2 + 3 = 7."""
        result = invoke("calc", "f = x**2 + 3*x", "x=2", "--wrt", "x")
        assert (result.exit_code, result.stdout, result.stderr) == (0, "7.0\n", "")

    def test_without_wrt_it_prints_what_run_prints(self, invoke: Invoke, tmp_path: Path) -> None:
        """The same rows as `bpcalc run` of the graph file --save writes."""
        saved = tmp_path / "cs231n.yaml"
        args = ["q = x + y", "f = q * z", "x=-2", "y=5", "z=-4"]
        result = invoke("calc", *args, "--save", str(saved))
        assert result.exit_code == 0
        assert result.stdout == invoke("run", str(saved)).stdout
        # CS231n's numbers: q = 3, f = -12, df/dx = df/dy = z = -4, df/dz = q = 3.
        assert "x\t-2.0\t-4.0\n" in result.stdout and "z\t-4.0\t3.0\n" in result.stdout

    def test_later_expressions_use_earlier_ones_and_inputs_take_yaml_values(
        self, invoke: Invoke
    ) -> None:
        """x = [1, 2]: s = sum(x * x) = 5, ds/dx = 2x."""
        result = invoke("calc", "s = sum(x * x)", "x=[1, 2]", "--wrt", "x", "-o", "json")
        assert result.exit_code == 0
        assert json.loads(result.stdout) == {"x": [2.0, 4.0]}

    def test_a_bare_last_expression_is_named_result(self, invoke: Invoke) -> None:
        result = invoke("calc", "2 * 3 + 1")
        assert result.exit_code == 0
        assert result.stdout.splitlines()[-1] == "result\t7.0\t1.0"

    def test_exact_and_of(self, invoke: Invoke) -> None:
        """b = (3t)**2: db/dt = 18t = 19.8 exactly with --exact (in float64 too, as it happens
        here); --of a gives da/dt = 3."""
        exact = invoke("calc", "a = 3 * t", "b = a * a", "t=1.1", "--exact", "--wrt", "t")
        assert exact.stdout == "19.8\n"
        of = invoke("calc", "a = 3 * t", "b = a * a", "t=1.1", "--of", "a", "--wrt", "t")
        assert of.stdout == "3.0\n"


class TestProblems:
    def test_names_used_but_not_given_are_listed(self, invoke: Invoke) -> None:
        result = invoke("calc", "f = x * y + z")
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr == (
            "calc: names are used but not given: x, y, z; give each a value, such as x=1 y=1 z=1\n"
        )

    def test_an_error_points_into_its_argument(self, invoke: Invoke) -> None:
        """Column 9 of argument 2 is the 'sqr' of 'b = a + sqr(a)'."""
        result = invoke("calc", "a = x * 2", "b = a + sqr(a)", "x=1")
        assert result.exit_code == 1
        assert result.stderr.startswith("calc: argument 2, column 9: unknown op 'sqr'")

    def test_a_name_given_twice_is_refused(self, invoke: Invoke) -> None:
        result = invoke("calc", "f = x * 2", "x=1", "x=2")
        assert result.exit_code == 1
        assert "calc: argument 3, column 1: 'x' is already given by argument 2" in result.stderr

    def test_only_the_last_argument_may_be_bare(self, invoke: Invoke) -> None:
        result = invoke("calc", "x * 2", "x=1")
        assert result.exit_code == 1
        assert result.stderr.startswith("calc: argument 1: expected 'name = expression'")

    @pytest.mark.parametrize("word", ["if = 3 * 2", "2x = 1"])
    def test_a_bad_name_is_refused(self, invoke: Invoke, word: str) -> None:
        result = invoke("calc", word, "y = 1 + 1")
        assert result.exit_code == 1
        assert result.stderr.startswith("calc: argument 1")


class TestSave:
    def test_save_refuses_to_overwrite_without_force(self, invoke: Invoke, tmp_path: Path) -> None:
        target = tmp_path / "graph.yaml"
        target.write_text("keep me\n", encoding="utf-8")
        refused = invoke("calc", "f = x + 1", "x=1", "--save", str(target))
        assert refused.exit_code == 2
        assert refused.stderr == f"Error: {target} exists; pass --force to overwrite it\n"
        assert target.read_text(encoding="utf-8") == "keep me\n"
        forced = invoke("calc", "f = x + 1", "x=1", "--save", str(target), "--force")
        assert forced.exit_code == 0
        assert invoke("grad", str(target), "--wrt", "x").stdout == "1.0\n"

    def test_save_leaves_no_temporary_file(self, invoke: Invoke, tmp_path: Path) -> None:
        target = tmp_path / "g.yaml"
        assert invoke("calc", "f = x * 3", "x=2", "--save", str(target)).exit_code == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == ["g.yaml"]

    def test_save_into_a_missing_folder_is_a_usage_error(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        result = invoke("calc", "f = x", "x=1", "--save", str(tmp_path / "no" / "g.yaml"))
        assert result.exit_code == 2
        assert "there is no folder" in result.stderr
