"""Property-based tests (issue 8) over random architectures, activations, β, losses, optimizers,
batch sizes and dtypes: training never crashes, outputs are finite for sane inputs, and the
C gradient matches the NumPy twin and finite differences on random small float64 networks."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sia_autoencoder as sa
from sia_autoencoder import _core

import twins

ACTS = ["linear", "logistic", "tanh", "relu", "sigmoid", "elu", "selu"]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def models(draw):
    d = draw(st.integers(1, 12))
    inner = draw(st.lists(st.integers(1, 10), min_size=1, max_size=4))
    layers = [d] + inner + [d]
    narrowest = min(inner)
    latent = inner.index(narrowest) + 1  # the first narrowest, to stay unambiguous
    act = lambda: (draw(st.sampled_from(ACTS)), draw(st.floats(0.25, 2.0)))  # noqa: E731
    kw = dict(layers=layers, activation=[act() for _ in range(len(layers) - 1)],
              loss=draw(st.sampled_from(["mse", "bce"])),
              optimizer=draw(st.sampled_from(["adam", "momentum", "gd"])),
              learning_rate=draw(st.sampled_from([1e-3, 1e-2, 0.1])),
              dtype=draw(st.sampled_from(["float32", "float64"])),
              seed=draw(st.integers(0, 2**32)), latent_index=latent,
              threads=draw(st.integers(1, 2)))
    return kw


@SETTINGS
@given(kw=models(), n=st.integers(1, 30), data=st.data())
def test_training_never_crashes_and_stays_finite(kw, n, data):
    d = kw["layers"][0]
    X = data.draw(st.sampled_from(["binary", "unit"]))
    rng = np.random.default_rng(kw["seed"])
    X = (rng.random((n, d)) > 0.5).astype(float) if X == "binary" else rng.random((n, d))
    if kw["loss"] == "bce":  # BCE needs outputs in (0, 1): a logistic output layer
        kw["activation"][-1] = ("logistic", kw["activation"][-1][1])
    ae = sa.Autoencoder(**kw)
    batch = data.draw(st.one_of(st.integers(1, n), st.sampled_from([None, "online", "batch"])))
    noise = data.draw(st.sampled_from([None, "salt_and_pepper", "bit_flip", "gaussian"]))
    try:
        h = ae.fit(X, epochs=data.draw(st.integers(0, 4)), batch_size=batch, noise=noise,
                   noise_level=0.1, shuffle=data.draw(st.booleans()))
    except sa.TrainingDivergedError:
        # Allowed (e.g. lr 0.1 on relu/linear nets), but then the weights are the last finite ones.
        assert np.isfinite(ae.params).all()
        return
    assert np.isfinite(h.history.get("loss", [])).all()
    assert np.isfinite(ae.params).all()
    Z = ae.encode(X)
    assert Z.shape == (n, ae.latent_dim) and np.isfinite(Z).all()
    out = ae.decode(Z)
    assert out.shape == X.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(out, ae.reconstruct(X))
    assert np.isfinite(ae.evaluate(X))
    errs = ae.pixel_errors(X)
    assert errs.shape == (n,) and (errs >= 0).all() and (errs <= d).all()


@st.composite
def small_nets(draw):
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=5))
    L = len(sizes) - 1
    acts = draw(st.lists(st.sampled_from([0, 1, 2, 3]), min_size=L, max_size=L))
    betas = draw(st.lists(st.floats(0.3, 2.0), min_size=L, max_size=L))
    loss = draw(st.sampled_from([0, 1]))
    seed = draw(st.integers(0, 2**32))
    n = draw(st.integers(1, 6))
    return sizes, acts, betas, loss, seed, n


@SETTINGS
@given(net=small_nets())
def test_gradient_matches_twin_and_finite_differences(net):
    sizes, acts, betas, loss, seed, n = net
    if loss == 1:
        acts[-1] = 1  # BCE with a logistic output, as the models use it
    rng = np.random.default_rng(seed)
    sizes_a = np.array(sizes, np.int64)
    act_a, beta_a = np.array(acts, np.int32), np.array(betas, np.float64)
    P = int(sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:])))
    params = rng.normal(0, 0.7, P)
    X = rng.random((n, sizes[0]))
    Y = (rng.random((n, sizes[-1])) > 0.5).astype(float) if loss == 1 else rng.random((n, sizes[-1]))
    grads = np.zeros(P)
    value = _core.loss_grad(sizes_a, act_a, beta_a, params, grads, X, Y, loss)
    ref_value, ref_grads = twins.net_loss_grad(params, sizes, acts, betas, X, Y, loss)
    np.testing.assert_allclose(value, ref_value, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads, ref_grads, rtol=1e-7, atol=1e-10)
    # A random-direction finite difference (kann's kad_check_grad), away from relu's kink.
    f = lambda p: _core.loss_grad(sizes_a, act_a, beta_a, p, None, X, Y, loss)  # noqa: E731
    u = rng.normal(size=P)
    u /= np.linalg.norm(u)
    h = 1e-6
    fd = (f(params + h * u) - f(params - h * u)) / (2 * h)
    kink = 3 in acts and abs(fd - grads @ u) > 1e-5 * max(1.0, abs(fd))
    if not kink:
        assert abs(fd - grads @ u) <= 1e-5 * max(1.0, abs(fd)), (fd, grads @ u)
