"""elu, selu and activation=None (issue 15): the C paths (element-wise kernels, the fused one-row
kernels, the loss) against the NumPy twins, and against torch in float64.

The finite-difference checks of every activation pair, with β ≠ 1, are in test_gradcheck.py."""
import numpy as np
import pytest

import twins
from sia_autoencoder import Activation, Autoencoder, _core
from sia_autoencoder._net import parse_activation

SIZES = np.array([6, 5, 3, 4, 6], np.int64)
P = int(sum(o * (i + 1) for i, o in zip(SIZES[:-1], SIZES[1:])))


def test_codes_match_the_twins():
    assert (_core.ELU, _core.SELU) == (twins.ELU, twins.SELU)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elu_and_selu_at_the_extremes(dtype):
    x = np.array([-1e4, -800.0, -50.0, -1e-30, 0.0, 1e-30, 3.0, 1e30, np.nan], dtype)
    for kind, beta, sa, s in ((_core.ELU, 0.7, 0.7, 1.0),
                              (_core.SELU, 0.3, twins.SELU_ALPHA * twins.SELU_SCALE, twins.SELU_SCALE)):
        y = np.empty_like(x)
        _core.act_forward(y, x, kind, beta)
        assert y[0] == y[1] == dtype(-sa)           # exp underflows: the saturation value
        np.testing.assert_allclose(y[2], -sa, rtol=1e-6)
        assert y[4] == 0 and np.isnan(y[-1])
        np.testing.assert_allclose(y[6:8], s * x[6:8].astype(float), rtol=1e-6)
        np.testing.assert_allclose(y[3], s * -1e-30 * (sa / s), rtol=1e-6)  # f'(0⁻) = s a


def test_selu_ignores_beta_and_elu_uses_it_as_alpha():
    x = np.linspace(-3, 3, 13)
    a, b, c = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    _core.act_forward(a, x, _core.SELU, 1.0)
    _core.act_forward(b, x, _core.SELU, 0.25)
    assert np.array_equal(a, b)
    _core.act_forward(c, x, _core.ELU, 0.25)
    np.testing.assert_allclose(c, np.where(x > 0, x, 0.25 * np.expm1(x)), rtol=1e-15)
    assert str(parse_activation(("selu", 0.25))) == "selu" and str(parse_activation(("elu", 0.5))) == "elu(β=0.5)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B", [1, 9])  # 1: the fused one-row kernels (net.c's vact, vact_grad)
@pytest.mark.parametrize("acts", [(twins.ELU, twins.SELU, twins.ELU, twins.SELU),
                                  (twins.SELU, twins.ELU, twins.TANH, twins.ELU)])
def test_network_with_elu_and_selu_matches_twin(rng, dtype, B, acts):
    acts = np.array(acts, np.int32)
    betas = np.array([0.6, 1.4, 0.8, 1.7])
    params = rng.normal(scale=0.7, size=P)
    X = rng.normal(size=(B, 6))
    Y = rng.normal(size=(B, 6))
    grads = np.zeros(P, dtype)
    value = _core.loss_grad(SIZES, acts, betas, params.astype(dtype), grads, X.astype(dtype),
                            Y.astype(dtype), twins.MSE)
    want, want_grad = twins.net_loss_grad(params, SIZES, acts, betas, X, Y, twins.MSE)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(value, want, **tol)
    np.testing.assert_allclose(grads, want_grad, **tol)
    out = np.empty((B, 6), dtype)
    _core.predict(SIZES, acts, betas, params.astype(dtype), out, X.astype(dtype), 0, 4)
    np.testing.assert_allclose(out, twins.net_forward(params, SIZES, acts, betas, X)[-1][1], **tol)


def test_activation_none_is_linear():
    assert parse_activation(None) == Activation("linear", 1.0)
    ae = Autoencoder([6, 4, 2, 4, 6], activation=None, latent_activation=None,
                     output_activation=None, loss="mse", seed=0)
    assert [a.name for a in ae.activations] == ["linear"] * 4
    ae = Autoencoder([6, 4, 2, 4, 6], activation=["elu", None, ("selu", 1), "logistic"], seed=0)
    assert [a.name for a in ae.activations] == ["elu", "linear", "selu", "logistic"]


def test_elu_selu_models_train():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6))
    for act in ("elu", "selu"):
        ae = Autoencoder([6, 5, 3, 5, 6], activation=act, output_activation=None, loss="mse",
                         seed=0, dtype="float64", optimizer="nadam", learning_rate=0.01)
        h = ae.fit(X, epochs=30, batch_size=16).history["loss"]
        assert h[-1] < 0.8 * h[0]


def test_loss_and_gradient_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    acts = [twins.ELU, twins.SELU, twins.ELU, twins.SELU]
    betas = [0.6, 1.0, 1.7, 1.0]
    params = rng.normal(scale=0.8, size=P)
    X, Y = rng.normal(size=(9, 6)), rng.normal(size=(9, 6))
    grads = np.zeros(P)
    value = _core.loss_grad(SIZES, np.array(acts, np.int32), np.array(betas), params, grads, X, Y,
                            twins.MSE)
    p = torch.tensor(params, requires_grad=True)
    a, off = torch.tensor(X), 0
    for (n_in, n_out), kind, beta in zip(zip(SIZES[:-1], SIZES[1:]), acts, betas):
        W = p[off:off + n_out * n_in].reshape(n_out, n_in)
        b = p[off + n_out * n_in:off + n_out * (n_in + 1)]
        off += n_out * (n_in + 1)
        z = a @ W.T + b
        a = torch.nn.functional.elu(z, alpha=beta) if kind == twins.ELU else torch.nn.functional.selu(z)
    loss = ((a - torch.tensor(Y)) ** 2).sum() / len(X)
    loss.backward()
    assert abs(value - loss.item()) <= 1e-10 * abs(loss.item())
    err = np.max(np.abs(grads - p.grad.numpy())) / np.max(np.abs(p.grad.numpy()))
    assert err <= 1e-10, err
