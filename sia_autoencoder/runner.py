"""Run an experiment config: load the data, build and train the model, write the figures,
``summary.json`` and the trained model (``model.npz``) into one folder.

    from sia_autoencoder.runner import run
    summary = run("my_experiment.json", "out/my_experiment", epochs=50)
"""
import json
import os
import platform
import time

import numpy as np

from .config import BUILTIN_DATASETS, ConfigError, load_config

__all__ = ["run", "load_dataset", "build_model", "check_against_data"]


# ---------------------------------------------------------------------------------------------
# Data


def load_dataset(cfg):
    """(X (n, d) float64, labels (list of n str), image shape (rows, cols)) for the config's
    dataset; a bad file raises :class:`ConfigError` at the ``dataset`` key."""
    where = cfg.path("dataset")
    name = cfg.dataset
    if name == "font":
        from .datasets import FONT_SHAPE, load_font
        X, labels = load_font()
        shape = FONT_SHAPE
    elif name == "emojis":
        from . import datasets
        if hasattr(datasets, "load_emojis"):
            X, labels = datasets.load_emojis()
        else:
            from ._emojis import load_emojis
            X, labels = load_emojis()
        from ._emojis import EMOJI_SHAPE
        shape = EMOJI_SHAPE
    elif name == "digits":
        from . import datasets
        if not hasattr(datasets, "load_digits"):
            raise ConfigError([f"{where}: 'digits' is not available in this version"], cfg.source)
        try:
            X, y = datasets.load_digits()[:2]
        except ImportError as exc:
            raise ConfigError([f"{where}: 'digits' needs scikit-learn "
                               f"(pip install 'sia_autoencoder[digits]'): {exc}"], cfg.source) from None
        labels = [str(int(v)) for v in np.asarray(y).ravel()]
        shape = (8, 8)
    else:
        X = _read_matrix(name, where, cfg.source)
        labels = [str(i) for i in range(X.shape[0])]
        shape = None
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    if cfg.image_shape is not None:
        shape = tuple(cfg.image_shape)
        if shape[0] * shape[1] != X.shape[1]:
            raise ConfigError([f"{cfg.path('image_shape')}: {list(shape)} makes "
                               f"{shape[0] * shape[1]} pixels, but the dataset has {X.shape[1]} "
                               f"columns"], cfg.source)
    elif shape is None:
        side = int(round(np.sqrt(X.shape[1])))
        shape = (side, side) if side * side == X.shape[1] else (1, X.shape[1])
    return X, labels, tuple(shape)


def _read_matrix(path, where, source):
    def bad(msg):
        return ConfigError([f"{where}: {path!r}: {msg}"], source)
    if not os.path.isfile(path):
        raise bad("no such file")
    try:
        if path.lower().endswith(".npy"):
            X = _read_npy(path, bad)
        else:
            X = _read_csv(path)
    except (ValueError, OSError, EOFError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise bad(f"could not be read as a numeric matrix ({exc})") from None
    if X.dtype.kind not in "biuf":
        raise bad(f"expected numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise bad(f"expected a 2-D array (samples, features), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise bad(f"expected at least one sample and one feature, got shape {X.shape}")
    finite = np.isfinite(X)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        raise bad(f"expected finite values, got {X[r, c]} at row {r}, column {c}")
    return X


def _read_npy(path, bad):
    """A .npy matrix, its header checked against the file's size before anything is allocated
    (a tiny file may declare 745 GiB)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject:
            raise bad(f"expected numbers, got dtype {dtype}")
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        have = os.fstat(f.fileno()).st_size - f.tell()
        if need != have:
            raise bad(f"its header declares shape {tuple(shape)} ({need} bytes), but the file "
                      f"holds {have} bytes of data")
    return np.load(path, allow_pickle=False)


def _read_csv(path):
    """A CSV matrix of numbers. A first line that is not all numbers is a header and is
    skipped; a UTF-8 byte-order mark is dropped; every row must have as many values as the
    first data row (a ragged row is refused, naming its line: ValueError)."""
    with open(path, encoding="utf-8-sig") as f:   # -sig: drops a byte-order mark
        lines = f.read().splitlines()
    rows, width, first = [], None, True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        try:
            row = [float(c) for c in cells]
        except ValueError:
            if first and rows == []:   # a header: names, not numbers
                first = False
                continue
            bad_cell = next(c for c in cells if not _is_number(c))
            raise ValueError(f"line {number}: {bad_cell.strip()!r} is not a number") from None
        first = False
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(f"line {number}: expected {width} values (as the first data row), "
                             f"got {len(row)}")
        rows.append(row)
    if not rows:
        raise ValueError("no rows of numbers")
    return np.array(rows, dtype=np.float64)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_against_data(cfg, X):
    """The checks that need the data: batch size, and values in [0, 1] for BCE."""
    errors = []
    n = X.shape[0]
    if cfg.updater == "MINI-BATCH" and cfg.batch_size > n:
        errors.append(f"{cfg.path('batch_size')}: {cfg.batch_size} is more than the {n} samples "
                      f"of the dataset {cfg.dataset!r}")
    lo, hi = float(X.min()), float(X.max())
    if cfg.loss == "BCE" and (lo < 0 or hi > 1):
        errors.append(f"{cfg.path('loss')}: BCE needs data in [0, 1], but the dataset "
                      f"{cfg.dataset!r} has values in [{lo:g}, {hi:g}]; use MSE or rescale the data")
    if errors:
        raise ConfigError(errors, cfg.source)


# ---------------------------------------------------------------------------------------------
# Model


def _optimizer(cfg):
    from . import optimizers as o
    wd = cfg.weight_decay
    if cfg.optimizer in ("ADAM", "ADAMW", "NADAM"):
        cls = {"ADAM": o.Adam, "ADAMW": o.AdamW, "NADAM": o.Nadam}[cfg.optimizer]
        return cls(cfg.learning_rate, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.epsilon, weight_decay=wd)
    if cfg.optimizer == "RMSPROP":
        return o.RMSprop(cfg.learning_rate, rho=cfg.rho, eps=cfg.epsilon, weight_decay=wd)
    if cfg.optimizer == "ADADELTA":
        return o.Adadelta(cfg.learning_rate, rho=cfg.rho, eps=cfg.epsilon, weight_decay=wd)
    if cfg.optimizer == "MOMENTUM":
        return o.Momentum(cfg.learning_rate, momentum=cfg.alpha, weight_decay=wd)
    return o.GradientDescent(cfg.learning_rate, weight_decay=wd)


def build_model(cfg, n_features):
    """The untrained model the config describes, for data of ``n_features`` columns."""
    common = dict(loss=cfg.loss.lower(), optimizer=_optimizer(cfg), seed=cfg.seed,
                  dtype=cfg.dtype, threads=cfg.threads)
    if cfg.problem == "VARIATIONAL":
        from .vae import VAE
        acts = cfg.activations()
        hidden = [l.units for l in cfg.encoder]
        decoder = [l.units for l in cfg.decoder_layers]
        return VAE(encoder=[n_features] + hidden, latent_dim=cfg.latent.units,
                   decoder=decoder + [n_features],
                   activation=_vae_activation(cfg), output_activation=acts[-1],
                   beta=cfg.vae_beta, kl_warmup_epochs=cfg.kl_warmup_epochs, **common)
    kw = dict(activation=[list(a) for a in cfg.activations()], latent_index=len(cfg.encoder) + 1,
              **common)
    if cfg.problem == "DENOISING":
        from .denoising import DenoisingAutoencoder
        return DenoisingAutoencoder(cfg.layer_sizes(n_features), noise=cfg.noise.lower(),
                                    noise_level=cfg.noise_level, **kw)
    from .autoencoder import Autoencoder
    return Autoencoder(cfg.layer_sizes(n_features), **kw)


def _vae_activation(cfg):
    hidden = cfg.encoder + cfg.decoder_layers
    acts = {(l.activation.lower(), l.beta) for l in hidden}
    if len(acts) > 1:
        raise ConfigError([f"{cfg.path('encoder')}: a VARIATIONAL model takes one activation for "
                           f"all its hidden layers, got {sorted(acts)}"], cfg.source)
    return list(acts.pop()) if acts else "tanh"


def _fit_kwargs(cfg, verbose):
    from .callbacks import EarlyStopping, LossThreshold, PixelErrorStop
    callbacks = []
    if cfg.max_wrong_pixels is not None:
        callbacks.append(PixelErrorStop(cfg.max_wrong_pixels))
    if cfg.loss_below is not None:
        callbacks.append(LossThreshold(cfg.loss_below))
    if cfg.patience is not None:
        callbacks.append(EarlyStopping(monitor="loss", patience=cfg.patience, min_delta=cfg.min_delta))
    batch = {"ONLINE": "online", "BATCH": None}.get(cfg.updater, cfg.batch_size)
    kw = dict(epochs=cfg.epochs, batch_size=batch, callbacks=callbacks, verbose=verbose)
    return kw   # a DenoisingAutoencoder trains on its own noise


# ---------------------------------------------------------------------------------------------
# Figures


def _reconstruct(model, X):
    return model.reconstruct(X)


def _wrong_pixels(model, X, target=None):
    R = _reconstruct(model, X)
    T = X if target is None else target
    return ((R >= 0.5) != (T >= 0.5)).sum(axis=1)


def _is_binary(X):
    return bool(np.isin(X, (0.0, 1.0)).all())


def _figures(cfg, model, X, labels, shape, history, out_dir, extra):
    """Write the config's figures; returns ({name: path}, {name: reason skipped})."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from . import plots

    written, skipped = {}, {}
    show = slice(0, min(len(X), 32))
    latent_2d = cfg.latent.units == 2
    Z = model.encode(X)
    rng = np.random.default_rng(cfg.seed)
    few_labels = labels if len(labels) <= 64 else None

    def draw(name):
        if name == "loss":
            return plots.plot_history(history, title=f"Training loss ({cfg.name or cfg.problem})")
        if name == "latent":
            return plots.plot_latent(model, X, few_labels)
        if name == "reconstructions":
            return plots.plot_reconstructions(model, X[show], labels[show], shape=shape)
        if name == "samples":
            if hasattr(model, "sample"):
                images = model.sample(16, seed=cfg.seed)
                title = "New samples from the prior N(0, I)"
            else:
                Zs, title = near_codes(Z, 16, rng)
                images = model.decode(Zs)
            return plots.show_images(images, shape, ncols=8, suptitle=title)
        if name == "latent_grid":
            low, high = grid_window(Z, prior=hasattr(model, "sample"))
            return plots.plot_latent_grid(model, 15, low, high, shape=shape)
        if name == "interpolation":
            a, b = (labels.index("a"), labels.index("z")) if {"a", "z"} <= set(labels) else (0, len(X) - 1)
            return plots.plot_interpolation(model, X[a], X[b], 10, shape=shape,
                                            labels=(labels[a], labels[b]))
        if name == "denoising":
            if not hasattr(plots, "plot_denoising"):
                raise _Skip("plots.plot_denoising is not available in this version")
            return _plot_denoising(plots, model, X[show], labels[show], shape, cfg)
        if name == "noise_study":
            if not hasattr(plots, "plot_noise_study"):
                raise _Skip("plots.plot_noise_study is not available in this version")
            return plots.plot_noise_study(extra["noise_study"])
        raise AssertionError(name)

    for name in cfg.plot_list():
        if name in ("latent", "latent_grid") and not latent_2d:
            skipped[name] = f"needs a 2-D latent space (this one has {cfg.latent.units} dimensions)"
            continue
        try:
            fig = draw(name)
        except _Skip as exc:
            skipped[name] = str(exc)
            continue
        path = os.path.join(out_dir, name + ".png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written[name] = path
    return written, skipped


class _Skip(Exception):
    pass


JITTER = 0.05   # near_codes: the noise added to a mix of two codes, in units of the codes' spread


def near_codes(Z, n, rng):
    """``n`` latent points where a plain autoencoder decodes something readable: each on the
    segment between two random codes of Z (n_codes, k), at a uniform position, then moved by
    Gaussian noise of JITTER times the codes' standard deviation per axis. (The codes' bounding
    box is mostly empty space, which decodes to blobs.) Returns (points (n, k), a title that
    says how they were drawn)."""
    Z = np.asarray(Z, dtype=float)
    a = rng.integers(0, len(Z), n)
    b = (a + rng.integers(1, max(len(Z), 2), n)) % len(Z)     # another code, when there is one
    t = rng.random((n, 1))
    spread = Z.std(axis=0) if len(Z) > 1 else np.ones(Z.shape[1])
    points = (1 - t) * Z[a] + t * Z[b] + rng.normal(size=(n, Z.shape[1])) * (JITTER * spread)
    title = (f"New samples: latent points between two random codes, "
             f"moved by {JITTER:.0%} of the codes' spread")
    return points, title


def grid_window(Z, prior=False):
    """(low, high) per axis of the latent grid: the codes' range with a 10% margin; for a VAE
    (``prior``) also the prior's bulk [-2.5, 2.5], so that the grid covers both."""
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    margin = 0.1 * np.maximum(hi - lo, 1e-6)
    lo, hi = lo - margin, hi + margin
    if prior:
        lo, hi = np.minimum(lo, -2.5), np.maximum(hi, 2.5)
    return lo, hi


def _plot_denoising(plots, model, X, labels, shape, cfg):
    from .noise import apply
    noisy = apply(X, cfg.noise.lower(), cfg.noise_level, np.random.default_rng(cfg.seed))
    return plots.plot_denoising(model, X, noisy, labels=labels, shape=shape)


def _noise_study(cfg, model, X, extra):
    """Score the trained model (no further training) against the optimal decoder, and against
    the letters autoencoder on the font, at every study level, on the same noisy draws."""
    import pickle
    from .denoising import noise_study
    frozen = pickle.loads(pickle.dumps(model))   # the study must not touch the run's model
    study = noise_study(X, model=lambda seed: frozen, noise_types=[cfg.noise.lower()],
                        levels=cfg.noise_study_levels, seeds=[cfg.seed], draws=20, epochs=0,
                        train_levels=[cfg.noise_level],
                        plain="letters" if cfg.dataset == "font" else None, seed=cfg.seed)
    extra["noise_study"] = study
    return study


# ---------------------------------------------------------------------------------------------
# The run


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def run(config=None, out_dir=None, epochs=None, seed=None, verbose=1, print_fn=print):
    """Run an experiment and write its outputs; returns the summary (also in summary.json).

    Parameters
    ----------
    config : path, bundled name, dict or ExperimentConfig; None runs the default (letters)
    out_dir : folder for the outputs (default: out/<config name>); created if needed
    epochs, seed : override the config's values
    verbose : 0 silent, 1 progress bar on a terminal or a line every few epochs otherwise
    print_fn : where the closing report goes (None: nowhere)

    The config and the data are fully checked before anything is trained or written:
    a bad config raises :class:`~sia_autoencoder.config.ConfigError`.
    """
    from . import __version__
    from .config import DEFAULT_CONFIG
    t_start = time.perf_counter()
    cfg = load_config(DEFAULT_CONFIG if config is None else config)
    overrides = {}
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs: expected an integer >= 0, got {epochs!r}")
        overrides["epochs"] = epochs
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
        overrides["seed"] = seed
    cfg = cfg.replace(**overrides)
    name = cfg.name or "experiment"
    out_dir = os.path.join("out", name) if out_dir is None else os.fspath(out_dir)

    X, labels, shape = load_dataset(cfg)
    check_against_data(cfg, X)
    model = build_model(cfg, X.shape[1])
    fit_kwargs = _fit_kwargs(cfg, verbose)
    os.makedirs(out_dir, exist_ok=True)

    if verbose and print_fn:
        print_fn(f"{name}: {cfg.problem.lower()} {type(model).__name__} on {cfg.dataset} "
                 f"({X.shape[0]}×{X.shape[1]}), up to {cfg.epochs} epochs")
    t0 = time.perf_counter()
    history = model.fit(X, **fit_kwargs)
    train_seconds = time.perf_counter() - t0

    from .io import save
    model_path = save(model, os.path.join(out_dir, "model.npz"))
    extra = {}
    if cfg.problem == "DENOISING":
        _noise_study(cfg, model, X, extra)
    figures, skipped = _figures(cfg, model, X, labels, shape, history, out_dir, extra)

    summary = {"name": name, "problem": cfg.problem,
               "dataset": {"name": cfg.dataset, "samples": int(X.shape[0]),
                           "features": int(X.shape[1]), "image_shape": list(shape)},
               "model": {"class": type(model).__name__, "file": os.path.basename(model_path),
                         "parameters": int(np.asarray(model.params).size),
                         "config": model.get_config()},
               "epochs_run": len(history), "stopped_by": history.stopped_by,
               "final_loss": {k: v[-1] for k, v in history.history.items() if v}}
    if _is_binary(X):
        errs = _wrong_pixels(model, X)
        learned = int((errs <= 1).sum())
        what = "letters" if cfg.dataset == "font" else "samples"
        summary[f"{what}_learned"] = learned
        summary[f"{what}_total"] = int(len(X))
        summary["max_wrong_pixels"] = int(errs.max())
        summary["wrong_pixels"] = {label: int(e) for label, e in zip(labels, errs)} \
            if len(labels) <= 64 else None
        if cfg.problem == "DENOISING":
            from .noise import apply
            noisy = apply(X, cfg.noise.lower(), cfg.noise_level, np.random.default_rng(cfg.seed))
            summary["denoised_wrong_pixels_mean"] = float(_wrong_pixels(model, noisy, X).mean())
    if "noise_study" in extra:
        summary["noise_study"] = extra["noise_study"].records
    summary.update({"figures": sorted(os.path.basename(p) for p in figures.values()),
                    "skipped_figures": skipped,
                    "train_seconds": round(train_seconds, 4),
                    "wall_time_s": round(time.perf_counter() - t_start, 4),
                    "package_version": __version__,
                    "python": platform.python_version(), "numpy": np.__version__,
                    "config_source": cfg.source, "overrides": overrides,
                    "config": cfg.to_dict()})
    summary = _jsonable(summary)
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
        f.write("\n")

    if print_fn:
        lines = []
        if "letters_learned" in summary:
            wrong = ", ".join(f"{k}:{v}" for k, v in summary["wrong_pixels"].items() if v) or "none"
            lines.append(f"letters learned (<= 1 wrong pixel): {summary['letters_learned']}/"
                         f"{summary['letters_total']}; wrong pixels per character: {wrong}")
        losses = ", ".join(f"{k} {v:.5g}" for k, v in summary["final_loss"].items())
        lines.append(f"{summary['epochs_run']} epochs in {train_seconds:.2f} s"
                     + (f" (stopped by {history.stopped_by})" if history.stopped_by else "")
                     + (f"; final {losses}" if losses else ""))
        for fig, why in skipped.items():
            lines.append(f"skipped {fig}.png: {why}")
        lines.append(f"figures, summary.json and model.npz written to {out_dir}/")
        if verbose:
            print_fn("\n".join(lines))
    return summary
