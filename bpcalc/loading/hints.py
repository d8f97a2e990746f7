"""What to say when a graph names an op that does not exist: the op people meant, by its
usual other names (``maximum``, ``dot``, ``linear``) as well as by spelling, or a way to
write it with the ops there are, and where the list of ops is."""

from __future__ import annotations

from bpcalc.errors import closest
from bpcalc.ops.table import OPS

# Other names for an op (NumPy's, PyTorch's, the book's), most likely first: a hint names the
# first that the op table has. Ops being added later are named here already.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "abs": ("abs",),
    "absolute": ("abs",),
    "amax": ("max",),
    "maximum": ("max", "maximum"),
    "max": ("max", "maximum"),
    "minimum": ("min", "minimum"),
    "min": ("min", "minimum"),
    "sqrt": ("sqrt",),
    "square": ("pow",),
    "power": ("pow",),
    "sin": ("sin",),
    "cos": ("cos",),
    "softmax": ("softmax", "softmax_with_loss"),
    "log_softmax": ("softmax_with_loss",),
    "cross_entropy": ("softmax_with_loss",),
    "softmaxwithloss": ("softmax_with_loss",),
    "transpose": ("transpose",),
    "t": ("transpose",),
    "reshape": ("reshape",),
    "view": ("reshape",),
    "flatten": ("reshape",),
    "dot": ("matmul",),
    "mm": ("matmul",),
    "matmult": ("matmul",),
    "linear": ("affine",),
    "dense": ("affine",),
    "fc": ("affine",),
    "multiply": ("mul",),
    "times": ("mul",),
    "prod": ("mul",),
    "plus": ("add",),
    "subtract": ("sub",),
    "minus": ("sub",),
    "divide": ("div",),
    "negative": ("neg",),
    "average": ("mean",),
    "avg": ("mean",),
    "ln": ("log",),
    "logistic": ("sigmoid",),
    "expit": ("sigmoid",),
    "id": ("identity",),
}

# Ways to write an op that the table does not have, with the ops it has (when no synonym has).
RECIPES: dict[str, str] = {
    "reciprocal": "1 / x",
    "rsqrt": "1 / sqrt(x)",
    "exp2": "2 ** x",
    "log2": "log(x) / log(2)",
    "log10": "log(x) / log(10)",
}


def unknown_op(op: str) -> str:
    """``unknown op 'NAME'`` with the likeliest op, or a way to write it, and where to look."""
    key = op.lower()
    for other in SYNONYMS.get(key, ()):
        if other in OPS and other != op:
            return f"unknown op '{op}' (did you mean '{other}'?); {_LIST}"
    if key in RECIPES:
        return f"unknown op '{op}': write {RECIPES[key]}; {_LIST}"
    close = key if key in OPS else closest(op, OPS)
    if close:  # a typo: the hint says it all
        return f"unknown op '{op}' (did you mean '{close}'?)"
    return f"unknown op '{op}'; {_LIST}"


_LIST = "'bpcalc ops' lists the ops"
