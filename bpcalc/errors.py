"""Errors the library raises, with positions, and the exit codes the CLI maps them to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

MAX_SHOWN = 20  # diagnostics printed for one file; the rest are counted


class ExitStatus(IntEnum):
    """bpcalc's exit codes (documented in README.md)."""

    OK = 0
    ERROR = 1  # the graph is invalid, evaluation failed, or a check failed
    USAGE = 2  # bad command line: unknown option, name or file
    INTERRUPTED = 130  # Ctrl-C


@dataclass(frozen=True)
class Diagnostic:
    """One problem, located in a file: ``file:line:col: message``."""

    message: str
    file: str = "<graph>"
    line: int = 0  # 1-based; 0 when unknown
    col: int = 0  # 1-based; 0 when unknown
    source_line: str | None = None  # the text of that line, to show under the message

    def location(self) -> str:
        if not self.file:
            return "Error"  # about no file: reads like a usage error
        if self.line:
            return f"{self.file}:{self.line}:{self.col or 1}"
        return self.file

    def render(self) -> str:
        text = printable(f"{self.location()}: {self.message}")
        if self.source_line is not None and self.line:
            line = self.source_line.rstrip()
            col = len(printable(line[: max(self.col, 1) - 1])) + 1  # in the escaped text
            shown, col = _excerpt(printable(line), col)
            gutter = f"{self.line:>5} | "
            caret = " " * (len(gutter) - 2) + "| " + " " * (col - 1) + "^"
            text += f"\n{gutter}{shown}\n{caret}"
        return text


# Control characters (escape sequences that recolour or clear a terminal, carriage returns
# that overwrite a line, newlines that would fake another message) and bidirectional
# overrides ("Trojan source") from a hostile file are shown escaped, never sent to the
# terminal as they are. Only tabs pass.
_UNPRINTABLE = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (
        *range(0x00, 0x09),
        *range(0x0A, 0x20),
        *range(0x7F, 0xA0),
        *range(0x2028, 0x202F),  # line and paragraph separators, bidi embeddings
        *range(0x2066, 0x206A),
    )
}


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a message cannot drive the terminal."""
    return text.translate(_UNPRINTABLE)


def _excerpt(line: str, col: int, width: int = 100) -> tuple[str, int]:
    """At most ``width`` characters of a long line around ``col``, and the column within them."""
    if len(line) <= width:
        return line, col
    start = max(0, min(col - 1 - width // 2, len(line) - width))
    shown = line[start : start + width]
    prefix = "..." if start else ""
    suffix = "..." if start + width < len(line) else ""
    return prefix + shown + suffix, col - start + len(prefix)


class BpcalcError(Exception):
    """Base of every error bpcalc reports without a traceback."""

    exit_status = ExitStatus.ERROR

    def __init__(self, diagnostics: Iterable[Diagnostic] | str) -> None:
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics, file="")]
        self.diagnostics = list(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        shown = [d.render() for d in self.diagnostics[:MAX_SHOWN]]
        hidden = len(self.diagnostics) - MAX_SHOWN
        if hidden > 0:
            shown.append(f"... and {hidden} more error{'s' * (hidden != 1)}")
        return "\n".join(shown)


class GraphError(BpcalcError):
    """The graph file is invalid (exit 1)."""


class EvaluationError(BpcalcError):
    """A layer failed while evaluating the graph (exit 1)."""


class CannotOpen(BpcalcError):
    """A graph file that is missing, a directory or unreadable (exit 2, like a bad argument)."""

    exit_status = ExitStatus.USAGE


class UsageProblem(BpcalcError):
    """The command line asks for something that does not exist (exit 2)."""

    exit_status = ExitStatus.USAGE

    def __init__(self, message: str) -> None:
        super().__init__([Diagnostic(message, file="bpcalc")])

    def render(self) -> str:
        return printable(f"Error: {self.diagnostics[0].message}")


_FEW_NAMES = 2000  # difflib compares a word with this many names in about 10 ms


class NameIndex:
    """Many names, sorted once by their beginnings and by their ends, so that each hint
    compares a word with the few thousand names that begin or end most like it rather than
    with every name: difflib over a million names takes half a minute per word."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(names)
        self._sorted: tuple[list[str], list[str]] | None = None

    def candidates(self, word: str) -> list[str]:
        """The names a hint for ``word`` is chosen from: all of them when they are few."""
        if len(self.names) <= _FEW_NAMES:
            return self.names
        import bisect

        if self._sorted is None:
            self._sorted = (sorted(self.names), sorted(name[::-1] for name in self.names))
        forward, backward = self._sorted
        side = _FEW_NAMES // 4
        at = bisect.bisect_left(forward, word)
        near = forward[max(0, at - side) : at + side]
        at = bisect.bisect_left(backward, word[::-1])
        near += [name[::-1] for name in backward[max(0, at - side) : at + side]]
        return list(dict.fromkeys(near))


def did_you_mean(word: str, choices: Iterable[str] | NameIndex) -> str:
    """A ' (did you mean 'x'?)' suffix for the closest choice, or ''. Among many choices
    (more than a few thousand) only those that begin or end most like the word are
    compared; pass a NameIndex to hint at many words among the same many names."""
    import difflib  # only when a name is wrong: keeps it off every command's start-up

    index = choices if isinstance(choices, NameIndex) else NameIndex(choices)
    close = difflib.get_close_matches(word, index.candidates(word), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
