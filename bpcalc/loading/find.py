"""Finding the graph a command works on: a path, stdin, or a bundled example by name."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bpcalc.errors import UsageProblem, did_you_mean
from bpcalc.limits import Limits

DEFAULT_GRAPH = "graph.yaml"
ENV_GRAPH = "BPCALC_GRAPH"


def examples_dir() -> Path:
    """Bundled examples: inside the installed package, or ``graphs/`` of a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the bpcalc package
    for candidate in (here / "graphs", here.parent / "graphs"):
        if candidate.is_dir():
            return candidate
    return here / "graphs"


def example_paths() -> dict[str, Path]:
    return {p.stem: p for p in sorted(examples_dir().glob("*.yaml"))}


@dataclass(frozen=True)
class GraphRef:
    """Where a graph comes from: a file (``path``) or stdin (``path`` is None)."""

    shown: str  # the name used in messages
    path: Path | None
    note: str | None = None  # to print on stderr: a file here shadows an example


def resolve_graph(arg: str | None) -> GraphRef:
    """GRAPH as given, else $BPCALC_GRAPH, else ./graph.yaml."""
    if arg is None:
        arg = os.environ.get(ENV_GRAPH) or None
    if arg is None:
        if Path(DEFAULT_GRAPH).exists():
            return GraphRef(DEFAULT_GRAPH, Path(DEFAULT_GRAPH))
        raise UsageProblem(
            f"no GRAPH given and no ./{DEFAULT_GRAPH} here; pass a graph file, "
            f"'-' for stdin, or an example name ('bpcalc examples' lists them)"
        )
    if arg == "-":
        return GraphRef("<stdin>", None)
    path = Path(arg)
    if _exists(path) or os.sep in arg or path.suffix:
        note = None
        if os.sep not in arg and not path.suffix and arg in example_paths():
            # The file here wins, as a path always does, but never silently.
            note = (
                f"note: using the file ./{arg}, not the bundled example '{arg}'; "
                f"write ./{arg} to say so, or rename the file to reach the example"
            )
        return GraphRef(arg, path, note)
    examples = example_paths()
    if arg in examples:
        return GraphRef(examples[arg].name, examples[arg])
    hint = _file_with_suffix(arg) or did_you_mean(arg, examples)
    raise UsageProblem(
        f"no graph file or example named '{arg}'{hint}; 'bpcalc examples' lists the examples"
    )


def _file_with_suffix(arg: str) -> str:
    """' (did you mean 'profit.yaml'?)' when the name is a graph file's here without its
    suffix: a bare name is looked up among the examples, a file is named with its suffix."""
    for suffix in (".yaml", ".yml", ".json"):
        candidate = Path(arg + suffix)
        if not Path(arg).suffix and _exists(candidate) and candidate.is_file():
            return f" (did you mean the file '{arg}{suffix}'?)"
    return ""


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; False for a name the system refuses (too long, say): opening
    it then gives the clear error."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def read_graph_text(ref: GraphRef, limits: Limits) -> str:
    """The text of the graph; a file that cannot be opened is a usage error (exit 2)."""
    from bpcalc.loading.parse import decode, read_text, read_up_to

    if ref.path is None:
        try:
            fd = sys.stdin.buffer.fileno()
        except (OSError, ValueError, AttributeError):  # no real stdin (in tests)
            data = sys.stdin.buffer.read(limits.max_file_bytes + 1)
        else:
            data = read_up_to(fd, limits.max_file_bytes + 1)
        return decode(data, ref.shown, limits)
    return read_text(ref.path, limits, shown=ref.shown)
