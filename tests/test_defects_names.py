"""Issue 9, items 1, 3 and 5: one rule for names (NFKC, as Python reads identifiers), sub-
expressions named by their syntax tree, and no text from a graph ever becoming code in an
exported script."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bpcalc import loads
from tests.conftest import Invoke
from tests.test_export import parse_output, run_numbers
from tests.test_hostile import CORPUS, PEAK_MB, SECONDS, spawn

WriteGraph = Callable[..., Path]


def tsv(invoke: Invoke, *args: str) -> list[str]:
    result = invoke(*args, "-o", "tsv")
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return result.stdout.splitlines()


# --- item 1: every name is NFKC-normalised on reading, and twins are refused ---------------------


class TestNamesNormalisedEverywhere:
    def test_a_fullwidth_twin_of_an_input_is_refused_naming_both(self) -> None:
        """x: 1 and ｘ: 100 used to make `y: ｘ * 2` silently 2 (not 200): now exit 1, located
        at the second spelling, naming the first and its line."""
        outcome = spawn("run", "names_fullwidth_twin.yaml")
        assert (outcome.code, outcome.stdout) == (1, "")
        assert outcome.stderr == (
            "names_fullwidth_twin.yaml:3:3: 'ｘ' and 'x' (line 2) are the same name once "
            "Unicode-normalised (NFKC, as Python reads names: both are 'x'); rename one of them\n"
            "    3 |   ｘ: 100\n"
            "      |   ^\n"
        )
        assert outcome.seconds < SECONDS
        assert outcome.peak_mb < PEAK_MB

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                "inputs:\n  ﬁ: 1\nnodes:\n  fi: 2 * 3\n",
                ":4:3: 'fi' and 'ﬁ' (line 2) are the same name once Unicode-normalised (NFKC, "
                "as Python reads names: both are 'fi'); rename one of them",
            ),
            (
                "inputs:\n  x: 1\nnodes:\n  ℌ: 2 * x\n  H: 3 * x\n",
                ":5:3: 'H' and 'ℌ' (line 4) are the same name once Unicode-normalised (NFKC, "
                "as Python reads names: both are 'H'); rename one of them",
            ),
        ],
    )
    def test_an_input_and_a_node_or_two_nodes_that_normalise_alike(
        self, invoke: Invoke, write_graph: WriteGraph, text: str, message: str
    ) -> None:
        """The ligature ﬁ is fi, the letterlike ℌ is H: the second spelling is refused."""
        path = write_graph(text)
        result = invoke("run", str(path))
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.splitlines()[0] == f"{path}{message}"

    def test_a_fullwidth_input_is_found_by_expressions_explicit_nodes_and_output(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """Only ｘ: `y: ｘ * 3` used to fail "unknown name 'x'"; ﬁ worked only explicitly."""
        path = write_graph(
            "inputs:\n  ｘ: 2\n  ﬁ: 5\nnodes:\n  y: ｘ * 3 + ﬁ\n"
            "  z: {op: mul, in: [ﬁ, ｙ]}\noutput: ｚ\n"
        )
        assert tsv(invoke, "run", str(path)) == [
            "x\t2.0\t15.0",
            "fi\t5.0\t16.0",
            "x * 3\t6.0\t5.0",
            "y\t11.0\t5.0",
            "z\t55.0\t1.0",
        ]

    def test_command_line_names_are_normalised_too(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """--set, --of and --wrt take either spelling, as expressions do."""
        path = write_graph("inputs:\n  ｘ: 2\n  ﬁ: 5\nnodes:\n  y: ｘ * ﬁ\n  z: y * y\n")
        for spelling in (("ｘ", "ﬁ", "ｙ"), ("x", "fi", "y")):
            x, fi, y = spelling
            result = invoke(
                "grad", str(path), "--wrt", x, "--wrt", fi, "--set", f"{x}=3", "--of", y
            )
            assert (result.exit_code, result.stdout) == (0, "5.0\n3.0\n"), result.stderr

    def test_sweep_specs_and_batch_columns_are_normalised_too(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        path = write_graph("inputs:\n  x: 2\nnodes:\n  y: x * 3\n")
        swept = invoke("sweep", str(path), "ｘ=1:2:2", "-o", "tsv")
        assert (swept.exit_code, swept.stdout) == (0, "1.0\t3.0\t3.0\n2.0\t6.0\t3.0\n")
        rows = tmp_path / "rows.csv"
        rows.write_text("ｘ\n4\n", encoding="utf-8")
        batch = invoke("run", str(path), "--batch", str(rows), "-o", "tsv")
        assert (batch.exit_code, batch.stderr) == (0, ""), batch.stderr
        assert batch.stdout == "4.0\t12.0\t3.0\n"

    def test_two_batch_columns_that_normalise_alike_are_one_column_twice(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        path = write_graph("inputs:\n  x: 2\nnodes:\n  y: x * 3\n")
        rows = tmp_path / "rows.csv"
        rows.write_text("x,ｘ\n4,5\n", encoding="utf-8")
        result = invoke("run", str(path), "--batch", str(rows))
        assert (result.exit_code, result.stdout) == (2, "")
        assert "column 'x' appears twice" in result.stderr

    def test_a_name_that_normalises_to_a_keyword_is_refused(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        path = write_graph("inputs:\n  ｉｆ: 1\nnodes:\n  y: 2 * 3\n")
        result = invoke("run", str(path))
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.splitlines()[0] == (
            f"{path}:2:3: 'ｉｆ' reads as the Python keyword 'if' and cannot be a name"
        )

    def test_messages_about_a_fullwidth_input_point_at_its_key(
        self, invoke: Invoke, write_graph: WriteGraph
    ) -> None:
        """The input is stored as x but written ｘ: a warning still finds the key's line."""
        path = write_graph("nodes:\n  y: ｘ * 2\ninputs:\n  ｘ: .nan\n")
        result = invoke("run", str(path), "--strict")
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.splitlines()[0] == (
            f"{path}:4:3: the value of 'x' is not finite (NaN or infinity first appears here)"
        )


class TestExportNeverMergesOrShadows:
    def test_fullwidth_np_print_and_show_do_not_shadow_the_scripts_names(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """Inputs ｎｐ and ｐｒｉｎｔ used to become Python's np and print in the script."""
        path = write_graph(
            "inputs:\n  ｎｐ: 2.0\n  ｐｒｉｎｔ: 3.0\n  ｓｈｏｗ: 0.5\n  __builtins__: 4.0\n"
            "nodes:\n  y: np * print + show\n  z: y * __builtins__\n"
        )
        for standalone in ((), ("--standalone",)):
            script = _export(invoke, tmp_path, str(path), *standalone)
            assert "\nnp = " not in script and "\nprint = " not in script
            assert "\n__builtins__ = " not in script
            output = _run_script(script, tmp_path)
            assert parse_output(output) == run_numbers(invoke, str(path))

    def test_the_namer_compares_names_as_python_does(self) -> None:
        """Even names not read through a graph file: ｎｐ is np, ﬁ is fi, dunders are avoided."""
        from bpcalc.analysis.export import _Namer

        namer = _Namer(["np", "print"])
        assert [namer.take(n) for n in ("ｎｐ", "ｐｒｉｎｔ", "fi", "ﬁ", "__class__")] == [
            "np_2",
            "print_2",
            "fi",
            "fi_2",
            "__class___2",
        ]


# --- item 3: sub-expressions are named by their syntax tree -------------------------------------


class TestSubExpressionNames:
    def test_comments_in_multi_line_expressions_never_merge_nodes(self) -> None:
        """`(x # *\\n - y) * 10` and `(x #\\n * - y) * 10` both used to name their inner node
        `x # * - y`, so b reused a's x - y: b was -10 instead of -60 (x = 2, y = 3)."""
        outcome = spawn("run", "names_comment_in_expression.yaml", "-o", "tsv")
        assert (outcome.code, outcome.stderr) == (0, "")
        assert outcome.stdout.splitlines() == [
            "x\t2.0\t-30.0",
            "y\t3.0\t-20.0",
            "x - y\t-1.0\t0.0",
            "a\t-10.0\t0.0",
            "-y\t-3.0\t20.0",
            "x * -y\t-6.0\t10.0",
            "b\t-60.0\t1.0",
        ]
        assert outcome.seconds < SECONDS
        assert outcome.peak_mb < PEAK_MB

    @pytest.mark.parametrize(
        ("expression", "names"),
        [
            ("x*W+b", ["x * W"]),
            ("(x)*(W) + (b)", ["x * W"]),
            ("relu(x@W+b)*2", ["x @ W", "x @ W + b", "relu(x @ W + b)"]),
            ("(a+b)*c + a/(b*c)", ["a + b", "(a + b) * c", "b * c", "a / (b * c)"]),
            ("a-(b-c)", ["b - c"]),
            ("(a-b)-c", ["a - b"]),
            ("(a**b)**c + a**b**c", ["a ** b", "(a ** b) ** c", "b ** c", "a ** b ** c"]),
            ("(-a)**2 - -a**2", ["-a", "(-a) ** 2", "a ** 2", "-a ** 2"]),
            ("a ** -b + 1", ["-b", "a ** (-b)"]),
            ("+(a+b)*c", ["a + b"]),
            ("1.10*a + 2e3*b", ["1.10 * a", "2e3 * b"]),
            ("(-2)**a + 1", ["(-2) ** a"]),
        ],
    )
    def test_names_are_the_canonical_text_of_the_tree(
        self, expression: str, names: list[str]
    ) -> None:
        """As ast.unparse writes the tree, numbers as written; readable in tables as before."""
        text = "inputs:\n" + "".join(f"  {n}: 1.5\n" for n in ("x", "W", "b", "a", "c"))
        graph = loads(text + f"nodes:\n  out: {json.dumps(expression)}\n")
        anonymous = [node.name for node in graph.nodes if node.anonymous]
        assert anonymous == names
        for name in anonymous:
            if not any(ch.isdigit() for ch in name):
                assert ast.unparse(ast.parse(name, mode="eval")) == name

    def test_equal_trees_share_one_node_across_expressions(self) -> None:
        """However it is spaced, parenthesised, split or commented, x + y is one node."""
        graph = loads(
            "inputs:\n  x: 1\n  y: 2\nnodes:\n  a: (x+y) * 2\n"
            '  b: "((x\\n  # c\\n  + y)) * 3"\n  c: a + b\n'
        )
        assert [node.name for node in graph.nodes].count("x + y") == 1
        assert graph.evaluate().values["c"] == 15.0


# --- item 5: no text from a graph becomes code in an exported script ----------------------------

HOSTILE_FILE_NAMES = [
    "evil\nimport os; open('MARKER', 'w').close()\n#.yaml",
    "evil\rimport os; open('MARKER', 'w').close()\r#.yaml",
    "q'uo\"te\\s\\x41'''.yaml",
    "coding: utf-7 +AAo-open('MARKER', 'w').close().yaml",
    "ｉｍｐｏｒｔ ｏｓ\u2028\u202e.yaml",
]
PLAIN_GRAPH = "inputs:\n  x: 2\n  w: 3\nnodes:\n  y: x * w + x\n"


def _export(invoke: Invoke, folder: Path, *args: str) -> str:
    result = invoke("export", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _run_script(script: str, sandbox: Path) -> str:
    """Run the script in ``sandbox``: it must parse, run, and leave no MARKER behind."""
    path = sandbox / "exported.py"
    path.write_text(script, encoding="utf-8")
    ast.parse(path.read_bytes())  # as Python decodes the file, coding cookies included
    done = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=sandbox,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not (sandbox / "MARKER").exists()
    return done.stdout


class TestExportEscapesEveryText:
    @pytest.mark.parametrize("file_name", HOSTILE_FILE_NAMES)
    @pytest.mark.parametrize("standalone", [False, True])
    def test_a_hostile_file_name_never_becomes_code(
        self, invoke: Invoke, tmp_path: Path, file_name: str, standalone: bool
    ) -> None:
        """The `from {origin}:` header and the graph's name (the file's stem) used to be
        written raw: a newline in the file name added a line of code to the script."""
        sandbox = tmp_path / "sandbox"
        sandbox.mkdir()
        path = sandbox / file_name
        path.write_text(PLAIN_GRAPH, encoding="utf-8")
        script = _export(invoke, sandbox, str(path), *(["--standalone"] * standalone))
        assert parse_output(_run_script(script, sandbox)) == run_numbers(invoke, str(path))

    def test_nul_newlines_and_a_coding_cookie_in_name_and_description(self, tmp_path: Path) -> None:
        """A NUL in `name:` used to make the script a SyntaxError while bpcalc exited 0; a
        `coding:` comment on line 1 could make Python decode the script as UTF-7."""
        outcome = spawn("export", "names_export_header.yaml")
        assert (outcome.code, outcome.stderr) == (0, "")
        assert outcome.seconds < SECONDS
        assert outcome.peak_mb < PEAK_MB
        first, second = outcome.stdout.splitlines()[:2]
        assert first == (
            '# graph\\x00\\x0aimport os; open("MARKER", "w").close()\\x0a# — coding\\x3a '
            'utf-7 +AAo-open("MARKER", "w").close()'
        )
        assert second == "# \\\\ \\u202e it's"
        expected = spawn("run", "names_export_header.yaml", "-o", "json")
        document = json.loads(expected.stdout)
        printed = parse_output(_run_script(outcome.stdout, tmp_path))
        assert printed == (document["values"], document["grads"])

    @pytest.mark.parametrize(
        ("text", "comment", "literal"),
        [
            ("x - y", "x - y", "'x - y'"),
            ("a\nb\r\0c", "a\\x0ab\\x0d\\x00c", "'a\\x0ab\\x0d\\x00c'"),
            ("it's \\", "it's \\\\", "'it\\'s \\\\'"),
            ("\u202e\u2028\u200b\x85\ud800", "\\u202e\\u2028\\u200b\\x85\\ud800", None),
            ("-*- coding: latin-1 -*-", "-*- coding\\x3a latin-1 -*-", None),
            ("vim: set fileencoding=utf-7", "vim: set fileencoding\\x3dutf-7", None),
            ("사과 ｘ ﬁ", "사과 ｘ ﬁ", "'사과 ｘ ﬁ'"),
        ],
    )
    def test_code_text_is_one_line_and_reads_back(
        self, text: str, comment: str, literal: str | None
    ) -> None:
        """Comments are one printable line; a literal evaluates back to the very text."""
        from bpcalc.analysis.export import code_text

        assert code_text(text) == comment
        quoted = code_text(text, literal=True)
        if literal is not None:
            assert quoted == literal
        assert ast.literal_eval(quoted) == text
        assert "\n" not in quoted and quoted.isprintable()


def test_the_hostile_fixtures_are_in_the_corpus() -> None:
    for name in ("names_fullwidth_twin", "names_comment_in_expression", "names_export_header"):
        assert (CORPUS / f"{name}.yaml").is_file()
