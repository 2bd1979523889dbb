"""The notebooks run top to bottom in a real Jupyter kernel, and say what they should.

Each notebook is executed afresh (its committed outputs are discarded) in a temporary folder, so
files it writes are thrown away. The kernel imports the same sia_autoencoder as these tests.
The committed notebooks are also checked: built from their sources in tools/notebook_sources/,
saved with their outputs, and free of errors.
"""
import os
import re
from pathlib import Path

import pytest
from repo_scripts import load_script

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

import sia_autoencoder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SOURCES = REPO / "tools" / "notebook_sources"
NAMES = ["01_letters_autoencoder", "02_denoising", "03_vae", "04_autoencoders_tour",
         "05_convolutional", "06_regularized", "07_applications", "08_lecture_autoencoders"]
NEEDS = {"04_autoencoders_tour": ["sklearn"], "07_applications": ["sklearn"],
         "08_lecture_autoencoders": ["sklearn"]}  # optional packages a notebook cannot do without


def _stdout(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def _images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


def _errors(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


def _check_01(text, nb):
    assert re.search(r"\b32/32 letters learned", text), text
    # The recipe learns every letter with each of the 5 seeds of the comparison table.
    assert re.search(r"^recipe\s+(32\s+){5}5/5", text, re.M), text
    assert re.search(r"^no hidden layer\s+.*\b0/5", text, re.M), text
    assert _images(nb) >= 9


def _check_02(text, nb):
    # The wide denoiser beats the 2-D letters net, and comes near the optimal decoder at low noise.
    letters = [float(v) for v in re.search(r"^letters recipe, 2-D bottleneck.*?((?:\s+[\d.]+){3})$",
                                            text, re.M).group(1).split()]
    recipe = [float(v) for v in re.search(r"^denoising recipe \(3 × 256\).*?((?:\s+[\d.]+){3})$",
                                           text, re.M).group(1).split()]
    assert recipe[0] > letters[0] and recipe[1] > letters[1], text
    worst = float(re.search(r"worst denoising/optimal ratio up to level 0.2: ([\d.]+)", text).group(1))
    assert worst >= 0.9, text
    assert _images(nb) >= 6


def _check_03(text, nb):
    assert "2000 epochs in" in text
    rows = {float(m.group(1)): [float(v) for v in m.group(2).split()]
            for m in re.finditer(r"^\s*(\d+)((?:\s+[\d.]+){5})$", text, re.M)}
    assert sorted(rows) == [0.0, 1.0, 4.0, 20.0], text
    # columns: reconstruction, KL, wrong px, spread of mu, mean sigma
    assert rows[0.0][1] > rows[1.0][1], "β = 0 should leave the KL term large"
    assert rows[20.0][2] > rows[1.0][2], "β = 20 should reconstruct worse than β = 1"
    assert rows[20.0][4] > rows[1.0][4], "β = 20 should widen the posteriors"
    try:
        import sklearn  # noqa: F401
        assert "digits: (1797, 64)" in text, text
    except ImportError:
        assert "Skipping the digits" in text, text
    assert _images(nb) >= 10


def _check_04(text, nb):
    assert "identical reconstructions: True" in text, text
    assert "identical after 5 more epochs: True" in text, text
    flagged = {m.group(1): float(m.group(2)) for m in
               re.finditer(r"^\s+(test digits \(normal\)|rotated by 90°|upside down)\s+flagged\s+([\d.]+)%",
                           text, re.M)}
    assert len(flagged) == 3, text
    assert flagged["test digits (normal)"] <= 10 and flagged["rotated by 90°"] >= 90, flagged
    assert _images(nb) >= 8


def _check_05(text, nb):
    m = re.search(r"loss ([\d.]+) -> ([\d.]+), validation loss ([\d.]+) -> ([\d.]+)", text)
    assert m and float(m.group(2)) < float(m.group(1)) and float(m.group(4)) < float(m.group(3)), text
    assert "codes: (3, 7, 7, 32)" in text, text
    assert "with a (4, 4, 8) code" in text, text
    assert "layer 5 (MaxPool2D) leaves out the last 1 row and 1 column" in text, text
    m = re.search(r"noisy ([\d.]+), denoised ([\d.]+)", text)
    assert m and float(m.group(2)) < 0.6 * float(m.group(1)), text
    m = re.search(r"VAE loss ([\d.]+) -> ([\d.]+)", text)
    assert m and float(m.group(2)) < float(m.group(1)), text
    assert _images(nb) >= 8


def _check_06(text, nb):
    """Issue 15: the KL-penalised code's mean activation is near its target, the sparse codes
    are sparser than the plain one, the hashing codes are binary, and the purity is reported."""
    mean = float(re.search(r"^KL: mean activation ([\d.]+) \(target 0.1\)", text, re.M).group(1))
    assert abs(mean - 0.1) <= 0.03, text
    rows = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in
            re.finditer(r"^\s*(none|L1|KL)\s+([\d.]+)\s+(\d+)%", text, re.M)}
    assert rows["L1"][1] > rows["none"][1] and rows["KL"][0] < rows["none"][0], rows
    binary = float(re.search(r"^binary: ([\d.]+)% of held-out code values", text, re.M).group(1))
    assert binary >= 95, text
    purity = float(re.search(r"^purity: ([\d.]+)%", text, re.M).group(1))
    assert purity > 30, text   # ten classes: 10% by chance
    tied = re.findall(r"^tied=(False|True) ?: +([\d,]+) parameters", text, re.M)
    assert int(tied[1][1].replace(",", "")) < int(tied[0][1].replace(",", "")), text
    assert _images(nb) >= 8


def _check_07(text, nb):
    largest = [float(v) for v in re.findall(r"^k = \d+: principal angles .*\(largest ([\d.]+)\)$", text, re.M)]
    assert len(largest) == 3 and max(largest) < 3.0, text  # a linear autoencoder spans the PCA subspace
    acc = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^(raw pixels|PCA\(8\)|AutoencoderTransformer \(128, 8, 128\))\s+\d+\s+([\d.]+)", text, re.M)}
    assert len(acc) == 3 and min(acc.values()) > 0.9, text
    rmse = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^(column mean|KNNImputer|AutoencoderImputer)\s+([\d.]+)\s+[\d.]+", text, re.M)}
    assert len(rmse) == 3 and rmse["AutoencoderImputer"] < 0.7 * rmse["column mean"], text
    if "Skipping the Fashion-MNIST" not in text:
        auc = {m.group(1): float(m.group(2)) for m in re.finditer(
            r"^(AutoencoderOutlierDetector|IsolationForest)\s+ROC-AUC ([\d.]+)", text, re.M)}
        assert auc["AutoencoderOutlierDetector"] > max(0.8, auc["IsolationForest"]), text
    assert _images(nb) >= 3


def _check_08(text, nb):
    """Issue 16's lecture notebook: every model of the lecture trains and does its job."""
    m = re.search(r"^simple: .*BCE per image ([\d.]+) -> ([\d.]+), test ([\d.]+) -> ([\d.]+)", text, re.M)
    assert m and float(m.group(2)) < float(m.group(1)) and float(m.group(4)) < float(m.group(3)), text
    deep, simple = re.search(r"^deep: .*test BCE per image ([\d.]+) \(simple: ([\d.]+)\)", text, re.M).groups()
    assert float(deep) < float(simple), text
    m = re.search(r"^convolutional: .*test BCE per image ([\d.]+) -> ([\d.]+), code \(3, 3, 16\)", text, re.M)
    assert m and float(m.group(2)) < float(m.group(1)), text
    for kind in ("Gaussian", "dropout"):
        before, after = re.search(rf"^{kind}: mean squared error .*: \w[\w ]* ([\d.]+), \w+ ([\d.]+)$",
                                  text, re.M).groups()
        assert float(after) < 0.5 * float(before), (kind, text)
    share = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in
             re.finditer(r"^(L1|KL): mean activation ([\d.]+), (\d+)% of the activations", text, re.M)}
    assert abs(share["KL"][0] - 0.1) <= 0.04 and share["L1"][1] >= 30, text
    m = re.search(r"^VAE: .*loss ([\d.]+) -> ([\d.]+)", text, re.M)
    assert m and float(m.group(2)) < float(m.group(1)), text
    clothes, digits = re.search(r"^mean squared error on 200 held-out digits: clothes model ([\d.]+), "
                                r"digits model ([\d.]+)", text, re.M).groups()
    assert float(digits) < float(clothes), text
    flagged = {m.group(1): float(m.group(2)) for m in
               re.finditer(r"^\s+(test clothes|digits)\s+flagged\s+([\d.]+)%", text, re.M)}
    assert flagged["test clothes"] <= 5 and flagged["digits"] >= 5 * flagged["test clothes"], flagged
    assert _images(nb) >= 14


CHECKS = {"01_letters_autoencoder": _check_01, "02_denoising": _check_02, "03_vae": _check_03,
          "04_autoencoders_tour": _check_04, "05_convolutional": _check_05,
          "06_regularized": _check_06, "07_applications": _check_07,
          "08_lecture_autoencoders": _check_08}


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)
    assert sorted(p.stem for p in SOURCES.glob("*.py")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_matches_its_source_and_has_outputs(name):
    build = load_script("tools/build_notebooks.py")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    cells = build.parse_percent((SOURCES / f"{name}.py").read_text(encoding="utf-8"))
    assert [(c.cell_type, c.source) for c in nb.cells] == cells, \
        f"{name}.ipynb is out of date: run python tools/build_notebooks.py {name[:2]}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "committed without being executed"
    assert not _errors(nb)
    assert _images(nb) > 0


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path, monkeypatch):
    from nbclient import NotebookClient
    for module in NEEDS.get(name, []):
        pytest.importorskip(module)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    package_root = str(Path(sia_autoencoder.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [package_root,
                                                                   os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # Raises CellExecutionError, with the cell and its traceback, at the first failing cell.
    NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert not _errors(nb)
    CHECKS[name](_stdout(nb), nb)
