"""_core.gemm against its NumPy twin: C (M, N) = op(A) (M, K) · op(B) (K, N) [+ C].

Tolerances are the classical bound on a dot product of length K computed in precision eps,
|C - exact| <= (K + 2) eps (|op(A)| |op(B)| + |C0|), element by element; the float64 reference
has the same error bound again, so float64 is checked at twice it.
"""
import os
import subprocess
import sys

import conftest
import numpy as np
import pytest

from sia_autoencoder import _core

# Every test once per vector path of the matrix product (conftest.simd_path).
pytestmark = pytest.mark.usefixtures("simd_path")

DTYPES = [np.float32, np.float64]
TRANS = [(0, 0), (0, 1), (1, 0), (1, 1)]
# Tiny; edges of the 6 x 16 (float) / 6 x 8 (double) micro-tiles of avx2 and of the 12 x 32 /
# 12 x 16 ones of avx512; both sides of the small-path cutoff; several KC (256) and MC (120)
# blocks; more than one NC block (1024 / 512 columns); the letters model; the MNIST layers.
SHAPES = [
    (1, 1, 1), (1, 7, 3), (5, 1, 9), (3, 4, 1), (2, 3, 5), (6, 16, 8), (6, 8, 1), (7, 17, 13),
    (32, 25, 35), (12, 40, 70), (13, 33, 300), (37, 1030, 20), (200, 70, 600), (121, 19, 257),
    (9, 300, 517), (128, 32, 256), (32, 256, 128), (128, 784, 512), (12, 32, 8), (25, 65, 300),
    (131, 47, 270),
]


# The tiny path (at least 4 rows, K <= 256, op(A) and op(B) within 32 KB each): row tiles of
# 1-6 rows (12 for one vector of columns), NR-wide panels cut at N (1, 2, 4, VL-1 .. VL+1,
# 2 VL +- 1 columns), B read in place (N a multiple of VL, not transposed) or packed; K from 1
# to 256; the digits VAE's products at batch 32 and the letters model's; (64, 64, 128) is tiny
# in float32 and blocked in float64.
TINY_SHAPES = [
    (4, 1, 1), (4, 16, 3), (5, 2, 7), (6, 9, 31), (7, 4, 2), (13, 8, 5), (13, 7, 64), (25, 15, 1),
    (31, 17, 33), (32, 31, 256), (32, 64, 64), (32, 4, 32), (32, 32, 2), (64, 64, 32),
    (32, 2, 32), (32, 32, 4), (4, 32, 32), (32, 2, 10), (10, 2, 32), (32, 10, 2), (64, 64, 128),
    (40, 24, 100), (1000, 3, 2),
]


def operands(M, N, K, transA, transB, dtype, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((K, M) if transA else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if transB else (K, N)).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    return A, B, C0


def op(X, trans):
    return X.T if trans else X


def reference(A, B, C0, transA, transB, accumulate):
    """(op(A) op(B) [+ C0] in float64, its error bound scale |op(A)| |op(B)| [+ |C0|])."""
    a, b = op(A, transA).astype(np.float64), op(B, transB).astype(np.float64)
    ref, scale = a @ b, np.abs(a) @ np.abs(b)
    if accumulate:
        ref, scale = ref + C0, scale + np.abs(C0)
    return ref, scale


def check_close(C, ref, scale, K):
    eps = np.finfo(C.dtype).eps
    bound = (K + 2) * eps * scale * (2 if C.dtype == np.float64 else 1) + np.finfo(C.dtype).tiny
    err = np.abs(C.astype(np.float64) - ref)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), f"C{worst}: error {err[worst]:.3g} > bound {bound[worst]:.3g}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transA,transB", TRANS)
@pytest.mark.parametrize("accumulate", [0, 1])
@pytest.mark.parametrize("M,N,K", SHAPES + TINY_SHAPES)
def test_matches_numpy(M, N, K, transA, transB, accumulate, dtype):
    A, B, C0 = operands(M, N, K, transA, transB, dtype)
    C = C0.copy()
    _core.gemm(C, A, B, transA, transB, accumulate)
    ref, scale = reference(A, B, C0, transA, transB, accumulate)
    check_close(C, ref, scale, K)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transA,transB", TRANS)
@pytest.mark.parametrize("M,N,K", [(7, 17, 13), (13, 33, 300), (128, 784, 512), (37, 1030, 20),
                                   (31, 17, 33), (32, 2, 32), (13, 7, 64)])
def test_small_integers_are_exact(M, N, K, transA, transB, dtype):
    """Integers in [-4, 4]: every partial sum is an integer below 2^24, exact in float32."""
    rng = np.random.default_rng(1)
    A = rng.integers(-4, 5, (K, M) if transA else (M, K)).astype(dtype)
    B = rng.integers(-4, 5, (N, K) if transB else (K, N)).astype(dtype)
    C0 = rng.integers(-4, 5, (M, N)).astype(dtype)
    C = C0.copy()
    _core.gemm(C, A, B, transA, transB, 1)
    assert np.array_equal(C, op(A, transA) @ op(B, transB) + C0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transA,transB", TRANS)
@pytest.mark.parametrize("M,N,K", [(5, 3, 2), (32, 25, 35), (200, 70, 600), (13, 7, 64), (32, 2, 32)])
def test_overwrite_ignores_old_C(M, N, K, transA, transB, dtype):
    """accumulate off must overwrite C, not add 0 * C: NaN in the old C must not leak."""
    A, B, _ = operands(M, N, K, transA, transB, dtype)
    C = np.full((M, N), np.nan, dtype)
    _core.gemm(C, A, B, transA, transB, 0)
    ref, scale = reference(A, B, None, transA, transB, 0)
    assert np.isfinite(C).all()
    check_close(C, ref, scale, K)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transA,transB", TRANS)
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (7, 17, 13), (121, 19, 257), (37, 1030, 20),
                                   (5, 2, 7), (31, 17, 33), (13, 7, 64), (1000, 3, 2)])
def test_writes_only_C_and_reads_only(M, N, K, transA, transB, dtype):
    """C is a view at the front of a bigger buffer: the guard after it stays, A and B too."""
    A, B, C0 = operands(M, N, K, transA, transB, dtype)
    A0, B0 = A.copy(), B.copy()
    buf = np.full(M * N + 64, 7.0, dtype)
    C = buf[: M * N].reshape(M, N)
    C[...] = C0
    _core.gemm(C, A, B, transA, transB, 1, 2)
    assert np.all(buf[M * N:] == 7.0)
    assert np.array_equal(A, A0) and np.array_equal(B, B0)
    ref, scale = reference(A, B, C0, transA, transB, 1)
    check_close(C, ref, scale, K)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transA,transB", TRANS)
@pytest.mark.parametrize("accumulate", [0, 1])
# Threaded strips of columns with op(A) packed once and shared (the first three: B's layers,
# and an edge panel with two K blocks) or, past the shared buffer's 1 MB, packed by every strip
# (600, 300, 517); strips of rows (200, 70, 600 on avx512); and products too small for threads.
@pytest.mark.parametrize("M,N,K", [(128, 784, 512), (512, 784, 128), (31, 515, 333),
                                   (600, 300, 517), (200, 70, 600), (128, 32, 256), (13, 33, 300),
                                   (32, 64, 64), (31, 17, 33), (1000, 3, 2)])
def test_bit_identical_for_any_nthreads(M, N, K, transA, transB, accumulate, dtype):
    """Every C element is reduced over k in one order whatever the thread count."""
    A, B, C0 = operands(M, N, K, transA, transB, dtype, seed=2)
    results = []
    for nthreads in (1, 2, 3, 4, 1, 2):
        C = C0.copy()
        _core.gemm(C, A, B, transA, transB, accumulate, nthreads)
        results.append(C)
    for nthreads, C in zip((2, 3, 4, 1, 2), results[1:]):
        assert np.array_equal(C, results[0]), f"nthreads={nthreads} differs from nthreads=1"
    ref, scale = reference(A, B, C0, transA, transB, accumulate)
    check_close(results[0], ref, scale, K)


def test_nthreads_defaults_to_one():
    A, B, C0 = operands(64, 96, 200, 0, 1, np.float32)
    C1, C2 = C0.copy(), C0.copy()
    _core.gemm(C1, A, B, 0, 1, 1)
    _core.gemm(C2, A, B, 0, 1, 1, 1)
    assert np.array_equal(C1, C2)
    assert not np.array_equal(C1, C0)


# ---- the vector paths (gemm.c: avx512, avx2, baseline; SIA_SIMD) ----


def test_simd_path_names_one_the_cpu_runs(simd_path):
    assert _core.simd_path() == simd_path
    with pytest.raises(ValueError, match="path: expected"):
        _core._set_simd_path("sse9")
    assert _core.simd_path() == simd_path


@pytest.mark.skipif("avx512" not in conftest.SIMD_PATHS, reason="the CPU has no AVX-512")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N,K", SHAPES + TINY_SHAPES)
@pytest.mark.parametrize("transA,transB", TRANS)
def test_avx512_and_avx2_same_bits(M, N, K, transA, transB, dtype):
    """avx512 blocks the products avx2 would block, with the same K blocks (one FMA chain per
    block, whatever the vector width and the 12-row tiles), and leaves the tiny and small ones to
    avx2's kernels: the two paths give the same bits."""
    A, B, C0 = operands(M, N, K, transA, transB, dtype, seed=3)
    out = {}
    old = _core.simd_path()
    try:
        for path in ("avx2", "avx512"):
            _core._set_simd_path(path)
            out[path] = C0.copy()
            _core.gemm(out[path], A, B, transA, transB, True, 2)
    finally:
        _core._set_simd_path(old)
    assert np.array_equal(out["avx2"], out["avx512"])


def test_sia_simd_narrows_never_widens():
    """SIA_SIMD, read at import, picks a narrower path; a wider or unknown one warns and keeps
    the widest the CPU runs."""
    widest = conftest.SIMD_PATHS[-1]
    code = "from sia_autoencoder import _core; print(_core.simd_path())"
    for value, expect, warns in [("baseline", "baseline", False), ("", widest, False),
                                 ("avx1024", widest, True)]:
        env = dict(os.environ, SIA_SIMD=value)
        r = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True,
                           text=True, check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
        assert r.stdout.split() == [expect]
        assert ("SIA_SIMD: expected" in r.stderr) == warns
