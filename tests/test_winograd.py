"""Winograd's F(2 × 2, 3 × 3) path of 3 × 3 stride-1 Conv2D layers (csrc/winograd.c), which
conv.c takes for both channel counts >= WINO_MIN_C (24) and out channels a multiple of the vector:
against its NumPy twin (tests/twins.py, itself checked against the direct twin) and the direct
paths (_core._set_winograd(False)), on odd and non-square sizes, 'valid' and 'same', B = 1 and
more, channels around the threshold, both dtypes and every vector path; by finite differences in
float64; against PyTorch in float64; forward bit-identical for 1 and 2 threads."""
import numpy as np
import pytest

import twins  # noqa: E402  (tests/twins.py)
from conftest import SIMD_PATHS
from sia_autoencoder import _core
from test_conv_kernels import TOL, torch_forward

WINO_MIN_C = 24

# (B, (ih, iw, ic), out_c, padding)
CASES = [
    (2, (14, 14, 32), 32, "same"),    # D's layers
    (1, (7, 7, 32), 32, "same"),
    (3, (7, 5, 24), 24, "same"),      # odd, non-square: partial tiles in both directions
    (2, (6, 9, 32), 40, "valid"),
    (1, (5, 5, 25), 24, "valid"),     # in channels not a multiple of the vector
    (2, (9, 4, 40), 32, "same"),
    (1, (3, 3, 24), 32, "valid"),     # one output cell
    (5, (16, 17, 24), 24, "same"),    # several pieces per sample, several units
]
IDS = [f"B{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in CASES]


@pytest.fixture
def winograd():
    old = _core._set_winograd(True)
    yield
    _core._set_winograd(old)


def make(case, rng, dtype=np.float64):
    B, (ih, iw, ic), oc, padding = case
    (oh, pt), (ow, pl) = twins.conv_out(ih, 3, 1, padding), twins.conv_out(iw, 3, 1, padding)
    geom = np.array([ih, iw, ic, oh, ow, oc, 3, 3, 1, 1, pt, pl], np.int64)
    x, W, b = rng.normal(size=(B, ih, iw, ic)), rng.normal(size=(oc, 3, 3, ic)), rng.normal(size=oc)
    return geom, x, W, b, np.concatenate([W.ravel(), b]).astype(dtype), (pt, pl), (B, oh, ow, oc)


def run(geom, x, params, dz, dtype, nthreads=1, winograd=True):
    """(z, dx, dW with db) of the layer through _core, on the path asked for."""
    B = x.shape[0]
    old = _core._set_winograd(winograd)
    try:
        z = np.full((B, int(np.prod(geom[3:6]))), np.nan, dtype)
        _core.layer_forward(twins.CONV2D, geom, z, x.reshape(B, -1).astype(dtype), params, nthreads)
        dx, dW = np.full((B, x[0].size), np.nan, dtype), np.full_like(params, np.nan)
        _core.layer_backward(twins.CONV2D, geom, dx, dW, dz.reshape(B, -1).astype(dtype),
                             x.reshape(B, -1).astype(dtype), params, False, nthreads)
    finally:
        _core._set_winograd(old)
    return z, dx, dW


def test_the_twin_is_the_convolution(rng):
    """The Winograd twin against the direct one, 'same' and 'valid', odd sizes."""
    for B, hwc, oc, padding in CASES[2:5]:
        geom, x, W, b, _, pad, out = make((B, hwc, oc, padding), rng)
        z = twins.conv2d_forward(x, W, b, (1, 1), pad, out[1:3])
        np.testing.assert_allclose(twins.wino_conv2d_forward(x, W, b, pad, out[1:3]), z, rtol=1e-12, atol=1e-12)
        dz = rng.normal(size=out)
        for got, want in zip(twins.wino_conv2d_backward(dz, x, W, pad), twins.conv2d_backward(dz, x, W, (1, 1), pad)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_twin_and_the_direct_path(rng, case, dtype, nthreads, simd_path, winograd):
    geom, x, W, b, params, pad, out = make(case, rng, dtype)
    dz = rng.normal(size=out)
    z, dx, dW = run(geom, x, params, dz, dtype, nthreads)
    want_dx, want_dW, want_db = twins.wino_conv2d_backward(dz, x, W, pad)
    np.testing.assert_allclose(z.reshape(out), twins.wino_conv2d_forward(x, W, b, pad, out[1:3]), **TOL[dtype])
    np.testing.assert_allclose(dx.reshape(x.shape), want_dx, **TOL[dtype])
    np.testing.assert_allclose(dW, np.concatenate([want_dW.ravel(), want_db]), **TOL[dtype])
    z0, dx0, dW0 = run(geom, x, params, dz, dtype, nthreads, winograd=False)
    assert not np.array_equal(z, z0) or not np.array_equal(dW, dW0)  # the Winograd path ran
    for got, want in ((z, z0), (dx, dx0), (dW, dW0)):
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.skipif("avx512" not in SIMD_PATHS, reason="the CPU has no AVX-512")
@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES + [(2, (9, 7, 40), 56, "same"), (1, (6, 7, 33), 24, "valid")],
                         ids=str)
def test_avx512_and_avx2_give_the_same_bits(rng, case, dtype, nthreads, winograd):
    """The products (conv.c's forward panel kernel) and dU (its dWᵀ tiles) in 64-byte vectors
    on avx512 keep avx2's chains: z, dx and dW are the same bits on both paths."""
    geom, x, W, b, params, pad, out = make(case, rng, dtype)
    dz = rng.normal(size=out)
    old = _core._set_simd_path("avx512")
    try:
        wide = run(geom, x, params, dz, dtype, nthreads)
        _core._set_simd_path("avx2")
        narrow = run(geom, x, params, dz, dtype, nthreads)
    finally:
        _core._set_simd_path(old)
    for a, c in zip(wide, narrow):
        assert np.array_equal(a.view(np.uint8), c.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_direct_path_below_the_threshold(rng, dtype):
    """Fewer channels than WINO_MIN_C, or out channels not a multiple of the vector: the switch
    changes nothing."""
    for case in [(2, (7, 6, WINO_MIN_C - 8), 32, "same"), (2, (7, 6, 32), WINO_MIN_C - 8, "same"),
                 (1, (6, 6, 32), 30, "valid")]:
        geom, x, W, b, params, pad, out = make(case, rng, dtype)
        dz = rng.normal(size=out)
        for got, want in zip(run(geom, x, params, dz, dtype), run(geom, x, params, dz, dtype, winograd=False)):
            assert np.array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_is_bit_identical_for_1_and_2_threads_and_accumulates(rng, dtype, winograd):
    geom, x, W, b, params, pad, out = make((9, (14, 13, 32), 32, "same"), rng, dtype)
    B = x.shape[0]
    xf = x.reshape(B, -1).astype(dtype)
    z1, z2 = (np.zeros((B, int(np.prod(out[1:]))), dtype) for _ in range(2))
    _core.layer_forward(twins.CONV2D, geom, z1, xf, params, 1)
    _core.layer_forward(twins.CONV2D, geom, z2, xf, params, 2)
    assert np.array_equal(z1, z2)
    for i in (0, 4, 8):  # a sample alone: the same bits as in the batch
        zi = np.zeros((1, z1.shape[1]), dtype)
        _core.layer_forward(twins.CONV2D, geom, zi, xf[i:i + 1], params, 1)
        assert np.array_equal(zi[0], z1[i])
    dz = rng.normal(size=z1.shape).astype(dtype)
    for nthreads in (1, 2):
        dW = np.zeros_like(params)
        _core.layer_backward(twins.CONV2D, geom, None, dW, dz, xf, params, False, nthreads)
        dW2 = dW.copy()
        _core.layer_backward(twins.CONV2D, geom, None, dW2, dz, xf, params, False, nthreads)
        assert np.array_equal(dW, dW2)  # the same bits for a thread count
        acc = rng.normal(size=params.shape).astype(dtype)
        want = acc + dW
        _core.layer_backward(twins.CONV2D, geom, None, acc, dz, xf, params, True, nthreads)
        np.testing.assert_allclose(acc, want, **TOL[dtype])


@pytest.mark.parametrize("case", [CASES[2], CASES[4]], ids=[IDS[2], IDS[4]])
def test_gradients_match_finite_differences(case, winograd):
    rng = np.random.default_rng(7)
    geom, x, W, b, params, pad, out = make(case, rng)
    B = x.shape[0]
    xf = x.reshape(B, -1).copy()
    R = rng.normal(size=(B, int(np.prod(out[1:]))))

    def loss(xv, pv):
        z = np.zeros_like(R)
        _core.layer_forward(twins.CONV2D, geom, z, xv, pv)
        return float(np.sum(R * z))

    dx, dW = np.zeros_like(xf), np.zeros_like(params)
    _core.layer_backward(twins.CONV2D, geom, dx, dW, R, xf, params, False)
    h = 1e-6
    for i in rng.choice(xf.size, size=25, replace=False):
        e = np.zeros(xf.size)
        e[i] = h
        e = e.reshape(xf.shape)
        num = (loss(xf + e, params) - loss(xf - e, params)) / (2 * h)
        assert abs(num - dx.flat[i]) <= 1e-6 * max(1.0, abs(num)), (i, num, dx.flat[i])
    for i in rng.choice(params.size, size=25, replace=False):
        e = np.zeros(params.size)
        e[i] = h
        num = (loss(xf, params + e) - loss(xf, params - e)) / (2 * h)
        assert abs(num - dW[i]) <= 1e-6 * max(1.0, abs(num)), (i, num, dW[i])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_pytorch(case, winograd):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    geom, x, W, b, params, pad, out = make(case, rng)
    R = rng.normal(size=out)
    z, dx, dW = run(geom, x, params, R, np.float64)
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    with torch.enable_grad():
        y = torch_forward(twins.CONV2D, geom, xt, Wt, bt)
        (y * torch.tensor(R)).sum().backward()
    want = y.detach().numpy()
    want_dW = np.concatenate([Wt.grad.numpy().ravel(), bt.grad.numpy()])
    for got, ref in ((z.reshape(out), want), (dx.reshape(x.shape), xt.grad.numpy()), (dW, want_dW)):
        assert np.max(np.abs(got - ref)) <= 1e-10 * max(1.0, np.max(np.abs(ref)))


def test_the_fused_relu_is_the_layers(rng, winograd):
    """A ReLU Conv2D on the Winograd path trains as on the direct one (the forward applies the
    ReLU and the bias after the output transform, as the direct kernel does)."""
    from sia_autoencoder import Autoencoder, layers as L
    X = rng.random((12, 8, 8, 1))
    losses = []
    for on in (True, False):
        old = _core._set_winograd(on)
        try:
            ae = Autoencoder(encoder=[L.Conv2D(24, 3, padding="same", activation="relu"),
                                      L.Conv2D(24, 3, padding="same", activation="relu")],
                             decoder=[L.Conv2D(1, 3, padding="same", activation="sigmoid")],
                             input_shape=(8, 8, 1), loss="bce", seed=0, dtype="float64")
            losses.append(ae.fit(X, epochs=3, batch_size=4).history["loss"])
        finally:
            _core._set_winograd(old)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-10)
