"""The applications of issue 16, measured against the established tools; prints Markdown tables.

    python bench/applications.py                      # every section (about 20-30 minutes)
    python bench/applications.py anomaly imputation   # some sections: anomaly, fashion,
                                                      # imputation, aeknn, pca

Needs scikit-learn; the anomaly sections also run PyOD's AutoEncoder when pyod (with torch and
tqdm) is installed, and the fashion section Fashion-MNIST (datasets.load_fashion_mnist). None of
them is a dependency of the package. notebooks/07_applications.ipynb shows these tables.
"""
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sia_autoencoder import datasets  # noqa: E402
from sia_autoencoder.sklearn import (AutoencoderImputer, AutoencoderOutlierDetector,  # noqa: E402
                                     AutoencoderTransformer)

# The settings the notebook and this script share (the notebook may train fewer epochs).
ANOMALY = dict(layers=(64, 16, 64), epochs=30, batch_size=64, random_state=0)
DIGITS_VS_FASHION = dict(layers=(64, 16, 64), epochs=300, output_activation="logistic", loss="bce",
                         random_state=0)
IMPUTER = dict(layers=(256, 128, 256), epochs=300, n_models=5, random_state=0)
AEKNN = dict(layers=(128, 8, 128), epochs=1000, random_state=0)


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    print(flush=True)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def pyod_autoencoder():
    """PyOD's AutoEncoder class, or None when pyod (or its torch, tqdm) is missing."""
    try:
        import torch
        from pyod.models.auto_encoder import AutoEncoder
    except ImportError as exc:
        print(f"(PyOD's AutoEncoder skipped: {exc})")
        return None
    torch.set_num_threads(1)  # as the other detectors (and oversubscribed threads crawl on a busy machine)
    return AutoEncoder


def detectors(n_features):
    """[(name, make)] of the detectors compared; each make() returns an unfitted detector with
    fit(X) and decision_function(X) (higher = more abnormal for PyOD, so signs are fixed below)."""
    from sklearn.ensemble import IsolationForest
    out = [("sia_autoencoder AutoencoderOutlierDetector", lambda: AutoencoderOutlierDetector(**ANOMALY)),
           ("scikit-learn IsolationForest", lambda: IsolationForest(random_state=0))]
    AE = pyod_autoencoder()
    if AE is not None:
        out.append(("PyOD AutoEncoder (defaults)", lambda: AE(random_state=42, verbose=0)))
    return out


def outlier_scores(det, X):
    """Higher = more abnormal, whichever convention the detector follows."""
    if hasattr(det, "decision_scores_"):  # PyOD: decision_function is already an outlier score
        return det.decision_function(X)
    return -det.decision_function(X)


def anomaly():
    """PyOD's own benchmark of its autoencoder (its test's ROC-AUC floor is 0.8)."""
    from pyod.utils.data import generate_data
    from sklearn.metrics import roc_auc_score
    X_train, X_test, y_train, y_test = generate_data(n_train=6000, n_test=1000, n_features=300,
                                                     contamination=0.1, random_state=42)
    print("## Anomaly detection: pyod.utils.data.generate_data(n_train=6000, n_test=1000, "
          "n_features=300, contamination=0.1, random_state=42)\n")
    rows = []
    for name, make in detectors(X_train.shape[1]):
        det, seconds = timed(lambda: make().fit(X_train))
        rows.append((name, f"{roc_auc_score(y_test, outlier_scores(det, X_test)):.4f}",
                     f"{roc_auc_score(y_train, outlier_scores(det, X_train)):.4f}", f"{seconds:.1f}"))
    table(["detector", "test ROC-AUC", "train ROC-AUC", "fit s"], rows)


def digits_and_fashion(n_fashion=300, seed=0):
    """Digits (8×8 in [0, 1]) split in train and test inliers, and Fashion-MNIST test images
    brought to the digits' 8×8 grid (padded to 32×32, 4×4 block means) as outliers."""
    from sklearn.model_selection import train_test_split
    X, y = datasets.load_digits(np.float64)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed, stratify=y)
    F, _ = datasets.load_fashion_mnist(split="test", dtype=np.float64)
    F = F[np.random.default_rng(seed).choice(len(F), n_fashion, replace=False)]
    F = np.pad(F, ((0, 0), (2, 2), (2, 2))).reshape(n_fashion, 8, 4, 8, 4).mean(axis=(2, 4))
    F = np.clip(F / F.max(axis=(1, 2), keepdims=True), 0, 1).reshape(n_fashion, 64)
    return X_train, X_test, F


def fashion():
    from sklearn.metrics import roc_auc_score
    X_train, X_test, F = digits_and_fashion()
    X_eval = np.concatenate([X_test, F])
    y_eval = np.r_[np.zeros(len(X_test)), np.ones(len(F))]
    print(f"## Anomaly detection: digits as inliers (train {len(X_train)}), test digits ({len(X_test)}) "
          f"against Fashion-MNIST images on the 8×8 grid ({len(F)})\n")
    rows = []
    for name, make in detectors(64):
        if name.startswith("sia_autoencoder"):
            make = lambda: AutoencoderOutlierDetector(**DIGITS_VS_FASHION)  # noqa: E731
        det, seconds = timed(lambda: make().fit(X_train))
        rows.append((name, f"{roc_auc_score(y_eval, outlier_scores(det, X_eval)):.4f}", f"{seconds:.1f}"))
    table(["detector", "ROC-AUC", "fit s"], rows)


def imputation_data(rate=0.2, seed=0):
    from sklearn.model_selection import train_test_split
    X, y = datasets.load_digits(np.float64)
    missing = np.random.default_rng(seed).random(X.shape) < rate
    X_missing = np.where(missing, np.nan, X)
    split = train_test_split(X, X_missing, missing, y, test_size=0.25, random_state=seed, stratify=y)
    return split  # X_tr, X_te, Xm_tr, Xm_te, M_tr, M_te, y_tr, y_te


def imputers():
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
    return [("column mean (SimpleImputer)", SimpleImputer),
            ("scikit-learn KNNImputer", KNNImputer),
            ("scikit-learn IterativeImputer", lambda: IterativeImputer(random_state=0)),
            ("sia_autoencoder AutoencoderImputer", lambda: AutoencoderImputer(**IMPUTER))]


def imputation():
    from sklearn.linear_model import LogisticRegression
    X_tr, X_te, Xm_tr, Xm_te, M_tr, M_te, y_tr, y_te = imputation_data()
    print(f"## Imputation: 8×8 digits, 20% of the cells missing at random; imputers fitted on "
          f"{len(X_tr)} digits, RMSE on the missing cells of the {len(X_te)} others; then "
          f"LogisticRegression(max_iter=2000) trained on the imputed training digits\n")
    clean = LogisticRegression(max_iter=2000).fit(X_tr, y_tr).score(X_te, y_te)
    rows = []
    for name, make in imputers():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # IterativeImputer's convergence warning
            imp, seconds = timed(lambda: make().fit(Xm_tr))
        F_tr, F_te = imp.transform(Xm_tr), imp.transform(Xm_te)
        rmse_te = np.sqrt(np.mean((F_te[M_te] - X_te[M_te]) ** 2))
        rmse_tr = np.sqrt(np.mean((F_tr[M_tr] - X_tr[M_tr]) ** 2))
        acc = LogisticRegression(max_iter=2000).fit(F_tr, y_tr).score(F_te, y_te)
        rows.append((name, f"{rmse_te:.4f}", f"{rmse_tr:.4f}", f"{acc:.4f}", f"{seconds:.1f}"))
    rows.append(("(no missing cells)", "", "", f"{clean:.4f}", ""))
    table(["imputer", "RMSE test", "RMSE train", "accuracy", "fit s"], rows)


def aeknn():
    from sklearn.decomposition import PCA
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    X, y = datasets.load_digits(np.float64)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    print("## AEkNN: 5-fold cross-validated accuracy of KNeighborsClassifier() on the 8×8 digits\n")
    rows = []
    for name, dims, pipe in [("raw pixels", 64, KNeighborsClassifier()),
                             ("PCA(8)", 8, make_pipeline(PCA(8, random_state=0), KNeighborsClassifier())),
                             (f"AutoencoderTransformer{AEKNN['layers']}", 8,
                              make_pipeline(AutoencoderTransformer(**AEKNN), KNeighborsClassifier()))]:
        scores, seconds = timed(lambda: cross_val_score(pipe, X, y, cv=cv))
        rows.append((name, dims, f"{scores.mean():.4f} ± {scores.std():.4f}", f"{seconds:.1f}"))
    table(["features", "dims", "accuracy", "s"], rows)


def principal_angles_degrees(A, B):
    Qa, Qb = np.linalg.qr(A)[0], np.linalg.qr(B)[0]
    return np.degrees(np.arccos(np.clip(np.linalg.svd(Qa.T @ Qb, compute_uv=False), -1, 1)))


def pca():
    from sklearn.decomposition import PCA
    X, _ = datasets.load_digits(np.float64)
    Xc = X - X.mean(axis=0)
    print("## A linear autoencoder spans the principal subspace: principal angles (degrees) "
          "between its decoder's columns and the top-k principal components of the centered digits\n")
    rows = []
    for k in (2, 4, 8):
        est = AutoencoderTransformer(layers=(k,), activation="linear", output_activation="linear",
                                     loss="mse", epochs=500, random_state=0).fit(Xc)
        angles = principal_angles_degrees(est.model_.weights[-1][0], PCA(k).fit(Xc).components_.T)
        rows.append((k, " ".join(f"{a:.2f}" for a in angles), f"{angles.max():.2f}"))
    table(["k", "angles", "largest"], rows)


SECTIONS = {"anomaly": anomaly, "fashion": fashion, "imputation": imputation, "aeknn": aeknn, "pca": pca}


if __name__ == "__main__":
    names = sys.argv[1:] or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        sys.exit(f"unknown section(s) {unknown}; expected some of {list(SECTIONS)}")
    for name in names:
        SECTIONS[name]()
