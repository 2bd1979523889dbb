"""Activity regularizers: penalties on a layer's output ``a`` (B, n), added to the loss.

The conventions (sia.h states them too), like the loss, are per sample, averaged over the batch:

* ``L1(l1)``: λ · mean over the samples of Σⱼ |aⱼ|; gradient λ·sign(a)/B (0 at a = 0).
* ``L2(l2)``: λ · mean over the samples of Σⱼ aⱼ²; gradient 2λ·a/B.
* ``KLSparsity(target, weight)``: w · Σⱼ KL(ρ ‖ ρ̂ⱼ), with ρ̂ⱼ the batch mean of unit j and
  KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂)); not divided by the batch again.
  Its gradient w·(−ρ/ρ̂ⱼ + (1 − ρ)/(1 − ρ̂ⱼ))/B reaches every sample's aⱼ.

L1 and L2 are Keras's ``regularizers.L1`` / ``L2`` used as ``activity_regularizer`` (Keras
divides the penalty by the batch size). KLSparsity is the sparse autoencoder's penalty (Ng's
notes; Géron's ``KLDivergenceRegularizer``, which Keras, as an activity regularizer, divides by
the batch size once more: its weight is B times ours). ρ̂ is a mean of the layer's outputs, so
KLSparsity needs outputs in (0, 1): a layer with another activation is refused when the model is
built; ρ̂ is kept inside [1e-7, 1 − 1e-7] so that its logs stay finite. Training steps of a
network with KLSparsity run whole (not split into chunks or data-parallel parts), so that ρ̂ is
the batch's.

The penalties, their gradients and ρ̂ are computed in C inside each training step; the history
logs ``reconstruction_loss`` and ``regularization_loss`` apart (``loss`` is their sum).
"""
from typing import Optional

import numpy as np

from .optimizers import _check_range

__all__ = ["Regularizer", "L1", "L2", "KLSparsity", "get"]

# sia.h's SIA_REG_* codes
_REG_L1, _REG_L2, _REG_KL = 1, 2, 3


class Regularizer:
    """The base class: ``code`` (SIA_REG_*), ``record_fields()`` for the C record, a NumPy
    ``penalty(a)`` and ``gradient(a)`` of a batch of outputs (B, n), and ``get_config()``."""
    code: Optional[int] = None

    def record_fields(self):
        """(code, a, b) of the layer record (sia.h)."""
        raise NotImplementedError

    def penalty(self, a):
        raise NotImplementedError

    def gradient(self, a):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(self.get_config().items())))


class L1(Regularizer):
    """λ · mean over the samples of Σⱼ |aⱼ| (Keras's ``regularizers.L1(l1)`` as an
    activity regularizer)."""
    code = _REG_L1

    def __init__(self, l1=0.01):
        self.l1 = _check_range(self, "l1", l1, 0, None)

    def record_fields(self):
        return (self.code, self.l1, 0.0)

    def penalty(self, a):
        a = np.asarray(a, dtype=float)
        return self.l1 * np.abs(a).sum() / a.shape[0]

    def gradient(self, a):
        a = np.asarray(a, dtype=float)
        return self.l1 * np.sign(a) / a.shape[0]

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """λ · mean over the samples of Σⱼ aⱼ² (Keras's ``regularizers.L2(l2)`` as an activity
    regularizer)."""
    code = _REG_L2

    def __init__(self, l2=0.01):
        self.l2 = _check_range(self, "l2", l2, 0, None)

    def record_fields(self):
        return (self.code, self.l2, 0.0)

    def penalty(self, a):
        a = np.asarray(a, dtype=float)
        return self.l2 * (a * a).sum() / a.shape[0]

    def gradient(self, a):
        a = np.asarray(a, dtype=float)
        return 2 * self.l2 * a / a.shape[0]

    def get_config(self):
        return {"l2": self.l2}


RHO_EPS = 1e-7  # ρ̂ is kept inside [RHO_EPS, 1 − RHO_EPS] (sia.h's SIA_BCE_EPS)


class KLSparsity(Regularizer):
    """w · Σⱼ KL(ρ ‖ ρ̂ⱼ), ρ̂ⱼ the batch mean of unit j: pushes each unit's mean activation
    towards the target ρ. For outputs in (0, 1) (logistic layers).

    Parameters
    ----------
    target : float in (0, 1)
        ρ, the mean activation wanted (default 0.1, as Géron's).
    weight : float >= 0
        w (default 0.05).
    """
    code = _REG_KL

    def __init__(self, target=0.1, weight=0.05):
        self.target = _check_range(self, "target", target, 0, 1, low_open=True, high_open=True)
        self.weight = _check_range(self, "weight", weight, 0, None)

    def record_fields(self):
        return (self.code, self.weight, self.target)

    def mean_activation(self, a):
        """ρ̂ (n,): the batch mean of each unit, kept inside [1e-7, 1 − 1e-7]."""
        return np.clip(np.asarray(a, dtype=float).mean(axis=0), RHO_EPS, 1 - RHO_EPS)

    def penalty(self, a):
        r, m = self.target, self.mean_activation(a)
        return self.weight * np.sum(r * np.log(r / m) + (1 - r) * np.log((1 - r) / (1 - m)))

    def gradient(self, a):
        a = np.asarray(a, dtype=float)
        r, m = self.target, self.mean_activation(a)
        return np.broadcast_to(self.weight * (-r / m + (1 - r) / (1 - m)) / a.shape[0], a.shape).copy()

    def get_config(self):
        return {"target": self.target, "weight": self.weight}


_CLASSES = {"L1": L1, "L2": L2, "KLSparsity": KLSparsity}
_NAMES = {"l1": L1, "l2": L2, "kl": KLSparsity, "klsparsity": KLSparsity, "kl_sparsity": KLSparsity}


def get(spec):
    """A regularizer from an instance, None, a name ('l1', 'l2', 'kl_sparsity': the defaults), or
    a config dict ``{"type": "L1", "l1": 1e-4}`` (as ``to_config`` writes it)."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str) and spec.lower() in _NAMES:
        return _NAMES[spec.lower()]()
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("type", None)
        if name not in _CLASSES:
            raise ValueError(f"activity_regularizer.type: expected one of {', '.join(_CLASSES)}, "
                             f"got {name!r}")
        try:
            return _CLASSES[name](**spec)
        except TypeError as e:
            raise ValueError(f"activity_regularizer: {e}") from None
    raise ValueError(f"activity_regularizer: expected a regularizer (L1, L2, KLSparsity), a name "
                     f"({', '.join(sorted(_NAMES))}) or a config dict, got {spec!r}")


def to_config(reg):
    """The JSON form of a regularizer (None stays None); ``get`` reads it back."""
    return None if reg is None else {"type": type(reg).__name__, **reg.get_config()}
