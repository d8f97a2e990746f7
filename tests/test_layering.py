"""The library speaks in the graph's terms; the command line adds its option names."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpcalc import loads
from bpcalc.analysis.check import inputs_to_check
from bpcalc.errors import UsageProblem
from tests.conftest import Invoke

GRAPH = "inputs:\n  x: 2\n  t: {value: 1, grad: false}\nnodes:\n  y: x * t\n"


def test_an_unknown_target_is_a_problem_about_of() -> None:
    """evaluate(of=...) names no option; the problem says which argument was wrong."""
    with pytest.raises(UsageProblem) as caught:
        loads(GRAPH).evaluate(of="nope")
    assert caught.value.about == "of"
    assert caught.value.diagnostics[0].message == "no input or node named 'nope' in <string>"


@pytest.mark.parametrize(
    ("wrt", "message"),
    [
        ("t", "input 't' has 'grad: false', so it has no gradient to check"),
        ("y", "'y' is a node; check perturbs inputs (use --of to differentiate another node)"),
        ("z", "no input named 'z'"),
    ],
)
def test_check_names_problems_with_wrt(wrt: str, message: str) -> None:
    with pytest.raises(UsageProblem) as caught:
        inputs_to_check(loads(GRAPH), [wrt])
    assert (caught.value.about, caught.value.diagnostics[0].message) == ("wrt", message)


def test_the_command_line_puts_the_option_in_front(invoke: Invoke) -> None:
    """The same problems on the command line: `Error: --of: ...`, `Error: --wrt: ...`."""
    of = invoke("run", "apple_orange", "--of", "nope")
    assert of.exit_code == 2
    assert of.stderr.startswith("Error: --of: no input or node named 'nope' in apple_orange")
    wrt = invoke("check", "apple_orange", "--wrt", "price")
    assert wrt.exit_code == 2
    assert wrt.stderr.startswith("Error: --wrt: 'price' is a node; check perturbs inputs")


def test_a_batch_column_naming_a_node_does_not_speak_of_set(invoke: Invoke, tmp_path: Path) -> None:
    """A --batch column naming a node is refused in its own terms (no word of --set)."""
    rows = tmp_path / "rows.csv"
    rows.write_text("price\n1\n", encoding="utf-8")
    result = invoke("run", "apple_orange", "--batch", str(rows))
    assert result.exit_code == 2
    assert "column 'price': 'price' is a node, not an input" in result.stderr
    assert "--set" not in result.stderr
