"""The options commands share, each group handed to a command as one typed, frozen object.

``graph_options`` gives a command ``source: GraphOptions`` (GRAPH, --set, --of, the limits...),
``output_options`` gives ``output: OutputOptions`` (-o, --digits, --excel-safe) and
``batch_options`` gives ``batch: BatchOptions``; ``GraphOptions.load`` and ``.evaluate`` do
what every evaluating command does first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import click

from bpcalc.errors import BpcalcError, UsageProblem
from bpcalc.ops.table import exact_help

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.limits import Limits
    from bpcalc.loading.graph import Graph

F = TypeVar("F", bound=Callable[..., Any])


def option_group(
    keyword: str,
    build: Callable[..., Any],
    declarations: Sequence[Callable[[Any], Any]],
    names: Sequence[str],
) -> Callable[[F], F]:
    """Declare the click parameters ``names`` (by ``declarations``, in order) and hand the
    command one ``build(**their values)`` as its ``keyword`` argument instead."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return func(**kwargs, **{keyword: build(**values)})

        command: Any = wrapper
        for declaration in reversed(declarations):
            command = declaration(command)
        return command  # type: ignore[no-any-return]

    return decorate


def canonical_names(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Names on the command line are read as names in graph files are (NFKC-normalised)."""
    if not value:
        return value
    from bpcalc.loading.schema import canonical_name

    if isinstance(value, tuple):
        return tuple(canonical_name(name) for name in value)
    return canonical_name(value)


def _complete_graph(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    from bpcalc.loading.find import example_paths

    items = [CompletionItem(name) for name in example_paths() if name.startswith(incomplete)]
    return [*items, CompletionItem(incomplete, type="file")]


def complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Node and input names of the graph named on the command line so far."""
    try:
        # While an option's value is being completed, click may leave GRAPH unparsed in args.
        graph_arg = ctx.params.get("graph") or next(iter(ctx.args), None)
        graph = load_graph(graph_arg, (), limits_from(), False)
    except Exception:  # completion must never fail loudly
        return []
    names = list(graph.inputs) if param.name == "sets" else graph.names
    suffix = "=" if param.name == "sets" else ""
    return [name + suffix for name in names if name.startswith(incomplete)]


@dataclass(frozen=True)
class GraphOptions:
    """GRAPH and the options every evaluating command takes."""

    graph: str | None
    sets: tuple[str, ...]
    of: str | None
    strict: bool
    allow_outside_files: bool
    base_dir: str | None
    limits: Limits
    debug: bool

    @classmethod
    def from_values(
        cls,
        *,
        max_file_size: int | None,
        max_nodes: int | None,
        max_expression_length: int | None,
        max_elements: int | None,
        max_memory: int | None,
        **values: Any,
    ) -> GraphOptions:
        limits = limits_from(
            max_file_size=max_file_size,
            max_nodes=max_nodes,
            max_expression_length=max_expression_length,
            max_elements=max_elements,
            max_memory=max_memory,
        )
        return cls(limits=limits, **values)

    def load(self) -> Graph:
        """The graph GRAPH names, with the --set values in."""
        click.get_current_context().meta["bpcalc.debug"] = self.debug
        return load_graph(
            self.graph, self.sets, self.limits, self.allow_outside_files, self.base_dir
        )

    def evaluate(self, *, trace: bool = False, exact: bool = False) -> tuple[Graph, Evaluation]:
        """Load and evaluate the graph, and report non-finite values (an error with --strict).

        With ``trace=True`` the evaluation also lists every backward contribution.
        """
        graph = self.load()
        evaluation = graph.evaluate(of=self.of, trace=trace, exact=exact)
        if evaluation.warnings:
            from bpcalc.errors import EvaluationError

            if self.strict:
                from dataclasses import replace

                errors = [
                    replace(d, message=d.message.removeprefix("warning: "))
                    for d in evaluation.warnings
                ]
                raise EvaluationError(errors)
            for warning in evaluation.warnings:
                click.echo(warning.render(), err=True)
        return graph, evaluation


_GRAPH_NAMES = (
    "graph",
    "sets",
    "of",
    "strict",
    "allow_outside_files",
    "base_dir",
    "max_file_size",
    "max_nodes",
    "max_expression_length",
    "max_elements",
    "max_memory",
    "debug",
)


def graph_options(func: F) -> F:
    """GRAPH and the options every evaluating command takes, as ``source: GraphOptions``."""
    declarations = _graph_declarations()
    return option_group("source", GraphOptions.from_values, declarations, _GRAPH_NAMES)(func)


def _graph_declarations() -> list[Callable[[Any], Any]]:
    return [
        click.argument("graph", required=False, shell_complete=_complete_graph),
        click.option(
            "--set",
            "sets",
            multiple=True,
            metavar="NAME=VALUE",
            shell_complete=complete_names,
            help="Replace an input's value (a YAML value: 1.08, [1, 2], {zeros: 3}). Repeatable.",
        ),
        click.option(
            "--of",
            "of",
            metavar="NODE",
            callback=canonical_names,
            shell_complete=complete_names,
            help="Differentiate this node instead of the graph's output.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Treat NaN or infinity in a value or gradient as an error (exit 1).",
        ),
        click.option(
            "--allow-outside-files",
            is_flag=True,
            help="Let 'file:' inputs read outside the graph file's folder.",
        ),
        click.option(
            "--base-dir",
            type=click.Path(exists=True, file_okay=False),
            metavar="DIR",
            help="Folder that 'file:' inputs are relative to [the graph file's folder; "
            "a graph on stdin reads no files without it].",
        ),
        click.option(
            "--max-file-size",
            type=click.IntRange(1),
            metavar="BYTES",
            help="Largest graph or data file to read [32 MiB].",
        ),
        click.option(
            "--max-nodes",
            type=click.IntRange(1),
            metavar="N",
            help="Most inputs and nodes in a graph [1,000,000].",
        ),
        click.option(
            "--max-expression-length",
            type=click.IntRange(1),
            metavar="N",
            help="Longest expression, in characters [10,000].",
        ),
        click.option(
            "--max-elements",
            type=click.IntRange(1),
            metavar="N",
            help="Most elements in one tensor [20,000,000].",
        ),
        click.option(
            "--max-memory",
            type=ByteSize(),
            metavar="SIZE",
            help="Memory a graph may need, estimated before reading and evaluating it "
            "(bytes, or with K, M, G) [2G].",
        ),
        click.option(
            "--debug",
            is_flag=True,
            hidden=True,
            help="Show a traceback instead of a message (for developers).",
        ),
    ]


def exact_option(func: F) -> F:
    """``--exact``: rational arithmetic from the decimals as written."""
    return click.option(
        "--exact",
        is_flag=True,
        help=f"Compute exactly with fractions (1.1 is 11/10); only for {exact_help()}.",
    )(func)


def format_option(choices: Sequence[str], help: str) -> Callable[[F], F]:
    """``-o/--output`` with the formats a command writes (its ``fmt`` parameter)."""
    return click.option(
        "-o",
        "--output",
        "fmt",
        default="auto",
        show_default=True,
        type=click.Choice(choices),
        help=help,
    )


def digits_option(
    help: str = "Significant digits to show (default: all digits in machine formats, "
    "12 in tables).",
) -> Callable[[F], F]:
    """``--digits N``: rounding for display; machine formats are lossless without it."""
    return click.option("--digits", type=click.IntRange(1, 17), metavar="N", help=help)


def excel_safe_option(func: F) -> F:
    """``--excel-safe``: names and headers in CSV/TSV that spreadsheets cannot run."""
    return click.option(
        "--excel-safe",
        is_flag=True,
        help="In CSV and TSV, put ' before a name or header beginning with = + - @ (or a tab or "
        "CR), so that a spreadsheet shows it as text instead of running it as a formula.",
    )(func)


@dataclass(frozen=True)
class OutputOptions:
    """How results are written: ``-o``, ``--digits`` and ``--excel-safe``."""

    fmt: str
    digits: int | None
    excel_safe: bool


def output_options(func: F) -> F:
    """``-o``, ``--digits`` and ``--excel-safe`` as run and grad take them, as
    ``output: OutputOptions``."""
    declarations = [
        format_option(
            ["auto", "table", "tsv", "csv", "json"],
            "Output format; auto is a table on a terminal, TSV in a pipe.",
        ),
        digits_option(),
        excel_safe_option,
    ]
    names = ("fmt", "digits", "excel_safe")
    return option_group("output", OutputOptions, declarations, names)(func)


class ByteSize(click.ParamType[int]):
    """A size in bytes: ``1000000``, ``512M``, ``2G`` (K, M, G, T are powers of 1024)."""

    name = "size"
    _UNITS: ClassVar[dict[str, int]] = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        import re

        if isinstance(value, int):
            return value
        pattern = r"\s*(\d{1,15})(?:\.(\d{1,6}))?\s*([KMGT]?)(?:i?B)?\s*"
        match = re.fullmatch(pattern, str(value), re.IGNORECASE | re.ASCII)
        if match:
            whole, fraction, unit = match.groups()
            number = int(whole) + (int(fraction) / 10 ** len(fraction) if fraction else 0)
            size = int(number * self._UNITS[unit.upper()])
            if size >= 1:
                return size
        self.fail(f"expected a size such as 500M or 2G, got {value!r}", param, ctx)


def limits_from(**options: int | None) -> Limits:
    """The limits, with the --max-* options that were given (by their option names)."""
    from dataclasses import replace

    from bpcalc.limits import DEFAULT_LIMITS

    fields = {"max_file_size": "max_file_bytes"}  # the other options are named as their fields
    given = {fields.get(name, name): value for name, value in options.items() if value is not None}
    return replace(DEFAULT_LIMITS, **given)


def load_graph(
    graph_arg: str | None,
    sets: tuple[str, ...],
    limits: Limits,
    allow_outside_files: bool,
    base_dir: str | None = None,
) -> Graph:
    """The graph GRAPH names; ``file:`` inputs are relative to ``base_dir`` (--base-dir),
    else to the graph file's folder; a graph from stdin without --base-dir reads no files."""
    from pathlib import Path

    from bpcalc.loading.build import loads
    from bpcalc.loading.find import read_graph_text, resolve_graph

    ref = resolve_graph(graph_arg)
    context = click.get_current_context(silent=True)
    if ref.note and not (context and context.resilient_parsing):  # never while completing
        from bpcalc.errors import printable

        click.echo(printable(ref.note), err=True)
    text = read_graph_text(ref, limits)
    folder = Path(base_dir) if base_dir is not None else None
    if folder is None and ref.path is not None:
        folder = ref.path.parent
    graph = loads(
        text,
        name=ref.shown,
        base_dir=folder,
        limits=limits,
        allow_outside_files=allow_outside_files,
    )
    if sets:
        graph = graph.with_inputs(_parse_sets(graph, sets, limits, allow_outside_files))
    return graph


def _parse_sets(
    graph: Graph, sets: tuple[str, ...], limits: Limits, allow_outside_files: bool
) -> dict[str, Any]:
    from dataclasses import replace
    from pathlib import Path

    from bpcalc.loading.inputs import InputError, read_input
    from bpcalc.loading.parse import parse

    values = {}
    for item in sets:
        from bpcalc.loading.schema import canonical_name

        name, sep, text = item.partition("=")
        name = canonical_name(name.strip())
        if not sep or not name:
            raise UsageProblem(f"--set expects NAME=VALUE, got '{item}'")
        if name not in graph.inputs:
            message = graph.unknown_name_message(name, inputs_only=True)
            if name in graph.names:
                message += "; --set only changes inputs"
            raise UsageProblem(f"--set: {message}")
        if name in values:  # as a duplicate key in a graph file: never the last one silently
            raise UsageProblem(f"--set {name}: set twice; give each input one --set")
        try:
            raw = parse(text, f"--set {name}").data if text.strip() else ""
            value = read_input(
                raw, base_dir=Path.cwd(), limits=limits, allow_outside_files=allow_outside_files
            )
        except InputError as err:
            raise UsageProblem(f"--set {name}={text}: {err.message}") from None
        except BpcalcError as err:
            raise UsageProblem(f"--set {name}={text}: {err.diagnostics[0].message}") from None
        if not (isinstance(raw, dict) and "grad" in raw):
            value = replace(value, grad=graph.inputs[name].grad)
        values[name] = value
    return values


# --- --batch (run by bpcalc.cli.batch, imported only when used) --------------------------------


@dataclass(frozen=True)
class BatchOptions:
    """``--batch FILE`` and the options that go with it."""

    file: str | None
    fmt: str
    chunk_size: int | None
    skip_bad: bool

    @classmethod
    def from_values(
        cls, *, batch: str | None, batch_format: str, chunk_size: int | None, skip_bad: bool
    ) -> BatchOptions:
        return cls(batch, batch_format, chunk_size, skip_bad)

    def requested(self) -> bool:
        """Whether --batch was given; its companion options without it are a usage error."""
        if self.file is not None:
            return True
        given = [
            flag
            for flag, used in (
                ("--batch-format", self.fmt != "auto"),
                ("--chunk-size", self.chunk_size is not None),
                ("--skip-bad", self.skip_bad),
            )
            if used
        ]
        if given:
            raise UsageProblem(f"{given[0]} goes with --batch FILE")
        return False


def refuse_exact_batch(exact: bool) -> None:
    if exact:
        raise UsageProblem("--exact does not combine with --batch (batches are float64)")


def batch_options(func: F) -> F:
    """--batch FILE and the options that go with it, as ``batch: BatchOptions``."""
    from bpcalc.limits import DEFAULT_CHUNK_SIZE

    declarations = [
        click.option(
            "--batch",
            "batch",
            metavar="FILE",
            help="Evaluate once per row of FILE (CSV, TSV or JSON Lines with a header naming "
            "inputs; '-' for stdin) and print one row per row.",
        ),
        click.option(
            "--batch-format",
            type=click.Choice(["auto", "csv", "tsv", "jsonl"]),
            default="auto",
            show_default=True,
            help="Format of the --batch file; auto goes by its extension, else its first line.",
        ),
        click.option(
            "--chunk-size",
            type=click.IntRange(1),
            metavar="ROWS",
            help=f"Rows evaluated at once with --batch [{DEFAULT_CHUNK_SIZE:,}].",
        ),
        click.option(
            "--skip-bad",
            is_flag=True,
            help="With --batch, report bad rows on stderr and go on instead of stopping.",
        ),
    ]
    names = ("batch", "batch_format", "chunk_size", "skip_bad")
    return option_group("batch", BatchOptions.from_values, declarations, names)(func)
