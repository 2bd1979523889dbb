# %% [markdown]
# # A tour of autoencoders
#
# The classic lecture on autoencoders (as in a course's "autoencoders week", or the Keras blog's
# *Building Autoencoders*), run on scikit-learn's 8×8 handwritten digits with `sia_autoencoder`:
#
# 1. a simple and a deep autoencoder, their reconstructions, and their codes drawn as images;
# 2. a 2-D latent space, coloured by digit;
# 3. a denoising autoencoder;
# 4. a variational autoencoder and its latent grid;
# 5. anomaly detection by thresholding the reconstruction error;
# 6. saving and loading a model.
#
# An **autoencoder** is a network $x \mapsto \hat x = g(f(x))$ trained to reproduce its input. The
# encoder $f$ maps the input to a **code** $h = f(x)$, usually much smaller than $x$, and the decoder
# $g$ maps the code back. Because the code is small, the network cannot copy its input: it must
# learn what the inputs have in common, and keep only what is needed to redraw them.
#
# This notebook needs **scikit-learn** for the digits (it ships them, so nothing is downloaded):
# `pip install scikit-learn`. Everything is seeded and each model runs on one thread, so the
# numbers are reproducible.

# %%
%matplotlib inline
import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

import sia_autoencoder
from sia_autoencoder import VAE, Autoencoder, datasets, noise, plots
from sia_autoencoder.datasets import DIGITS_SHAPE

try:
    X, digit = datasets.load_digits()
except ImportError as exc:
    raise ImportError("This notebook needs scikit-learn for its 8×8 digits: "
                      "pip install scikit-learn") from exc

order = np.random.default_rng(0).permutation(len(X))
train, test = order[:1500], order[1500:]
X_train, X_test, y_test = X[train], X[test], digit[test]
by_digit = np.argsort(y_test, kind="stable")  # test rows ordered 0, 0, ..., 9 (for the legends)
print(f"digits: {X.shape[0]} images of {DIGITS_SHAPE[0]}×{DIGITS_SHAPE[1]} pixels in [0, 1]; "
      f"{len(train)} for training, {len(test)} held out for testing")
plots.show_images(X_test[:20], DIGITS_SHAPE, titles=y_test[:20], ncols=20, scale=0.6,
                  suptitle="Some test digits");

# %% [markdown]
# ## 1. A simple and a deep autoencoder
#
# * **Simple**: one layer each way, `64 → 16 → 64`. The code has 16 ReLU units; the output is
#   logistic, one value per pixel in (0, 1).
# * **Deep**: `64 → 48 → 32 → 16 → 32 → 48 → 64`, with tanh hidden layers and a linear 16-unit code.
#
# Both are trained with binary cross-entropy. It works for grey levels in [0, 1] too: it is
# minimised where the output equals the target. Adam, mini-batches of 64, 200 epochs. The loss on
# the held-out test digits is logged after every epoch (`validation_data`), which shows whether
# a model is overfitting.

# %%
def train(model, epochs=200, **fit_args):
    t0 = time.perf_counter()
    history = model.fit(X_train, epochs=epochs, batch_size=64, validation_data=X_test, **fit_args)
    mse = np.mean((model.reconstruct(X_test) - X_test) ** 2)
    print(f"{model.layers}: {epochs} epochs in {time.perf_counter() - t0:.1f} s, "
          f"test loss {history.history['val_loss'][-1]:.2f}, test MSE per pixel {mse:.4f}")
    return history


simple = Autoencoder([64, 16, 64], latent_activation="relu", seed=0, threads=1)
deep = Autoencoder([64, 48, 32, 16, 32, 48, 64], activation="tanh", seed=0, threads=1)
h_simple, h_deep = train(simple), train(deep)

fig, ax = plt.subplots(figsize=(7, 4))
for name, h in (("simple", h_simple), ("deep", h_deep)):
    ax.plot(h.history["loss"], label=f"{name}, training")
    ax.plot(h.history["val_loss"], ls="--", label=f"{name}, test")
ax.set(xlabel="epoch", ylabel="BCE per image", title="Training and test loss", ylim=(14, 30))
ax.grid(alpha=0.3)
ax.legend();

# %% [markdown]
# The training and test curves lie on top of each other: with 1,500 images and about 10,000
# weights, neither model overfits. The deep model reaches a lower loss with the same code size:
# its extra layers let the encoder and the decoder be nonlinear. Below, the first 12 test digits,
# then their reconstructions by each model.

# %%
show = X_test[:12]
plots.show_images(np.concatenate([show, simple.reconstruct(show), deep.reconstruct(show)]),
                  DIGITS_SHAPE, ncols=12, scale=0.8,
                  suptitle="Test digits (top), simple reconstruction (middle), deep (bottom)");

# %% [markdown]
# **The codes as images.** Each digit's 16 code values, drawn as a 4×4 image (as the Keras blog
# draws its 32-value codes). For the simple model they are ReLU outputs, ≥ 0, scaled here by
# their maximum. They are not pictures of digits, but a description that the decoder can read.
# Below are two test examples of each digit from 0 to 5. Compare the two codes of the same digit
# with the codes of other digits.

# %%
pick = np.concatenate([np.flatnonzero(y_test == d)[:2] for d in range(6)])
codes = simple.encode(X_test[pick])
fig, axes = plt.subplots(2, len(pick), figsize=(0.85 * len(pick), 2.2))
for k, i in enumerate(pick):
    axes[0, k].imshow(X_test[i].reshape(DIGITS_SHAPE), cmap="gray_r", vmin=0, vmax=1)
    axes[1, k].imshow(codes[k].reshape(4, 4), cmap="gray_r", vmin=0, vmax=codes.max())
    axes[0, k].set_title(str(y_test[i]), fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("digit", fontsize=8)
axes[1, 0].set_ylabel("code", fontsize=8)
fig.suptitle("Two test examples of each digit 0–5 (top) and their 16-value codes as 4×4 images")
fig.tight_layout()

# %% [markdown]
# ## 2. A 2-D latent space, coloured by digit
#
# To *look* at the code space, make it 2-D: `64 → 48 → 32 → 2 → 32 → 48 → 64`. Each test digit
# becomes a point in the plane, and we colour it by its label. The labels are **not** used in
# training.

# %%
deep2 = Autoencoder([64, 48, 32, 2, 32, 48, 64], activation="tanh", seed=0, threads=1)
train(deep2)
plots.plot_latent_classes(deep2, X_test[by_digit], y_test[by_digit],
                          title="2-D codes of the test digits, by digit");

# %% [markdown]
# The digits form clusters without having been told the classes. Reconstructing well from two
# numbers is easiest when similar images get similar codes. Some classes overlap, and the clusters
# have odd shapes and sizes: an ordinary autoencoder places them wherever suits its decoder.
# The gaps between the clusters decode to nothing in particular. The VAE (section 4) fixes that.
#
# ## 3. A denoising autoencoder
#
# Train noisy in, clean out: `fit(..., noise="gaussian", noise_level=0.3)` adds fresh Gaussian
# noise (σ = 0.3, clipped to [0, 1]) to every batch as it is drawn, while the target stays clean.
# The network must learn what digits look like, in order to remove what does not belong to one.
# The code is 32 wide, because here we want good images rather than compression.

# %%
denoiser = Autoencoder([64, 128, 64, 32, 64, 128, 64], activation="relu", seed=0, threads=1)
train(denoiser, noise="gaussian", noise_level=0.3)
noisy = noise.gaussian(X_test, 0.3, rng=1)
print(f"test MSE per pixel: noisy input {np.mean((noisy - X_test) ** 2):.4f}, "
      f"denoised {np.mean((denoiser.reconstruct(noisy) - X_test) ** 2):.4f}, "
      f"deep model of section 1 on the noisy input {np.mean((deep.reconstruct(noisy) - X_test) ** 2):.4f}")
plots.plot_denoising(denoiser, X_test[:12], noisy[:12], y_test[:12], shape=DIGITS_SHAPE,
                     title="Clean (top), noisy σ = 0.3 (middle), denoised (bottom)");

# %% [markdown]
# The denoiser removes most of the noise: its output is much closer to the clean digit than the
# noisy input is. The deep model of section 1 was never shown noise, and it does *worse* than doing
# nothing. Noise it has never seen moves the codes to the wrong places, and the decoder redraws
# a different or blurred digit. Noise in training is what makes a denoiser. (The
# numbers under the images count the pixels on the wrong side of 0.5, a rough measure for grey
# images.)
#
# ## 4. A variational autoencoder and its latent grid
#
# A VAE's encoder outputs a distribution $\mathcal N(\mu, \sigma^2)$ for each input instead of a point,
# and its loss adds a KL term that pulls these distributions toward $\mathcal N(0, I)$. The codes
# then fill the region around the origin without gaps, so **any** point there decodes to a
# plausible digit. Decoding a grid of points shows the whole learned "map of digits". (Notebook
# 03 covers the VAE in detail.)

# %%
vae = VAE(encoder=[64, 128, 64], latent_dim=2, kl_warmup_epochs=20, learning_rate=1e-3,
          seed=0, threads=1)
t0 = time.perf_counter()
vh = vae.fit(X_train, epochs=100, batch_size=64)
print(f"VAE: 100 epochs in {time.perf_counter() - t0:.1f} s; last epoch: reconstruction "
      f"{vh.history['reconstruction_loss'][-1]:.2f}, KL {vh.history['kl_loss'][-1]:.2f}")
fig, axes = plt.subplots(1, 2, figsize=(14, 6.5))
plots.plot_latent_classes(vae, X_test[by_digit], y_test[by_digit], ax=axes[0],
                          title="VAE: the codes μ of the test digits")
plots.plot_latent_grid(vae, 15, -3, 3, shape=DIGITS_SHAPE, ax=axes[1],
                       title="VAE: digits decoded over a 15×15 grid of [−3, 3]²")
fig.tight_layout()

# %% [markdown]
# Compare the left panel with section 2: the codes are now centred on the origin and gathered
# within about ±3. In the grid every tile is a digit or a smooth blend of two, with no
# empty regions between the clusters.
#
# ## 5. Anomaly detection
#
# An autoencoder reconstructs well what resembles its training data, and badly what does not.
# That gives a detector: compute the **reconstruction error** of a new input, and flag it as an
# anomaly when the error exceeds a threshold. Here:
#
# * the model is the deep autoencoder of section 1, trained on ordinary digits;
# * the error is the mean squared error per pixel, $\frac1{64}\lVert x - \hat x\rVert^2$;
# * the threshold is the 99th percentile of the errors on the *training* digits. So 1 % of the
#   training digits lie above it, and a similar small fraction of new ordinary digits get flagged
#   by mistake (false alarms). The fraction is usually a little higher, because the model fits
#   new digits slightly worse;
# * the anomalies are the test digits rotated by 90°, and the test digits flipped upside down
#   (top to bottom).

# %%
def reconstruction_error(model, A):
    return np.mean((model.reconstruct(A) - A) ** 2, axis=1)


images = X_test.reshape(-1, *DIGITS_SHAPE)
groups = {"test digits (normal)": X_test,
          "rotated by 90°": np.rot90(images, 1, axes=(1, 2)).reshape(len(X_test), -1),
          "upside down": images[:, ::-1, :].reshape(len(X_test), -1)}
threshold = np.quantile(reconstruction_error(deep, X_train), 0.99)
errors = {name: reconstruction_error(deep, A) for name, A in groups.items()}
print(f"threshold (99th percentile of the training errors): {threshold:.4f}")
for name, e in errors.items():
    print(f"  {name:<22} flagged {np.mean(e > threshold):6.1%}   (median error {np.median(e):.4f})")

fig, ax = plt.subplots(figsize=(8, 4))
bins = np.linspace(0, max(e.max() for e in errors.values()), 60)
for name, e in errors.items():
    ax.hist(e, bins=bins, alpha=0.55, label=name)
ax.axvline(threshold, color="black", ls="--", label="threshold")
ax.set(xlabel="reconstruction error (MSE per pixel)", ylabel="images",
       title="Reconstruction errors: normal digits against anomalies")
ax.legend();

# %% [markdown]
# The rotated digits are caught almost every time: they put ink where digits never have it, and the
# decoder cannot draw that. The upside-down digits are a harder case. Many are missed, and for a
# good reason: flipped top to bottom, a 0, 1, 3 or 8 is still a 0, 1, 3 or 8 (they are roughly
# symmetric), and some other digits become something close to a digit. An autoencoder detects inputs unlike its training
# data. It cannot detect inputs that merely carry the wrong label. The threshold sets the
# trade-off: lower it to catch more anomalies, at the price of more false alarms.
#
# Which upside-down digits were missed?

# %%
upside = groups["upside down"]
missed = np.flatnonzero(errors["upside down"] <= threshold)
caught = np.flatnonzero(errors["upside down"] > threshold)
counts = np.bincount(y_test[missed], minlength=10) / np.maximum(np.bincount(y_test, minlength=10), 1)
print("fraction missed, by digit:", "  ".join(f"{d}: {c:.0%}" for d, c in enumerate(counts)))
plots.show_images(np.concatenate([upside[missed[:10]], upside[caught[:10]]]), DIGITS_SHAPE,
                  titles=[f"missed ({y_test[i]})" for i in missed[:10]]
                  + [f"caught ({y_test[i]})" for i in caught[:10]], ncols=10, scale=0.9,
                  suptitle="Upside-down test digits: missed (top) and caught (bottom); true digit in brackets");

# %% [markdown]
# ## 6. Saving and loading
#
# `model.save(path)` writes one `.npz` file: the weights, the optimizer's state, the training
# history and the constructor's arguments (as JSON, so no code is stored in the file).
# `sia_autoencoder.load(path)` rebuilds the model from it. The loaded model makes the same
# predictions, and it can go on training exactly where the saved one stopped.

# %%
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "deep_digits.npz")
    deep.save(path)
    print(f"saved {os.path.basename(path)}: {os.path.getsize(path) / 1024:.1f} KiB")
    restored = sia_autoencoder.load(path)

restored.summary()
same = np.array_equal(restored.reconstruct(X_test), deep.reconstruct(X_test))
print(f"\nloaded: {restored!r}\nidentical reconstructions: {same}; "
      f"history restored: {len(restored.history_.history['loss'])} epochs")

# Both copies continue training for 5 epochs: they stay identical (same weights, optimizer and
# random state).
deep.fit(X_train, epochs=5, batch_size=64)
restored.fit(X_train, epochs=5, batch_size=64)
print("identical after 5 more epochs:", np.array_equal(restored.params, deep.params))

# %% [markdown]
# ## Summary
#
# | model | what it learns | what it is for |
# |---|---|---|
# | simple / deep autoencoder | a compressed code | compression, features, anomaly detection |
# | 2-D autoencoder | a map of the data | visualisation |
# | denoising autoencoder | to undo a corruption | cleaning inputs, robust features |
# | VAE | a map with no holes, and a distribution over it | generating new data |
#
# Things to try: change the code size of the simple model (4, 8, 32) and watch the test loss; use
# `noise="salt_and_pepper"` in section 3; set the anomaly threshold at the 95th percentile.
