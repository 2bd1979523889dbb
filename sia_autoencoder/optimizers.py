"""Optimizers: small classes holding hyperparameters and state over one flat parameter vector.

The update itself runs in C (``csrc/optim.c``), element-wise, for one step here or for every
step of an epoch inside the training loop.
"""
import copy
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _core

__all__ = ["GradientDescent", "Momentum", "Adam", "get_optimizer"]


@dataclass
class _Optimizer:
    learning_rate: float = 0.01
    t: int = field(default=0, init=False, repr=False)          # steps taken
    m: np.ndarray = field(default=None, init=False, repr=False)  # first state (velocity, or Adam's m)
    v: np.ndarray = field(default=None, init=False, repr=False)  # second state (Adam's v)

    def __post_init__(self):
        self.learning_rate = _check_range(self, "learning_rate", self.learning_rate, 0, None, low_open=True)

    def reset(self, n, dtype):
        """Zero the state for ``n`` parameters of ``dtype``."""
        self.t = 0
        self.m = np.zeros(n, dtype=dtype)
        self.v = np.zeros(n, dtype=dtype)

    def _ready(self, p):
        if self.m is None or self.m.shape != p.shape or self.m.dtype != p.dtype:
            self.reset(p.size, p.dtype)

    def step(self, p, g):
        """One update of the flat parameters ``p`` (n,) in place, from the gradient ``g`` (n,).
        Raises FloatingPointError, with nothing changed, when the update would not be finite."""
        self._ready(p)
        t = _core.optim_step(p, self.m, self.v, g, *self._args(), self.t)
        if t == self.t:
            raise FloatingPointError(f"{type(self).__name__}.step: a parameter or a moment would "
                                     f"become NaN or inf; the step was not applied")
        self.t = t

    def _args(self):
        """(kind, lr, momentum, beta1, beta2, eps) for the C core."""
        return (self.kind, self.learning_rate, getattr(self, "momentum", 0.0),
                getattr(self, "beta1", 0.9), getattr(self, "beta2", 0.999), getattr(self, "eps", 1e-8))

    def get_config(self):
        return {"type": type(self).__name__, **{k: getattr(self, k) for k in self._fields}}


@dataclass
class GradientDescent(_Optimizer):
    """p ← p − lr·g."""
    learning_rate: float = 0.01
    kind = _core.GD
    _fields = ("learning_rate",)


@dataclass
class Momentum(_Optimizer):
    """Δp ← α·Δp − lr·g;  p ← p + Δp  (Keras's ``SGD(momentum=α)``, the velocity form).

    ``torch.optim.SGD(momentum=α)`` keeps b ← α·b + g and steps p ← p − lr·b instead. The two
    take the same steps while the learning rate is constant, and differ as soon as it changes
    (``lr_decay``, ``ReduceLROnPlateau``, a callback): here the velocity remembers the old
    rate's steps, which decay over about 1/(1 − α) steps; in PyTorch every remembered gradient
    is multiplied by the new rate at once.
    """
    learning_rate: float = 0.01
    momentum: float = 0.9
    kind = _core.MOMENTUM
    _fields = ("learning_rate", "momentum")

    def __post_init__(self):
        super().__post_init__()
        self.momentum = _check_range(self, "momentum", self.momentum, 0, 1, high_open=True)


@dataclass
class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015), with the paper's defaults."""
    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    kind = _core.ADAM
    _fields = ("learning_rate", "beta1", "beta2", "eps")

    def __post_init__(self):
        super().__post_init__()
        self.beta1 = _check_range(self, "beta1", self.beta1, 0, 1, high_open=True)
        self.beta2 = _check_range(self, "beta2", self.beta2, 0, 1, high_open=True)
        self.eps = _check_range(self, "eps", self.eps, 0, None, low_open=True)


_NAMES = {"gd": GradientDescent, "sgd": GradientDescent, "gradient_descent": GradientDescent,
          "momentum": Momentum, "adam": Adam}


def get_optimizer(spec, learning_rate=None):
    """An optimizer from a name ('adam', 'momentum', 'gd'/'sgd'/'gradient_descent'), a config
    dict ``{"type": "Adam", "learning_rate": ...}`` (as ``get_config`` writes it), or an instance."""
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("type", None)
        classes = {cls.__name__: cls for cls in (GradientDescent, Momentum, Adam)}
        if name not in classes:
            raise ValueError(f"optimizer.type: expected one of {', '.join(classes)}, got {name!r}")
        unknown = sorted(set(spec) - set(classes[name]._fields))
        if unknown:
            raise ValueError(f"optimizer: unknown option(s) {', '.join(unknown)} for {name}; "
                             f"expected {', '.join(classes[name]._fields)}")
        spec = classes[name](**spec)
    if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        learning_rate = float(learning_rate)  # np.float32 and friends; anything else is refused below
    if isinstance(spec, _Optimizer):
        # The model's own copy: two models given one instance do not share its state, and
        # learning_rate= leaves the caller's object as it was.
        spec = copy.deepcopy(spec)
        if learning_rate is not None:
            spec.learning_rate = _check_range(spec, "learning_rate", learning_rate, 0, None,
                                              low_open=True)
        return spec
    if isinstance(spec, str) and spec.lower().replace("-", "_") in _NAMES:
        cls = _NAMES[spec.lower().replace("-", "_")]
        return cls() if learning_rate is None else cls(learning_rate=learning_rate)
    raise ValueError(f"optimizer: expected one of {', '.join(sorted(_NAMES))} or an optimizer "
                     f"instance, got {spec!r}")


def _check_range(obj, name, value, low, high, low_open=False, high_open=False):
    import math
    # Any real number type (np.float32, np.int64, fractions ...); then stored as a float.
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(value)
    if ok:
        value = float(value)
    ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = f"{'(' if low_open else '['}{low}"
        hi = f"{high}{')' if high_open else ']'}" if high is not None else "inf)"
        raise ValueError(f"{type(obj).__name__}.{name}: expected a number in {lo}, {hi}, got {value!r}")
    return value
