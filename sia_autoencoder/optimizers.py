"""Optimizers: small classes holding hyperparameters and state over one flat parameter vector.

The update itself runs in C (``csrc/optim.c``), element-wise, for one step here or for every
step of an epoch inside the training loop.
"""
import copy
import numbers
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from . import _core

__all__ = ["GradientDescent", "Momentum", "Adam", "AdamW", "RMSprop", "Nadam", "Adadelta",
           "get_optimizer"]


@dataclass
class _Optimizer:
    learning_rate: float = 0.01
    t: int = field(default=0, init=False, repr=False)          # steps taken
    m: Any = field(default=None, init=False, repr=False)  # first state (an array once reset) (velocity, Adam's m, ...)
    v: Any = field(default=None, init=False, repr=False)  # second state (Adam's v, ...)

    @property
    def _fields(self):
        """The hyperparameters, in the constructor's order."""
        return tuple(f.name for f in fields(self) if f.init)

    def __post_init__(self):
        # Any real number type is accepted (np.float32 ...), and stored as a float.
        self.learning_rate = _check_range(self, "learning_rate", self.learning_rate, 0, None,
                                          low_open=True)
        self.weight_decay = _check_range(self, "weight_decay", self.weight_decay, 0, None)
        for name in ("momentum", "beta1", "beta2", "rho"):
            if name in self._fields:
                setattr(self, name, _check_range(self, name, getattr(self, name), 0, 1, high_open=True))
        if "eps" in self._fields:
            self.eps = _check_range(self, "eps", self.eps, 0, None, low_open=True)

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
        k = self._core_kwargs()
        t = _core.optim_step(p, self.m, self.v, g, k["optimizer"], k["lr"], k["momentum"],
                             k["beta1"], k["beta2"], k["eps"], self.t, k["rho"], k["weight_decay"])
        if t == self.t:
            raise FloatingPointError(f"{type(self).__name__}.step: a parameter or a moment would "
                                     f"become NaN or inf; the step was not applied")
        self.t = t

    def _core_kwargs(self, lr=None):
        """The keyword arguments of the C core's training calls that describe this optimizer
        (``lr`` overrides the learning rate, for schedules)."""
        return dict(optimizer=self.kind, lr=self.learning_rate if lr is None else lr,
                    momentum=getattr(self, "momentum", 0.0), beta1=getattr(self, "beta1", 0.9),
                    beta2=getattr(self, "beta2", 0.999), eps=getattr(self, "eps", 1e-8),
                    rho=getattr(self, "rho", 0.9), weight_decay=self.weight_decay)

    def _args(self):
        """(kind, lr, momentum, beta1, beta2, eps) for the C core (without rho and weight_decay:
        prefer ``_core_kwargs``)."""
        k = self._core_kwargs()
        return k["optimizer"], k["lr"], k["momentum"], k["beta1"], k["beta2"], k["eps"]

    def get_config(self):
        return {"type": type(self).__name__, **{k: getattr(self, k) for k in self._fields}}


@dataclass
class GradientDescent(_Optimizer):
    """p ← p − lr·(g + wd·p)  (``torch.optim.SGD(weight_decay=wd)``; Keras's ``SGD``)."""
    learning_rate: float = 0.01
    weight_decay: float = 0.0
    kind = _core.GD


@dataclass
class Momentum(_Optimizer):
    """Δp ← α·Δp − lr·(g + wd·p);  p ← p + Δp  (Keras's ``SGD(momentum=α)``, the velocity form).

    ``torch.optim.SGD(momentum=α)`` keeps b ← α·b + g and steps p ← p − lr·b instead. The two
    take the same steps while the learning rate is constant, and differ as soon as it changes
    (``lr_decay``, ``ReduceLROnPlateau``, a callback): here the velocity remembers the old
    rate's steps, which decay over about 1/(1 − α) steps; in PyTorch every remembered gradient
    is multiplied by the new rate at once.
    """
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    kind = _core.MOMENTUM


@dataclass
class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015), with the paper's defaults: ε is added to √v̂ (bias-corrected),
    as in the paper and ``torch.optim.Adam``; Keras adds its ε to √v, uncorrected.
    ``weight_decay`` adds wd·p to the gradient (``torch.optim.Adam(weight_decay=)``); for the
    decoupled decay use :class:`AdamW`."""
    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    kind = _core.ADAM


@dataclass
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): p ← p − lr·wd·p, then Adam's step on g alone.

    Adam's defaults, and Keras's ``weight_decay=0.004`` (``torch.optim.AdamW`` defaults to
    0.01). The same update as ``torch.optim.AdamW`` and ``keras.optimizers.AdamW`` (whose ε
    sits outside the bias correction, see :class:`Adam`)."""
    weight_decay: float = 0.004
    kind = _core.ADAMW


@dataclass
class RMSprop(_Optimizer):
    """RMSprop as Keras defines it (Hinton's lecture 6e), with Keras's defaults:
    v ← ρ·v + (1−ρ)·g²;  Δ ← α·Δ + lr·g/√(v + ε);  p ← p − Δ.

    ``torch.optim.RMSprop`` puts ε outside the root, lr·g/(√v + ε), and defaults to lr 0.01,
    ρ (its ``alpha``) 0.99, ε 1e-8: the two agree when ε is negligible next to v.
    ``weight_decay`` adds wd·p to the gradient (as torch's)."""
    learning_rate: float = 1e-3
    rho: float = 0.9
    momentum: float = 0.0
    eps: float = 1e-7
    weight_decay: float = 0.0
    kind = _core.RMSPROP


@dataclass
class Nadam(_Optimizer):
    """Nadam (Dozat, 2016) as Keras defines it, with Keras's defaults: Adam with Nesterov
    momentum and the momentum schedule μ_t = β₁·(1 − ½·0.96^t):

        p ← p − lr·[μ_{t+1}·m/(1 − Π_{t+1}) + (1 − μ_t)·g/(1 − Π_t)] / (√v̂ + ε),
        Π_t = μ_1⋯μ_t,  m, v and v̂ as Adam's.

    ``torch.optim.NAdam`` has the same rule with μ_t = β₁·(1 − ½·0.96^(t·ψ)) and
    ``momentum_decay`` ψ = 0.004 by default: it is Keras's (and this) with ψ = 1.
    ``weight_decay`` adds wd·p to the gradient (as torch's)."""
    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-7
    weight_decay: float = 0.0
    kind = _core.NADAM


@dataclass
class Adadelta(_Optimizer):
    """Adadelta (Zeiler, 2012), with the paper's defaults (lr 1, ρ 0.95, ε 1e-6):

        v ← ρ·v + (1−ρ)·g²;  Δ ← −√(u + ε)/√(v + ε)·g;  u ← ρ·u + (1−ρ)·Δ²;  p ← p + lr·Δ.

    The rule of ``keras.optimizers.Adadelta`` and ``torch.optim.Adadelta``; Keras defaults to
    lr 0.001 and ε 1e-7, torch to ρ 0.9. ``weight_decay`` adds wd·p to the gradient."""
    learning_rate: float = 1.0
    rho: float = 0.95
    eps: float = 1e-6
    weight_decay: float = 0.0
    kind = _core.ADADELTA


_CLASSES = (GradientDescent, Momentum, Adam, AdamW, RMSprop, Nadam, Adadelta)
_NAMES = {"gd": GradientDescent, "sgd": GradientDescent, "gradient_descent": GradientDescent,
          "momentum": Momentum, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "nadam": Nadam,
          "adadelta": Adadelta}


def get_optimizer(spec, learning_rate=None, weight_decay=None):
    """An optimizer from a name ('adam', 'adamw', 'nadam', 'rmsprop', 'adadelta', 'momentum',
    'gd'/'sgd'/'gradient_descent'), a config dict ``{"type": "Adam", "learning_rate": ...}`` (as
    ``get_config`` writes it), or an instance. ``learning_rate`` and ``weight_decay``, when
    given, override the optimizer's own."""
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("type", None)
        classes = {cls.__name__: cls for cls in _CLASSES}
        if name not in classes:
            raise ValueError(f"optimizer.type: expected one of {', '.join(classes)}, got {name!r}")
        expected = [f.name for f in fields(classes[name]) if f.init]
        unknown = sorted(set(spec) - set(expected))
        if unknown:
            raise ValueError(f"optimizer: unknown option(s) {', '.join(unknown)} for {name}; "
                             f"expected {', '.join(expected)}")
        spec = classes[name](**spec)
    if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        learning_rate = float(learning_rate)  # np.float32 and friends; anything else is refused below
    if isinstance(weight_decay, numbers.Real) and not isinstance(weight_decay, bool):
        weight_decay = float(weight_decay)
    if isinstance(spec, str) and spec.lower().replace("-", "_") in _NAMES:
        spec = _NAMES[spec.lower().replace("-", "_")]()
    if isinstance(spec, _Optimizer):
        # The model's own copy: two models given one instance do not share its state, and
        # learning_rate= leaves the caller's object as it was.
        spec = copy.deepcopy(spec)
        if learning_rate is not None:
            spec.learning_rate = _check_range(spec, "learning_rate", learning_rate, 0, None,
                                              low_open=True)
        if weight_decay is not None:
            spec.weight_decay = _check_range(spec, "weight_decay", weight_decay, 0, None)
        return spec
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
