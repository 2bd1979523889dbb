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
# Loss names (ours and Keras's) -> the C core's loss kind; loss_code adds the reduction.
LOSSES = {"mse": _core.MSE, "bce": _core.BCE, "mae": _core.MAE,
          "binary_crossentropy": _core.BCE, "binary_cross_entropy": _core.BCE,
          "mean_squared_error": _core.MSE, "mean_absolute_error": _core.MAE}
_CANONICAL = {_core.MSE: "mse", _core.BCE: "bce", _core.MAE: "mae"}
REDUCTIONS = ("sum", "mean")


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
    """'mse', 'bce' or 'mae', from ours or Keras's names ('binary_crossentropy',
    'mean_squared_error', 'mean_absolute_error')."""
    key = loss.lower() if isinstance(loss, str) else loss
    if key not in LOSSES:
        raise ValueError(f"loss: expected 'bce' (or 'binary_crossentropy'), 'mse' (or "
                         f"'mean_squared_error') or 'mae' (or 'mean_absolute_error'), got {loss!r}")
    return _CANONICAL[LOSSES[key]]


def parse_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"loss_reduction: expected 'sum' (over the features, the course's) or "
                         f"'mean' (over the features too, as Keras and PyTorch), got {reduction!r}")
    return reduction


def loss_code(loss, reduction="sum"):
    """The C core's code of a loss name and its reduction over the features."""
    return LOSSES[loss] + (_core.LOSS_MEAN if reduction == "mean" else 0)


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
    """A Keras-style table: ``title``, then one line per (layer, output shape, activation,
    params)."""
    width = max(20, max(len(r[0]) for r in rows) + 2)
    shape = max(14, max(len(str(r[1])) for r in rows) + 2)
    rule = "-" * (width + shape + 24)
    lines = [title, f"{'Layer':<{width}}{'Output shape':<{shape}}{'Activation':<16}{'Params':>8}", rule]
    lines += [f"{r[0]:<{width}}{str(r[1]):<{shape}}{r[2]:<16}{r[3]:>8,}" for r in rows]
    return "\n".join(lines + [rule, f"Total params: {total:,}"])


def build_layers(layers, input_shape):
    """Shape inference, once, at construction: each layer's ``build`` in order (errors name the
    layer by position and kind), then the offsets of their parameters in the flat vector.
    Returns the output shape."""
    shape = tuple(input_shape)
    for i, layer in enumerate(layers):
        if not hasattr(layer, "build") or not hasattr(layer, "kind"):
            raise TypeError(f"layer {i}: expected a layer of sia_autoencoder.layers, got {layer!r}")
        layer.index, layer.off = i, -1
        shape = layer.build(shape)
    off = 0
    for layer in layers:
        if layer.n_params:
            layer.off, off = off, off + layer.n_params
    return shape


class LayerNet:
    """A network: a list of layers (:mod:`sia_autoencoder.layers`) over one flat parameter vector.

    ``params`` holds every layer's W then b at the layer's offset (a Dense layer: W (out, in),
    b (out): W1, b1, W2, b2, ... for a stack, as before the layers existed); ``grads`` mirrors
    it. The C engine gets the layers as two arrays of records (csrc/sia.h's sia_layer):

        ints  (L, 20): kind, act, in_h, in_w, in_c, out_h, out_w, out_c, kh, kw, sh, sw,
                       pad_t, pad_l, off, n_params, tied, reg, 0, 0
        reals (L, 8):  beta, rate, reg_a, reg_b, 0, 0, 0, 0
    """

    def __init__(self, layers, input_shape, dtype):
        from .layers import hwc
        self.layers = list(layers)
        self.input_shape = tuple(input_shape)
        self.output_shape = build_layers(self.layers, self.input_shape)
        n = sum(layer.n_params for layer in self.layers)
        try:
            if n >= 2**62:
                raise MemoryError
            self.params = np.zeros(n, dtype=dtype)
            self.grads = np.zeros(n, dtype=dtype)
        except (MemoryError, ValueError) as exc:
            raise MemoryError(f"{n} parameters do not fit in memory") from exc
        self.ints = np.zeros((len(self.layers), _core.REC_INTS), dtype=np.int64)
        self.reals = np.zeros((len(self.layers), _core.REC_REALS), dtype=np.float64)
        for j, layer in enumerate(self.layers):
            f = layer.record_fields()
            reg, reg_a, reg_b = layer.regularizer_fields()
            self.ints[j, :18] = (layer.kind, layer.activation.code, *hwc(layer.input_shape),
                                 *hwc(layer.output_shape), *f["kernel"], *f["strides"], *f["pad"],
                                 layer.off, layer.n_params, f["tied"], reg)
            self.reals[j, :4] = (layer.activation.beta, f["rate"], reg_a, reg_b)
        self.noise_cols = sum(_n_noise(layer) for layer in self.layers)

    @property
    def L(self):
        return len(self.layers)

    def width(self, l):
        """Values per sample at position l: the input of layer l (l = L: the network's output)."""
        shape = self.output_shape if l == self.L else self.layers[l].input_shape
        return int(np.prod(shape))

    def layer_params(self, layer):
        return self.params[layer.off:layer.off + layer.n_params] if layer.n_params else self.params[:0]

    @property
    def weights(self):
        """[(W, b), ...] of the dense layers: views into ``params``; W is (n_out, n_in)."""
        return [tuple(layer.views(self.layer_params(layer))) for layer in self.layers
                if layer.kind == _core.LAYER_DENSE]

    def parameters(self):
        """Every layer's arrays in order, in the internal layout (views into ``params``)."""
        return [a for layer in self.layers for a in layer.views(self.layer_params(layer))]

    # the dense stack's description, for the sizes notation and its tests
    @property
    def sizes(self):
        return np.array([self.width(0)] + [self.width(l + 1) for l in range(self.L)], dtype=np.int64)

    @property
    def act(self):
        return self.ints[:, 1].astype(np.int32)

    @property
    def beta(self):
        return self.reals[:, 0].copy()

    @property
    def activations(self):
        return [layer.activation for layer in self.layers]

    def init(self, rng):
        """Every layer's initial weights, in order, from one generator."""
        for layer in self.layers:
            if layer.n_params:
                layer.init(rng, self.layer_params(layer))

    def forward(self, X, l0, l1, threads=1, name="X"):
        """Layers l0 .. l1-1 applied to X (n, width(l0)), deterministically: returns
        (n, width(l1))."""
        X = as_matrix(X, name, self.params.dtype, width=self.width(l0),
                      width_what=f"the width of layer {l0}'s input" if l0 else "the model's input width")
        out = np.empty((X.shape[0], self.width(l1)), dtype=self.params.dtype)
        _core.net_predict(self.ints, self.reals, self.params, out, X, l0, l1, threads)
        return out

    def loss_terms(self, X, Y, loss, threads=1, grad=False, noise=None, kl_weight=0.0):
        """(total, reconstruction, KL, penalties) of X -> Y (``loss`` a name, summed over
        features, or a code of :func:`loss_code`; mean over rows); ``noise`` the stochastic
        layers' numbers (None: the deterministic forward). With ``grad``, ``grads`` holds the
        total's gradient afterwards."""
        if grad:
            self.grads[...] = 0
        code = LOSSES[loss] if isinstance(loss, str) else int(loss)
        return _core.net_loss_grad(self.ints, self.reals, self.params, self.grads if grad else None,
                                   X, Y, noise, code, float(kl_weight), threads)

    def loss(self, X, Y, loss, threads=1, grad=False):
        """The loss of X -> Y; with ``grad``, ``grads`` holds its gradient afterwards."""
        return self.loss_terms(X, Y, loss, threads, grad)[0]

    def train(self, X, Y, opt, t, rng_state, records, kl_weights=None, **cfg):
        """One ``_core.net_train`` call; records: 1 to 4 float64 arrays (loss, reconstruction,
        KL, penalties). Returns (epochs done, status)."""
        recs = list(records) + [None] * (4 - len(records))
        return _core.net_train(self.ints, self.reals, self.params, self.grads, X, Y, opt.m, opt.v,
                               t, rng_state, *recs, kl_weights, **cfg)


def _n_noise(layer):
    if layer.kind in (_core.LAYER_DROPOUT, _core.LAYER_GNOISE):
        return int(np.prod(layer.input_shape))
    if layer.kind == _core.LAYER_SAMPLE:
        return int(np.prod(layer.output_shape))
    return 0


def dense_layers(sizes, activations):
    """The Dense layers of the sizes notation: widths sizes[0..L], one activation per layer."""
    from .layers import Dense
    return [Dense(n, activation=a) for n, a in zip(sizes[1:], activations)]
