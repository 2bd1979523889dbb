"""The noise models of sia_autoencoder.noise: rates, moments, clipping, seeding, dtype and shape."""
import numpy as np
import pytest

from sia_autoencoder import noise

BINARY_KINDS = [noise.bit_flip, noise.salt_and_pepper]
ALL_KINDS = BINARY_KINDS + [noise.gaussian]


def binary(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) < 0.4).astype(np.float64)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 1.0])
def test_bit_flip_rate_is_p(p):
    X = binary((400, 35))
    Y = noise.bit_flip(X, p, 1)
    rate = (Y != X).mean()
    # 14,000 pixels: the binomial standard deviation is at most 0.0043.
    assert abs(rate - p) < 0.02
    assert set(np.unique(Y)) <= {0.0, 1.0}


@pytest.mark.parametrize("p", [0.1, 0.4, 1.0])
def test_salt_and_pepper_replaces_with_fair_bits(p):
    X = binary((400, 35))
    Y = noise.salt_and_pepper(X, p, 2)
    assert abs((Y != X).mean() - p / 2) < 0.02          # a replaced pixel keeps its value half the time
    zeros = np.zeros((400, 35))
    assert abs(noise.salt_and_pepper(zeros, p, 3).mean() - p / 2) < 0.02   # salt and pepper alike
    assert abs(noise.salt_and_pepper(zeros + 1, p, 3).mean() - (1 - p / 2)) < 0.02


def test_salt_and_pepper_on_grey_pixels():
    X = np.full((300, 35), 0.5)
    Y = noise.salt_and_pepper(X, 0.2, 4)
    changed = Y != 0.5
    assert abs(changed.mean() - 0.2) < 0.02
    assert set(np.unique(Y[changed])) == {0.0, 1.0}


def test_gaussian_mean_and_sigma_before_clipping():
    X = np.full((500, 40), 0.5)
    sigma = 0.1   # 0.5 ± 5σ: the clip almost never acts
    Y = noise.gaussian(X, sigma, 5)
    d = Y - X
    assert abs(d.mean()) < 0.002
    assert abs(d.std() - sigma) < 0.003


def test_gaussian_clips_to_unit_interval_with_mass_at_the_ends():
    X = binary((300, 35))
    sigma = 0.5
    Y = noise.gaussian(X, sigma, 6)
    assert Y.min() == 0.0 and Y.max() == 1.0
    # A 0 pixel stays at exactly 0 when its noise is <= 0: half the time.
    assert abs((Y[X == 0] == 0).mean() - 0.5) < 0.03
    assert abs((Y[X == 1] == 1).mean() - 0.5) < 0.03
    inside = (Y > 0) & (Y < 1)
    assert inside.mean() > 0.3


def test_gaussian_zero_sigma_is_identity():
    X = binary((10, 35))
    assert np.array_equal(noise.gaussian(X, 0.0, 0), X)


@pytest.mark.parametrize("fn", ALL_KINDS)
def test_same_seed_same_draw_and_generators_advance(fn):
    X = binary((20, 35))
    a, b = fn(X, 0.3, 7), fn(X, 0.3, 7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, fn(X, 0.3, 8))
    g = np.random.default_rng(7)
    first, second = fn(X, 0.3, g), fn(X, 0.3, g)
    assert np.array_equal(first, a)           # an int seed is default_rng(seed)
    assert not np.array_equal(first, second)  # a Generator moves on


@pytest.mark.parametrize("fn", ALL_KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(35,), (4, 35), (2, 7, 5)])
def test_dtype_and_shape_preserved_and_input_untouched(fn, dtype, shape):
    X = binary(shape).astype(dtype)
    before = X.copy()
    Y = fn(X, 0.3, 0)
    assert Y.dtype == dtype and Y.shape == shape
    assert np.array_equal(X, before)


@pytest.mark.parametrize("fn", BINARY_KINDS)
def test_binary_kinds_keep_integer_and_bool_dtypes(fn):
    X = binary((5, 35)).astype(np.uint8)
    assert fn(X, 0.5, 0).dtype == np.uint8
    B = X.astype(bool)
    Y = fn(B, 0.5, 0)
    assert Y.dtype == bool and (Y != B).any()


def test_apply_by_name_matches_the_function():
    X = binary((5, 35))
    assert np.array_equal(noise.apply(X, "salt-and-pepper", 0.2, 3), noise.salt_and_pepper(X, 0.2, 3))
    with pytest.raises(ValueError, match="noise: expected one of"):
        noise.apply(X, "speckle", 0.2, 3)


def test_errors_name_the_argument():
    X = binary((5, 35))
    with pytest.raises(ValueError, match=r"p: expected a number in \[0.0, 1.0\], got 1.5"):
        noise.bit_flip(X, 1.5, 0)
    with pytest.raises(ValueError, match="sigma: expected a number in"):
        noise.gaussian(X, -0.1, 0)
    with pytest.raises(TypeError, match="rng: expected a numpy Generator or an integer seed"):
        noise.bit_flip(X, 0.1, "seed")
    with pytest.raises(TypeError, match="X: expected an array of real numbers"):
        noise.bit_flip(np.array(["a"]), 0.1, 0)
