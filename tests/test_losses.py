"""Learning rates that carry over from Keras and PyTorch (issue 18): loss_reduction='mean',
Keras's loss names, MAE, metrics in the history, and a warning when training collapses."""
import warnings

import numpy as np
import pytest

from sia_autoencoder import Autoencoder, DenoisingAutoencoder, VAE, datasets
from sia_autoencoder._training import CollapseWarning


def data(n=24, d=10, seed=0):
    return np.random.default_rng(seed).random((n, d))


def model(**kw):
    args = dict(layers=[10, 6, 3, 6, 10], seed=2, dtype="float64")
    args.update(kw)
    return Autoencoder(**args)


@pytest.mark.parametrize("loss", ["mse", "bce", "mae"])
@pytest.mark.parametrize("output", ["logistic", "tanh", "linear"])
def test_mean_reduction_divides_loss_and_gradient_by_the_features(loss, output):
    if loss == "bce" and output != "logistic":
        output = "sigmoid"
    X = data()
    s, m = model(loss=loss, output_activation=output), model(loss=loss, output_activation=output,
                                                             loss_reduction="mean")
    ls, gs = s.loss_grad(X)
    lm, gm = m.loss_grad(X)
    assert lm == pytest.approx(ls / 10, rel=1e-14)
    np.testing.assert_allclose(gm, gs / 10, rtol=1e-13, atol=1e-17)
    assert m.evaluate(X) == lm
    # Gradient descent at 10x the rate takes the same steps.
    s2 = model(loss=loss, output_activation=output, optimizer="gd", learning_rate=0.01)
    m2 = model(loss=loss, output_activation=output, optimizer="gd", learning_rate=0.1,
               loss_reduction="mean")
    hs, hm = s2.fit(X, epochs=3, batch_size=8), m2.fit(X, epochs=3, batch_size=8)
    np.testing.assert_allclose(m2.params, s2.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.array(hm.history["loss"]) * 10, hs.history["loss"], rtol=1e-12)


def test_keras_loss_names():
    for name, ours in (("binary_crossentropy", "bce"), ("mean_squared_error", "mse"),
                       ("mse", "mse"), ("mae", "mae"), ("mean_absolute_error", "mae"),
                       ("BCE", "bce")):
        assert model(loss=name).loss == ours
        assert VAE([10, 6], 2, loss=name).loss == ours
    with pytest.raises(ValueError, match=r"loss_reduction: expected 'sum' .* or 'mean' .*, got 'avg'"):
        model(loss_reduction="avg")
    m = model(loss="mae", loss_reduction="mean", metrics=["mse"])
    twin = Autoencoder(**m.get_config())
    assert (twin.loss, twin.loss_reduction, twin.metrics) == ("mae", "mean", ["mse"])


def test_mae_trains_and_its_gradient_is_exact():
    X = data()
    m = model(loss="mae", output_activation="tanh")
    loss, g = m.loss_grad(X)
    assert loss == pytest.approx(np.abs(m.reconstruct(X) - X).sum(axis=1).mean(), rel=1e-13)
    h = 1e-6
    for i in range(0, m.n_params, 7):
        old = m.params[i]
        m.params[i] = old + h
        up = m.evaluate(X)
        m.params[i] = old - h
        down = m.evaluate(X)
        m.params[i] = old
        assert g[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)
    hist = m.fit(X, epochs=30, batch_size=8).history["loss"]
    assert hist[-1] < hist[0]
    v = VAE([10, 6], 2, loss="mae", seed=0, dtype="float64")
    assert v.fit(X, epochs=2).history["reconstruction_loss"][0] > 0


TORCH_LOSSES = {  # ours -> (torch loss of (output or logits, target), uses logits)
    "mse": ("mse_loss", False), "mae": ("l1_loss", False),
    "bce": ("binary_cross_entropy_with_logits", True),
}


@pytest.mark.parametrize("loss", list(TORCH_LOSSES))
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_losses_and_gradients_match_pytorch(loss, reduction):
    """float64, the same weights: PyTorch's reduction='mean' is ours 'mean'; ours 'sum' is
    PyTorch's sum divided by the batch."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    X = data(9, 10, seed=4)
    T = (data(9, 10, seed=5) > 0.5).astype(float)
    m = model(activation="tanh", loss=loss, loss_reduction=reduction,
              output_activation="sigmoid" if loss == "bce" else "tanh")
    ours, g = m.loss_grad(X, T)
    params = [torch.tensor(p.copy(), requires_grad=True) for p in m.parameters()]
    a = torch.tensor(X)
    for l in range(0, len(params), 2):
        a = a @ params[l].T + params[l + 1]
        last = l == len(params) - 2
        if not last:
            a = a if (l // 2 + 1) == m.latent_index else torch.tanh(a)
    fn, logits = TORCH_LOSSES[loss]
    out = a if logits else torch.tanh(a)
    target = torch.tensor(T)
    if reduction == "mean":
        value = getattr(F, fn)(out, target, reduction="mean")
    else:
        value = getattr(F, fn)(out, target, reduction="sum") / X.shape[0]
    value.backward()
    want = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert ours == pytest.approx(value.item(), rel=1e-10)
    np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-14 * np.abs(want).max())


def test_metrics_are_logged_for_training_and_validation():
    X, Xv = data(), data(6, seed=7)
    m = model(metrics=["mse", "mae", "binary_crossentropy"])
    h = m.fit(X, epochs=3, batch_size=8, validation_data=Xv)
    assert set(h.history) == {"loss", "mse", "mae", "binary_crossentropy", "val_loss", "val_mse",
                              "val_mae", "val_binary_crossentropy"}
    out, outv = m.reconstruct(X), m.reconstruct(Xv)
    assert h.history["mse"][-1] == pytest.approx(np.mean((out - X) ** 2), rel=1e-12)
    assert h.history["mae"][-1] == pytest.approx(np.mean(np.abs(out - X)), rel=1e-12)
    assert h.history["val_mae"][-1] == pytest.approx(np.mean(np.abs(outv - Xv)), rel=1e-12)
    bce = -np.mean(X * np.log(out) + (1 - X) * np.log(1 - out))
    assert h.history["binary_crossentropy"][-1] == pytest.approx(bce, rel=1e-12)
    assert all(len(v) == 3 for v in h.history.values())
    d = DenoisingAutoencoder([10, 6, 10], seed=0, metrics=["mae"])
    assert list(d.fit(X, epochs=2).history) == ["loss", "mae"]
    with pytest.raises(ValueError, match=r"metrics\[1\]: expected one of .*got 'accuracy'"):
        model(metrics=["mse", "accuracy"])


def test_vae_mean_reduction_is_the_same_objective_per_feature():
    """'mean' divides the whole ELBO (recon + β·KL) by D: same gradients / D, so gradient descent
    at D times the rate takes the same steps."""
    X = (data(16, 10, seed=3) > 0.5).astype(float)
    eps = np.random.default_rng(1).standard_normal((16, 2))
    s = VAE([10, 6], 2, seed=4, dtype="float64", beta=0.5)
    m = VAE([10, 6], 2, seed=4, dtype="float64", beta=0.5, loss_reduction="mean")
    ts, rs, ks, gs = s.loss_grad(X, eps)
    tm, rm, km, gm = m.loss_grad(X, eps)
    assert (tm, rm, km) == pytest.approx((ts / 10, rs / 10, ks), rel=1e-13)
    assert tm == pytest.approx(rm + 0.5 / 10 * km, rel=1e-13)
    np.testing.assert_allclose(gm, gs / 10, rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(m.reconstruction_error(X), s.reconstruction_error(X) / 10,
                               rtol=1e-13)
    s2 = VAE([10, 6], 2, seed=4, dtype="float64", optimizer="gd", learning_rate=0.01)
    m2 = VAE([10, 6], 2, seed=4, dtype="float64", optimizer="gd", learning_rate=0.1,
             loss_reduction="mean")
    hs, hm = s2.fit(X, epochs=3, batch_size=4), m2.fit(X, epochs=3, batch_size=4)
    np.testing.assert_allclose(m2.params, s2.params, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(np.array(hm.history["loss"]) * 10, hs.history["loss"], rtol=1e-11)
    np.testing.assert_allclose(hm.history["kl_loss"], hs.history["kl_loss"], rtol=1e-11)
    twin = VAE(**m.get_config())
    assert twin.loss_reduction == "mean"
    with pytest.raises(ValueError, match=r"loss_reduction: expected 'sum'"):
        VAE([10, 6], 2, loss_reduction="none")


def test_vae_metrics_are_logged_without_touching_its_random_stream():
    X, Xv = (data(16, 10, seed=3) > 0.5).astype(float), (data(6, 10, seed=8) > 0.5).astype(float)
    plain = VAE([10, 6], 2, seed=4, dtype="float64")
    watched = VAE([10, 6], 2, seed=4, dtype="float64", metrics=["mse", "mean_absolute_error"])
    plain.fit(X, epochs=3, batch_size=4)
    h = watched.fit(X, epochs=3, batch_size=4, validation_data=Xv)
    assert np.array_equal(plain.params, watched.params)  # metrics draw no ε
    assert set(h.history) == {"loss", "reconstruction_loss", "kl_loss", "mse",
                              "mean_absolute_error", "val_loss", "val_reconstruction_loss",
                              "val_kl_loss", "val_mse", "val_mean_absolute_error"}
    out, outv = watched.reconstruct(X), watched.reconstruct(Xv)
    assert h.history["mse"][-1] == pytest.approx(np.mean((out - X) ** 2), rel=1e-12)
    assert h.history["val_mean_absolute_error"][-1] == pytest.approx(np.mean(np.abs(outv - Xv)),
                                                                     rel=1e-12)
    assert list(VAE([10, 6], 2, seed=0, metrics=["mae"]).fit(X, epochs=2).history) == \
        ["loss", "reconstruction_loss", "kl_loss", "mae"]
    assert VAE(**watched.get_config()).metrics == ["mse", "mean_absolute_error"]
    with pytest.raises(ValueError, match=r"metrics\[0\]: expected one of"):
        VAE([10, 6], 2, metrics=["accuracy"])


def test_reconstruction_error_follows_the_loss_and_its_reduction():
    X = data()
    for loss in ("mse", "mae", "bce"):
        for reduction in ("sum", "mean"):
            m = model(loss=loss, loss_reduction=reduction, output_activation="logistic")
            assert m.reconstruction_error(X, per_sample=False) == pytest.approx(m.evaluate(X),
                                                                                rel=1e-6)


def digits():
    X = datasets.load_digits()
    return X[0] if isinstance(X, tuple) else X


@pytest.mark.parametrize("cls", [Autoencoder, DenoisingAutoencoder])
def test_a_collapse_to_one_output_is_reported_with_its_epoch(cls):
    """The UNSAM cell in small: relu, sigmoid code, plain SGD at a learning rate meant for a
    mean loss; after one epoch every digit decodes to the same image."""
    X = digits()
    kw = dict(activation="relu", latent_activation="sigmoid", output_activation="sigmoid",
              optimizer="sgd", seed=0)
    ae = cls([64, 32, 8, 32, 64], learning_rate=3.0, **kw)
    with pytest.warns(CollapseWarning, match=r"training collapsed by epoch 1: the model gives the "
                                             r"same output for every sample .* loss_reduction='sum'"
                                             r" .* 64 features"):
        ae.fit(X, epochs=4, batch_size=32)
    assert np.ptp(ae.reconstruct(X[:50]), axis=0).max() == 0
    healthy = cls([64, 32, 8, 32, 64], learning_rate=3.0 / 64, loss_reduction="sum", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        healthy.fit(X, epochs=4, batch_size=32)
        mean = cls([64, 32, 8, 32, 64], learning_rate=3.0, loss_reduction="mean", **kw)
        mean.fit(X, epochs=4, batch_size=32)
