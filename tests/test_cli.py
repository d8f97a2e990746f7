"""The run, grad, examples and completion commands, as a terminal and a script see them."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import yaml

from bpcalc import load
from bpcalc.cli import cli
from tests.conftest import GRAPHS, Invoke

WriteGraph = Callable[..., Path]
BOOK = load(GRAPHS / "apple_orange.yaml").evaluate()


class TestRunFormats:
    def test_tsv_lists_every_input_and_node_in_order(self, invoke: Invoke) -> None:
        """Piped run prints name, value, grad for inputs first, then nodes."""
        result = invoke("run", "apple_orange")
        names = [line.split("\t")[0] for line in result.stdout.splitlines()]
        assert names == list(BOOK.values)
        for line in result.stdout.splitlines():
            name, value, grad = line.split("\t")
            assert float(value) == BOOK.values[name]
            assert float(grad) == BOOK.grads[name]

    def test_csv_has_a_header_and_lossless_numbers(self, invoke: Invoke) -> None:
        """-o csv starts with name,value,grad and round-trips every float."""
        result = invoke("run", "apple_orange", "-o", "csv")
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert rows[0] == ["name", "value", "grad"]
        assert {r[0]: float(r[2]) for r in rows[1:]} == BOOK.grads

    def test_json_document_has_graph_output_values_and_grads(self, invoke: Invoke) -> None:
        """-o json writes the documented object with inputs and nodes in order."""
        document = json.loads(invoke("run", "apple_orange", "-o", "json").stdout)
        assert list(document) == ["graph", "output", "values", "grads"]
        assert document["graph"] == "apple_orange"
        assert document["output"] == "price"
        assert document["values"] == BOOK.values
        assert document["grads"] == BOOK.grads
        assert list(document["grads"]) == list(BOOK.values)

    def test_json_arrays_are_nested_lists_and_no_grad_inputs_are_null(self, invoke: Invoke) -> None:
        """Tensors become nested lists; a grad: false input has a null gradient."""
        document = json.loads(invoke("run", "two_layer_net", "-o", "json").stdout)
        assert document["grads"]["t"] is None
        assert document["values"]["t"] == [0.0, 2.0, 1.0, 2.0]
        assert len(document["values"]["x"]) == 4 and len(document["values"]["x"][0]) == 5

    def test_table_on_a_terminal_rounds_to_twelve_digits(self, invoke: Invoke) -> None:
        """A terminal gets a table where 3.3000000000000003 reads 3.3 and 715.0000000000001 715."""
        result = invoke("run", "apple_orange", tty=True)
        assert "3.3000000000000003" not in result.stdout
        orange = next(line for line in result.stdout.splitlines() if " orange " in line)
        assert orange.split()[-2:] == ["150", "3.3"]
        assert "price = 715" in result.stdout
        assert "\t" not in result.stdout

    def test_digits_rounds_machine_formats(self, invoke: Invoke) -> None:
        """--digits 3 writes three significant digits in TSV."""
        result = invoke("run", "apple_orange", "--digits", "3")
        assert "orange\t150\t3.3\n" in result.stdout
        assert "price\t715\t1\n" in result.stdout

    def test_names_with_brackets_are_not_eaten_as_markup(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A tensor shown as `[nan inf]` in a table is text, not a rich markup tag."""
        path = write_graph("inputs: {x: [.nan, .inf]}\nnodes:\n  y: sum(relu(x) * x)\n")
        result = invoke("run", str(path), tty=True)
        assert "[nan inf]" in result.stdout
        assert "relu(x) * x" in result.stdout


class TestGrad:
    def test_several_wrt_print_one_gradient_per_line_in_order(self, invoke: Invoke) -> None:
        """Gradients come out in the order of --wrt, one per line."""
        result = invoke("grad", "apple_orange", "--wrt", "tax", "--wrt", "orange")
        assert result.stdout == "650.0\n3.3000000000000003\n"

    def test_set_changes_an_input_before_evaluating(self, invoke: Invoke) -> None:
        """--set tax=1.08 gives dApple = 2 * 1.08."""
        result = invoke("grad", "apple_orange", "--wrt", "apple", "--set", "tax=1.08")
        assert float(result.stdout) == 2 * 1.08

    def test_set_accepts_a_yaml_mapping(self, invoke: Invoke) -> None:
        """--set takes any input value form, here a tensor from zeros."""
        result = invoke("grad", "activations", "--wrt", "w", "--set", "x={zeros: 5}")
        # d loss / d w = relu(x) + sigmoid(x) = 0 + 0.5 at x = 0.
        assert json.loads(result.stdout.strip()) == [0.5] * 5

    def test_of_differentiates_another_node(self, invoke: Invoke) -> None:
        """--of all_price gives d all_price / d apple = apple_num = 2."""
        result = invoke("grad", "apple_orange", "--wrt", "apple", "--of", "all_price")
        assert result.stdout == "2.0\n"

    def test_json_maps_names_to_gradients(self, invoke: Invoke) -> None:
        """grad -o json writes {name: gradient}."""
        result = invoke("grad", "apple_orange", "--wrt", "apple", "--wrt", "tax", "-o", "json")
        assert json.loads(result.stdout) == {"apple": 2.2, "tax": 650.0}

    def test_tsv_and_csv_name_each_gradient(self, invoke: Invoke) -> None:
        """-o tsv writes name<TAB>grad; -o csv adds a header."""
        tsv = invoke("grad", "apple_orange", "--wrt", "apple", "-o", "tsv").stdout
        assert tsv == "apple\t2.2\n"
        csv_text = invoke("grad", "apple_orange", "--wrt", "apple", "-o", "csv").stdout
        assert csv_text == "name,grad\napple,2.2\n"

    def test_table_on_a_terminal(self, invoke: Invoke) -> None:
        """A terminal gets a table with the value and the gradient."""
        result = invoke("grad", "apple_orange", "--wrt", "orange", tty=True)
        row = next(line for line in result.stdout.splitlines() if "orange" in line)
        assert row.split() == ["orange", "150", "3.3"]

    def test_tensor_gradient_is_one_line_of_nested_lists(self, invoke: Invoke) -> None:
        """A tensor's gradient in a pipe is its nested list on one line."""
        result = invoke("grad", "two_layer_net", "--wrt", "b2")
        assert result.stdout.count("\n") == 1
        assert len(json.loads(result.stdout)) == 3


class TestErrors:
    def test_unknown_wrt_is_a_usage_error_with_a_hint(self, invoke: Invoke) -> None:
        """A typo in --wrt exits 2 with a did-you-mean on stderr and nothing on stdout."""
        result = invoke("grad", "apple_orange", "--wrt", "aple")
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == (
            "Error: --wrt: no input or node named 'aple' in apple_orange.yaml "
            "(did you mean 'apple'?)\n"
        )

    def test_wrt_a_no_grad_input_is_a_usage_error(self, invoke: Invoke) -> None:
        """Asking for the gradient of a grad: false input says why there is none."""
        result = invoke("grad", "two_layer_net", "--wrt", "t")
        assert result.exit_code == 2
        assert "'grad: false'" in result.stderr

    def test_set_of_a_node_or_unknown_name_is_a_usage_error(self, invoke: Invoke) -> None:
        """--set only changes inputs, and says so."""
        node = invoke("run", "apple_orange", "--set", "price=3")
        assert node.exit_code == 2
        assert "'price' is a node, not an input" in node.stderr
        typo = invoke("run", "apple_orange", "--set", "taxx=3")
        assert typo.exit_code == 2
        assert "did you mean 'tax'?" in typo.stderr

    def test_set_with_a_non_number_is_a_usage_error(self, invoke: Invoke) -> None:
        """--set tax=abc is refused rather than read as text."""
        result = invoke("run", "apple_orange", "--set", "tax=abc")
        assert result.exit_code == 2
        assert result.stderr == "Error: --set tax=abc: expected a number, got 'abc'\n"

    def test_set_without_equals_is_a_usage_error(self, invoke: Invoke) -> None:
        """--set needs NAME=VALUE."""
        result = invoke("run", "apple_orange", "--set", "tax")
        assert result.exit_code == 2
        assert "--set expects NAME=VALUE" in result.stderr

    def test_unknown_of_is_a_usage_error(self, invoke: Invoke) -> None:
        """--of names a node that must exist."""
        result = invoke("run", "apple_orange", "--of", "prise")
        assert result.exit_code == 2
        assert "did you mean 'price'?" in result.stderr

    def test_invalid_graph_exits_1_with_file_line_col(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """An unknown op is reported at its position with the source line and a caret."""
        path = write_graph("inputs: {x: 2}\nnodes:\n  y: x * x\n  z: mull(y)\n")
        result = invoke("run", str(path))
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"{path}:4:6: unknown op 'mull' (did you mean 'mul'?)",
            "    4 |   z: mull(y)",
            "      |      ^",
        ]

    def test_every_error_in_a_file_is_reported(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """Two bad nodes give two messages, in file order."""
        path = write_graph("inputs: {x: 2}\nnodes:\n  a: foo(x)\n  b: x + yy\n  c: a + b\n")
        result = invoke("run", str(path))
        messages = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
        assert messages == [
            f"{path}:3:6: unknown op 'foo'; 'bpcalc ops' lists the ops",
            f"{path}:4:10: unknown name 'yy'",
        ]

    def test_a_long_source_line_is_shown_as_an_excerpt_around_the_error(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A 3,000-character line is cut to about 100 characters with the caret still right."""
        terms = " + ".join(["x0"] * 1000)
        path = write_graph(f"inputs: {{x0: 1}}\nnodes:\n  s: {terms} + nope\n")
        result = invoke("run", str(path))
        first, excerpt, caret = result.stderr.splitlines()
        column = int(first.split(":")[2])
        assert first.endswith("unknown name 'nope'")
        assert len(excerpt) < 120 and excerpt.endswith("nope")
        assert excerpt[caret.index("^") : caret.index("^") + 4] == "nope"
        assert column == len("  s: ") + len(terms) + len(" + ") + 1

    def test_a_flood_of_errors_is_cut_after_twenty(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """Sixty unknown names give twenty messages and a count of the rest."""
        terms = " + ".join(f"y{i}" for i in range(60))
        result = invoke("run", str(write_graph(f"nodes:\n  s: {terms}\n")))
        assert result.exit_code == 1
        assert result.stderr.count("unknown name") == 20
        assert result.stderr.endswith("... and 40 more errors\n")

    def test_missing_graph_file_is_a_usage_error(self, invoke: Invoke, tmp_path: Path) -> None:
        """A path that does not exist exits 2 with one line."""
        result = invoke("run", str(tmp_path / "nope.yaml"))
        assert result.exit_code == 2
        assert result.stderr == f"{tmp_path / 'nope.yaml'}: no such file\n"

    def test_a_directory_is_a_usage_error(self, invoke: Invoke, tmp_path: Path) -> None:
        """A directory as GRAPH exits 2 with one line."""
        result = invoke("run", str(tmp_path))
        assert result.exit_code == 2
        assert result.stderr == f"{tmp_path}: is a directory, not a graph file\n"

    def test_unknown_example_suggests_the_closest(self, invoke: Invoke) -> None:
        """A misspelled example name exits 2 with a hint."""
        result = invoke("run", "apple_orang")
        assert result.exit_code == 2
        assert "did you mean 'apple_orange'?" in result.stderr

    def test_bad_option_value_is_a_usage_error(self, invoke: Invoke) -> None:
        """click's own usage errors exit 2."""
        result = invoke("run", "apple_orange", "-o", "xml")
        assert result.exit_code == 2
        assert "Invalid value for '-o'" in result.stderr

    def test_non_finite_values_warn_on_stderr_and_strict_fails(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """log(0) warns naming the node; --strict turns the warning into exit 1."""
        path = write_graph("inputs: {x: 0}\nnodes:\n  y: log(x)\n")
        loose = invoke("run", str(path))
        assert loose.exit_code == 0
        assert "y\t-inf\t" in loose.stdout
        assert f"{path}:3:6: warning: the value of 'y' is not finite" in loose.stderr
        strict = invoke("run", str(path), "--strict")
        assert strict.exit_code == 1
        assert strict.stdout == ""
        assert strict.stderr.startswith(f"{path}:3:6: the value of 'y' is not finite")

    def test_evaluation_failure_names_the_node(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """A shape mismatch is reported at the node with exit 1, no traceback."""
        path = write_graph("inputs: {a: [1, 2, 3], b: [1, 2]}\nnodes:\n  c: a + b\n")
        result = invoke("run", str(path))
        assert result.exit_code == 1
        assert result.stderr.startswith(f"{path}:3:6: add failed in node 'c': ")
        assert "Traceback" not in result.stderr


class TestGraphArgument:
    def test_stdin(self, invoke: Invoke) -> None:
        """'-' reads the graph from stdin."""
        text = (GRAPHS / "apple.yaml").read_text()
        result = invoke("grad", "-", "--wrt", "tax", input=text)
        assert result.stdout == "200.0\n"

    def test_default_is_graph_yaml_in_the_current_folder(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without GRAPH, ./graph.yaml is used."""
        (tmp_path / "graph.yaml").write_text("inputs: {x: 3}\nnodes:\n  y: x * x\n")
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("BPCALC_GRAPH", raising=False)
        assert invoke("grad", "--wrt", "x").stdout == "6.0\n"

    def test_environment_variable_names_the_graph(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """$BPCALC_GRAPH wins over ./graph.yaml."""
        (tmp_path / "graph.yaml").write_text("inputs: {x: 3}\nnodes:\n  y: x * x\n")
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("BPCALC_GRAPH", "apple")
        assert invoke("grad", "--wrt", "tax").stdout == "200.0\n"

    def test_no_graph_anywhere_is_a_usage_error(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without GRAPH, variable or ./graph.yaml, the message points to bpcalc examples."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("BPCALC_GRAPH", raising=False)
        result = invoke("run")
        assert result.exit_code == 2
        assert "bpcalc examples" in result.stderr

    def test_json_graph_file(self, invoke: Invoke, write_graph: WriteGraph) -> None:
        """A .json graph with the same schema works."""
        path = write_graph('{"inputs": {"x": 2, "y": 3}, "nodes": {"z": "x * y"}}', "g.json")
        assert invoke("grad", str(path), "--wrt", "x").stdout == "3.0\n"


class TestExamples:
    def test_every_bundled_example_runs(self, invoke: Invoke) -> None:
        """Each example evaluates with finite numbers and no warnings."""
        for path in sorted(GRAPHS.glob("*.yaml")):
            result = invoke("run", path.stem, "-o", "json")
            assert result.exit_code == 0, path.stem
            assert result.stderr == ""
            document = json.loads(result.stdout)
            assert math.isfinite(json.dumps(document).count("NaN") * 0.0)
            assert "NaN" not in result.stdout and "Infinity" not in result.stdout

    def test_list_names_every_example_with_its_description(self, invoke: Invoke) -> None:
        """`bpcalc examples` in a pipe writes name<TAB>description per example."""
        rows = [line.split("\t") for line in invoke("examples").stdout.splitlines()]
        assert [r[0] for r in rows] == sorted(p.stem for p in GRAPHS.glob("*.yaml"))
        descriptions = {r[0]: r[1] for r in rows}
        expected = yaml.safe_load((GRAPHS / "apple_orange.yaml").read_text())["description"]
        assert descriptions["apple_orange"] == expected

    def test_show_prints_the_file(self, invoke: Invoke) -> None:
        """`bpcalc examples NAME` prints the example's YAML to start from."""
        result = invoke("examples", "apple")
        assert result.stdout == (GRAPHS / "apple.yaml").read_text()


class TestHelpAndCompletion:
    def test_every_command_has_help_with_an_example(self, invoke: Invoke) -> None:
        """Each command answers -h with its usage and an Example block."""
        ctx = click.Context(cli)
        for name in cli.list_commands(ctx):
            result = invoke(name, "-h")
            assert result.exit_code == 0, name
            assert f"Usage: bpcalc {name}" in result.stdout
            assert "Example:" in result.stdout, name

    def test_lazy_commands_short_help_matches_the_commands(self) -> None:
        """--help lists every command from SHORT_HELP; each text is the command's own."""
        from bpcalc.cli.commands import SHORT_HELP

        ctx = click.Context(cli)
        assert cli.list_commands(ctx) == sorted(SHORT_HELP)
        for name, short_help in SHORT_HELP.items():
            command = cli.get_command(ctx, name)
            assert command is not None and command.short_help == short_help, name

    def test_top_level_help_lists_ops_and_exit_codes(self, invoke: Invoke) -> None:
        """bpcalc --help names the ops (from the registry) and the exit codes."""
        result = invoke("--help")
        assert "softmax_with_loss" in result.stdout
        assert "Exit codes" in result.stdout

    def test_version(self, invoke: Invoke) -> None:
        """--version prints the package version."""
        assert invoke("--version").stdout.startswith("bpcalc, version ")

    def test_completion_script_for_each_shell(self, invoke: Invoke) -> None:
        """`bpcalc completion SHELL` prints a script that calls back into bpcalc."""
        for shell in ("bash", "zsh", "fish"):
            result = invoke("completion", shell)
            assert result.exit_code == 0
            assert "_BPCALC_COMPLETE" in result.stdout

    def test_wrt_completes_node_names(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Completing --wrt offers the graph's inputs and nodes."""
        from click.shell_completion import ShellComplete

        complete = ShellComplete(cli, {}, "bpcalc", "_BPCALC_COMPLETE")
        names = [
            c.value for c in complete.get_completions(["grad", "apple_orange", "--wrt"], "app")
        ]
        assert names == ["apple", "apple_num", "apple_price"]
        sets = [c.value for c in complete.get_completions(["run", "apple_orange", "--set"], "ta")]
        assert sets == ["tax="]


def complete(shell: str, words: str, cwd: Path | None = None) -> list[str]:
    """What `bpcalc` answers a shell's completion script (click's protocol), as value lines."""
    import os

    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {**os.environ, "_BPCALC_COMPLETE": f"{shell}_complete", "COMP_WORDS": words}
    env["COMP_CWORD"] = words.split()[-1] if shell == "fish" else str(cword)
    result = subprocess.run(
        [sys.executable, "-m", "bpcalc"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def bash_completes(words: list[str], cwd: Path) -> list[str]:
    """COMPREPLY after bash runs `bpcalc completion bash`'s function on WORDS (TAB at the end)."""
    import os
    import shlex
    import shutil

    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = (
        "source <(bpcalc completion bash)\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_bpcalc_completion bpcalc 2>/dev/null\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(
        ["bash", "--norc", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        cwd=cwd,
        timeout=60,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if line]


class TestShellCompletion:
    def test_bash_completes_an_example_name_for_graph(self, tmp_path: Path) -> None:
        """bash: `bpcalc run apple_o<TAB>` gives apple_orange. (A `file` item after the
        examples made click's bash script drop them.)"""
        assert bash_completes(["bpcalc", "run", "apple_o"], tmp_path) == ["apple_orange"]

    def test_bash_offers_graph_files_here_beside_matching_examples(self, tmp_path: Path) -> None:
        """When examples match, bash still offers the graph files here that match."""
        (tmp_path / "apple_mine.yaml").write_text("inputs: {x: 1}\noutput: x\n")
        (tmp_path / "apple_notes.txt").write_text("")
        replies = bash_completes(["bpcalc", "grad", "apple"], tmp_path)
        assert replies == ["apple", "apple_orange", "apple_mine.yaml"]

    def test_graph_completion_puts_the_file_item_first(self) -> None:
        """In every shell the example names come with file completion; for bash's sake the
        `file` item comes first."""
        for shell in ("bash", "zsh"):
            lines = complete(shell, "bpcalc run apple_o")
            assert lines[0].startswith("file"), (shell, lines)
            assert any("apple_orange" in line for line in lines), (shell, lines)

    def test_examples_name_completes_in_every_shell(self) -> None:
        """`bpcalc examples two<TAB>` offers two_layer_net (it offered nothing)."""
        assert complete("bash", "bpcalc examples two") == ["plain,two_layer_net"]
        assert complete("zsh", "bpcalc examples two") == ["plain", "two_layer_net", "_"]
        assert complete("fish", "bpcalc examples two") == ["plain,two_layer_net"]

    def test_bash_inserts_names_that_are_not_identifiers_quoted(self, tmp_path: Path) -> None:
        """bash puts a completion on the line as it is, so `x1 * w1` comes as 'x1 * w1'."""
        replies = bash_completes(["bpcalc", "grad", "tanh_neuron", "--wrt", "x1"], tmp_path)
        assert replies == ["x1", "'x1 * w1'", "'x1 * w1 + x2 * w2'"]

    def test_zsh_and_fish_get_names_as_they_are(self) -> None:
        """zsh's compadd and fish escape what they insert themselves: no quotes from bpcalc."""
        zsh = complete("zsh", "bpcalc grad tanh_neuron --wrt x1")
        assert zsh[1::3] == ["x1", "x1 * w1", "x1 * w1 + x2 * w2"]
        fish = complete("fish", "bpcalc grad tanh_neuron --wrt x1")
        assert fish == ["plain,x1", "plain,x1 * w1", "plain,x1 * w1 + x2 * w2"]

    def test_bash_leaves_identifiers_unquoted(self, tmp_path: Path) -> None:
        """Plain names, Korean ones too, and --set's NAME= need no quotes."""
        graph = tmp_path / "g.yaml"
        graph.write_text("inputs: {사과: 1, tax: 2}\nnodes:\n  y: 사과 * tax\n")
        assert complete("bash", f"bpcalc grad {graph} --wrt 사") == ["plain,사과"]
        assert complete("bash", f"bpcalc run {graph} --set ta") == ["plain,tax="]

    def test_zsh_script_starts_compinit_when_it_has_not_run(self, tmp_path: Path) -> None:
        """README's `eval "$(bpcalc completion zsh)"` failed with `command not found: compdef`
        in a ~/.zshrc that had not run compinit: the script now starts it first."""
        import shutil

        script = completion_script("zsh")
        assert script.startswith("#compdef bpcalc\n")
        assert script.index("autoload -Uz compinit && compinit") < script.index("compdef _bpcalc")
        if shutil.which("zsh") is None:
            pytest.skip("zsh is not installed: the script's text is checked, not run")
        import os

        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        result = subprocess.run(
            [
                shutil.which("zsh") or "zsh",
                "-f",
                "-c",
                'eval "$(bpcalc completion zsh)" && whence -w _bpcalc_completion',
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "HOME": str(tmp_path), "PATH": path},
            timeout=60,
            check=False,
        )
        assert "command not found" not in result.stderr
        assert result.stdout == "_bpcalc_completion: function\n"

    def test_readme_zsh_line_runs_compinit_first(self) -> None:
        """The documented zsh set-up works in a ~/.zshrc that has no compinit."""
        readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
        lines = [line.split("#")[0].strip() for line in readme.splitlines()]
        at = lines.index('eval "$(bpcalc completion zsh)"')
        assert lines[at - 1] == "autoload -Uz compinit && compinit"


def completion_script(shell: str) -> str:
    from click.testing import CliRunner

    return CliRunner().invoke(cli, ["completion", shell], catch_exceptions=False).stdout


class TestModuleEntryPoint:
    def test_python_dash_m_runs_the_cli(self) -> None:
        """`python -m bpcalc grad apple_orange --wrt apple` prints 2.2 in a real subprocess."""
        result = subprocess.run(
            [sys.executable, "-m", "bpcalc", "grad", "apple_orange", "--wrt", "apple"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, "2.2\n", "")

    def test_errors_exit_with_the_documented_code_and_no_traceback(self) -> None:
        """A usage error in a real process exits 2 with one line on stderr."""
        result = subprocess.run(
            [sys.executable, "-m", "bpcalc", "grad", "apple_orange", "--wrt", "nope"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1
