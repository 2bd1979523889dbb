"""The scikit-learn estimators (issue 16): the estimator contract (check_estimator, every check),
pipelines, feature names, and what each estimator does; Autoencoder.reconstruction_error; the
linear autoencoder spanning the principal subspace."""
import os
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from sia_autoencoder import VAE, Autoencoder  # noqa: E402
from sia_autoencoder.sklearn import (AutoencoderImputer, AutoencoderOutlierDetector,  # noqa: E402
                                     AutoencoderTransformer)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


# ---- the contract ----

@parametrize_with_checks([AutoencoderTransformer(epochs=20), AutoencoderOutlierDetector(epochs=20),
                          AutoencoderImputer(epochs=20)])
def test_check_estimator(estimator, check):
    # Every check of sklearn.utils.estimator_checks runs (none is declared an expected failure);
    # the ones that do not apply are ruled out by the tags (see __sklearn_tags__).
    check(estimator)


def test_the_package_does_not_import_scikit_learn():
    code = "import sys, sia_autoencoder; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_without_scikit_learn_the_module_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.base", None)
    monkeypatch.delitem(sys.modules, "sia_autoencoder.sklearn")
    with pytest.raises(ImportError, match=r"needs scikit-learn >= 1.6.*pip install"):
        import sia_autoencoder.sklearn  # noqa: F401


def test_the_wrapper_trains_exactly_the_model_it_wraps(digits):
    X = digits[0][:200]
    est = AutoencoderTransformer(layers=(16, 4, 16), activation="tanh", output_activation="logistic",
                                 loss="bce", epochs=7, batch_size=16, random_state=3).fit(X)
    ae = Autoencoder([64, 16, 4, 16, 64], activation="tanh", output_activation="logistic", loss="bce",
                     seed=3, dtype="float64")
    history = ae.fit(X, epochs=7, batch_size=16)
    np.testing.assert_array_equal(est.model_.params, ae.params)
    assert est.history_["loss"] == list(history.history["loss"]) and est.n_epochs_ == 7
    np.testing.assert_array_equal(est.transform(X), ae.encode(X))
    np.testing.assert_array_equal(est.inverse_transform(est.transform(X)), ae.decode(ae.encode(X)))
    assert est.score(X) == -ae.reconstruction_error(X, per_sample=False)
    # clone: the same parameters, not fitted; refitting it gives the same model
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "model_")
    np.testing.assert_array_equal(twin.fit(X).model_.params, est.model_.params)


def test_parameters_are_checked_in_fit_with_precise_messages(digits):
    X = digits[0][:50]
    with pytest.raises(ValueError, match="contamination: expected a number in \\(0.0, 0.5\\], got 0.7"):
        AutoencoderOutlierDetector(contamination=0.7).fit(X)
    with pytest.raises(ValueError, match="layers: expected the inner widths, e.g. \\(32, 8, 32\\), got 'wide'"):
        AutoencoderTransformer(layers="wide").fit(X)
    with pytest.raises(ValueError, match="epochs: expected an integer in \\[0, inf\\], got -1"):
        AutoencoderTransformer(epochs=-1).fit(X)
    with pytest.raises(ValueError, match="loss"):
        AutoencoderTransformer(loss="hinge").fit(X)
    with pytest.raises(ValueError, match="mask_rate: expected a number in \\(0, 1\\), got 1.0"):
        AutoencoderImputer(mask_rate=1.0).fit(X)
    with pytest.raises(ValueError, match="mask_rate: expected a number in \\(0, 1\\), got 0.0"):
        AutoencoderImputer(mask_rate=0.0).fit(X)
    with pytest.raises(ValueError, match="missing_values: expected np.nan or a number, got 'NA'"):
        AutoencoderImputer(missing_values="NA").fit(X)
    with pytest.raises(ValueError, match="n_iter: expected an integer in \\[1, inf\\], got 0"):
        AutoencoderImputer(n_iter=0).fit(X)
    with pytest.raises(ValueError, match="n_models: expected an integer in \\[1, inf\\], got 0"):
        AutoencoderImputer(n_models=0).fit(X)


# ---- in pipelines ----

def test_pipeline_column_transformer_and_grid_search(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    knn = make_pipeline(AutoencoderTransformer(layers=(32, 8, 32), epochs=100, random_state=0),
                        KNeighborsClassifier())
    assert knn.fit(X[:400], y[:400]).score(X[400:], y[400:]) > 0.7  # raw k-NN: 0.835, PCA(8): 0.785
    # A ColumnTransformer: the top half of each digit through one autoencoder, the bottom half kept.
    columns = ColumnTransformer([("top", AutoencoderTransformer(layers=(16, 4, 16), epochs=5, random_state=0),
                                  list(range(32))), ("bottom", "passthrough", list(range(32, 64)))])
    out = columns.fit_transform(X)
    assert out.shape == (600, 4 + 32)
    np.testing.assert_array_equal(out[:, 4:], X[:, 32:])
    names = columns.get_feature_names_out()
    assert list(names[:4]) == [f"top__autoencodertransformer{i}" for i in range(4)]
    assert names[4] == "bottom__x32"
    # GridSearchCV on the transformer's own score (minus the reconstruction loss): the wider
    # code reconstructs better.
    search = GridSearchCV(AutoencoderTransformer(epochs=30, random_state=0),
                          {"layers": [(32, 2, 32), (32, 12, 32)]}, cv=3).fit(X)
    assert search.best_params_ == {"layers": (32, 12, 32)}
    # and on a pipeline's accuracy
    search = GridSearchCV(knn, {"autoencodertransformer__layers": [(32, 1, 32), (32, 8, 32)]}, cv=3)
    assert search.fit(X, y).best_params_ == {"autoencodertransformer__layers": (32, 8, 32)}


def test_feature_names(digits):
    X = digits[0][:100]
    est = AutoencoderTransformer(layers=(8, 3, 8), epochs=2, random_state=0).fit(X)
    assert list(est.get_feature_names_out()) == [f"autoencodertransformer{i}" for i in range(3)]
    imputer = AutoencoderImputer(epochs=2, random_state=0).fit(X)
    assert list(imputer.get_feature_names_out()) == [f"x{i}" for i in range(64)]
    with pytest.raises(ValueError, match="input_features"):
        est.get_feature_names_out([f"f{i}" for i in range(5)])


def test_feature_names_from_a_data_frame(digits):
    pd = pytest.importorskip("pandas")
    X = digits[0][:100]
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    imputer = AutoencoderImputer(epochs=2, random_state=0).fit(frame)
    assert list(imputer.feature_names_in_) == list(frame.columns)
    assert list(imputer.get_feature_names_out()) == list(frame.columns)
    codes = AutoencoderTransformer(layers=(8, 3, 8), epochs=2, random_state=0).set_output(
        transform="pandas").fit_transform(frame)
    assert list(codes.columns) == [f"autoencodertransformer{i}" for i in range(3)]


# ---- what each estimator does ----

def test_outlier_detector_flags_what_it_was_not_trained_on(digits):
    X, y = digits
    ones = X[y == 1]
    sevens = X[y == 7][:20]
    det = AutoencoderOutlierDetector(contamination=0.05, layers=(32, 4, 32), epochs=150,
                                     random_state=0).fit(ones)
    assert det.threshold_ == -det.offset_
    np.testing.assert_allclose(det.score_samples(ones), -det.model_.reconstruction_error(ones))
    assert np.mean(det.predict(ones) == -1) == pytest.approx(0.05, abs=0.01)
    assert np.mean(det.predict(sevens) == -1) >= 0.9
    np.testing.assert_array_equal(clone(det).fit_predict(ones), det.predict(ones))


def test_imputer_keeps_observed_cells_and_beats_the_column_means(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    missing = rng.random(X.shape) < 0.2
    X_missing = np.where(missing, np.nan, X)
    imputer = AutoencoderImputer(epochs=60, random_state=0)
    filled = imputer.fit_transform(X_missing)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~missing], X[~missing])  # observed cells: exactly
    rmse = np.sqrt(np.mean((filled[missing] - X[missing]) ** 2))
    means = np.nanmean(X_missing, axis=0)
    rmse_mean = np.sqrt(np.mean((np.broadcast_to(means, X.shape)[missing] - X[missing]) ** 2))
    assert rmse < 0.7 * rmse_mean, (rmse, rmse_mean)
    # A marker other than NaN, and a Pipeline before a classifier
    zeros = AutoencoderImputer(missing_values=-1.0, epochs=5, random_state=0)
    np.testing.assert_array_equal(zeros.fit_transform(np.where(missing, -1.0, X))[~missing], X[~missing])
    pipe = make_pipeline(AutoencoderImputer(epochs=20, random_state=0), KNeighborsClassifier())
    assert pipe.fit(X_missing[:1200], y[:1200]).score(X_missing[1200:], y[1200:]) > 0.9


def test_imputer_ensemble_averages_the_fills_of_models_from_consecutive_seeds(digits):
    X = digits[0][:300]
    X_missing = np.where(np.random.default_rng(1).random(X.shape) < 0.2, np.nan, X)
    kwargs = dict(layers=(32, 16, 32), epochs=3)
    ensemble = AutoencoderImputer(n_models=3, random_state=5, **kwargs).fit(X_missing)
    singles = [AutoencoderImputer(random_state=5 + k, **kwargs).fit(X_missing) for k in range(3)]
    assert len(ensemble.models_) == 3 and ensemble.model_ is ensemble.models_[0]
    for model, single in zip(ensemble.models_, singles):
        np.testing.assert_array_equal(model.params, single.model_.params)
    assert ensemble.history_ == singles[0].history_
    expected = np.mean([s.transform(X_missing) for s in singles], axis=0)
    np.testing.assert_allclose(ensemble.transform(X_missing), expected, rtol=0, atol=1e-12)


# ---- reconstruction_error ----

@pytest.mark.parametrize("loss, output", [("mse", "linear"), ("bce", "logistic"), ("mse", "logistic")])
def test_reconstruction_error_per_sample_averages_to_the_loss(digits, loss, output):
    X = digits[0][:300]
    ae = Autoencoder([64, 16, 4, 16, 64], output_activation=output, loss=loss, seed=0, dtype="float64")
    ae.fit(X, epochs=3)
    errors = ae.reconstruction_error(X)
    assert errors.shape == (300,) and errors.dtype == np.float64
    assert errors.mean() == pytest.approx(ae.evaluate(X), rel=1e-10)
    assert ae.reconstruction_error(X, per_sample=False) == pytest.approx(errors.mean(), rel=1e-14)
    one = ae.reconstruction_error(X[5:6])
    assert one[0] == pytest.approx(errors[5], rel=1e-12)
    with pytest.raises(TypeError, match="per_sample: expected True or False, got 'yes'"):
        ae.reconstruction_error(X, per_sample="yes")
    with pytest.raises(ValueError, match="expected 64 columns"):
        ae.reconstruction_error(X[:, :10])


def test_vae_reconstruction_error_is_its_reconstruction_term_through_the_mean(digits):
    X = digits[0][:100]
    vae = VAE(encoder=[64, 32], latent_dim=2, seed=0, dtype="float64")
    vae.fit(X, epochs=2)
    out = np.clip(vae.reconstruct(X), 1e-7, 1 - 1e-7)
    want = -(X * np.log(out) + (1 - X) * np.log(1 - out)).sum(axis=1)
    np.testing.assert_allclose(vae.reconstruction_error(X), want, rtol=1e-12)
    assert vae.reconstruction_error(X, per_sample=False) == pytest.approx(want.mean())


# ---- a linear autoencoder spans the principal subspace (Baldi and Hornik, 1989) ----

def principal_angles_degrees(A, B):
    """The principal angles between the column spaces of A and B, in degrees."""
    Qa, Qb = np.linalg.qr(A)[0], np.linalg.qr(B)[0]
    cosines = np.clip(np.linalg.svd(Qa.T @ Qb, compute_uv=False), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))


def test_linear_autoencoder_spans_the_principal_subspace():
    from sklearn.decomposition import PCA
    rng = np.random.default_rng(0)
    # 3 strong directions (variances 9, 4, 2.25) and a weaker 5-D noise floor (0.01)
    basis = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    X = rng.standard_normal((600, 8)) * np.array([3, 2, 1.5, .1, .1, .1, .1, .1]) @ basis.T + 5.0
    Xc = X - X.mean(axis=0)
    k = 3
    est = AutoencoderTransformer(layers=(k,), activation="linear", latent_activation="linear",
                                 output_activation="linear", loss="mse", epochs=300,
                                 learning_rate=0.01, random_state=0).fit(Xc)
    W_dec = est.model_.weights[-1][0]                      # (8, k): the decoder's columns
    pcs = PCA(k).fit(Xc).components_.T                     # (8, k)
    angles = principal_angles_degrees(W_dec, pcs)
    assert angles.max() < 1.0, angles
    # ... while the top-k subspace of a different k is not what it spans
    assert principal_angles_degrees(W_dec, PCA(4).fit(Xc).components_.T[:, 1:]).max() > 45
