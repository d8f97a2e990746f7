"""Options shared by the commands that load and evaluate a graph, and the loading itself."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import click

from bpcalc.errors import BpcalcError, UsageProblem
from bpcalc.ops.table import exact_help

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.limits import Limits
    from bpcalc.loading.graph import Graph

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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
        graph = load_graph(graph_arg, (), limits_from(ctx.params), False)
    except Exception:  # completion must never fail loudly
        return []
    names = list(graph.inputs) if param.name == "sets" else graph.names
    suffix = "=" if param.name == "sets" else ""
    return [name + suffix for name in names if name.startswith(incomplete)]


def graph_options(func: F) -> F:
    """GRAPH and the options every evaluating command takes."""
    options = [
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
    for option in reversed(options):
        func = option(func)
    return func


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


def output_options(func: F) -> F:
    """``-o``, ``--digits`` and ``--excel-safe`` as run and grad take them."""
    func = excel_safe_option(func)
    func = digits_option()(func)
    return format_option(
        ["auto", "table", "tsv", "csv", "json"],
        "Output format; auto is a table on a terminal, TSV in a pipe.",
    )(func)


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


def limits_from(params: dict[str, Any]) -> Limits:
    from dataclasses import replace

    from bpcalc.limits import DEFAULT_LIMITS

    overrides = {
        field: params.get(option)
        for field, option in (
            ("max_file_bytes", "max_file_size"),
            ("max_nodes", "max_nodes"),
            ("max_expression_length", "max_expression_length"),
            ("max_elements", "max_elements"),
            ("max_memory", "max_memory"),
        )
    }
    return replace(DEFAULT_LIMITS, **{k: v for k, v in overrides.items() if v is not None})


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


def evaluate_graph(params: dict[str, Any], *, trace: bool = False) -> tuple[Graph, Evaluation]:
    """Load the graph the options name, evaluate it, and report non-finite values.

    With ``trace=True`` the evaluation also lists every backward contribution.
    """
    click.get_current_context().meta["bpcalc.debug"] = params["debug"]
    graph = load_graph(
        params["graph"],
        params["sets"],
        limits_from(params),
        params["allow_outside_files"],
        params.get("base_dir"),
    )
    evaluation = graph.evaluate(of=params["of"], trace=trace, exact=params.get("exact", False))
    if evaluation.warnings:
        from bpcalc.errors import EvaluationError

        if params["strict"]:
            from dataclasses import replace

            errors = [
                replace(d, message=d.message.removeprefix("warning: ")) for d in evaluation.warnings
            ]
            raise EvaluationError(errors)
        for warning in evaluation.warnings:
            click.echo(warning.render(), err=True)
    return graph, evaluation


def pass_params(func: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(func)
    def wrapper(**params: Any) -> None:
        # Names on the command line are read as names in graph files are (NFKC-normalised).
        if params.get("of") or params.get("wrt"):
            from bpcalc.loading.schema import canonical_name

            if params.get("of"):
                params["of"] = canonical_name(params["of"])
            if params.get("wrt"):
                params["wrt"] = tuple(canonical_name(name) for name in params["wrt"])
        func(params)

    return wrapper


# --- --batch (run by bpcalc.cli.batch, imported only when used) --------------------------------

_BATCH_ONLY = (("batch_format", "auto", "--batch-format"), ("chunk_size", None, "--chunk-size"))


def batch_options(func: F) -> F:
    """--batch FILE and the options that go with it."""
    from bpcalc.limits import DEFAULT_CHUNK_SIZE

    options = [
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
    for option in reversed(options):
        func = option(func)
    return func


def batch_requested(params: dict[str, Any]) -> bool:
    """Whether --batch was given; its companion options without it are a usage error."""
    if params.get("batch") is not None:
        return True
    given = [flag for key, default, flag in _BATCH_ONLY if params.get(key, default) != default]
    given += ["--skip-bad"] if params.get("skip_bad") else []
    if given:
        raise UsageProblem(f"{given[0]} goes with --batch FILE")
    return False
