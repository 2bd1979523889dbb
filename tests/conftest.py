import numpy as np
import pytest

DTYPES = [np.float32, np.float64]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # tests/twins.py


def _simd_paths():
    """The matrix product's vector paths this CPU runs, narrowest first (sia.h, simd.c)."""
    from sia_autoencoder import _core

    paths, now = [], _core.simd_path()
    for p in ("baseline", "avx2", "avx512"):
        try:
            _core._set_simd_path(p)
        except ValueError:  # wider than the CPU
            break
        paths.append(p)
    _core._set_simd_path(now)
    return paths


SIMD_PATHS = _simd_paths()


@pytest.fixture(params=SIMD_PATHS)
def simd_path(request):
    """Runs the test once on each vector path of the matrix product that the CPU has (so a CPU
    with AVX-512 and one without are both covered), then restores the path of the import."""
    from sia_autoencoder import _core

    old = _core._set_simd_path(request.param)
    yield request.param
    _core._set_simd_path(old)
