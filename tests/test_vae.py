"""The VAE: its C kernels against NumPy twins and finite differences, one epoch against a plain
NumPy VAE, and the model's API (determinism, encode, sample, latent grid, state, pickling)."""
import gzip
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from sia_autoencoder import VAE, _core, datasets
from sia_autoencoder.callbacks import Callback, EarlyStopping, LossThreshold

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import vae_numpy as vn  # noqa: E402

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def twin_of(v):
    return vn.NumpyVAE(v.enc_sizes, list(zip(v.enc.act, v.enc.beta)), v.dec_sizes,
                       list(zip(v.dec.act, v.dec.beta)), v.params.astype(np.float64),
                       loss=vn.BCE if v.loss == "bce" else vn.MSE)


def random_h(rng, B, k, dtype, scale=2.0):
    return (rng.standard_normal((B, 2 * k)) * scale).astype(dtype)


# ---- kernels against their twins ----

@pytest.mark.parametrize("dtype", DTYPES)
def test_reparam_forward_matches_twin(rng, dtype):
    h = random_h(rng, 5, 3, dtype)
    h[0, 3], h[1, 4] = 35.0, -50.0  # both sides of the clamp
    eps = rng.standard_normal((5, 3)).astype(dtype)
    z = np.empty((5, 3), dtype)
    _core.reparam_forward(z, h, eps)
    np.testing.assert_allclose(z, vn.reparam_forward(h.astype(float), eps.astype(float)), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_reparam_backward_matches_twin_and_accumulates(rng, dtype):
    h = random_h(rng, 4, 2, dtype)
    h[2, 2] = 25.0  # clamped: no gradient to that logvar
    eps, dz = (rng.standard_normal((4, 2)).astype(dtype) for _ in range(2))
    dh = np.ones((4, 4), dtype)
    _core.reparam_backward(dh, dz, h, eps)
    want = 1 + vn.reparam_backward(dz.astype(float), h.astype(float), eps.astype(float))
    np.testing.assert_allclose(dh, want, **TOL[dtype])
    assert dh[2, 2] == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_matches_twin(rng, dtype):
    h = random_h(rng, 6, 4, dtype)
    h[1, 5] = -40.0
    assert _core.kl_forward(h) == pytest.approx(vn.kl_forward(h.astype(float)), rel=1e-5 if dtype == np.float32 else 1e-13)
    dh = np.zeros_like(h)
    _core.kl_backward(dh, h, 0.3)
    np.testing.assert_allclose(dh, vn.kl_backward(h.astype(float), 0.3), **TOL[dtype])
    assert dh[1, 5] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B, k", [(50, 3), (7, 130)])
def test_latent_kernels_over_several_pieces(rng, dtype, B, k):
    """More latent elements than the C kernels take at once (128), cut inside a row, with
    logvars on both sides of the clamp: every element matches the twins."""
    h = random_h(rng, B, k, dtype)
    h[3, k], h[B - 1, 2 * k - 1] = 25.0, -45.0
    eps, dz = (rng.standard_normal((B, k)).astype(dtype) for _ in range(2))
    hf, ef = h.astype(float), eps.astype(float)
    z = np.empty((B, k), dtype)
    _core.reparam_forward(z, h, eps)
    np.testing.assert_allclose(z, vn.reparam_forward(hf, ef), **TOL[dtype])
    dh = np.zeros_like(h)
    _core.reparam_backward(dh, dz, h, eps)
    np.testing.assert_allclose(dh, vn.reparam_backward(dz.astype(float), hf, ef), **TOL[dtype])
    assert _core.kl_forward(h) == pytest.approx(vn.kl_forward(hf), rel=1e-5 if dtype == np.float32 else 1e-13)
    dh[...] = 0
    _core.kl_backward(dh, h, 0.7)
    np.testing.assert_allclose(dh, vn.kl_backward(hf, 0.7), **TOL[dtype])
    assert dh[3, k] == 0.0 and dh[B - 1, 2 * k - 1] == 0.0


def test_kl_zero_at_standard_normal_and_analytic_values():
    k = 3
    assert _core.kl_forward(np.zeros((4, 2 * k))) == 0.0
    # μ = 1, logvar = 0: ½ per unit. μ = 0, logvar = log 2: ½ (2 − 1 − log 2) per unit.
    h = np.array([[1.0, 1.0, 1.0, 0, 0, 0], [0, 0, 0] + [np.log(2.0)] * 3])
    per_row = [1.5, 3 * 0.5 * (1 - np.log(2.0))]
    assert _core.kl_forward(h) == pytest.approx(np.mean(per_row), rel=1e-14)
    # The closed form of KL(N(μ, σ²) ‖ N(0, 1)) = log(1/σ) + (σ² + μ²)/2 − ½ for arbitrary values.
    mu, sigma = np.array([0.3, -2.0]), np.array([0.5, 1.7])
    h = np.concatenate([mu, 2 * np.log(sigma)])[None, :]
    want = np.sum(np.log(1 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5)
    assert _core.kl_forward(h) == pytest.approx(want, rel=1e-13)
    dh = np.zeros((4, 2 * k))
    _core.kl_backward(dh, np.zeros((4, 2 * k)), 1.0)
    assert not dh.any()  # the minimum


def test_logvar_clamp_keeps_everything_finite():
    h = np.array([[0.0, 1e4], [0.0, -1e4]], dtype=np.float32)
    z = np.empty((2, 1), np.float32)
    _core.reparam_forward(z, h, np.ones((2, 1), np.float32))
    assert np.isfinite(z).all() and z[0, 0] == pytest.approx(np.exp(10.0), rel=1e-6)
    assert np.isfinite(_core.kl_forward(h))


def test_kernel_errors_name_the_argument():
    h = np.zeros((3, 4))
    with pytest.raises(ValueError, match="h: expected an even number of columns"):
        _core.kl_forward(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="eps: expected 3 rows, got 2"):
        _core.reparam_forward(np.empty((3, 2)), h, np.zeros((2, 2)))
    with pytest.raises(TypeError, match="eps: expected dtype float64"):
        _core.reparam_forward(np.empty((3, 2)), h, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="weight: expected a finite number"):
        _core.kl_backward(np.zeros_like(h), h, float("nan"))


# ---- finite differences, float64 ----

def central_difference(f, x, step=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + step
        up = f()
        x[i] = old - step
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * step)
    return g


def test_reparam_backward_finite_differences(rng):
    h, eps, dz = random_h(rng, 3, 2, np.float64, 1.0), rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    z = np.empty((3, 2))

    def objective():  # Σ dz · z, whose gradient in h is what backward returns for dz
        _core.reparam_forward(z, h, eps)
        return float(np.sum(dz * z))
    dh = np.zeros_like(h)
    _core.reparam_backward(dh, dz, h, eps)
    np.testing.assert_allclose(dh, central_difference(objective, h), rtol=1e-7, atol=1e-9)


def test_kl_backward_finite_differences(rng):
    h = random_h(rng, 4, 3, np.float64, 1.0)
    dh = np.zeros_like(h)
    _core.kl_backward(dh, h, 0.7)
    np.testing.assert_allclose(dh, central_difference(lambda: 0.7 * _core.kl_forward(h), h),
                               rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("loss,act,out", [("bce", "tanh", "logistic"), ("mse", "logistic", "logistic"),
                                          ("bce", "relu", "sigmoid"), ("mse", "tanh", "linear")])
def test_whole_loss_gradient_finite_differences(rng, loss, act, out):
    v = VAE([6, 5, 4], 2, decoder=[3, 6], activation=act, output_activation=out, loss=loss,
            seed=3, dtype="float64")
    X, eps = rng.uniform(size=(5, 6)), rng.standard_normal((5, 2))
    _, _, _, g = v.loss_grad(X, eps, kl_weight=0.8)
    numeric = central_difference(lambda: v.loss_grad(X, eps, kl_weight=0.8)[0], v.params)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-7)


# ---- the whole model against the NumPy VAE ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,act", [("bce", "tanh"), ("mse", "relu"), ("bce", "logistic")])
def test_loss_and_gradient_match_numpy_vae(rng, dtype, loss, act):
    v = VAE([20, 12, 7], 3, activation=act, loss=loss, seed=5, dtype=dtype)
    X, eps = rng.uniform(size=(9, 20)), rng.standard_normal((9, 3))
    total, recon, kl, g = v.loss_grad(X.astype(dtype), eps.astype(dtype), kl_weight=0.5)
    t_total, t_recon, t_kl, t_g = twin_of(v).loss_grad(X.astype(dtype).astype(float),
                                                       eps.astype(dtype).astype(float), 0.5)
    rel = 2e-5 if dtype == np.float32 else 1e-12
    assert (total, recon, kl) == pytest.approx((t_total, t_recon, t_kl), rel=rel)
    scale = np.abs(t_g).max()
    np.testing.assert_allclose(g, t_g, rtol=0, atol=rel * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 3])  # k = 3: the last batch of 3 rows draws an odd 9 normals
def test_training_epochs_match_numpy_vae(rng, dtype, k):
    """Same weights, same batches, same ε (replayed from the C generator): same epochs."""
    X = rng.uniform(size=(11, 16)).astype(dtype)
    v = VAE([16, 10], k, beta=0.5, kl_warmup_epochs=3, seed=7, dtype=dtype)
    twin = twin_of(v)
    replay = vn.replay_epochs(v.rng_state, n=11, k=k, batch=4, epochs=3)
    history = v.fit(X, epochs=3, batch_size=4)
    for e, (order, eps) in enumerate(replay):
        want = twin.train_epoch(X.astype(float), order, eps, 4, kl_weight=0.5 * (e + 1) / 3)
        got = [history.history[k][e] for k in ("loss", "reconstruction_loss", "kl_loss")]
        assert got == pytest.approx(want, rel=1e-5 if dtype == np.float32 else 1e-12)
    atol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(v.params, twin.params, rtol=0, atol=atol)


# ---- data-parallel steps (threads >= 2) ----

def epochs_against_twin(X, v, batch, epochs, rel, atol):
    """v's first `epochs` epochs against the NumPy VAE's over the same batches and ε."""
    twin = twin_of(v)
    replay = vn.replay_epochs(v.rng_state, n=len(X), k=v.latent_dim, batch=batch, epochs=epochs)
    history = v.fit(X, epochs=epochs, batch_size=batch)
    for e, (order, eps) in enumerate(replay):
        want = twin.train_epoch(X.astype(float), order, eps, batch, kl_weight=0.5 * (e + 1) / epochs)
        got = [history.history[name][e] for name in ("loss", "reconstruction_loss", "kl_loss")]
        assert got == pytest.approx(want, rel=rel)
    np.testing.assert_allclose(v.params, twin.params, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [2, 3])
def test_split_steps_match_numpy_vae(rng, dtype, threads):
    """With 2 or 3 threads a step of 16 rows runs as 2 or 3 parts (8+8, 5+5+6), and the last
    batch of 5 rows, too small to split, runs whole: still the NumPy VAE's epochs."""
    X = rng.uniform(size=(37, 16)).astype(dtype)
    v = VAE([16, 10], 3, beta=0.5, kl_warmup_epochs=3, seed=7, dtype=dtype, threads=threads)
    epochs_against_twin(X, v, 16, 3, rel=1e-5 if dtype == np.float32 else 1e-12,
                        atol=1e-5 if dtype == np.float32 else 1e-12)


def fit_digits_like(threads, dtype, X, epochs=4):
    v = VAE([64, 32, 16], 2, activation="relu", seed=3, dtype=dtype, threads=threads)
    h = v.fit(X, epochs=epochs, batch_size=32)
    return v.params.copy(), h.history["loss"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_split_steps_are_bit_identical_for_a_thread_count(dtype):
    """The parts are fixed by the batch and the thread count, not by which thread runs them:
    two runs with 2 threads agree to the bit, also while another model holds the thread pool
    (its parts then all run on the caller). 1 thread sums the batch in another order, so it
    agrees within rounding only."""
    import threading
    X = np.random.default_rng(5).random((300, 64)).astype(dtype)
    first, again = fit_digits_like(2, dtype, X), fit_digits_like(2, dtype, X)
    np.testing.assert_array_equal(first[0], again[0])
    assert first[1] == again[1]
    busy = []
    hog = threading.Thread(target=lambda: busy.append(fit_digits_like(2, dtype, X, epochs=40)))
    hog.start()
    crowded = fit_digits_like(2, dtype, X)
    hog.join()
    np.testing.assert_array_equal(first[0], crowded[0])
    one = fit_digits_like(1, dtype, X)
    tol = dict(rtol=1e-3, atol=1e-4) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(one[0], first[0], **tol)
    np.testing.assert_allclose(one[1], first[1], **tol)


@pytest.mark.parametrize("bad", [0, 1])  # the part with the infinite gradient
def test_split_step_with_one_infinite_part_is_refused(bad):
    """8 rows on 2 threads: 2 parts of 4. Part `bad` has x = 1e10 (finite loss, infinite
    gradient, as in test_validation); the step is refused and no weight moves."""
    X = np.zeros((8, 1), np.float32)
    X[4 * bad:4 * bad + 4] = 1e10
    v = VAE([1, 1], 1, activation="linear", output_activation="linear", loss="mse",
            optimizer="gd", seed=0, dtype="float32", threads=2)
    start = [1, 0, 1, 0, 0, -30, 1e10, 0, 0.1, 0]
    v.params[...] = start
    from sia_autoencoder import TrainingDivergedError
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        v.fit(X, epochs=3, batch_size=8, shuffle=False)
    np.testing.assert_array_equal(v.params, np.array(start, np.float32))


# ---- the model ----

def small_vae(**kw):
    args = dict(encoder=[400, 64], latent_dim=2, seed=0, threads=1)
    args.update(kw)
    return VAE(**args)


@pytest.fixture(scope="module")
def emojis():
    return datasets.load_emojis()


def test_training_on_emojis_lowers_held_out_loss(emojis):
    X, _ = emojis
    held_out = X[::5]
    train = np.delete(X, np.s_[::5], axis=0)
    v = small_vae()
    before = v.evaluate(held_out)
    history = v.fit(train, epochs=300, batch_size=8, validation_data=held_out)
    after = v.evaluate(held_out)
    assert after < 0.75 * before
    h = history.history
    assert h["val_loss"][-1] < h["val_loss"][0]
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    np.testing.assert_allclose(h["loss"], np.add(h["reconstruction_loss"], h["kl_loss"]), rtol=1e-6)


def test_kl_warmup_ramps_the_weight(emojis):
    X, _ = emojis
    v = small_vae(beta=2.0, kl_warmup_epochs=4)
    h = v.fit(X, epochs=6, batch_size=16).history
    w = np.array([0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    np.testing.assert_allclose(h["loss"], np.add(h["reconstruction_loss"], w * np.array(h["kl_loss"])),
                               rtol=1e-6)
    assert v.kl_weight(1) == 0.5 and v.kl_weight(100) == 2.0


def test_same_seed_same_training_and_other_seed_differs(emojis):
    X, _ = emojis
    a, b, c = small_vae(seed=4), small_vae(seed=4), small_vae(seed=5)
    ha, hb, hc = (m.fit(X, epochs=3, batch_size=8).history for m in (a, b, c))
    assert ha == hb
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    # the sample order and ε come from the seed too: same weights, other seed, other epochs
    d = small_vae(seed=4)
    d.rng_state[...] = small_vae(seed=9).rng_state
    assert d.fit(X, epochs=1, batch_size=8).history["loss"][0] != ha["loss"][0]


def test_encode_is_deterministic_and_is_the_mean(emojis):
    X, _ = emojis
    v = small_vae()
    v.fit(X, epochs=2, batch_size=8)
    mu, logvar = v.encode(X, return_logvar=True)
    np.testing.assert_array_equal(mu, v.encode(X))
    assert mu.shape == logvar.shape == (30, 2)
    t_mu, t_lv = twin_of(v).encode(X.astype(float))
    np.testing.assert_allclose(mu, t_mu, atol=1e-5)
    np.testing.assert_allclose(logvar, t_lv, atol=1e-5)
    np.testing.assert_array_equal(v.reconstruct(X), v.decode(mu))


def test_sample_shape_range_and_seed(emojis):
    v = small_vae()
    s = v.sample(7, seed=3)
    assert s.shape == (7, 400) and s.dtype == np.float32
    assert s.min() >= 0 and s.max() <= 1
    np.testing.assert_array_equal(s, v.sample(7, seed=3))
    assert not np.array_equal(s, v.sample(7, seed=4))
    out, Z = v.sample(4, seed=0, return_latent=True)
    np.testing.assert_array_equal(out, v.decode(Z))
    before = v.rng_state.copy()
    v.sample(3)
    np.testing.assert_array_equal(v.rng_state, before)  # training's generator is untouched


def test_latent_grid_and_interpolation(emojis):
    X, _ = emojis
    v = small_vae()
    images, Z = v.latent_grid()
    assert images.shape == (64, 400) and Z.shape == (64, 2)
    assert Z[0].tolist() == [-4, 4] and Z[-1].tolist() == [4, -4]  # top-left, bottom-right
    np.testing.assert_array_equal(images, v.decode(Z))
    w = small_vae(latent_dim=3)
    _, Z3 = w.latent_grid(3, -1, 1, dims=(0, 2))
    assert not Z3[:, 1].any() and set(Z3[:, 2]) == {-1.0, 0.0, 1.0}
    strip = v.interpolate(X[0], X[1], steps=5)
    assert strip.shape == (5, 400)
    np.testing.assert_allclose(strip[[0, -1]], v.reconstruct(X[:2]), atol=1e-6)
    with pytest.raises(ValueError, match="latent_grid: needs a latent space of 2"):
        small_vae(latent_dim=1).latent_grid()


def test_state_dict_config_and_pickle(emojis, tmp_path):
    X, _ = emojis
    v = small_vae(beta=0.5, kl_warmup_epochs=2, activation=("tanh", 0.5), decoder=[32, 400])
    v.fit(X, epochs=2, batch_size=8)
    cfg = v.get_config()
    rebuilt = VAE(**json.loads(json.dumps(cfg)))
    assert rebuilt.get_config() == cfg
    rebuilt.load_state_dict(v.state_dict())
    np.testing.assert_array_equal(rebuilt.encode(X), v.encode(X))
    assert rebuilt.epochs_trained_ == 2
    assert set(v.state_dict()) >= {"params", "optimizer.m", "optimizer.v", "optimizer.t", "rng_state",
                                   "epochs_trained"}
    clone = pickle.loads(pickle.dumps(v))
    assert np.shares_memory(clone.params, clone.enc.params) and np.shares_memory(clone.params, clone.dec.params)
    # training on continues identically: weights, optimizer, generator and warm-up all restored
    h1 = v.fit(X, epochs=2, batch_size=8).history
    h2 = clone.fit(X, epochs=2, batch_size=8).history
    h3 = rebuilt.fit(X, epochs=2, batch_size=8).history
    assert h1 == h2 == h3
    np.testing.assert_array_equal(v.params, clone.params)
    with pytest.raises(ValueError, match=r"state\['params'\]: expected shape"):
        small_vae().load_state_dict(v.state_dict())
    from sia_autoencoder import load
    loaded = load(v.save(tmp_path / "vae.npz"))
    assert isinstance(loaded, VAE) and loaded.get_config() == v.get_config()
    np.testing.assert_array_equal(loaded.params, v.params)
    assert loaded.history_.history == v.history_.history


def test_summary_and_repr(emojis):
    lines = []
    small_vae().summary(print_fn=lines.append)
    text = lines[0]
    assert "(μ, logvar)" in text and "sampling" in text
    assert f"Total params: {small_vae().n_params:,}" in text
    assert "latent_dim=2" in repr(small_vae())


def test_argument_errors():
    with pytest.raises(ValueError, match="decoder: expected the widths after the latent space ending with the input width 400"):
        VAE([400, 50], 2, decoder=[50, 300])
    with pytest.raises(ValueError, match="latent_dim: expected an integer in"):
        VAE([10, 5], 0)
    with pytest.raises(ValueError, match="beta: expected a number in"):
        VAE([10, 5], 2, beta=-1)
    v = VAE([10, 5], 2, seed=0)
    with pytest.raises(ValueError, match="X: expected 10 columns"):
        v.fit(np.zeros((3, 9)))
    with pytest.raises(ValueError, match=r"Z: expected 2 columns \(latent_dim\), got 3"):
        v.decode(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="eps: expected 2 columns"):
        v.loss_grad(np.zeros((3, 10)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="validation_data Y: a VAE reconstructs its input, so the "
                       "target must be X itself .* differs from X at row 0, column 0"):
        v.fit(np.zeros((3, 10)), validation_data=(np.ones((3, 10)), np.zeros((3, 10))))


def test_callbacks(emojis):
    X, _ = emojis
    seen = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(sorted(logs))
    v = small_vae()
    h = v.fit(X, epochs=3, batch_size=8, validation_data=X, callbacks=[Record()])
    assert seen[0] == ["kl_loss", "loss", "reconstruction_loss", "val_kl_loss", "val_loss",
                       "val_reconstruction_loss"] and len(seen) == 3
    h = small_vae().fit(X, epochs=500, batch_size=8, callbacks=[LossThreshold(250.0)])
    assert h.stopped_by == "stop condition" and len(h.epoch) < 500 and h.history["loss"][-1] < 250
    h = small_vae().fit(X, epochs=50, validation_data=X, callbacks=[EarlyStopping(patience=0, min_delta=1e9)])
    assert len(h.epoch) == 2


# ---- datasets ----

def test_digits_are_scaled_with_labels():
    pytest.importorskip("sklearn")
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.shape == (1797,)
    assert X.min() == 0 and X.max() == 1 and set(y.tolist()) == set(range(10))


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install sia_autoencoder\[digits\].*scikit-learn"):
        datasets.load_digits()


def write_idx(path, array, code=0x08, compress=False):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_idx_files_round_trip(tmp_path, rng):
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    np.testing.assert_array_equal(datasets.load_idx(tmp_path / "train-images-idx3-ubyte.gz"), images)
    X, y = datasets.load_fashion_mnist(tmp_path, flatten=True)
    assert X.shape == (5, 784) and X.dtype == np.float32
    np.testing.assert_allclose(X, images.reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    floats = rng.standard_normal((2, 3))
    write_idx(tmp_path / "f.idx", floats, code=0x0E)
    np.testing.assert_array_equal(datasets.load_idx(tmp_path / "f.idx"), floats)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz"):
        datasets.load_fashion_mnist(tmp_path, kind="test")


def test_idx_errors_are_precise(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x01\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="not an IDX file.*got 0x00010801"):
        datasets.load_idx(bad)
    short = tmp_path / "short"
    write_idx(short, np.zeros((4, 3), np.uint8))
    short.write_bytes(short.read_bytes()[:-2])
    with pytest.raises(ValueError, match=r"truncated IDX file, expected 24 bytes for shape \(4, 3\).*got 22"):
        datasets.load_idx(short)
    head = tmp_path / "head"
    head.write_bytes(b"\x00\x00\x08\x03" + bytes(5))
    with pytest.raises(ValueError, match="truncated IDX header, expected 16 bytes"):
        datasets.load_idx(head)


# ---- plots ----

def test_vae_plots(emojis):
    plt = pytest.importorskip("matplotlib.pyplot")
    from sia_autoencoder import plots
    X, names = emojis
    v = small_vae()
    h = v.fit(X, epochs=2, batch_size=8, validation_data=X)
    figs = [plots.plot_samples(v, 8, datasets.EMOJI_SHAPE, seed=0),
            plots.plot_latent_grid(v, 4, -4, 4, datasets.EMOJI_SHAPE),
            plots.plot_interpolation(v, X[0], X[1], 5, datasets.EMOJI_SHAPE),
            plots.plot_latent_classes(v, X, names, annotate=True),
            plots.plot_vae_history(h)]
    assert len(figs[0].axes) == 8
    assert len(figs[3].axes[0].collections) == 30
    assert {line.get_label() for ax in figs[4].axes for line in ax.lines} >= {"reconstruction", "KL", "val KL"}
    for fig in figs:
        plt.close(fig)


def test_ctrl_c_stops_training_and_keeps_completed_epochs(emojis):
    """The C loop pauses every ~50 ms to check for signals; a KeyboardInterrupt keeps the epochs
    completed so far and the weights of the last step."""
    import _thread
    import signal
    import threading
    X, _ = emojis
    v = small_vae()
    # As in a terminal or Jupyter: Python's handler raises KeyboardInterrupt. A process started
    # from a shell's background job without job control inherits SIGINT ignored, and then
    # interrupt_main does nothing and fit would run its 10**6 epochs (see test_interrupt.py).
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, _thread.interrupt_main)  # well after the set-up
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            v.fit(X, epochs=10 ** 6, batch_size=8)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    assert 0 < v.epochs_trained_ == len(v.history_.epoch) < 10 ** 6
    assert np.isfinite(v.history_.history["kl_loss"]).all() and np.isfinite(v.params).all()
    before = v.params.copy()
    v.fit(X, epochs=1, batch_size=8)  # and it trains on afterwards
    assert not np.array_equal(before, v.params)


def test_per_layer_activations_and_their_config_round_trip():
    from sia_autoencoder import VAE
    vae = VAE(encoder=[16, 8, 6], latent_dim=2, decoder=[5, 16],
              activation=["relu", ("tanh", 0.5), "logistic"], seed=0)
    assert [(a.name, a.beta) for a in vae.enc.activations] == [("relu", 1.0), ("tanh", 0.5),
                                                               ("linear", 1.0)]
    assert [(a.name, a.beta) for a in vae.dec.activations] == [("logistic", 1.0), ("logistic", 1.0)]
    twin = VAE(**vae.get_config())
    assert [a for a in twin.enc.activations] == vae.enc.activations
    with pytest.raises(ValueError, match="one entry per hidden layer"):
        VAE(encoder=[16, 8], latent_dim=2, activation=["relu", "tanh", "relu"])
