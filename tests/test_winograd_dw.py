"""The weight gradient of 3 × 3 stride-2 Conv2D and Conv2DTranspose layers by F(2, 2)
(csrc/winograd2.c, wino2dw_fits: both channel counts >= 32, the big image's channels (the input's
of a Conv2D, the output's of a Conv2DTranspose) in whole 64-byte vectors, an even small grid):
its NumPy twin against the direct one; the layer's dW against the twin and the direct path
(_core._set_winograd(False)) on odd, non-square, 'valid' and 'same' shapes, channels that are
not whole vectors, both dtypes, every SIMD path, 1 and 2 threads, din and db untouched; the
same bits from run to run and on avx512 and avx2; shapes outside the gate the same bits with
the switch on or off; PyTorch in float64 for the layers and for a model."""
import numpy as np
import pytest

import twins  # noqa: E402  (tests/twins.py)
from conftest import SIMD_PATHS
from sia_autoencoder import _core
from test_conv_kernels import TOL, torch_forward
from test_winograd import on_avx512_and_avx2

# (kind, B, (ih, iw, ic), out_c, padding): inside the gate
CASES = [
    ("T", 2, (14, 14, 64), 32, "same"),    # workload F's 14 × 14 × 64 -> 28 × 28 × 32
    ("T", 3, (4, 6, 40), 32, "valid"),     # non-square, 'valid' (2n + 1 outputs), 40 small channels
    ("T", 2, (10, 8, 33), 48, "same"),     # small channels not a whole vector
    ("T", 5, (2, 2, 32), 64, "same"),      # one tile a sample, several samples a unit
    ("C", 2, (28, 28, 32), 64, "same"),    # Conv2D 28 × 28 -> 14 × 14, no padding above
    ("C", 2, (11, 7, 32), 40, "same"),     # odd input, padding (1, 1); small channels 40
    ("C", 1, (11, 8, 64), 33, "same"),     # padding (1, 0), small channels not a whole vector
    ("C", 2, (13, 9, 48), 32, "valid"),    # 'valid': the big image's last row and column unread
]
IDS = [f"{c[0]}-B{c[1]}-{c[2]}-{c[3]}-{c[4]}" for c in CASES]
# outside: a 7 × 7 small grid (F's other two), 24 channels, a big image of 36 channels (not whole
# 64-byte vectors in either dtype), a small grid of 3 × 3 ('valid')
OUTSIDE = [("T", 2, (7, 7, 64), 64, "same"), ("C", 2, (14, 14, 32), 64, "same"), ("T", 2, (8, 8, 24), 32, "same"),
           ("T", 2, (8, 8, 64), 36, "same"), ("C", 2, (16, 16, 36), 32, "same"), ("C", 2, (8, 8, 32), 32, "valid")]


def make(case, rng, dtype=np.float64):
    kind, B, (ih, iw, ic), oc, padding = case
    out = twins.conv_t_out if kind == "T" else twins.conv_out
    (oh, pt), (ow, pl) = out(ih, 3, 2, padding), out(iw, 3, 2, padding)
    geom = np.array([ih, iw, ic, oh, ow, oc, 3, 3, 2, 2, pt, pl], np.int64)
    x = rng.normal(size=(B, ih, iw, ic))
    W = rng.normal(size=(ic, 3, 3, oc) if kind == "T" else (oc, 3, 3, ic))
    b = rng.normal(size=oc)
    return geom, x, W, b, np.concatenate([W.ravel(), b]).astype(dtype), (B, oh, ow, oc)


def run(kind, geom, x, params, dz, dtype, nthreads=1, winograd=True):
    """(dx, dW with db) of the layer's backward through _core, on the path asked for."""
    B = x.shape[0]
    code = twins.CONV2D_T if kind == "T" else twins.CONV2D
    old = _core._set_winograd(winograd)
    try:
        xf = x.reshape(B, -1).astype(dtype)
        dx, dW = np.full_like(xf, np.nan), np.full_like(params, np.nan)
        _core.layer_backward(code, geom, dx, dW, dz.reshape(B, -1).astype(dtype), xf, params, False, nthreads)
    finally:
        _core._set_winograd(old)
    return dx, dW


def twin_dw(kind, x, dz, geom):
    pad = tuple(int(v) for v in geom[10:])
    return twins.wino2_dw(x, dz, pad) if kind == "T" else twins.wino2_dw(dz, x, pad)


def direct_twin(kind, x, W, dz, geom):
    f = twins.conv2d_t_backward if kind == "T" else twins.conv2d_backward
    return f(dz, x, W, (2, 2), tuple(int(v) for v in geom[10:]))


def test_the_twin_is_the_weight_gradient(rng):
    """wino2_dw against the direct twins' dW, both kinds, odd sizes, partial tiles, paddings."""
    for kind in "TC":
        for B, hwc, oc, padding in [(2, (7, 5, 3), 4, "same"), (2, (8, 6, 2), 3, "valid"), (1, (9, 11, 3), 2, "valid"),
                                    (2, (6, 7, 2), 2, "same"), (1, (1, 1, 2), 3, "same")]:
            geom, x, W, b, _, out = make((kind, B, hwc, oc, padding), rng)
            dz = rng.normal(size=out)
            np.testing.assert_allclose(twin_dw(kind, x, dz, geom), direct_twin(kind, x, W, dz, geom)[1],
                                       rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_twin_and_the_direct_path(rng, case, dtype, nthreads, simd_path):
    kind = case[0]
    geom, x, W, b, params, out = make(case, rng, dtype)
    dz = rng.normal(size=out)
    dx, dW = run(kind, geom, x, params, dz, dtype, nthreads)
    dx0, dW0 = run(kind, geom, x, params, dz, dtype, nthreads, winograd=False)
    assert np.array_equal(dx, dx0)  # din is the direct path's
    if nthreads == 1:  # and so is db (with more threads, its tasks take other units of samples)
        assert np.array_equal(dW[W.size:], dW0[W.size:])
    assert not np.array_equal(dW, dW0)  # the F(2, 2) path ran
    np.testing.assert_allclose(dW, dW0, **TOL[dtype])
    np.testing.assert_allclose(dW[:W.size].reshape(W.shape), twin_dw(kind, x, dz, geom), **TOL[dtype])
    want_dx, want_dW, want_db = direct_twin(kind, x, W, dz, geom)
    np.testing.assert_allclose(dW, np.concatenate([want_dW.ravel(), want_db]), **TOL[dtype])
    np.testing.assert_allclose(dx.reshape(x.shape), want_dx, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bit_identical_run_to_run_and_accumulates(rng, dtype):
    """The same bits from call to call for a given thread count (dW adds the tasks' partial
    sums in task order); accumulate adds to what dW holds."""
    case = ("T", 9, (14, 14, 64), 32, "same")
    geom, x, W, b, params, out = make(case, rng, dtype)
    dz = rng.normal(size=out)
    for nthreads in (1, 2):
        first = run("T", geom, x, params, dz, dtype, nthreads)
        for _ in range(2):
            for a, c in zip(first, run("T", geom, x, params, dz, dtype, nthreads)):
                assert np.array_equal(a, c)
    B = x.shape[0]
    xf, dzf = x.reshape(B, -1).astype(dtype), dz.reshape(B, -1).astype(dtype)
    acc = np.ones_like(params)
    _core.layer_backward(twins.CONV2D_T, geom, None, acc, dzf, xf, params, True, 2)
    np.testing.assert_allclose(acc - 1, first[1], **TOL[dtype])


@pytest.mark.skipif("avx512" not in SIMD_PATHS, reason="the CPU has no AVX-512")
@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_avx512_and_avx2_give_the_same_bits(rng, case, dtype, nthreads):
    """The transforms (additions, 64-byte vectors on avx512) and the products (conv.c's dWᵀ
    tiles, the same chains on both widths): dx and dW the same bits on both paths."""
    geom, x, W, b, params, out = make(case, rng, dtype)
    dz = rng.normal(size=out)
    wide, narrow = on_avx512_and_avx2(lambda: run(case[0], geom, x, params, dz, dtype, nthreads))
    for a, c in zip(wide, narrow):
        assert np.array_equal(a.view(np.uint8), c.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", OUTSIDE, ids=str)
def test_outside_the_gate_the_switch_changes_nothing(rng, case, dtype):
    geom, x, W, b, params, out = make(case, rng, dtype)
    dz = rng.normal(size=out)
    for nthreads in (1, 2):
        on = run(case[0], geom, x, params, dz, dtype, nthreads)
        off = run(case[0], geom, x, params, dz, dtype, nthreads, winograd=False)
        for a, c in zip(on, off):
            assert np.array_equal(a, c)


@pytest.mark.parametrize("case", CASES[1:3] + CASES[5:7], ids=IDS[1:3] + IDS[5:7])
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    kind = case[0]
    geom, x, W, b, params, out = make(case, rng)
    R = rng.normal(size=out)
    dx, dW = run(kind, geom, x, params, R, np.float64)
    code = twins.CONV2D_T if kind == "T" else twins.CONV2D
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    with torch.enable_grad():
        y = torch_forward(code, geom, xt, Wt, bt)
        (y * torch.tensor(R)).sum().backward()
    want = np.concatenate([Wt.grad.numpy().ravel(), bt.grad.numpy()])
    for got, ref in ((dx.reshape(x.shape), xt.grad.numpy()), (dW, want)):
        assert np.max(np.abs(got - ref)) <= 1e-10 * max(1.0, np.max(np.abs(ref)))
