"""Checks at the API boundary: every message names the argument, what was expected and what came."""
import math
import numbers

import numpy as np


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
        rng = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
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
