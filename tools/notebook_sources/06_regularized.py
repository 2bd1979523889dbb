# %% [markdown]
# # Regularized autoencoders: sparse codes, tied weights, binary codes
#
# A bottleneck is not the only way to stop an autoencoder from copying its input. A
# **regularized** autoencoder may have a code as wide as it likes, and is kept honest by a
# penalty on the code instead. This notebook trains, on Fashion-MNIST:
#
# 1. **sparse autoencoders**: an L1 penalty $\lambda \sum_j |a_j|$ on the code, and the KL
#    sparsity penalty $w \sum_j \mathrm{KL}(\rho \,\|\, \hat\rho_j)$ that pushes each unit's mean
#    activation $\hat\rho_j$ over a batch towards a small target $\rho$; with the two histograms
#    the lectures draw for each (every activation, and each unit's mean), beside an
#    unregularized model;
# 2. a **tied-weights** autoencoder, whose decoder uses the encoder's weights transposed: half
#    the weights, with AdamW's decoupled weight decay;
# 3. **semantic hashing** (Salakhutdinov and Hinton): Gaussian noise before a logistic code
#    layer pushes its values to 0 or 1, so that each image gets a short binary hash, and similar
#    images share a hash.
#
# The conventions (the same as the loss: per sample, averaged over the batch):
#
# $$\text{L1: } \lambda \,\tfrac1B \sum_b \sum_j |a_{bj}|, \qquad
#   \text{KL: } w \sum_j \Big[\rho \log\frac{\rho}{\hat\rho_j} + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j}\Big],
#   \quad \hat\rho_j = \tfrac1B \sum_b a_{bj}.$$
#
# The penalties and their gradients are computed in C inside each training step, and the history
# logs `reconstruction_loss` and `regularization_loss` apart. Fashion-MNIST is read from disk
# (Debian's `dataset-fashion-mnist`, `$SIA_DATA`, or the cache) or downloaded once. To keep the
# notebook quick it trains on 10,000 images and evaluates on 2,000 held-out ones; everything is
# seeded and runs on one thread.

# %%
%matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

from sia_autoencoder import Autoencoder, datasets, plots, regularizers
from sia_autoencoder import layers as L

X, y = datasets.load_fashion_mnist()
X_test, y_test = datasets.load_fashion_mnist(split="test")
X, y, X_test, y_test = X[:10000], y[:10000], X_test[:2000], y_test[:2000]
names = datasets.FASHION_MNIST_CLASSES
print("train", X.shape, "test", X_test.shape, "values in", (float(X.min()), float(X.max())))
plots.show_images(X[:16].reshape(16, -1), (28, 28), titles=[names[c] for c in y[:16]], ncols=8,
                  scale=1.1, suptitle="Fashion-MNIST");

# %% [markdown]
# ## 1. Sparse codes: L1 and KL penalties
#
# Three autoencoders with one wide logistic code layer of 100 units (wider than needed) and a
# logistic output, trained on the squared error with Nadam. The only difference is the
# `activity_regularizer` of the code layer: none, `L1(λ)`, or `KLSparsity(target=ρ, weight=w)`.

# %%
def sparse_autoencoder(regularizer):
    return Autoencoder(encoder=[L.Dense(100, activation="sigmoid", activity_regularizer=regularizer)],
                       decoder=[L.Dense(784, activation="sigmoid")], input_shape=(28, 28),
                       loss="mse", optimizer="nadam", seed=0)


penalties = {"none": None, "L1": regularizers.L1(0.3),
             "KL": regularizers.KLSparsity(target=0.1, weight=4.0)}
sparse, stats = {}, {}
for name, reg in penalties.items():
    t0 = time.perf_counter()
    ae = sparse_autoencoder(reg)
    h = ae.fit(X, epochs=10, batch_size=64, validation_data=X_test)
    sparse[name] = ae
    s = plots.activation_stats(ae, X_test, layer="code")
    stats[name] = s
    logs = {k: v[-1] for k, v in h.history.items()}
    print(f"{name:>4}: {time.perf_counter() - t0:4.1f} s, reconstruction "
          f"{logs.get('reconstruction_loss', logs['loss']):6.2f} + regularization "
          f"{logs.get('regularization_loss', 0.0):5.2f}; held-out reconstruction "
          f"{logs.get('val_reconstruction_loss', logs['val_loss']):6.2f}")

print()
print(f"{'penalty':>8} {'mean activation':>16} {'outputs < 0.05':>15} {'units with mean < 0.2':>22}")
for name, s in stats.items():
    print(f"{name:>8} {s['mean']:16.3f} {100 * s['near_zero_share']:14.0f}% "
          f"{int((s['unit_means'] < 0.2).sum()):>18}/100")
print(f"KL: mean activation {stats['KL']['mean']:.3f} (target 0.1)")

# %% [markdown]
# The unregularized code uses its units freely: its outputs average about 0.6, and hardly any is
# near zero. The L1 penalty drives half of the outputs to (nearly) zero; the KL penalty holds each
# unit's *mean* activation near the target ρ = 0.1, so that every unit fires on about a tenth of
# the images. Both cost some reconstruction error: the penalty's weight sets the trade.
# The histograms show it: all the outputs on the left, each unit's mean on the right.

# %%
for name in penalties:
    plots.plot_activation_histogram(sparse[name], X_test, layer="code",
                                    title=f"Code activations, penalty: {name}");

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, name in zip(axes, penalties):
    plots.plot_history(sparse[name].history_, ax=ax, title=f"penalty: {name}", log=False)
fig.tight_layout()

# %% [markdown]
# ## 2. Tied weights
#
# A **tied** autoencoder's decoder layer $k$ uses the transposed weights of the encoder layer it
# mirrors, $W_{\text{dec}} = W_{\text{enc}}^\top$, with its own bias: the same architecture with
# about half the parameters. `tied=True` ties every mirrored pair of a dense model (or write
# `L.DenseTranspose(of=layer)` yourself). Here with AdamW, whose weight decay is decoupled
# from the gradient's scaling.

# %%
results = {}
for tied in (False, True):
    ae = Autoencoder([784, 100, 30, 100, 784], activation="selu", latent_activation="linear",
                     output_activation="sigmoid", loss="mse", tied=tied, optimizer="adamw",
                     weight_decay=1e-4, seed=0)
    h = ae.fit(X, epochs=10, batch_size=64, validation_data=X_test)
    results[tied] = ae
    print(f"tied={tied!s:5}: {ae.n_params:7,} parameters, held-out loss {h.history['val_loss'][-1]:.2f}")
results[True].summary()

# %%
plots.show_images(np.concatenate([X_test[:8].reshape(8, -1),
                                   results[False].reconstruct(X_test[:8]).reshape(8, -1),
                                   results[True].reconstruct(X_test[:8]).reshape(8, -1)]),
                  (28, 28), ncols=8, scale=1.0,
                  suptitle="Held-out images; untied; tied reconstructions");

# %% [markdown]
# ## 3. Semantic hashing
#
# A 16-unit logistic code layer, with Gaussian noise (σ = 15) added to its input during
# training only. Noise that large drowns any code value that is not far in the saturated tails
# of the logistic, so the network learns to put every code value near 0 or 1: a 16-bit
# **hash**. `model.hash(X)` thresholds the codes at 0.5 and reads the bits as an integer;
# images with the same hash should look alike, so a hash works as a cheap index for retrieval.

# %%
hashing = Autoencoder(
    encoder=[L.Dense(100, activation="selu"), L.GaussianNoise(15.0), L.Dense(16, activation="sigmoid")],
    decoder=[L.Dense(100, activation="selu"), L.Dense(784, activation="sigmoid")],
    input_shape=(28, 28), loss="bce", optimizer="nadam", seed=0)
t0 = time.perf_counter()
hashing.fit(X, epochs=20, batch_size=64)
codes = hashing.encode(X_test)
binary = np.mean((codes < 0.1) | (codes > 0.9))
print(f"trained in {time.perf_counter() - t0:.1f} s")
print(f"binary: {100 * binary:.1f}% of held-out code values below 0.1 or above 0.9")
hashes = hashing.hash(X_test)
groups = plots.hash_groups(hashes, y_test)
sizes = np.array([len(g[1]) for g in groups])
purity = sum(len(g[1]) * g[2] for g in groups) / len(X_test)
print(f"{len(groups)} distinct hashes for {len(X_test)} held-out images; the 10 largest groups hold "
      f"{sizes[:10].sum()} images")
print(f"purity: {100 * purity:.1f}% of the images share their hash group's majority class")
for h, idx, p in groups[:8]:
    major = np.bincount(y_test[idx]).argmax()
    print(f"  {h:016b}: {len(idx):4} images, {100 * p:3.0f}% {names[major]}")

# %%
plt.figure(figsize=(6, 3))
plt.hist(codes.ravel(), bins=50, color="tab:purple")
plt.title("Held-out code values of the hashing autoencoder")
plt.xlabel("code value")
plt.grid(alpha=0.3)

# %%
plots.plot_hash_groups(hashing, X_test, y_test, n_groups=8, per_group=10, names=names);

# %% [markdown]
# Each row is one hash and ten of its images: the groups are mostly of one kind of garment, the
# purity printed above says how much. The classes that look alike (shirts, pullovers and coats)
# share hashes most often.
