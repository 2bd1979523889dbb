"""Type checkers see the package: it ships py.typed (and a stub of its compiled core), mypy
finds no error in it, and a user's script is checked against the public API's hints."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sia_autoencoder

PACKAGE = Path(sia_autoencoder.__file__).resolve().parent


def test_py_typed_marker_and_core_stub():
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_core.pyi").is_file()


def _mypy(args, tmp_path):
    pytest.importorskip("mypy")
    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent))
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"),
                           "--ignore-missing-imports", "--no-error-summary", *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)


def test_mypy_finds_no_error_in_the_package(tmp_path):
    res = _mypy([str(PACKAGE)], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_user_script_is_checked_against_the_hints(tmp_path):
    script = tmp_path / "user.py"
    script.write_text(
        "from sia_autoencoder import Autoencoder, VAE, datasets, plots\n"
        "X, labels = datasets.load_font()\n"
        "ae = Autoencoder([35, 10, 2, 10, 35], seed=0)\n"
        "codes = ae.encode(X)\n"
        "reveal_type(codes)\n"
        "reveal_type(ae.evaluate(X))\n"
        "reveal_type(plots.plot_latent(ae, X))\n"
        "reveal_type(ae.export_onnx('m.onnx'))\n"
        "wrong: str = ae.n_params\n", encoding="utf-8")
    res = _mypy(["--follow-imports=silent", str(script)], tmp_path)
    out = res.stdout.replace("builtins.", "")     # mypy's older versions name builtins so
    assert 'Revealed type is "numpy.ndarray' in out, out
    assert 'Revealed type is "float"' in out, out
    assert 'Revealed type is "matplotlib.figure.Figure"' in out, out
    assert 'Revealed type is "dict[str, str]"' in out, out
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in out, out
