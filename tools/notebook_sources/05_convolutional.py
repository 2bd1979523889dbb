# %% [markdown]
# # Convolutional autoencoders on Fashion-MNIST
#
# A dense autoencoder sees an image as a row of 784 unrelated numbers: move a shirt by one pixel
# and, for the first layer, it is a different input. A **convolution** slides one small filter
# (here 3×3) over the whole image, so the same feature is found wherever it is, with a few hundred
# weights instead of hundreds of thousands. The lectures build their autoencoders from three
# kinds of layers:
#
# - `Conv2D(filters, kernel_size, padding="same")`: each of `filters` output channels is a 3×3
#   filter over all input channels, plus a bias; `"same"` pads the border with zeros so that the
#   image keeps its size, `"valid"` does not pad (a 3×3 filter then loses a pixel on each side).
# - `MaxPool2D(2)`: the largest value of each 2×2 block, which halves the height and the width.
# - `UpSampling2D(2)`: each pixel repeated into a 2×2 block, which doubles them back.
#
# The encoder alternates convolutions and pools down to a small stack of feature maps, the
# code; the decoder mirrors it with upsampling. Images are channels last, `(N, H, W, C)` as in
# Keras and matplotlib; `(N, H, W)` means one channel and comes back in that shape.
#
# **A subset.** Training on the 60,000 images takes minutes per epoch on a laptop core, more than
# this notebook should. We train on the first 4,000 training images and test on 1,000 test images;
# the code is the same for the full set (`bench/bench_conv.py` times a full epoch). Everything is
# seeded and runs on one thread, so the results are reproducible.

# %%
%matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

from sia_autoencoder import VAE, Autoencoder, DenoisingAutoencoder, datasets, layers as L, plots

X_all, y_all = datasets.load_fashion_mnist()                  # (60000, 28, 28) in [0, 1]
X_test_all, y_test_all = datasets.load_fashion_mnist(split="test")
X, y = X_all[:4000], y_all[:4000]
X_test, y_test = X_test_all[:1000], y_test_all[:1000]
CLASSES = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
           "boot"]
print("train", X.shape, "test", X_test.shape, "values in", (float(X.min()), float(X.max())))
plots.show_images(X[:16], titles=[CLASSES[c] for c in y[:16]], suptitle="Fashion-MNIST");

# %% [markdown]
# ## 1. The lectures' network
#
# Two convolutions of 32 filters, each followed by a 2×2 max pool, take the 28×28 image to a
# 7×7×32 code; the decoder goes back up with two upsamplings and ends with one sigmoid filter, so
# that the output is an image in [0, 1] and the loss is the binary cross-entropy (summed over the
# pixels, averaged over the batch). `summary()` shows every layer's output shape and weights: a
# 3×3 convolution from 32 to 32 channels has 3·3·32·32 + 32 = 9,248.

# %%
ae = Autoencoder(
    encoder=[L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2),
             L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2)],
    decoder=[L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
             L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
             L.Conv2D(1, 3, padding="same", activation="sigmoid")],
    input_shape=(28, 28, 1), seed=0)
ae.summary()
t0 = time.perf_counter()
history = ae.fit(X, epochs=6, batch_size=128, validation_data=X_test)
print(f"trained in {time.perf_counter() - t0:.0f} s")
loss, val = history.history["loss"], history.history["val_loss"]
print(f"loss {loss[0]:.1f} -> {loss[-1]:.1f}, validation loss {val[0]:.1f} -> {val[-1]:.1f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(history.epoch, loss, "o-", label="training")
ax.plot(history.epoch, val, "s-", label="test")
ax.set_xlabel("epoch"); ax.set_ylabel("BCE per image"); ax.legend(); fig.tight_layout()
plots.plot_reconstructions(ae, X_test[:10]);

# %% [markdown]
# ## 2. What the code looks like
#
# The code of an image is not a vector but 32 feature maps of 7×7: `encode` returns them as
# `(N, 7, 7, 32)`. It has 1,568 numbers, twice the image's 784, so this autoencoder does not
# compress; the pools make it *coarse* instead, and the filters decide what each coarse pixel
# says. Drawn channel by channel, some maps are blurred silhouettes, some light up at edges or at
# the collar and the soles.

# %%
codes = ae.encode(X_test[:3])
print("codes:", codes.shape)
for i in range(2):
    plots.show_images(codes[i].transpose(2, 0, 1) / max(codes[i].max(), 1e-9), ncols=16, scale=0.6,
                      suptitle=f"the 32 feature maps of a {CLASSES[y_test[i]]}");

# %% [markdown]
# ## 3. The Keras blog's 16-8-8 network
#
# *Building Autoencoders in Keras* uses three pools and three upsamplings with fewer filters: the
# code is 4×4×8 = 128 numbers, a real bottleneck. Two details of its shapes: the third pool sees
# a 7×7 map and `padding="same"` makes it 4×4 (a `"valid"` pool would give 3×3 and the decoder
# could not come back to 28); on the way up, the `"valid"` convolution turns 16×16 into 14×14 so
# that the last upsampling gives 28×28 again.

# %%
blog = Autoencoder(
    encoder=[L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
             L.Conv2D(8, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
             L.Conv2D(8, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same")],
    decoder=[L.Conv2D(8, 3, padding="same", activation="relu"), L.UpSampling2D(2),
             L.Conv2D(8, 3, padding="same", activation="relu"), L.UpSampling2D(2),
             L.Conv2D(16, 3, activation="relu"), L.UpSampling2D(2),
             L.Conv2D(1, 3, padding="same", activation="sigmoid")],
    input_shape=(28, 28, 1), seed=0)
blog.summary()
h = blog.fit(X, epochs=6, batch_size=128, validation_data=X_test)
print(f"16-8-8: validation loss {h.history['val_loss'][-1]:.1f} with a {blog.encode(X_test[:1]).shape[1:]} code")
plots.plot_reconstructions(blog, X_test[:10]);

# %% [markdown]
# Shapes are checked when the model is built. With a `"valid"` third pool the decoder's output
# is 24×24, and the error says which layer left rows out:

# %%
try:
    Autoencoder(encoder=[L.Conv2D(16, 3, padding="same"), L.MaxPool2D(2), L.Conv2D(8, 3, padding="same"),
                         L.MaxPool2D(2), L.Conv2D(8, 3, padding="same"), L.MaxPool2D(2)],
                decoder=[L.UpSampling2D(2), L.UpSampling2D(2), L.UpSampling2D(2),
                         L.Conv2D(1, 3, padding="same", activation="sigmoid")],
                input_shape=(28, 28, 1))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## 4. Denoising with the convolutional network
#
# The same network, trained to undo noise: every batch is corrupted with Gaussian noise
# (σ = 0.3, clipped to [0, 1]) as it is drawn, fresh every epoch, and the target is the clean
# image. The filters learn what a garment looks like locally, which is what it takes to tell
# cloth from noise.

# %%
rng = np.random.default_rng(1)
noisy_test = np.clip(X_test + 0.3 * rng.standard_normal(X_test.shape), 0, 1).astype(np.float32)
dae = DenoisingAutoencoder(
    encoder=[L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2),
             L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2)],
    decoder=[L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
             L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
             L.Conv2D(1, 3, padding="same", activation="sigmoid")],
    input_shape=(28, 28, 1), noise="gaussian", noise_level=0.3, seed=0)
dae.fit(X, epochs=6, batch_size=128)
cleaned = dae.denoise(noisy_test[:8])
mse = lambda a, b: float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))  # noqa: E731
print(f"mean squared error to the clean images: noisy {mse(noisy_test[:200], X_test[:200]):.4f}, "
      f"denoised {mse(dae.denoise(noisy_test[:200]), X_test[:200]):.4f}")
plots.show_images(np.concatenate([X_test[:8], noisy_test[:8], cleaned]), ncols=8,
                  suptitle="clean, noisy, denoised");

# %% [markdown]
# ## 5. A convolutional VAE with a 2-D latent space
#
# The encoder's strided convolutions (`strides=2` halves the image as a pool would, with
# learned weights) end in a `Flatten` and a dense layer; the VAE adds the (μ, log σ²) head and
# the sampling. The decoder maps the 2 latent numbers back to 7×7×32 feature maps with a `Dense`
# and a `Reshape`, and `Conv2DTranspose` layers double them back to 28×28. With 2 latent
# dimensions we can draw the codes of the test images, colored by class, and decode a grid of the
# plane.

# %%
vae = VAE(
    encoder=[L.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
             L.Conv2D(32, 3, strides=2, padding="same", activation="relu"), L.Flatten(),
             L.Dense(32, activation="relu")],
    latent_dim=2,
    decoder=[L.Dense(7 * 7 * 32, activation="relu"), L.Reshape((7, 7, 32)),
             L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
             L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu"),
             L.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")],
    input_shape=(28, 28, 1), kl_warmup_epochs=2, seed=0)
vae.summary()
vh = vae.fit(X, epochs=8, batch_size=64)
print("VAE loss {:.1f} -> {:.1f} (reconstruction {:.1f}, KL {:.2f})".format(
    vh.history["loss"][0], vh.history["loss"][-1], vh.history["reconstruction_loss"][-1],
    vh.history["kl_loss"][-1]))

# %%
Z = vae.encode(X_test)
fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
sc = axes[0].scatter(Z[:, 0], Z[:, 1], c=y_test, cmap="tab10", s=6)
axes[0].set_title("test images in the latent plane (μ)")
cbar = fig.colorbar(sc, ax=axes[0], ticks=range(10))
cbar.ax.set_yticklabels(CLASSES)
plots.plot_latent_grid(vae, n=10, low=-2.5, high=2.5, ax=axes[1], title="decoded over [-2.5, 2.5]²")
fig.tight_layout()

# %% [markdown]
# ## What to try
#
# - Train on all 60,000 images (`X_all`) for 10 epochs: the reconstructions sharpen noticeably.
# - Replace `MaxPool2D` by `Conv2D(..., strides=2)` and `UpSampling2D` by `Conv2DTranspose(...,
#   strides=2)`: the network then learns its own down- and upsampling.
# - `ae.get_weights()` gives the weights in PyTorch's shapes (`(out, in, kh, kw)`), ready to copy
#   into `torch.nn.Conv2d` layers.
