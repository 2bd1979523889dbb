"""The command line end to end: bundled configs, outputs, errors, progress."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import sia_autoencoder as sa
from sia_autoencoder.__main__ import main
from sia_autoencoder.config import bundled_configs, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG = b"\x89PNG\r\n\x1a\n"


def run_cli(*args):
    return main([str(a) for a in args])


@pytest.mark.parametrize("name", sorted(bundled_configs()))
def test_bundled_config_end_to_end(name, tmp_path):
    out = tmp_path / "out"
    assert run_cli(name, "--out", out, "--epochs", 3, "--quiet") == 0
    summary = json.loads((out / "summary.json").read_text())
    cfg = load_config(name)
    assert summary["name"] == name and summary["problem"] == cfg.problem
    assert summary["config"] == cfg.replace(epochs=3).to_dict()
    assert summary["overrides"] == {"epochs": 3}
    assert summary["package_version"] == sa.__version__
    assert summary["wall_time_s"] >= summary["train_seconds"] > 0
    # The figures: every one the config asks for is written, or skipped with a reason.
    expected = set(cfg.plot_list())
    written = {f[:-4] for f in summary["figures"]}
    assert written | set(summary["skipped_figures"]) == expected
    assert set(summary["skipped_figures"]) <= {"denoising", "noise_study"}
    from sia_autoencoder import plots
    for fig in ("noise_study", "denoising"):   # skipped only while the plot does not exist
        assert fig not in summary["skipped_figures"] or not hasattr(plots, "plot_" + fig)
    for f in summary["figures"]:
        assert (out / f).read_bytes()[:8] == PNG
    # The model: saved, and it is the one trained (its history is the summary's).
    model = sa.load(out / "model.npz")
    assert type(model).__name__ == summary["model"]["class"]
    assert model.epochs_trained_ == summary["epochs_run"] == 3
    for key, value in summary["final_loss"].items():
        assert model.history_.history[key][-1] == pytest.approx(value, rel=1e-12)
    if cfg.problem == "VARIATIONAL":
        assert set(summary["final_loss"]) == {"loss", "reconstruction_loss", "kl_loss"}
    if cfg.dataset == "font":
        X = sa.datasets.load_font()[0]
        errs = ((model.reconstruct(X) >= 0.5) != (X >= 0.5)).sum(axis=1)
        assert summary["letters_total"] == 32
        assert summary["letters_learned"] == int((errs <= 1).sum())
        assert summary["max_wrong_pixels"] == int(errs.max())


def test_no_config_runs_the_letters(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("--epochs", 2) == 0
    summary = json.loads((tmp_path / "out" / "letters" / "summary.json").read_text())
    assert summary["name"] == "letters" and summary["dataset"]["name"] == "font"
    assert {"loss.png", "latent.png", "reconstructions.png", "latent_grid.png"} <= set(summary["figures"])
    printed = capsys.readouterr().out
    assert "letters learned (<= 1 wrong pixel):" in printed and "out/letters" in printed


def no_plots(tmp_path, name):
    """A bundled config, copied without figures (the slow part), for quick runs."""
    from sia_autoencoder.config import bundled_config_path
    data = json.loads(open(bundled_config_path(name)).read())
    data["plots"] = ["loss"]
    path = tmp_path / f"{name}_quick.json"
    path.write_text(json.dumps(data))
    return path


def test_same_config_and_seed_same_numbers(tmp_path):
    quick = no_plots(tmp_path, "team_layout")
    for d in ("a", "b"):
        assert run_cli(quick, "--out", tmp_path / d, "--epochs", 25, "-q") == 0
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("a", "b"))
    assert a["final_loss"] == b["final_loss"]
    assert a["wrong_pixels"] == b["wrong_pixels"] and a["noise_study"] == b["noise_study"]
    ma, mb = sa.load(tmp_path / "a" / "model.npz"), sa.load(tmp_path / "b" / "model.npz")
    assert np.array_equal(ma.params, mb.params)
    assert run_cli(quick, "--out", tmp_path / "c", "--epochs", 25, "--seed", 1, "-q") == 0
    c = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert c["final_loss"] != a["final_loss"] and c["config"]["seed"] == 1


def test_invalid_config_trains_and_writes_nothing(tmp_path, capsys):
    bad = {"problem": "CONVENTIONAL", "architecture": {"latent": {"units": 2}},
           "optimizer": {"type": "ADAGRAD"}, "epoch": 10}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    out = tmp_path / "out"
    assert run_cli(tmp_path / "bad.json", "--out", out) == 2
    err = capsys.readouterr().err
    assert "invalid config" in err and "bad.json: 2 errors" in err
    assert ("optimizer.type: 'ADAGRAD' is not one of GRADIENT_DESCENT, MOMENTUM, ADAM, ADAMW, "
            "RMSPROP, NADAM, ADADELTA") in err
    assert "epoch: unknown key; did you mean 'epochs'?" in err
    assert not out.exists()


def test_errors_that_need_the_data_come_before_training(tmp_path, capsys):
    X = np.linspace(-1, 2, 40).reshape(8, 5)
    np.save(tmp_path / "wide.npy", X)
    cfg = {"dataset": "wide.npy", "architecture": {"latent": {"units": 2}},
           "updater": {"type": "MINI-BATCH", "batch_size": 9}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert run_cli(tmp_path / "c.json", "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "updater.batch_size: 9 is more than the 8 samples" in err
    assert "loss: BCE needs data in [0, 1], but the dataset" in err and "[-1, 2]" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,x\n", "could not be read as a numeric matrix"),
    ("1,2\n3,nan\n", "expected finite values, got nan at row 1, column 1"),
])
def test_bad_csv_dataset(tmp_path, capsys, content, message):
    (tmp_path / "d.csv").write_text(content)
    (tmp_path / "c.json").write_text(json.dumps(
        {"dataset": "d.csv", "loss": "MSE", "architecture": {"latent": {"units": 1},
                                                             "output": {"activation": "LINEAR"}}}))
    assert run_cli(tmp_path / "c.json", "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "dataset: " in err and "d.csv" in err and message in err


def test_csv_and_npy_datasets_train(tmp_path):
    rng = np.random.default_rng(0)
    X = (rng.random((12, 16)) < 0.4).astype(float)
    np.savetxt(tmp_path / "d.csv", X, delimiter=",", header="p" + ",p" * 15, comments="")
    np.save(tmp_path / "d.npy", X)
    for ext in ("csv", "npy"):
        cfg = {"dataset": f"d.{ext}", "image_shape": [4, 4], "plots": ["reconstructions"],
               "architecture": {"encoder": [{"units": 8}], "latent": {"units": 2}}}
        (tmp_path / f"{ext}.json").write_text(json.dumps(cfg))
        assert run_cli(tmp_path / f"{ext}.json", "--out", tmp_path / ext, "--epochs", 5, "-q") == 0
    a, b = (json.loads((tmp_path / e / "summary.json").read_text()) for e in ("csv", "npy"))
    assert a["dataset"]["samples"] == 12 and a["dataset"]["image_shape"] == [4, 4]
    assert a["final_loss"] == b["final_loss"]


def test_list_copy_check(tmp_path, capsys):
    assert run_cli("--list") == 0
    listed = capsys.readouterr().out
    for name in ("letters", "denoising", "vae"):
        assert name in listed
    dest = tmp_path / "mine.json"
    assert run_cli("--copy", "vae", dest) == 0
    assert load_config(dest).to_dict() == load_config("vae").replace(name="mine").to_dict()
    assert run_cli("--copy", "vae", dest) == 2            # never overwrites
    assert "exists" in capsys.readouterr().err
    assert run_cli("--copy", "vea", tmp_path / "x.json") == 2
    assert "did you mean 'vae'?" in capsys.readouterr().err
    assert run_cli("denoising", "--check", "--epochs", 7) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 7
    assert run_cli("no_such_config") == 2
    assert "bundled configs are" in capsys.readouterr().err


def _cli_process(args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "sia_autoencoder", *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=120, **kw)


def test_progress_piped_and_quiet(tmp_path):
    quick = no_plots(tmp_path, "letters")
    piped = _cli_process([quick, "--epochs", 40, "--out", tmp_path / "a"])
    assert piped.returncode == 0, piped.stderr
    lines = [l for l in piped.stdout.splitlines() if l.startswith("Epoch")]
    assert len(lines) == 20 and lines[-1].startswith("Epoch 40/40 - loss: ")   # every 2 epochs
    assert "\r" not in piped.stdout
    quiet = _cli_process([quick, "--epochs", 40, "--out", tmp_path / "b", "--quiet"])
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert (tmp_path / "b" / "summary.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_progress_bar_on_a_terminal(tmp_path):
    from terminal import run_in_pty
    env = dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg")
    status, text = run_in_pty([sys.executable, "-m", "sia_autoencoder", str(no_plots(tmp_path, "letters")),
                               "--epochs", "30", "--out", str(tmp_path / "t")], env)
    assert status == 0
    assert "\rEpoch 30/30 [========================] - loss: " in text
    assert "left" in text and "done" in text
