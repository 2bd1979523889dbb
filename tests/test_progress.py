"""verbose=1 on a terminal: the bar fits the terminal's width, so that redrawing it in place
leaves no stale lines (a VAE with validation logs six numbers). The notebook side is in
test_notebook_display.py."""
import io
import os
import re
import sys

import pytest

from sia_autoencoder._progress import Progress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAE_LOGS = {"loss": 123.456789, "reconstruction_loss": 100.12345, "kl_loss": 23.33333,
            "val_loss": 130.1234, "val_reconstruction_loss": 105.4444, "val_kl_loss": 24.6789}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _segments(text):
    return [s for s in re.split(r"[\r\n]", text) if s]


@pytest.mark.parametrize("columns", [40, 60, 100, 240])
def test_bar_fits_the_terminal_width(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = Terminal()
    progress = Progress(1000, 1, stream=out)
    for epoch in range(1, 1001, 37):
        progress.update(epoch, VAE_LOGS, force=True)
    progress.close()
    segments = _segments(out.getvalue())
    assert max(map(len, segments)) <= columns - 1, segments
    assert all(s.startswith("Epoch ") for s in segments)
    if columns >= 240:   # room for everything: the full bar and every log
        assert "[" + "=" * 24 + "]" in segments[-1] and "val_kl_loss: 24.68" in segments[-1]


def test_lines_mode_is_not_cut(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()   # a file or a pipe: whole lines, whatever the width
    progress = Progress(10, 2, stream=out)
    progress.update(1, VAE_LOGS)
    assert "val_kl_loss: 24.68" in out.getvalue()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_a_vae_with_validation_in_a_60_column_terminal():
    from terminal import run_in_pty
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(PYTHONPATH=ROOT, MPLBACKEND="Agg")
    code = ("from sia_autoencoder import VAE, datasets\n"
            "X, _ = datasets.load_emojis()\n"
            "vae = VAE(encoder=[400, 50], latent_dim=2, seed=0)\n"
            "vae.fit(X, epochs=40, batch_size=8, validation_data=X[:8], verbose=1)\n")
    status, text = run_in_pty([sys.executable, "-c", code], env, columns=60)
    assert status == 0, text
    segments = _segments(text)
    assert segments and segments[-1].startswith("Epoch 40/40"), segments
    assert max(map(len, segments)) <= 59, segments
