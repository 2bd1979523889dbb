import numpy as np
import pytest

DTYPES = [np.float32, np.float64]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # tests/twins.py
