"""A graph as a plain Python script in the book's style: layers, forward, backward, print.

The script makes the same layer calls in the same order as the engine (bpcalc.engine.plan), and adds
gradients in the same order, so it prints the very same floats as ``bpcalc run``.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpcalc import __version__
from bpcalc.loading.literals import Const
from bpcalc.loading.schema import canonical_name
from bpcalc.ops.table import BINARY_SYMBOLS, OPS

if TYPE_CHECKING:
    from bpcalc.engine.evaluation import Evaluation
    from bpcalc.loading.graph import Graph
    from bpcalc.loading.schema import NodeDef

_SYMBOL_WORDS = BINARY_SYMBOLS  # x1 * w1 is x1_mul_w1
_TOKEN = re.compile(r"\*\*|[A-Za-z_]\w*|\d[\d.]*(?:[eE][+-]?\d+)?|\.\d+|[-+*/@]")
_LONGEST_NAME = 32

ERRSTATE = (
    "# As bpcalc does: IEEE inf and nan instead of warnings (log(0) is -inf).\n"
    'np.seterr(all="ignore")'
)
SHOW = '''def show(value):
    """Plain Python numbers: every digit of a float, a tensor as nested lists."""
    return value.tolist() if isinstance(value, np.ndarray) else value'''


# A comment on the first two lines that matches this sets the script's encoding (PEP 263).
_CODING = re.compile(r"(coding)([:=])", re.IGNORECASE)


def code_text(text: str, *, literal: bool = False) -> str:
    """Text from the graph made safe to put in generated code; every such text goes through here.

    Names, the graph's name and description and the file name reach the script in comments
    (``literal=False``) and in the labels it prints (``literal=True``: a quoted string literal
    that reads back as ``text``). Backslashes, quotes (in literals) and every character that
    is not printable (line breaks, NUL, other control and format characters such as bidi
    overrides, lone surrogates) are written as Python escapes, so no text can end a comment,
    close a string or make the script invalid; and ``coding:`` is escaped too, so a comment on
    the first lines cannot change how Python decodes the script.
    """
    if not text.isprintable() or "\\" in text or (literal and "'" in text):
        text = "".join(_escaped(ch, literal) for ch in text)
    text = _CODING.sub(lambda m: m[1] + ("\\x3a" if m[2] == ":" else "\\x3d"), text)
    return f"'{text}'" if literal else text


def _escaped(ch: str, literal: bool) -> str:
    if ch == "\\" or (literal and ch == "'"):
        return "\\" + ch
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class _Namer:
    """Unique Python identifiers: what the graph calls a thing, made valid and unshadowing.

    Python reads identifiers NFKC-normalised (``ｎｐ`` is ``np``), so names are compared and
    written in that form: no graph name can merge with another or shadow a name the script
    uses. Dunder names (``__builtins__``) are never taken either.
    """

    def __init__(self, reserved: Iterable[str]) -> None:
        self.taken = {canonical_name(name) for name in reserved}

    def take(self, base: str) -> str:
        base = canonical_name(base)
        if not base.isidentifier():
            base = "node"
        name, n = base, 1
        while (
            name in self.taken
            or keyword.iskeyword(name)
            or (name.startswith("__") and name.endswith("__"))
        ):
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


def _identifier(name: str, op: str, anonymous: bool) -> str:
    """``x1 * w1`` becomes ``x1_mul_w1``; a long expression becomes ``mul_node``."""
    if name.isidentifier() and not anonymous:
        return canonical_name(name)
    words = [_SYMBOL_WORDS.get(token, re.sub(r"\W", "_", token)) for token in _TOKEN.findall(name)]
    base = "_".join(words)
    if not base or len(base) > _LONGEST_NAME or not base.isidentifier():
        base = f"{op}_node"
    return base


def _float(x: float) -> str:
    """A float as Python source that reads back to the same float64."""
    if x != x:
        return "np.nan"
    if x in (float("inf"), float("-inf")):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(float(x))


def _array(value: Any, indent: int = 0) -> str:
    if value.ndim == 1:
        return "[" + ", ".join(_float(x) for x in value.tolist()) + "]"
    pad = " " * (indent + 4)
    rows = "".join(f"{pad}{_array(row, indent + 4)},\n" for row in value)
    return "[\n" + rows + " " * indent + "]"


def _literal(value: Any) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"np.array({_float(float(value))})"
        return f"np.array({_array(value)})"
    return _float(value)


def _regenerated(graph: Graph, name: str) -> str | None:
    """numpy code for a ``random``, ``zeros`` or ``ones`` input, if it rebuilds it exactly."""
    import numpy as np

    from bpcalc.limits import DEFAULT_LIMITS
    from bpcalc.loading.inputs import InputError, read_literal, read_shape

    raw = next((inp.raw for inp in graph.definition.inputs if inp.name == name), None)
    value = graph.inputs[name].value
    if not isinstance(raw, dict) or not isinstance(value, np.ndarray):
        return None
    try:
        if "random" in raw:
            shape = read_shape(raw["random"], DEFAULT_LIMITS, ())
            seed = int(str(raw.get("seed", "0")))
            scale = read_literal(raw.get("scale", "1"), DEFAULT_LIMITS)
            if not isinstance(scale, float):
                return None
            code = f"np.random.default_rng({seed}).standard_normal({shape!r})"
            code += "" if scale == 1.0 else f" * {_float(scale)}"
            rebuilt = np.random.default_rng(seed).standard_normal(shape) * scale
        elif "zeros" in raw or "ones" in raw:
            kind = "zeros" if "zeros" in raw else "ones"
            shape = read_shape(raw[kind], DEFAULT_LIMITS, ())
            code = f"np.{kind}({shape!r})"
            rebuilt = np.zeros(shape) if kind == "zeros" else np.ones(shape)
        else:
            return None
    except (InputError, ValueError):
        return None
    same = rebuilt.shape == value.shape and bool(
        np.array_equal(rebuilt.view(np.uint64), value.view(np.uint64))
    )
    return code if same else None


class _Script:
    """Builds the script's sections; names are fixed first, so every section agrees on them."""

    def __init__(self, graph: Graph, evaluation: Evaluation, reserved: Iterable[str]) -> None:
        self.graph = graph
        self.evaluation = evaluation
        self.ops = {node.name: node.op for node in graph.nodes}
        anonymous = {node.name for node in graph.nodes if node.anonymous}
        namer = _Namer(reserved)
        bases = {
            name: _identifier(name, self.ops.get(name, "input"), name in anonymous)
            for name in graph.names
        }
        self.var = {name: namer.take(bases[name]) for name in graph.names}
        self.dvar = {name: namer.take("d" + bases[name]) for name in graph.names}
        self.layer = {node.name: namer.take(bases[node.name] + "_layer") for node in graph.nodes}
        self.namer = namer
        self.parts: dict[tuple[str, int], str] = {}

    def wants_grad(self, arg: str | Const) -> bool:
        if isinstance(arg, Const):
            return False
        return self.graph.inputs[arg].grad if arg in self.graph.inputs else True

    def arg(self, arg: str | Const) -> str:
        return _float(arg.value) if isinstance(arg, Const) else self.var[arg]

    def inputs(self) -> list[str]:
        lines = []
        for name, inp in self.graph.inputs.items():
            code = _regenerated(self.graph, name) or _literal(inp.value)
            note = "" if inp.grad else "  # grad: false"
            lines.append(f"{self.var[name]} = {code}{note}")
        return lines

    def book(self, node: NodeDef) -> tuple[str, ...] | None:
        """The constructor arguments of a layer the book builds with its weights
        (``Convolution(W, b, stride=1, pad=0)``, then ``forward(x)``): the names its class gives
        them (``book_weights``); None for other layers, or when a weight is a node's result
        (its value does not exist yet where the layers are built)."""
        weights: tuple[str, ...] | None = getattr(_layer_class(node.op), "book_weights", None)
        if weights is None or any(a in self.ops for a in node.args[1:]):
            return None
        return weights

    def layers(self) -> list[str]:
        lines = []
        for node in self.graph.nodes:
            spec = OPS[node.op]
            weights = self.book(node)
            if weights is None:
                arguments = node.attrs.python()
            else:  # the book's call: weights (the optional ones by name), every attribute
                required = [self.arg(a) for a in node.args[1 : spec.arity]]
                optional = [
                    f"{name}={self.arg(a)}"
                    for name, a in zip(
                        weights[spec.arity - 1 :], node.args[spec.arity :], strict=False
                    )
                ]
                attributes = [
                    f"{a.name}={node.attrs.get(a.name, a.default)!r}" for a in spec.attributes
                ]
                arguments = ", ".join([*required, *optional, *attributes])
            lines.append(
                f"{self.layer[node.name]} = {spec.class_name}({arguments}){self.comment(node)}"
            )
        return lines

    def comment(self, node: NodeDef) -> str:
        return f"  # {code_text(node.name)}" if self.var[node.name] != node.name else ""

    def forward(self) -> list[str]:
        lines = []
        for node in self.graph.nodes:
            arguments = [self.arg(a) for a in node.args]
            if self.book(node) is not None:
                arguments = arguments[:1]  # the layer holds the weights
                if len(node.args) > OPS[node.op].arity:  # with the running statistics
                    arguments.append(_layer_class(node.op).book_inference)
            lines.append(
                f"{self.var[node.name]} = {self.layer[node.name]}.forward("
                f"{', '.join(arguments)}){self.comment(node)}"
            )
        return lines

    def backward(self) -> list[str]:
        """Reverse order from the output seeded with ones; contributions add up, in order."""
        import numpy as np

        target = self.evaluation.output
        seed = "1.0"
        if isinstance(self.evaluation.values[target], np.ndarray):
            seed = f"np.ones_like({self.var[target]})"
        lines = [f"{self.dvar[target]} = {seed}"]
        has = {target}
        nodes = list(self.graph.nodes)
        end = next((i for i, node in enumerate(nodes) if node.name == target), -1)
        for node in reversed(nodes[: end + 1]):
            if node.name not in has or not any(self.wants_grad(a) for a in node.args):
                continue
            targets, adds = [], []
            seen: dict[str, int] = {}
            for arg in node.args:
                if not self.wants_grad(arg):
                    targets.append("_")
                    continue
                assert isinstance(arg, str)
                if arg not in has:
                    targets.append(self.dvar[arg])
                    has.add(arg)
                    continue
                # Already has a gradient: add this contribution to it, never overwrite.
                occurrence = seen.get(arg, 0)
                seen[arg] = occurrence + 1
                part = self.part(arg, occurrence)
                targets.append(part)
                adds.append(f"{self.dvar[arg]} = {self.dvar[arg]} + {part}")
            layer = self.layer[node.name]
            lines.append(
                f"{targets[0] if self.book(node) is not None else ', '.join(targets)} = "
                f"{layer}.backward({self.dvar[node.name]})"
            )
            if self.book(node) is not None and set(targets[1:]) - {"_"}:
                # The book's backward returns dx; the weights' gradients stay on the layer.
                names = _layer_class(node.op).book_grads
                lines.append(
                    f"{', '.join(targets[1:])} = "
                    f"{', '.join(f'{layer}.{name}' for name in names[: len(targets) - 1])}"
                )
            lines.extend(adds)
        for name in self.graph.names:
            if name not in has and self.evaluation.grads[name] is not None:
                value = self.evaluation.values[name]
                zero = (
                    f"np.zeros_like({self.var[name]})" if isinstance(value, np.ndarray) else "0.0"
                )
                lines.append(f"{self.dvar[name]} = {zero}  # no gradient flows here")
        return lines

    def part(self, arg: str, occurrence: int) -> str:
        key = (arg, occurrence)
        if key not in self.parts:
            self.parts[key] = self.namer.take(f"{self.dvar[arg]}_part")
        return self.parts[key]

    def report(self) -> list[str]:
        names = self.graph.names
        grads = [n for n in names if self.evaluation.grads[n] is not None]
        width = max(map(len, names))
        label = functools.partial(code_text, literal=True)
        lines = [f"print({label('values:')})"]
        lines += [f"print({label(f'  {n.ljust(width)} =')}, show({self.var[n]}))" for n in names]
        lines.append(f"print({label(f'gradients d {self.evaluation.output} / d name:')})")
        lines += [f"print({label(f'  {n.ljust(width)} =')}, show({self.dvar[n]}))" for n in grads]
        return lines


def python_script(graph: Graph, evaluation: Evaluation, *, standalone: bool = False) -> str:
    """The script: imports (or, standalone, the layer classes' source), then the passes."""
    specs = {OPS[node.op].layer: OPS[node.op] for node in graph.nodes}
    classes = sorted(spec.class_name for spec in specs.values())
    library = _layer_library()
    reserved = {*library.names, *library.imported, *dir(builtins), "np", "math", "show", "_"}
    script = _Script(graph, evaluation, reserved)
    target = code_text(evaluation.output)
    origin = code_text(Path(graph.definition.source.name).name)
    # The name on one line, escaped as a whole; a description may span several comment lines.
    about = graph.description.splitlines() if graph.description else []
    title = code_text(graph.name) + (f" — {code_text(about[0])}" if about else "")
    header = [f"# {title}".rstrip(), *(f"# {code_text(line)}".rstrip() for line in about[1:])]
    header += [
        "#",
        f"# Exported by `bpcalc export --python{' --standalone' * standalone}` "
        f"(bpcalc {__version__}) from {origin}:",
        "# the layers' forward in order, then backward in reverse from "
        f"{script.dvar[evaluation.output]} = 1, as in",
        f"# the book's buy_apple_orange.py. Prints every value and d {target} / d name.",
        "# Needs numpy" + (" only." if standalone else " and bpcalc."),
    ]
    if standalone:
        imports, code = library.source(classes)
        parts = ["from __future__ import annotations\n\n" + "\n".join(imports), code]
    else:
        imports = [
            f"from {module} import "
            + ", ".join(sorted(s.class_name for s in specs.values() if s.module == module))
            for module in sorted({s.module for s in specs.values()}, key=_MODULES.index)
        ]
        parts = ["import numpy as np\n\n" + "\n".join(imports)]
    parts.append(f"{ERRSTATE}\n\n\n{SHOW}")
    sections = (
        ("inputs", script.inputs()),
        ("layers", script.layers()),
        ("forward", script.forward()),
        ("backward", script.backward()),
        ("results", script.report()),
    )
    parts.append("\n\n".join(f"# {title}\n" + "\n".join(lines) for title, lines in sections))
    return "\n".join(header) + "\n\n" + "\n\n\n".join(parts) + "\n"


# The modules of the float layers, in the order a standalone script copies them.
_MODULES = ("bpcalc.ops.layers", "bpcalc.ops.cnn")


def _layer_class(op: str) -> Any:
    import importlib

    spec = OPS[op]
    return getattr(importlib.import_module(spec.module), spec.class_name)


class _LayerLibrary:
    """The top-level definitions of the layer modules, to copy the ones a script needs."""

    def __init__(self) -> None:
        import ast
        import importlib
        import inspect

        self.definitions: dict[str, tuple[Any, str, ast.stmt]] = {}  # name: module, text, code
        self.imported: set[str] = set()
        for name in _MODULES:
            module = importlib.import_module(name)
            text = inspect.getsource(module)
            tree = ast.parse(text)
            # What the module imports (np, math, Any): globals the copied code reads, as are
            # the definitions below; a graph's name must never rebind one.
            self.imported |= {
                (alias.asname or alias.name).split(".")[0]
                for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names
            }
            for statement in tree.body:
                if isinstance(statement, ast.FunctionDef | ast.ClassDef):
                    self.definitions.setdefault(statement.name, (module, text, statement))
                elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                    target = statement.targets[0]
                    if isinstance(target, ast.Name):
                        self.definitions.setdefault(target.id, (module, text, statement))
        self.names = set(self.definitions)

    def _used(self, statement: Any) -> set[str]:
        import ast

        return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}

    def source(self, classes: Iterable[str]) -> tuple[list[str], str]:
        """Imports and code of ``classes`` and every helper they use, in the modules' order."""
        import ast
        import inspect

        needed: set[str] = set()
        todo = list(classes)
        used: set[str] = set()
        while todo:
            name = todo.pop()
            if name in needed:
                continue
            needed.add(name)
            names = self._used(self.definitions[name][2])
            used |= names
            todo.extend(n for n in names if n in self.definitions and n not in needed)
        chunks = []
        for name, (module, text, statement) in self.definitions.items():
            if name not in needed:
                continue
            if isinstance(statement, ast.Assign):
                chunks.append(ast.get_source_segment(text, statement) or "")
            else:
                chunks.append(inspect.getsource(getattr(module, name)).rstrip())
        imports = [f"import {module}" for module in ("math", "sys") if module in used]
        imports += ["from typing import Any"] if "Any" in used else []
        imports += ["", "import numpy as np"]
        copied = " and ".join(
            m
            for m in _MODULES
            if any(d[0].__name__ == m for n, d in self.definitions.items() if n in needed)
        )
        code = f"# --- layers, copied from {copied} ---\n\n" + "\n\n\n".join(chunks)
        return imports, code


@functools.cache
def _layer_library() -> _LayerLibrary:
    return _LayerLibrary()
