"""The denoising autoencoder, the optimal (maximum-likelihood) decoder and the noise study."""
import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from sia_autoencoder import Autoencoder, datasets, noise, plots  # noqa: E402
from sia_autoencoder.denoising import (DenoisingAutoencoder, NoiseStudy, log_likelihood,  # noqa: E402
                                       noise_study, optimal_decode)

X, LABELS = datasets.load_font()
KINDS = ["bit_flip", "salt_and_pepper", "gaussian"]


# ---- the optimal decoder ----

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("level", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("rng", [None, 0])
def test_optimal_decoder_recovers_every_character_from_noiseless_input(kind, level, rng):
    assert np.array_equal(optimal_decode(X, X, kind, level, rng), np.arange(len(X)))


@pytest.mark.parametrize("kind", ["bit_flip", "salt_and_pepper"])
@pytest.mark.parametrize("p", [0.05, 0.2, 0.4])
def test_binary_noise_ml_is_the_nearest_in_hamming_distance(kind, p):
    noisy = noise.apply(np.repeat(X, 10, axis=0), kind, p, 1)
    hamming = (noisy[:, None, :] != X[None]).sum(-1)
    unique = (hamming == hamming.min(1, keepdims=True)).sum(1) == 1
    assert unique.sum() > 100
    got = optimal_decode(noisy, X, kind, p)
    assert np.array_equal(got[unique], hamming.argmin(1)[unique])


def _log_phi(z):
    return math.log(0.5 * math.erfc(-z / math.sqrt(2)))


def test_gaussian_likelihood_handles_the_clipping_point_masses():
    sigma = 0.3
    rng = np.random.default_rng(2)
    C = np.vstack([X[:3], rng.random((2, 35))])          # binary and grey candidates
    Y = noise.gaussian(np.repeat(C, 2, axis=0), sigma, 3)
    assert (Y == 0).any() and (Y == 1).any()
    want = np.zeros((len(Y), len(C)))
    for i, y in enumerate(Y):                              # pixel by pixel, as the docstring reads
        for k, c in enumerate(C):
            for yj, xj in zip(y, c):
                if yj <= 0:
                    want[i, k] += _log_phi(-xj / sigma)
                elif yj >= 1:
                    want[i, k] += _log_phi((xj - 1) / sigma)
                else:
                    want[i, k] += (-(yj - xj) ** 2 / (2 * sigma ** 2)
                                   - math.log(sigma * math.sqrt(2 * math.pi)))
    np.testing.assert_allclose(log_likelihood(Y, C, "gaussian", sigma), want, rtol=1e-10, atol=1e-9)


def test_gaussian_ml_differs_from_nearest_in_squared_distance():
    # A pixel clipped to 0 over ink: squared distance says "1 away", the likelihood says
    # Φ(-1/σ), far less likely than a grey pixel at 0.4 would be.
    a, b = np.zeros(2), np.array([1.0, 0.0])
    chars = np.vstack([a, b])
    y = np.array([[0.0, 0.0]])
    assert optimal_decode(y, chars, "gaussian", 0.2)[0] == 0
    ll = log_likelihood(y, chars, "gaussian", 0.2)
    assert ll[0, 0] - ll[0, 1] == pytest.approx(math.log(0.5) - _log_phi(-1 / 0.2))


def test_far_gaussian_tail_is_finite():
    ll = log_likelihood(np.array([[0.0]]), np.array([[1.0]]), "gaussian", 0.01)   # Φ(-100)
    assert np.isfinite(ll).all() and ll[0, 0] < -4000


def test_ties_go_to_the_lowest_index_or_at_random_with_the_rng():
    chars = np.array([[0.0, 0.0], [1.0, 1.0]])
    y = np.repeat([[1.0, 0.0]], 400, axis=0)              # one pixel from each
    assert (optimal_decode(y, chars, "bit_flip", 0.1) == 0).all()
    picks = optimal_decode(y, chars, "bit_flip", 0.1, rng=5)
    assert 150 < picks.sum() < 250
    assert np.array_equal(picks, optimal_decode(y, chars, "bit_flip", 0.1, rng=5))


def test_log_likelihood_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="noisy, chars: expected 2-D arrays"):
        log_likelihood(np.zeros((2, 34)), X, "bit_flip", 0.1)


# ---- the denoising autoencoder ----

def test_denoising_beats_plain_at_p_0_1():
    """The learning test: same architecture and budget, only the training noise differs."""
    layers = [35, 128, 35]
    kwargs = dict(activation="relu", latent_activation="relu", learning_rate=3e-3, threads=1)
    dae = DenoisingAutoencoder(layers, noise="bit_flip", noise_level=0.1, seed=0, **kwargs)
    plain = Autoencoder(layers, seed=0, **kwargs)
    dae.fit(X, epochs=400, batch_size=32, repeat=4)
    plain.fit(X, epochs=400, batch_size=32)
    noisy = noise.bit_flip(np.repeat(X, 20, axis=0), 0.1, 11)
    clean = np.repeat(X, 20, axis=0)

    def recovered(out):
        return (((out >= 0.5) != clean).sum(1) <= 1).mean()

    r_dae, r_plain = recovered(dae.denoise(noisy)), recovered(plain.reconstruct(noisy))
    assert plain.pixel_errors(X).max() == 0        # the plain model did learn the clean data
    assert r_dae > 0.85 and r_dae > r_plain + 0.2, (r_dae, r_plain)   # ~0.92 against ~0.55


def test_a_mix_of_levels_is_cycled_epoch_by_epoch():
    def model():
        return DenoisingAutoencoder([35, 16, 35], noise="salt_and_pepper", noise_level=0.1,
                                    seed=3, threads=1)
    a, b = model(), model()
    a.fit(X, epochs=3, noise_level=[0.1, 0.4])
    for level in (0.1, 0.4, 0.1):
        b.fit(X, epochs=1, noise_level=level)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.epochs_trained_ == 3


def test_fresh_noise_differs_from_a_fixed_noisy_copy():
    a = DenoisingAutoencoder([35, 16, 35], noise="bit_flip", noise_level=0.2, seed=4, threads=1)
    b = DenoisingAutoencoder([35, 16, 35], noise="bit_flip", noise_level=0.2, seed=4, threads=1)
    h = a.fit(X, epochs=20, batch_size=None, shuffle=False)
    b.fit(X, epochs=20, batch_size=None, shuffle=False, noise_level=0.0)
    assert not np.array_equal(a.params, b.params)
    losses = np.array(h.history["loss"])
    assert np.isfinite(losses).all() and len(losses) == 20


def test_lr_decay_is_geometric_and_leaves_the_optimizer_alone():
    def model():
        return DenoisingAutoencoder([35, 16, 35], noise="bit_flip", noise_level=0.1, seed=5,
                                    threads=1, learning_rate=0.01)
    a, b = model(), model()
    a.fit(X, epochs=2, lr_decay=0.25)
    assert a.optimizer.learning_rate == 0.01
    b.fit(X, epochs=1)
    b.optimizer.learning_rate = 0.0025
    b.fit(X, epochs=1)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6, atol=1e-7)


def test_denoise_steps_apply_the_network_repeatedly():
    dae = DenoisingAutoencoder([35, 16, 35], seed=6, threads=1)
    once = dae.reconstruct(X[:4])
    np.testing.assert_allclose(dae.denoise(X[:4], 3), dae.reconstruct(dae.reconstruct(once)))
    np.testing.assert_allclose(dae.denoise(X[:4]), once)


def test_config_round_trip_and_errors():
    dae = DenoisingAutoencoder([35, 16, 35], noise="gaussian", noise_level=[0.1, 0.2], seed=1)
    config = dae.get_config()
    assert config["noise"] == "gaussian" and config["noise_level"] == [0.1, 0.2]
    assert DenoisingAutoencoder(**config).get_config() == config
    with pytest.raises(ValueError, match=r"noise_level: expected a number in \[0.0, 1.0\], got 1.5"):
        DenoisingAutoencoder([35, 16, 35], noise_level=1.5)
    with pytest.raises(ValueError, match="noise: expected one of bit_flip"):
        DenoisingAutoencoder([35, 16, 35], noise="speckle")
    with pytest.raises(ValueError, match="noise_level: expected a level or a non-empty list"):
        dae.fit(X, noise_level=[])
    with pytest.raises(ValueError, match="repeat: expected an integer in"):
        dae.fit(X, repeat=0)


# ---- the noise study ----

def tiny(seed):
    return DenoisingAutoencoder([35, 32, 35], activation="relu", latent_activation="relu",
                                seed=seed, threads=1, learning_rate=3e-3)


@pytest.fixture(scope="module")
def study():
    plain = dict(layers=[35, 32, 35], seed=0, threads=1, learning_rate=3e-3)
    return noise_study(X, tiny, noise_types=("bit_flip", "gaussian"), levels=(0.0, 0.2),
                       seeds=(0, 1), draws=4, epochs=30, plain=plain, plain_epochs=200,
                       denoise_steps=2)


def test_study_records_every_noise_level_and_method(study):
    assert isinstance(study, NoiseStudy)
    assert len(study.records) == 2 * 2 * 3
    for r in study.records:
        assert set(r) >= {"noise", "level", "method", "recovered", "recovered_std", "wrong_mean",
                          "wrong_std", "n", "seeds"}
        assert 0 <= r["recovered"] <= 1 and r["wrong_mean"] >= 0 and r["seeds"] == 2
        assert r["n"] == 4 * len(X)
    assert study.get("bit_flip", 0.0, "optimal")["recovered"] == 1.0
    assert study.get("bit_flip", 0.2, "optimal")["wrong_mean"] > 0
    levels, values, spread = study.curve("gaussian", "denoising")
    assert list(levels) == [0.0, 0.2] and values.shape == spread.shape == (2,)


def test_study_table_and_target(study):
    table = str(study)
    assert table.count("\n") == 2 + 4 - 1
    assert "bit_flip" in table and "gaussian" in table and "ratio" in table
    ok, worst, where = study.meets_target(0.0, 0.3)
    assert ok and worst == min(study.ratio(n, lv) for n in ("bit_flip", "gaussian")
                               for lv in (0.0, 0.2))
    assert where in [("bit_flip", 0.0), ("bit_flip", 0.2), ("gaussian", 0.0), ("gaussian", 0.2)]
    with pytest.raises(KeyError, match="no record"):
        study.get("salt_and_pepper", 0.2, "optimal")


def test_study_is_reproducible_and_scores_all_methods_on_the_same_draws():
    kw = dict(noise_types="salt_and_pepper", levels=(0.3,), seeds=(0,), draws=3, epochs=5,
              plain=None, denoise_steps=1)
    a, b = noise_study(X, tiny, **kw), noise_study(X, tiny, **kw)
    assert a.records == b.records
    # The optimal decoder's score is the one computed from the study's own draws.
    g = np.random.default_rng([0, 0, 0, 0])
    noisy = noise.apply(np.repeat(X, 3, axis=0), "salt_and_pepper", 0.3, g)
    idx = optimal_decode(noisy, X, "salt_and_pepper", 0.3, g)
    wrong = (X[idx] != np.repeat(X, 3, axis=0)).sum(1)
    assert a.get("salt_and_pepper", 0.3, "optimal")["recovered"] == (wrong <= 1).mean()


def test_plots_return_figures(study):
    dae = tiny(0)
    noisy = noise.bit_flip(X[:5], 0.2, 0)
    fig = plots.plot_denoising(dae, X[:5], noisy, labels=LABELS[:5], steps=2)
    assert len(fig.axes) == 15
    fig2 = plots.plot_noise_study(study)
    assert len(fig2.axes) == 2
    assert len(fig2.axes[0].lines) == 3
    matplotlib.pyplot.close("all")
    with pytest.raises(ValueError, match="noisy: expected the shape of X"):
        plots.plot_denoising(dae, X[:5], noisy[:4])
