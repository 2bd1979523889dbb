# %% [markdown]
# # Applications, measured against the established tools
#
# What autoencoders are for, next to scikit-learn, through the estimators of
# `sia_autoencoder.sklearn` (they follow scikit-learn's estimator contract, so they go into
# `Pipeline`, `ColumnTransformer` and `GridSearchCV`):
#
# 1. **AEkNN**: k-nearest neighbours on the codes of an autoencoder (`AutoencoderTransformer`),
#    against k-NN on the raw pixels and on PCA with as many dimensions; t-SNE of the codes.
# 2. **A linear autoencoder is PCA**: the principal angles between its decoder and the top
#    principal components.
# 3. **Anomaly detection** by the reconstruction error (`AutoencoderOutlierDetector`): digits as
#    inliers against Fashion-MNIST images, and PyOD's own benchmark, beside scikit-learn's
#    `IsolationForest` and PyOD's `AutoEncoder`.
# 4. **Imputation** of missing pixels (`AutoencoderImputer`) beside `KNNImputer` and
#    `IterativeImputer`, and a classifier trained on the imputed digits.
#
# The notebook trains smaller budgets than the benchmark script so that it runs in a couple of
# minutes; the full tables come from `python bench/applications.py` and are shown with the
# command that produced them. It needs scikit-learn; Fashion-MNIST is read from Debian's
# `dataset-fashion-mnist` package (or any folder `datasets.load_fashion_mnist` finds).

# %%
%matplotlib inline
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sia_autoencoder import datasets
from sia_autoencoder.sklearn import AutoencoderImputer, AutoencoderOutlierDetector, AutoencoderTransformer

X, y = datasets.load_digits(np.float64)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
print(f"digits: {X.shape}, {len(X_train)} for training, {len(X_test)} for testing")

# %% [markdown]
# ## 0. The estimator contract
#
# `AutoencoderTransformer(layers=..., epochs=..., ...)` takes every argument of
# `Autoencoder` and of its `fit`; the model is built in `fit` for the data's width
# (`[n_features, *layers, n_features]`) and kept as `model_`. `transform` gives the codes,
# `inverse_transform` decodes them, `score` is minus the reconstruction loss, so that
# `GridSearchCV` can choose an architecture without labels.

# %%
from sklearn.model_selection import GridSearchCV

ae = AutoencoderTransformer(layers=(32, 8, 32), epochs=50, random_state=0)
print(clone(ae))
search = GridSearchCV(ae, {"layers": [(32, 2, 32), (32, 8, 32), (64, 16, 64)]}, cv=3).fit(X_train)
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"  {params}: score (minus the reconstruction loss) {score:.3f}")
print("best:", search.best_params_, "| codes:", search.best_estimator_.transform(X_test).shape,
      "| names:", search.best_estimator_.get_feature_names_out()[:3], "...")

# %% [markdown]
# ## 1. AEkNN: k-NN in the latent space
#
# Pulgar et al. (2019) classify with k-NN on an autoencoder's codes. With scikit-learn that is
# one pipeline. The goal: the raw pixels' k-NN accuracy with a code of 8 dimensions or fewer.
# Here one split and 300 epochs; the benchmark cross-validates the 1000-epoch model.

# %%
def accuracy(model):
    t0 = time.perf_counter()
    score = model.fit(X_train, y_train).score(X_test, y_test)
    return score, time.perf_counter() - t0


aeknn = make_pipeline(AutoencoderTransformer(layers=(128, 8, 128), epochs=300, random_state=0),
                      KNeighborsClassifier())
rows = [("raw pixels", 64, *accuracy(KNeighborsClassifier())),
        ("PCA(8)", 8, *accuracy(make_pipeline(PCA(8, random_state=0), KNeighborsClassifier()))),
        ("AutoencoderTransformer (128, 8, 128)", 8, *accuracy(aeknn))]
print(f"{'features':38s} {'dims':>4s} {'accuracy':>9s} {'fit s':>6s}")
for name, dims, acc, seconds in rows:
    print(f"{name:38s} {dims:4d} {acc:9.4f} {seconds:6.1f}")

# %% [markdown]
# The benchmark: 5-fold cross-validated accuracy of `KNeighborsClassifier()` on all 1,797 digits,
# the autoencoder `(128, 8, 128)` trained 1000 epochs; `python bench/applications.py aeknn` (PyOD 3.6.7 with torch on one thread, scikit-learn 1.9.1; fit times from a busy shared 2-core machine, not a speed claim):
#
# | features | dims | accuracy |
# |---|---:|---:|
# | raw pixels | 64 | 0.9855 ± 0.0041 |
# | PCA(8) | 8 | 0.9627 ± 0.0074 |
# | AutoencoderTransformer (128, 8, 128) | 8 | 0.9794 ± 0.0084 |
#
# The 8-D codes keep most of what k-NN needs: 1.7 points above PCA with the same 8 dimensions,
# 0.6 points (11 of 1,797 digits) short of the raw 64 pixels. The goal (the raw accuracy with at
# most 8 dimensions) is **not met**: the gap is 0.0061, within one standard deviation of the folds
# (0.0084) but consistent across them.
#
# What was tried to close it, each chosen or rejected on a validation split (450 of the digits,
# `train_test_split(random_state=1)`, the autoencoder fitted on the other 1,347), where raw k-NN
# scores 0.9889 and this model 0.9800 (0.9778 with seed 1): a deeper encoder `(128, 64, 8, 64,
# 128)` 0.9822 (0.9800 with seed 1), batch size 64 0.9822, 128 0.9800, 16 0.9778; selu 0.9756,
# relu 0.9578; a tanh code 0.9756; 2000 epochs 0.9756; wider `(256, 8, 256)` 0.9711, `(512, 8,
# 512)` 0.9600, `(256, 128, 8, 128, 256)` 0.9711; denoising (Gaussian σ = 0.1) 0.9733,
# (salt-and-pepper 5%) 0.9711; a logistic output with BCE 0.9733. No change beat the baseline by
# more than one digit of 450, the spread between two seeds. The best of them, the deeper encoder,
# scores 0.9733 ± 0.0065 in the benchmark's cross-validation, below this model: so the benchmark
# keeps `(128, 8, 128)`.

# %% [markdown]
# The codes, drawn by t-SNE (scikit-learn's `TSNE`) in two dimensions: the classes that the
# k-NN separates are visible as clusters.

# %%
codes = aeknn[0].transform(X_test)
xy = TSNE(n_components=2, random_state=0, init="pca", perplexity=30).fit_transform(codes)
fig, ax = plt.subplots(figsize=(6, 5))
points = ax.scatter(xy[:, 0], xy[:, 1], c=y_test, cmap="tab10", s=12)
fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
ax.set_title("t-SNE of the 8-D codes of the test digits")
plt.show()

# %% [markdown]
# ## 2. A linear autoencoder spans the principal subspace
#
# Baldi and Hornik (1989): an autoencoder with linear layers, trained with the squared error, has
# its optimum where the decoder's columns span the same subspace as the top-k principal
# components (not the components themselves: any basis of it). The principal angles between the
# two subspaces measure it: 0° means the same subspace. `tests/test_sklearn.py` checks it too.

# %%
def principal_angles_degrees(A, B):
    Qa, Qb = np.linalg.qr(A)[0], np.linalg.qr(B)[0]
    return np.degrees(np.arccos(np.clip(np.linalg.svd(Qa.T @ Qb, compute_uv=False), -1, 1)))


Xc = X - X.mean(axis=0)
for k in (2, 4, 8):
    linear = AutoencoderTransformer(layers=(k,), activation="linear", output_activation="linear",
                                    loss="mse", epochs=500, random_state=0).fit(Xc)
    angles = principal_angles_degrees(linear.model_.weights[-1][0], PCA(k).fit(Xc).components_.T)
    print(f"k = {k}: principal angles {np.round(angles, 2)} degrees (largest {angles.max():.2f})")

# %% [markdown]
# ## 3. Anomaly detection
#
# `AutoencoderOutlierDetector` scores each sample by its reconstruction error; `threshold_` is the
# error that a `contamination` share of the training samples exceed, and `predict` gives −1
# above it. First, digits as inliers against Fashion-MNIST images brought to the digits' 8×8
# grid (each 28×28 image padded to 32×32, averaged over 4×4 blocks, scaled to [0, 1]).

# %%
try:
    F, _ = datasets.load_fashion_mnist(split="test", dtype=np.float64, download=False)
except FileNotFoundError as exc:
    F = None
    print(f"Skipping the Fashion-MNIST comparison: {exc}")
if F is not None:
    F = F[np.random.default_rng(0).choice(len(F), 300, replace=False)]
    F = np.pad(F, ((0, 0), (2, 2), (2, 2))).reshape(300, 8, 4, 8, 4).mean(axis=(2, 4))
    F = np.clip(F / F.max(axis=(1, 2), keepdims=True), 0, 1).reshape(300, 64)
    X_eval, y_eval = np.concatenate([X_test, F]), np.r_[np.zeros(len(X_test)), np.ones(len(F))]
    detector = AutoencoderOutlierDetector(contamination=0.05, layers=(64, 16, 64), epochs=300,
                                          output_activation="logistic", loss="bce",
                                          random_state=0).fit(X_train)
    forest = IsolationForest(random_state=0).fit(X_train)
    scores = {"AutoencoderOutlierDetector": -detector.decision_function(X_eval),
              "IsolationForest": -forest.decision_function(X_eval)}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y_eval, s)
        print(f"{name:28s} ROC-AUC {roc_auc_score(y_eval, s):.4f}")
        ax1.plot(fpr, tpr, label=f"{name} ({roc_auc_score(y_eval, s):.3f})")
    ax1.plot([0, 1], [0, 1], ls=":", c="grey")
    ax1.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC: digits vs Fashion-MNIST")
    ax1.legend()
    errors = detector.model_.reconstruction_error(X_eval)
    bins = np.linspace(0, np.percentile(errors, 99), 50)
    ax2.hist(errors[y_eval == 0], bins, alpha=0.6, label="test digits")
    ax2.hist(errors[y_eval == 1], bins, alpha=0.6, label="Fashion-MNIST")
    ax2.axvline(detector.threshold_, c="k", ls="--", label="threshold_ (contamination 5%)")
    ax2.set(xlabel="reconstruction error (BCE summed over the 64 pixels)", ylabel="images",
            title="Reconstruction errors")
    ax2.legend()
    plt.show()
    flagged = detector.predict(X_eval) == -1
    print(f"flagged: {flagged[y_eval == 0].mean():.1%} of the test digits, "
          f"{flagged[y_eval == 1].mean():.1%} of the Fashion-MNIST images")

# %% [markdown]
# The benchmark, `python bench/applications.py fashion anomaly` (PyOD 3.6.7 with torch on one thread, scikit-learn 1.9.1; fit times from a busy shared 2-core machine, not a speed claim). Digits against Fashion-MNIST
# (the notebook's setting, `AutoencoderOutlierDetector(layers=(64, 16, 64), epochs=300,
# output_activation='logistic', loss='bce')`; PyOD with its defaults):
#
# | detector | ROC-AUC |
# |---|---:|
# | sia_autoencoder AutoencoderOutlierDetector | **0.8458** |
# | scikit-learn IsolationForest | 0.7784 |
# | PyOD AutoEncoder (defaults) | 0.8169 |
#
# PyOD's own benchmark of its autoencoder, `generate_data(n_train=6000, n_test=1000,
# n_features=300, contamination=0.1, random_state=42)` (its test asks for ROC-AUC ≥ 0.8);
# `AutoencoderOutlierDetector(layers=(64, 16, 64), epochs=30, batch_size=64)`:
#
# | detector | test ROC-AUC | train ROC-AUC |
# |---|---:|---:|
# | sia_autoencoder AutoencoderOutlierDetector | 1.0000 | 1.0000 |
# | scikit-learn IsolationForest | 1.0000 | 1.0000 |
# | PyOD AutoEncoder (defaults) | 1.0000 | 1.0000 |
#
# Goal met: at least as good as both on both (a tie at 1.0 on PyOD's data, which all three
# separate perfectly; ahead by 0.029 and 0.067 on digits against Fashion-MNIST).

# %% [markdown]
# When PyOD is installed here, its benchmark runs live (it is not a dependency of this package):

# %%
try:
    from pyod.utils.data import generate_data
except ImportError:
    print("PyOD is not installed here: the table above is the benchmark's")
else:
    Xa_train, Xa_test, ya_train, ya_test = generate_data(n_train=6000, n_test=1000, n_features=300,
                                                         contamination=0.1, random_state=42)
    det = AutoencoderOutlierDetector(layers=(64, 16, 64), epochs=30, batch_size=64,
                                     random_state=0).fit(Xa_train)
    forest = IsolationForest(random_state=0).fit(Xa_train)
    print(f"AutoencoderOutlierDetector test ROC-AUC {roc_auc_score(ya_test, -det.decision_function(Xa_test)):.4f}")
    print(f"IsolationForest            test ROC-AUC {roc_auc_score(ya_test, -forest.decision_function(Xa_test)):.4f}")

# %% [markdown]
# ## 4. Imputation
#
# 20% of the pixels of every digit go missing at random. `AutoencoderImputer` is trained with
# masking noise: every epoch hides another 20% of the cells, and the network learns to restore
# the hidden observed cells from the rest. `transform` fills the missing cells and keeps every
# observed value exactly. With `n_models=5`, five such autoencoders are trained from consecutive
# seeds and their fills averaged: each one's own errors partly cancel. Beside it: the column
# means, `KNNImputer` and (in the benchmark table, as it takes minutes here) `IterativeImputer`. A logistic regression trained on the imputed
# training digits measures what the imputation is worth to a classifier.

# %%
rng = np.random.default_rng(0)
missing = rng.random(X.shape) < 0.2
X_missing = np.where(missing, np.nan, X)
Xm_train, Xm_test, M_train, M_test = train_test_split(X_missing, missing, test_size=0.25, random_state=0,
                                                      stratify=y)
imputers = {"column mean": SimpleImputer(), "KNNImputer": KNNImputer(),
            "AutoencoderImputer": AutoencoderImputer(layers=(256, 128, 256), epochs=150, n_models=5,
                                                     random_state=0)}
filled = {}
print(f"{'imputer':20s} {'RMSE':>7s} {'accuracy':>9s} {'fit s':>6s}")
for name, imputer in imputers.items():
    t0 = time.perf_counter()
    imputer.fit(Xm_train)
    seconds = time.perf_counter() - t0
    F_train, filled[name] = imputer.transform(Xm_train), imputer.transform(Xm_test)
    rmse = np.sqrt(np.mean((filled[name][M_test] - X_test[M_test]) ** 2))
    acc = LogisticRegression(max_iter=2000).fit(F_train, y_train).score(filled[name], y_test)
    print(f"{name:20s} {rmse:7.4f} {acc:9.4f} {seconds:6.1f}")
assert np.array_equal(filled["AutoencoderImputer"][~M_test], X_test[~M_test])  # observed cells kept

cmap = plt.get_cmap("gray_r").copy()
cmap.set_bad("red")  # the missing cells (NaN)
fig, axes = plt.subplots(4, 8, figsize=(10, 5.4))
for j in range(8):
    shown = [X_test[j], np.where(M_test[j], np.nan, X_test[j]), filled["KNNImputer"][j],
             filled["AutoencoderImputer"][j]]
    for i, img in enumerate(shown):
        axes[i, j].imshow(img.reshape(8, 8), cmap=cmap, vmin=0, vmax=1)
        axes[i, j].axis("off")
for i, name in enumerate(["true", "missing (red)", "KNNImputer", "AutoencoderImputer"]):
    axes[i, 0].set_title(name, loc="left", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# The benchmark, `python bench/applications.py imputation` (scikit-learn 1.9.1; fit times from a busy shared 2-core machine, not a speed claim): the same split, five autoencoders
# `(256, 128, 256)` trained 300 epochs (`n_models=5`), `IterativeImputer(random_state=0)` with its defaults:
#
# | imputer | RMSE (test) | accuracy |
# |---|---:|---:|
# | column mean (SimpleImputer) | 0.2708 | 0.9200 |
# | scikit-learn KNNImputer | 0.1483 | **0.9689** |
# | scikit-learn IterativeImputer | 0.1721 | 0.9400 |
# | sia_autoencoder AutoencoderImputer, 5 models | **0.1392** | 0.9556 |
# | sia_autoencoder AutoencoderImputer, 1 model (before) | 0.1585 | 0.9533 |
# | (no missing cells) | | 0.9689 |
#
# Goal (a lower RMSE than both) **met**: 6.1% below `KNNImputer` and 19% below
# `IterativeImputer`. The protocol: the settings were chosen on a validation split of the
# training digits only (a quarter of them, `train_test_split(random_state=1)`), never on the
# test digits. There, one autoencoder scored 0.1632 against `KNNImputer`'s 0.1510; hiding 10% or
# 35% of the cells per epoch, 1 or 10 reconstruction passes, the mask given as extra inputs,
# restoring every observed cell, or averaging over random test-time masks each moved it by less
# than the spread between seeds (0.1595 to 0.1684); averaging five seeds brought it to 0.1428.
# The logistic regression still does better on `KNNImputer`'s digits (0.9689 against 0.9556): a
# lower RMSE does not make the fills more typical of their class.

# %% [markdown]
# ## The goals of the issue, and where they stand
#
# | application | goal | result |
# |---|---|---|
# | anomaly detection, PyOD's data | ≥ IsolationForest and PyOD's AutoEncoder | met: 1.0000, a three-way tie |
# | anomaly detection, digits vs Fashion-MNIST | ≥ both | met: 0.8458 against 0.7784 and 0.8169 |
# | imputation, 20% missing | RMSE below KNNImputer and IterativeImputer | met with `n_models=5`: 0.1392 against 0.1483 and 0.1721 (one model: 0.1585) |
# | AEkNN | raw k-NN accuracy with ≤ 8 dims | not met: 0.9794 with 8 dims against 0.9855 raw (gap 0.0061); PCA(8) 0.9627; none of the 17 variants tried on a validation split measurably better (see above) |
# | linear AE = PCA | the principal subspace | met: largest principal angle 0.80°, 0.74°, 1.00° for k = 2, 4, 8 (`python bench/applications.py pca`) |
