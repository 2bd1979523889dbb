"""scikit-learn estimators on top of the package's autoencoders (as scikeras wraps Keras).

    from sklearn.pipeline import make_pipeline
    from sklearn.neighbors import KNeighborsClassifier
    from sia_autoencoder.sklearn import AutoencoderTransformer
    knn = make_pipeline(AutoencoderTransformer(layers=(128, 8, 128), epochs=200, random_state=0),
                        KNeighborsClassifier()).fit(X_train, y_train)

- :class:`AutoencoderTransformer`: ``transform`` gives the codes, ``inverse_transform`` decodes.
- :class:`AutoencoderOutlierDetector`: the reconstruction error as an anomaly score.
- :class:`AutoencoderImputer`: fills missing cells, trained with masking noise.

They follow the estimator contract to the letter: parameters are stored as given and checked in
``fit``; ``clone``, ``get_params``/``set_params``, ``Pipeline``, ``ColumnTransformer``,
``GridSearchCV`` and feature names work; all pass ``sklearn.utils.estimator_checks.check_estimator``.
``Autoencoder.fit`` itself stays Keras-like (it returns a History). This module imports
scikit-learn (>= 1.6); the rest of the package never does.

Every estimator builds an :class:`~sia_autoencoder.Autoencoder` of widths
``[n_features, *layers, n_features]`` in ``fit`` (the fitted model is ``model_``), with the
model's arguments passed through, and ``random_state`` as its seed.
"""
import copy
import numbers

import numpy as np

try:
    from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, OneToOneFeatureMixin,
                              OutlierMixin, TransformerMixin)
    from sklearn.utils.validation import check_array, check_is_fitted, check_random_state, validate_data
except ImportError as exc:  # not installed, or older than 1.6 (no validate_data, no Tags)
    raise ImportError("sia_autoencoder.sklearn needs scikit-learn >= 1.6, an optional dependency: "
                      "pip install 'scikit-learn>=1.6'") from exc

from .autoencoder import Autoencoder
from ._validate import as_float, as_int

__all__ = ["AutoencoderTransformer", "AutoencoderOutlierDetector", "AutoencoderImputer"]

_FLOATS = [np.float64, np.float32]

_MODEL_DOC = """layers : int or sequence of int, default=(32, 8, 32)
        The inner widths, from the first hidden layer to the last; the model's widths are
        ``[n_features, *layers, n_features]`` and the narrowest is the code.
    activation, latent_activation, output_activation, loss, optimizer, learning_rate, threads,
    latent_index
        As for :class:`~sia_autoencoder.Autoencoder`. The defaults suit real-valued features
        (standardize them first): tanh hidden layers, a linear code, a linear output and the
        squared error. For data in [0, 1], ``output_activation='logistic', loss='bce'``.
    epochs : int, default=100
    batch_size : int, None, 'online' or 'batch', default=32
        Capped at the number of samples.
    shuffle : bool, default=True
    noise, noise_level
        Denoising, as in :meth:`Autoencoder.fit`: the inputs of every batch are corrupted.
    callbacks : list, optional
        Callbacks for :meth:`Autoencoder.fit` (copied at each ``fit``), e.g. ``EarlyStopping``.
    dtype : 'float32', 'float64' or None, default=None
        The model's; None follows ``X`` (float32 stays float32, anything else is float64).
    random_state : int, RandomState or None
        The model's seed (an int is used as is). Fixed, it makes ``fit`` deterministic.
    verbose : 0, 1 or 2"""


_IMPUTER_MODEL_DOC = _MODEL_DOC.replace("default=(32, 8, 32)", "default=(256, 128, 256)").replace(
    """    noise, noise_level
        Denoising, as in :meth:`Autoencoder.fit`: the inputs of every batch are corrupted.
    callbacks : list, optional
        Callbacks for :meth:`Autoencoder.fit` (copied at each ``fit``), e.g. ``EarlyStopping``.
""", "")


class _AutoencoderEstimator(BaseEstimator):
    """The parameters, the model and its training, shared by the three estimators."""

    def __init__(self, layers=(32, 8, 32), *, activation="tanh", latent_activation="linear",
                 output_activation="linear", loss="mse", optimizer="adam", learning_rate=None,
                 epochs=100, batch_size=32, shuffle=True, noise=None, noise_level=0.0, callbacks=None,
                 dtype=None, threads=1, latent_index=None, random_state=None, verbose=0):
        self.layers = layers
        self.activation = activation
        self.latent_activation = latent_activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.noise = noise
        self.noise_level = noise_level
        self.callbacks = callbacks
        self.dtype = dtype
        self.threads = threads
        self.latent_index = latent_index
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # unsupervised: y is accepted and ignored
        return tags

    # ---- building and training the model ----
    def _seed(self):
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool) and 0 <= rs < 2 ** 63:
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _model_dtype(self, X):
        if self.dtype is None:
            return np.float32 if X.dtype == np.float32 else np.float64
        return self.dtype

    def _build(self, n_features, X, first_narrowest=False, seed=None):
        layers = self.layers
        if isinstance(layers, numbers.Integral) and not isinstance(layers, bool):
            layers = [layers]
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
            raise ValueError(f"layers: expected the inner widths, e.g. (32, 8, 32), got {layers!r}")
        optimizer = self.optimizer if isinstance(self.optimizer, str) else copy.deepcopy(self.optimizer)
        latent_index = self.latent_index
        if latent_index is None and first_narrowest:
            widths = [int(w) if isinstance(w, numbers.Integral) else w for w in layers]
            if all(isinstance(w, int) for w in widths):
                latent_index = 1 + widths.index(min(widths))
        return Autoencoder([n_features, *layers, n_features], activation=self.activation,
                           latent_activation=self.latent_activation,
                           output_activation=self.output_activation, loss=self.loss,
                           optimizer=optimizer, learning_rate=self.learning_rate,
                           seed=self._seed() if seed is None else seed,
                           dtype=self._model_dtype(X), threads=self.threads,
                           latent_index=latent_index)

    def _fit_args(self, n):
        batch = self.batch_size
        if isinstance(batch, numbers.Integral) and not isinstance(batch, bool) and batch > n:
            batch = n
        return dict(batch_size=batch, shuffle=self.shuffle, verbose=self.verbose)

    def _train(self, X, Y=None):
        """Build ``model_`` for X and train it for ``epochs`` epochs (X -> Y, Y defaults to X)."""
        epochs = as_int(self.epochs, "epochs", 0)
        self.model_ = self._build(X.shape[1], X)
        history = self.model_.fit(X, Y, epochs=epochs, noise=self.noise, noise_level=self.noise_level,
                                  callbacks=copy.deepcopy(self.callbacks), **self._fit_args(X.shape[0]))
        self._record(history.history)

    def _record(self, records):
        self.history_ = {k: list(v) for k, v in records.items()}
        losses = self.history_.get("loss", [])
        self.n_epochs_ = len(losses)
        self.loss_ = float(losses[-1]) if losses else float("nan")

    def _check(self, X, **kwargs):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=_FLOATS, **kwargs)


class _ReconstructionScore:
    def score(self, X, y=None):
        """Minus the mean reconstruction loss of X (higher is better, as ``GridSearchCV`` wants).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : ignored

        Returns
        -------
        float
        """
        X = self._check(X)
        return -float(self.model_.reconstruction_error(X, per_sample=False))


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _ReconstructionScore,
                             _AutoencoderEstimator):
    __doc__ = f"""An autoencoder as a scikit-learn transformer: ``transform`` gives the codes.

    Dimensionality reduction, features for a classifier (``make_pipeline(AutoencoderTransformer(),
    KNeighborsClassifier())``: AEkNN), or unsupervised pre-training.

    Parameters
    ----------
    {_MODEL_DOC}

    Attributes
    ----------
    model_ : Autoencoder
        The fitted model.
    history_ : dict
        The per-epoch records of the training ('loss', ...).
    loss_ : float
        The last epoch's training loss.
    n_epochs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X has column names (a pandas DataFrame).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]  # dtype=None follows X
        return tags

    def fit(self, X, y=None):
        """Train the autoencoder on X (n_samples, n_features); y is ignored. Returns self."""
        X = validate_data(self, X, dtype=_FLOATS)
        self._train(X)
        return self

    @property
    def _n_features_out(self):
        return self.model_.latent_dim

    def transform(self, X):
        """The codes of X: (n_samples, the narrowest width of ``layers``)."""
        X = self._check(X)
        return self.model_.encode(X)

    def inverse_transform(self, X):
        """Decode codes X (n_samples, code width) back to (n_samples, n_features)."""
        check_is_fitted(self)
        X = check_array(X, dtype=_FLOATS)
        return self.model_.decode(X)


class AutoencoderOutlierDetector(OutlierMixin, _ReconstructionScore, _AutoencoderEstimator):
    __doc__ = f"""Anomaly detection by the reconstruction error: samples unlike the training
    data are reconstructed badly.

    Follows scikit-learn's detectors (``IsolationForest``): ``score_samples`` is minus the
    per-sample reconstruction error (the lower, the more abnormal), ``decision_function`` is
    ``score_samples - offset_`` (negative for outliers), ``predict`` gives -1 for outliers and
    +1 for inliers, and ``fit_predict`` both at once.

    Parameters
    ----------
    contamination : float in (0, 0.5], default=0.1
        The expected share of outliers in the training data: ``threshold_`` is the error that
        this share of the training samples exceeds.
    {_MODEL_DOC}

    Attributes
    ----------
    threshold_ : float
        The reconstruction error above which a sample is an outlier.
    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_``.
    model_, history_, loss_, n_epochs_, n_features_in_, feature_names_in_
        As for :class:`AutoencoderTransformer`.
    """

    def __init__(self, contamination=0.1, *, layers=(32, 8, 32), activation="tanh",
                 latent_activation="linear", output_activation="linear", loss="mse",
                 optimizer="adam", learning_rate=None, epochs=100, batch_size=32, shuffle=True,
                 noise=None, noise_level=0.0, callbacks=None, dtype=None, threads=1,
                 latent_index=None, random_state=None, verbose=0):
        super().__init__(layers, activation=activation, latent_activation=latent_activation,
                         output_activation=output_activation, loss=loss, optimizer=optimizer,
                         learning_rate=learning_rate, epochs=epochs, batch_size=batch_size,
                         shuffle=shuffle, noise=noise, noise_level=noise_level, callbacks=callbacks,
                         dtype=dtype, threads=threads, latent_index=latent_index,
                         random_state=random_state, verbose=verbose)
        self.contamination = contamination

    def fit(self, X, y=None):
        """Train on X (n_samples, n_features), mostly inliers, and set ``threshold_``; y is
        ignored. Returns self."""
        contamination = as_float(self.contamination, "contamination", 0.0, 0.5, low_open=True)
        X = validate_data(self, X, dtype=_FLOATS)
        self._train(X)
        scores = -self.model_.reconstruction_error(X)
        self.offset_ = float(np.percentile(scores, 100.0 * contamination))
        self.threshold_ = -self.offset_
        return self

    def score_samples(self, X):
        """Minus the reconstruction error of each sample (n_samples,): the lower, the more abnormal."""
        X = self._check(X)
        return -self.model_.reconstruction_error(X)

    def decision_function(self, X):
        """``score_samples(X) - offset_`` (n_samples,): negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """-1 for outliers (an error above ``threshold_``), +1 for inliers: (n_samples,) of int."""
        return np.where(self.decision_function(X) >= 0, 1, -1)


class AutoencoderImputer(OneToOneFeatureMixin, TransformerMixin, _AutoencoderEstimator):
    __doc__ = f"""Fills missing values with an autoencoder trained to restore masked cells.

    ``fit`` standardizes each column on its observed values and fills the missing cells with the
    column mean (0 after standardizing). Every epoch, a fresh ``mask_rate`` share of the cells is
    hidden the same way (masking noise) and the network learns to restore the hidden observed
    cells from the others: the loss counts those cells only (every other target is the
    network's own prediction at the start of the epoch, which adds no gradient), so the missing
    cells never act as data. ``transform`` fills the missing cells with the means, then replaces
    them ``n_iter`` times by their reconstruction; every observed value is kept exactly. With
    ``n_models`` > 1, that many autoencoders are trained from consecutive seeds and their fills
    are averaged: each model's own errors partly cancel (an ensemble).

    Parameters
    ----------
    missing_values : float or np.nan, default=np.nan
        The marker of a missing cell.
    mask_rate : float in (0, 1), default=0.2
        The share of cells hidden in each epoch of training: the cells it learns from.
    n_iter : int >= 1, default=3
        Reconstructions of the missing cells in ``transform``.
    n_models : int >= 1, default=1
        Autoencoders trained (seeds ``s, s + 1, ...`` from ``random_state``'s seed ``s``) whose
        fills are averaged. Training and ``transform`` take ``n_models`` times as long.
    standardize : bool, default=True
        Divide each column by its standard deviation (it is always centered on its mean). False
        suits features on one common scale, such as pixels, where a nearly constant column
        would otherwise be blown up.
    {_IMPUTER_MODEL_DOC}

    Attributes
    ----------
    mean_, scale_ : ndarray (n_features,)
        The observed values' mean and standard deviation of each column (0 and 1 for a column
        with none).
    models_ : list of Autoencoder
        The ``n_models`` fitted models; ``model_`` is the first, and ``history_``, ``loss_``,
        ``n_epochs_`` are its records.
    model_, history_, loss_, n_epochs_, n_features_in_, feature_names_in_
        As for :class:`AutoencoderTransformer`.
    """

    def __init__(self, missing_values=np.nan, *, mask_rate=0.2, n_iter=3, n_models=1, standardize=True,
                 layers=(256, 128, 256),
                 activation="tanh", latent_activation="linear", output_activation="linear",
                 loss="mse", optimizer="adam", learning_rate=None, epochs=100, batch_size=32,
                 shuffle=True, dtype=None, threads=1, latent_index=None, random_state=None, verbose=0):
        # Not the base's __init__: the imputer's noise is its masking, trained one epoch per
        # call, so it has no noise, noise_level or callbacks parameters.
        self.missing_values = missing_values
        self.mask_rate = mask_rate
        self.n_iter = n_iter
        self.n_models = n_models
        self.standardize = standardize
        self.layers = layers
        self.activation = activation
        self.latent_activation = latent_activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.dtype = dtype
        self.threads = threads
        self.latent_index = latent_index
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN marks the cells to fill
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _missing(self, X, reset):
        """X validated (NaN allowed when it is the marker) and its mask of missing cells."""
        marker = self.missing_values
        if isinstance(marker, bool) or not isinstance(marker, numbers.Real):
            raise ValueError(f"missing_values: expected np.nan or a number, got {marker!r}")
        nan = bool(np.isnan(marker))
        if not reset:
            check_is_fitted(self)
        X = validate_data(self, X, reset=reset, dtype=_FLOATS, ensure_all_finite="allow-nan" if nan else True)
        return X, (np.isnan(X) if nan else X == marker)

    def fit(self, X, y=None):
        """Train on X (n_samples, n_features) with its missing cells; y is ignored. Returns self."""
        mask_rate = as_float(self.mask_rate, "mask_rate")
        if not 0.0 < mask_rate < 1.0:
            raise ValueError(f"mask_rate: expected a number in (0, 1), got {mask_rate}")
        as_int(self.n_iter, "n_iter", 1)
        n_models = as_int(self.n_models, "n_models", 1)
        epochs = as_int(self.epochs, "epochs", 0)
        X, missing = self._missing(X, reset=True)
        observed = np.where(missing, np.nan, X).astype(np.float64)
        counts = (~missing).sum(axis=0)
        mean = np.divide(np.nansum(observed, axis=0), counts, out=np.zeros(X.shape[1]), where=counts > 0)
        var = np.divide(np.nansum((observed - mean) ** 2, axis=0), counts, out=np.zeros(X.shape[1]),
                        where=counts > 0)
        scale = np.sqrt(var)
        scale[~(scale > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0  # constant or empty column
        if not self.standardize:
            scale[:] = 1.0
        self.mean_, self.scale_ = mean, scale

        seed = self._seed()
        self.models_ = []
        for k in range(n_models):
            model = self._build(X.shape[1], X, first_narrowest=True, seed=seed + k)  # its code plays no part
            records = self._train_masked(model, self._standardized(X, missing, model.dtype), missing,
                                         mask_rate, epochs)
            self.models_.append(model)
            if k == 0:
                self.model_ = model
                self._record(records)
        return self

    def _train_masked(self, model, Z, missing, mask_rate, epochs):
        """Train ``model`` for ``epochs`` epochs to restore the cells of Z (n, d) hidden by fresh
        masking noise; returns its records."""
        rng = np.random.default_rng(model.seed_)
        args = self._fit_args(Z.shape[0])
        records = {}
        for _ in range(epochs):
            hide = rng.random(Z.shape) < mask_rate
            masked = Z.copy()
            masked[hide] = 0.0
            # The loss counts the hidden observed cells only: every other target is the current
            # prediction, which adds no gradient (as a masked autoencoder's loss).
            target = model.reconstruct(masked)
            learn = hide & ~missing
            target[learn] = Z[learn]
            history = model.fit(masked, target, epochs=1, **args)
            for k, v in history.history.items():
                records.setdefault(k, []).extend(v)
            if model.stop_training:
                break
        return records

    def _standardized(self, X, missing, dtype):
        Z = ((X - self.mean_) / self.scale_).astype(dtype)
        Z[missing] = 0.0
        return Z

    def transform(self, X):
        """X with its missing cells filled (n_samples, n_features); observed cells unchanged."""
        X, missing = self._missing(X, reset=False)
        out = X.copy()
        if not missing.any():
            return out
        fills = np.zeros(X.shape)
        for model in self.models_:
            Z = self._standardized(X, missing, model.dtype)
            for _ in range(self.n_iter):
                Z[missing] = model.reconstruct(Z)[missing]
            fills += Z.astype(np.float64)
        filled = fills / len(self.models_) * self.scale_ + self.mean_
        out[missing] = filled[missing]
        return out
