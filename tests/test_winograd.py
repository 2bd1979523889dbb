"""Winograd's F(2 × 2, 3 × 3) path of 3 × 3 stride-1 Conv2D layers (csrc/winograd.c), which
conv.c takes for both channel counts >= WINO_MIN_C (24) and out channels a multiple of the vector:
against its NumPy twin (tests/twins.py, itself checked against the direct twin) and the direct
paths (_core._set_winograd(False)), on odd and non-square sizes, 'valid' and 'same', B = 1 and
more, channels around the threshold, both dtypes and every vector path; by finite differences in
float64; against PyTorch in float64; forward bit-identical for 1 and 2 threads. Then the same for the forward of 3 × 3 stride-2
Conv2DTranspose layers by F(2, 2) on its phases (csrc/winograd2.c), for the shapes of its gate,
and the direct path outside it."""
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


def on_avx512_and_avx2(f):
    """(f() on the avx512 path, f() on the avx2 path), the process's path restored after."""
    old = _core._set_simd_path("avx512")
    try:
        wide = f()
        _core._set_simd_path("avx2")
        return wide, f()
    finally:
        _core._set_simd_path(old)


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
    wide, narrow = on_avx512_and_avx2(lambda: run(geom, x, params, dz, dtype, nthreads))
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


# ---- Conv2DTranspose 3 × 3 stride 2, forward by F(2, 2) on its phases (csrc/winograd2.c) ----
# conv.c takes it for the shapes of wino2_fits: both channel counts >= 24, at least 2 × 2 tiles
# of 4 × 4 outputs, at least 80% of the tiles' cells in the grid, and >= 48 input channels or
# an input of >= 144 pixels; its backward stays the direct one.

# (B, (ih, iw, ic), out_c, padding)
T_CASES = [
    (2, (14, 14, 64), 32, "same"),    # workload F's largest: several pieces per sample
    (3, (4, 4, 48), 24, "same"),      # the fewest tiles (2 × 2) and wide channels
    (2, (9, 11, 50), 26, "valid"),    # odd, non-square, 2n + 1: partial tiles; channels not whole vectors
    (1, (12, 13, 24), 40, "same"),    # few input channels on a large input
    (4, (6, 8, 56), 33, "same"),      # several samples per unit
    (1, (11, 11, 97), 24, "valid"),
]
T_IDS = [f"B{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in T_CASES]
# the direct path: F's 7 × 7 (77% of the tiles' cells), one tile, narrow channels on a small
# input, channels below 24, 5 × 5 (69%), stride 1, 'same' crop of a 4 × 4 kernel
T_DIRECT = [(2, (7, 7, 64), 64, "same", 2), (1, (2, 2, 64), 64, "same", 2), (2, (9, 9, 32), 32, "same", 2),
            (2, (8, 8, 23), 32, "same", 2), (2, (8, 8, 64), 23, "same", 2), (1, (5, 5, 64), 64, "same", 2),
            (2, (8, 8, 64), 32, "same", 1)]


def make_t(case, rng, dtype=np.float64, s=2):
    B, (ih, iw, ic), oc, padding = case
    (oh, pt), (ow, pl) = twins.conv_t_out(ih, 3, s, padding), twins.conv_t_out(iw, 3, s, padding)
    geom = np.array([ih, iw, ic, oh, ow, oc, 3, 3, s, s, pt, pl], np.int64)
    x, W, b = rng.normal(size=(B, ih, iw, ic)), rng.normal(size=(ic, 3, 3, oc)), rng.normal(size=oc)
    return geom, x, W, b, np.concatenate([W.ravel(), b]).astype(dtype), (B, oh, ow, oc)


def run_t(geom, x, params, dz, dtype, nthreads=1, winograd=True):
    """(z, dx, dW with db) of the Conv2DTranspose through _core, on the path asked for."""
    B = x.shape[0]
    old = _core._set_winograd(winograd)
    try:
        xf = x.reshape(B, -1).astype(dtype)
        z = np.full((B, int(np.prod(geom[3:6]))), np.nan, dtype)
        _core.layer_forward(twins.CONV2D_T, geom, z, xf, params, nthreads)
        dx, dW = np.full_like(xf, np.nan), np.full_like(params, np.nan)
        _core.layer_backward(twins.CONV2D_T, geom, dx, dW, dz.reshape(B, -1).astype(dtype), xf, params,
                             False, nthreads)
    finally:
        _core._set_winograd(old)
    return z, dx, dW


def test_the_stride2_twin_is_the_transposed_convolution(rng):
    """The F(2, 2) twin against the direct one: 'same' and 'valid', odd sizes, partial tiles,
    an input of one pixel."""
    for B, (ih, iw, ic), oc, padding in T_CASES[1:3] + [(2, (7, 5, 3), 4, "same"), (1, (1, 1, 2), 3, "valid"),
                                                        (1, (3, 6, 2), 2, "valid")]:
        geom, x, W, b, _, out = make_t((B, (ih, iw, ic), oc, padding), rng)
        want = twins.conv2d_t_forward(x, W, b, (2, 2), (0, 0), out[1:3])
        np.testing.assert_allclose(twins.wino2_conv2d_t_forward(x, W, b, out[1:3]), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", T_CASES, ids=T_IDS)
def test_stride2_transpose_matches_twin_and_the_direct_path(rng, case, dtype, nthreads, simd_path, winograd):
    geom, x, W, b, params, out = make_t(case, rng, dtype)
    dz = rng.normal(size=out)
    z, dx, dW = run_t(geom, x, params, dz, dtype, nthreads)
    np.testing.assert_allclose(z.reshape(out), twins.wino2_conv2d_t_forward(x, W, b, out[1:3]), **TOL[dtype])
    z0, dx0, dW0 = run_t(geom, x, params, dz, dtype, nthreads, winograd=False)
    assert not np.array_equal(z, z0)  # the Winograd path ran
    np.testing.assert_allclose(z, z0, **TOL[dtype])
    assert np.array_equal(dx, dx0)  # din is the direct one; dW by F(2, 2) for some (test_winograd_dw.py)
    np.testing.assert_allclose(dW, dW0, **TOL[dtype])
    want_dx, want_dW, want_db = twins.conv2d_t_backward(dz, x, W, (2, 2), (0, 0))
    np.testing.assert_allclose(dx.reshape(x.shape), want_dx, **TOL[dtype])
    np.testing.assert_allclose(dW, np.concatenate([want_dW.ravel(), want_db]), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", T_DIRECT, ids=str)
def test_stride2_transpose_outside_the_gate_is_the_direct_path(rng, case, dtype, winograd):
    """Shapes where F(2, 2) loses (or does not apply): the switch changes nothing."""
    geom, x, W, b, params, out = make_t(case[:4], rng, dtype, s=case[4])
    dz = rng.normal(size=out)
    on, off = run_t(geom, x, params, dz, dtype), run_t(geom, x, params, dz, dtype, winograd=False)
    for got, want in zip(on[:2], off[:2]):
        assert np.array_equal(got, want)
    np.testing.assert_allclose(on[2], off[2], **TOL[dtype])  # dW may go by F(2, 2) (test_winograd_dw.py)
    np.testing.assert_allclose(on[0].reshape(out), twins.conv2d_t_forward(x, W, b, (case[4],) * 2, tuple(geom[10:]),
                                                                         out[1:3]), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stride2_transpose_is_bit_identical_for_1_and_2_threads_and_run_to_run(rng, dtype, winograd):
    geom, x, W, b, params, out = make_t((9, (14, 14, 64), 32, "same"), rng, dtype)
    B = x.shape[0]
    xf = x.reshape(B, -1).astype(dtype)
    z1, z2, z3 = (np.zeros((B, int(np.prod(out[1:]))), dtype) for _ in range(3))
    _core.layer_forward(twins.CONV2D_T, geom, z1, xf, params, 1)
    _core.layer_forward(twins.CONV2D_T, geom, z2, xf, params, 2)
    _core.layer_forward(twins.CONV2D_T, geom, z3, xf, params, 1)
    assert np.array_equal(z1, z2) and np.array_equal(z1, z3)
    for i in (0, 4, 8):  # a sample alone: the same bits as in the batch
        zi = np.zeros((1, z1.shape[1]), dtype)
        _core.layer_forward(twins.CONV2D_T, geom, zi, xf[i:i + 1], params, 2)
        assert np.array_equal(zi[0], z1[i])
    np.testing.assert_allclose(z1.reshape(out), twins.wino2_conv2d_t_forward(x, W, b, out[1:3]), **TOL[dtype])


@pytest.mark.skipif("avx512" not in SIMD_PATHS, reason="the CPU has no AVX-512")
@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", T_CASES, ids=T_IDS)
def test_stride2_transpose_gives_the_same_bits_on_avx512_and_avx2(rng, case, dtype, nthreads, winograd):
    """The products (conv.c's forward panel kernel) in 64-byte vectors on avx512 keep avx2's
    chains; the transforms are 32-byte on both."""
    geom, x, W, b, params, out = make_t(case, rng, dtype)
    dz = rng.normal(size=out)
    wide, narrow = on_avx512_and_avx2(lambda: run_t(geom, x, params, dz, dtype, nthreads))
    for a, c in zip(wide, narrow):
        assert np.array_equal(a.view(np.uint8), c.view(np.uint8))


@pytest.mark.skipif("avx512" not in SIMD_PATHS, reason="the CPU has no AVX-512")
def test_stride2_transpose_under_sia_simd_avx2_gives_the_same_bits(tmp_path, winograd):
    """SIA_SIMD=avx2 set before the import (a fresh process) gives avx512's bits for F's layer."""
    import os
    import subprocess
    import sys
    geom, x, W, b, params, out = make_t((2, (14, 14, 64), 32, "same"), np.random.default_rng(5), np.float32)
    xf = x.reshape(2, -1).astype(np.float32)
    np.save(tmp_path / "x.npy", xf)
    np.save(tmp_path / "p.npy", params)
    old = _core._set_simd_path("avx512")
    try:
        z = np.empty((2, int(np.prod(out[1:]))), np.float32)
        _core.layer_forward(twins.CONV2D_T, geom, z, xf, params, 1)
    finally:
        _core._set_simd_path(old)
    code = ("import sys, numpy as np; from sia_autoencoder import _core; d = sys.argv[1]; "
            "x, p = np.load(d + '/x.npy'), np.load(d + '/p.npy'); "
            "z = np.empty((2, 28 * 28 * 32), np.float32); "
            f"_core.layer_forward(_core.LAYER_CONV2D_T, np.array({[int(v) for v in geom]}, np.int64), z, x, p, 1); "
            "np.save(d + '/z.npy', z); print(_core.simd_path())")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=dict(os.environ, SIA_SIMD="avx2"),
                       capture_output=True, text=True, check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert r.stdout.split() == ["avx2"]
    assert np.array_equal(np.load(tmp_path / "z.npy").view(np.uint8), z.view(np.uint8))


@pytest.mark.parametrize("case", T_CASES[1:4], ids=T_IDS[1:4])
def test_stride2_transpose_matches_pytorch(case, winograd):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    geom, x, W, b, params, out = make_t(case, rng)
    R = rng.normal(size=out)
    z, dx, dW = run_t(geom, x, params, R, np.float64)
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    with torch.enable_grad():
        y = torch_forward(twins.CONV2D_T, geom, xt, Wt, bt)
        (y * torch.tensor(R)).sum().backward()
    want_dW = np.concatenate([Wt.grad.numpy().ravel(), bt.grad.numpy()])
    for got, ref in ((z.reshape(out), y.detach().numpy()), (dx.reshape(x.shape), xt.grad.numpy()), (dW, want_dW)):
        assert np.max(np.abs(got - ref)) <= 1e-10 * max(1.0, np.max(np.abs(ref)))


def test_the_stride2_transposes_fused_relu_is_the_layers(rng, winograd):
    """A ReLU Conv2DTranspose on the F(2, 2) path: its output is the twin's through the ReLU (the
    bias and the ReLU after the output transform, the odd-odd phase's by the direct kernel), and
    the model trains as on the direct path."""
    from sia_autoencoder import Autoencoder, layers as L
    X, a, bias = rng.random((6, 8, 8, 1)), rng.normal(size=(5, 4, 4, 48)), rng.normal(size=24)
    losses = []
    for on in (True, False):
        old = _core._set_winograd(on)
        try:
            ae = Autoencoder(encoder=[L.Conv2D(48, 3, strides=2, padding="same", activation="relu")],
                             decoder=[L.Conv2DTranspose(24, 3, strides=2, padding="same", activation="relu"),
                                      L.Conv2D(1, 3, padding="same", activation="sigmoid")],
                             input_shape=(8, 8, 1), loss="bce", seed=0, dtype="float64")
            k = [i for i, layer in enumerate(ae.net.layers) if layer.kind == twins.CONV2D_T][0]
            W, b = ae.net.layers[k].views(ae.net.layer_params(ae.net.layers[k]))
            b[...] = bias  # some outputs below zero by the bias alone
            got = ae.net.forward(a.reshape(5, -1), k, k + 1).reshape(5, 8, 8, 24)
            want = np.maximum(twins.wino2_conv2d_t_forward(a, W.reshape(48, 3, 3, 24), b, (8, 8)), 0)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            assert 0.2 < np.mean(got == 0) < 0.8
            losses.append(ae.fit(X, epochs=3, batch_size=3).history["loss"])
        finally:
            _core._set_winograd(old)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-10)
