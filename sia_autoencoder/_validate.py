"""Checks at the API boundary: every message names the argument, what was expected and what came."""
import math
import numbers
import os
import threading
import weakref

import numpy as np

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


def as_matrix(X, name, dtype, width=None, rows=None, width_what="the model's input width"):
    """``X`` as a C-contiguous (n, width) array of ``dtype``, or a precise TypeError/ValueError.

    Ints and bools are converted; object, complex, string and datetime dtypes are refused;
    NaN and inf are refused; non-contiguous, Fortran-order and read-only inputs are copied.
    """
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise TypeError(f"{name}: expected a 2-D array of numbers, got {type(X).__name__} ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real numbers (float, int or bool), got dtype {arr.dtype}")
    if arr.ndim != 2:
        want = f"(n_samples, {width})" if width is not None else "(n_samples, n_features)"
        hint = "; use X.reshape(1, -1) for one sample" if arr.ndim == 1 else ""
        raise ValueError(f"{name}: expected a 2-D array {want}, got shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: expected at least 1 sample, got 0 rows")
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name}: expected {rows} rows (one per sample of X), got {arr.shape[0]}")
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name}: expected {width} columns ({width_what}), got {arr.shape[1]}")
    out = np.ascontiguousarray(arr, dtype=dtype)
    if not out.flags.aligned:  # e.g. np.frombuffer(buf, offset=1): copied, as NumPy would
        out = out.copy()
    finite = np.isfinite(out)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        what = "NaN" if np.isnan(out[r, c]) else ("-inf" if out[r, c] < 0 else "inf")
        overflow = bool(np.isfinite(arr[r, c]))  # finite before the cast: too large for dtype
        extra = f" (overflow in the conversion to {np.dtype(dtype).name})" if overflow else ""
        raise ValueError(f"{name}: expected finite values, got {what} at row {r}, column {c}{extra}")
    return out


def as_int(value, name, low=None, high=None):
    """An int within [low, high], or a precise error (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        # A bound at the C core's int64 range is shown only to a value beyond it.
        shown = high is not None and (high < INT64_MAX or value > high)
        rng = f"[{low if low is not None else '-inf'}, {high if shown else 'inf'}]"
        raise ValueError(f"{name}: expected an integer in {rng}, got {value}")
    return value


def as_float(value, name, low=None, high=None, low_open=False):
    """A finite float within its bounds, or a precise error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    value = float(value)
    bad_low = low is not None and (value <= low if low_open else value < low)
    if bad_low or (high is not None and value > high):
        lo = f"{'(' if low_open else '['}{low if low is not None else '-inf'}"
        raise ValueError(f"{name}: expected a number in {lo}, {high if high is not None else 'inf'}], got {value}")
    return value


def check_targets(T, name, loss):
    """BCE's targets must be probabilities: values in [0, 1] (T already checked finite)."""
    if loss != "bce" or T.size == 0:
        return
    lo, hi = float(T.min()), float(T.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{name}: binary cross-entropy needs targets in [0, 1], got values in "
                         f"[{lo:g}, {hi:g}]; rescale them or use loss='mse'")


def check_in_dtype(value, name, dtype, zero_ok=False):
    """A float hyperparameter that the model's dtype can hold: neither inf nor 0 (nor a
    subnormal) once cast, as the C core casts it."""
    if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        return value  # the range checks (and the C core) say what is wrong with it
    info = np.finfo(dtype)
    a = abs(float(value))
    if a > float(info.max) or (a < float(info.tiny) and not (zero_ok and a == 0)):
        raise ValueError(f"{name}: expected a magnitude in [{float(info.tiny):.4g}, "
                         f"{float(info.max):.4g}] that a {np.dtype(dtype).name} model can hold, "
                         f"got {value!r}")
    return value


def check_below_one(value, name, dtype):
    """A factor in [0, 1) that stays below 1 once cast to ``dtype`` (0.99999999 rounds to 1 in
    float32)."""
    if isinstance(value, numbers.Real) and value < 1 and float(np.asarray(value, dtype=dtype)) >= 1:
        raise ValueError(f"{name}: expected a number in [0, 1) that stays below 1 in "
                         f"{np.dtype(dtype).name}, got {value!r} (it rounds to 1)")


def check_optimizer(opt, dtype, where="optimizer"):
    """The optimizer's hyperparameters against the model's dtype (the C core computes in it)."""
    name = type(opt).__name__
    check_in_dtype(opt.learning_rate, f"{name}.learning_rate", dtype)
    if hasattr(opt, "eps"):
        check_in_dtype(opt.eps, f"{name}.eps", dtype)
    for key in ("momentum", "beta1", "beta2", "rho"):
        if hasattr(opt, key):
            check_below_one(getattr(opt, key), f"{name}.{key}", dtype)


def check_activations(activations, dtype):
    """Every β must be a finite nonzero number once cast to the model's dtype."""
    for i, act in enumerate(activations):
        if getattr(act, "beta", None) is not None:  # layers without an activation: None
            check_in_dtype(act.beta, f"activation: β of layer {i + 1} ({act.name})", dtype)


def _memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX
        return 1 << 40


def check_alloc(count, row_bytes, name, what="rows"):
    """MemoryError naming ``name`` at once when ``count`` rows of ``row_bytes`` cannot fit in
    this machine's memory (rather than NumPy's "Unable to allocate ..." later)."""
    need = int(count) * int(row_bytes)
    if need > _memory_bytes():
        raise MemoryError(f"{name}: {count} {what} need {need / 2**30:.4g} GiB, more than this "
                          f"machine's memory ({_memory_bytes() / 2**30:.4g} GiB)")


def as_range(value, name, dtype=np.float64):
    """``low``/``high`` of a latent grid: one finite number, or a pair of them (one per axis),
    that the model's dtype can hold."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.dtype.kind not in "biuf" or arr.ndim > 1 or arr.size not in (1, 2) \
            or (arr.ndim == 1 and arr.size != 2) or not np.isfinite(arr.astype(float)).all() \
            or (np.abs(arr.astype(float)) > float(np.finfo(dtype).max)).any():
        raise ValueError(f"{name}: expected a finite number or a pair of them (one per axis) "
                         f"within the range of {np.dtype(dtype).name}, got {value!r}")
    return np.broadcast_to(arr.astype(float), 2)


# ---- one fit at a time per model ----
_FITTING: "weakref.WeakSet[object]" = weakref.WeakSet()
_FITTING_LOCK = threading.Lock()


class fitting:
    """``with fitting(model):`` around a fit: a second fit of the same model while one runs (from
    another thread, or from a callback) raises RuntimeError instead of mixing their epochs."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        with _FITTING_LOCK:
            if self.model in _FITTING:
                raise RuntimeError(f"fit: this {type(self.model).__name__} is already being "
                                   f"trained (by another thread, or a callback of its own fit); "
                                   f"a model trains one fit at a time")
            _FITTING.add(self.model)
        return self.model

    def __exit__(self, *exc):
        with _FITTING_LOCK:
            _FITTING.discard(self.model)
        return False


def check_rng_state(state, name="rng_state"):
    """A generator state of the C core: uint64 (4,), not all zeros (xoshiro256** yields only 0
    from there, forever). Returns a fresh C-contiguous copy."""
    arr = np.asarray(state)
    if arr.shape != (4,) or arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected 4 unsigned 64-bit integers, got "
                         f"{arr.dtype} {arr.shape}")
    if arr.dtype.kind == "i" and (arr < 0).any():
        raise ValueError(f"{name}: expected 4 unsigned 64-bit integers, got negative values")
    if not arr.any():
        raise ValueError(f"{name}: expected a generator state that is not all zeros "
                         f"(xoshiro256** yields only 0 from it), got [0, 0, 0, 0]")
    return np.array(arr, dtype=np.uint64, order="C")


def as_vector(v, name, dtype, width):
    """One sample (a vector of ``width``, or a (1, width) row) as a (1, width) matrix, checked as
    :func:`as_matrix` checks X."""
    try:
        v = np.asarray(v).reshape(1, -1)
    except (ValueError, TypeError):
        pass  # as_matrix says what is wrong with it
    return as_matrix(v, name, dtype, width=width)
