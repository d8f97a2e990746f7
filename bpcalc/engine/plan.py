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
from operator import attrgetter, eq, ge, gt, is_, is_not, itemgetter, mul, not_
from typing import Any

from bpcalc.engine.evaluation import Contribution, Evaluation, Slots
from bpcalc.errors import Diagnostic, EvaluationError, UsageProblem
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
    with gc_paused():
        plan = compiled_plan(graph, target, exact=exact, memory_hint=memory_hint)
        # After check_sizes, which imports numpy when a value can be an array.
        with numpy_quiet():
            return plan.run(graph, target, trace=trace)


def compiled_plan(
    graph: Graph, target: str, *, exact: bool = False, memory_hint: str = ""
) -> _Plan:
    """The graph's plan (compiled on first use, then kept with the graph), once ``target`` is
    known to be one of its names and the sizes are checked.

    A graph keeps its input values (the objects: an array's elements may be changed in
    place, as the gradient check does, but not its shape), their ``grad`` flags and its
    nodes; ``with_inputs`` makes a new graph. So the plan reads them once, and a compiled
    plan means the sizes were checked already.
    """
    plan: _Plan | None = graph.plans.get(exact)
    if plan is not None:
        if target not in plan.index:
            raise UsageProblem(graph.unknown_name_message(target), about="of")
        return plan
    other = graph.plans.get(not exact)
    index = other.index if other is not None else _name_index(graph)
    if target not in index:
        raise UsageProblem(graph.unknown_name_message(target), about="of")
    from bpcalc.engine.sizes import check_sizes

    if exact:
        for node in graph.nodes:  # --exact's refusal first: it says more than a size would
            _exact_layer(graph, node)
    # Before allocating: a broadcast can be far larger than its inputs.
    check_sizes(graph, memory_hint)
    plan = graph.plans[exact] = _Plan(graph, index, exact=exact)
    return plan


def _name_index(graph: Graph) -> dict[str, int]:
    """Every input and node name -> its slot, in the order results are reported."""
    names = [*graph.inputs, *map(attrgetter("name"), graph.nodes)]
    return dict(zip(names, range(len(names)), strict=True))


class _Plan:
    """The graph compiled to slots: inputs, then nodes, then constants, in one list.

    The loops below run once per node, so they avoid per-node overhead: no generators or
    star-arguments, branches on a precomputed arity, and which arguments want a gradient is
    decided once here rather than on every run. A graph of floats alone (every input and
    constant a float, every op one that maps floats to floats) runs a leaner backward pass:
    see ``_backward_floats``.
    """

    def __init__(self, graph: Graph, index: dict[str, int], *, exact: bool = False) -> None:
        self.exact = exact
        inputs = graph.inputs
        nodes = graph.nodes
        n = len(nodes)
        self.index = index  # name -> slot; shared with every Evaluation's mappings
        self.n_names = n_names = len(index)
        self.n_inputs = len(inputs)
        self.n_nodes = n
        flags = list(map(attrgetter("grad"), inputs.values()))
        self.no_grad = no_grad = [*compress(range(len(flags)), map(not_, flags))]
        # Every slot's value before the forward pass: the inputs', the nodes' (None yet),
        # the constants' (added below).
        self.start = list(map(attrgetter("value"), inputs.values()))
        input_types = {*map(type, self.start)}
        self.start += [None] * n
        self.constants: list[Any] = []
        constants = self.constants
        # Column by column, at C speed, for the common node: one or two names as arguments.
        ops = list(map(attrgetter("op"), nodes))
        arg_lists = list(map(attrgetter("args"), nodes))
        attrs = list(map(attrgetter("attrs"), nodes))
        arities = list(map(len, arg_lists))
        classes = {op: _layer_class(op, exact) for op in dict.fromkeys(ops)}
        factories = list(map(classes.__getitem__, ops))
        get = index.get
        # The slots of the first and the last argument (None for a number), -1 for none.
        a_col: list[Any] = list(map(get, map(itemgetter(0), arg_lists)))
        b_col: list[Any] = list(map(get, map(itemgetter(-1), arg_lists)))
        c_col: list[Any] = [-1] * n
        for i in compress(range(n), map(eq, arities, repeat(1))):
            b_col[i] = -1

        # The other nodes, one by one in node order (constants get slots as first met): a
        # number as argument, attributes, three inputs or more, an exponent to check.
        # Float layers of one or two inputs and no attributes map floats to floats.
        not_float = [*compress(range(n), map(is_not, attrs, repeat(EMPTY)))]
        not_float += compress(range(n), map(gt, arities, repeat(2)))
        special = {*not_float, *compress(range(n), map(is_, a_col, repeat(None)))}
        special.update(compress(range(n), map(is_, b_col, repeat(None))))
        if exact:
            special.update(compress(range(n), map(eq, ops, repeat("pow"))))
        # Nodes of more than three inputs (batch_norm with running statistics), by position:
        # every argument's slot, and the slots that want a gradient (-1 where none is wanted).
        self.wide: dict[int, tuple[int, ...]] = {}
        self.wide_back: dict[int, tuple[int, ...]] = {}
        const_slots: dict[Const, int] = {}
        for i in sorted(special):
            node = nodes[i]
            if exact and node.op == "pow":
                _refuse_exponent_name(graph, node)
            slots: list[int] = []
            for j, arg in enumerate(node.args):
                slot = get(arg) if isinstance(arg, str) else const_slots.get(arg)
                if slot is None:
                    assert isinstance(arg, Const)
                    slot = const_slots[arg] = n_names + len(constants)
                    constants.append(_exact_constant(graph, node, j) if exact else arg.value)
                slots.append(slot)
            if len(slots) > 3:
                self.wide[i] = (*slots,)
                a_col[i] = b_col[i] = -1
            else:
                a_col[i], b_col[i], c_col[i] = (*slots, -1, -1)[:3]
            if attrs[i] is not EMPTY:  # an op's attributes go to its layers' __init__
                factories[i] = partial(factories[i], **attrs[i])

        # For the backward pass: (arity, or 0 if no argument wants a gradient; the slots,
        # -1 where none is wanted).
        self.back: list[tuple[int, int, int, int]]
        if not no_grad and not constants:  # every argument wants its gradient
            self.back = list(zip(arities, a_col, b_col, c_col, strict=True))
            self.wide_back = self.wide
        else:
            # wanted[s]: s, or -1 for a constant, a grad: false input and (the last) for -1.
            wanted = [*range(n_names), *([-1] * len(constants)), -1]
            for s in no_grad:
                wanted[s] = -1
            pick = wanted.__getitem__
            wa, wb, wc = (list(map(pick, column)) for column in (a_col, b_col, c_col))
            # arity * (some slot >= 0): the arity, or 0 when no argument wants a gradient.
            back_arities = list(map(mul, arities, map(ge, map(max, wa, wb, wc), repeat(0))))
            for i, wide in self.wide.items():
                self.wide_back[i] = wants = tuple(map(pick, wide))
                back_arities[i] = arities[i] if max(wants) >= 0 else 0
            self.back = list(zip(back_arities, wa, wb, wc, strict=True))
            # Layers that can skip a gradient are told which inputs want one.
            told = {op for op, cls in classes.items() if hasattr(cls, "needs_input_grad")}
            for i in compress(range(n), map(told.__contains__, ops)):
                arity, *slots = self.back[i]
                receivers = self.wide_back.get(i) or slots[: arities[i]]
                if arity and min(receivers) < 0:
                    needs = tuple(s >= 0 for s in receivers)
                    factories[i] = partial(_told, factories[i], needs)
        # Per node, for the forward pass: (layer class, arity, a, b, c), unused slots -1;
        # and when every node has one or two inputs, (layer class, its slot, a, b).
        self.steps: list[tuple[Any, int, int, int, int]]
        self.steps = list(zip(factories, arities, a_col, b_col, c_col, strict=True))
        self.pairs: list[tuple[Any, int, int, int]] | None = None
        if max(arities, default=0) <= 2:
            own = range(self.n_inputs, self.n_inputs + n)
            self.pairs = list(zip(factories, own, a_col, b_col, strict=True))
        # A graph of floats: every input and constant a float, and no node whose layer could
        # make something else of floats: one with attributes (reshape makes an array) or of
        # three inputs or more (affine and the CNN ops take arrays).
        types = {*input_types, *map(type, constants)}
        self.floats = not exact and not not_float and types <= {float}
        if not exact:
            self.start += constants
        # Per target slot, for graphs of floats: the backward pass's nodes and the names no
        # gradient reaches (see _reach).
        self.reach: dict[int, tuple[list[tuple[int, int, int, int]], list[int]]] = {}

    def run(self, graph: Graph, target: str, *, trace: bool = False) -> Evaluation:
        values, layers = self.forward(graph)
        end = self.index[target]
        n_names = self.n_names
        no_grad = self.no_grad
        contributions: list[Contribution] | None = None
        if self.floats and not trace:
            grads = self._backward_floats(graph, layers, end)
            del values[n_names:]  # the constants
            finite = _surely_finite(values) and _surely_finite(grads)
            for i in no_grad:
                grads[i] = None  # even when differentiating that input itself (--of)
        else:
            if trace:
                contributions = []
                grads = self.backward_traced(graph, values, layers, end, contributions)
            else:
                grads = self.backward(graph, values, layers, end)
            del values[n_names:]
            del grads[n_names:]
            for i in no_grad:
                grads[i] = None  # even when differentiating that input itself (--of)
            # Names no gradient reached get zeros, except inputs with grad: false (None).
            skip = set(no_grad)
            for i in list(compress(range(n_names), map(is_, grads, repeat(None)))):
                if i not in skip:
                    grads[i] = _zeros_like(values[i])
            some_grads = [g for g in grads if g is not None] if no_grad else grads
            finite = _surely_finite(values) and _surely_finite(some_grads)
        warnings: list[Diagnostic] = []
        if not finite:
            warnings = _non_finite(graph, list(self.index), values, grads)
        index = self.index
        return Evaluation(
            graph.name,
            target,
            Slots(index, values),
            Slots(index, grads),
            warnings,
            contributions,
            source=graph,
        )

    def forward(self, graph: Graph, inputs: list[Any] | None = None) -> tuple[list[Any], list[Any]]:
        """Every slot's value; each node's layer keeps what its backward needs. ``inputs``
        (float only) gives the input values in the graph's order instead of its own."""
        if inputs is None and not self.exact:
            values = self.start.copy()
        else:
            values = _exact_inputs(graph) if inputs is None else list(inputs)
            values += [None] * self.n_nodes
            values += self.constants
        layers: list[Any] = []
        keep = layers.append
        k = self.n_inputs
        try:
            if self.pairs is not None:  # the same loop, with one branch per node
                for layer_class, k, a, b in self.pairs:
                    layer = layer_class()
                    if b >= 0:
                        values[k] = layer.forward(values[a], values[b])
                    else:
                        values[k] = layer.forward(values[a])
                    keep(layer)
                return values, layers
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

    def _reach(self, end: int) -> tuple[list[tuple[int, int, int, int]], list[int]]:
        """For a backward pass from slot ``end``: the nodes it runs, last first, as (node,
        its slot, its arguments' slots with -1 for a missing second), and the names it
        never reaches. Computed once per target; a graph of floats has no other reason for a
        gradient not to arrive."""
        found = self.reach.get(end)
        if found is not None:
            return found
        base = self.n_inputs
        reached = bytearray(len(self.constants) + self.n_names)
        reached[end] = 1
        order = []
        for i in range(end - base, -1, -1):
            arity, wa, wb, _ = self.back[i]
            if not arity or not reached[base + i]:
                continue
            _, _, a, b, _ = self.steps[i]
            order.append((i, base + i, a, b))
            if wa >= 0:
                reached[wa] = 1
            if wb >= 0:
                reached[wb] = 1
        unwanted = set(self.no_grad)
        missed = [s for s in range(self.n_names) if not reached[s] and s not in unwanted]
        if len(self.reach) >= 8:  # many --of targets: keep the memory bounded
            self.reach.clear()
        found = self.reach[end] = (order, missed)
        return found

    def _backward_floats(self, graph: Graph, layers: list[Any], end: int) -> list[Any]:
        """``backward`` for a graph of floats: the gradients of the names (the constants'
        dropped), 0.0 where none arrives, and grad: false inputs' left to the caller.

        Every gradient starts at -0.0, the float that adds to anything without changing a
        bit of it (-0.0 + x == x even for x = +0.0 and -0.0), so there is no "first
        contribution" test; only the nodes that ``end`` reaches run, found once per target.
        Contributions to constants and to grad: false inputs are added too, and dropped.
        """
        order, missed = self._reach(end)
        grads: list[Any] = [-0.0] * (self.n_names + len(self.constants))
        grads[end] = 1.0
        i = 0
        try:
            for i, k, a, b in order:
                if b >= 0:
                    da, db = layers[i].backward(grads[k])
                    grads[a] += da
                    grads[b] += db
                else:
                    grads[a] += layers[i].backward(grads[k])
        except (ValueError, TypeError, ArithmeticError, IndexError) as err:
            raise _failure(graph, i, " backward", err) from None
        del grads[self.n_names :]
        for s in missed:
            grads[s] = 0.0
        return grads

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
        names = list(self.index)
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


def _told(factory: Any, needs: tuple[bool, ...]) -> Any:
    """A layer told which of its inputs want a gradient (``needs_input_grad``, as PyTorch
    tells its autograd functions): its backward may leave the others out (None)."""
    layer = factory()
    layer.needs_input_grad = needs
    return layer


def _layer_class(op: str, exact: bool) -> Any:
    """The op's layer class, float or (``exact``) exact; evaluate() has refused inexact ops."""
    spec = OPS[op]
    return spec.exact_layer_class() if exact else spec.layer_class()


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
    if is_fraction(value) or value.dtype.kind == "O":
        return True  # exact rationals are always finite
    import numpy as np

    return bool(np.logical_and.reduce(np.isfinite(value), axis=None))


def _non_finite(
    graph: Graph, names: list[str], values: list[Any], grads: list[Any]
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
    for name, grad in zip(reversed(names), reversed(grads), strict=True):
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
