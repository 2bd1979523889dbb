"""Layers: a network is a list of them, run by one C engine over one flat parameter vector.

    from sia_autoencoder import Autoencoder, layers as L
    ae = Autoencoder(encoder=[L.Flatten(), L.Dense(64, "relu"), L.Dense(2)],
                     decoder=[L.Dense(64, "relu"), L.Dense(784, "sigmoid"), L.Reshape((28, 28, 1))],
                     input_shape=(28, 28, 1), seed=0)

Names and arguments follow Keras. Shapes are per sample and channels last: ``(n,)`` for a flat
layer, ``(h, w, c)`` for images. Each layer's ``build(input_shape)`` returns its output shape
and raises ValueError naming the layer (its position and kind) and the shapes; the model calls
it once, at construction.

A new kind of layer is a subclass of :class:`Layer` (its ``kind`` code, ``build``, and for
layers with weights ``n_params``, ``init`` and the PyTorch conversions) plus its C file and its
line in the engine's table (``csrc/net.c``): nothing else changes.
"""
import math

import numpy as np

from . import _core, regularizers
from ._net import parse_activation

__all__ = ["Layer", "Dense", "DenseTranspose", "Flatten", "Reshape", "Dropout", "GaussianNoise",
           "Sample"]

_LINEAR = parse_activation("linear")


def _shape(shape, name):
    """A per-sample shape: a tuple of 1 to 3 positive ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        out = tuple(int(s) for s in shape)
        ok = all(not isinstance(s, bool) and int(s) == s for s in shape)
    except (TypeError, ValueError):
        ok = False
    if not ok or not 1 <= len(out) <= 3 or min(out) < 1:
        raise ValueError(f"{name}: expected a per-sample shape such as (784,) or (28, 28, 1), "
                         f"got {shape!r}")
    return out


def hwc(shape):
    """The (h, w, c) of a per-sample shape as the C records hold it: (n,) -> (1, 1, n),
    (h, w) -> (h, w, 1)."""
    if len(shape) == 1:
        return (1, 1, shape[0])
    if len(shape) == 2:
        return (shape[0], shape[1], 1)
    return tuple(shape)


class Layer:
    """The base of every layer.

    A subclass sets ``kind`` (a ``_core.LAYER_*`` code) and implements ``build``; one with
    weights also ``n_params``, ``init`` and ``torch_weights`` / ``set_torch_weights``. Record
    fields that are not flat shapes (kernels, strides, padding, rates) come from
    ``record_fields()``.
    """
    kind = None
    name = "layer"          # the Keras-style name in summaries and errors
    stochastic = False      # draws random numbers in training (Dropout, GaussianNoise, Sample)

    def __init__(self, activation=None, beta=1.0):
        act = _LINEAR if activation is None else parse_activation(
            (activation, beta) if isinstance(activation, str) and beta != 1.0 else activation,
            f"{type(self).__name__}: activation")
        self.activation = act
        self.input_shape = self.output_shape = None
        self.index = None   # the position in the network, set when it is built
        self.off = -1       # the offset of the layer's parameters in the flat vector

    # ---- shapes ----
    def where(self):
        """How errors name the layer: 'layer 3 (Conv2D)'."""
        pos = f"layer {self.index}" if self.index is not None else "a layer"
        return f"{pos} ({type(self).__name__})"

    def error(self, message):
        return ValueError(f"{self.where()}: {message}")

    def build(self, input_shape):
        """Check the input shape, set ``input_shape`` and ``output_shape``, return the latter."""
        raise NotImplementedError

    def _set(self, input_shape, output_shape):
        self.input_shape, self.output_shape = tuple(input_shape), tuple(output_shape)
        return self.output_shape

    # ---- parameters ----
    @property
    def n_params(self):
        return 0

    def init(self, rng, params):
        """Draw the initial weights into ``params`` (this layer's slice of the flat vector)."""

    def views(self, params):
        """This layer's arrays as views of its slice of ``params``, in the internal layout."""
        return []

    def torch_weights(self, params):
        """This layer's arrays in PyTorch's shapes (copies)."""
        return []

    def set_torch_weights(self, params, arrays):
        """Write ``arrays`` (PyTorch's shapes) into this layer's slice of ``params``."""
        if arrays:
            raise self.error(f"has no weights, got {len(arrays)} arrays")

    # ---- the C record (sia.h's sia_layer; column order in _net.py) ----
    def record_fields(self):
        """Kernel (kh, kw), strides (sh, sw), padding (pad_t, pad_l), tied offset, rate."""
        return dict(kernel=(1, 1), strides=(1, 1), pad=(0, 0), tied=-1, rate=0.0)

    def regularizer_fields(self):
        """(code, a, b) of an activity regularizer on the output (SIA_REG_*); none by default."""
        return (_core.REG_NONE, 0.0, 0.0)

    def describe(self):
        """What summary() prints in the activation column."""
        return "" if self.activation.name == "linear" else str(self.activation)

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__}.get_config")

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({cfg})"


def _flat_input(layer, input_shape):
    if len(input_shape) != 1:
        raise layer.error(f"expected a flat input (n,), got shape {tuple(input_shape)}; put a "
                          f"Flatten() before it")
    return input_shape[0]


def default_init(rng, W, activation):
    """Glorot uniform for linear, logistic and tanh layers, He uniform for relu (W (out, in))."""
    n_out, n_in = W.shape
    limit = np.sqrt(6.0 / n_in) if activation.name == "relu" else np.sqrt(6.0 / (n_in + n_out))
    W[...] = rng.uniform(-limit, limit, size=W.shape)


class Dense(Layer):
    """``a = f(x Wᵀ + b)``, W of shape (units, n_in) as PyTorch's ``nn.Linear``.

    Parameters
    ----------
    units : int
    activation : str, (name, beta) or None
        'linear' (None), 'logistic', 'tanh', 'relu', 'sigmoid', ...
    beta : float
        The activation's slope β (logistic(β) = 1/(1+exp(−2βx)), tanh(βx)).
    kernel_initializer : None or a Keras name (see :mod:`sia_autoencoder.initializers`)
        None: Glorot uniform, He uniform for relu.
    activity_regularizer : optional
        A penalty on the layer's output (see :mod:`sia_autoencoder.regularizers`).
    """
    kind = _core.LAYER_DENSE
    name = "dense"

    def __init__(self, units, activation=None, beta=1.0, kernel_initializer=None,
                 activity_regularizer=None):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be an integer >= 1, got {units!r}")
        super().__init__(activation, beta)
        self.units = int(units)
        self.kernel_initializer = kernel_initializer
        self.activity_regularizer = check_regularizer(activity_regularizer, self.activation,
                                                      "Dense: activity_regularizer")

    def build(self, input_shape):
        self.n_in = _flat_input(self, input_shape)
        return self._set(input_shape, (self.units,))

    @property
    def n_params(self):
        return self.units * (self.n_in + 1)

    def views(self, params):
        W = params[:self.units * self.n_in].reshape(self.units, self.n_in)
        return [W, params[self.units * self.n_in:self.n_params]]

    def init(self, rng, params):
        W, b = self.views(params)
        if self.kernel_initializer is None:
            default_init(rng, W, self.activation)
        else:
            from .initializers import get as get_initializer
            W[...] = get_initializer(self.kernel_initializer)(rng, W.shape, self.n_in, self.units)
        b[...] = 0

    def torch_weights(self, params):
        return [a.copy() for a in self.views(params)]

    def set_torch_weights(self, params, arrays):
        _copy_into(self, self.views(params), arrays)

    def regularizer_fields(self):
        if self.activity_regularizer is None:
            return super().regularizer_fields()
        return self.activity_regularizer.record_fields()

    def get_config(self):
        cfg = {"units": self.units, "activation": [self.activation.name, self.activation.beta]}
        if self.kernel_initializer is not None:
            cfg["kernel_initializer"] = self.kernel_initializer
        if self.activity_regularizer is not None:
            cfg["activity_regularizer"] = regularizers.to_config(self.activity_regularizer)
        return cfg


def check_regularizer(spec, activation, where):
    """The regularizer of ``spec`` (see :func:`regularizers.get`) for a layer with this
    activation: KLSparsity needs outputs in (0, 1), i.e. a logistic (or sigmoid) layer."""
    reg = regularizers.get(spec)
    if isinstance(reg, regularizers.KLSparsity) and activation.name != "logistic":
        raise ValueError(f"{where}: KLSparsity needs outputs in (0, 1) (a logistic or sigmoid "
                         f"layer), this layer's activation is {activation}; use L1 or L2 for "
                         f"other outputs")
    return reg


class DenseTranspose(Layer):
    """A dense layer whose W is another Dense layer's, transposed (tied weights); its own bias.

    ``DenseTranspose(of)``: ``of`` is the Dense layer of this network whose map it inverts; it
    maps that layer's ``units`` back to its inputs.
    """
    kind = _core.LAYER_DENSE_T
    name = "dense_transpose"

    def __init__(self, of, activation=None, beta=1.0):
        if isinstance(of, (int, np.integer)) and not isinstance(of, bool):
            self._of_index = int(of)   # from a model file: resolved by resolve_tied()
        elif not isinstance(of, Dense):
            raise ValueError(f"DenseTranspose: expected the Dense layer whose weights it shares, got {of!r}")
        super().__init__(activation, beta)
        self.of = of if isinstance(of, Dense) else None

    def build(self, input_shape):
        n = _flat_input(self, input_shape)
        if self.of is None:
            raise self.error("the Dense layer it shares is unknown (an index from a model file "
                             "that resolve_tied() did not resolve)")
        if self.of.index is None or self.of.output_shape is None:
            raise self.error("the Dense layer it shares its weights with must come before it "
                             "in the same network")
        if n != self.of.units:
            raise self.error(f"expected {self.of.units} inputs (the units of the Dense layer it "
                             f"shares, layer {self.of.index}), got {n}")
        self.units = self.of.n_in
        return self._set(input_shape, (self.units,))

    @property
    def n_params(self):
        return self.units

    def views(self, params):
        return [params[:self.units]]

    def init(self, rng, params):
        params[:self.units] = 0

    def record_fields(self):
        return {**super().record_fields(), "tied": self.of.off}

    def torch_weights(self, params):
        return [params[:self.units].copy()]

    def set_torch_weights(self, params, arrays):
        _copy_into(self, self.views(params), arrays)

    def get_config(self):
        return {"of": self.of.index,
                "activation": [self.activation.name, self.activation.beta]}


class Flatten(Layer):
    """(h, w, c) -> (h·w·c,), in that (channels-last) order. Free: the buffer is the same."""
    kind = _core.LAYER_RESHAPE
    name = "flatten"

    def __init__(self):
        super().__init__()

    def build(self, input_shape):
        return self._set(input_shape, (int(np.prod(input_shape)),))

    def get_config(self):
        return {}


class Reshape(Layer):
    """Any shape of the same size, e.g. ``Reshape((7, 7, 32))``; one entry may be -1."""
    kind = _core.LAYER_RESHAPE
    name = "reshape"

    def __init__(self, target_shape):
        super().__init__()
        shape = tuple(target_shape) if hasattr(target_shape, "__len__") else (target_shape,)
        if shape.count(-1) > 1 or not 1 <= len(shape) <= 3 or any(
                isinstance(s, bool) or not isinstance(s, (int, np.integer)) or (s < 1 and s != -1)
                for s in shape):
            raise ValueError(f"Reshape: expected a target shape of 1 to 3 positive sizes (one may "
                             f"be -1), got {target_shape!r}")
        self.target_shape = tuple(int(s) for s in shape)

    def build(self, input_shape):
        n = int(np.prod(input_shape))
        shape = self.target_shape
        if -1 in shape:
            known = -int(np.prod(shape))
            if n % known:
                raise self.error(f"cannot reshape {tuple(input_shape)} ({n} values) to {shape}")
            shape = tuple(n // known if s == -1 else s for s in shape)
        if int(np.prod(shape)) != n:
            raise self.error(f"cannot reshape {tuple(input_shape)} ({n} values) to {shape} "
                             f"({int(np.prod(shape))} values)")
        return self._set(input_shape, shape)

    def get_config(self):
        return {"target_shape": self.target_shape}


class Dropout(Layer):
    """Sets each input to 0 with probability ``rate`` in training and scales the others by
    1/(1 − rate) (inverted dropout, as Keras); the identity in prediction and evaluation. Its
    random numbers are drawn from the model's seed."""
    kind = _core.LAYER_DROPOUT
    name = "dropout"
    stochastic = True

    def __init__(self, rate):
        super().__init__()
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def build(self, input_shape):
        return self._set(input_shape, input_shape)

    def record_fields(self):
        return {**super().record_fields(), "rate": self.rate}

    def describe(self):
        return f"rate {self.rate:g}"

    def get_config(self):
        return {"rate": self.rate}


class GaussianNoise(Layer):
    """Adds ``stddev`` · N(0, 1) to each input in training; the identity in prediction."""
    kind = _core.LAYER_GNOISE
    name = "gaussian_noise"
    stochastic = True

    def __init__(self, stddev):
        super().__init__()
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or \
                not math.isfinite(stddev) or stddev < 0:
            raise ValueError(f"GaussianNoise: stddev must be a finite number >= 0, got {stddev!r}")
        self.stddev = float(stddev)

    def build(self, input_shape):
        return self._set(input_shape, input_shape)

    def record_fields(self):
        return {**super().record_fields(), "rate": self.stddev}

    def describe(self):
        return f"σ {self.stddev:g}"

    def get_config(self):
        return {"stddev": self.stddev}


class Sample(Layer):
    """The VAE's sampling: [μ | logvar] (2k,) -> z = μ + exp(½ logvar) ε (k,) in training,
    z = μ outside it; the model adds β · KL(N(μ, σ²) ‖ N(0, I)) to its loss."""
    kind = _core.LAYER_SAMPLE
    name = "sample"
    stochastic = True

    def __init__(self):
        super().__init__()

    def build(self, input_shape):
        n = _flat_input(self, input_shape)
        if n % 2:
            raise self.error(f"expected an even width [mu | logvar], got {n}")
        return self._set(input_shape, (n // 2,))

    def describe(self):
        return "sampling"

    def get_config(self):
        return {}


def _copy_into(layer, views, arrays):
    arrays = list(arrays)
    if len(arrays) != len(views):
        raise ValueError(f"{layer.where()}: expected {len(views)} arrays, got {len(arrays)}")
    for k, (v, a) in enumerate(zip(views, arrays)):
        a = np.asarray(a)
        if a.shape != v.shape:
            raise ValueError(f"{layer.where()}: array {k}: expected shape {v.shape}, got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{layer.where()}: array {k}: expected finite values")
        v[...] = a



# ---- layers in model files: {"class": name, "config": {...}} ----
#: The layer classes that model files may name (the conv and pooling module adds its own with
#: register_layer); never a class read from a file.
LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, DenseTranspose, Flatten, Reshape, Dropout,
                                               GaussianNoise, Sample)}


def register_layer(cls):
    """Let model files name ``cls`` (rebuilt as ``cls(**config)``)."""
    LAYER_CLASSES[cls.__name__] = cls
    return cls


def to_config(layer):
    return {"class": type(layer).__name__, "config": layer.get_config()}


def from_config(spec, where="layer"):
    """A layer from :func:`to_config`'s dict, or the layer itself."""
    if isinstance(spec, Layer):
        return spec
    if not isinstance(spec, dict) or spec.get("class") not in LAYER_CLASSES:
        raise ValueError(f"{where}: expected a layer or {{'class': one of {sorted(LAYER_CLASSES)}, "
                         f"'config': {{...}}}}, got {spec!r}")
    cfg = dict(spec.get("config") or {})
    return LAYER_CLASSES[spec["class"]](**cfg)


def resolve_tied(layers):
    """Point the DenseTranspose layers read from a file (``of`` an index) at their Dense layer."""
    for layer in layers:
        k = getattr(layer, "_of_index", None)
        if isinstance(layer, DenseTranspose) and layer.of is None and k is not None:
            if not 0 <= k < len(layers) or not isinstance(layers[k], Dense):
                raise ValueError(f"DenseTranspose: of={k} is not the index of a Dense layer")
            layer.of = layers[k]
    return layers
