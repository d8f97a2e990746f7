"""`run --batch` and `grad --batch`: one evaluation per row, vectorised, streaming, lossless."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpcalc.analysis.batch import ELEMENTWISE_OPS
from bpcalc.loading.rows import RowReader
from bpcalc.ops.table import OPS
from bpcalc.output.delimited_floats import delimited_lines
from bpcalc.output.float_repr import matrix_texts, repr_matrix
from bpcalc.output.rows import RowWriter, json_number_text
from tests.conftest import GRAPHS, Invoke
from tests.test_startup import imported_modules

WriteGraph = Callable[..., Path]
APPLE_ORANGE = str(GRAPHS / "apple_orange.yaml")
INPUTS = ["apple", "apple_num", "orange", "orange_num", "tax"]
ALL_COLUMNS = [*INPUTS, "price", *(f"d_{name}" for name in INPUTS)]

ARITHMETIC_GRAPH = """
name: mix
inputs: {a: 1.5, b: -2.0, c: 3.0}
nodes:
  s: a - b
  q: s / c
  r: relu(q)
  n: -a
  m: r * n + b * b
output: m
"""

TRANSCENDENTAL_GRAPH = """
name: curves
inputs: {x: 0.5, w: 1.5}
nodes:
  e: exp(x)
  t: tanh(w * x)
  s: sigmoid(x - w)
  l: log(e + 1)
  p: (e + 1) ** w
  y: t * s + l + p
output: y
"""

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write_rows(path: Path, header: list[str], rows: list[list[float]]) -> Path:
    lines = [",".join(header), *(",".join(repr(v) for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def single_run(invoke: Invoke, graph: str, values: dict[str, float]) -> dict[str, object]:
    """What `bpcalc run GRAPH --set NAME=VALUE ... -o json` reports for one row."""
    sets = [arg for name, v in values.items() for arg in ("--set", f"{name}={v!r}")]
    result = invoke("run", graph, *sets, "-o", "json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


# --- lossless, vectorised number formatting ------------------------------------------------


class TestVectorisedReprIsRepr:
    @given(st.lists(st.floats(width=64), min_size=1, max_size=40))
    @settings(max_examples=100, deadline=None)
    def test_any_floats_are_written_exactly_as_repr_writes_them(self, xs: list[float]) -> None:
        """repr_matrix gives repr's text for every float64, NaN and infinities included."""
        assert matrix_texts(repr_matrix(np.array(xs))) == [repr(x) for x in xs]

    @pytest.mark.parametrize(
        "kind", ["bits", "decimals", "prices", "near_powers_of_two", "near_limits", "integers"]
    )
    def test_many_awkward_numbers_match_repr_and_read_back_exactly(self, kind: str) -> None:
        """20,000 numbers of each hard kind: the text is repr's and float(text) is the number."""
        rng = np.random.default_rng(7)
        n = 20_000
        samples = {
            "bits": rng.integers(0, 2**63, n, dtype=np.int64).view(np.float64),
            "decimals": np.array(
                [
                    round(v, d)
                    for v, d in zip(rng.uniform(-1e4, 1e4, n), rng.integers(0, 9, n), strict=False)
                ]
            ),
            "prices": np.round(rng.uniform(1, 1.3, n), 2) * rng.integers(1, 5000, n),
            "near_powers_of_two": np.nextafter(
                2.0 ** rng.integers(-14, 54, n), rng.choice([0.0, np.inf], n)
            ),
            "near_limits": np.concatenate(
                [
                    np.nextafter(1e-4, rng.choice([0.0, 1.0], n // 2)),
                    1e16 - 2.0 * rng.integers(-3, 40, n // 2),
                ]
            ),
            "integers": rng.integers(-(2**55), 2**55, n).astype(np.float64),
        }
        xs = samples[kind]
        texts = matrix_texts(repr_matrix(xs))
        assert texts == [repr(x) for x in xs.tolist()]
        finite = np.isfinite(xs)
        assert np.array_equal(np.array([float(t) for t in texts])[finite], xs[finite])

    def test_json_spells_non_finite_numbers_as_strings(self) -> None:
        """JSON cells use the "NaN", "Infinity" and "-Infinity" strings, numbers otherwise."""
        xs = np.array([math.nan, math.inf, -math.inf, 0.1, -0.0])
        texts = matrix_texts(repr_matrix(xs, json_number_text))
        assert texts == ['"NaN"', '"Infinity"', '"-Infinity"', "0.1", "-0.0"]


def repr_lines(matrix: np.ndarray, separator: str = ",") -> bytes:
    """The reference: each row's numbers by repr, joined by the separator, one per line."""
    return "".join(separator.join(map(repr, row)) + "\n" for row in matrix.tolist()).encode()


def written(columns: list[np.ndarray], fmt: str) -> bytes:
    """What the batch writer writes for these columns (no header: one chunk)."""
    out = io.BytesIO()
    RowWriter([f"c{j}" for j in range(len(columns))], fmt, digits=None, out=out).write(columns)
    return out.getvalue()


# Numbers at the edges of repr's notations and of float64, with their neighbours.
EDGES = [
    0.0, -0.0, 1e-4, 1e16, 9999999999999998.0, 1e15, 1e17, 1e21, 1e22, 1e23, 2.0**53,
    2.0**53 + 2, 2.0**63, 2.0**64, 1e-5, 1e-7, 1e-9, 1e-10, 1e-11, 1e-100, 5e-324,
    2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 0.1, 0.2, 0.3,
    1 / 3, 2 / 3, 123456789012345.67, 1234567890123456.8, 0.5, 1.5, 100.0, 1e300,
]  # fmt: skip
EDGES += [math.nextafter(x, d) for x in EDGES for d in (0.0, math.inf) if x != 0]


FIXED_NOTATION = (
    st.floats(min_value=1e-4, max_value=1e16, exclude_max=True)
    | st.floats(min_value=-1e16, max_value=-1e-4, exclude_min=True)
    | st.sampled_from([0.0, -0.0])
)  # where repr writes no exponent


class TestCFormattedRowsAreRepr:
    """CSV and TSV rows are formatted by orjson; the text must still be repr's, byte for byte."""

    @given(
        st.integers(1, 6).flatmap(
            lambda k: st.lists(
                st.lists(st.floats(width=64), min_size=k, max_size=k), min_size=1, max_size=30
            )
        )
    )
    @settings(max_examples=300, deadline=None)
    def test_any_float64_rows_are_written_as_repr_writes_them(
        self, rows: list[list[float]]
    ) -> None:
        """Every float64 (subnormals, -0.0, NaN, infinities), CSV and TSV alike."""
        matrix = np.array(rows, dtype=np.float64)
        columns = list(matrix.T)
        assert written(columns, "csv") == repr_lines(matrix)
        assert written(columns, "tsv") == repr_lines(matrix, "\t")

    @given(st.lists(FIXED_NOTATION, min_size=1, max_size=200))
    @settings(max_examples=300, deadline=None)
    def test_numbers_in_fixed_notation_are_written_by_orjson_as_repr(self, xs: list[float]) -> None:
        """No fallback in repr's fixed notation (1e-4 <= |x| < 1e16, and zeros)."""
        matrix = np.array(xs, dtype=np.float64).reshape(-1, 1)
        assert delimited_lines(matrix, b",", fallback=_no_fallback) == repr_lines(matrix)

    def test_edges_of_the_notations_and_of_float64(self) -> None:
        """1e16 (repr: 1e+16), 1e-4, 9999999999999998.0, subnormals, and each one's neighbours."""
        xs = np.array(EDGES + [-x for x in EDGES])
        assert written([xs], "csv") == repr_lines(xs.reshape(-1, 1))
        assert written([xs, xs[::-1], -xs], "tsv") == repr_lines(
            np.stack([xs, xs[::-1], -xs], 1), "\t"
        )

    def test_every_decade_of_fixed_notation(self) -> None:
        """20,000 random bit patterns in each [10**e, 10**(e+1)) of fixed notation, and the floats
        next to 10**e; no fallback."""
        rng = np.random.default_rng(16)
        parts = []
        for exponent in range(-4, 16):
            low, high = max(10.0**exponent, 1e-4), 10.0 ** (exponent + 1)
            bits = rng.integers(
                np.float64(low).view(np.int64), np.float64(high).view(np.int64), 20_000
            )
            parts += [bits.view(np.float64), [low, math.nextafter(high, 0.0)]]
            if exponent > -4:
                parts.append([math.nextafter(low, 0.0)])
        xs = np.concatenate(parts).reshape(-1, 1)
        assert delimited_lines(xs, b",", fallback=_no_fallback) == repr_lines(xs)

    def test_random_bit_patterns(self) -> None:
        """Uniform over all float64 bit patterns (most are the fallback's)."""
        rng = np.random.default_rng(15)
        xs = rng.integers(-(2**63), 2**63 - 1, 200_000, dtype=np.int64).view(np.float64)
        assert written([xs], "csv") == repr_lines(xs.reshape(-1, 1))

    def test_only_rows_with_a_number_outside_fixed_notation_go_to_the_fallback(self) -> None:
        """NaN, infinities, numbers below 1e-4 (not 0) and from 1e16 up send their row to the
        fallback."""
        matrix = np.array(
            [[1.0, 2.0], [np.nan, 1.0], [1.0, -np.inf], [0.0, -0.0], [3e-5, 1.0], [-1e16, 1.0]]
        )
        seen: list[np.ndarray] = []

        def fallback(rows: np.ndarray) -> bytes:
            seen.append(rows)
            return repr_lines(rows)

        assert delimited_lines(matrix, b",", fallback) == repr_lines(matrix)
        assert np.array_equal(seen[0], matrix[[1, 2, 4, 5]], equal_nan=True)

    def test_orjson_is_imported_for_batch_rows_only(self, tmp_path: Path) -> None:
        """``grad`` and ``run`` without --batch never import orjson; ``run --batch`` does."""
        modules, stdout = imported_modules(["grad", "apple_orange", "--wrt", "apple"], tmp_path)
        assert stdout == "2.2\n" and "orjson" not in modules
        modules, _ = imported_modules(["run", "apple_orange"], tmp_path)
        assert "orjson" not in modules
        rows = write_rows(tmp_path / "rows.csv", ["tax"], [[1.5]])
        modules, stdout = imported_modules(
            ["run", "apple_orange", "--batch", str(rows), "-o", "csv"], tmp_path
        )
        assert stdout.splitlines()[1] == "1.5,975.0,3.0,150.0,4.5,225.0,650.0"
        assert "orjson" in modules


def _no_fallback(rows: np.ndarray) -> bytes:
    raise AssertionError(f"fallback called for {rows!r}")


# --- each row is exactly one evaluation -----------------------------------------------------


class TestEachRowIsASingleEvaluation:
    @given(
        st.lists(
            st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=5, max_size=5),
            min_size=1,
            max_size=4,
        )
    )
    @SETTINGS
    def test_apple_orange_rows_equal_runs_with_set(
        self, invoke: Invoke, tmp_path: Path, rows: list[list[float]]
    ) -> None:
        """Price and all five gradients of each row equal `run --set` of that row, bit for bit."""
        path = write_rows(tmp_path / "rows.csv", INPUTS, rows)
        batch = read_csv(invoke("run", APPLE_ORANGE, "--batch", str(path), "-o", "csv").stdout)
        assert len(batch) == len(rows)
        for row, got in zip(rows, batch, strict=True):
            single = single_run(invoke, APPLE_ORANGE, dict(zip(INPUTS, row, strict=True)))
            values, grads = single["values"], single["grads"]
            assert isinstance(values, dict) and isinstance(grads, dict)
            assert float(got["price"]) == values["price"]
            for name in INPUTS:
                assert float(got[f"d_{name}"]) == grads[name]

    @given(
        st.lists(
            st.tuples(
                st.floats(-100, 100),
                st.floats(-100, 100),
                st.floats(0.01, 100) | st.floats(-100, -0.01),
            ),
            min_size=1,
            max_size=4,
        )
    )
    @SETTINGS
    def test_arithmetic_and_relu_rows_equal_runs_with_set(
        self,
        invoke: Invoke,
        write_graph: WriteGraph,
        tmp_path: Path,
        rows: list[tuple[float, float, float]],
    ) -> None:
        """sub, div, relu, neg, mul and add: batch rows equal single evaluations exactly."""
        graph = str(write_graph(ARITHMETIC_GRAPH))
        path = write_rows(tmp_path / "rows.csv", ["a", "b", "c"], [list(r) for r in rows])
        batch = read_csv(invoke("run", graph, "--batch", str(path), "-o", "csv").stdout)
        for row, got in zip(rows, batch, strict=True):
            single = single_run(invoke, graph, dict(zip("abc", row, strict=True)))
            assert isinstance(single["grads"], dict) and isinstance(single["values"], dict)
            assert float(got["m"]) == single["values"]["m"]
            assert [float(got[f"d_{n}"]) for n in "abc"] == [single["grads"][n] for n in "abc"]

    @given(
        st.lists(
            st.tuples(st.floats(-3, 3), st.floats(-3, 3)),
            min_size=1,
            max_size=4,
        )
    )
    @SETTINGS
    def test_exp_log_tanh_sigmoid_pow_rows_match_runs_to_the_last_bits(
        self,
        invoke: Invoke,
        write_graph: WriteGraph,
        tmp_path: Path,
        rows: list[tuple[float, float]],
    ) -> None:
        """numpy's vectorised exp, log, tanh and pow may differ from libm's in the last bit,
        so the rows agree with single evaluations to 1e-12 relative."""
        graph = str(write_graph(TRANSCENDENTAL_GRAPH))
        path = write_rows(tmp_path / "rows.csv", ["x", "w"], [list(r) for r in rows])
        batch = read_csv(invoke("run", graph, "--batch", str(path), "-o", "csv").stdout)
        for row, got in zip(rows, batch, strict=True):
            single = single_run(invoke, graph, dict(zip("xw", row, strict=True)))
            assert isinstance(single["grads"], dict) and isinstance(single["values"], dict)
            expected = [single["values"]["y"], single["grads"]["x"], single["grads"]["w"]]
            actual = [float(got[c]) for c in ("y", "d_x", "d_w")]
            for a, e in zip(actual, expected, strict=True):
                assert isinstance(e, float)
                assert math.isclose(a, e, rel_tol=1e-12, abs_tol=1e-12)

    def test_inputs_without_a_column_get_a_gradient_per_row_not_summed(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """With only a tax column, d_apple of each row is apple_num * that row's tax (2 * tax)."""
        path = tmp_path / "taxes.csv"
        path.write_text("tax\n1.0\n1.5\n2.0\n", encoding="utf-8")
        rows = read_csv(invoke("run", APPLE_ORANGE, "--batch", str(path), "-o", "csv").stdout)
        assert [float(r["d_apple"]) for r in rows] == [2.0, 3.0, 4.0]
        assert [float(r["d_apple_num"]) for r in rows] == [100.0, 150.0, 200.0]
        assert [float(r["d_tax"]) for r in rows] == [650.0, 650.0, 650.0]
        assert list(rows[0]) == ["tax", "price", *(f"d_{n}" for n in INPUTS)]

    def test_set_gives_the_value_of_inputs_without_a_column(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """--set apple=200 applies to every row of a file that has no apple column."""
        path = tmp_path / "taxes.csv"
        path.write_text("tax\n1.0\n2.0\n", encoding="utf-8")
        result = invoke(
            "run", APPLE_ORANGE, "--batch", str(path), "--set", "apple=200", "-o", "csv"
        )
        assert [float(r["price"]) for r in read_csv(result.stdout)] == [850.0, 1700.0]

    def test_chunk_size_does_not_change_the_output(self, invoke: Invoke, tmp_path: Path) -> None:
        """Rows evaluated 1, 3 or 65,536 at a time give the same bytes."""
        rng = np.random.default_rng(3)
        rows = np.round(rng.uniform(0.5, 300, (20, 5)), 3).tolist()
        path = write_rows(tmp_path / "rows.csv", INPUTS, rows)
        outputs = {
            invoke("run", APPLE_ORANGE, "--batch", str(path), "--chunk-size", size).stdout
            for size in ("1", "3", "65536")
        }
        assert len(outputs) == 1
        assert len(outputs.pop().splitlines()) == 20


class TestGradAndOf:
    def test_grad_batch_writes_the_output_and_only_the_wrt_gradients(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """grad --wrt tax --wrt apple_price: input columns, price, d_tax, d_apple_price."""
        path = tmp_path / "rows.csv"
        path.write_text("apple,tax\n100,1.1\n50,2\n", encoding="utf-8")
        result = invoke(
            "grad", APPLE_ORANGE, "--wrt", "tax", "--wrt", "apple_price",
            "--batch", str(path), "-o", "csv",
        )  # fmt: skip
        assert result.exit_code == 0
        assert result.stdout.splitlines() == [
            "apple,tax,price,d_tax,d_apple_price",
            "100.0,1.1,715.0000000000001,650.0,1.1",
            "50.0,2.0,1100.0,550.0,2.0",
        ]

    def test_grad_batch_rejects_an_unknown_wrt_name(self, invoke: Invoke, tmp_path: Path) -> None:
        """--wrt must name an input or node, with a hint, as without --batch (exit 2)."""
        path = tmp_path / "rows.csv"
        path.write_text("tax\n1\n", encoding="utf-8")
        result = invoke("grad", APPLE_ORANGE, "--wrt", "taxx", "--batch", str(path))
        assert result.exit_code == 2
        assert "did you mean 'tax'?" in result.stderr

    def test_of_differentiates_another_node_per_row(self, invoke: Invoke, tmp_path: Path) -> None:
        """--of all_price reports all_price and its gradients for each row."""
        path = tmp_path / "rows.csv"
        path.write_text("apple\n100\n10\n", encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(path), "--of", "all_price", "-o", "csv")
        rows = read_csv(result.stdout)
        assert [float(r["all_price"]) for r in rows] == [650.0, 470.0]
        assert [float(r["d_tax"]) for r in rows] == [0.0, 0.0]
        assert [float(r["d_apple"]) for r in rows] == [2.0, 2.0]


# --- formats ---------------------------------------------------------------------------------


class TestFormats:
    @pytest.fixture
    def rows_csv(self, tmp_path: Path) -> Path:
        path = tmp_path / "rows.csv"
        path.write_text("apple,tax\n100,1.1\n200,1.2\n", encoding="utf-8")
        return path

    def test_pipe_gets_tsv_without_header_in_the_documented_column_order(
        self, invoke: Invoke, rows_csv: Path
    ) -> None:
        """In a pipe: input columns, output, then d_NAME for every input, tab-separated."""
        result = invoke("run", APPLE_ORANGE, "--batch", str(rows_csv))
        assert result.stdout.splitlines()[0].split("\t") == [
            "100.0", "1.1", "715.0000000000001", "2.2", "110.00000000000001",
            "3.3000000000000003", "165.0", "650.0",
        ]  # fmt: skip
        assert result.stderr == ""

    def test_json_is_one_object_per_line_with_columns_as_keys(
        self, invoke: Invoke, rows_csv: Path
    ) -> None:
        """-o json writes JSON Lines: each line an object keyed by the column names."""
        lines = invoke("run", APPLE_ORANGE, "--batch", str(rows_csv), "-o", "json").stdout
        objects = [json.loads(line) for line in lines.splitlines()]
        assert [o["price"] for o in objects] == [715.0000000000001, 1020.0]
        assert list(objects[0]) == ["apple", "tax", "price", *(f"d_{n}" for n in INPUTS)]

    def test_terminal_gets_an_aligned_table_with_a_header(
        self, invoke: Invoke, rows_csv: Path
    ) -> None:
        """On a terminal: a header row, a rule, and numbers rounded to 12 digits."""
        result = invoke("run", APPLE_ORANGE, "--batch", str(rows_csv), tty=True)
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["apple", "tax", "price", *(f"d_{n}" for n in INPUTS)]
        assert set(lines[1].replace(" ", "")) == {"─"}
        assert lines[2].split()[:3] == ["100", "1.1", "715"]

    def test_digits_rounds_machine_formats(self, invoke: Invoke, rows_csv: Path) -> None:
        """--digits 3 writes 3 significant digits in CSV."""
        result = invoke("run", APPLE_ORANGE, "--batch", str(rows_csv), "-o", "csv", "--digits", "3")
        assert result.stdout.splitlines()[1] == "100,1.1,715,2.2,110,3.3,165,650"

    @pytest.mark.parametrize(
        ("name", "text", "option"),
        [
            ("rows.tsv", "apple\ttax\n100\t1.1\n", []),
            ("rows.jsonl", '{"apple": 100, "tax": 1.1}\n', []),
            ("rows.txt", '{"apple": 100, "tax": "1.1"}\n', []),
            ("rows.txt", "apple\ttax\n100\t1.1\n", []),
            ("rows.data", "apple;tax\n", ["--batch-format", "csv"]),
        ],
    )
    def test_tsv_and_json_lines_are_read_by_extension_or_first_line(
        self, invoke: Invoke, tmp_path: Path, name: str, text: str, option: list[str]
    ) -> None:
        """.tsv and .jsonl go by extension; other names by their first line or --batch-format."""
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(path), *option, "-o", "csv")
        if option:
            assert result.exit_code == 2  # 'apple;tax' read as CSV is one unknown column
            assert "column 'apple;tax'" in result.stderr
        else:
            assert result.exit_code == 0, result.stderr
            assert read_csv(result.stdout)[0]["price"] == "715.0000000000001"

    def test_stdin_is_read_with_a_dash(self, invoke: Invoke) -> None:
        """--batch - reads rows from stdin."""
        result = invoke("run", APPLE_ORANGE, "--batch", "-", "-o", "csv", input="tax\n2\n")
        assert read_csv(result.stdout)[0]["price"] == "1300.0"

    def test_json_output_reads_back_as_json_lines_input(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """Rows written with -o json (NaN spelt "NaN") are valid --batch input again."""
        path = tmp_path / "rows.csv"
        path.write_text("apple,tax\nnan,1\n1,inf\n", encoding="utf-8")
        first = invoke("run", APPLE_ORANGE, "--batch", str(path), "-o", "json")
        assert '"apple": "NaN"' in first.stdout
        again = tmp_path / "again.jsonl"
        again.write_text(first.stdout, encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(again), "-o", "json")
        assert result.exit_code == 2  # the price and d_ columns are not inputs
        assert "column 'price'" in result.stderr

    def test_csv_output_is_lossless(self, invoke: Invoke, tmp_path: Path) -> None:
        """Every number in -o csv reads back as exactly the float that was computed."""
        rng = np.random.default_rng(5)
        rows = rng.uniform(-1e6, 1e6, (50, 5)).tolist()
        path = write_rows(tmp_path / "rows.csv", INPUTS, rows)
        got = read_csv(invoke("run", APPLE_ORANGE, "--batch", str(path), "-o", "csv").stdout)
        for row, out in zip(rows, got, strict=True):
            a, an, o, on, t = row
            assert [float(out[n]) for n in INPUTS] == row
            assert float(out["price"]) == (a * an + o * on) * t
            assert float(out["d_tax"]) == a * an + o * on


# --- bad input -------------------------------------------------------------------------------


class TestBadRows:
    def test_a_bad_cell_stops_with_file_and_line_after_the_rows_before_it(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """rows.csv:4: names the column and the text; the two good rows before are written."""
        path = tmp_path / "rows.csv"
        path.write_text("apple,tax\n100,1\n200,1\n300,abc\n400,1\n", encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(path), "-o", "csv")
        assert result.exit_code == 1
        assert result.stderr == f"{path}:4: column 'tax': expected a number, got 'abc'\n"
        assert [r["apple"] for r in read_csv(result.stdout)] == ["100.0", "200.0"]

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("300", "expected 2 cells, got 1"),
            ("300,", "column 'tax' is empty"),
            ("300,1,2", "expected 2 cells, got 3"),
            ("1_000,1", "column 'apple': expected a number, got '1_000'"),
        ],
    )
    def test_missing_empty_and_extra_cells_are_reported(
        self, invoke: Invoke, tmp_path: Path, line: str, message: str
    ) -> None:
        """Each kind of bad row gets its own message at its line (exit 1)."""
        path = tmp_path / "rows.csv"
        path.write_text(f"apple,tax\n{line}\n", encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(path))
        assert result.exit_code == 1
        assert result.stderr == f"{path}:2: {message}\n"

    def test_rows_of_earlier_chunks_are_complete_when_a_later_chunk_stops(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """With 2-row chunks and a bad 6th row, exactly the 5 good rows before it come out."""
        path = tmp_path / "rows.csv"
        path.write_text("tax\n1\n2\n3\n4\n5\nx\n7\n", encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(path), "--chunk-size", "2")
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert [line.split("\t")[0] for line in lines] == ["1.0", "2.0", "3.0", "4.0", "5.0"]
        assert all(len(line.split("\t")) == 7 for line in lines)
        assert result.stderr.startswith(f"{path}:7: ")

    def test_skip_bad_reports_every_bad_row_and_goes_on(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """--skip-bad: each bad row on stderr with its line, every good row on stdout, exit 0."""
        path = tmp_path / "rows.csv"
        path.write_text("tax\n1\nx\n3\n\ny\n5\n", encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(path), "--skip-bad", "-o", "csv")
        assert result.exit_code == 0
        assert [r["tax"] for r in read_csv(result.stdout)] == ["1.0", "3.0", "5.0"]
        assert result.stderr.splitlines() == [
            f"{path}:3: column 'tax': expected a number, got 'x' (row skipped)",
            f"{path}:6: column 'tax': expected a number, got 'y' (row skipped)",
        ]

    def test_control_characters_in_bad_cells_are_escaped(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """A cell holding a terminal escape sequence is shown escaped, stopping or skipping."""
        path = tmp_path / "rows.csv"
        path.write_text("tax\n1\n\x1b[31mred\n", encoding="utf-8")
        for extra in ([], ["--skip-bad"]):
            result = invoke("run", APPLE_ORANGE, "--batch", str(path), *extra, "-o", "csv")
            assert "\x1b" not in result.stderr
            assert "got '\\x1b[31mred'" in result.stderr

    def test_bad_json_lines_are_reported_by_line(self, invoke: Invoke, tmp_path: Path) -> None:
        """JSON Lines: a missing key, a non-number and broken JSON each name their line."""
        path = tmp_path / "rows.jsonl"
        path.write_text(
            '{"tax": 1}\n{"apple": 1}\n{"tax": true}\n{"tax": [1]\n{"tax": 2}\n', encoding="utf-8"
        )
        result = invoke("run", APPLE_ORANGE, "--batch", str(path), "--skip-bad", "-o", "csv")
        assert [r["tax"] for r in read_csv(result.stdout)] == ["1.0", "2.0"]
        assert result.stderr.splitlines() == [
            f"{path}:2: missing key 'tax' (row skipped)",
            f"{path}:3: key 'tax': expected a number, got true (row skipped)",
            f"{path}:4: not JSON: Expecting ',' delimiter (row skipped)",
        ]

    def test_non_finite_results_warn_once_and_strict_stops_at_the_row(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path
    ) -> None:
        """log of 0 and -1 gives -inf and nan: a warning by default, exit 1 with --strict."""
        graph = str(write_graph("inputs: {x: 1}\nnodes:\n  y: log(x)\n"))
        path = tmp_path / "rows.csv"
        path.write_text("x\n1\n0\n-1\n", encoding="utf-8")
        result = invoke("run", graph, "--batch", str(path), "-o", "csv")
        assert result.exit_code == 0
        assert [r["y"] for r in read_csv(result.stdout)] == ["0.0", "-inf", "nan"]
        assert result.stderr == (
            f"{path}:3: warning: 2 rows have a value or gradient that is not finite "
            f"(first here: y = -inf)\n"
        )
        strict = invoke("run", graph, "--batch", str(path), "--strict", "-o", "csv")
        assert strict.exit_code == 1
        assert strict.stderr == f"{path}:3: y = -inf is not finite (--strict)\n"
        assert [r["y"] for r in read_csv(strict.stdout)] == ["0.0"]


class TestBadFilesAndGraphs:
    @pytest.mark.parametrize(
        ("header", "message"),
        [
            ("aple,tax", "column 'aple': no input named 'aple' in apple_orange.yaml "
             "(did you mean 'apple'?)"),
            ("price", "column 'price': 'price' is a node, not an input"),
            ("tax,tax", "column 'tax' appears twice"),
        ],
    )  # fmt: skip
    def test_header_columns_must_name_inputs_once(
        self, invoke: Invoke, tmp_path: Path, header: str, message: str
    ) -> None:
        """Unknown, node and repeated columns stop before any row (exit 2, line 1)."""
        path = tmp_path / "rows.csv"
        path.write_text(f"{header}\n1\n", encoding="utf-8")
        result = invoke("run", "apple_orange", "--batch", str(path))
        assert result.exit_code == 2
        assert result.stderr.startswith(f"{path}:1: {message}")
        assert result.stdout == ""

    def test_a_file_without_header_or_rows_is_explained(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """An empty file and a header of numbers each get a message (exit 1)."""
        empty = tmp_path / "empty.csv"
        empty.write_text("", encoding="utf-8")
        numbers = tmp_path / "numbers.csv"
        numbers.write_text("100,1.1\n", encoding="utf-8")
        first = invoke("run", APPLE_ORANGE, "--batch", str(empty))
        second = invoke("run", APPLE_ORANGE, "--batch", str(numbers))
        assert (first.exit_code, second.exit_code) == (1, 1)
        assert "the file is empty" in first.stderr
        assert f"{numbers}:1: the first line holds numbers" in second.stderr

    def test_a_missing_file_is_a_usage_error(self, invoke: Invoke, tmp_path: Path) -> None:
        """--batch naming no file exits 2 with the reason."""
        result = invoke("run", APPLE_ORANGE, "--batch", str(tmp_path / "nope.csv"))
        assert result.exit_code == 2
        assert "No such file or directory" in result.stderr

    def test_column_and_set_for_the_same_input_conflict(
        self, invoke: Invoke, tmp_path: Path
    ) -> None:
        """--set tax=... with a tax column is ambiguous: exit 2."""
        path = tmp_path / "rows.csv"
        path.write_text("tax\n1\n", encoding="utf-8")
        result = invoke("run", APPLE_ORANGE, "--batch", str(path), "--set", "tax=2")
        assert result.exit_code == 2
        assert "'tax' is also a column" in result.stderr

    @pytest.mark.parametrize("option", [["--skip-bad"], ["--chunk-size", "5"]])
    def test_batch_options_need_batch(self, invoke: Invoke, option: list[str]) -> None:
        """--skip-bad or --chunk-size without --batch is a usage error."""
        result = invoke("run", APPLE_ORANGE, *option)
        assert result.exit_code == 2
        assert "goes with --batch FILE" in result.stderr

    @pytest.mark.parametrize("op", sorted(set(OPS) - ELEMENTWISE_OPS))
    def test_ops_that_mix_rows_are_refused(
        self, invoke: Invoke, write_graph: WriteGraph, tmp_path: Path, op: str
    ) -> None:
        """A graph using sum, mean, matmul, affine or softmax_with_loss is refused (exit 2)."""
        args = ", ".join("abc"[: OPS[op].arity])
        required = {"shape": "[1]", "index": "'[0]'"}  # reshape's and index's
        extra = "".join(f", {a.name}: {required[a.name]}" for a in OPS[op].attributes if a.required)
        graph = write_graph(
            f"inputs: {{a: 1, b: 2, c: 3}}\nnodes:\n  y: {{op: {op}, in: [{args}]{extra}}}\n"
        )
        path = tmp_path / "rows.csv"
        path.write_text("a\n1\n", encoding="utf-8")
        result = invoke("run", str(graph), "--batch", str(path))
        assert result.exit_code == 2
        assert f"node 'y' uses '{op}', which would mix rows" in result.stderr

    def test_tensor_inputs_are_refused(self, invoke: Invoke, tmp_path: Path) -> None:
        """activations has vector inputs: --batch says which input and its shape."""
        path = tmp_path / "rows.csv"
        path.write_text("x\n1\n", encoding="utf-8")
        result = invoke("run", str(GRAPHS / "activations.yaml"), "--batch", str(path))
        assert result.exit_code == 2
        assert "input 'x' is a tensor of shape 5" in result.stderr


# --- streaming -------------------------------------------------------------------------------


class TestStreaming:
    def test_rows_from_a_pipe_arrive_before_the_writer_closes_it(self) -> None:
        """The reader hands over the rows it has while more may still come."""
        read_end, write_end = os.pipe()
        os.write(write_end, b"tax\n1.5\n2.5\n")
        closed = threading.Event()

        def close_later() -> None:
            closed.wait(10)  # a safety net: the test must not hang if reading blocks
            closed.set()
            os.close(write_end)

        closer = threading.Thread(target=close_later)
        closer.start()
        try:
            with os.fdopen(read_end, "rb", buffering=0) as stream:
                reader = RowReader(stream, "<pipe>", chunk_size=1000)
                chunk = next(reader.chunks())
                still_open = not closed.is_set()
        finally:
            closed.set()
            closer.join()
        assert still_open
        assert chunk.data.tolist() == [[1.5], [2.5]]
        assert chunk.lines.tolist() == [2, 3]

    def test_closing_the_output_early_ends_quietly(self, tmp_path: Path) -> None:
        """`bpcalc run --batch big.csv | head -1`: exit 0 and nothing on stderr."""
        path = tmp_path / "rows.csv"
        path.write_text("tax\n" + "1.5\n" * 200_000, encoding="utf-8")
        with subprocess.Popen(
            [sys.executable, "-m", "bpcalc", "run", APPLE_ORANGE, "--batch", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            first = process.stdout.readline()
            process.stdout.close()
            stderr = process.stderr.read()
            assert process.wait() == 0
        assert first.startswith(b"1.5\t")
        assert stderr == b""


class TestProgressBar:
    class FakeTerminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def test_progress_shows_rows_on_a_terminal_stderr_when_stdout_is_a_file(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """stderr a terminal, stdout redirected: the bar reports the rows done."""
        from bpcalc.output.progress import BatchProgress

        stderr = self.FakeTerminal()
        monkeypatch.setattr(sys, "stderr", stderr)
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        with BatchProgress(100) as progress:
            progress.advance_bytes(100)
            progress.advance_rows(1234)
        assert "1,234 rows" in stderr.getvalue()
        assert sys.stdout.getvalue() == ""

    @pytest.mark.parametrize(("stderr_tty", "stdout_tty"), [(False, False), (True, True)])
    def test_no_progress_in_a_pipe_or_when_rows_go_to_the_terminal(
        self, monkeypatch: pytest.MonkeyPatch, stderr_tty: bool, stdout_tty: bool
    ) -> None:
        """A piped stderr, or rows printed on the terminal, get no bar."""
        from bpcalc.output.progress import BatchProgress

        stderr = self.FakeTerminal() if stderr_tty else io.StringIO()
        monkeypatch.setattr(sys, "stderr", stderr)
        monkeypatch.setattr(sys, "stdout", self.FakeTerminal() if stdout_tty else io.StringIO())
        with BatchProgress(100) as progress:
            progress.advance_rows(1234)
        assert stderr.getvalue() == ""
