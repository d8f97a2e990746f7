"""A graph written as command-line arguments (``bpcalc calc``): ``name = expression`` words
and ``NAME=VALUE`` inputs become the text of an equivalent graph file.

An argument whose right side is a number, a ``[list]`` or a ``{mapping}`` gives an input, as
``--set`` does; any other ``name = expression`` defines a node; a last argument without
``name =`` is the node ``result``. Problems point into the arguments:
``calc: argument 2, column 9: unknown op 'sqr'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bpcalc.errors import Diagnostic, GraphError
from bpcalc.limits import DEFAULT_LIMITS
from bpcalc.loading.expressions import ExpressionError, parse_expression
from bpcalc.loading.literals import is_number_text
from bpcalc.loading.schema import canonical_name, check_name

RESULT = "result"  # the name of a last expression written without ``name =``


@dataclass(frozen=True)
class Word:
    """One argument: an input (``value``) or a node (``expression``), and where its right
    side starts in the argument (0-based), for messages."""

    index: int  # 1-based, as the message says it
    name: str
    text: str
    start: int
    is_input: bool


@dataclass(frozen=True)
class ArgumentGraph:
    """The graph the arguments describe, as graph-file text, and which line is whose."""

    text: str
    output: str
    lines: dict[int, Word]  # line of the text -> the argument written there


def problem(word: Word | None, message: str, column: int | None = None) -> Diagnostic:
    """A message about an argument: ``calc: argument 2, column 9: ...``."""
    if word is None:
        return Diagnostic(message, file="calc")
    where = f"calc: argument {word.index}"
    if column is not None:
        where += f", column {column + 1}"
    return Diagnostic(message, file=where)


def read_arguments(words: Sequence[str]) -> ArgumentGraph:
    """The graph text of the arguments; GraphError with every problem found, located."""
    problems: list[Diagnostic] = []
    parsed: list[Word] = []
    for index, word in enumerate(words, start=1):
        found = _split(index, word, last=index == len(words))
        if isinstance(found, Diagnostic):
            problems.append(found)
        else:
            parsed.append(found)
    inputs = [w for w in parsed if w.is_input]
    nodes = [w for w in parsed if not w.is_input]
    if not nodes and not problems:
        problems.append(problem(None, "no expression: write one such as 'f = x**2 + 3*x'"))
    seen: dict[str, Word] = {}
    for w in parsed:
        if w.name in seen:
            first = seen[w.name]
            problems.append(problem(w, f"'{w.name}' is already given by argument {first.index}", 0))
        seen.setdefault(w.name, w)
    defined = {w.name for w in inputs}
    missing: dict[str, Word] = {}
    for w in nodes:
        try:
            calls = parse_expression(
                w.name, w.text, max_length=DEFAULT_LIMITS.max_expression_length
            )
        except ExpressionError as err:
            problems.append(problem(w, err.message, w.start + _lead(w.text) + err.column))
            continue
        made = {call.name for call in calls}
        for call in calls:
            for arg in call.args:
                if isinstance(arg, str) and arg not in defined and arg not in made:
                    missing.setdefault(arg, w)
        defined.add(w.name)
    if missing:
        names = ", ".join(missing)
        example = " ".join(f"{name}=1" for name in missing)
        problems.append(
            problem(
                None,
                f"{'a name is' if len(missing) == 1 else 'names are'} used but not given: "
                f"{names}; give {'it' if len(missing) == 1 else 'each'} a value, "
                f"such as {example}",
            )
        )
    if problems:
        raise GraphError(problems)
    lines: dict[int, Word] = {}
    out = ["inputs:" if inputs else "inputs: {}"]
    for w in inputs:
        lines[len(out) + 1] = w
        out.append(f"  {w.name}: {w.text}")
    out.append("nodes:")
    for w in nodes:
        lines[len(out) + 1] = w
        out.append(f"  {w.name}: {_quoted(w.text)}")
    output = nodes[-1].name
    out.append(f"output: {output}")
    return ArgumentGraph("\n".join(out) + "\n", output, lines)


def _split(index: int, word: str, *, last: bool) -> Word | Diagnostic:
    if "\n" in word or "\r" in word:
        return problem(Word(index, "", word, 0, False), "an argument is one line")
    name, sep, right = word.partition("=")
    if sep and right.startswith("="):  # '==' is no assignment
        sep = ""
    if not sep or not name.strip().isidentifier():
        if last:
            return Word(index, RESULT, word, 0, False)
        return problem(
            Word(index, "", word, 0, False),
            "expected 'name = expression' or NAME=VALUE (only the last argument may be a "
            "bare expression)",
        )
    shown = name.strip()
    reason = check_name(shown)
    if reason is not None:
        return problem(Word(index, shown, word, 0, False), reason, word.index(shown))
    start = len(name) + 1
    value = right.strip()
    is_input = value.startswith(("[", "{")) or (bool(value) and is_number_text(value))
    return Word(index, canonical_name(shown), right, start, is_input)


def _lead(text: str) -> int:
    """Spaces before the expression: parse_expression's columns count from its first
    character."""
    return len(text) - len(text.lstrip())


def _quoted(text: str) -> str:
    """A YAML single-quoted scalar: only ``'`` needs doubling."""
    return "'" + text.strip().replace("'", "''") + "'"


def relocate(error: GraphError, graph: ArgumentGraph) -> GraphError:
    """Messages about the generated graph text, pointed at the arguments they came from."""
    located = []
    for d in error.diagnostics:
        word = graph.lines.get(d.line)
        located.append(Diagnostic(d.message, file=problem(word, "").file) if d.line else d)
    return GraphError(located)
