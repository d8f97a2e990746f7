"""Errors the library raises, with positions, and the exit codes the CLI maps them to."""

from __future__ import annotations

import re
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
# that overwrite a line, newlines that would fake another message), bidirectional controls
# ("Trojan source") and other invisible format characters from a hostile file are shown
# escaped, never sent to a terminal or written into a document as they are: every Cc
# (control), Cf (format), Cs (surrogate), Zl and Zp character, and U+FFFE/U+FFFF (not allowed
# in XML). Only tabs pass, and the zero-width joiners U+200C/U+200D that Persian, Indic
# scripts and emoji need. tests/test_defects_escapes.py checks the list against unicodedata.
_UNPRINTABLE_RANGES = (
    (0x00, 0x08),
    (0x0A, 0x1F),
    (0x7F, 0x9F),
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),  # line and paragraph separators, bidi embeddings and overrides
    (0x2060, 0x2064),
    (0x2066, 0x206F),  # bidi isolates, deprecated format characters
    (0xD800, 0xDFFF),  # lone surrogates (from JSON): not even encodable as UTF-8
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0xFFFE, 0xFFFF),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),  # tag characters: invisible ASCII
)
_UNPRINTABLE = re.compile(
    "[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _UNPRINTABLE_RANGES) + "]"
)


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    """As Python's ``repr`` writes the character: ``\\n``, ``\\x1b``, ``\\u202e``."""
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with control, bidi and invisible format characters escaped (``\\x1b``,
    ``\\u202e``), so a message, a table or a drawing cannot drive the terminal or hide text.
    The one function every human-facing output goes through."""
    if _clean(text):
        return text
    return _UNPRINTABLE.sub(_escaped, text)


def _clean(text: str) -> bool:
    """Whether ``text`` has no character that ``printable`` escapes. Printable ASCII (0x20 to
    0x7E: what JSON output and most names are) has none, and str.isprintable says so ten times
    faster than the pattern searches a long text."""
    return (text.isascii() and text.isprintable()) or _UNPRINTABLE.search(text) is None


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_escaped(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every character that
    ``printable`` escapes written as a JSON ``\\u`` escape: the same document to a JSON reader
    (lossless), but no raw control or bidi character in its bytes."""
    if _clean(text):
        return text
    return _UNPRINTABLE.sub(_json_escape, text)


def first_unprintable(text: str, allowed: str = "") -> int:
    """The index of the first character of ``text`` that ``printable`` escapes, apart from
    those in ``allowed``; -1 when there is none."""
    for match in _UNPRINTABLE.finditer(text):
        if match.group() not in allowed:
            return match.start()
    return -1


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
    """The caller asks for something that does not exist (exit 2).

    ``about`` names the argument of the library call that was wrong (``"wrt"``, ``"of"``,
    ``"sets"``): the message is in the graph's terms, and the command line puts the option
    that argument came from in front of it (``--wrt: ...``).
    """

    exit_status = ExitStatus.USAGE

    def __init__(self, message: str, *, about: str | None = None) -> None:
        super().__init__([Diagnostic(message, file="bpcalc")])
        self.about = about

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
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def closest(word: str, choices: Iterable[str] | NameIndex) -> str | None:
    """The choice a typo of ``word`` most likely stands for, or None.

    Words are compared decomposed (NFD), so that a Korean syllable or an accented letter typed
    with one wrong part is one difference, not a whole wrong character (``사가`` is close to
    ``사과``). difflib's ratio alone is loose for short words (``maximum`` and ``matmul`` share
    60%), so a short word's match must also be within a few typed characters' edits."""
    import difflib  # only when a name is wrong: keeps it off every command's start-up
    import unicodedata

    index = choices if isinstance(choices, NameIndex) else NameIndex(choices)
    decomposed: dict[str, str] = {}
    for choice in index.candidates(word):
        decomposed.setdefault(unicodedata.normalize("NFD", choice), choice)
    typed = unicodedata.normalize("NFD", word)
    for match in difflib.get_close_matches(typed, decomposed, n=5, cutoff=0.6):
        if len(typed) > _SHORT or _edits(typed, match) <= max(1, len(typed) // 3):
            return decomposed[match]
    return None


_SHORT = 8  # up to this length, a hint must be within len // 3 edits of the word


def _edits(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) that turn ``a`` into ``b``."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        row = [i]
        for j, y in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        previous2, previous = previous, row
    return previous[-1]
