# %% [markdown]
# # The autoencoders lecture, cell by cell, on Fashion-MNIST
#
# This is the classic "autoencoders week" notebook, in the order the lectures (and the Keras blog
# post *Building Autoencoders in Keras*, and chapter 17 of Géron's *Hands-On Machine Learning*)
# follow, written with this package. Every model is declared in one cell and trained with one
# `fit` call; there is no hand-written training loop anywhere.
#
# 1. a **simple** autoencoder: one hidden layer of 32 units;
# 2. a **deep** one: 128-64-32-64-128;
# 3. a **convolutional** one, with transposed convolutions in its decoder;
# 4. **denoising**, with Gaussian noise on the inputs, then with a dropout layer;
# 5. **sparse** codes, by an L1 penalty and by the KL sparsity penalty, with their activation
#    histograms;
# 6. the **variational** autoencoder: its 2-D latent space coloured by class, a 21×21 grid
#    decoded over that plane, and new images sampled around one image's code;
# 7. the two **exercises**: feed a model another dataset (handwritten digits), and detect
#    anomalies by thresholding the reconstruction's mean squared error.
#
# **Size.** So that the notebook runs in a minute or two on a laptop (and in the tests), it
# trains on the first 10,000 of the 60,000 training images (4,000 for the convolutional
# network), for 20 epochs (5 for the convolutional one), and evaluates on 1,000 test images. For the full-size lecture set
# `FULL = True` in the next cell: all 60,000 images, the lecture's 50 epochs for the dense
# models (10 for the convolutional one), and `THREADS = "auto"` to use every core. That takes
# tens of minutes; nothing else changes. Everything is seeded, so a rerun gives the same numbers.

# %%
%matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

from sia_autoencoder import VAE, Autoencoder, datasets, layers as L, plots, regularizers

FULL = False                       # True: the full-size lecture (tens of minutes)
N_TRAIN, N_CONV, N_TEST = (60000, 60000, 10000) if FULL else (10000, 4000, 1000)
EPOCHS = 50 if FULL else 20        # the dense models' epochs
THREADS = "auto" if FULL else 1

X_all, y_all = datasets.load_fashion_mnist()            # (60000, 28, 28), pixels in [0, 1]
X_test_all, y_test_all = datasets.load_fashion_mnist(split="test")
X, y = X_all[:N_TRAIN], y_all[:N_TRAIN]
X_test, y_test = X_test_all[:N_TEST], y_test_all[:N_TEST]
CLASSES = datasets.FASHION_MNIST_CLASSES
print("train", X.shape, "test", X_test.shape, X.dtype, "pixels in", (float(X.min()), float(X.max())))
plots.show_images(X[:16], titles=[CLASSES[c] for c in y[:16]], ncols=8, scale=1.1,
                  suptitle="Fashion-MNIST");

# %% [markdown]
# ## 1. The simplest autoencoder
#
# One hidden layer of 32 relu units is the code; the output layer has 784 sigmoid units, one per
# pixel, and the loss is the binary cross-entropy (the pixels are in [0, 1]). In Keras it is
# `Dense(32, activation="relu")` then `Dense(784, activation="sigmoid")`; here the widths from
# input to output. `input_shape=(28, 28)` lets `fit` take the images as they are and makes
# `reconstruct` return images. The compression factor is 784 / 32 = 24.5.

# %%
simple = Autoencoder([784, 32, 784], activation="relu", output_activation="sigmoid", loss="bce",
                     optimizer="adam", input_shape=(28, 28), seed=0, threads=THREADS)
simple.summary()
t0 = time.perf_counter()
history = simple.fit(X, epochs=EPOCHS, batch_size=256, validation_data=X_test)
loss, val = history.history["loss"], history.history["val_loss"]
print(f"simple: {time.perf_counter() - t0:.1f} s; BCE per image {loss[0]:.1f} -> {loss[-1]:.1f}, "
      f"test {val[0]:.1f} -> {val[-1]:.1f}")
plots.plot_history(history, log=False, title="simple autoencoder");
plots.plot_reconstructions(simple, X_test[:10], labels=[CLASSES[c][:7] for c in y_test[:10]]);

# %% [markdown]
# The reconstructions keep the silhouette and lose the texture: 32 numbers are not enough for a
# shirt's pattern. The code is 32 relu outputs; some of them are zero for many images:

# %%
codes = simple.encode(X_test)
print("codes:", codes.shape, f"mean {codes.mean():.2f}, {100 * np.mean(codes == 0):.0f}% exactly zero")

# %% [markdown]
# ## 2. A deep autoencoder
#
# Three layers down to the same 32-unit code, three back up: 784-128-64-32-64-128-784, relu
# everywhere but the sigmoid output. The code has the same size as before; the deeper encoder
# and decoder can bend more.

# %%
deep = Autoencoder([784, 128, 64, 32, 64, 128, 784], activation="relu", latent_activation="relu",
                   output_activation="sigmoid", loss="bce", input_shape=(28, 28), seed=0,
                   threads=THREADS)
t0 = time.perf_counter()
h = deep.fit(X, epochs=EPOCHS, batch_size=256, validation_data=X_test)
print(f"deep: {time.perf_counter() - t0:.1f} s; test BCE per image {h.history['val_loss'][-1]:.1f} "
      f"(simple: {val[-1]:.1f})")
plots.plot_reconstructions(deep, X_test[:10], labels=[CLASSES[c][:7] for c in y_test[:10]]);

# %% [markdown]
# ## 3. A convolutional autoencoder
#
# Géron's network, with fewer filters: three 3×3 convolutions (selu), each followed by a 2×2
# max pool, take the 28×28×1 image to a 3×3×16 code (144 numbers; the last pool sees 7×7 and
# leaves out the last row and column). The decoder learns its own upsampling: each
# `Conv2DTranspose(..., strides=2)` doubles the map, the first one without padding (3×3 to 7×7),
# the next two with `"same"` (7 to 14 to 28), the last with one sigmoid filter. Images are
# channels last, as in Keras. Convolutions cost more than dense layers, so this one trains on
# fewer images (`notebooks/05_convolutional.ipynb` builds the Keras blog's 16-8-8 network and
# more).

# %%
conv = Autoencoder(
    encoder=[L.Conv2D(16, 3, padding="same", activation="selu"), L.MaxPool2D(2),
             L.Conv2D(32, 3, padding="same", activation="selu"), L.MaxPool2D(2),
             L.Conv2D(16, 3, padding="same", activation="selu"), L.MaxPool2D(2)],
    decoder=[L.Conv2DTranspose(32, 3, strides=2, padding="valid", activation="selu"),
             L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="selu"),
             L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")],
    input_shape=(28, 28, 1), loss="bce", seed=0, threads=THREADS)
conv.summary()
t0 = time.perf_counter()
h = conv.fit(X_all[:N_CONV, :, :, None], epochs=10 if FULL else 5, batch_size=64,
             validation_data=X_test[:, :, :, None])
print(f"convolutional: {time.perf_counter() - t0:.1f} s; test BCE per image "
      f"{h.history['val_loss'][0]:.1f} -> {h.history['val_loss'][-1]:.1f}, "
      f"code {conv.encode(X_test[:1, :, :, None]).shape[1:]}")
plots.plot_reconstructions(conv, X_test[:10, :, :, None]);

# %% [markdown]
# ## 4. Denoising
#
# A denoising autoencoder is trained to map a corrupted input to the clean one, so it cannot
# just copy: it has to know what a garment looks like.
#
# **Gaussian noise**, as in the Keras blog: add 0.5·N(0, 1) to every pixel, clip to [0, 1], and
# fit the noisy images to the clean ones, `fit(X_noisy, X)`. (`fit(X, noise="gaussian",
# noise_level=0.5)` would draw fresh noise for every batch instead.)

# %%
rng = np.random.default_rng(0)
noisy = lambda A: np.clip(A + 0.5 * rng.standard_normal(A.shape), 0, 1).astype(np.float32)  # noqa: E731
X_noisy, X_test_noisy = noisy(X), noisy(X_test)
denoiser = Autoencoder([784, 256, 64, 256, 784], activation="relu", output_activation="sigmoid",
                       loss="bce", input_shape=(28, 28), seed=0, threads=THREADS)
denoiser.fit(X_noisy, X, epochs=EPOCHS, batch_size=256)
mse = lambda A, B: float(np.mean((np.asarray(A) - np.asarray(B)) ** 2))  # noqa: E731
cleaned = denoiser.reconstruct(X_test_noisy)
print(f"Gaussian: mean squared error to the clean test images: noisy {mse(X_test_noisy, X_test):.4f}, "
      f"denoised {mse(cleaned, X_test):.4f}")
plots.show_images(np.concatenate([X_test[:8], X_test_noisy[:8], cleaned[:8]]), ncols=8, scale=1.0,
                  suptitle="clean, noisy (σ = 0.5), denoised");

# %% [markdown]
# **Dropout**, as in Géron: a `Dropout(0.5)` layer before the encoder sets half of the input
# pixels to zero in every training step (and scales the others by 2); it does nothing when the
# model predicts. The model learns to fill in what is missing. We test it on images with half of
# their pixels blacked out.

# %%
dropout = Autoencoder(encoder=[L.Flatten(), L.Dropout(0.5), L.Dense(100, activation="selu"),
                               L.Dense(30, activation="selu")],
                      decoder=[L.Dense(100, activation="selu"), L.Dense(784, activation="sigmoid")],
                      input_shape=(28, 28), loss="bce", seed=0, threads=THREADS)
dropout.summary()
dropout.fit(X, epochs=EPOCHS, batch_size=256)
holes = (rng.random(X_test.shape) < 0.5)
X_test_holes = np.where(holes, 0, X_test).astype(np.float32)
filled = dropout.reconstruct(2 * X_test_holes)     # as in training: the kept pixels scaled by 2
print(f"dropout: mean squared error to the clean test images: with holes {mse(X_test_holes, X_test):.4f}, "
      f"restored {mse(filled, X_test):.4f}")
plots.show_images(np.concatenate([X_test[:8], X_test_holes[:8], filled[:8]]), ncols=8, scale=1.0,
                  suptitle="clean, half the pixels dropped, restored");

# %% [markdown]
# ## 5. Sparse autoencoders: L1 and KL
#
# A wide code (100 sigmoid units, more than the 32 above) is kept from copying by a penalty on
# its activations, the layer's `activity_regularizer` (as in Keras):
#
# - **L1**: λ Σⱼ |aⱼ| per image, which drives most activations to zero;
# - **KL sparsity**: w Σⱼ KL(ρ ‖ ρ̂ⱼ), where ρ̂ⱼ is unit j's mean activation over the batch,
#   which holds every unit's mean near a small target ρ = 0.1.
#
# The lectures draw two histograms for each: every activation of the code over the test images
# (left), and each unit's mean activation (right). `plots.plot_activation_histogram` draws both.

# %%
def sparse_autoencoder(regularizer):
    return Autoencoder(encoder=[L.Dense(100, activation="sigmoid", activity_regularizer=regularizer)],
                       decoder=[L.Dense(784, activation="sigmoid")], input_shape=(28, 28),
                       loss="mse", optimizer="nadam", seed=0, threads=THREADS)


sparse = {"L1": sparse_autoencoder(regularizers.L1(0.3)),
          "KL": sparse_autoencoder(regularizers.KLSparsity(target=0.1, weight=4.0))}
for name, ae in sparse.items():
    h = ae.fit(X, epochs=EPOCHS, batch_size=64, validation_data=X_test)
    s = plots.activation_stats(ae, X_test)
    print(f"{name}: mean activation {s['mean']:.3f}, {100 * s['near_zero_share']:.0f}% of the "
          f"activations below 0.05, test reconstruction {h.history['val_reconstruction_loss'][-1]:.2f}")
    plots.plot_activation_histogram(ae, X_test, title=f"Sparse code, {name} penalty");

# %% [markdown]
# The L1 code is sparse image by image: most activations sit at zero, a few are large. The KL code
# is sparse on average: each unit's mean is near 0.1, so each fires for about a tenth of the
# images. `notebooks/06_regularized.ipynb` compares them with an unpenalised code.
#
# ## 6. The variational autoencoder
#
# The encoder gives, for each image, a mean μ and a log-variance log σ² in a 2-D latent space;
# training decodes a point z = μ + σ·ε drawn from that Gaussian, and adds to the reconstruction
# loss the KL divergence from N(μ, σ²) to the prior N(0, I). With two latent dimensions the
# whole latent space can be drawn: the test images' means coloured by class, then a 21×21 grid
# of the plane decoded into images.

# %%
vae = VAE([784, 256], latent_dim=2, activation="relu", input_shape=(28, 28), seed=0,
          threads=THREADS)
t0 = time.perf_counter()
vh = vae.fit(X, epochs=EPOCHS, batch_size=128, validation_data=X_test)
print(f"VAE: {time.perf_counter() - t0:.1f} s; loss {vh.history['loss'][0]:.1f} -> "
      f"{vh.history['loss'][-1]:.1f} (reconstruction {vh.history['reconstruction_loss'][-1]:.1f}, "
      f"KL {vh.history['kl_loss'][-1]:.2f})")
plots.plot_latent_classes(vae, X_test, y_test, names=CLASSES, title="test images' μ by class");

# %% [markdown]
# The classes form regions: trousers apart, the footwear (sandals, sneakers, boots) together,
# tops overlapping each other. The grid decodes 21×21 points evenly spaced over [-2, 2]²,
# where the prior puts most of its mass: the images change smoothly from one class to the next.

# %%
plots.plot_latent_grid(vae, n=21, low=-2.0, high=2.0, title="21×21 grid of the latent plane");

# %% [markdown]
# **Sampling around one image.** Encode one test image to its μ and σ, draw new codes
# z = μ + s·σ·ε for a growing spread s, and decode them: at s = 1 they are variations of the same
# garment, further away they drift into the neighbouring classes.

# %%
i = 0
mu, logvar = vae.encode(X_test[i:i + 1], return_logvar=True)
sigma = np.exp(0.5 * logvar)
eps = np.random.default_rng(1).standard_normal((8, 2))
rows = [X_test[i:i + 1].repeat(8, axis=0)]
for spread in (1, 3, 10):
    rows.append(vae.decode(mu + spread * sigma * eps))
print(f"image {i} ({CLASSES[y_test[i]]}): μ = {np.round(mu[0], 2)}, σ = {np.round(sigma[0], 3)}")
plots.show_images(np.concatenate(rows), ncols=8, scale=1.0,
                  suptitle="the image (repeated); samples around its code at 1σ, 3σ, 10σ");

# %% [markdown]
# ## 7. Exercise 1: feed the model another dataset
#
# What does the deep autoencoder, trained on clothes, make of handwritten digits? MNIST is used
# when it is on disk; otherwise scikit-learn's 8×8 digits, each pixel blown up to a 3×3 block and
# the image padded to 28×28. Then the same architecture is trained on the digits themselves.

# %%
try:
    D, d_labels = datasets.load_mnist(download=False)
    D, d_labels = D[:N_TRAIN], d_labels[:N_TRAIN]
    source = "MNIST"
except FileNotFoundError:
    small, d_labels = datasets.load_digits()
    D = np.pad(np.kron(small.reshape(-1, 8, 8), np.ones((3, 3), np.float32)), ((0, 0), (2, 2), (2, 2)))
    source = "scikit-learn's 8×8 digits on a 28×28 grid"
print(source, D.shape)
plots.show_images(np.concatenate([D[:10], deep.reconstruct(D[:10])]), ncols=10, scale=0.9,
                  suptitle="digits, and the clothes model's reconstructions");

# %%
digits_ae = Autoencoder([784, 128, 64, 32, 64, 128, 784], activation="relu", latent_activation="relu",
                        output_activation="sigmoid", loss="bce", input_shape=(28, 28), seed=0,
                        threads=THREADS)
digits_ae.fit(D[200:], epochs=EPOCHS, batch_size=64)
print(f"mean squared error on 200 held-out digits: clothes model {mse(deep.reconstruct(D[:200]), D[:200]):.4f}, "
      f"digits model {mse(digits_ae.reconstruct(D[:200]), D[:200]):.4f}")
plots.show_images(np.concatenate([D[:10], digits_ae.reconstruct(D[:10])]), ncols=10, scale=0.9,
                  suptitle="digits, and the digits model's reconstructions");

# %% [markdown]
# ## 8. Exercise 2: anomaly detection by an MSE threshold
#
# An autoencoder reconstructs well what looks like its training data. So: compute each training
# image's mean squared reconstruction error, take its 99th percentile as the threshold, and flag
# every new image whose error is above it. With the deep clothes model, the test clothes should
# be flagged about 1% of the time, and digits (which it has never seen) far more often.

# %%
def image_mse(model, A):
    return np.mean((model.reconstruct(A) - A) ** 2, axis=(1, 2))


train_err, test_err, digit_err = image_mse(deep, X), image_mse(deep, X_test), image_mse(deep, D[:1000])
threshold = np.percentile(train_err, 99)
print(f"threshold (99th percentile of the training errors): {threshold:.4f}")
print(f"  test clothes flagged {100 * np.mean(test_err > threshold):5.1f}%")
print(f"  digits       flagged {100 * np.mean(digit_err > threshold):5.1f}%")
try:
    from sklearn.metrics import roc_auc_score
    auc = roc_auc_score(np.r_[np.zeros(len(test_err)), np.ones(len(digit_err))], np.r_[test_err, digit_err])
    print(f"ROC-AUC of the error as a score, clothes against digits: {auc:.3f}")
except ImportError:
    pass
fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.linspace(0, max(test_err.max(), digit_err.max()), 60)
ax.hist(test_err, bins=bins, alpha=0.6, label="test clothes")
ax.hist(digit_err, bins=bins, alpha=0.6, label="digits")
ax.axvline(threshold, color="k", ls="--", label="threshold")
ax.set_xlabel("mean squared reconstruction error"); ax.set_ylabel("images"); ax.legend()
fig.tight_layout()

# %% [markdown]
# The most and least typical test clothes, by the same score:

# %%
order = np.argsort(test_err)
plots.show_images(np.concatenate([X_test[order[:8]], X_test[order[-8:]]]), ncols=8, scale=1.0,
                  titles=[f"{e:.3f}" for e in test_err[np.r_[order[:8], order[-8:]]]],
                  suptitle="lowest errors (top), highest (bottom)");

# %% [markdown]
# ## Going further
#
# - The full-size lecture: `FULL = True` in the second cell.
# - `sia_autoencoder.sklearn.AutoencoderOutlierDetector` wraps the threshold of exercise 2 as a
#   scikit-learn detector (`fit`, `predict`, `decision_function`, a threshold from its
#   `contamination`); `notebooks/07_applications.ipynb` measures it against `IsolationForest`
#   and PyOD.
# - `notebooks/02_denoising.ipynb`, `03_vae.ipynb`, `05_convolutional.ipynb` and
#   `06_regularized.ipynb` take each topic further.
