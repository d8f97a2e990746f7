"""Issue 9, items 7, 9, 11, 12 (loading) and 14 (example precedence): stdin graphs and data
files, the cost of hints and JSON locations, the memory budget, and bounds while reading."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from bpcalc.errors import NameIndex, did_you_mean
from bpcalc.limits import Limits, show_bytes
from bpcalc.loading.build import loads
from tests.conftest import Invoke
from tests.test_hostile import (
    CORPUS,
    LARGE_SECONDS,
    SECONDS,
    assert_refused,
    first_line,
    spawn,
    timed,
)

SECRET = "s3cr3t-token-ABC"


# --- item 7: a graph from stdin, and data files' content in messages --------------------------


class TestStdinGraphs:
    @pytest.fixture
    def home(self, tmp_path: Path) -> Path:
        """A folder with a private file that a piped graph points at."""
        (tmp_path / ".private").mkdir()
        (tmp_path / ".private" / "notes.csv").write_text(f"1,2\n3,{SECRET}\n")
        (tmp_path / "data.csv").write_text("1,2\n3,4\n")
        return tmp_path

    def test_a_piped_graph_reads_no_file_below_the_current_folder(self, home: Path) -> None:
        """`curl ... | bpcalc run -` in $HOME: refused at the file: input, nothing read."""
        outcome = spawn(
            "run", "-", stdin=(CORPUS / "stdin_reads_a_file.yaml").read_bytes(), cwd=home
        )
        assert_refused(
            outcome,
            1,
            "<stdin>:4:13: file '.private/notes.csv': a graph read from stdin has no folder for "
            "its files; pass --base-dir DIR to read them from DIR",
        )
        assert SECRET not in outcome.stderr

    def test_base_dir_names_the_folder(self, invoke: Invoke, home: Path) -> None:
        graph = "inputs:\n  x: {file: data.csv}\nnodes:\n  y: sum(x)\n"
        result = invoke("grad", "-", "--wrt", "x", "--base-dir", str(home), input=graph)
        assert (result.exit_code, result.stdout) == (0, "[[1.0, 1.0], [1.0, 1.0]]\n")

    def test_base_dir_keeps_files_inside_it(self, invoke: Invoke, home: Path) -> None:
        graph = "inputs:\n  x: {file: ../data.csv}\nnodes:\n  y: sum(x)\n"
        result = invoke("run", "-", "--base-dir", str(home / ".private"), input=graph)
        assert (result.exit_code, result.stdout, first_line(result)) == (
            1,
            "",
            "<stdin>:2:13: file '../data.csv' is outside the graph's folder; pass "
            "--allow-outside-files to read it",
        )

    def test_base_dir_replaces_the_graph_files_folder(self, invoke: Invoke, home: Path) -> None:
        (home / "g").mkdir()
        path = home / "g" / "g.yaml"
        path.write_text("inputs:\n  x: {file: data.csv}\nnodes:\n  y: sum(x)\n")
        result = invoke("run", str(path), "--base-dir", str(home), "-o", "json")
        assert (result.exit_code, json.loads(result.stdout)["values"]["y"]) == (0, 10.0)

    def test_a_missing_base_dir_is_a_usage_error(self, invoke: Invoke) -> None:
        result = invoke("run", "apple_orange", "--base-dir", "/no/such/folder")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.splitlines()[-1] == (
            "Error: Invalid value for '--base-dir': Directory '/no/such/folder' does not exist."
        )

    def test_text_loaded_through_the_api_has_no_folder_either(self) -> None:
        with pytest.raises(Exception) as caught:
            loads("inputs:\n  x: {file: data.csv}\nnodes:\n  y: sum(x)\n")
        assert str(caught.value).splitlines()[0] == (
            "<string>:2:13: file 'data.csv': a graph read from stdin has no folder for its "
            "files; pass --base-dir DIR to read them from DIR"
        )


class TestDataFileMessages:
    """numpy's messages quote the cell; ours say where and what kind of problem only."""

    @pytest.mark.parametrize(
        ("name", "content", "reason"),
        [
            ("notes.txt", f"1 2\n# note\n\n3 {SECRET}\n", "line 4, column 2 is not a number"),
            ("notes.csv", f"1,2\n3,{SECRET}\n", "line 2, column 2 is not a number"),
            ("quoted.csv", f'1,"{SECRET}"\n', "line 1, column 2 is not a number"),
            ("empty_cell.csv", "1,2\n3,\n", "line 2, column 2 is not a number"),
            ("unicode.csv", "1,２\n", "line 1, column 2 is not a number"),
            ("ragged.txt", "1 2\n3 4 5\n", "line 2 has 3 columns, line 1 has 2"),
            ("cr.csv", f"1,2\r3,{SECRET}\r", "line 2, column 2 is not a number"),
        ],
    )
    def test_a_bad_cell_is_located_and_never_quoted(
        self, invoke: Invoke, tmp_path: Path, name: str, content: str, reason: str
    ) -> None:
        (tmp_path / name).write_text(content)
        path = tmp_path / "g.yaml"
        path.write_text(f"inputs:\n  x: {{file: {name}}}\nnodes:\n  y: sum(x)\n")
        result = invoke("run", str(path))
        assert (result.exit_code, result.stdout) == (1, "")
        assert first_line(result) == f"{path}:2:13: cannot read file '{name}': {reason}"
        assert SECRET not in result.stderr and "２" not in result.stderr

    def test_bytes_that_are_not_utf8(self, invoke: Invoke, tmp_path: Path) -> None:
        (tmp_path / "latin1.csv").write_bytes(b"1,2\n3,caf\xe9\n")
        path = tmp_path / "g.yaml"
        path.write_text("inputs:\n  x: {file: latin1.csv}\nnodes:\n  y: sum(x)\n")
        result = invoke("run", str(path))
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:2:13: cannot read file 'latin1.csv': line 2 is not UTF-8 text",
        )


# --- item 12 (loading): --max-elements for .csv and .txt, and bounds while reading YAML --------


class TestDataFileElements:
    def write(self, folder: Path, name: str) -> Path:
        path = folder / "g.yaml"
        path.write_text(f"inputs:\n  x: {{file: {name}}}\nnodes:\n  y: sum(x)\n")
        return path

    @pytest.mark.parametrize(("name", "sep"), [("col.txt", "\n"), ("row.csv", ","), ("t.txt", " ")])
    def test_csv_and_txt_files_meet_max_elements(
        self, invoke: Invoke, tmp_path: Path, name: str, sep: str
    ) -> None:
        (tmp_path / name).write_text(sep.join(["1.5"] * 1001) + "\n")
        path = self.write(tmp_path, name)
        result = invoke("run", str(path), "--max-elements", "1000")
        assert (result.exit_code, result.stdout, first_line(result)) == (
            1,
            "",
            f"{path}:2:13: file '{name}' holds more than 1,000 numbers; the limit is 1,000 "
            f"(--max-elements)",
        )
        exactly = invoke("run", str(path), "--max-elements", "1001", "-o", "json")
        assert (exactly.exit_code, json.loads(exactly.stdout)["values"]["y"]) == (0, 1501.5)

    def test_a_table_of_rows_meets_max_elements(self, invoke: Invoke, tmp_path: Path) -> None:
        (tmp_path / "m.csv").write_text("# a comment\n" + "1,2,3\n\n" * 400)
        path = self.write(tmp_path, "m.csv")
        refused = invoke("run", str(path), "--max-elements", "1199")
        assert first_line(refused) == (
            f"{path}:2:13: file 'm.csv' holds more than 1,199 numbers; the limit is 1,199 "
            f"(--max-elements)"
        )
        assert invoke("run", str(path), "--max-elements", "1200").exit_code == 0

    def test_millions_of_numbers_are_refused_without_reading_them(self, tmp_path: Path) -> None:
        """20 MB of numbers in one CSV line, with --max-elements 1000: refused at once."""
        (tmp_path / "big.csv").write_bytes(b"1," * 10_000_000 + b"1\n")
        self.write(tmp_path, "big.csv")
        assert_refused(
            spawn("run", "g.yaml", "--max-elements", "1000", cwd=tmp_path),
            1,
            "g.yaml:2:13: file 'big.csv' holds more than 1,000 numbers; the limit is 1,000 "
            "(--max-elements)",
        )


class TestYamlReadingBounds:
    def test_a_flow_list_of_10_million_numbers_stops_at_the_memory_budget(
        self, tmp_path: Path
    ) -> None:
        """20 MB of `1,` (10 M values, 5 GB of YAML nodes): composing stops at the budget."""
        (tmp_path / "g.yaml").write_bytes(
            b"inputs:\n  x: [" + b"1," * 10_000_000 + b"1]\nnodes:\n  y: sum(x)\n"
        )
        assert_refused(
            spawn("run", "g.yaml", "--max-memory", "16M", cwd=tmp_path),
            1,
            "g.yaml:2:6: the graph file holds more than 27,962 values, more than 16 MiB to read "
            "(--max-memory); put large tensors in .npy files",
        )

    def test_two_million_inputs_stop_at_the_node_limit_while_reading(self, tmp_path: Path) -> None:
        """The names are counted as they are composed: refused at the first one too many."""
        names = "".join(f"  a{i}: 1\n" for i in range(2_000_000))
        (tmp_path / "g.yaml").write_text(f"inputs:\n{names}nodes:\n  y: a0\n")
        assert_refused(
            spawn("run", "g.yaml", "--max-nodes", "10000", cwd=tmp_path),
            1,
            "g.yaml:10002:3: the graph has more than 10,000 inputs and nodes; the limit is "
            "10,000 (--max-nodes)",
        )

    def test_a_large_list_within_the_budget_is_still_read(self, invoke: Invoke) -> None:
        numbers = ", ".join(str(i) for i in range(100_000))
        result = invoke(
            "grad", "-", "--wrt", "y", "-o", "json",
            input=f"inputs:\n  x: [{numbers}]\nnodes:\n  y: sum(x)\n",
        )  # fmt: skip
        assert (result.exit_code, result.stdout) == (0, '{"y": 1.0}\n')


# --- item 9: hints and JSON locations in linear time ------------------------------------------


class TestManyErrors:
    def test_10000_unknown_names_get_hints_only_where_printed(self, tmp_path: Path) -> None:
        """Hints for all 10,000 took over 300 s; now only the 20 printed are computed."""
        nodes = "".join(f"  node{i}: nod{i} + x\n" for i in range(10_000))
        (tmp_path / "g.yaml").write_text(f"inputs:\n  x: 1\nnodes:\n{nodes}")
        outcome = spawn("run", "g.yaml", cwd=tmp_path)
        assert (outcome.code, outcome.stdout) == (1, "")
        assert outcome.stderr.splitlines()[0] == (
            "g.yaml:4:10: unknown name 'nod0' (did you mean 'node0'?)"
        )
        assert outcome.seconds < LARGE_SECONDS
        assert outcome.stderr.splitlines()[-1] == "... and 9980 more errors"
        assert outcome.stderr.count("did you mean") == 20

    def test_a_hint_among_a_million_names_is_quick(self) -> None:
        names = [f"node_{i}" for i in range(1_000_000)]
        started = time.perf_counter()
        assert did_you_mean("node_12345x", names) == " (did you mean 'node_12345'?)"
        index = NameIndex(names)
        for word in ("nod_3", "node_99999z", "x"):
            did_you_mean(word, index)
        assert time.perf_counter() - started < LARGE_SECONDS  # 27 s for one word before

    def test_a_few_names_get_the_same_hints_as_before(self) -> None:
        assert did_you_mean("aple", ["apple", "orange"]) == " (did you mean 'apple'?)"
        assert did_you_mean("zzz", ["apple", "orange"]) == ""

    def test_100000_bad_names_in_json_are_located_in_one_pass(self, tmp_path: Path) -> None:
        """A 1.7 MB JSON file of bad names: 110 s when each message scanned the text."""
        nodes = {f"{i}bad": "x" for i in range(100_000)}
        text = json.dumps({"inputs": {"x": "1"}, "nodes": nodes}, indent=1)
        (tmp_path / "g.json").write_text(text)
        outcome = spawn("run", "g.json", cwd=tmp_path)
        assert_refused(
            outcome,
            1,
            "g.json:6:3: '0bad' is not a valid name: use letters, digits and _, not starting "
            "with a digit",
            seconds=LARGE_SECONDS,
        )
        assert outcome.stderr.splitlines()[-1] == "... and 99980 more errors"

    def test_json_locations_follow_the_structure(self, invoke: Invoke, tmp_path: Path) -> None:
        """A key is found where it is a key of the right object, not where its text first
        appears after its parent's key (here as an argument of another node)."""
        path = tmp_path / "g.json"
        path.write_text(
            '{"inputs": {"y": 1},\n'
            ' "nodes": {"z": {"op": "neg", "in": ["y"]},\n'
            '           "y": "z * 2"}}\n'
        )
        result = invoke("run", str(path))
        assert (result.exit_code, first_line(result)) == (
            1,
            f"{path}:3:12: 'y' is already an input; names must be unique",
        )


# --- item 11: a memory budget for all values and gradients ---------------------------------------


class TestMemoryBudget:
    def test_chained_adds_on_a_large_input_are_refused_at_the_node(self) -> None:
        """40 chained `+ 1` on 20 M zeros (388 bytes) would need 13 GB: refused at the sub-
        expression where the estimate passes 2 GiB, before evaluating (the input itself,
        160 MB, is the only large allocation)."""
        outcome = spawn("run", "budget_chain.yaml")
        assert (outcome.code, outcome.stdout) == (1, "")
        assert outcome.stderr.splitlines()[0] == (
            "budget_chain.yaml:6:10: node 'x + 1 + 1 + 1 + 1 + 1 + 1' would bring the memory for "
            "values and gradients to 2.1 GiB; the limit is 2 GiB (--max-memory)"
        )
        assert outcome.seconds < SECONDS and outcome.peak_mb < 400

    def test_max_memory_takes_units(self, invoke: Invoke, in_corpus: None) -> None:
        result = invoke("run", "budget_chain.yaml", "--max-memory", "100M")
        assert first_line(result) == (
            "budget_chain.yaml:4:3: input 'x' would bring the memory for values and gradients "
            "to 305.2 MiB; the limit is 100 MiB (--max-memory)"
        )
        bad = invoke("run", "budget_chain.yaml", "--max-memory", "2 GB of it")
        assert (bad.exit_code, bad.stderr.splitlines()[-1]) == (
            2,
            "Error: Invalid value for '--max-memory': expected a size such as 500M or 2G, "
            "got '2 GB of it'",
        )

    def test_a_raised_budget_evaluates(self, invoke: Invoke) -> None:
        graph = "inputs:\n  x: {ones: 1000}\nnodes:\n  y: sum(x + 1 + 1)\n"
        assert invoke("run", "-", "--max-memory", "40K", input=graph).exit_code == 1
        result = invoke("grad", "-", "--wrt", "y", "--max-memory", "64K", input=graph)
        assert (result.exit_code, result.stdout) == (0, "1.0\n")

    def test_batch_names_chunk_size(self, invoke: Invoke, tmp_path: Path) -> None:
        """The estimate grows with nodes x rows of a chunk: the message says what helps."""
        nodes = "".join(f"  n{i}: n{i - 1} + 1\n" for i in range(1, 200))
        graph = tmp_path / "g.yaml"
        graph.write_text(f"inputs:\n  x: 1\nnodes:\n  n0: x + 1\n{nodes}")
        (tmp_path / "rows.csv").write_text("x\n" + "1\n" * 5000)
        args = ("run", str(graph), "--batch", str(tmp_path / "rows.csv"), "--max-memory", "8M")
        result = invoke(*args)
        assert (result.exit_code, result.stdout, first_line(result)) == (
            1,
            "",
            f"{graph}:107:9: node 'n103' would bring the memory for values and gradients to "
            f"8.1 MiB; the limit is 8 MiB (--max-memory); a smaller --chunk-size evaluates fewer "
            f"rows at once",
        )
        smaller = invoke(*args, "--chunk-size", "1000")
        assert (smaller.exit_code, len(smaller.stdout.splitlines())) == (0, 5000)

    def test_out_of_memory_in_batch_names_chunk_size(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_memory(*args: object, **kwargs: object) -> None:
            raise MemoryError

        monkeypatch.setattr("bpcalc.analysis.batch.BatchEvaluator.evaluate", no_memory)
        (tmp_path / "rows.csv").write_text("apple\n1\n")
        result = invoke("run", "apple_orange", "--batch", str(tmp_path / "rows.csv"))
        assert (result.exit_code, result.stdout, result.stderr) == (
            1,
            "",
            "Error: out of memory; lower --chunk-size to evaluate fewer rows at once\n",
        )

    def test_sizes_are_shown_for_people(self) -> None:
        assert [show_bytes(n) for n in (900, 2**30, 1536 * 2**20, 2**30 - 1)] == [
            "900 bytes",
            "1 GiB",
            "1.5 GiB",
            "1023.9 MiB",
        ]
        assert show_bytes(2**31 + 1, up=True) == "2.1 GiB"
        assert Limits().max_memory == 2 * 2**30


# --- item 14: a local file named like a bundled example -----------------------------------------


class TestExampleShadowing:
    def test_a_local_file_wins_and_says_so(
        self, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        shutil.copy(CORPUS.parent.parent / "graphs" / "apple.yaml", tmp_path / "apple_orange")
        monkeypatch.chdir(tmp_path)
        result = invoke("grad", "apple_orange", "--wrt", "apple")
        assert (result.exit_code, result.stdout, result.stderr) == (
            0,
            "2.2\n",
            "note: using the file ./apple_orange, not the bundled example 'apple_orange'; "
            "write ./apple_orange to say so, or rename the file to reach the example\n",
        )
        explicit = invoke("grad", "./apple_orange", "--wrt", "apple")
        assert (explicit.exit_code, explicit.stdout, explicit.stderr) == (0, "2.2\n", "")

    def test_without_a_local_file_the_example_is_used_quietly(self, invoke: Invoke) -> None:
        result, seconds = timed(invoke, "grad", "apple_orange", "--wrt", "apple")
        assert (result.exit_code, result.stdout, result.stderr) == (0, "2.2\n", "")
        assert seconds < SECONDS


@pytest.fixture
def in_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
