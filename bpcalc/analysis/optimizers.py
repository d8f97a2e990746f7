"""The six optimizers of *Deep Learning from Scratch* (``common/optimizer.py``), exactly.

Each has the book's ``update(params, grads)`` on dicts of parameters (floats or float64
arrays): arrays are updated in place, floats replaced in the dict, and every formula is the
book's, operation for operation, so the floats come out the same:

- SGD:      ``p -= lr*g``
- Momentum: ``v = m*v - lr*g; p += v``
- Nesterov: ``v *= m; v -= lr*g; p += m*m*v; p -= (1+m)*lr*g``
- AdaGrad:  ``h += g*g; p -= lr*g / (sqrt(h) + 1e-7)``
- RMSprop:  ``h *= d; h += (1-d)*g*g; p -= lr*g / (sqrt(h) + 1e-7)``
- Adam:     ``t += 1; lr_t = lr*sqrt(1-b2**t) / (1-b1**t); m += (1-b1)*(g-m);
  v += (1-b2)*(g**2-v); p -= lr_t*m / (sqrt(v) + 1e-7)``

The defaults are the book's: lr 0.01 (Adam 0.001), momentum 0.9, decay rate 0.99, betas 0.9
and 0.999. State (v, h, m) starts at zero, shaped like each parameter, on the first update.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from typing import Any

Params = MutableMapping[str, Any]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
TITLES = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
DEFAULT_LR = {name: 0.001 if name == "adam" else 0.01 for name in OPTIMIZERS}
DEFAULT_MOMENTUM = 0.9
DEFAULT_DECAY_RATE = 0.99
DEFAULT_BETA1 = 0.9
DEFAULT_BETA2 = 0.999


def _zeros_like(value: Any) -> Any:
    if isinstance(value, float):
        return 0.0
    import numpy as np

    return np.zeros_like(value)


def _sqrt(value: Any) -> Any:
    if isinstance(value, float):
        return math.sqrt(value)
    import numpy as np

    return np.sqrt(value)


class SGD:
    """Stochastic gradient descent: ``p -= lr*g``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Params, grads: Params) -> None:
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """Momentum SGD: ``v = m*v - lr*g; p += v``."""

    def __init__(self, lr: float = 0.01, momentum: float = DEFAULT_MOMENTUM) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: dict[str, Any] | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = {key: _zeros_like(val) for key, val in params.items()}
        v = self.v
        for key in params:
            v[key] = self.momentum * v[key] - self.lr * grads[key]
            params[key] += v[key]


class Nesterov:
    """Nesterov's accelerated gradient, as the book writes it (arXiv:1212.0901)."""

    def __init__(self, lr: float = 0.01, momentum: float = DEFAULT_MOMENTUM) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: dict[str, Any] | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = {key: _zeros_like(val) for key, val in params.items()}
        v = self.v
        for key in params:
            v[key] *= self.momentum
            v[key] -= self.lr * grads[key]
            params[key] += self.momentum * self.momentum * v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]


class AdaGrad:
    """AdaGrad: ``h += g*g; p -= lr*g / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: dict[str, Any] | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = {key: _zeros_like(val) for key, val in params.items()}
        h = self.h
        for key in params:
            h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (_sqrt(h[key]) + 1e-7)


class RMSprop:
    """RMSprop: ``h = d*h + (1-d)*g*g; p -= lr*g / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr: float = 0.01, decay_rate: float = DEFAULT_DECAY_RATE) -> None:
        self.lr = lr
        self.decay_rate = decay_rate
        self.h: dict[str, Any] | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = {key: _zeros_like(val) for key, val in params.items()}
        h = self.h
        for key in params:
            h[key] *= self.decay_rate
            h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (_sqrt(h[key]) + 1e-7)


class Adam:
    """Adam with the book's bias correction folded into the rate (arXiv:1412.6980v8)."""

    def __init__(
        self, lr: float = 0.001, beta1: float = DEFAULT_BETA1, beta2: float = DEFAULT_BETA2
    ) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: dict[str, Any] | None = None
        self.v: dict[str, Any] | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.m is None or self.v is None:
            self.m = {key: _zeros_like(val) for key, val in params.items()}
            self.v = {key: _zeros_like(val) for key, val in params.items()}
        m, v = self.m, self.v
        self.iter += 1
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            m[key] += (1 - self.beta1) * (grads[key] - m[key])
            v[key] += (1 - self.beta2) * (grads[key] ** 2 - v[key])
            params[key] -= lr_t * m[key] / (_sqrt(v[key]) + 1e-7)


Optimizer = SGD | Momentum | Nesterov | AdaGrad | RMSprop | Adam


def make_optimizer(
    name: str,
    lr: float | None = None,
    *,
    momentum: float = DEFAULT_MOMENTUM,
    decay_rate: float = DEFAULT_DECAY_RATE,
    beta1: float = DEFAULT_BETA1,
    beta2: float = DEFAULT_BETA2,
) -> Optimizer:
    """The optimizer ``name`` (one of OPTIMIZERS) with ``lr`` (default: the book's) and the
    hyperparameters it takes; the others are ignored."""
    rate = DEFAULT_LR[name] if lr is None else lr
    if name == "sgd":
        return SGD(rate)
    if name == "momentum":
        return Momentum(rate, momentum)
    if name == "nesterov":
        return Nesterov(rate, momentum)
    if name == "adagrad":
        return AdaGrad(rate)
    if name == "rmsprop":
        return RMSprop(rate, decay_rate)
    if name == "adam":
        return Adam(rate, beta1, beta2)
    raise ValueError(f"unknown optimizer {name!r}")
