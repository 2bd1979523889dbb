"""Builds the private C extension sia_autoencoder._core; all metadata lives in pyproject.toml."""
import os

import numpy
from setuptools import Extension, setup

sanitize = os.environ.get("SIA_SANITIZE")  # e.g. "address,undefined": see docs/reliability.md
flags = ["-O3", "-std=gnu11", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"]
link = []
if sanitize:
    flags += ["-O1", "-g", "-fno-omit-frame-pointer", f"-fsanitize={sanitize}"]
    link += [f"-fsanitize={sanitize}"]

core = Extension(
    "sia_autoencoder._core",
    sources=[os.path.join("csrc", f) for f in ("module.c", "rng.c", "real_f32.c", "real_f64.c")],
    depends=[os.path.join("csrc", f) for f in os.listdir("csrc")],
    include_dirs=["csrc", numpy.get_include()],
    extra_compile_args=flags,
    extra_link_args=link,
)
setup(ext_modules=[core])
