"""Builds the private C extension sia_autoencoder._core; all metadata lives in pyproject.toml."""
import os

import shutil

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

sanitize = os.environ.get("SIA_SANITIZE")  # e.g. "address,undefined": see docs/reliability.md
flags = ["-O3", "-std=gnu11", "-fno-math-errno", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"]
link = ["-pthread"]  # pool.c: the threads of gemm.c
if sanitize:
    flags += ["-O1", "-g", "-fno-omit-frame-pointer", f"-fsanitize={sanitize}"]
    link += [f"-fsanitize={sanitize}"]

core = Extension(
    "sia_autoencoder._core",
    sources=[os.path.join("csrc", f) for f in ("module.c", "rng.c", "pool.c", "simd.c", "real_f32.c", "real_f64.c")],
    depends=[os.path.join("csrc", f) for f in os.listdir("csrc")],
    include_dirs=["csrc", numpy.get_include()],
    extra_compile_args=flags,
    extra_link_args=link,
)


class build_ext_and_checkout(build_ext):
    """Also copy the module into the source package, so that `python -m sia_autoencoder` run
    from the checkout (where the source folder shadows the installed package) finds it."""

    def run(self):
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        for ext in self.extensions if not self.inplace else []:
            built = self.get_ext_fullpath(ext.name)
            target = os.path.join(here, *ext.name.split(".")[:-1], os.path.basename(built))
            if os.path.exists(built) and os.access(os.path.dirname(target), os.W_OK):
                shutil.copyfile(built, target)


setup(ext_modules=[core], cmdclass={"build_ext": build_ext_and_checkout})
