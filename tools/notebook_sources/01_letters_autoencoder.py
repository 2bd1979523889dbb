# %% [markdown]
# # Exercise 1a: an autoencoder for the letters of `font.h`
#
# The course's `font.h` holds 32 characters (`` ` ``, `a` … `z`, `{`, `|`, `}`, `~` and DEL), each a
# binary image of 7 rows of 5 pixels. An **autoencoder** is a network trained to reproduce its own
# input through a narrow middle layer, the **latent space**. Here the input has 35 pixels and the
# latent space has **2** numbers, so the network must find a way to describe every character by
# a point of the plane, and to redraw the character from that point alone.
#
# The exercise asks for two things:
#
# 1. learn all 32 characters, each reproduced with **at most 1 wrong pixel** (an output pixel is
#    read as "on" when it is ≥ 0.5);
# 2. use the decoder as a *generative* model: draw the latent space, and decode points of the
#    plane that no character occupies, to create a new character.
#
# Everything below is seeded, and each model runs on one thread (`threads=1`): for a given seed
# and thread count the results are bit-identical, so you should see the same numbers as printed
# here (only the times differ from machine to machine).

# %%
%matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

from sia_autoencoder import Autoencoder, PixelErrorStop, datasets, plots
from sia_autoencoder.letters import RECIPE

X, labels = datasets.load_font()
print("X:", X.shape, X.dtype, "values", np.unique(X))
plots.show_images(X, titles=labels, ncols=16, scale=0.7, suptitle="The 32 characters of font.h");

# %% [markdown]
# ## 1. The recipe
#
# The architecture is written as the list of layer widths, as in the course:
# `[35, 25, 15, 10, 2, 10, 15, 25, 35]`. The narrowest layer (2) is the latent space; the encoder is
# `35 → 25 → 15 → 10 → 2` and the decoder mirrors it.
#
# | choice | value | why |
# |---|---|---|
# | hidden activation | tanh | zero-centred, so the layers stay well scaled |
# | latent activation | linear | the codes may use the whole plane |
# | output activation | logistic | one probability per pixel, in (0, 1) |
# | loss | binary cross-entropy (BCE) | the pixels are 0/1; see section 3 for why this matters |
# | optimizer | Adam, learning rate 0.01 | adapts the step of every weight |
# | batch | the whole set (32) | the data set is tiny |
# | stopping | `PixelErrorStop(0)` | stop at the first epoch where no pixel is wrong |
#
# `PixelErrorStop` runs inside the C training loop, so checking the pixels every epoch costs
# almost nothing.

# %%
ae = Autoencoder(**RECIPE, seed=0, threads=1)
ae.summary()

t0 = time.perf_counter()
history = ae.fit(X, epochs=5000, batch_size=None, callbacks=[PixelErrorStop(0)])
seconds = time.perf_counter() - t0

errors = ae.pixel_errors(X)  # wrong pixels per character
print(f"{(errors <= 1).sum()}/{len(X)} letters learned (at most 1 wrong pixel), "
      f"{errors.sum()} wrong pixels in total, after {len(history)} epochs in {seconds:.2f} s")

# %%
plots.plot_history(history, title="Recipe, seed 0: loss per epoch (BCE, summed over pixels)");

# %% [markdown]
# The loss is the binary cross-entropy summed over the 35 pixels and averaged over the characters.
# It does not need to reach 0: training stops as soon as every output pixel falls on the right
# side of 0.5.
#
# ## 2. Comparing architectures
#
# Does the recipe matter? Below, seven variants are each trained with **5 seeds** (the seed sets
# the initial weights), for at most 2,000 epochs, stopping as soon as no pixel is wrong. For each
# we report how many letters were learned (≤ 1 wrong pixel) for every seed, how many seeds learned
# all 32, the median number of epochs and the total time.
#
# | name | what changes from the recipe |
# |---|---|
# | recipe | nothing |
# | shallow, 10 wide | `[35, 10, 2, 10, 35]`: one hidden layer each side, 10 units |
# | shallow, 20 wide | `[35, 20, 2, 20, 35]`: one hidden layer each side, 20 units |
# | relu | ReLU hidden layers instead of tanh |
# | logistic | logistic hidden layers instead of tanh |
# | MSE, lr 1e-3 | squared error instead of BCE, Adam at 1e-3 |
# | no hidden layer | `[35, 2, 35]`: a linear encoder and a one-layer decoder |

# %%
VARIANTS = {
    "recipe": {},
    "shallow, 10 wide": {"layers": [35, 10, 2, 10, 35]},
    "shallow, 20 wide": {"layers": [35, 20, 2, 20, 35]},
    "relu": {"activation": "relu"},
    "logistic": {"activation": "logistic"},
    "MSE, lr 1e-3": {"loss": "mse", "learning_rate": 1e-3},
    "no hidden layer": {"layers": [35, 2, 35]},
}
SEEDS = range(5)
MAX_EPOCHS = 2000


def trial(seed, **changes):
    """Train one variant of the recipe; returns the model, its epochs and its seconds."""
    model = Autoencoder(**{**RECIPE, **changes}, seed=seed, threads=1)
    t0 = time.perf_counter()
    h = model.fit(X, epochs=MAX_EPOCHS, batch_size=None, callbacks=[PixelErrorStop(0)])
    return model, len(h), time.perf_counter() - t0


results = {}
for name, changes in VARIANTS.items():
    results[name] = [trial(seed, **changes) for seed in SEEDS]

print(f"{'variant':<18}{'letters learned per seed':<27}{'all 32':>7}{'median epochs':>15}{'time':>8}")
for name, runs in results.items():
    learned = [int((m.pixel_errors(X) <= 1).sum()) for m, _, _ in runs]
    epochs = [e for _, e, _ in runs]
    print(f"{name:<18}{' '.join(f'{n:>4}' for n in learned):<27}{sum(n == 32 for n in learned):>4}/5"
          f"{np.median(epochs):>15.0f}{sum(s for _, _, s in runs):>7.1f}s")

# %% [markdown]
# A median of 2,000 epochs means that most seeds hit the cap without getting every pixel right.
#
# ## 3. Why some architectures, or some seeds, fail
#
# Read the table above together with these explanations.
#
# * **No hidden layer, `[35, 2, 35]`, never comes close.** Its decoder is a single layer: pixel $j$
#   is $\sigma(w_j \cdot z + b_j)$, so it is "on" exactly in a **half-plane** of the latent space,
#   on one side of a straight line. Thirty-five straight lines cannot carve the plane into 32
#   regions that each switch on exactly the right pixels, whatever the encoder does (and a linear
#   encoder can only project the 35 pixels onto a plane). Capacity is missing, not training time.
# * **The 10-wide shallow net gets most letters but never all.** For every seed a few letters keep
#   2 or more wrong pixels, and more keep 1. Its decoder has 10 tanh units, so the boundary of each pixel in
#   the plane is the zero line of a sum of 10 smooth "ramps": too few to bend around 32 codes
#   packed in a small plane. The **20-wide** shallow net learns everything, often with no more
#   time than the recipe: the width of the layers next to the bottleneck matters more than the
#   depth.
# * **MSE with a logistic output learns slowly and stalls.** With squared error, the gradient of a
#   pixel with respect to its pre-activation is proportional to $(y - t)\,y(1 - y)$. When a pixel is
#   confidently wrong ($y \approx 0$ while $t = 1$), $y(1-y) \approx 0$ and the pixel stops learning.
#   With BCE the factor $y(1-y)$ cancels and the gradient is proportional to $y - t$: the more wrong
#   a pixel, the harder it is pushed. That is why BCE is the loss for binary pixels. (A larger
#   learning rate does not rescue MSE here: it saturates the outputs sooner.)
# * **Logistic hidden layers depend on the seed.** The logistic function's outputs lie in (0, 1), so
#   they are all positive and not centred on 0, and its slope is smaller than tanh's. Every layer
#   then receives inputs with a common positive offset, the gradients of a unit's weights all share
#   one sign, and learning zig-zags. Some seeds get there in under 2,000 epochs, others do not. Given
#   more epochs, most of them would, but slowly.
# * **ReLU works** here, though with a wider spread of epochs than tanh from seed to seed. With
#   ReLU, a unit whose input is negative for all 32 characters has zero gradient ("dies"). A narrow
#   layer that loses units early takes longer to recover.
#
# The general lesson: a failure is either a lack of **capacity** (no setting of the weights can
# do it: more epochs will not help) or a matter of **optimization** (the weights exist but gradient
# descent from this starting point is slow or stuck: a different seed, loss, activation or
# learning rate helps). To tell them apart, train the same architecture with several seeds and
# more epochs, as above.
#
# ## 4. The latent space
#
# Back to the recipe model of section 1. Each character is encoded as a point of the plane.

# %%
Z = ae.encode(X)
plots.plot_latent(ae, X, labels, title="The 32 characters in the 2-D latent space (recipe, seed 0)");

# %% [markdown]
# The network places the codes where its decoder can tell them apart. Characters that share many
# pixels are often, but not always, close together, because 35 pixels must be squeezed into 2
# numbers. Nothing in the training asks for a tidy layout: another seed gives another map.
#
# ## 5. Originals and reconstructions
#
# For each character, the top row is the input and the bottom row is the decoder's output (grey
# levels are probabilities). The number below each pair is the count of wrong pixels.

# %%
plots.plot_reconstructions(ae, X[:16], labels[:16]);
plots.plot_reconstructions(ae, X[16:], labels[16:]);

# %% [markdown]
# ## 6. A new character from an empty region of the latent space
#
# The decoder turns *any* point of the plane into an image, not only the 32 codes it was trained on.
# To make a character that is not in the font, look for the largest hole **inside** the cloud of
# codes: the largest circle that contains no code and fits within the codes' convex hull. Its
# centre is as far as possible from every known character, without leaving the region where the
# decoder was trained.
#
# On a fine grid, `gap` is each point's distance to its nearest code, and `room` is its distance to
# the edge of the hull. `room` is measured in 90 directions: in direction $u$ the hull reaches
# $\max_i z_i \cdot u$. The circle fits when `room >= gap`.

# %%
lo, hi = Z.min(axis=0), Z.max(axis=0)
g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 81), np.linspace(lo[1], hi[1], 81))
grid = np.column_stack([g1.ravel(), g2.ravel()])                           # (6561, 2)
angles = np.linspace(0, 2 * np.pi, 90, endpoint=False)
U = np.column_stack([np.cos(angles), np.sin(angles)])                      # (90, 2) directions
room = ((Z @ U.T).max(axis=0) - grid @ U.T).min(axis=1)                    # distance to the hull's edge
gap = np.linalg.norm(grid[:, None, :] - Z[None, :, :], axis=2).min(axis=1)  # distance to the nearest code
best = np.argmax(np.where(room >= gap, gap, -np.inf))
z_new = grid[best]
nearest = np.argsort(np.linalg.norm(Z - z_new, axis=1))[:3]
print(f"largest hole: centre z = {np.round(z_new, 2)}, radius {gap[best]:.2f}; "
      f"nearest characters: {[labels[i] for i in nearest]}")

fig, ax = plt.subplots(figsize=(6, 5))
plots.plot_latent(ae, X, labels, ax=ax, title="The largest hole in the cloud of codes")
ax.add_patch(plt.Circle(z_new, gap[best], fill=False, ls="--", color="crimson"))
ax.scatter(*z_new, marker="*", s=300, color="crimson", zorder=3)
ax.set_aspect("equal", adjustable="datalim")

new_image = ae.decode(z_new[None])[0]
plots.show_images([new_image, new_image >= 0.5, *X[nearest]], ncols=5, scale=1.1,
                  titles=["decoded", "decoded ≥ 0.5", *(f"nearest: {labels[i]}" for i in nearest)],
                  suptitle="The new character, and the 3 characters whose codes are nearest");

# %% [markdown]
# The decoder is a smooth function, so a point between known codes gets a shape built from the
# strokes of the characters around it. The pixels on which they disagree come out grey (uncertain). The
# result need not look like the *nearest* codes: the plane is divided into regions, one per
# character, and a region can reach far from its own code (compare with the mosaic below). Far
# *outside* the cloud of codes the decoder extrapolates instead, and the images degenerate into
# blobs, as the corners of the mosaic show.
#
# ## 7. The latent-grid mosaic
#
# Decode a regular 15×15 grid of points covering the codes' region (plus a 10 % margin): each tile is
# the image decoded at that point, with $z_2$ growing upwards as in the scatter plot.

# %%
margin = 0.1 * (hi - lo)
plots.plot_latent_grid(ae, 15, lo - margin, hi + margin,
                       title="Images decoded over the latent plane (15×15 grid)");

# %% [markdown]
# The mosaic shows the regions of the plane that the decoder assigns to each character, and the
# transitions between them. Many tiles are clean characters of the font, and some are new shapes on
# the borders between regions. Compare it with the scatter plot of section 4.
#
# ## 8. Interpolation between two letters
#
# Encode two characters, walk along the straight segment between their codes, and decode 12 evenly
# spaced points. We take the two characters whose codes are farthest apart, so that the walk
# crosses the whole map.

# %%
pair_distance = np.linalg.norm(Z[:, None] - Z[None, :], axis=2)
a, b = np.unravel_index(np.argmax(pair_distance), pair_distance.shape)
print(f"farthest apart: {labels[a]!r} and {labels[b]!r}")
plots.plot_interpolation(ae, X[a], X[b], 12, labels=(labels[a], labels[b]));

fig, ax = plt.subplots(figsize=(6, 5))
plots.plot_latent(ae, X, labels, ax=ax, title=f"The segment from {labels[a]!r} to {labels[b]!r}")
path = np.linspace(0, 1, 12)[:, None] * (Z[b] - Z[a]) + Z[a]
ax.plot(path[:, 0], path[:, 1], "o-", color="crimson", ms=4);

# %% [markdown]
# Along the way the decoder shows the characters whose codes the segment passes near, with mixed,
# grey images in between: there the decoder has never seen a training example, and it blends the
# strokes of the regions on either side. A 2-D autoencoder has no reason to make the straight
# path between two codes meaningful. Notebook 03 shows how a VAE makes the latent space smoother.
#
# ## Things to try
#
# * Change the seed of the recipe: the map of section 4 changes, and the learned letters do not.
# * Train `[35, 10, 2, 10, 35]` for 10,000 epochs. Does it get every letter right eventually?
# * Use a 3-D latent space (`[35, 25, 15, 10, 3, 10, 15, 25, 35]`). It learns faster. Why?
# * Add `latent_activation="tanh"`. The codes are then confined to the square $[-1, 1]^2$. Does the
#   mosaic over that square look different?
