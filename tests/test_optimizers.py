"""The optimizers (csrc/optim.c) against their NumPy twins and against torch.optim.

torch is not a test dependency: the comparisons with it skip when it is missing.
"""
import numpy as np
import pytest

import twins
from sia_autoencoder import _core, datasets, optimizers
from sia_autoencoder.autoencoder import Autoencoder
from sia_autoencoder.letters import RECIPE


# ---- float32 Adam (issue 18): constants formed in double, rounded once ----

def test_float32_adam_first_step_is_lr():
    """lr 1, g 1, zero state: the exact step is −10·m/(√v/√(1−β₂) + ε) with m = (float)0.1,
    v = (float)0.001, i.e. −0.99999998, which rounds to −1 in float32. Forming 1 − β₂ in float
    gave −1.0000067; PyTorch's float32 step (two roundings of √(1−β₂)) is −0.99999988."""
    p, m, v = np.zeros(1, np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32)
    _core.optim_step(p, m, v, np.ones(1, np.float32), _core.ADAM, 1.0, 0.0, 0.9, 0.999, 1e-8, 0)
    m32, v32 = np.float64(np.float32(0.1)), np.float64(np.float32(0.001))
    exact = -10 * m32 / (np.sqrt(v32) / np.sqrt(1 - 0.999) + 1e-8)
    assert p[0] == np.float32(exact) == -1.0
    assert v[0] == np.float32(0.001) and m[0] == np.float32(0.1)
    assert abs(p[0] - np.float32(-0.99999988)) <= 2 * np.finfo(np.float32).epsneg  # 2 ulps below 1


def _letters_pair():
    X, _ = datasets.load_font()
    a32 = Autoencoder(seed=0, dtype="float32", **RECIPE)
    a64 = Autoencoder(seed=0, dtype="float64", **RECIPE)
    a64.params[:] = a32.params.astype(np.float64)
    return X, a32, a64


def _losses(ae, X, epochs=50):
    return np.array(ae.fit(X, epochs=epochs, batch_size=None, shuffle=False).history["loss"])


def test_float32_adam_follows_float64_over_50_steps():
    """The letters recipe, 50 full-batch Adam steps from the same weights: the float32 loss
    history stays within float32 noise of the float64 one (1.9e-3 apart at step 50 when 1 − β
    was formed in float; 6e-6 now, PyTorch's own float32 drift on this run is 8.7e-5)."""
    X, a32, a64 = _letters_pair()
    h32, h64 = _losses(a32, X), _losses(a64, X)
    assert np.max(np.abs(h32 - h64) / h64) < 1e-5


def _torch_dense_losses(torch, p0, sizes, X, dtype, epochs=50):
    """The letters recipe written in torch: tanh hidden layers, linear latent (layer 4), logistic
    output 1/(1+exp(−2z)) with BCE summed over features and averaged over the batch."""
    params, off = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = torch.tensor(p0[off:off + n_out * n_in].reshape(n_out, n_in), dtype=dtype)
        off += n_out * n_in
        b = torch.tensor(p0[off:off + n_out], dtype=dtype)
        off += n_out
        params += [W.requires_grad_(), b.requires_grad_()]
    opt = torch.optim.Adam(params, lr=RECIPE["learning_rate"])
    x, L, out = torch.tensor(X, dtype=dtype), len(sizes) - 1, []
    for _ in range(epochs):
        a = x
        for l in range(L):
            z = a @ params[2 * l].T + params[2 * l + 1]
            a = torch.tanh(z) if l < L - 1 and sizes[l + 1] != 2 else z
        loss = torch.nn.functional.binary_cross_entropy_with_logits(2 * a, x, reduction="sum") / len(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return np.array(out)


def test_float32_adam_drift_is_within_pytorchs_own():
    torch = pytest.importorskip("torch")
    X, a32, a64 = _letters_pair()
    p0, sizes = a64.params.copy(), a64.net.sizes
    t32 = _torch_dense_losses(torch, p0, sizes, X, torch.float32)
    t64 = _torch_dense_losses(torch, p0, sizes, X, torch.float64)
    h32, h64 = _losses(a32, X), _losses(a64, X)
    np.testing.assert_allclose(h64, t64, rtol=1e-10)
    assert abs(h32[-1] - h64[-1]) <= abs(t32[-1] - t64[-1])


# ---- every optimizer against its NumPy twin (tests/twins.py) ----

KINDS = {"gd": twins.GD, "momentum": twins.MOMENTUM, "adam": twins.ADAM, "rmsprop": twins.RMSPROP,
         "nadam": twins.NADAM, "adadelta": twins.ADADELTA, "adamw": twins.ADAMW}
#: hyperparameters away from the defaults, so that each one matters
HYPER = dict(lr=0.03, momentum=0.6, beta1=0.85, beta2=0.99, eps=1e-6, rho=0.8)


def _core_step(p, m, v, g, kind, t, weight_decay=0.0, **h):
    h = {**HYPER, **h}
    return _core.optim_step(p, m, v, g, kind, h["lr"], h["momentum"], h["beta1"], h["beta2"],
                            h["eps"], t, h["rho"], weight_decay)


def test_core_codes_match_the_twins():
    for name, code in KINDS.items():
        assert getattr(_core, "GD" if name == "gd" else name.upper()) == code


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("t", [0, 4, 700])
def test_one_step_matches_twin(rng, dtype, name, weight_decay, t):
    n = 37  # not a multiple of any vector width
    p0, g = rng.normal(size=n), rng.normal(size=n)
    m0, v0 = rng.normal(size=n) * 0.1, rng.uniform(0.0, 0.1, size=n)
    if name == "adadelta":
        m0 = np.abs(m0)  # E[Δ²] >= 0
    p, m, v = p0.astype(dtype), m0.astype(dtype), v0.astype(dtype)
    assert _core_step(p, m, v, g.astype(dtype), KINDS[name], t, weight_decay) == t + 1
    want = twins.optim_step(p0, m0, v0, g, KINDS[name], t=t, weight_decay=weight_decay, **HYPER)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for got, exp in zip((p, m, v), want[:3]):
        np.testing.assert_allclose(got, exp, **tol)


@pytest.mark.parametrize("name", list(KINDS))
def test_fifty_steps_match_twin(rng, name):
    """50 steps of a gradient that depends on p, each a fresh call (Nadam rebuilds its Π from t)."""
    A, b = rng.normal(size=(20, 12)) / 4, rng.normal(size=20)
    p, m, v = rng.normal(size=12), np.zeros(12), np.zeros(12)
    q, mq, vq, t = p.copy(), m.copy(), v.copy(), 0
    for _ in range(50):
        g = A.T @ (A @ p - b) + 0.1 * np.sin(p)
        t = _core_step(p, m, v, g, KINDS[name], t, 0.01)
        gq = A.T @ (A @ q - b) + 0.1 * np.sin(q)
        q, mq, vq, _ = twins.optim_step(q, mq, vq, gq, KINDS[name], t=t - 1, weight_decay=0.01, **HYPER)
    np.testing.assert_allclose(p, q, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("beta1", [0.0, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("t", [1, 2, 300, 420, 1000, 5000])
def test_nadam_schedule_late_steps(rng, beta1, t):
    """Nadam's Π_t = μ_1⋯μ_t is kept as 0 once 1 − Π rounds to 1: the steps around that point
    move p as the closed form does."""
    n = 8
    p0, g = rng.normal(size=n), rng.normal(size=n)
    m0, v0 = rng.normal(size=n) * 0.1, rng.uniform(0.01, 0.1, size=n)
    p, m, v = p0.copy(), m0.copy(), v0.copy()
    _core.optim_step(p, m, v, g, _core.NADAM, 0.1, 0.0, beta1, 0.999, 1e-7, t - 1)
    want = twins.optim_step(p0, m0, v0, g, twins.NADAM, 0.1, beta1=beta1, beta2=0.999, eps=1e-7, t=t - 1)[0]
    np.testing.assert_allclose(p - p0, want - p0, rtol=1e-11)


def test_weight_decay_zero_is_the_plain_step(rng):
    """wd = 0 takes the loop without the decay term: bit-identical to the old update."""
    for kind in KINDS.values():
        p, g = rng.normal(size=10), rng.normal(size=10)
        a = [p.copy(), np.zeros(10), np.zeros(10)]
        b = [p.copy(), np.zeros(10), np.zeros(10)]
        _core.optim_step(*a, g, kind, 0.1, 0.5, 0.9, 0.999, 1e-8, 3)
        _core_step(*b, g, kind, 3, 0.0, lr=0.1, momentum=0.5, beta1=0.9, beta2=0.999, eps=1e-8)
        if kind not in (twins.RMSPROP, twins.ADADELTA):  # these read ρ (0.9 by default)
            assert np.array_equal(a[0], b[0])


def test_hyperparameters_are_checked():
    p = np.zeros(3)
    with pytest.raises(ValueError, match=r"rho: expected a value in \[0, 1\), got 1"):
        _core.optim_step(p, p.copy(), p.copy(), p.copy(), _core.RMSPROP, 0.1, 0.0, 0.9, 0.999, 1e-7, 0, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"weight_decay: expected a finite number >= 0, got -1"):
        _core.optim_step(p, p.copy(), p.copy(), p.copy(), _core.ADAMW, 0.1, 0.0, 0.9, 0.999, 1e-7, 0, 0.9, -1.0)
    with pytest.raises(ValueError, match=r"RMSprop.rho: expected a number in \[0, 1\), got 1.5"):
        optimizers.RMSprop(rho=1.5)
    with pytest.raises(ValueError, match=r"AdamW.weight_decay: expected a number in \[0, inf\), got -0.1"):
        optimizers.AdamW(weight_decay=-0.1)


# ---- the Python classes ----

@pytest.mark.parametrize("name,cls,defaults", [
    ("rmsprop", optimizers.RMSprop, dict(learning_rate=1e-3, rho=0.9, momentum=0.0, eps=1e-7, weight_decay=0.0)),
    ("nadam", optimizers.Nadam, dict(learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0.0)),
    ("adadelta", optimizers.Adadelta, dict(learning_rate=1.0, rho=0.95, eps=1e-6, weight_decay=0.0)),
    ("adamw", optimizers.AdamW, dict(learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.004)),
    ("sgd", optimizers.GradientDescent, dict(learning_rate=0.01, weight_decay=0.0)),
    ("momentum", optimizers.Momentum, dict(learning_rate=0.01, momentum=0.9, weight_decay=0.0)),
])
def test_names_and_defaults(name, cls, defaults):
    opt = optimizers.get_optimizer(name)
    assert type(opt) is cls
    assert {k: v for k, v in opt.get_config().items() if k != "type"} == defaults
    again = optimizers.get_optimizer(opt.get_config())
    assert again.get_config() == opt.get_config()
    assert optimizers.get_optimizer(name.upper(), weight_decay=0.25).weight_decay == 0.25


def test_model_weight_decay_argument_reaches_the_optimizer():
    X, _ = datasets.load_font()
    ae = Autoencoder([35, 8, 2, 8, 35], optimizer="adamw", weight_decay=1e-5, seed=0)
    assert isinstance(ae.optimizer, optimizers.AdamW) and ae.optimizer.weight_decay == 1e-5
    again = Autoencoder(**ae.get_config())
    assert again.optimizer.get_config() == ae.optimizer.get_config()
    for name in ("rmsprop", "nadam", "adadelta", "sgd", "momentum"):
        ae = Autoencoder([35, 8, 2, 8, 35], optimizer=name, weight_decay=0.01, seed=0)
        ae.fit(X, epochs=2, batch_size=8)
        assert np.all(np.isfinite(ae.params)) and ae.optimizer.t == 8


@pytest.mark.parametrize("name", ["rmsprop", "nadam", "adadelta", "adamw", "momentum"])
@pytest.mark.parametrize("threads", [1, 3])  # 3: data-parallel parts (sia_optim_step_parts)
def test_training_matches_twin_step_by_step(name, threads):
    """The C training loop with each optimizer and weight decay against the twins, batch by batch
    in order, in float64; with 3 threads, the update of the summed parts."""
    X, _ = datasets.load_font()
    ae = Autoencoder([35, 9, 3, 9, 35], activation=("tanh", 0.8), seed=3, dtype="float64",
                     optimizer=name, learning_rate=0.02, weight_decay=0.003, threads=threads)
    opt, sizes, acts, betas = ae.optimizer, ae.net.sizes, ae.net.act, ae.net.beta
    hyper = {k: v for k, v in opt._core_kwargs().items() if k not in ("optimizer",)}
    p, m, v, t = ae.params.copy(), np.zeros(ae.n_params), np.zeros(ae.n_params), 0
    for epoch in range(2):
        for start in range(0, 32, 16):
            xb = X[start:start + 16]
            _, g = twins.net_loss_grad(p, sizes, acts, betas, xb, xb, twins.BCE)
            p, m, v, t = twins.optim_step(p, m, v, g, KINDS[name], t=t, **hyper)
    ae.fit(X, epochs=2, batch_size=16, shuffle=False)
    np.testing.assert_allclose(ae.params, p, rtol=1e-9, atol=1e-11)


# ---- against torch.optim, float64, 50 steps on the same weights ----

def _torch_optimizer(torch, name, params, lr, wd):
    """torch.optim's optimizer with the parameters under which it is ours (see optimizers.py)."""
    o = torch.optim
    return {
        "sgd": lambda: o.SGD(params, lr=lr, weight_decay=wd),
        "momentum": lambda: o.SGD(params, lr=lr, momentum=0.6, weight_decay=wd),
        "adam": lambda: o.Adam(params, lr=lr, betas=(0.85, 0.99), eps=1e-6, weight_decay=wd),
        # ε inside (Keras) or outside (torch) the root: the same when ε is 0 for torch and
        # negligible next to v for us
        "rmsprop": lambda: o.RMSprop(params, lr=lr, alpha=0.8, eps=0.0, momentum=0.6, weight_decay=wd),
        # Keras's momentum schedule is torch's with momentum_decay = 1
        "nadam": lambda: o.NAdam(params, lr=lr, betas=(0.85, 0.99), eps=1e-6, momentum_decay=1.0,
                                 weight_decay=wd),
        "adadelta": lambda: o.Adadelta(params, lr=lr, rho=0.8, eps=1e-6, weight_decay=wd),
        "adamw": lambda: o.AdamW(params, lr=lr, betas=(0.85, 0.99), eps=1e-6, weight_decay=wd),
    }[name]()


OURS = {"sgd": lambda lr, wd: optimizers.GradientDescent(lr, weight_decay=wd),
        "momentum": lambda lr, wd: optimizers.Momentum(lr, momentum=0.6, weight_decay=wd),
        "adam": lambda lr, wd: optimizers.Adam(lr, beta1=0.85, beta2=0.99, eps=1e-6, weight_decay=wd),
        "rmsprop": lambda lr, wd: optimizers.RMSprop(lr, rho=0.8, momentum=0.6, eps=1e-300, weight_decay=wd),
        "nadam": lambda lr, wd: optimizers.Nadam(lr, beta1=0.85, beta2=0.99, eps=1e-6, weight_decay=wd),
        "adadelta": lambda lr, wd: optimizers.Adadelta(lr, rho=0.8, eps=1e-6, weight_decay=wd),
        "adamw": lambda lr, wd: optimizers.AdamW(lr, beta1=0.85, beta2=0.99, eps=1e-6, weight_decay=wd)}


@pytest.mark.parametrize("name", list(OURS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.02])
def test_fifty_steps_match_torch(name, weight_decay):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    A, b = rng.normal(size=(30, 40)) / 5, rng.normal(size=30)

    def grad(p):  # a gradient that depends on p, so the trajectories must agree step by step
        return A.T @ (A @ p - b) + 0.1 * np.sin(3 * p)

    p0 = rng.normal(size=40)
    lr = {"adadelta": 0.5, "rmsprop": 0.005}.get(name, 0.02)
    ours, p = OURS[name](lr, weight_decay), p0.copy()
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # NAdam keeps its μ product in the default dtype
    try:
        q = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
        theirs = _torch_optimizer(torch, name, [q], lr, weight_decay)
        worst = 0.0
        for _ in range(50):
            ours.step(p, grad(p))
            q.grad = torch.tensor(grad(q.detach().numpy()))
            theirs.step()
            them = q.detach().numpy()  # relative to the largest weight: some pass through 0
            worst = max(worst, np.max(np.abs(p - them)) / np.max(np.abs(them)))
    finally:
        torch.set_default_dtype(default)
    assert np.max(np.abs(p - p0)) > 0.05  # the weights did move
    assert worst <= 1e-10, worst
    print(f"{name} wd={weight_decay}: max relative error over 50 steps {worst:.1e}")


def test_rmsprop_follows_keras_not_torch_on_epsilon():
    """With ε = 1e-7 (Keras's default) and a small v, ε inside the root moves p differently from
    torch's ε outside it: this is Keras's rule (the twin), not torch's."""
    p, m, v = np.zeros(1), np.zeros(1), np.zeros(1)
    g = np.array([1e-4])
    optimizers.RMSprop(learning_rate=1.0, eps=1e-7).step(p, g)
    keras = -g / np.sqrt(0.1 * g * g + 1e-7)
    torch_like = -g / (np.sqrt(0.1 * g * g) + 1e-7)
    np.testing.assert_allclose(p, keras, rtol=1e-14)
    assert abs(p[0] - torch_like[0]) > 0.1


def test_nadam_defaults_to_keras_schedule_not_torchs():
    """Keras's μ_t = β₁(1 − ½·0.96^t): the first step's g coefficient (1 − μ_1)/(1 − μ_1) is 1
    whatever the schedule, so compare step 2 against the closed form with ψ = 1 and ψ = 0.004."""
    p, m, v, g = np.zeros(1), np.zeros(1), np.zeros(1), np.ones(1)
    opt = optimizers.Nadam(learning_rate=1.0)
    opt.step(p, g)
    opt.step(p, g)
    want = twins.optim_step(*twins.optim_step(np.zeros(1), m, v, g, twins.NADAM, 1.0, eps=1e-7)[:3],
                            g, twins.NADAM, 1.0, eps=1e-7, t=1)[0]
    np.testing.assert_allclose(p, want, rtol=1e-14)
    mu = [0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)) for t in (1, 2, 3)]  # torch's default schedule
    m1 = 0.1
    step1 = (mu[1] * m1 / (1 - mu[0] * mu[1]) + (1 - mu[0]) / (1 - mu[0])) / (1 + 1e-7)
    m2, v2 = 0.9 * m1 + 0.1, (0.999 * 0.001 + 0.001) / (1 - 0.999 ** 2)
    step2 = (mu[2] * m2 / (1 - mu[0] * mu[1] * mu[2]) + (1 - mu[1]) / (1 - mu[0] * mu[1])) / (np.sqrt(v2) + 1e-7)
    assert abs(p[0] + step1 + step2) > 1e-3
