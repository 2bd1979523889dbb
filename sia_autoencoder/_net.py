"""A stack of dense layers over one flat parameter vector, run by the C core."""
import numbers
import os
from dataclasses import dataclass

import numpy as np

from . import _core
from ._validate import INT32_MAX, INT64_MAX, as_matrix

_ACT_CODES = {"linear": _core.LINEAR, "logistic": _core.LOGISTIC, "tanh": _core.TANH,
              "relu": _core.RELU, "elu": _core.ELU, "selu": _core.SELU}
#: activations whose β is not used (relu, selu) or has no effect (linear)
_NO_BETA = ("linear", "relu", "selu")
_ACT_ALIASES = {"identity": ("linear", 1.0), "sigmoid": ("logistic", 0.5)}
LOSSES = {"mse": _core.MSE, "bce": _core.BCE, "binary_crossentropy": _core.BCE,
          "binary_cross_entropy": _core.BCE}


@dataclass(frozen=True)
class Activation:
    """An activation and its β: logistic(β) = 1/(1+exp(−2βx)), tanh(βx), relu, linear,
    elu(β) = x for x > 0, β·(eˣ − 1) otherwise (β is Keras's and PyTorch's ``alpha``), and
    selu = λ·elu_α(x) with Klambauer et al.'s fixed α ≈ 1.6733 and λ ≈ 1.0507 (β unused).

    ``"sigmoid"`` is logistic with β = 0.5, i.e. Keras's and PyTorch's 1/(1+exp(−x)).
    """
    name: str
    beta: float = 1.0

    @property
    def code(self):
        return _ACT_CODES[self.name]

    def __str__(self):
        return self.name if self.beta == 1.0 or self.name in _NO_BETA \
            else f"{self.name}(β={self.beta:g})"


def parse_activation(spec, where="activation"):
    """An :class:`Activation` from 'tanh', ('tanh', 0.5), {'name': .., 'beta': ..} or one itself;
    None is linear (Keras's ``activation=None``)."""
    beta = None
    if spec is None:
        spec = "linear"
    if isinstance(spec, Activation):  # checked like any other spec
        spec, beta = spec.name, spec.beta
    elif isinstance(spec, dict):
        spec, beta = spec.get("name"), spec.get("beta")
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        spec, beta = spec
    if not isinstance(spec, str):
        raise ValueError(f"{where}: expected a name ({', '.join(_ACT_CODES)}) or (name, beta), "
                         f"got {spec!r}")
    name = spec.lower()
    if name in _ACT_ALIASES:
        name, default_beta = _ACT_ALIASES[name]
        beta = default_beta if beta is None else beta * default_beta  # sigmoid(βx)
    if name not in _ACT_CODES:
        raise ValueError(f"{where}: {spec!r} is not one of {', '.join(_ACT_CODES)} "
                         f"(or sigmoid, identity)")
    beta = 1.0 if beta is None else beta
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real) \
            or not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"{where}: β of {name} must be a finite number > 0, got {beta!r}")
    return Activation(name, float(beta))


def is_activation_list(spec):
    """True for a per-layer list like ['tanh', ('relu', 1)], False for one activation, including
    the JSON form of a (name, beta) pair: ['tanh', 0.5]."""
    if not isinstance(spec, list):
        return False
    pair = len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], numbers.Real) \
        and not isinstance(spec[1], (bool, np.bool_))
    return not pair


def parse_loss(loss):
    key = loss.lower() if isinstance(loss, str) else loss
    if key not in LOSSES:
        raise ValueError(f"loss: expected 'mse' or 'bce' (binary cross-entropy), got {loss!r}")
    return "mse" if LOSSES[key] == _core.MSE else "bce"


def parse_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected float32 or float64, got {dt}")
    return dt


def all_cores():
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def parse_threads(threads):
    """Threads for the large matrix products: an integer >= 1, or None / 'auto' for every core.

    Models default to 1: the course's networks are too small to gain from a second thread, and
    on a busy machine a thread that waits for a descheduled partner costs far more than it
    saves. Use 2 or more for MNIST-sized models on an otherwise idle machine."""
    if threads is None or threads == "auto":
        return all_cores()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1 \
            or threads > INT32_MAX:
        most = "" if isinstance(threads, (int, np.integer)) and threads < 1 else f" (at most {INT32_MAX})"
        raise ValueError(f"threads: expected an integer >= 1, 'auto' or None{most}, got {threads!r}")
    return int(threads)


def check_sizes(sizes, where="layers"):
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"{where}: expected a list of layer widths like [35, 10, 2, 10, 35], got {sizes!r}")
    out = []
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{where}[{i}]: expected an integer width, got {s!r}")
        if s < 1:
            raise ValueError(f"{where}[{i}]: expected a width >= 1, got {s}")
        if s > INT64_MAX:
            raise ValueError(f"{where}[{i}]: expected a width <= 2**63 - 1, got {s}")
        out.append(int(s))
    return out


def format_summary(title, rows, total):
    """A Keras-style table: ``title``, then one line per (layer, units, activation, params)."""
    width = max(20, max(len(r[0]) for r in rows) + 2)
    rule = "-" * (width + 33)
    lines = [title, f"{'Layer':<{width}}{'Units':>7}  {'Activation':<16}{'Params':>8}", rule]
    lines += [f"{r[0]:<{width}}{r[1]:>7}  {r[2]:<16}{r[3]:>8,}" for r in rows]
    return "\n".join(lines + [rule, f"Total params: {total:,}"])


class DenseStack:
    """Layers l = 1..L, each ``a_l = f_l(a_{l−1} W_lᵀ + b_l)`` with W_l of shape (n_l, n_{l−1}).

    All weights and biases live in ``params``, one flat vector (W1, b1, W2, b2, ...);
    ``grads`` mirrors it. ``weights`` gives (W, b) views into ``params``.
    """

    def __init__(self, sizes, activations, dtype):
        self.sizes = np.array(sizes, dtype=np.int64)
        self.activations = list(activations)
        self.act = np.array([a.code for a in self.activations], dtype=np.int32)
        self.beta = np.array([a.beta for a in self.activations], dtype=np.float64)
        n = sum(int(o) * (int(i) + 1) for i, o in zip(sizes[:-1], sizes[1:]))
        try:
            self.params = np.zeros(n, dtype=dtype)
            self.grads = np.zeros(n, dtype=dtype)
        except (MemoryError, ValueError) as exc:
            raise MemoryError(f"layers {list(sizes)}: {n} parameters do not fit in memory") from exc

    @property
    def L(self):
        return len(self.activations)

    @property
    def weights(self):
        """[(W1, b1), (W2, b2), ...]: views into ``params``; W_l is (n_l, n_{l−1})."""
        out, off = [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            W = self.params[off:off + n_out * n_in].reshape(n_out, n_in)
            b = self.params[off + n_out * n_in:off + n_out * (n_in + 1)]
            out.append((W, b))
            off += n_out * (n_in + 1)
        return out

    def init(self, rng):
        """Glorot/Xavier uniform for linear, logistic and tanh layers, He uniform for relu; b = 0."""
        for (W, b), act in zip(self.weights, self.activations):
            n_out, n_in = W.shape
            limit = np.sqrt(6.0 / n_in) if act.name == "relu" else np.sqrt(6.0 / (n_in + n_out))
            W[...] = rng.uniform(-limit, limit, size=W.shape)
            b[...] = 0

    def forward(self, X, l0, l1, threads=1, name="X"):
        """Layers l0+1..l1 applied to X (n, n_l0): returns (n, n_l1)."""
        X = as_matrix(X, name, self.params.dtype, width=int(self.sizes[l0]),
                      width_what=f"the width of layer {l0}" if l0 else "the model's input width")
        out = np.empty((X.shape[0], int(self.sizes[l1])), dtype=self.params.dtype)
        _core.predict(self.sizes, self.act, self.beta, self.params, out, X, l0, l1, threads)
        return out

    def loss(self, X, Y, loss, threads=1, grad=False):
        """The loss of X -> Y (summed over features, mean over rows); with ``grad``, ``grads`` holds
        its gradient afterwards."""
        if grad:
            self.grads[...] = 0
        return _core.loss_grad(self.sizes, self.act, self.beta, self.params,
                               self.grads if grad else None, X, Y, LOSSES[loss], threads)
