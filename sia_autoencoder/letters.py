"""The reference exercise: learn the 32 characters of font.h in a 2-D latent space.

``train_letters(seed)`` is the documented recipe; ``run(out_dir)`` is the main job behind
``python -m sia_autoencoder``: it trains, writes the figures and a short report.
"""
import json
import os
import time

import numpy as np

from .autoencoder import Autoencoder
from .callbacks import PixelErrorStop
from .datasets import load_font

#: The documented recipe: the course's architecture, tanh hidden layers, a linear 2-D latent
#: layer, a logistic output, binary cross-entropy, Adam at lr 0.01, full batch, stopping as soon
#: as every character is reproduced with 0 wrong pixels.
RECIPE = dict(layers=[35, 25, 15, 10, 2, 10, 15, 25, 35], activation="tanh",
              latent_activation="linear", output_activation="logistic", loss="bce",
              optimizer="adam", learning_rate=0.01)
FIT = dict(epochs=5000, batch_size=None, max_wrong=0)


def train_letters(seed=0, threads=1, dtype="float32", verbose=0):
    """Train the recipe on the font; returns (model, X, labels, history, seconds)."""
    X, labels = load_font()
    ae = Autoencoder(seed=seed, threads=threads, dtype=dtype, **RECIPE)
    t0 = time.perf_counter()
    history = ae.fit(X, epochs=FIT["epochs"], batch_size=FIT["batch_size"], verbose=verbose,
                     callbacks=[PixelErrorStop(FIT["max_wrong"])])
    return ae, X, labels, history, time.perf_counter() - t0


def letters_report(ae, X, labels, history, seconds):
    errs = ae.pixel_errors(X)
    return {"letters_learned": int((errs <= 1).sum()), "letters_total": len(labels),
            "max_wrong_pixels": int(errs.max()),
            "wrong_pixels": {label: int(e) for label, e in zip(labels, errs)},
            "epochs": len(history), "seconds": round(seconds, 4),
            "final_loss": history.history["loss"][-1] if len(history) else None}


def save_letters_figures(ae, X, labels, history, out_dir):
    """Writes loss.png, latent.png, reconstructions.png, latent_grid.png, new_character.png and
    interpolation.png into out_dir; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    from . import plots
    Z = ae.encode(X)
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    margin = 0.1 * (hi - lo)
    # The emptiest point of the window: the grid point farthest from every character's code.
    grid = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], 41), np.linspace(lo[1], hi[1], 41)), -1).reshape(-1, 2)
    far = grid[np.argmax(np.min(np.linalg.norm(grid[:, None] - Z[None], axis=2), axis=1))]
    a, b = labels.index("a"), labels.index("z")
    figures = {
        "loss.png": plots.plot_history(history),
        "latent.png": plots.plot_latent(ae, X, labels),
        "reconstructions.png": plots.plot_reconstructions(ae, X, labels),
        "latent_grid.png": plots.plot_latent_grid(ae, 15, lo - margin, hi + margin),
        "new_character.png": plots.plot_decoded(ae, far, title="new character at (" +
                                                ", ".join(f"{v:.2f}" for v in far) + ")"),
        "interpolation.png": plots.plot_interpolation(ae, X[a], X[b], 10, labels=("a", "z")),
    }
    paths = []
    for name, fig in figures.items():
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=110)
        matplotlib.pyplot.close(fig)
        paths.append(path)
    return paths


def run(out_dir="out", seed=0, verbose=1):
    """The main job: train the letters recipe, write its figures and report.json to out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    ae, X, labels, history, seconds = train_letters(seed, verbose=verbose)
    report = letters_report(ae, X, labels, history, seconds)
    save_letters_figures(ae, X, labels, history, out_dir)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    wrong = ", ".join(f"{k}:{v}" for k, v in report["wrong_pixels"].items() if v) or "none"
    print(f"letters learned (<= 1 wrong pixel): {report['letters_learned']}/{report['letters_total']}"
          f" in {report['epochs']} epochs, {report['seconds']:.2f} s\n"
          f"wrong pixels per character: {wrong}\nfigures and report.json written to {out_dir}/")
    return report
