"""Packaging: the metadata, the command line's --version and --schema, and the sdist, which is
built, installed in a fresh virtual environment and tested from its own tests.

The sdist test downloads its build and test dependencies from the package index (setuptools,
numpy, matplotlib, pytest, hypothesis; pip's cache makes later runs faster) and compiles the
C core: about two minutes. It runs in CI (the plain `pytest` of .ci/run); deselect it while
developing with `-m "not packaging"`.
"""
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import sia_autoencoder as sa
from sia_autoencoder.__main__ import main, schema_path

REPO = Path(__file__).resolve().parent.parent

# The tests that the installed sdist runs: quick, and between them they import what the sdist
# must carry (tests/conftest.py and tests/twins.py, bench/vae_numpy.py) and use the bundled
# data and configs.
SDIST_TESTS = ["tests/test_kernels.py", "tests/test_vae.py", "tests/test_config.py"]


def _pyproject():
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else \
        pytest.importorskip("tomli")
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_is_mit_in_the_spdx_form_with_a_setuptools_that_reads_it():
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    meta = _pyproject()
    assert meta["project"]["license"] == "MIT"            # not the deprecated {text = ...} table
    assert meta["project"]["license-files"] == ["LICENSE"]
    # PEP 639 (license as an SPDX string) is read by setuptools 77 and later only
    setuptools = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools == ["setuptools>=77"], setuptools
    classifiers = meta["project"]["classifiers"]
    assert "Intended Audience :: Education" in classifiers
    # a License classifier next to an SPDX license is an error since PEP 639
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_version_is_one_source():
    meta = _pyproject()
    assert "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sia_autoencoder.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", sa.__version__)


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"sia-autoencoder {sa.__version__}"


def test_help_points_only_to_what_is_installed(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "--version" in text and "--schema" in text
    assert "docs/" not in text           # the docs folder is in neither the wheel nor the sdist
    assert "sia-autoencoder --schema" in text


def test_schema_is_shipped_and_printed(capsys):
    assert schema_path().is_file()
    assert main(["--schema"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Experiments from a JSON file")
    for key in ("architecture", "optimizer", "updater", "noise", "plots"):
        assert f'"{key}"' in text


def test_manifest_ships_what_the_tests_import():
    manifest = (REPO / "MANIFEST.in").read_text(encoding="utf-8")
    for line in ("include LICENSE", "graft tests", "graft bench", "graft docs", "graft notebooks"):
        assert line in manifest


def _run(cmd, cwd, timeout=900, env=None):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n" \
                                f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return res.stdout


@pytest.mark.packaging
def test_sdist_installs_in_a_fresh_venv_and_its_tests_run(tmp_path):
    """Build the sdist in isolation (so build-system.requires must be right), install it in a venv
    without the system's packages (so the runtime dependencies must be declared), then run its
    own tests against the installed package."""
    if not (REPO / "MANIFEST.in").is_file() or not (REPO / "setup.py").is_file():
        pytest.skip("not a source checkout")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    pip = [py, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(pip + ["install", "build"], tmp_path, env=env)
    dist = tmp_path / "dist"
    _run([py, "-m", "build", "--sdist", "--outdir", str(dist), str(REPO)], tmp_path, env=env)
    sdist, = dist.glob("sia_autoencoder-*.tar.gz")
    assert sdist.name == f"sia_autoencoder-{sa.__version__}.tar.gz"

    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        root = tmp_path / "src"
        tar.extractall(root, filter="data") if sys.version_info >= (3, 12) else tar.extractall(root)
    for needed in ("LICENSE", "tests/conftest.py", "tests/twins.py", "bench/vae_numpy.py",
                   "csrc/sia.h", "docs/reliability.md", "notebooks/01_letters_autoencoder.ipynb",
                   "tools/notebook_sources/01_letters_autoencoder.py",
                   "sia_autoencoder/configs/schema.md", "sia_autoencoder/data/font.h"):
        assert needed in names, f"{needed} is not in the sdist"
    assert not [n for n in names if n.endswith((".so", ".pyc"))], "build products in the sdist"
    src, = root.iterdir()

    _run(pip + ["install", str(sdist), "pytest", "hypothesis"], tmp_path, env=env)
    # From outside the source tree: the installed package, with its data and its command.
    where = _run([py, "-c", "import sia_autoencoder as s; print(s.__file__)"], tmp_path, env=env)
    assert where.startswith(str(venv)), where
    exe = str(venv / "bin" / "sia-autoencoder")
    assert _run([exe, "--version"], tmp_path, env=env).strip() == f"sia-autoencoder {sa.__version__}"
    assert _run([exe, "--schema"], tmp_path, env=env).startswith("# Experiments from a JSON file")
    license_file = _run([py, "-c", "import importlib.metadata as m; "
                         "print(m.metadata('sia_autoencoder')['License-Expression'])"], tmp_path, env=env)
    assert license_file.strip() == "MIT"
    typed = _run([py, "-c", "import importlib.resources as r; p = r.files('sia_autoencoder'); "
                  "print(p.joinpath('py.typed').is_file(), p.joinpath('_core.pyi').is_file())"],
                 tmp_path, env=env)
    assert typed.split() == ["True", "True"]       # editors and mypy see the installed package

    # Its tests, from the unpacked sdist. venv/bin/pytest (not `python -m pytest`) keeps the
    # unpacked source folder off sys.path: it has no compiled core, so importing it would fail.
    pytest_exe = str(venv / "bin" / "pytest")
    collected = _run([pytest_exe, "--collect-only", "-q", "-p", "no:cacheprovider"], src, env=env)
    assert re.search(r"^\d+ tests collected", collected, re.M) or "tests collected" in collected, collected
    assert "error" not in collected.lower().splitlines()[-1], collected
    out = _run([pytest_exe, "-q", "-x", "-p", "no:cacheprovider", "-m", "not packaging"]
               + SDIST_TESTS, src, env=env)
    assert re.search(r"\d+ passed", out), out
