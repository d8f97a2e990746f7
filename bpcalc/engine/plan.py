"""The engine: a checked graph in dependency order, evaluated forward then backward.

Reverse mode as in the book: each node's layer runs ``forward`` in topological order, then
``backward`` in reverse, and every contribution to a gradient is *added*, so a value used
twice gets both. Nothing here recurses, so a 100,000-node chain is fine. This is the fast
path; bpcalc.engine.reference is the same algorithm written plainly, and the tests hold the
two equal.
"""

from __future__ import annotations

import math
from functools import partial
from itertools import compress, repeat
from operator import is_
from typing import Any

from bpcalc.engine.evaluation import Contribution, Evaluation
from bpcalc.errors import Diagnostic, EvaluationError, UsageProblem
from bpcalc.loading.expressions import Arg
from bpcalc.loading.graph import Graph
from bpcalc.loading.literals import Const
from bpcalc.loading.schema import NodeDef, canonical_name
from bpcalc.ops.spec import EMPTY
from bpcalc.ops.table import OPS
from bpcalc.runtime import gc_paused, is_array, is_fraction, numpy_quiet


def evaluate(
    graph: Graph,
    *,
    of: str | None = None,
    trace: bool = False,
    exact: bool = False,
    memory_hint: str = "",
) -> Evaluation:
    """Forward, then backward from ``of`` (default: the output) seeded with 1.

    With ``trace=True`` the result also lists every contribution the backward pass adds.
    With ``exact=True`` it computes with Fractions from the decimals as written (only for
    ops that are exact over the rationals; see bpcalc.ops.exact). ``memory_hint`` ends the
    message that refuses a graph past --max-memory (batch mode names --chunk-size).
    """
    target = graph.output if of is None else canonical_name(of)
    if target not in graph.inputs and target not in graph.node_by_name:
        raise UsageProblem(graph.unknown_name_message(target), about="of")
    from bpcalc.engine.sizes import check_sizes

    if exact and graph.plans.get(exact) is None:
        for node in graph.nodes:  # --exact's refusal first: it says more than a size would
            _exact_layer(graph, node)
    # Before allocating: a broadcast can be far larger than its inputs.
    check_sizes(graph, memory_hint)
    plan = graph.plans.get(exact)
    if plan is None:
        plan = graph.plans[exact] = _Plan(graph, exact=exact)
    # After check_sizes, which imports numpy when a value can be an array.
    with numpy_quiet(), gc_paused():
        return plan.run(graph, target, trace=trace)


class _Plan:
    """The graph compiled to slots: inputs, then nodes, then constants, in one list.

    The loops below run once per node, so they avoid per-node overhead: no generators or
    star-arguments, branches on a precomputed arity, and which arguments want a gradient is
    decided once here rather than on every run.
    """

    def __init__(self, graph: Graph, *, exact: bool = False) -> None:
        self.exact = exact
        inputs = graph.inputs
        self.names = names = graph.names
        self.n_inputs = len(inputs)
        self.n_nodes = len(graph.nodes)
        self.slot = slot = {name: i for i, name in enumerate(names)}
        self.no_grad = no_grad = {i for i, value in enumerate(inputs.values()) if not value.grad}
        const_base = len(names)
        constants: list[Any] = []
        lookup: dict[Any, int] = dict(slot)  # names, and each distinct Const once seen
        get = lookup.get

        def constant(arg: Arg, node: NodeDef, i: int) -> int:
            assert isinstance(arg, Const)
            found = lookup[arg] = const_base + len(constants)
            constants.append(_exact_constant(graph, node, i) if exact else arg.value)
            return found

        def wanted(s: int) -> int:
            return -1 if s < 0 or s >= const_base or s in no_grad else s

        # Per node: (layer class, arity, a, b, c) with unused slots -1, for the forward pass;
        # (arity or 0 if no argument wants a gradient, and the slots, -1 where none is
        # wanted), for the backward pass.
        self.steps: list[tuple[Any, int, int, int, int]] = []
        self.back: list[tuple[int, int, int, int]] = []
        # Nodes of more than three inputs (batch_norm with running statistics), by position:
        # every argument's slot, and the slots that want a gradient (-1 where none is wanted).
        self.wide: dict[int, tuple[int, ...]] = {}
        self.wide_back: dict[int, tuple[int, ...]] = {}
        step = self.steps.append
        back = self.back.append
        classes: dict[str, Any] = {}
        for node in graph.nodes:
            args = node.args
            arity = len(args)
            layer_class = classes.get(node.op)
            if layer_class is None:
                layer_class = _exact_layer(graph, node) if exact else OPS[node.op].layer_class()
                classes[node.op] = layer_class
            if exact and node.op == "pow":
                _refuse_exponent_name(graph, node)
            a = get(args[0])
            if a is None:
                a = constant(args[0], node, 0)
            b = c = -1
            if arity > 1:
                found = get(args[1])
                b = constant(args[1], node, 1) if found is None else found
                if arity > 2:
                    found = get(args[2])
                    c = constant(args[2], node, 2) if found is None else found
            # An op's attributes go to its layers' __init__; ops without any cost nothing.
            attrs = node.attrs
            factory = layer_class if attrs is EMPTY else partial(layer_class, **attrs)
            if arity > 3:
                slots = tuple(
                    s if (s := get(arg)) is not None else constant(arg, node, i)
                    for i, arg in enumerate(args)
                )
                self.wide[len(self.steps)] = slots
                self.wide_back[len(self.steps)] = wants = tuple(map(wanted, slots))
                step((factory, arity, -1, -1, -1))
                back((arity if any(w >= 0 for w in wants) else 0, -1, -1, -1))
                continue
            step((factory, arity, a, b, c))
            if no_grad or a >= const_base or b >= const_base or c >= const_base:
                wa, wb, wc = wanted(a), wanted(b), wanted(c)
                back((arity if wa >= 0 or wb >= 0 or wc >= 0 else 0, wa, wb, wc))
            else:
                back((arity, a, b, c))
        self.constants = constants

    def run(self, graph: Graph, target: str, *, trace: bool = False) -> Evaluation:
        values, layers = self.forward(graph)
        end = self.slot[target]
        contributions: list[Contribution] | None = None
        if trace:
            contributions = []
            grads = self.backward_traced(graph, values, layers, end, contributions)
        else:
            grads = self.backward(graph, values, layers, end)
        names = self.names
        del values[len(names) :]  # the constants
        del grads[len(names) :]
        no_grad = self.no_grad
        for i in no_grad:
            grads[i] = None  # even when differentiating that input itself (--of)
        # Names no gradient reached get zeros, except inputs with grad: false (None).
        for i in list(compress(range(len(grads)), map(is_, grads, repeat(None)))):
            if i not in no_grad:
                grads[i] = _zeros_like(values[i])
        value_map = dict(zip(names, values, strict=True))
        grad_map = dict(zip(names, grads, strict=True))
        warnings: list[Diagnostic] = []
        some_grads = [g for g in grads if g is not None] if no_grad else grads
        if not (_surely_finite(values) and _surely_finite(some_grads)):
            warnings = _non_finite(graph, names, values, grad_map)
        return Evaluation(
            graph.name, target, value_map, grad_map, warnings, contributions, source=graph
        )

    def forward(self, graph: Graph, inputs: list[Any] | None = None) -> tuple[list[Any], list[Any]]:
        """Every slot's value; each node's layer keeps what its backward needs. ``inputs``
        (float only) gives the input values in the graph's order instead of its own."""
        if inputs is not None:
            values = list(inputs)
        elif self.exact:
            values = _exact_inputs(graph)
        else:
            values = [v.value for v in graph.inputs.values()]
        values += [None] * self.n_nodes
        values += self.constants
        layers: list[Any] = []
        keep = layers.append
        k = self.n_inputs
        try:
            for layer_class, arity, a, b, c in self.steps:
                layer = layer_class()
                if arity == 2:
                    values[k] = layer.forward(values[a], values[b])
                elif arity == 1:
                    values[k] = layer.forward(values[a])
                elif arity == 3:
                    values[k] = layer.forward(values[a], values[b], values[c])
                else:
                    values[k] = layer.forward(*[values[s] for s in self.wide[k - self.n_inputs]])
                keep(layer)
                k += 1
        except (ValueError, TypeError, ArithmeticError, IndexError) as err:
            _, arity, a, b, c = self.steps[len(layers)]
            operands = [values[s] for s in (a, b, c)[:arity]]
            raise _failure(graph, len(layers), "", err, operands) from None
        return values, layers

    def backward(self, graph: Graph, values: list[Any], layers: list[Any], end: int) -> list[Any]:
        """Gradients of slot ``end`` with respect to every slot (None where none flows)."""
        base = self.n_inputs
        back = self.back
        grads: list[Any] = [None] * len(values)
        grads[end] = _ones_like(values[end])
        i = end - base
        try:
            while i >= 0:
                dout = grads[base + i]
                arity, a, b, c = back[i]
                i -= 1
                if dout is None or not arity:
                    continue
                # Add, never overwrite: a value used twice gets both contributions.
                if arity == 2:
                    da, db = layers[i + 1].backward(dout)
                    if a >= 0:
                        g = grads[a]
                        grads[a] = da if g is None else g + da
                    if b >= 0:
                        g = grads[b]
                        grads[b] = db if g is None else g + db
                elif arity == 1:
                    da = layers[i + 1].backward(dout)
                    g = grads[a]
                    grads[a] = da if g is None else g + da
                elif arity > 3:
                    local = layers[i + 1].backward(dout)
                    for s, d in zip(self.wide_back[i + 1], local, strict=True):
                        if s >= 0:
                            g = grads[s]
                            grads[s] = d if g is None else g + d
                else:
                    da, db, dc = layers[i + 1].backward(dout)
                    if a >= 0:
                        g = grads[a]
                        grads[a] = da if g is None else g + da
                    if b >= 0:
                        g = grads[b]
                        grads[b] = db if g is None else g + db
                    if c >= 0:
                        g = grads[c]
                        grads[c] = dc if g is None else g + dc
        except (ValueError, TypeError, ArithmeticError, IndexError) as err:
            raise _failure(graph, i + 1, " backward", err) from None
        return grads

    def backward_traced(
        self,
        graph: Graph,
        values: list[Any],
        layers: list[Any],
        end: int,
        contributions: list[Contribution],
    ) -> list[Any]:
        """``backward``, also recording every contribution in the order it is added."""
        base = self.n_inputs
        names = self.names
        grads: list[Any] = [None] * len(values)
        grads[end] = _ones_like(values[end])
        for i in range(end - base, -1, -1):
            dout = grads[base + i]
            arity, *wanted = self.back[i]
            if arity > 3:
                wanted = list(self.wide_back[i])
            if dout is None or not arity:
                continue
            try:
                local = layers[i].backward(dout)
            except (ValueError, TypeError, ArithmeticError, IndexError) as err:
                raise _failure(graph, i, " backward", err) from None
            if self.steps[i][1] == 1:
                local = (local,)
            for s, d in zip(wanted, local, strict=False):
                if s >= 0:
                    grads[s] = d if grads[s] is None else grads[s] + d
                    contributions.append(Contribution(names[base + i], names[s], dout, d, grads[s]))
        return grads


def _surely_finite(items: list[Any]) -> bool:
    """True when every item is a finite float, found with one sum at C speed (an inf or NaN
    carries through a sum of floats); False when unsure, and then the exact scan decides.
    Short lists, where tensors are likely and the exact scan is cheap, go to it directly."""
    if len(items) < 64:
        return False
    try:
        total = sum(items, 0.0)
    except (TypeError, ValueError):
        return False
    return type(total) is float and math.isfinite(total)


def _failure(
    graph: Graph, i: int, phase: str, err: Exception, operands: list[Any] | None = None
) -> EvaluationError:
    node = graph.nodes[i]
    reason = _shape_mismatch(node.op, operands, err) if operands else None
    message = f"{node.op}{phase} failed in node '{node.name}': {reason or err}"
    return EvaluationError([graph.locate(node.name, message)])


def _shape_mismatch(op: str, operands: list[Any], err: Exception) -> str | None:
    """numpy's "gufunc signature (n?,k),(k,m?)" complaint, said with the shapes and the rule."""
    if op not in ("matmul", "affine") or "signature" not in str(err):
        return None
    import numpy as np

    x, w = (tuple(np.shape(v)) for v in operands[:2])
    inner = (x[-1] if x else None, (w[-2] if len(w) > 1 else w[0]) if w else None)
    return (
        f"shapes {x} and {w} do not fit: a matrix product needs the first's last axis "
        f"({inner[0]}) to equal the second's {'first' if len(w) <= 2 else 'next-to-last'} "
        f"axis ({inner[1]})"
    )


def _exact_layer(graph: Graph, node: NodeDef) -> Any:
    """The exact layer of a node's op, or an error naming the node."""
    from bpcalc.ops.table import EXACT_OPS

    spec = OPS[node.op]
    if not spec.exact:
        message = (
            f"--exact: node '{node.name}' uses {node.op}, which is not exact over the "
            f"rationals (exact ops: {', '.join(EXACT_OPS)})"
        )
        raise EvaluationError([graph.locate(node.name, message)])
    return spec.exact_layer_class()


def _exact_constant(graph: Graph, node: NodeDef, i: int) -> Any:
    """Argument ``i`` of ``node``, a number, as a Fraction; or an error located at it."""
    from bpcalc.ops.exact import NotExact, to_fraction

    arg = node.args[i]
    assert isinstance(arg, Const)
    try:
        return to_fraction(arg.text)
    except NotExact as err:
        message = f"--exact: node '{node.name}': {err}"
        raise EvaluationError([_locate_arg(graph, node, i, message)]) from None


def _refuse_exponent_name(graph: Graph, node: NodeDef) -> None:
    """Refuse ``x ** n`` for an input or node ``n`` under --exact: d/dn = x**n ln x is not
    rational. An input with ``grad: false`` is fine: its gradient is never computed."""
    exponent = node.args[1]
    if isinstance(exponent, Const):
        return
    if exponent in graph.inputs:
        if not graph.inputs[exponent].grad:
            return
        kind, hint = "input", f", or give input '{exponent}' 'grad: false'"
    else:
        kind, hint = "node", ""
    message = (
        f"--exact: node '{node.name}' has {kind} '{exponent}' as exponent, and "
        f"d/d{exponent} = x ** {exponent} * ln(x) is not rational; write the exponent as a "
        f"number{hint}"
    )
    raise EvaluationError([_locate_arg(graph, node, 1, message)])


def _locate_arg(graph: Graph, node: NodeDef, i: int, message: str) -> Diagnostic:
    """A diagnostic at argument ``i`` of ``node``, as written (expression or explicit form)."""
    source = graph.definition.source
    if node.arg_columns:
        return source.diagnostic(message, node.path, offset=node.arg_columns[i])
    path = (*node.path, "in", i)
    return source.diagnostic(message, path, offset=source.value_column_offset(path))


def _exact_inputs(graph: Graph) -> list[Any]:
    """Input values as Fractions read from the decimals written in the file or --set."""
    from bpcalc.ops.exact import NotExact, exact_value

    values = []
    for name, value in graph.inputs.items():
        try:
            values.append(exact_value(value.source))
        except NotExact as err:
            raise EvaluationError([graph.locate(name, f"--exact: input '{name}': {err}")]) from None
    return values


def _ones_like(value: Any) -> Any:
    return _filled_like(value, 1)


def _zeros_like(value: Any) -> Any:
    return _filled_like(value, 0)


def _filled_like(value: Any, number: int) -> Any:
    """``number`` in the kind and shape of ``value``: a float, a float64 array, or with
    --exact a Fraction or an array of Fractions (never of ints, which print as floats)."""
    if is_fraction(value):
        return type(value)(number)
    if not is_array(value):
        return float(number)
    import numpy as np

    if value.dtype.kind == "O":
        from fractions import Fraction

        return np.full(value.shape, Fraction(number), dtype=object)
    return np.full_like(value, float(number))


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if is_fraction(value):
        return True  # exact rationals are always finite
    import numpy as np

    if value.dtype == np.dtype(object):
        return True
    return bool(np.isfinite(value).all())


def _non_finite(
    graph: Graph, names: list[str], values: list[Any], grads: dict[str, Any]
) -> list[Diagnostic]:
    """Warnings at the first value and the first gradient that is NaN or infinite."""
    warnings = []
    for name, value in zip(names, values, strict=False):
        if not _finite(value):
            warnings.append(
                graph.locate(
                    name,
                    f"warning: the value of '{name}' is not finite "
                    f"(NaN or infinity first appears here)",
                )
            )
            break
    for name in reversed(names):
        grad = grads[name]
        if grad is not None and not _finite(grad):
            warnings.append(
                graph.locate(
                    name,
                    f"warning: the gradient of '{name}' is not "
                    f"finite (NaN or infinity first appears here)",
                )
            )
            break
    return warnings
