"""Noise models for denoising, usable on their own: ``noise.bit_flip(X, 0.1, rng=0)``.

Each function returns a corrupted copy of X with the same shape and dtype, drawn from ``rng``
(a :class:`numpy.random.Generator` or an int seed), and never touches X itself.

    salt_and_pepper(X, p)   each pixel, with probability p, becomes 0 or 1 (a fair coin)
    bit_flip(X, p)          each pixel, with probability p, becomes 1 - x
    gaussian(X, σ)          x + σ N(0, 1), clipped to [0, 1]

These are the same models that ``Autoencoder.fit(noise=...)`` draws in C for each batch (with
the C core's own generator, so the draws differ, but not their distribution).
"""
import numbers
from typing import Any

import numpy as np
from ._typing import ArrayLike

from ._validate import as_float

__all__ = ["salt_and_pepper", "bit_flip", "gaussian", "apply", "NOISE_TYPES"]

NOISE_TYPES = ("bit_flip", "salt_and_pepper", "gaussian")


def as_generator(rng, name="rng"):
    """A numpy Generator from a Generator, an int seed >= 0, or a SeedSequence."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name}: expected a numpy Generator or an integer seed >= 0, got {rng!r}")


def _as_array(X):
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X: expected an array of real numbers, got dtype {X.dtype}")
    return X


def _float_like(X):
    """The dtype the noisy copy keeps: X's own for floats; float64 replaces ints and bools only
    where the noise makes non-integers (Gaussian)."""
    return X.dtype if X.dtype.kind == "f" else np.float64


def salt_and_pepper(X: ArrayLike, p: float, rng: Any) -> np.ndarray:
    """Each pixel, independently with probability p, is replaced by 0 or 1 with equal odds.

    A replaced pixel keeps its value half the time, so the fraction of *changed* binary pixels
    is p/2.

    Parameters
    ----------
    X : array of any shape; p : float in [0, 1]; rng : numpy Generator or int seed

    Returns
    -------
    array of X's shape and dtype.
    """
    X = _as_array(X)
    p = as_float(p, "p", 0.0, 1.0)
    g = as_generator(rng)
    hit = g.random(X.shape) < p
    coin = g.random(X.shape) < 0.5
    return np.where(hit, coin, X).astype(X.dtype, copy=False)


def bit_flip(X: ArrayLike, p: float, rng: Any) -> np.ndarray:
    """Each pixel, independently with probability p, becomes 1 - x (for binary X: flipped).

    Parameters
    ----------
    X : array of any shape; p : float in [0, 1]; rng : numpy Generator or int seed

    Returns
    -------
    array of X's shape and dtype (bools are negated).
    """
    X = _as_array(X)
    p = as_float(p, "p", 0.0, 1.0)
    g = as_generator(rng)
    hit = g.random(X.shape) < p
    flipped = ~X if X.dtype == bool else 1 - X
    return np.where(hit, flipped, X).astype(X.dtype, copy=False)


def gaussian(X: ArrayLike, sigma: float, rng: Any) -> np.ndarray:
    """x + σ·N(0, 1) per pixel, clipped to [0, 1] (so 0 and 1 are hit with positive probability).

    Parameters
    ----------
    X : array of any shape; sigma : float >= 0; rng : numpy Generator or int seed

    Returns
    -------
    array of X's shape, of X's dtype if it is a float dtype, else float64.
    """
    X = _as_array(X)
    sigma = as_float(sigma, "sigma", 0.0)
    g = as_generator(rng)
    dtype = _float_like(X)
    Y = X.astype(dtype) + (sigma * g.standard_normal(X.shape)).astype(dtype)
    return np.clip(Y, 0, 1, out=Y)


_FUNCTIONS = {"bit_flip": bit_flip, "salt_and_pepper": salt_and_pepper, "gaussian": gaussian}


def parse_noise(noise, name="noise"):
    """The canonical name of a noise type ('salt-and-pepper' and 'Bit_Flip' are accepted)."""
    key = noise.lower().replace("-", "_") if isinstance(noise, str) else noise
    if key not in _FUNCTIONS:
        raise ValueError(f"{name}: expected one of {', '.join(NOISE_TYPES)}, got {noise!r}")
    return key


def apply(X: ArrayLike, noise: str, level: float, rng: Any) -> np.ndarray:
    """``noise(X, level, rng)`` by name: 'bit_flip', 'salt_and_pepper' or 'gaussian'."""
    return _FUNCTIONS[parse_noise(noise)](X, level, rng)
