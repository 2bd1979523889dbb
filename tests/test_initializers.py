"""kernel_initializer with Keras's names, for the model and per layer (issue 18)."""
import numpy as np
import pytest

from sia_autoencoder import VAE, Autoencoder, initializers


def old_init(sizes, acts, seed):
    """The draws of every model before kernel_initializer: Glorot uniform, He uniform for relu."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    out = []
    for n_in, n_out, act in zip(sizes[:-1], sizes[1:], acts):
        limit = np.sqrt(6.0 / n_in) if act == "relu" else np.sqrt(6.0 / (n_in + n_out))
        out.append(rng.uniform(-limit, limit, size=(n_out, n_in)))
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_default_keeps_todays_draws(dtype):
    sizes = [35, 20, 6, 20, 35]
    ae = Autoencoder(sizes, activation="relu", seed=7, dtype=dtype)
    want = old_init(sizes, ["relu", "linear", "relu", "logistic"], 7)
    for (W, b), Wo in zip(ae.weights, want):
        np.testing.assert_array_equal(W, Wo.astype(dtype))
        assert not b.any()
    named = Autoencoder(sizes, activation="relu", seed=7, dtype=dtype,
                        kernel_initializer=["he_uniform", "glorot_uniform", "he_uniform",
                                            "glorot_uniform"])
    np.testing.assert_array_equal(named.params, ae.params)


def test_vae_default_keeps_todays_draws():
    v = VAE([16, 10], 2, activation="relu", seed=3)
    want = old_init([16, 10, 4], ["relu", "linear"], 3)
    for (W, _), Wo in zip(v.enc.weights, want):
        np.testing.assert_array_equal(W, Wo.astype(np.float32))
    named = VAE([16, 10], 2, activation="relu", seed=3,
                kernel_initializer=["he_uniform", "glorot_uniform", "he_uniform", "glorot_uniform"])
    np.testing.assert_array_equal(named.params, v.params)


SPREAD = {  # name: (variance, bound of |w| or None)
    "glorot_uniform": (2 / (300 + 200), np.sqrt(6 / 500)),
    "he_uniform": (2 / 300, np.sqrt(6 / 300)),
    "lecun_uniform": (1 / 300, np.sqrt(3 / 300)),
    "glorot_normal": (2 / 500, 2 * np.sqrt(2 / 500) / 0.87962566103423978),
    "he_normal": (2 / 300, 2 * np.sqrt(2 / 300) / 0.87962566103423978),
    "lecun_normal": (1 / 300, 2 * np.sqrt(1 / 300) / 0.87962566103423978),
}


@pytest.mark.parametrize("name", list(SPREAD))
def test_each_initializer_has_keras_variance_and_bounds(name):
    var, bound = SPREAD[name]
    W = initializers.get(name)(np.random.default_rng(0), (200, 300), 300, 200)
    assert W.shape == (200, 300)
    assert W.var() == pytest.approx(var, rel=0.03)   # 60 000 draws: ~0.6% standard error
    assert abs(W.mean()) < 3 * np.sqrt(var / W.size)
    assert np.abs(W).max() <= bound
    if name.endswith("normal"):   # a truncated normal: no uniform's flat top
        assert np.mean(np.abs(W) < 0.5 * np.sqrt(var)) > 0.3


def test_model_and_per_layer_specs():
    ae = Autoencoder([30, 20, 4, 20, 30], activation="relu", seed=1, kernel_initializer="he_normal")
    assert ae.kernel_initializer == [initializers.he_normal] * 4
    assert ae.get_config()["kernel_initializer"] == "he_normal"
    twin = Autoencoder(**ae.get_config())
    np.testing.assert_array_equal(twin.params, ae.params)
    per = Autoencoder([30, 20, 4, 20, 30], seed=1,
                      kernel_initializer=["lecun_normal", None, "glorot_normal", "xavier_uniform"])
    assert per.get_config()["kernel_initializer"] == ["lecun_normal", None, "glorot_normal",
                                                      "glorot_uniform"]
    np.testing.assert_array_equal(Autoencoder(**per.get_config()).params, per.params)

    def ones(rng, shape, fan_in, fan_out):
        return np.full(shape, 1.0 / fan_in)
    custom = Autoencoder([6, 3, 6], seed=0, kernel_initializer=ones)
    assert np.all(custom.weights[0][0] == np.float32(1 / 6))
    assert np.all(custom.weights[1][0] == np.float32(1 / 3))
    v = VAE([16, 10], 2, seed=0, kernel_initializer="lecun_uniform")
    assert v.get_config()["kernel_initializer"] == "lecun_uniform"
    np.testing.assert_array_equal(VAE(**v.get_config()).params, v.params)


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match=r"kernel_initializer: expected one of glorot_uniform.*got 'ones'"):
        Autoencoder([6, 3, 6], kernel_initializer="ones")
    with pytest.raises(ValueError, match=r"kernel_initializer: a list needs one entry per weight "
                                         r"layer \(2\), got 3"):
        Autoencoder([6, 3, 6], kernel_initializer=["he_normal"] * 3)
    with pytest.raises(ValueError, match=r"kernel_initializer\[1\]: expected one of"):
        VAE([16, 10], 2, kernel_initializer=["he_normal", 3, None, None])
