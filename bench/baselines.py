"""Hand-written engines that bpcalc's is measured against, all on the same ``Program``.

Each ``compile_*`` turns a program into what that engine runs (names resolved to list
indexes, as any hand-written engine would do once), and returns a function that runs forward
then backward and returns ``(values, grads)``, one entry per input and node, inputs first.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable
from typing import Any

from shapes import Program

Run = Callable[[], tuple[list[float], list[float]]]


# --- the book's layers (Deep Learning from Scratch, 5.4), and a tanh in the same style -------


class MulLayer:
    def __init__(self) -> None:
        self.x = None
        self.y = None

    def forward(self, x: Any, y: Any) -> Any:
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        dx = dout * self.y
        dy = dout * self.x
        return dx, dy


class AddLayer:
    def __init__(self) -> None:
        pass

    def forward(self, x: Any, y: Any) -> Any:
        return x + y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        dx = dout * 1
        dy = dout * 1
        return dx, dy


class SubLayer:
    def __init__(self) -> None:
        pass

    def forward(self, x: Any, y: Any) -> Any:
        return x - y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return dout, -dout


class TanhLayer:
    def __init__(self) -> None:
        self.out: Any = None

    def forward(self, x: Any) -> Any:
        self.out = math.tanh(x)
        return self.out

    def backward(self, dout: Any) -> Any:
        return dout * (1.0 - self.out * self.out)


BOOK_LAYERS: dict[str, type[Any]] = {
    "mul": MulLayer,
    "add": AddLayer,
    "sub": SubLayer,
    "tanh": TanhLayer,
}


def _indexes(program: Program) -> tuple[list[float], list[tuple[str, int, int]]]:
    slot = {name: i for i, name in enumerate(program.inputs)}
    steps = []
    for name, op, args in program.nodes:
        slot[name] = len(slot)
        a = slot[args[0]]
        b = slot[args[1]] if len(args) > 1 else -1
        steps.append((op, a, b))
    return list(program.inputs.values()), steps


def compile_book(program: Program) -> Run:
    """The book's way: one layer object per node, forward in order, backward in reverse."""
    inputs, indexed = _indexes(program)
    steps = [(BOOK_LAYERS[op], a, b) for op, a, b in indexed]
    n_in = len(inputs)

    def run() -> tuple[list[float], list[float]]:
        values = list(inputs)
        layers = []
        for layer_class, a, b in steps:
            layer = layer_class()
            values.append(
                layer.forward(values[a]) if b < 0 else layer.forward(values[a], values[b])
            )
            layers.append(layer)
        grads = [0.0] * len(values)
        grads[-1] = 1.0
        for i in range(len(steps) - 1, -1, -1):
            _, a, b = steps[i]
            if b < 0:
                grads[a] += layers[i].backward(grads[n_in + i])
            else:
                da, db = layers[i].backward(grads[n_in + i])
                grads[a] += da
                grads[b] += db
        return values, grads

    return run


def hand_engine(data: dict[str, Any]) -> tuple[list[float], list[float]]:
    """A hand-written engine on a graph file's parsed data: names to indexes, then the
    book-style loop."""
    inputs = {name: float(value) for name, value in data["inputs"].items()}
    nodes = [(name, node["op"], tuple(node["in"])) for name, node in data["nodes"].items()]
    return compile_book(Program(data["name"], inputs, nodes))()


ADD, SUB, MUL, TANH = range(4)
CODES = {"add": ADD, "sub": SUB, "mul": MUL, "tanh": TANH}


def compile_flat(program: Program) -> Run:
    """No objects: a loop over op codes, forward and backward, on two lists of floats."""
    inputs, indexed = _indexes(program)
    steps = [(CODES[op], a, b) for op, a, b in indexed]
    tanh = math.tanh

    def run() -> tuple[list[float], list[float]]:
        values = list(inputs)
        append = values.append
        for code, a, b in steps:
            if code == MUL:
                append(values[a] * values[b])
            elif code == ADD:
                append(values[a] + values[b])
            elif code == SUB:
                append(values[a] - values[b])
            else:
                append(tanh(values[a]))
        grads = [0.0] * len(values)
        grads[-1] = 1.0
        k = len(values)
        for code, a, b in reversed(steps):
            k -= 1
            g = grads[k]
            if code == MUL:
                grads[a] += g * values[b]
                grads[b] += g * values[a]
            elif code == ADD:
                grads[a] += g
                grads[b] += g
            elif code == SUB:
                grads[a] += g
                grads[b] -= g
            else:
                y = values[k]
                grads[a] += g * (1.0 - y * y)
        return values, grads

    return run


# --- closed forms in numpy, where the shape has one ----------------------------------------


def compile_numpy(program: Program) -> Run | None:
    """Vectorised closed forms for the chain and the wide sum; None for other shapes."""
    import numpy as np

    if program.name == "chain":
        x, a, b = program.inputs["x"], program.inputs["a"], program.inputs["b"]
        n = len(program.nodes)
        is_mul = np.arange(n) % 2 == 0
        scale = np.where(is_mul, a, 1.0)  # node i is scale_i * v_(i-1) + shift_i
        shift = np.where(is_mul, 0.0, b)

        def run_chain() -> tuple[Any, Any]:
            prefix = np.cumprod(scale)
            values = prefix * (x + np.cumsum(shift / prefix))
            grads = prefix[-1] / prefix  # d out / d v_i: the product of the later scales
            before = np.concatenate(([x], values[:-1]))
            da = float(np.sum(np.where(is_mul, grads * before, 0.0)))
            db = float(np.sum(np.where(is_mul, 0.0, grads)))
            return [x, a, b, *values], [grads[0] * a, da, db, *grads]

        return run_chain
    if program.name == "wide_sum":
        half = len(program.inputs) // 2
        xs = np.array(list(program.inputs.values())[0::2])
        ws = np.array(list(program.inputs.values())[1::2])
        adds = len(program.nodes) - half

        def run_wide() -> tuple[Any, Any]:
            products = xs * ws
            total = float(products.sum())
            grads = np.ones(half + adds)
            return [xs, ws, products, total], [ws, xs, grads]

        return run_wide
    return None


# --- micrograd and PyTorch, where installed ------------------------------------------------


def micrograd_available() -> bool:
    try:
        import micrograd.engine  # noqa: F401
    except ImportError:
        return False
    return True


def _micrograd_tanh(x: Any) -> Any:
    """tanh in micrograd's style (the package has only relu; Karpathy's lecture adds this)."""
    from micrograd.engine import Value

    t = math.tanh(x.data)
    out = Value(t, (x,), "tanh")

    def _backward() -> None:
        x.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def compile_micrograd(program: Program) -> Callable[[], Any]:
    """micrograd's Value objects: forward builds the graph, backward sorts it recursively.

    Its recursive topological sort needs a recursion limit above the graph's depth; the run
    happens in a thread with a large stack so that the raised limit is safe.
    """
    from micrograd.engine import Value

    inputs, indexed = _indexes(program)

    def forward_backward() -> Any:
        nodes = [Value(v) for v in inputs]
        for op, a, b in indexed:
            x = nodes[a]
            if op == "mul":
                nodes.append(x * nodes[b])
            elif op == "add":
                nodes.append(x + nodes[b])
            elif op == "sub":
                nodes.append(x - nodes[b])
            else:
                nodes.append(_micrograd_tanh(x))
        nodes[-1].backward()
        return nodes

    def run() -> Any:
        result: list[Any] = []
        errors: list[BaseException] = []

        def target() -> None:
            try:
                result.append(forward_backward())
            except BaseException as err:  # reported in the calling thread
                errors.append(err)

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 4 * len(indexed) + 1000))
        old_size = threading.stack_size(512 * 1024 * 1024)
        try:
            thread = threading.Thread(target=target)
            thread.start()
            thread.join()
        finally:
            threading.stack_size(old_size)
            sys.setrecursionlimit(limit)
        if errors:
            raise errors[0]
        return [v.data for v in result[0]], [v.grad for v in result[0]]

    return run


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def compile_torch(program: Program) -> Callable[[], Any]:
    """PyTorch with one 0-d float64 tensor per value; every node keeps its gradient."""
    import torch

    inputs, indexed = _indexes(program)

    def run() -> Any:
        nodes = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in inputs]
        for op, a, b in indexed:
            x = nodes[a]
            if op == "mul":
                y = x * nodes[b]
            elif op == "add":
                y = x + nodes[b]
            elif op == "sub":
                y = x - nodes[b]
            else:
                y = torch.tanh(x)
            y.retain_grad()
            nodes.append(y)
        nodes[-1].backward()
        return nodes

    return run
