"""Expression nodes: ``relu(x @ W + b)`` becomes one graph node per operator or call.

Parsed with :mod:`ast` and a whitelist of node kinds; nothing is ever evaluated by Python.
Anonymous sub-expressions are named by their syntax tree, rendered as ``ast.unparse`` does
(``x @ W + b``, ``(a + b) * c``) except that numbers keep the text they were written as, so
names read well in tables. Comments, line breaks and spacing never reach a name: equal trees
give the same name (one node) and different trees different names.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from bpcalc.loading.hints import unknown_op
from bpcalc.loading.literals import Const, parse_number
from bpcalc.ops.indexing import FORMS, Entry, index_text
from bpcalc.ops.spec import EMPTY, AttrProblem, Attrs, AttrValue, OpSpec, attr_text
from bpcalc.ops.table import BINARY_SYMBOLS, OPS, UNARY_SYMBOLS

Arg = str | Const  # a reference to an input or node by name, or a number

# Python's operator syntax; which op each symbol is comes from the op table.
OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.MatMult: "@",
}
_BINARY = {
    node: BINARY_SYMBOLS[symbol] for node, symbol in OPERATORS.items() if symbol in BINARY_SYMBOLS
}
_NEG = UNARY_SYMBOLS["-"]
_WORDS = {"true": True, "false": False}  # as YAML writes them; True and False are constants
# Binding strength, as ast.unparse ranks it: a weaker operand is parenthesised.
_SUM, _TERM, _FACTOR, _POWER, _ATOM = range(5)
_STRENGTH = {
    ast.Add: _SUM,
    ast.Sub: _SUM,
    ast.Mult: _TERM,
    ast.Div: _TERM,
    ast.MatMult: _TERM,
    ast.Pow: _POWER,
}
ALLOWED = "numbers, names, + - * / ** @, parentheses and op calls such as relu(x)"


_NOT_CONSTANT = object()


class ExpressionError(Exception):
    """A problem at a column of the expression text (0-based)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True)
class OpCall:
    """One node of an expression: ``name = op(args)``; columns locate each argument."""

    name: str
    op: str
    args: tuple[Arg, ...]
    arg_columns: tuple[int, ...]
    column: int
    attrs: Attrs = EMPTY


def parse_expression(name: str, text: str, *, max_length: int) -> list[OpCall]:
    """The nodes an expression defines, operands first; the last one is named ``name``."""
    if len(text) > max_length:
        raise ExpressionError(
            f"expression is {len(text):,} characters long; the limit is "
            f"{max_length:,} (--max-expression-length)"
        )
    if not text.strip():
        raise ExpressionError("empty expression: write an expression or {op: NAME, in: [...]}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        long_number = re.search(r"\d{400,}", text.strip())
        if long_number and "integer string conversion" in err.msg:  # Python's 4,300 digits
            raise ExpressionError(
                f"number '{long_number.group()[:37]}...' is too large for float64",
                long_number.start(),
            ) from None
        # No offset means the text ended too soon: point at its end.
        column = err.offset - 1 if err.offset else len(text.strip())
        message = err.msg
        if message == "too many nested parentheses":
            message += " (Python's parser allows 200): split it into several nodes"
        raise ExpressionError(f"invalid expression: {message}", column) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            "expression is nested too deeply for Python's parser (about 3,000 operators in "
            "a chain): split it into several nodes"
        ) from None
    except ValueError as err:  # a NUL character, on Python 3.11
        raise ExpressionError(f"invalid expression: {err}") from None
    return _Lowering(name, text.strip()).run(tree)


class _Lowering:
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        # As ast numbers lines: a CR alone ends one too.
        self.lines = [line.encode() for line in re.split(r"\r\n?|\n", text)]
        self.calls: list[OpCall] = []
        self.by_text: dict[str, str] = {}
        # The canonical text of each sub-tree (by id) and how strongly it binds.
        self.texts: dict[int, tuple[str, int]] = {}

    def run(self, root: ast.expr) -> list[OpCall]:
        results: dict[int, Arg] = {}
        stack: list[tuple[ast.expr, bool]] = [(root, False)]
        while stack:
            node, operands_done = stack.pop()
            if operands_done:
                results[id(node)] = self._emit(node, root, results)
                continue
            leaf = self._leaf(node)
            if leaf is not None:
                results[id(node)] = leaf
                if isinstance(leaf, Const):
                    strength = _FACTOR if leaf.text.startswith(("-", "+")) else _ATOM
                    self.texts[id(node)] = (leaf.text, strength)
                else:
                    self.texts[id(node)] = (leaf, _ATOM)
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(self._operands(node)))
        top = results[id(root)]
        if not self.calls or self.calls[-1].name != self.name:
            # A bare name or number: the node is a copy of it.
            self.calls.append(OpCall(self.name, "identity", (top,), (self._column(root),), 0))
        return self.calls

    def _leaf(self, node: ast.expr) -> Arg | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Constant):
            return self._constant(node, node.value)
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
        ):
            const = self._constant(node.operand, node.operand.value)
            if isinstance(node.op, ast.USub):
                return Const(-const.value, "-" + const.text)
            return const
        return None

    def _constant(self, node: ast.expr, value: object) -> Const:
        if isinstance(value, str | bytes):
            raise ExpressionError(
                f"strings such as {self._segment(node)} are not allowed in an expression; "
                f"use {ALLOWED}",
                self._column(node),
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(f"{self._segment(node)!s} is not a number", self._column(node))
        return parse_number(
            self._segment(node).replace("_", ""), column=self._column(node), error=ExpressionError
        )

    def _operands(self, node: ast.expr) -> list[ast.expr]:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return [node.left, node.right]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return [node.operand]
        if isinstance(node, ast.Call):
            return self._call_operands(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
            raise ExpressionError(
                f"'{self._segment(node)}': use ** for powers (^ is not an operator here), "
                f"as {self._segment(node.left)} ** {self._segment(node.right)}",
                self._column(node),
            )
        if isinstance(node, ast.Subscript) or (
            isinstance(node, ast.Attribute) and node.attr == "T"
        ):
            return [node.value]  # x[0] is index(x, index=[0]); x.T is transpose(x)
        raise ExpressionError(
            f"'{self._segment(node)}' is not allowed in an expression; use {ALLOWED}",
            self._column(node),
        )

    def _call_operands(self, node: ast.Call) -> list[ast.expr]:
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(
                f"'{self._segment(node.func)}' is not an op; "
                f"ops are called by name, such as relu(x)",
                self._column(node),
            )
        op = node.func.id
        if op not in OPS:
            raise ExpressionError(unknown_op(op), self._column(node))
        spec = OPS[op]
        if (node.keywords and not spec.attributes and not spec.optional) or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            raise ExpressionError(f"{op}() takes positional arguments only", self._column(node))
        operands = list(node.args) + [value for _, value in _input_keywords(node, spec)]
        given = [k for k in node.keywords if k.arg in spec.params[spec.arity :]]
        if given and len(operands) == len(node.args):
            missing = [p for p in spec.params[spec.arity :] if p not in {k.arg for k in given}]
            raise ExpressionError(
                f"{op}() takes {', '.join(spec.params[spec.arity :])} together, after "
                f"{spec.arity} positional arguments"
                + (f"; '{missing[0]}' is missing" if missing else ""),
                self._column(given[0]),
            )
        if not spec.takes(len(operands)):
            raise ExpressionError(
                f"{op}() takes {spec.count_text('argument')} ({spec.inputs_text()}), "
                f"got {len(operands)}",
                self._column(node),
            )
        return operands

    def _call_attrs(self, node: ast.Call, spec: OpSpec) -> Attrs:
        """``sum(M, axis=1)``: the keywords, each a known attribute given once, as constants."""
        values: list[tuple[str, AttrValue]] = []
        inputs = {id(keyword) for keyword, _ in _input_keywords(node, spec)}
        for keyword in node.keywords:
            if id(keyword) in inputs:
                continue
            column = self._column(keyword)
            if keyword.arg is None:
                raise ExpressionError(f"{spec.name}() takes attributes as name=value", column)
            attribute = spec.attribute(keyword.arg)
            if attribute is None:
                raise ExpressionError(spec.unknown_attribute(keyword.arg), column)
            if any(name == keyword.arg for name, _ in values):
                raise ExpressionError(f"{spec.name}() got attribute '{keyword.arg}' twice", column)
            shown = self._segment(keyword.value)
            try:
                value = attribute.read(spec.name, self._attr_constant(keyword), shown)
            except AttrProblem as err:
                raise ExpressionError(err.message, self._column(keyword.value)) from None
            values.append((keyword.arg, value))
        return Attrs(values) if values else EMPTY

    def _index(self, node: ast.Subscript) -> str:
        """``x[:, 1]``: the index as canonical text; only constant numbers and slices."""
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if not items:
            raise ExpressionError(
                "an index needs at least one entry, such as x[0]", self._column(node)
            )
        entries: list[Entry] = []
        for item in items:
            if isinstance(item, ast.Slice):
                parts = tuple(
                    None if part is None else self._index_number(part)
                    for part in (item.lower, item.upper, item.step)
                )
                if parts[2] == 0:
                    raise ExpressionError("a slice step cannot be 0", self._column(item))
                entries.append((parts[0], parts[1], parts[2]))
            else:
                entries.append(self._index_number(item))
        return index_text(entries)

    def _index_number(self, node: ast.expr) -> int:
        value = self._attr_scalar(node)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ExpressionError(
                f"an index is a constant: {FORMS}, not '{self._segment(node)}'",
                self._column(node),
            )
        return value

    def _attr_constant(self, keyword: ast.keyword) -> object:
        """An attribute's value: a number, a list of numbers, True/False/true/false or None;
        never a name of a node (attributes are fixed before any value exists)."""
        node = keyword.value
        items = node.elts if isinstance(node, ast.List | ast.Tuple) else None
        values = []
        for item in [node] if items is None else items:
            value = self._attr_scalar(item)
            if value is _NOT_CONSTANT:
                raise ExpressionError(
                    f"attribute '{keyword.arg}' is a constant: a number, a list of numbers, "
                    f"true or false, not '{self._segment(item)}'",
                    self._column(item),
                )
            values.append(value)
        return values[0] if items is None else values

    @staticmethod
    def _attr_scalar(node: ast.expr) -> object:
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            sign = -1 if isinstance(node.op, ast.USub) else 1
            node = node.operand
            if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
                return _NOT_CONSTANT
        if isinstance(node, ast.Constant):
            value = node.value
            if value is None or isinstance(value, bool):
                return value
            if isinstance(value, int | float):
                return sign * value
        if isinstance(node, ast.Name) and node.id in _WORDS:
            return _WORDS[node.id]
        return _NOT_CONSTANT

    def _emit(self, node: ast.expr, root: ast.expr, results: dict[int, Arg]) -> Arg:
        operands = self._operands(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            self.texts[id(node)] = self.texts[id(node.operand)]  # +x is x
            return results[id(node.operand)]
        attrs = EMPTY
        if isinstance(node, ast.BinOp):
            op = _BINARY[type(node.op)]
        elif isinstance(node, ast.UnaryOp):
            op = _NEG
        elif isinstance(node, ast.Subscript):
            op = "index"
            attrs = Attrs([("index", self._index(node))])
        elif isinstance(node, ast.Attribute):
            op = "transpose"
        else:
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            op = node.func.id
            if node.keywords:
                attrs = self._call_attrs(node, OPS[op])
            missing = OPS[op].missing_attributes(attrs)
            if missing:
                raise ExpressionError(missing, self._column(node))
        args = tuple(results[id(child)] for child in operands)
        columns = tuple(self._column(child) for child in operands)
        if node is root:
            self.calls.append(OpCall(self.name, op, args, columns, self._column(node), attrs))
            return self.name
        # Repeated sub-expressions are one node: same tree, same text, same value.
        text = self._render(node, attrs)
        if text not in self.by_text:
            self.by_text[text] = text
            self.calls.append(OpCall(text, op, args, columns, self._column(node), attrs))
        return text

    def _render(self, node: ast.expr, attrs: Attrs) -> str:
        """The canonical text of ``node`` from its operands' texts, as ast.unparse writes it."""
        texts = self.texts
        if isinstance(node, ast.BinOp):
            strength = _STRENGTH[type(node.op)]
            # Left-associative operators need a stronger right operand; ** the other way round.
            left_needs, right_needs = (
                (strength + 1, strength) if strength == _POWER else (strength, strength + 1)
            )
            left = _wrapped(texts[id(node.left)], left_needs)
            right = _wrapped(texts[id(node.right)], right_needs)
            text = f"{left} {OPERATORS[type(node.op)]} {right}"
        elif isinstance(node, ast.UnaryOp):
            strength = _FACTOR
            text = "-" + _wrapped(texts[id(node.operand)], _FACTOR)
        elif isinstance(node, ast.Subscript | ast.Attribute):
            strength = _ATOM
            after = str(attrs["index"]) if isinstance(node, ast.Subscript) else ".T"
            text = _wrapped(texts[id(node.value)], _ATOM) + after
        else:
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            spec = OPS[node.func.id]
            strength = _ATOM
            words = [texts[id(arg)][0] for arg in node.args]
            # Optional inputs given by name keep it: batch_norm(x, g, b, mean=m, var=v).
            words += [f"{k.arg}={texts[id(value)][0]}" for k, value in _input_keywords(node, spec)]
            # Attributes in name order, so that the order they were written in never matters.
            words += [f"{name}={attr_text(value)}" for name, value in sorted(attrs.items())]
            text = f"{node.func.id}({', '.join(words)})"
        texts[id(node)] = (text, strength)
        return text

    def _column(self, node: ast.expr | ast.keyword) -> int:
        """The column of ``node`` in characters (ast counts UTF-8 bytes)."""
        return len(self.lines[node.lineno - 1][: node.col_offset].decode())

    def _segment(self, node: ast.expr) -> str:  # for messages only; names use _render
        """The source text of ``node``, found directly: ast's helper rescans the whole text."""
        if node.end_lineno == node.lineno and node.end_col_offset is not None:
            return self.lines[node.lineno - 1][node.col_offset : node.end_col_offset].decode()
        return ast.get_source_segment(self.text, node) or ast.unparse(node)


def _input_keywords(node: ast.Call, spec: OpSpec) -> list[tuple[ast.keyword, ast.expr]]:
    """The keywords of a call that give optional inputs by name (``mean=m``), in the params'
    order, when they follow the positional arguments: nodes, unlike attributes."""
    optional = spec.params[spec.arity :]
    if not optional or len(node.args) != spec.arity:
        return []
    named = {keyword.arg: keyword for keyword in node.keywords if keyword.arg in optional}
    if len(named) < len(optional):
        return []  # none (attributes only), or some: _call_operands says which is missing
    return [(named[name], named[name].value) for name in optional]


def _wrapped(operand: tuple[str, int], needs: int) -> str:
    text, strength = operand
    return f"({text})" if strength < needs else text
