"""The image layer kinds (csrc/conv.c, csrc/pooling.c) through _core.layer_forward /
layer_backward: against their NumPy twins (tests/twins.py) on several shapes, strides 1 and 2,
"same" and "valid", odd sizes, several channels, B = 1 and more, 1 and 2 threads; by finite
differences in float64; and against PyTorch on the same weights when it is installed."""
import os
import subprocess
import sys

import numpy as np
import pytest

import twins  # noqa: E402  (tests/twins.py)
from conftest import SIMD_PATHS
from sia_autoencoder import _core

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-4)}


def geometry(kind, in_hwc, out_c=None, k=3, s=1, padding="valid"):
    """(geom int64 (12,), out (h, w, c), pad (top, left)) of one image layer, as Keras shapes it."""
    ih, iw, ic = in_hwc
    kh, kw = (k, k) if np.isscalar(k) else k
    sh, sw = (s, s) if np.isscalar(s) else s
    if kind == twins.CONV2D_T:
        (oh, pt), (ow, pl) = twins.conv_t_out(ih, kh, sh, padding), twins.conv_t_out(iw, kw, sw, padding)
    elif kind == twins.GAP:
        (oh, pt), (ow, pl) = (1, 0), (1, 0)
    elif kind == twins.UPSAMPLE:
        (oh, pt), (ow, pl) = (ih * kh, 0), (iw * kw, 0)
    else:
        (oh, pt), (ow, pl) = twins.conv_out(ih, kh, sh, padding), twins.conv_out(iw, kw, sw, padding)
    oc = out_c if kind in (twins.CONV2D, twins.CONV2D_T) else ic
    geom = np.array([ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl], np.int64)
    return geom, (oh, ow, oc), (pt, pl)


def weight_shape(kind, geom):
    ih, iw, ic, oh, ow, oc, kh, kw = (int(v) for v in geom[:8])
    if kind == twins.CONV2D:
        return (oc, kh, kw, ic), oc
    if kind == twins.CONV2D_T:
        return (ic, kh, kw, oc), oc
    return None, 0


def twin_forward(kind, geom, x, W, b):
    out = tuple(int(v) for v in geom[3:5])
    k, s, pad = tuple(int(v) for v in geom[6:8]), tuple(int(v) for v in geom[8:10]), tuple(int(v) for v in geom[10:12])
    if kind == twins.CONV2D:
        return twins.conv2d_forward(x, W, b, s, pad, out)
    if kind == twins.CONV2D_T:
        return twins.conv2d_t_forward(x, W, b, s, pad, out)
    if kind in (twins.MAXPOOL, twins.AVGPOOL):
        return twins.pool_forward(x, kind, k, s, pad, out)
    if kind == twins.GAP:
        return twins.gap_forward(x)[:, None, None, :]
    return twins.upsample_forward(x, k)


def twin_backward(kind, geom, dz, x, W):
    """(dx, dW flat with db, or None)."""
    k, s, pad = tuple(int(v) for v in geom[6:8]), tuple(int(v) for v in geom[8:10]), tuple(int(v) for v in geom[10:12])
    dz = dz.reshape(x.shape[0], *(int(v) for v in geom[3:6]))
    if kind in (twins.CONV2D, twins.CONV2D_T):
        f = twins.conv2d_backward if kind == twins.CONV2D else twins.conv2d_t_backward
        dx, dW, db = f(dz, x, W, s, pad)
        return dx, np.concatenate([dW.ravel(), db])
    if kind in (twins.MAXPOOL, twins.AVGPOOL):
        return twins.pool_backward(dz, x, kind, k, s, pad), None
    if kind == twins.GAP:
        return twins.gap_backward(dz.reshape(x.shape[0], -1), x), None
    return twins.upsample_backward(dz, k), None


# (kind, B, (ih, iw, ic), out_c, kernel, stride, padding)
CASES = [
    (twins.CONV2D, 1, (5, 5, 1), 1, 3, 1, "valid"),
    (twins.CONV2D, 3, (7, 6, 2), 4, 3, 1, "same"),
    (twins.CONV2D, 2, (7, 7, 3), 5, 3, 2, "same"),
    (twins.CONV2D, 2, (8, 8, 3), 2, 3, 2, "same"),
    (twins.CONV2D, 2, (9, 7, 2), 3, 3, 2, "valid"),
    (twins.CONV2D, 1, (6, 5, 3), 2, (2, 3), (2, 1), "same"),
    (twins.CONV2D, 4, (5, 5, 4), 6, 1, 1, "valid"),
    (twins.CONV2D, 2, (6, 6, 2), 3, 4, 3, "same"),
    (twins.CONV2D, 2, (3, 4, 2), 3, 5, 1, "same"),
    (twins.CONV2D, 5, (28, 28, 1), 8, 3, 1, "same"),
    (twins.CONV2D, 2, (12, 21, 3), 1, 3, 1, "same"),   # one channel out: the direct paths
    (twins.CONV2D, 2, (9, 40, 1), 1, 3, 2, "valid"),
    (twins.CONV2D, 2, (6, 30, 2), 3, (2, 5), (1, 2), "same"),
    # the direct paths (csrc/conv.c): dWᵀ tiles of one or two vectors of channels, W packed in
    # panels cut to the channels, the dot kernel and dW rows for one channel (runs of a whole
    # number of vectors or not), din by the flipped convolution (stride 1) or by col2im
    (twins.CONV2D, 2, (9, 10, 16), 16, 3, 1, "same"),
    (twins.CONV2D, 3, (7, 7, 8), 8, 3, 1, "same"),
    (twins.CONV2D, 2, (10, 9, 1), 32, 3, 1, "same"),
    (twins.CONV2D, 2, (9, 9, 8), 16, 3, 2, "same"),
    (twins.CONV2D, 2, (8, 8, 16), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (8, 7, 5), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (6, 6, 3), 24, 3, 1, "valid"),
    (twins.CONV2D, 1, (5, 6, 4), 12, (2, 3), 1, "same"),
    (twins.CONV2D, 1, (4, 3, 2), 8, 3, 1, "same"),
    # one channel out from the image itself (conv_dot8_image, conv_dwk3_image): rows of 8 patches
    # and a last group that overlaps, 'valid', a kernel 5 or 2 wide, row stride 2, 1 to 5 vectors
    (twins.CONV2D, 2, (9, 13, 32), 1, 3, 1, "same"),
    (twins.CONV2D, 1, (7, 11, 8), 1, 3, 1, "valid"),
    (twins.CONV2D, 2, (7, 11, 32), 1, 3, 1, "valid"),  # din's bias once ran into the padded image
    (twins.CONV2D, 2, (6, 12, 24), 1, (3, 5), 1, "same"),
    (twins.CONV2D, 2, (5, 9, 16), 1, 2, 1, "same"),   # 2 × 2 · 1 < 16 channels: din's packed W and bias fit
    (twins.CONV2D, 2, (9, 10, 8), 1, 3, (2, 1), "same"),
    (twins.CONV2D, 1, (5, 9, 40), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (4, 10, 16), 2, 3, 1, "same"),
    (twins.CONV2D, 2, (3, 9, 4), 1, 3, 1, "same"),     # small enough for the finite differences
    (twins.CONV2D, 1, (3, 10, 4), 1, 3, 1, "valid"),
    # one channel out from the image itself, both widths (conv_body.c's conv_dot1_image): rows
    # in groups of 4 to 16 inner patches plus the kw − 1 at each end that reach outside (one
    # group with both, several, a last one that starts earlier), 'valid' (no ends), kernels 2, 4
    # and 5 wide, channels in pairs of 32-byte vectors (64-byte accumulators) or not (32-byte
    # ones on every path: 24 floats, 12 doubles), and rows of 3 inner patches (the padded path)
    (twins.CONV2D, 2, (7, 13, 32), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (5, 37, 16), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (4, 6, 16), 1, 3, 1, "same"),
    (twins.CONV2D, 1, (5, 5, 16), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (6, 23, 48), 1, 3, 1, "valid"),
    (twins.CONV2D, 2, (5, 19, 16), 1, 5, 1, "same"),
    (twins.CONV2D, 2, (5, 11, 32), 1, (2, 4), 1, "same"),
    (twins.CONV2D, 2, (6, 17, 24), 1, 3, (2, 1), "same"),
    (twins.CONV2D, 2, (5, 15, 12), 1, 3, 1, "same"),
    (twins.CONV2D_T, 2, (6, 29, 32), 1, 3, 1, "same"),
    (twins.CONV2D_T, 2, (5, 9, 16), 1, 3, 1, "valid"),
    (twins.CONV2D_T, 2, (4, 14, 24), 1, (2, 5), 1, "same"),
    (twins.CONV2D_T, 1, (3, 4, 16), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (6, 15, 1), 16, 3, 1, "same"),      # din to one channel, 16 of dz
    # dW of one output channel in zmm registers (conv_dw33_image): grids 2 wide, all edges
    (twins.CONV2D, 2, (3, 2, 32), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (6, 4, 16), 1, 3, 1, "valid"),
    # 3 × 3 over one channel (conv_k9_sample, conv_dw9_sample on avx512): whole tiles and a rest
    (twins.CONV2D, 2, (11, 9, 1), 32, 3, 1, "same"),
    (twins.CONV2D, 1, (7, 7, 1), 16, 3, 1, "valid"),
    (twins.CONV2D_T, 1, (3, 3, 1), 1, 3, 1, "valid"),
    # Conv2DTranspose's direct paths: forward (stride 1) by the flipped convolution, backward at
    # any stride by the patches of dz (dWᵀ tiles for in channels a multiple of VL, else rows)
    (twins.CONV2D_T, 2, (7, 7, 16), 16, 3, 2, "same"),
    (twins.CONV2D_T, 2, (6, 5, 8), 1, 3, 1, "same"),
    (twins.CONV2D_T, 2, (7, 11, 8), 1, 3, 1, "same"),
    (twins.CONV2D_T, 2, (5, 6, 3), 8, 3, 2, "valid"),
    (twins.CONV2D_T, 1, (4, 4, 8), 12, (2, 3), 1, "valid"),
    (twins.CONV2D_T, 2, (4, 5, 3), 2, 3, 2, "same"),
    (twins.CONV2D_T, 2, (4, 4, 2), 3, 3, 2, "valid"),
    (twins.CONV2D_T, 3, (3, 4, 2), 2, 2, 2, "same"),
    (twins.CONV2D_T, 2, (5, 3, 3), 4, 3, 1, "same"),
    (twins.CONV2D_T, 2, (3, 3, 2), 2, (1, 2), 3, "valid"),
    (twins.CONV2D_T, 2, (4, 4, 3), 2, 4, 2, "same"),
    (twins.CONV2D_T, 3, (5, 5, 4), 3, 1, 1, "valid"),
    # strided scatters by their phases (conv.c's conv_phases): Conv2D's din and
    # Conv2DTranspose's forward as stride-1 gathers with sub-kernels of 2 × 2, 2 × 1, 1 × 2 and
    # 1 × 1 taps (3 × 3 at stride 2), and of none (a 1 × 1 kernel at stride 2: zeros, the bias)
    (twins.CONV2D, 2, (14, 14, 32), 64, 3, 2, "same"),     # workload F's second convolution
    (twins.CONV2D, 1, (7, 7, 8), 16, 3, 2, "same"),
    (twins.CONV2D, 2, (11, 9, 8), 16, 3, 2, "valid"),
    (twins.CONV2D, 2, (9, 10, 8), 8, 1, 2, "valid"),
    (twins.CONV2D, 2, (10, 11, 4), 8, 2, 2, "same"),
    (twins.CONV2D, 2, (12, 13, 8), 8, 4, 3, "same"),
    (twins.CONV2D, 2, (9, 9, 16), 8, (3, 2), (2, 3), "same"),
    (twins.CONV2D, 2, (9, 9, 1), 16, 3, 2, "same"),         # din to one channel: the dot kernel
    (twins.CONV2D, 2, (5, 6, 4), 8, 3, 2, "same"),
    (twins.CONV2D_T, 2, (7, 7, 64), 64, 3, 2, "same"),     # workload F's first transposed
    (twins.CONV2D_T, 1, (6, 6, 8), 16, 3, 2, "same"),
    (twins.CONV2D_T, 2, (5, 6, 16), 32, 3, 2, "same"),
    (twins.CONV2D_T, 2, (5, 4, 8), 3, 3, 2, "valid"),
    (twins.CONV2D_T, 2, (4, 5, 8), 1, 3, 2, "same"),        # one channel out: the dot kernel
    (twins.CONV2D_T, 2, (4, 4, 4), 5, 1, 2, "valid"),       # rows and columns of the bias alone
    (twins.CONV2D_T, 2, (3, 4, 6), 4, 2, 3, "same"),
    (twins.CONV2D_T, 2, (5, 5, 8), 8, 4, 2, "same"),
    (twins.CONV2D_T, 2, (5, 5, 8), 8, (3, 2), (2, 3), "valid"),
    # phases whose outputs end in part of a vector (24 of 2 × 16 floats, 20 of 2 × 8 doubles), odd
    # grids: the tiles' partial stores and the prefetches of the next tile's outputs
    (twins.CONV2D_T, 2, (5, 7, 8), 24, 3, 2, "same"),
    (twins.CONV2D, 2, (11, 9, 20), 8, 3, 2, "same"),        # din to 20 channels by phases
    (twins.MAXPOOL, 1, (4, 4, 1), None, 2, 2, "valid"),
    (twins.MAXPOOL, 3, (7, 5, 3), None, 2, 2, "valid"),
    (twins.MAXPOOL, 2, (7, 5, 3), None, 2, 2, "same"),
    (twins.MAXPOOL, 2, (6, 7, 2), None, 3, 1, "same"),
    (twins.MAXPOOL, 2, (7, 7, 2), None, 3, 2, "valid"),
    (twins.MAXPOOL, 2, (7, 7, 8), None, 2, 2, "valid"),   # windows side by side, a vector of channels
    (twins.MAXPOOL, 2, (8, 9, 9), None, 2, 3, "valid"),   # windows apart: cells of none are 0
    (twins.MAXPOOL, 1, (7, 5, 16), None, 2, 2, "same"),
    (twins.MAXPOOL, 3, (9, 11, 32), None, 2, 2, "valid"),  # D's pools: 2 × 2 windows, vectors + none left
    (twins.MAXPOOL, 2, (9, 7, 35), None, 2, 2, "same"),    # 2 × 2 inside, cut windows at the edges, a tail
    (twins.MAXPOOL, 2, (4, 5, 3), None, 1, 1, "valid"),
    (twins.MAXPOOL, 2, (5, 5, 8), None, 2, 2, "valid"),
    (twins.AVGPOOL, 1, (4, 4, 1), None, 2, 2, "valid"),
    (twins.AVGPOOL, 3, (7, 5, 3), None, 2, 2, "same"),
    (twins.AVGPOOL, 2, (6, 7, 2), None, 3, 1, "same"),
    (twins.AVGPOOL, 2, (7, 7, 2), None, (3, 2), (2, 1), "valid"),
    (twins.GAP, 1, (3, 4, 2), None, 1, 1, "valid"),
    (twins.GAP, 4, (5, 5, 3), None, 1, 1, "valid"),
    (twins.UPSAMPLE, 1, (2, 3, 1), None, 2, 1, "valid"),
    (twins.UPSAMPLE, 3, (3, 2, 4), None, (2, 3), 1, "valid"),
    (twins.UPSAMPLE, 2, (3, 4, 35), None, 2, 1, "valid"),
    (twins.UPSAMPLE, 2, (2, 3, 9), None, 2, 1, "valid"),
]
IDS = [f"{['', '', 'conv', 'convT', 'max', 'avg', 'gap', 'up'][c[0]]}-B{c[1]}-{c[2]}-k{c[4]}-s{c[5]}-{c[6]}" for c in CASES]


def make(case, rng, dtype=np.float64):
    kind, B, in_hwc, out_c, k, s, padding = case
    geom, out, _ = geometry(kind, in_hwc, out_c, k, s, padding)
    shape, nb = weight_shape(kind, geom)
    x = rng.normal(size=(B, *in_hwc))
    W = rng.normal(size=shape) if shape else None
    b = rng.normal(size=nb) if shape else None
    params = np.concatenate([W.ravel(), b]).astype(dtype) if shape else None
    return kind, geom, x, W, b, params, (B, *out)


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_matches_twin(rng, case, dtype, nthreads, simd_path):
    kind, geom, x, W, b, params, out = make(case, rng, dtype)
    B = x.shape[0]
    z = np.full((B, int(np.prod(out[1:]))), np.nan, dtype)
    _core.layer_forward(kind, geom, z, x.reshape(B, -1).astype(dtype), params, nthreads)
    np.testing.assert_allclose(z.reshape(out), twin_forward(kind, geom, x, W, b), **TOL[dtype])


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_matches_twin_and_accumulates(rng, case, dtype, nthreads, simd_path):
    kind, geom, x, W, b, params, out = make(case, rng, dtype)
    B = x.shape[0]
    dz = rng.normal(size=(B, int(np.prod(out[1:]))))
    want_dx, want_dW = twin_backward(kind, geom, dz, x, W)
    dx = np.full((B, x[0].size), np.nan, dtype)  # written, never added to
    dW = None if params is None else np.full_like(params, np.nan)
    args = (x.reshape(B, -1).astype(dtype), params)
    _core.layer_backward(kind, geom, dx, dW, dz.astype(dtype), *args, False, nthreads)
    np.testing.assert_allclose(dx.reshape(x.shape), want_dx, **TOL[dtype])
    if params is None:
        return
    np.testing.assert_allclose(dW, want_dW, **TOL[dtype])
    dW0 = rng.normal(size=params.shape).astype(dtype)
    dW = dW0.copy()
    _core.layer_backward(kind, geom, None, dW, dz.astype(dtype), *args, True, nthreads)
    np.testing.assert_allclose(dW, dW0 + want_dW, **TOL[dtype])


# The panel micro-kernels on both widths (csrc/conv_body.c): output channels in groups of two
# 64-byte vectors (two panels) and a group of one, cut to channel counts that are not multiples
# of 16; dWᵀ columns split between the widths; the 3 × 3 one-channel kernels (conv_k9, conv_dw9)
# with whole groups and a rest; strides 1 and 2 (din by phases), both kinds, odd sizes.
WIDTH_CASES = [c for c in CASES if c[0] in (twins.CONV2D, twins.CONV2D_T)] + [
    (twins.CONV2D, 2, (9, 7, 3), 40, 3, 1, "same"),
    (twins.CONV2D, 3, (7, 6, 1), 48, 3, 1, "same"),
    (twins.CONV2D, 2, (8, 9, 1), 24, 3, 2, "same"),
    (twins.CONV2D, 2, (11, 9, 20), 20, 3, 1, "valid"),
    (twins.CONV2D, 2, (10, 11, 17), 33, 3, 2, "same"),
    (twins.CONV2D, 2, (12, 11, 32), 1, 3, 1, "same"),
    (twins.CONV2D, 2, (9, 8, 5), 36, (2, 3), (2, 1), "same"),
    (twins.CONV2D_T, 2, (5, 6, 24), 16, 3, 2, "same"),
    (twins.CONV2D_T, 2, (6, 5, 40), 20, 3, 2, "same"),
    (twins.CONV2D_T, 1, (7, 7, 8), 32, 3, 1, "same"),
]


@pytest.mark.skipif("avx512" not in SIMD_PATHS, reason="the CPU has no AVX-512")
@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", WIDTH_CASES, ids=str)
def test_avx512_and_avx2_kernels_give_the_same_bits(rng, case, dtype, nthreads):
    """The 64-byte kernels (avx512) keep each element's chain of the 32-byte ones (avx2): the
    bias then k in order, dW's value then the patches in order; forward, din and dW (written
    and accumulated) are the same bits on both paths."""
    kind, geom, x, W, b, params, out = make(case, rng, dtype)
    B = x.shape[0]
    x = x.reshape(B, -1).astype(dtype)
    dz = rng.normal(size=(B, int(np.prod(out[1:])))).astype(dtype)
    dW0 = rng.normal(size=params.shape).astype(dtype)
    got = {}
    old = _core._set_simd_path("avx512")
    try:
        for path in ("avx512", "avx2"):
            _core._set_simd_path(path)
            z, dx, dW, acc = np.empty_like(dz), np.empty_like(x), np.empty_like(params), dW0.copy()
            _core.layer_forward(kind, geom, z, x, params, nthreads)
            _core.layer_backward(kind, geom, dx, dW, dz, x, params, False, nthreads)
            _core.layer_backward(kind, geom, None, acc, dz, x, params, True, nthreads)
            got[path] = (z, dx, dW, acc)
    finally:
        _core._set_simd_path(old)
    for a, c in zip(got["avx512"], got["avx2"]):
        assert np.array_equal(a.view(np.uint8), c.view(np.uint8))


def test_sia_simd_narrows_the_conv_kernels():
    """The panel micro-kernels follow the product's path: 64-byte vectors on avx512 only, so
    SIA_SIMD=avx2 (or _set_simd_path) runs the 32-byte ones."""
    code = "from sia_autoencoder import _core; print(_core.simd_path(), _core._conv_vector_bits())"
    widest = SIMD_PATHS[-1]
    for value in ("", *SIMD_PATHS):
        env = dict(os.environ, SIA_SIMD=value)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
        path = value or widest
        assert r.stdout.split() == [path, "512" if path == "avx512" else "256"]
    old = _core.simd_path()
    try:
        for path in SIMD_PATHS:
            _core._set_simd_path(path)
            assert _core._conv_vector_bits() == (512 if path == "avx512" else 256)
    finally:
        _core._set_simd_path(old)


FOLD_CASES = [c for c in CASES if c[0] in (twins.MAXPOOL, twins.AVGPOOL, twins.GAP, twins.UPSAMPLE)]


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", FOLD_CASES, ids=[IDS[CASES.index(c)] for c in FOLD_CASES])
def test_relu_below_folds_into_pool_and_upsampling_backward_bit_for_bit(rng, case, dtype, nthreads):
    """relu_below: din times [x > 0], the engine's pass, the same bits; only max pooling whose
    windows do not overlap, and upsampling, fold it (each din cell written once)."""
    kind, geom, x, W, b, params, out = make(case, rng, dtype)
    B = x.shape[0]
    x = np.maximum(x, 0).reshape(B, -1).astype(dtype)   # a ReLU's output: zeros, some of them maxima
    x[:, ::7] = 0
    dz = rng.normal(size=(B, int(np.prod(out[1:])))).astype(dtype)
    dx = np.full_like(x, np.nan)
    assert _core.layer_backward(kind, geom, dx, None, dz, x, None, False, nthreads) is False
    folded = np.full_like(x, np.nan)
    did = _core.layer_backward(kind, geom, folded, None, dz, x, None, False, nthreads, True)
    k, s = geom[6:8], geom[8:10]
    assert did == (kind == twins.UPSAMPLE or (kind == twins.MAXPOOL and all(s >= k)))
    want = dx * (x > 0).astype(dtype) if did else dx
    assert np.array_equal(folded.view(np.uint8), want.view(np.uint8))


CONV_FOLD_CASES = [c for c in CASES if c[0] in (twins.CONV2D, twins.CONV2D_T) and c[2][2] > 1]


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONV_FOLD_CASES, ids=[IDS[CASES.index(c)] for c in CONV_FOLD_CASES])
def test_relu_below_folds_into_conv_backward_bit_for_bit(rng, case, dtype, nthreads, simd_path):
    """relu_below on a convolution: on the direct paths each sample's din is multiplied by
    [x > 0] as it is written, the bits of the engine's pass over it, dW unchanged; elsewhere
    (im2col, Winograd) the kind writes nothing and the plain backward runs. Against the twin too."""
    kind, geom, x, W, b, params, out = make(case, rng, dtype)
    B = x.shape[0]
    x = np.maximum(x, 0).reshape(B, -1).astype(dtype)   # a ReLU's output
    x[:, ::5] = 0
    dz = rng.normal(size=(B, int(np.prod(out[1:])))).astype(dtype)
    dx, dW = np.full_like(x, np.nan), np.full_like(params, np.nan)
    assert _core.layer_backward(kind, geom, dx, dW, dz, x, params, False, nthreads) is False
    folded, dW2 = np.full_like(x, np.nan), np.full_like(params, np.nan)
    did = _core.layer_backward(kind, geom, folded, dW2, dz, x, params, False, nthreads, True)
    want = dx * (x > 0).astype(dtype) if did else dx  # not folded: the plain backward ran
    assert np.array_equal(folded.view(np.uint8), want.view(np.uint8))
    assert np.array_equal(dW2.view(np.uint8), dW.view(np.uint8))
    tx, tdW = twin_backward(kind, geom, dz, x.reshape(B, *case[2]), W)
    np.testing.assert_allclose(folded, tx.reshape(B, -1) * ((x > 0) if did else 1), **TOL[dtype])
    assert _core.layer_backward(kind, geom, None, dW2, dz, x, params, False, nthreads, True) is False


def test_relu_below_folds_into_the_conv_layers_of_workload_f():
    """The direct paths of the VAE's convolutions (bench/bench_conv.py conv_vae) fold it."""
    f32 = np.float32
    layers = [(twins.CONV2D, (14, 14, 32), 64, 3, 2), (twins.CONV2D_T, (7, 7, 64), 64, 3, 2),
              (twins.CONV2D_T, (14, 14, 64), 32, 3, 2), (twins.CONV2D_T, (28, 28, 32), 1, 3, 1)]
    for kind, hwc, oc, k, s in layers:
        kind, geom, x, W, b, params, out = make((kind, 2, hwc, oc, k, s, "same"), np.random.default_rng(0), f32)
        x = np.maximum(x, 0).reshape(2, -1).astype(f32)
        dz = np.ones((2, int(np.prod(out[1:]))), f32)
        assert _core.layer_backward(kind, geom, np.empty_like(x), np.empty_like(params), dz, x, params,
                                    False, 1, True) is True


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [c for c in CASES if c[0] in (twins.CONV2D, twins.CONV2D_T)], ids=str)
def test_forward_and_din_bits_depend_on_the_shapes_alone(rng, case, dtype, simd_path):
    """Each sample's forward and din are one chain per element in an order fixed by the shapes:
    the same bits on 1 and 2 threads, and for a sample alone as within its batch (every kernel,
    among them the one-channel ones that cut a row into groups)."""
    kind, geom, x, W, b, params, out = make(case, rng, dtype)
    B = x.shape[0]
    x = x.reshape(B, -1).astype(dtype)
    dz = rng.normal(size=(B, int(np.prod(out[1:])))).astype(dtype)
    got = {}
    for nthreads in (1, 2):
        z, dx, dW = np.empty_like(dz), np.empty_like(x), np.empty_like(params)
        _core.layer_forward(kind, geom, z, x, params, nthreads)
        _core.layer_backward(kind, geom, dx, dW, dz, x, params, False, nthreads)
        got[nthreads] = (z, dx)
    for a, c in zip(got[1], got[2]):
        assert np.array_equal(a.view(np.uint8), c.view(np.uint8))
    z, dx = got[1]
    for i in range(B):
        zi, dxi, dWi = np.empty_like(dz[i:i + 1]), np.empty_like(x[i:i + 1]), np.empty_like(params)
        _core.layer_forward(kind, geom, zi, x[i:i + 1], params, 2)
        _core.layer_backward(kind, geom, dxi, dWi, dz[i:i + 1], x[i:i + 1], params, False, 2)
        assert np.array_equal(zi[0].view(np.uint8), z[i].view(np.uint8))
        assert np.array_equal(dxi[0].view(np.uint8), dx[i].view(np.uint8))


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kind", [twins.CONV2D, twins.CONV2D_T])
def test_many_samples_and_pieces_give_the_same_as_one_at_a_time(rng, kind, stride):
    """A batch larger than a piece (several units, tasks) against each sample on its own; the
    forward is bit-identical for 1 and 2 threads."""
    geom, out, _ = geometry(kind, (30, 30, 8), 16, 3, stride, "same")
    shape, nb = weight_shape(kind, geom)
    params = rng.normal(size=int(np.prod(shape)) + nb)
    B = 9
    x = rng.normal(size=(B, 30 * 30 * 8))
    z1, z2 = np.zeros((B, int(np.prod(out)))), np.zeros((B, int(np.prod(out))))
    _core.layer_forward(kind, geom, z1, x, params, 1)
    _core.layer_forward(kind, geom, z2, x, params, 2)
    assert np.array_equal(z1, z2)
    for i in range(B):
        zi = np.zeros((1, z1.shape[1]))
        _core.layer_forward(kind, geom, zi, x[i:i + 1], params, 1)
        np.testing.assert_allclose(zi[0], z1[i], rtol=1e-12, atol=1e-12)
    dz = rng.normal(size=z1.shape)
    dx, dW = np.zeros_like(x), np.zeros_like(params)
    _core.layer_backward(kind, geom, dx, dW, dz, x, params, False, 2)
    dW_sum = np.zeros_like(params)
    for i in range(B):
        dxi = np.zeros((1, x.shape[1]))
        _core.layer_backward(kind, geom, dxi, dW_sum, dz[i:i + 1], x[i:i + 1], params, True, 1)
        np.testing.assert_allclose(dxi[0], dx[i], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dW, dW_sum, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] <= 3 and np.prod(c[2]) <= 200], ids=lambda c: str(c))
def test_gradients_match_finite_differences(case):
    """L = Σ R ⊙ z with a random R: dL/dx and dL/dW from backward(dz = R) against central
    differences of the forward, in float64."""
    rng = np.random.default_rng(7)
    kind, geom, x, W, b, params, out = make(case, rng)
    B = x.shape[0]
    xf = x.reshape(B, -1).copy()
    if kind == twins.MAXPOOL:  # keep the maxima apart, so that a step of h moves none of them
        xf = rng.permutation(xf.size).reshape(xf.shape) / xf.size
    R = rng.normal(size=(B, int(np.prod(out[1:]))))

    def loss(xv, pv):
        z = np.zeros_like(R)
        _core.layer_forward(kind, geom, z, xv, pv)
        return float(np.sum(R * z))

    dx = np.zeros_like(xf)
    dW = None if params is None else np.zeros_like(params)
    _core.layer_backward(kind, geom, dx, dW, R, xf, params, False)
    h = 1e-6 if kind != twins.MAXPOOL else 1e-3 / xf.size
    for i in rng.choice(xf.size, size=min(xf.size, 25), replace=False):
        e = np.zeros(xf.size)
        e[i] = h
        e = e.reshape(xf.shape)
        num = (loss(xf + e, params) - loss(xf - e, params)) / (2 * h)
        assert abs(num - dx.flat[i]) <= 1e-6 * max(1.0, abs(num)), (i, num, dx.flat[i])
    if params is None:
        return
    for i in rng.choice(params.size, size=min(params.size, 25), replace=False):
        e = np.zeros(params.size)
        e[i] = h
        num = (loss(xf, params + e) - loss(xf, params - e)) / (2 * h)
        assert abs(num - dW[i]) <= 1e-6 * max(1.0, abs(num)), (i, num, dW[i])


# ---- PyTorch, on the same weights (float64) ----

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_layers_match_pytorch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    kind, geom, x, W, b, params, out = make(case, rng)
    B = x.shape[0]
    z = np.zeros((B, int(np.prod(out[1:]))))
    _core.layer_forward(kind, geom, z, x.reshape(B, -1), params)
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(W, requires_grad=True) if W is not None else None
    bt = torch.tensor(b, requires_grad=True) if b is not None else None
    with torch.enable_grad():
        y = torch_forward(kind, geom, xt, Wt, bt)
        want = y.detach().numpy()
        assert want.shape == out
        assert np.max(np.abs(z.reshape(out) - want)) <= 1e-10 * max(1.0, np.max(np.abs(want)))
        # The gradients through torch.autograd, of L = Σ R ⊙ z.
        R = rng.normal(size=out)
        (y * torch.tensor(R)).sum().backward()
    dx = np.zeros((B, x[0].size))
    dW = None if params is None else np.zeros_like(params)
    _core.layer_backward(kind, geom, dx, dW, R.reshape(B, -1), x.reshape(B, -1), params, False)
    want_dx = xt.grad.numpy()
    assert np.max(np.abs(dx.reshape(x.shape) - want_dx)) <= 1e-10 * max(1.0, np.max(np.abs(want_dx)))
    if params is not None:
        want_dW = np.concatenate([Wt.grad.numpy().ravel(), bt.grad.numpy()])
        assert np.max(np.abs(dW - want_dW)) <= 1e-10 * max(1.0, np.max(np.abs(want_dW)))


def torch_forward(kind, geom, xt, Wt, bt):
    """The layer in torch.nn.functional on x (B, H, W, C) and W in our layout, padded and cropped
    as Keras: "same" pads explicitly (the extra row and column at the bottom and right), average
    pooling divides by the cells inside the input, Conv2DTranspose crops its full output."""
    import torch
    F = torch.nn.functional
    ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl = (int(v) for v in geom)
    t = xt.permute(0, 3, 1, 2)
    pb, pr = (oh - 1) * sh + kh - ih - pt, (ow - 1) * sw + kw - iw - pl
    if kind == twins.CONV2D:
        y = F.conv2d(F.pad(t, (pl, max(pr, 0), pt, max(pb, 0))), Wt.permute(0, 3, 1, 2), bt, stride=(sh, sw))
    elif kind == twins.MAXPOOL:
        y = F.max_pool2d(F.pad(t, (pl, max(pr, 0), pt, max(pb, 0)), value=-np.inf), (kh, kw), (sh, sw))
    elif kind == twins.AVGPOOL:
        ones = F.pad(torch.ones_like(t), (pl, max(pr, 0), pt, max(pb, 0)))
        y = F.avg_pool2d(F.pad(t, (pl, max(pr, 0), pt, max(pb, 0))), (kh, kw), (sh, sw)) / \
            F.avg_pool2d(ones, (kh, kw), (sh, sw))
    elif kind == twins.CONV2D_T:
        full = F.conv_transpose2d(t, Wt.permute(0, 3, 1, 2), None, stride=(sh, sw))
        full = F.pad(full, (0, max(pl + ow - full.shape[3], 0), 0, max(pt + oh - full.shape[2], 0)))
        y = full[:, :, pt:pt + oh, pl:pl + ow] + bt[None, :, None, None]
    elif kind == twins.GAP:
        y = F.adaptive_avg_pool2d(t, 1)
    else:
        y = F.interpolate(t, scale_factor=(kh, kw), mode="nearest")
    return y.permute(0, 2, 3, 1)


# ---- the checks of the entry points ----

@pytest.mark.parametrize("bad, message", [
    (dict(k=5, padding="valid"), "kernel's 5 rows are more than the input's 4"),
])
def test_kernel_larger_than_input_is_refused(bad, message):
    geom, out, _ = geometry(twins.CONV2D, (4, 6, 1), 2, bad["k"], 1, "same")
    geom[3:5] = 0, 2  # what "valid" would need, and cannot have
    x = np.zeros((1, 24))
    with pytest.raises(ValueError, match="size >= 1"):
        _core.layer_forward(twins.CONV2D, geom, np.zeros((1, 4)), x, np.zeros(2 * 25 + 2))
    geom[3:5] = 1, 2
    geom[10:12] = 0
    with pytest.raises(ValueError, match=message):
        _core.layer_forward(twins.CONV2D, geom, np.zeros((1, 4)), x, np.zeros(2 * 25 + 2))


def test_inconsistent_shapes_are_refused_with_the_numbers():
    geom, out, _ = geometry(twins.CONV2D, (28, 28, 1), 32, 3, 2, "same")
    x, W = np.zeros((2, 784)), np.zeros(32 * 9 + 32)
    z = np.zeros((2, int(np.prod(out))))
    _core.layer_forward(twins.CONV2D, geom, z, x, W)
    bad = geom.copy()
    bad[3] = 12
    with pytest.raises(ValueError, match=r"12 output rows with padding 0 do not follow from 28 input rows.*'valid': 13 with padding 0, 'same': 14 with padding 0"):
        _core.layer_forward(twins.CONV2D, bad, z, x, W)
    with pytest.raises(ValueError, match="z: expected 6272 columns, got 6271"):
        _core.layer_forward(twins.CONV2D, geom, np.zeros((2, 6271)), x, W)
    with pytest.raises(ValueError, match="W: expected length 320, got 319"):
        _core.layer_forward(twins.CONV2D, geom, z, x, np.zeros(319))
    with pytest.raises(TypeError, match="W: expected dtype float64"):
        _core.layer_forward(twins.CONV2D, geom, z, x, np.zeros(320, np.float32))
    with pytest.raises(ValueError, match="kind: expected an image layer kind"):
        _core.layer_forward(0, geom, z, x, W)
    pool, pout, _ = geometry(twins.MAXPOOL, (28, 28, 3), None, 2, 2, "valid")
    with pytest.raises(ValueError, match="MaxPool2D.*has no parameters"):
        _core.layer_forward(twins.MAXPOOL, pool, np.zeros((1, 588)), np.zeros((1, 2352)), np.zeros(3))
    pool[5] = 4
    with pytest.raises(ValueError, match="as many output channels as input ones"):
        _core.layer_forward(twins.MAXPOOL, pool, np.zeros((1, 784)), np.zeros((1, 2352)), None)
    huge = geom.copy()
    huge[0:2] = 2**40
    with pytest.raises(ValueError):
        _core.layer_forward(twins.CONV2D, huge, z, x, W)
    with pytest.raises(ValueError, match="dinp: expected a writeable array"):
        ro = np.zeros((2, 784))
        ro.flags.writeable = False
        _core.layer_backward(twins.CONV2D, geom, ro, np.zeros(320), z, x, W, False)
