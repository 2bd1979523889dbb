"""Float64 finite-difference checks of the gradient the C core computes, for every hidden
activation × output activation × loss, with β ≠ 1."""
import itertools

import numpy as np
import pytest

import twins  # tests/twins.py
from sia_autoencoder import _core

# Every test once per vector path of the matrix product (conftest.simd_path).
pytestmark = pytest.mark.usefixtures("simd_path")

ACTS = [twins.LINEAR, twins.LOGISTIC, twins.TANH, twins.RELU, twins.ELU, twins.SELU]
SIZES = np.array([5, 4, 3, 4, 5], np.int64)


def _net(rng, hidden, output, loss):
    acts = np.array([hidden, hidden, hidden, output], np.int32)
    betas = np.array([0.7, 0.7, 0.7, 1.3])
    P = int(sum(o * (i + 1) for i, o in zip(SIZES[:-1], SIZES[1:])))
    params = rng.normal(scale=0.8, size=P)
    if loss % twins.MEAN == twins.BCE and output != twins.LOGISTIC:
        # Keep a non-logistic output inside (0, 1), where BCE is defined without its clamp.
        W, b = twins.unflatten(params, SIZES)[-1]
        W *= 0.1
        b[...] = 0.5
    return acts, betas, params


def _loss(params, acts, betas, X, Y, loss):
    return _core.loss_grad(SIZES, acts, betas, params, None, X, Y, loss)


@pytest.mark.parametrize("hidden,output,loss",
                         list(itertools.product(ACTS, ACTS, twins.LOSS_CODES)))
def test_gradient_matches_finite_differences(hidden, output, loss):
    rng = np.random.default_rng(hidden * 100 + output * 10 + loss)
    acts, betas, params = _net(rng, hidden, output, loss)
    X = rng.uniform(size=(6, 5))
    Y = (rng.uniform(size=(6, 5)) > 0.5).astype(float)
    grads = np.zeros_like(params)
    value = _core.loss_grad(SIZES, acts, betas, params, grads, X, Y, loss)
    assert np.isclose(value, _loss(params, acts, betas, X, Y, loss), rtol=1e-14)
    h = 1e-6
    fd = np.empty_like(params)
    for i in range(params.size):
        p = params.copy()
        p[i] += h
        up = _loss(p, acts, betas, X, Y, loss)
        p[i] -= 2 * h
        fd[i] = (up - _loss(p, acts, betas, X, Y, loss)) / (2 * h)
    err = np.linalg.norm(fd - grads) / max(np.linalg.norm(fd), 1e-8)
    assert err < 1e-6, f"relative gradient error {err:.2e}"
    assert np.linalg.norm(grads) > 0  # a zero gradient would pass any check


@pytest.mark.parametrize("seed", range(3))
def test_random_direction_on_the_letters_network(seed):
    """The directional derivative along a random direction equals g·d (kann's cheap check),
    on the full course architecture."""
    rng = np.random.default_rng(seed)
    sizes = np.array([35, 25, 15, 10, 2, 10, 15, 25, 35], np.int64)
    acts = np.array([twins.TANH] * 3 + [twins.LINEAR] + [twins.TANH] * 3 + [twins.LOGISTIC], np.int32)
    betas = np.full(8, 0.9)
    P = int(sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:])))
    params = rng.normal(scale=0.3, size=P)
    X = (rng.uniform(size=(32, 35)) > 0.5).astype(float)
    d = rng.normal(size=P)
    for loss in twins.LOSS_CODES:
        grads = np.zeros(P)
        _core.loss_grad(sizes, acts, betas, params, grads, X, X, loss)
        h = 1e-6
        up = _core.loss_grad(sizes, acts, betas, params + h * d, None, X, X, loss)
        down = _core.loss_grad(sizes, acts, betas, params - h * d, None, X, X, loss)
        np.testing.assert_allclose((up - down) / (2 * h), grads @ d, rtol=1e-6)
