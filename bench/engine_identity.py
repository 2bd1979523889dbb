"""Bit-identity of the dense models across the layer-engine redesign (issue 14).

    python bench/engine_identity.py save base.npz     # with the tree before the change
    python bench/engine_identity.py check base.npz    # with the tree after it

Trains a set of dense Autoencoder, DenoisingAutoencoder and VAE runs (letters recipe, online,
mini-batches with shuffling and noise, chunked batches of more than SIA_STEP_ROWS rows, 1 and 2
threads, float32 and float64) through the public API only, and records every final weight,
loss history and inference output. `check` compares them bit for bit (np.array_equal).
"""
import sys

import numpy as np

from sia_autoencoder import Autoencoder, VAE
from sia_autoencoder.callbacks import Callback
from sia_autoencoder.datasets import load_digits, load_font
from sia_autoencoder.denoising import DenoisingAutoencoder


class Watch(Callback):
    """A callback that does nothing: it makes fit run one epoch per C call."""


def runs():
    X, _ = load_font()
    D = load_digits()[0][:300]
    R = np.random.default_rng(5).random((600, 40))
    out = {}
    for dtype in ("float32", "float64"):
        for threads in (1, 2):
            tag = f"{dtype}_t{threads}"
            ae = Autoencoder([35, 25, 15, 10, 2, 10, 15, 25, 35], activation="tanh", loss="bce",
                             optimizer="adam", learning_rate=0.01, seed=0, dtype=dtype, threads=threads)
            h = ae.fit(X, epochs=150, batch_size=None)
            out[f"letters_{tag}_params"] = ae.params.copy()
            out[f"letters_{tag}_loss"] = np.array(h.history["loss"])
            out[f"letters_{tag}_encode"] = ae.encode(X)
            out[f"letters_{tag}_decode"] = ae.decode(ae.encode(X) + 0.1)
            out[f"letters_{tag}_eval"] = np.array([ae.evaluate(X)])

            ae = Autoencoder([35, 20, 2, 20, 35], activation="relu", loss="mse", optimizer="momentum",
                             seed=1, dtype=dtype, threads=threads)
            h = ae.fit(X, epochs=20, batch_size="online")
            out[f"online_{tag}_params"] = ae.params.copy()
            out[f"online_{tag}_loss"] = np.array(h.history["loss"])

            dae = DenoisingAutoencoder([35, 64, 64, 35], activation="relu", latent_activation="relu",
                                       latent_index=1, noise="salt_and_pepper", noise_level=0.1,
                                       seed=2, dtype=dtype, threads=threads)
            h = dae.fit(X, epochs=30, batch_size=8, shuffle=True)
            out[f"dae_{tag}_params"] = dae.params.copy()
            out[f"dae_{tag}_loss"] = np.array(h.history["loss"])
            out[f"dae_{tag}_out"] = dae.reconstruct(X)

            ae = Autoencoder([40, 30, 3, 30, 40], activation="tanh", loss="mse", seed=3,
                             dtype=dtype, threads=threads)
            h = ae.fit(R, epochs=4, batch_size=300, shuffle=True, noise="gaussian", noise_level=0.1)
            out[f"chunks_{tag}_params"] = ae.params.copy()
            out[f"chunks_{tag}_loss"] = np.array(h.history["loss"])
            out[f"chunks_{tag}_out"] = ae.reconstruct(R)

            ae = Autoencoder([64, 48, 8, 48, 64], activation="tanh", loss="bce", seed=4,
                             dtype=dtype, threads=threads)
            h = ae.fit(D, epochs=5, batch_size=32, shuffle=True)
            out[f"digits_{tag}_params"] = ae.params.copy()
            out[f"digits_{tag}_loss"] = np.array(h.history["loss"])

            # VAE: one C call per epoch (a callback) had each epoch's order drawn from the
            # identity, which the one trainer now does for every split of the epochs.
            for name, kw in (("vae", dict(batch_size=16, shuffle=True, callbacks=[Watch()])),
                             ("vae_noshuffle", dict(batch_size=8, shuffle=False)),
                             ("vae_full", dict(batch_size=None, shuffle=False))):
                v = VAE(encoder=[64, 32], latent_dim=2, decoder=[32, 64], seed=5, dtype=dtype,
                        threads=threads, kl_warmup_epochs=3)
                h = v.fit(D, epochs=6, **kw)
                out[f"{name}_{tag}_params"] = v.params.copy()
                for key in ("loss", "reconstruction_loss", "kl_loss"):
                    out[f"{name}_{tag}_{key}"] = np.array(h.history[key])
                out[f"{name}_{tag}_encode"] = v.encode(D)
                out[f"{name}_{tag}_recon"] = v.reconstruct(D)
                out[f"{name}_{tag}_eval"] = np.array(list(v.evaluate(D, return_terms=True).values()))
                eps = np.random.default_rng(0).standard_normal((D.shape[0], 2))
                total, recon, kl, g = v.loss_grad(D, eps, kl_weight=0.5)
                out[f"{name}_{tag}_lossgrad"] = np.concatenate([[total, recon, kl], g])
    return out


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    got = runs()
    if mode == "save":
        np.savez(path, **got)
        print(f"saved {len(got)} arrays to {path}")
    else:
        ref = np.load(path)
        bad = [k for k in ref.files if k not in got or got[k].shape != ref[k].shape
               or not np.array_equal(got[k], ref[k])]
        for k in bad:
            diff = np.max(np.abs(got[k] - ref[k])) if k in got and got[k].shape == ref[k].shape else "shape"
            print(f"DIFFERS {k}: {diff}")
        print(f"{len(ref.files) - len(bad)} of {len(ref.files)} arrays bit-identical")
        sys.exit(1 if bad else 0)
