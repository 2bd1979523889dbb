"""Weight initialisers with Keras's names: functions ``(rng, shape, fan_in, fan_out) -> array``.

``rng`` is a NumPy Generator (the model's seeded one), ``shape`` the weight's shape (for a dense
layer (n_out, n_in)), ``fan_in``/``fan_out`` its input and output connections per unit. Biases
start at 0.

=================  ==========================================  ========================
name               draw                                        Keras / PyTorch
=================  ==========================================  ========================
glorot_uniform     U(−a, a), a = √(6 / (fan_in + fan_out))     Keras's default
glorot_normal      N(0, 2 / (fan_in + fan_out)), truncated     ``xavier_normal_`` (not truncated)
he_uniform         U(−a, a), a = √(6 / fan_in)                 ``kaiming_uniform_``
he_normal          N(0, 2 / fan_in), truncated                 ``kaiming_normal_`` (not truncated)
lecun_uniform      U(−a, a), a = √(3 / fan_in)
lecun_normal       N(0, 1 / fan_in), truncated                 for selu
=================  ==========================================  ========================

"Truncated" is Keras's: a normal cut at two standard deviations and rescaled (by
1/0.8796…) so that the variance stays the one in the table.

The models' default (``kernel_initializer=None``) is ``glorot_uniform`` for linear, logistic
and tanh layers and ``he_uniform`` for relu layers.
"""
import numpy as np

__all__ = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
           "lecun_normal", "get", "default_for", "INITIALIZERS"]

# The standard deviation of a standard normal truncated to [-2, 2] (as Keras's VarianceScaling).
_TRUNCATED_STD = 0.87962566103423978


def _uniform(rng, shape, scale, fan):
    limit = np.sqrt(3.0 * scale / fan)
    return rng.uniform(-limit, limit, size=shape)


def _truncated_normal(rng, shape, scale, fan):
    """N(0, scale / fan) cut at two standard deviations, redrawn outside; variance kept."""
    std = np.sqrt(scale / fan) / _TRUNCATED_STD
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * std


def glorot_uniform(rng, shape, fan_in, fan_out):
    """U(−a, a) with a = √(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    return _uniform(rng, shape, 2.0, fan_in + fan_out)


def glorot_normal(rng, shape, fan_in, fan_out):
    """Truncated N(0, 2 / (fan_in + fan_out))."""
    return _truncated_normal(rng, shape, 2.0, fan_in + fan_out)


def he_uniform(rng, shape, fan_in, fan_out):
    """U(−a, a) with a = √(6 / fan_in) (He et al., 2015), for relu."""
    return _uniform(rng, shape, 2.0, fan_in)


def he_normal(rng, shape, fan_in, fan_out):
    """Truncated N(0, 2 / fan_in), for relu."""
    return _truncated_normal(rng, shape, 2.0, fan_in)


def lecun_uniform(rng, shape, fan_in, fan_out):
    """U(−a, a) with a = √(3 / fan_in)."""
    return _uniform(rng, shape, 1.0, fan_in)


def lecun_normal(rng, shape, fan_in, fan_out):
    """Truncated N(0, 1 / fan_in), for selu."""
    return _truncated_normal(rng, shape, 1.0, fan_in)


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal,
                                        lecun_uniform, lecun_normal)}
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
            "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal"}


def default_for(activation):
    """The default of a layer with this activation name: he_uniform for relu, else glorot_uniform."""
    return he_uniform if activation == "relu" else glorot_uniform


def get(spec, where="kernel_initializer"):
    """An initialiser from a name (Keras's, or PyTorch's xavier_/kaiming_ ones), a callable
    ``(rng, shape, fan_in, fan_out)``, or None (the layer's default, see :func:`default_for`)."""
    if spec is None or callable(spec):
        return spec
    if isinstance(spec, str):
        key = spec.lower().rstrip("_")
        key = _ALIASES.get(key, key)
        if key in INITIALIZERS:
            return INITIALIZERS[key]
    raise ValueError(f"{where}: expected one of {', '.join(INITIALIZERS)}, a function "
                     f"(rng, shape, fan_in, fan_out) or None, got {spec!r}")


def parse(spec, n_layers, where="kernel_initializer"):
    """One initialiser (or None) per weight layer, from one spec or a list of ``n_layers``."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != n_layers:
            raise ValueError(f"{where}: a list needs one entry per weight layer ({n_layers}), "
                             f"got {len(spec)}")
        return [get(s, f"{where}[{i}]") for i, s in enumerate(spec)]
    return [get(spec, where)] * n_layers


def config(inits):
    """The JSON form of per-layer initialisers: None when all are the default, else their
    names (a function not in :data:`INITIALIZERS` is written as None, i.e. the default)."""
    if all(f is None for f in inits):
        return None
    names = [f.__name__ if f is not None and INITIALIZERS.get(f.__name__) is f else None
             for f in inits]
    return names[0] if len(set(names)) == 1 else names


def assign(layers, spec, where="kernel_initializer"):
    """Give the model's ``kernel_initializer`` to its layers with weights (those that have a
    ``kernel_initializer``): one spec for all, or a list with one per such layer; where the
    spec is None a layer keeps its own. Returns the per-layer initialisers (for ``config``)."""
    weighted = [layer for layer in layers if hasattr(layer, "kernel_initializer")]
    inits = parse(spec, len(weighted), where)
    for layer, init in zip(weighted, inits):
        if init is not None:
            layer.kernel_initializer = init.__name__ if INITIALIZERS.get(init.__name__) is init else init
    return inits
