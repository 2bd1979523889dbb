"""Regularized models (issue 15): activity penalties computed in C inside the training step,
tied weights, semantic hashing. Finite differences with β ≠ 1, and torch on the same weights
in float64 (skipped without torch)."""
import numpy as np
import pytest

import twins
from sia_autoencoder import Autoencoder, layers as L, regularizers as R

REGS = {"L1": R.L1(0.03), "L2": R.L2(0.2), "KL": R.KLSparsity(target=0.2, weight=0.7)}
#: a hidden activation with β ≠ 1 for each penalty (KL needs outputs in (0, 1))
ACTS = {"L1": ("tanh", 1.3), "L2": ("elu", 0.6), "KL": ("logistic", 0.7)}


def _model(name, where="code", loss="mse", dtype="float64", threads=1, **kw):
    """6 → 5 (penalised when where='code') → 6 (penalised when where='output')."""
    reg = REGS[name]
    act, beta = ACTS[name]
    out_act = ("logistic", 1.2)
    enc = [L.Dense(5, activation=act, beta=beta, activity_regularizer=reg if where == "code" else None)]
    dec = [L.Dense(6, activation=out_act[0], beta=out_act[1],
                   activity_regularizer=reg if where == "output" else None)]
    return Autoencoder(encoder=enc, decoder=dec, input_shape=(6,), loss=loss, dtype=dtype,
                       threads=threads, seed=4, **kw)


def _data(B=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.05, 0.95, size=(B, 6))


@pytest.mark.parametrize("name", list(REGS))
@pytest.mark.parametrize("where", ["code", "output"])
@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("B", [1, 9])  # 1: the one-row kernels
def test_penalty_gradient_matches_finite_differences(name, where, loss, B):
    ae = _model(name, where, loss)
    X = _data(B)
    value, g = ae.loss_grad(X)
    total, recon, _, pen = ae.net.loss_terms(X, X, loss)
    layer = 1 if where == "code" else 2
    a = ae.layer_output(X, layer)
    code, ra, rb = REGS[name].record_fields()
    assert pen == pytest.approx(twins.reg_penalty(a, code, ra, rb), rel=1e-13) and pen > 0
    assert value == pytest.approx(recon + pen, rel=1e-14)
    p0, h = ae.params.copy(), 1e-6
    fd = np.empty_like(p0)
    for i in range(p0.size):
        ae.params[:] = p0
        ae.params[i] += h
        up = ae.net.loss_terms(X, X, loss)[0]
        ae.params[i] -= 2 * h
        fd[i] = (up - ae.net.loss_terms(X, X, loss)[0]) / (2 * h)
    ae.params[:] = p0
    err = np.linalg.norm(fd - g) / np.linalg.norm(fd)
    assert err < 1e-7, err


def _torch_model(torch, ae):
    """The dense model's forward in torch on its weights (float64), and its layers' outputs."""
    acts = {"linear": lambda z, b: z, "tanh": lambda z, b: torch.tanh(b * z),
            "logistic": lambda z, b: torch.sigmoid(2 * b * z), "relu": lambda z, b: torch.relu(z),
            "elu": lambda z, b: torch.nn.functional.elu(z, alpha=b),
            "selu": lambda z, b: torch.nn.functional.selu(z)}
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in ae.get_weights()]
    layers, w_at, k = ae.net.layers, {}, 0
    for layer in layers:  # where each layer's arrays are in get_weights: Dense W, b; tied b only
        w_at[id(layer)] = k
        k += 1 if isinstance(layer, L.DenseTranspose) else 2

    def forward(x):
        outs, a = [], x
        for layer in layers:
            k = w_at[id(layer)]
            if isinstance(layer, L.DenseTranspose):
                W, b = params[w_at[id(layer.of)]].T, params[k]
            else:
                W, b = params[k], params[k + 1]
            a = acts[layer.activation.name](a @ W.T + b, layer.activation.beta)
            outs.append(a)
        return outs
    return params, forward


def _torch_penalty(torch, reg, a):
    B = a.shape[0]
    if isinstance(reg, R.L1):
        return reg.l1 * a.abs().sum() / B
    if isinstance(reg, R.L2):
        return reg.l2 * (a * a).sum() / B
    m, rho = a.mean(dim=0), reg.target
    return reg.weight * (rho * torch.log(rho / m) + (1 - rho) * torch.log((1 - rho) / (1 - m))).sum()


def _torch_loss(torch, ae, forward, x):
    outs = forward(x)
    y = outs[-1]
    if ae.loss == "mse":
        loss = ((y - x) ** 2).sum() / len(x)
    else:
        loss = torch.nn.functional.binary_cross_entropy(y, x, reduction="sum") / len(x)
    for layer, a in zip(ae.net.layers, outs):
        reg = getattr(layer, "activity_regularizer", None)
        if reg is not None:
            loss = loss + _torch_penalty(torch, reg, a)
    return loss


@pytest.mark.parametrize("name", list(REGS))
@pytest.mark.parametrize("threads", [1, 2])
def test_fifty_steps_match_torch(name, threads):
    """Mini-batch training with the penalty against torch (the same weights, batches and Adam),
    float64: the penalty's gradient in the C step, with data-parallel parts for L1 and L2."""
    torch = pytest.importorskip("torch")
    ae = _model(name, loss="bce", threads=threads, optimizer="adam", learning_rate=0.02)
    X = _data(32, seed=1)
    params, forward = _torch_model(torch, ae)
    opt = torch.optim.Adam(params, lr=0.02)
    x = torch.tensor(X)
    for epoch in range(13):
        for start in range(0, 32, 8):  # 4 steps an epoch, in order: 52 steps
            opt.zero_grad()
            _torch_loss(torch, ae, forward, x[start:start + 8]).backward()
            opt.step()
    h = ae.fit(X, epochs=13, batch_size=8, shuffle=False)
    ours = np.concatenate([w.ravel() for w in ae.get_weights()])
    theirs = np.concatenate([p.detach().numpy().ravel() for p in params])
    err = np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))
    assert err <= 1e-10, err
    assert set(h.history) >= {"loss", "reconstruction_loss", "regularization_loss"}


def test_history_logs_the_terms_apart():
    ae = _model("KL", loss="bce")
    X = _data(32, seed=2)
    h = ae.fit(X, epochs=3, batch_size=32, validation_data=X).history
    np.testing.assert_allclose(h["loss"], np.add(h["reconstruction_loss"], h["regularization_loss"]),
                               rtol=1e-12)
    assert all(r > 0 for r in h["regularization_loss"])
    total, recon, _, pen = ae.net.loss_terms(X, X, "bce")
    assert h["val_loss"][-1] == pytest.approx(total, rel=1e-12)
    assert h["val_regularization_loss"][-1] == pytest.approx(pen, rel=1e-12)
    plain = Autoencoder([6, 5, 6], seed=0).fit(X, epochs=1).history
    assert "regularization_loss" not in plain


def test_kl_sparsity_needs_outputs_in_zero_one():
    with pytest.raises(ValueError, match=r"KLSparsity.*logistic"):
        Autoencoder(encoder=[L.Dense(5, activation="relu", activity_regularizer=R.KLSparsity())],
                    decoder=[L.Dense(6, activation="logistic")], input_shape=(6,))


def test_dense_notation_regularizers_and_tied_weights():
    ae = Autoencoder([12, 8, 3, 8, 12], activity_regularizer={2: R.L1(1e-3)}, tied=True,
                     optimizer="adamw", weight_decay=1e-5, seed=0)
    assert ae.net.layers[1].activity_regularizer == R.L1(1e-3)
    untied = Autoencoder([12, 8, 3, 8, 12], seed=0)
    # the decoder's W are the encoder's, transposed: only their biases are new
    assert ae.n_params == untied.n_params - (3 * 8 + 8 * 12)
    assert [type(x).__name__ for x in ae.net.layers] == ["Dense", "Dense", "DenseTranspose", "DenseTranspose"]
    X = (np.random.default_rng(0).uniform(size=(20, 12)) > 0.5).astype(float)
    h = ae.fit(X, epochs=2, batch_size=5).history
    assert "regularization_loss" in h
    # one regularizer alone goes on the code layer
    one = Autoencoder([12, 8, 3, 8, 12], activity_regularizer=R.L2(0.1), seed=0)
    assert [getattr(x, "activity_regularizer", None) for x in one.net.layers] == [None, R.L2(0.1), None, None]
    with pytest.raises(ValueError, match="tied"):
        Autoencoder([12, 8, 3, 6, 12], tied=True)
    with pytest.raises(ValueError, match="activity_regularizer"):
        Autoencoder([12, 8, 3, 8, 12], activity_regularizer={0: R.L1()})


def test_tied_model_matches_torch():
    """Loss and gradient of a tied model (the shared W's gradient is the sum of both uses)."""
    torch = pytest.importorskip("torch")
    ae = Autoencoder([6, 5, 3, 5, 6], activation=("tanh", 0.8), tied=True, dtype="float64",
                     loss="bce", activity_regularizer={2: R.L2(0.05)}, seed=1)
    X = _data(9, seed=3)
    value, g = ae.loss_grad(X)
    params, forward = _torch_model(torch, ae)
    loss = _torch_loss(torch, ae, forward, torch.tensor(X))
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    # the flat layout is get_weights' order for dense and tied layers
    theirs = np.concatenate([p.grad.numpy().ravel() for p in params])
    np.testing.assert_allclose(g, theirs, rtol=1e-10, atol=1e-13)


def test_hash_thresholds_the_codes():
    ae = Autoencoder(encoder=[L.Dense(8, activation="tanh"), L.GaussianNoise(4.0),
                              L.Dense(5, activation="sigmoid")],
                     decoder=[L.Dense(12, activation="sigmoid")], input_shape=(12,), seed=0)
    X = np.random.default_rng(0).uniform(size=(40, 12))
    codes = ae.encode(X)
    hashes = ae.hash(X)
    assert hashes.dtype == np.int64 and hashes.shape == (40,)
    want = ((codes > 0.5) * (2 ** np.arange(5))).sum(axis=1)
    np.testing.assert_array_equal(hashes, want)
    wide = Autoencoder([70, 64, 70], seed=0)
    with pytest.raises(ValueError, match="63"):
        wide.hash(np.zeros((1, 70)))


def test_activation_stats_and_plots():
    import matplotlib
    matplotlib.use("Agg")
    from sia_autoencoder import plots
    ae = _model("KL", loss="bce")
    X = _data(20, seed=5)
    s = plots.activation_stats(ae, X, layer="code")
    a = ae.encode(X)
    np.testing.assert_allclose(s["a"], a)
    assert s["mean"] == pytest.approx(a.mean()) and s["unit_means"].shape == (5,)
    assert s["near_zero_share"] == pytest.approx(np.mean(np.abs(a) < 0.05))
    np.testing.assert_allclose(plots.activation_stats(ae, X, layer=2)["a"], ae.reconstruct(X))
    fig = plots.plot_activation_histogram(ae, X, layer="code")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="layer"):
        plots.activation_stats(ae, X, layer="middle")


def test_hash_groups_and_their_plot():
    import matplotlib
    matplotlib.use("Agg")
    from sia_autoencoder import plots
    groups = plots.hash_groups([5, 3, 5, 7, 3, 5], labels=[0, 1, 0, 0, 1, 1])
    assert [(h, list(i)) for h, i, _ in groups] == [(5, [0, 2, 5]), (3, [1, 4]), (7, [3])]
    assert [p for _, _, p in groups] == pytest.approx([2 / 3, 1.0, 1.0])
    ae = Autoencoder(encoder=[L.Dense(6, activation="tanh"), L.Dense(4, activation="sigmoid")],
                     decoder=[L.Dense(16, activation="sigmoid")], input_shape=(4, 4), seed=0)
    X = np.random.default_rng(1).uniform(size=(30, 4, 4))
    fig = plots.plot_hash_groups(ae, X, labels=np.arange(30) % 3, n_groups=3, per_group=4)
    assert len(fig.axes) == len(plots.hash_groups(ae.hash(X), top=3)) * 4
