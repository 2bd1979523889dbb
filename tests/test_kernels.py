"""Every C kernel against its NumPy twin (tests/twins.py), in float64 at tight tolerance and in
float32 at float32 tolerance, on several shapes including batch size 1."""
import numpy as np
import pytest

import twins  # noqa: E402  (tests/twins.py)
from sia_autoencoder import _core

# Every test once per vector path of the matrix product (conftest.simd_path).
pytestmark = pytest.mark.usefixtures("simd_path")

SHAPES = [(1, 1, 1), (1, 35, 25), (32, 35, 25), (7, 3, 11), (128, 64, 48)]  # (B, n_in, n_out)
ACTS = [twins.LINEAR, twins.LOGISTIC, twins.TANH, twins.RELU, twins.ELU, twins.SELU]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-5)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B,n_in,n_out", SHAPES)
def test_dense_forward_matches_numpy(rng, dtype, B, n_in, n_out):
    inp, W, b = rng.normal(size=(B, n_in)), rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    out = np.empty((B, n_out), dtype)
    _core.dense_forward(out, inp.astype(dtype), W.astype(dtype), b.astype(dtype))
    np.testing.assert_allclose(out, twins.dense_forward(inp, W, b), **_scaled(dtype, n_in))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B,n_in,n_out", SHAPES)
def test_dense_backward_matches_numpy_and_accumulates(rng, dtype, B, n_in, n_out):
    inp, W, dout = rng.normal(size=(B, n_in)), rng.normal(size=(n_out, n_in)), rng.normal(size=(B, n_out))
    # Start from non-zero gradients: backward must add to them, not overwrite.
    dinp0, dW0, db0 = rng.normal(size=(B, n_in)), rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    dinp, dW, db = dinp0.astype(dtype), dW0.astype(dtype), db0.astype(dtype)
    _core.dense_backward(dinp, dW, db, dout.astype(dtype), inp.astype(dtype), W.astype(dtype))
    want_dinp, want_dW, want_db = twins.dense_backward(dout, inp, W)
    np.testing.assert_allclose(dinp, dinp0 + want_dinp, **_scaled(dtype, n_out))
    np.testing.assert_allclose(dW, dW0 + want_dW, **_scaled(dtype, B))
    np.testing.assert_allclose(db, db0 + want_db, **_scaled(dtype, B))


def test_dense_backward_without_dinp(rng):
    inp, W, dout = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=(4, 2))
    dW, db = np.zeros((2, 3)), np.zeros(2)
    _core.dense_backward(None, dW, db, dout, inp, W)
    np.testing.assert_allclose(dW, dout.T @ inp, rtol=1e-12)


@pytest.mark.parametrize("transA", [False, True])
@pytest.mark.parametrize("transB", [False, True])
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (5, 7, 3), (33, 17, 65)])
def test_gemm_all_transposes(rng, transA, transB, M, N, K):
    A = rng.normal(size=(K, M) if transA else (M, K))
    B = rng.normal(size=(N, K) if transB else (K, N))
    C0 = rng.normal(size=(M, N))
    want = (A.T if transA else A) @ (B.T if transB else B)
    C = np.empty((M, N))
    _core.gemm(C, A, B, transA, transB, False)
    np.testing.assert_allclose(C, want, rtol=1e-12, atol=1e-12)
    C = C0.copy()
    _core.gemm(C, A, B, transA, transB, True)
    np.testing.assert_allclose(C, C0 + want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ACTS)
@pytest.mark.parametrize("beta", [1.0, 0.7, 2.5])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (32, 35)])
def test_activation_forward_backward(rng, dtype, kind, beta, shape):
    x = rng.normal(scale=2.0, size=shape)
    y = np.empty(shape, dtype)
    _core.act_forward(y, x.astype(dtype), kind, beta)
    np.testing.assert_allclose(y, twins.act_forward(x, kind, beta), **TOL[dtype])
    dout, dinp0 = rng.normal(size=shape), rng.normal(size=shape)
    dinp = dinp0.astype(dtype)
    _core.act_backward(dinp, dout.astype(dtype), y, kind, beta)
    want = dinp0 + dout * twins.act_grad(y.astype(np.float64), kind, beta)
    np.testing.assert_allclose(dinp, want, **TOL[dtype])


def test_logistic_uses_the_course_convention():
    """logistic(β) = 1/(1+exp(−2βx)): at β = 0.5 it is the usual sigmoid."""
    x = np.linspace(-5, 5, 11)
    y = np.empty_like(x)
    _core.act_forward(y, x, _core.LOGISTIC, 0.5)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", twins.LOSS_CODES)  # MSE, BCE, MAE, summed or mean over features
@pytest.mark.parametrize("kind", ACTS)
@pytest.mark.parametrize("B,n", [(1, 1), (1, 35), (8, 5)])
def test_loss_forward_backward(rng, dtype, loss, kind, B, n):
    beta = 0.8
    z = rng.normal(size=(B, n))
    y = twins.act_forward(z, kind, beta)
    t = rng.integers(0, 2, size=(B, n)).astype(float)
    z_, y_, t_ = (a.astype(dtype) for a in (z, y, t))
    value = _core.loss_forward(z_, y_, t_, loss, kind, beta)
    want = twins.loss_forward(z_.astype(float), y_.astype(float), t, loss, kind, beta, dtype)
    np.testing.assert_allclose(value, want, rtol=1e-12 if dtype == np.float64 else 1e-5)
    dz0 = rng.normal(size=(B, n))
    dz = dz0.astype(dtype)
    _core.loss_backward(dz, z_, y_, t_, loss, kind, beta)
    want = dz0 + twins.loss_backward(z_.astype(float), y_.astype(float), t, loss, kind, beta, dtype)
    np.testing.assert_allclose(dz, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_is_finite_where_logistic_saturates(dtype):
    """With a logistic output, BCE comes from the pre-activation: no log(0) even at y = 0 or 1."""
    z = np.array([[-400.0, 400.0, -50.0, 50.0]], dtype)
    y = np.empty_like(z)
    _core.act_forward(y, z, _core.LOGISTIC, 1.0)
    assert y[0, 0] == 0 and y[0, 1] == 1  # saturated in this dtype: log(y) would be -inf
    t = np.array([[1.0, 0.0, 0.0, 1.0]], dtype)
    value = _core.loss_forward(z, y, t, _core.BCE, _core.LOGISTIC, 1.0)
    # softplus(u) − t·u with u = 2z: 800 for each wrong saturated pixel, ~0 for the right ones.
    np.testing.assert_allclose(value, 1600.0, rtol=1e-6, atol=1e-6)
    dz = np.zeros_like(z)
    _core.loss_backward(dz, z, y, t, _core.BCE, _core.LOGISTIC, 1.0)
    assert np.all(np.isfinite(dz))
    np.testing.assert_allclose(dz, 2.0 * (y - t), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", [twins.GD, twins.MOMENTUM, twins.ADAM])
def test_one_optimizer_step_against_closed_form(rng, dtype, kind):
    n = 50
    p0, g = rng.normal(size=n), rng.normal(size=n)
    m0, v0 = rng.normal(size=n) * 0.1, rng.uniform(0.0, 0.1, size=n)
    args = dict(lr=0.03, momentum=0.8, beta1=0.9, beta2=0.999, eps=1e-8, t=4)
    p, m, v = p0.astype(dtype), m0.astype(dtype), v0.astype(dtype)
    t = _core.optim_step(p, m, v, g.astype(dtype), kind, *args.values())
    want_p, want_m, want_v, want_t = twins.optim_step(p0, m0, v0, g, kind, **args)
    assert t == want_t == 5
    tol = TOL[dtype]
    np.testing.assert_allclose(p, want_p, **tol)
    if kind != twins.GD:
        np.testing.assert_allclose(m, want_m, **tol)
    if kind == twins.ADAM:
        np.testing.assert_allclose(v, want_v, **tol)


OPTIMIZERS = ["GD", "MOMENTUM", "ADAM", "RMSPROP", "ADADELTA", "ADAMW", "NADAM"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_optimizer_step_on_threads_gives_one_threads_bits(rng, dtype, kind):
    """A large update runs as slices on up to 4 threads (the step of a whole batch at 2 threads
    and more): every element's arithmetic is the same, so the bits are those of one thread, and
    they match the twin. 100,003 parameters: past the threshold, and slices that end mid-line."""
    n = 100_003
    p0, g = rng.normal(size=n), rng.normal(size=n)
    m0, v0 = rng.uniform(0.0, 0.1, size=n), rng.uniform(0.0, 0.1, size=n)  # Adadelta's m is a mean square
    args = (0.03, 0.8, 0.9, 0.999, 1e-7, 4, 0.9, 0.01)  # lr .. t, rho, weight_decay
    code = getattr(_core, kind)
    results = []
    for nthreads in (1, 2, 3, 4):
        p, m, v = p0.astype(dtype), m0.astype(dtype), v0.astype(dtype)
        assert _core.optim_step(p, m, v, g.astype(dtype), code, *args, nthreads) == 5
        results.append((p, m, v))
    for nthreads, got in zip((2, 3, 4), results[1:]):
        for name, a, b in zip("pmv", got, results[0]):
            assert np.array_equal(a, b), f"{name} at nthreads={nthreads} differs from nthreads=1"
    want = twins.optim_step(p0, m0, v0, g, getattr(twins, kind), *args[:6], rho=args[6],
                            weight_decay=args[7])[:3]
    for name, got, w in zip("pmv", results[0], want):
        np.testing.assert_allclose(got, w, **TOL[dtype], err_msg=name)


@pytest.mark.parametrize("nthreads", [1, 2, 4])
def test_optimizer_step_on_threads_refuses_a_step_that_overflows(rng, nthreads):
    """One parameter of the last slice would overflow float32: no slice writes, t stays."""
    n = 100_003
    p0, g = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    g[n - 5] = 3e38
    p, m, v = p0.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)
    assert _core.optim_step(p, m, v, g, _core.GD, 10.0, 0.0, 0.9, 0.999, 1e-8, 7, 0.9, 0.0, nthreads) == 7
    assert np.array_equal(p, p0) and not m.any() and not v.any()


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("t", [0, 3, 10, 20, 25, 30, 34, 63, 64, 65, 66, 100, 200, 421, 422, 10**6])
def test_adam_bias_correction_late_steps(rng, beta, t):
    """optim.c stops calling pow once β^t is too small to change 1 - β^t: the steps around that
    point (t ≈ 64 / -log2 β) must still move p as the closed form does, to float64 precision."""
    n = 16
    p0, g = rng.normal(size=n), rng.normal(size=n)
    m0, v0 = rng.normal(size=n) * 0.1, rng.uniform(0.01, 0.1, size=n)
    p, m, v = p0.copy(), m0.copy(), v0.copy()
    _core.optim_step(p, m, v, g, _core.ADAM, 0.1, 0.0, beta, beta, 1e-8, t)
    want_p = twins.optim_step(p0, m0, v0, g, twins.ADAM, 0.1, beta1=beta, beta2=beta, eps=1e-8, t=t)[0]
    # the step, not p: a correction off by 1e-10 would change p only in its last digits
    np.testing.assert_allclose(p - p0, want_p - p0, rtol=1e-11)


def test_adam_first_step_moves_every_weight_by_lr():
    """From zero state, Adam's bias correction makes the first step exactly lr·sign(g)."""
    g = np.array([3.0, -0.001, 250.0])
    p, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    _core.optim_step(p, m, v, g, _core.ADAM, 1e-3, 0.0, 0.9, 0.999, 1e-8, 0)
    np.testing.assert_allclose(p, -1e-3 * np.sign(g), rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_whole_network_loss_and_gradient_match_numpy(rng, dtype):
    sizes = np.array([6, 5, 2, 4, 6], np.int64)
    acts = np.array([twins.TANH, twins.LINEAR, twins.RELU, twins.LOGISTIC], np.int32)
    betas = np.array([0.7, 1.0, 1.0, 1.3])
    P = int(sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:])))
    params = rng.normal(scale=0.7, size=P)
    for B in (1, 9):
        X = rng.uniform(size=(B, 6))
        Y = (rng.uniform(size=(B, 6)) > 0.5).astype(float)
        for loss in (twins.MSE, twins.BCE):
            grads = np.zeros(P, dtype)
            value = _core.loss_grad(sizes, acts, betas, params.astype(dtype), grads,
                                    X.astype(dtype), Y.astype(dtype), loss)
            want, want_grad = twins.net_loss_grad(params, sizes, acts, betas, X, Y, loss)
            np.testing.assert_allclose(value, want, rtol=1e-12 if dtype == np.float64 else 1e-5)
            np.testing.assert_allclose(grads, want_grad, **_scaled(dtype, 10))


def test_predict_runs_any_slice_of_layers(rng):
    sizes = np.array([4, 3, 2, 3, 4], np.int64)
    acts = np.array([twins.TANH, twins.LINEAR, twins.TANH, twins.LOGISTIC], np.int32)
    betas = np.ones(4)
    params = rng.normal(size=int(sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:]))))
    X = rng.uniform(size=(300, 4))  # more rows than one chunk of the C predict loop
    trace = twins.net_forward(params, sizes, acts, betas, X)
    for l0, l1 in [(0, 4), (0, 2), (2, 4), (1, 3), (2, 2)]:
        out = np.empty((300, sizes[l1]))
        _core.predict(sizes, acts, betas, params, out, np.ascontiguousarray(trace[l0][1]), l0, l1)
        np.testing.assert_allclose(out, trace[l1][1], rtol=1e-12, atol=1e-12)


def test_pixel_errors_threshold_at_half():
    Y = np.array([[0.49, 0.5, 0.51, 0.0], [1.0, 1.0, 1.0, 1.0]])
    T = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    errs = np.empty(2, np.int64)
    _core.pixel_errors(errs, Y, T)
    assert errs.tolist() == [2, 0]  # 0.5 counts as on; the last pixel is off against on


def _scaled(dtype, n):
    """Tolerance for a sum of n products in dtype."""
    if dtype == np.float64:
        return dict(rtol=1e-11, atol=1e-11 * max(1, n))
    return dict(rtol=1e-4, atol=1e-5 * max(1, n))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_random_narrow_networks_match_numpy_for_every_batch_size(dtype, seed):
    """Widths 1..39 (below, at and above one vector of 8) and 1, 2, 7, 33 rows: the one-sample
    path (matrix-vector products, fused bias and activation) and the batched path agree with
    the NumPy twin, for the loss, the gradient and predictions."""
    rng = np.random.default_rng(100 + seed)
    L = int(rng.integers(2, 6))
    sizes = rng.integers(1, 40, size=L + 1).astype(np.int64)
    acts = rng.integers(0, 4, size=L).astype(np.int32)
    acts[-1] = twins.LOGISTIC
    betas = rng.uniform(0.5, 1.5, size=L)
    P = int(sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:])))
    params = rng.normal(scale=0.6, size=P)
    for B in (1, 2, 7, 33):
        X = rng.uniform(size=(B, sizes[0]))
        Y = (rng.uniform(size=(B, sizes[-1])) > 0.5).astype(float)
        for loss in (twins.MSE, twins.BCE):
            grads = np.zeros(P, dtype)
            value = _core.loss_grad(sizes, acts, betas, params.astype(dtype), grads,
                                    X.astype(dtype), Y.astype(dtype), loss)
            want, want_grad = twins.net_loss_grad(params, sizes, acts, betas, X, Y, loss)
            np.testing.assert_allclose(value, want, rtol=1e-11 if dtype == np.float64 else 2e-5)
            np.testing.assert_allclose(grads, want_grad, **_scaled(dtype, 40))
        out = np.empty((B, sizes[-1]), dtype)
        _core.predict(sizes, acts, betas, params.astype(dtype), out, X.astype(dtype), 0, L)
        np.testing.assert_allclose(out, twins.net_forward(params, sizes, acts, betas, X)[-1][1],
                                   **_scaled(dtype, 40))


@pytest.mark.parametrize("batch_size", [1, 5, 32])
@pytest.mark.parametrize("optimizer", ["gd", "adam"])
@pytest.mark.parametrize("threads", [1, 2, 3])  # 32 rows: 2 or 3 data-parallel parts (sia.h)
def test_one_training_epoch_matches_numpy_step_by_step(batch_size, optimizer, threads):
    """The C training loop (gather, forward, loss, its own backward, optimizer) against the
    twins, batch by batch in order, in float64."""
    from sia_autoencoder import Autoencoder, datasets
    X, _ = datasets.load_font()
    ae = Autoencoder([35, 9, 3, 9, 35], activation=("tanh", 0.8), seed=3, dtype="float64",
                     optimizer=optimizer, learning_rate=0.05, threads=threads)
    sizes, acts, betas = ae.net.sizes, ae.net.act, ae.net.beta
    p = ae.params.copy()
    m, v, t = np.zeros_like(p), np.zeros_like(p), 0
    kind = twins.GD if optimizer == "gd" else twins.ADAM
    for epoch in range(2):
        for start in range(0, 32, batch_size):
            xb = X[start:start + batch_size]
            _, g = twins.net_loss_grad(p, sizes, acts, betas, xb, xb, twins.BCE)
            p, m, v, t = twins.optim_step(p, m, v, g, kind, 0.05, t=t)
    ae.fit(X, epochs=2, batch_size=batch_size, shuffle=False)
    np.testing.assert_allclose(ae.params, p, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("batch_size", [300, 260, None])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_a_batch_larger_than_one_chunk_matches_numpy(batch_size, threads):
    """Batches over SIA_STEP_ROWS (256) rows are summed chunk by chunk in C; the step must still
    be the full batch's mean gradient. With threads, each chunk is split into data-parallel
    parts, a later chunk into fewer (260 rows: 256, then 4 rows in one part)."""
    from sia_autoencoder import Autoencoder
    rng = np.random.default_rng(7)
    X = (rng.uniform(size=(700, 12)) > 0.5).astype(float)
    ae = Autoencoder([12, 6, 3, 6, 12], seed=1, dtype="float64", optimizer="gd",
                     learning_rate=0.5, threads=threads)
    p = ae.params.copy()
    B = batch_size or 700
    total = 0.0
    for start in range(0, 700, B):
        xb = X[start:start + B]
        loss, g = twins.net_loss_grad(p, ae.net.sizes, ae.net.act, ae.net.beta, xb, xb, twins.BCE)
        total += loss * len(xb)
        p = p - 0.5 * g
    h = ae.fit(X, epochs=1, batch_size=batch_size, shuffle=False)
    np.testing.assert_allclose(ae.params, p, rtol=1e-10, atol=1e-12)
    assert h.history["loss"][0] == pytest.approx(total / 700, rel=1e-12)  # mean over samples
