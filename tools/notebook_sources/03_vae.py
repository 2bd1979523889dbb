# %% [markdown]
# # Exercise 2: a variational autoencoder (VAE)
#
# An ordinary autoencoder puts each input at *some* point of the latent space, wherever its
# decoder can use it. Nothing says where the codes go, so a random point of the plane usually
# decodes to nonsense. A **variational autoencoder** fixes that, so that the decoder becomes a
# generator: sample a point from a known distribution, decode it, get a new image.
#
# **The model.** For an input $x$ the encoder outputs two vectors, a mean $\mu(x)$ and a log-variance
# $\log\sigma^2(x)$. The code is drawn as
#
# $$z = \mu(x) + \sigma(x)\,\varepsilon, \qquad \varepsilon \sim \mathcal N(0, I)$$
#
# (the *reparameterisation trick*: the randomness is in $\varepsilon$, so gradients flow through
# $\mu$ and $\sigma$). The decoder maps $z$ back to an image.
#
# **The loss** has two terms, averaged over the batch:
#
# $$\mathcal L = \underbrace{\mathrm{BCE}(x, \hat x)}_{\text{reconstruction, summed over pixels}}
#   \; + \; \beta \, \underbrace{\tfrac12 \sum_j \left(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1\right)}_{\mathrm{KL}\left(\mathcal N(\mu, \sigma^2)\,\|\,\mathcal N(0, I)\right)}$$
#
# The reconstruction term wants each code precise and far from the others. The KL term pulls every
# code's distribution toward the **prior** $\mathcal N(0, I)$: means near 0, spreads near 1. The
# balance fills the region around the origin with codes and leaves no holes. So to **generate**,
# draw $z \sim \mathcal N(0, I)$ and decode. $\beta = 1$ is the plain VAE. Section 6 varies it.
#
# **KL warm-up.** At the start the decoder is useless, and a full-strength KL term would squash
# every code onto the prior before the decoder learns to use them. With `kl_warmup_epochs=N` the KL
# weight grows linearly from 0 to $\beta$ over the first N epochs.
#
# The models use a 2-D latent space so we can draw it. Everything is seeded and runs on one thread,
# so the results are reproducible.

# %%
%matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from sia_autoencoder import VAE, datasets, plots
from sia_autoencoder.datasets import DIGITS_SHAPE, EMOJI_SHAPE

X, names = datasets.load_emojis()
print("emojis:", X.shape, "values in", (float(X.min()), float(X.max())))
plots.show_images(X, EMOJI_SHAPE, titles=names, ncols=10, scale=1.0, suptitle="The 30 bundled emojis");

# %% [markdown]
# ## 1. The VAE on the emojis
#
# Each 20×20 emoji is a row of 400 pixels in [0, 1] (1 = ink). The encoder is
# `400 → 200 → 100 → (μ, log σ²)` of 2 + 2 units, and the decoder mirrors it, `2 → 100 → 200 → 400`,
# with tanh hidden layers and a logistic output (so BCE applies). There are only 30 images, so
# each step uses all of them (`batch_size=None`).

# %%
vae = VAE(encoder=[400, 200, 100], latent_dim=2, kl_warmup_epochs=500, learning_rate=1e-3,
          seed=0, threads=1)
vae.summary()
t0 = time.perf_counter()
history = vae.fit(X, epochs=2000, batch_size=None)
print(f"\n2000 epochs in {time.perf_counter() - t0:.1f} s; last epoch: "
      + ", ".join(f"{k} {v[-1]:.2f}" for k, v in history.history.items()))

# %% [markdown]
# ## 2. Reconstruction and KL curves
#
# The reconstruction loss (blue, left axis) and the KL term (red, right axis) pull against each
# other. During the warm-up (the first 500 epochs) the KL weight is small, so the KL term rises
# while the encoder spreads the codes out to reconstruct well. Once the weight reaches β = 1, the
# KL term is pushed back down, and both settle into a compromise. The total (dashed) is what the
# optimizer minimises.

# %%
plots.plot_vae_history(history, title="Emoji VAE: reconstruction against KL");

# %%
mu, logvar = vae.encode(X, return_logvar=True)
sigma = np.exp(0.5 * logvar)
print(f"codes: mean of μ {np.round(mu.mean(axis=0), 2)}, spread of μ {np.round(mu.std(axis=0), 2)}, "
      f"mean σ {np.round(sigma.mean(axis=0), 3)}")
fig, ax = plt.subplots(figsize=(7, 6))
plots.plot_latent(vae, X, names, ax=ax, title="Emoji codes: μ ± 2σ (shaded); dashed: 2 sd of the prior")
for (x, y), s in zip(mu, sigma):
    ax.add_patch(Ellipse((x, y), 4 * s[0], 4 * s[1], alpha=0.2))
ax.add_patch(plt.Circle((0, 0), 2, fill=False, ls="--", color="gray"))
ax.set_aspect("equal", adjustable="datalim")

# %% [markdown]
# The means gather around the origin, inside about two standard deviations of the prior (dashed
# circle), as the KL term asks. Similar pictures sit close together: the faces form one region,
# the icons another. With only 30 pictures each posterior is much narrower than the prior (small
# σ). Reconstruction wins that part of the compromise.
#
# Originals (top) and reconstructions from the mean code (bottom):

# %%
plots.show_images(np.concatenate([X[:15], vae.reconstruct(X[:15]), X[15:], vae.reconstruct(X[15:])]),
                  EMOJI_SHAPE, ncols=15, scale=0.8,
                  suptitle="Originals (rows 1, 3) and reconstructions (rows 2, 4)");

# %% [markdown]
# ## 3. Samples
#
# To generate, draw $z \sim \mathcal N(0, I)$ and decode it. `vae.sample(n, seed)` does both.

# %%
plots.plot_samples(vae, 24, shape=EMOJI_SHAPE, seed=0, ncols=12,
                   title="24 emojis decoded from z ~ N(0, I)");

# %% [markdown]
# Most samples are recognisable emojis. Some are blends, where $z$ fell between two codes. With 30
# training images the VAE can mostly redraw what it has seen, or mix neighbours: it does not
# invent new kinds of pictures.
#
# ## 4. Latent grids
#
# The course's grid: 8×8 points evenly spaced over $[-4, 4]^2$, each decoded. Under the prior,
# 99.99 % of the samples fall within ±4 on each axis, so this window shows everything the
# sampler can produce. Then a wider window, $[-10, 10]^2$, 12×12, shows what happens far outside
# the prior, where the decoder never had training codes.

# %%
plots.plot_latent_grid(vae, 8, -4, 4, shape=EMOJI_SHAPE, title="Emoji VAE: 8×8 grid over [−4, 4]²");
plots.plot_latent_grid(vae, 12, -10, 10, shape=EMOJI_SHAPE,
                       title="Emoji VAE: 12×12 grid over the wider window [−10, 10]²");

# %% [markdown]
# In the $[-4, 4]$ grid the pictures change gradually from tile to tile, and every region is a
# recognisable emoji or a blend of neighbours: the KL term left no holes. In the wide window the
# centre holds all of that, shrunk. Farther out, the decoder only extrapolates: its tanh units
# saturate, so whole regions repeat the outermost emojis, and where the saturated units disagree it
# produces artefacts no training image looks like (noisy, even inverted pictures). The prior
# never sends samples there.
#
# ## 5. Interpolation
#
# Walk in a straight line from the code of one emoji to another, and decode 10 points along the way.
# For comparison, the second row of each figure cross-fades the pixels, $(1-t)\,x_a + t\,x_b$. This
# is what "in between" means without a model.

# %%
for a, b in (("sad", "laughing"), ("smiley", "star")):
    xa, xb = X[names.index(a)], X[names.index(b)]
    t = np.linspace(0, 1, 10)[:, None]
    plots.show_images(np.concatenate([vae.interpolate(xa, xb, 10), (1 - t) * xa + t * xb]),
                      EMOJI_SHAPE, ncols=10, scale=0.9,
                      suptitle=f"{a} → {b}: through the latent space (top), cross-fading pixels (bottom)")

# %% [markdown]
# Through the latent space the path passes through other *plausible pictures* (faces between two
# faces), because every point near the codes decodes to something like the data. A cross-fade only
# superimposes two images.
#
# ## 6. The effect of β
#
# β sets the price of the KL term. We train the same emoji VAE with β = 0, 1, 4 and 20 (same seed,
# same schedule), and for each we show its codes and 8 samples from the prior. The printout lists
# the final reconstruction loss, the KL term and the average number of wrong pixels (at 0.5) of the
# reconstructions.

# %%
BETAS = (0.0, 1.0, 4.0, 20.0)
fig = plt.figure(figsize=(13, 2.4 * len(BETAS)))
grid = fig.add_gridspec(len(BETAS), 9, width_ratios=[2.2] + [1] * 8)
print(f"{'β':>5}{'reconstruction':>16}{'KL':>8}{'wrong px':>10}{'spread of μ':>14}{'mean σ':>9}")
for row, beta in enumerate(BETAS):
    model = vae if beta == 1.0 else VAE(encoder=[400, 200, 100], latent_dim=2, beta=beta,
                                        kl_warmup_epochs=500, learning_rate=1e-3, seed=0, threads=1)
    if model is not vae:
        model.fit(X, epochs=2000, batch_size=None)
    h = model.history_.history
    m, lv = model.encode(X, return_logvar=True)
    wrong = ((model.reconstruct(X) >= 0.5) != (X >= 0.5)).sum(axis=1).mean()
    print(f"{beta:>5g}{h['reconstruction_loss'][-1]:>16.1f}{h['kl_loss'][-1]:>8.2f}{wrong:>10.1f}"
          f"{m.std(axis=0).mean():>14.2f}{np.exp(0.5 * lv).mean():>9.3f}")
    ax = fig.add_subplot(grid[row, 0])
    ax.scatter(m[:, 0], m[:, 1], s=12)
    ax.add_patch(plt.Circle((0, 0), 2, fill=False, ls="--", color="gray"))
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"β = {beta:g}: codes μ", fontsize=9)
    ax.tick_params(labelsize=7)
    for i, img in enumerate(model.sample(8, seed=1)):
        ax = fig.add_subplot(grid[row, 1 + i])
        ax.imshow(img.reshape(EMOJI_SHAPE), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
fig.suptitle("The effect of β: the codes (dashed: 2 sd of the prior) and 8 samples from N(0, I)")
fig.tight_layout()

# %% [markdown]
# * **β = 0** is an ordinary autoencoder with noise on the codes. Nothing keeps the codes near the
#   origin, and they spread far beyond the prior (see the spread of μ). Reconstruction is the best
#   of the four, but samples from $\mathcal N(0, I)$ land in a small central patch of a much larger
#   map, and they come out as a few repeated or broken pictures.
# * **β = 1** balances the two terms: good reconstructions and good samples.
# * **β = 4** pulls harder toward the prior: the codes are packed and each σ is wider. The samples
#   stay good, and the reconstructions get slightly worse.
# * **β = 20** makes the KL term dominate. The encoder's distributions overlap heavily (large σ),
#   so the decoder cannot tell similar pictures apart. The reconstructions blur into averages of
#   several emojis, with many wrong pixels. Past this point the codes carry almost no information
#   (*posterior collapse*).
#
# Larger β buys a smoother, better-covered latent space, and pays for it in reconstruction
# accuracy. This is the trade-off behind β-VAEs.
#
# ## 7. The VAE on the digits (scikit-learn)
#
# The same model on a real data set: scikit-learn's 1,797 handwritten digits, 8×8 pixels with 17
# grey levels, scaled to [0, 1]. They ship with scikit-learn (nothing is downloaded). If
# scikit-learn is not installed, this section says so and is skipped (`pip install scikit-learn`).
# With 1,797 images we train in mini-batches of 64 for 100 epochs, warming the KL up over 20.

# %%
try:
    Xd, digit = datasets.load_digits()
except ImportError as exc:
    Xd = digit = None
    print(f"Skipping the digits: {exc}")

if Xd is not None:
    dvae = VAE(encoder=[64, 128, 64], latent_dim=2, kl_warmup_epochs=20, learning_rate=1e-3,
               seed=0, threads=1)
    t0 = time.perf_counter()
    dhistory = dvae.fit(Xd, epochs=100, batch_size=64)
    print(f"digits: {Xd.shape}, 100 epochs in {time.perf_counter() - t0:.1f} s; last epoch: "
          + ", ".join(f"{k} {v[-1]:.2f}" for k, v in dhistory.history.items()))
    plots.plot_vae_history(dhistory, title="Digits VAE: reconstruction against KL")
    plots.plot_latent_classes(dvae, Xd, digit, title="Digits: the codes μ, coloured by digit")

# %% [markdown]
# No label was used in training, yet the digits form clusters. The VAE puts similar images
# together, because that is the cheapest way to reconstruct them while keeping the codes near the
# prior. Some classes overlap, typically digits that share strokes (such as 3, 5, 8 and 9, or 1
# and 7): two numbers cannot separate ten classes of handwriting perfectly. The grid and the samples:

# %%
if Xd is not None:
    plots.plot_latent_grid(dvae, 8, -4, 4, shape=DIGITS_SHAPE, title="Digits VAE: 8×8 grid over [−4, 4]²")
    plots.plot_latent_grid(dvae, 16, -2.5, 2.5, shape=DIGITS_SHAPE,
                           title="Digits VAE: a finer 16×16 grid over [−2.5, 2.5]², where the codes are")
    plots.plot_samples(dvae, 32, shape=DIGITS_SHAPE, seed=0, ncols=16,
                       title="32 digits decoded from z ~ N(0, I)")
    i, j = np.flatnonzero(digit == 0)[0], np.flatnonzero(digit == 7)[0]
    plots.plot_interpolation(dvae, Xd[i], Xd[j], 10, shape=DIGITS_SHAPE, labels=("0", "7"))

# %% [markdown]
# ## Things to try
#
# * Train without the warm-up (`kl_warmup_epochs=0`) and compare the curves of section 2.
# * Give the emoji VAE a 3-D latent space and draw grids over two of its dimensions with
#   `vae.latent_grid(8, -4, 4, dims=(0, 2))`.
# * Find the β at which the digit clusters start to merge.
