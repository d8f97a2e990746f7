"""bpcalc: compute and see backpropagation on a computational graph.

The Python API that the command line uses::

    from bpcalc import load
    graph = load("graphs/apple_orange.yaml")
    result = graph.evaluate()
    result.values["price"], result.grads["apple"]   # 715.0000000000001, 2.2
"""

from __future__ import annotations

from typing import Any

__version__ = "1.0.0"
__all__ = ["__version__", "load", "loads"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import bpcalc` (and `bpcalc --help`) does not import numpy or PyYAML.
    if name in ("load", "loads"):
        from bpcalc.loading import build

        return getattr(build, name)
    raise AttributeError(f"module 'bpcalc' has no attribute {name!r}")
