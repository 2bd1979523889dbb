"""Denoising autoencoders, the optimal decoder they are measured against, and the noise study.

    from sia_autoencoder import datasets
    from sia_autoencoder.denoising import (DenoisingAutoencoder, FIT, RECIPE, TRAIN_LEVELS,
                                          noise_study, optimal_decode)
    X, labels = datasets.load_font()
    dae = DenoisingAutoencoder(**RECIPE, noise="bit_flip", noise_level=TRAIN_LEVELS, seed=0)
    dae.fit(X, **FIT)
    clean = dae.denoise(noisy, steps=5)            # noisy: (n, 35), e.g. noise.bit_flip(X, 0.2, 0)
    study = noise_study(X, seeds=(0, 1), draws=50)
    print(study)

The bound on every denoiser is the maximum-likelihood choice among the known clean characters
(:func:`optimal_decode`); :func:`noise_study` reports the denoising autoencoder, a plain one and
that bound on the same noisy draws.
"""
import math
import time

import numpy as np

from .autoencoder import DEFAULT_BATCH, NOISE_KINDS, Autoencoder
from ._training import fit_loop, split_callbacks, watch_collapse
from ._validate import INT64_MAX, as_float, as_int, as_matrix, check_optimizer
from .callbacks import PixelErrorStop
from .noise import NOISE_TYPES, apply as apply_noise, as_generator, parse_noise

__all__ = ["DenoisingAutoencoder", "optimal_decode", "log_likelihood", "noise_study",
           "NoiseStudy", "RECIPE", "FIT", "TRAIN_LEVELS", "DEFAULT_LEVELS"]

#: The denoising recipe (constructor arguments): three wide ReLU layers learn the posterior
#: mean of every pixel; the logistic output and BCE make it a probability. (With three equal
#: hidden layers there is no bottleneck; ``latent_index`` only names the first as the code.)
RECIPE = dict(layers=[35, 256, 256, 256, 35], activation="relu", latent_activation="relu",
              output_activation="logistic", loss="bce", optimizer="adam", learning_rate=2e-3,
              latent_index=1, threads=1)
#: How the recipe is trained: ``fit(X, **FIT)``: ``repeat`` freshly corrupted copies of each
#: character per epoch, mini-batches of 32, the learning rate decaying 20-fold over the run.
FIT = dict(epochs=10000, batch_size=32, repeat=4, lr_decay=0.05)
#: The noise levels one recipe model is trained on (cycled epoch by epoch).
TRAIN_LEVELS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
#: The levels of a default study: 0, 0.05, ..., 0.5.
DEFAULT_LEVELS = tuple(round(0.05 * i, 2) for i in range(11))
#: How many times a denoiser is applied to its own output by default (see ``denoise``).
DENOISE_STEPS = 5


# ---------------------------------------------------------------------------------------------
# The denoising autoencoder
# ---------------------------------------------------------------------------------------------

def _as_levels(level, noise, name="noise_level"):
    """A tuple of levels: one float, or a non-empty sequence of them (a mix)."""
    high = None if noise == "gaussian" else 1.0
    if isinstance(level, (list, tuple, np.ndarray)):
        if len(level) == 0:
            raise ValueError(f"{name}: expected a level or a non-empty list of levels, got []")
        return tuple(as_float(v, f"{name}[{i}]", 0.0, high) for i, v in enumerate(level))
    return (as_float(level, name, 0.0, high),)


class DenoisingAutoencoder(Autoencoder):
    """An :class:`~sia_autoencoder.Autoencoder` trained noisy in, clean out.

    Every batch is corrupted in C as it is drawn, so the noise is fresh every epoch (never one
    fixed noisy copy). Any architecture, optimizer and batch mode of the core works.

    Parameters
    ----------
    layers, **kwargs
        As for :class:`~sia_autoencoder.Autoencoder` (see :data:`RECIPE` for a good choice).
    noise : 'bit_flip', 'salt_and_pepper' or 'gaussian'
        The corruption used in training (see :mod:`sia_autoencoder.noise`).
    noise_level : float or sequence of float
        p for bit flip and salt-and-pepper, σ for Gaussian. A sequence trains on a mix of
        levels: epoch e uses ``noise_level[e % len(noise_level)]``.
    denoise_steps : int
        How many times :meth:`denoise` applies the network to its own output (default 1).
    """

    def __init__(self, layers=None, noise="bit_flip", noise_level=0.1, denoise_steps=1, **kwargs):
        super().__init__(layers, **kwargs)
        self.noise = parse_noise(noise)
        self.noise_level = _as_levels(noise_level, self.noise)
        self.denoise_steps = as_int(denoise_steps, "denoise_steps", 1)

    def fit(self, X, Y=None, epochs=1, batch_size=DEFAULT_BATCH, shuffle=True, validation_data=None,
            callbacks=None, verbose=0, noise=None, noise_level=None, repeat=1, lr_decay=None,
            validation_split=0.0):
        """Train on noisy X -> clean Y (Y defaults to X), with fresh noise every epoch.

        Parameters
        ----------
        X : array (n, layers[0]); Y : array (n, layers[-1]), optional
        epochs, batch_size, shuffle, validation_data, callbacks, verbose, validation_split
            As in :meth:`Autoencoder.fit`. ``PixelErrorStop`` checks the clean training data.
        noise, noise_level : optional
            Override the model's noise type and level (or mix of levels) for this call.
        repeat : int
            Each epoch sees ``repeat`` independently corrupted copies of every sample.
        lr_decay : float, optional
            Decay the learning rate geometrically to ``lr_decay`` times its value over these
            epochs: epoch e of E trains at ``optimizer.learning_rate * lr_decay ** (e / (E - 1))``
            (the optimizer's own rate is left as it is, and a callback may change it).

        Returns
        -------
        :class:`~sia_autoencoder.callbacks.History` with per-epoch 'loss' (and 'val_loss').
        """
        key = self.noise if noise is None else parse_noise(noise)
        levels = self.noise_level if noise_level is None else _as_levels(noise_level, key)
        X, Y, validation_data = self._fit_data(X, Y, validation_data, validation_split)
        validate = self._validator(validation_data, X, Y)
        repeat = as_int(repeat, "repeat", 1)
        decay = None if lr_decay is None else as_float(lr_decay, "lr_decay", 0.0, 1.0, low_open=True)
        if repeat > 1:
            X, Y = np.tile(X, (repeat, 1)), np.tile(Y, (repeat, 1))
        epochs = as_int(epochs, "epochs", 0, INT64_MAX)
        check_optimizer(self.optimizer, self.dtype)
        batch = self._batch_size(batch_size, X.shape[0])
        max_wrong, loss_tol, python_callbacks = split_callbacks(callbacks)
        code = NOISE_KINDS[key]
        # Per-epoch calls when the level or the learning rate changes from epoch to epoch.
        per_epoch = len(levels) > 1 or (decay is not None and decay != 1.0)
        # PixelErrorStop must look at the clean data once, not at every tiled copy: C checks X.
        span = max(epochs - 1, 1)
        base = self.epochs_trained_

        def run_chunk(records, start, count):
            steps = [(start + j, 1) for j in range(count)] if per_epoch else [(start, count)]
            done = 0
            for e, k in steps:
                lr = self.optimizer.learning_rate  # as it is now: callbacks may change it
                step_lr = lr * decay ** (e / span) if decay is not None else lr
                level = levels[(base + e) % len(levels)]
                got, status = self._train_in_c(X, Y, records["loss"][e:e + k], k, batch, shuffle,
                                               step_lr, code, level, max_wrong, loss_tol)
                done += got
                if status != 0:
                    return done, status
            return done, 0

        run_chunk = watch_collapse(self, X, run_chunk)
        return fit_loop(self, run_chunk, epochs, ["loss"], python_callbacks, validate, verbose)

    def denoise(self, X, steps=None):
        """Apply the network ``steps`` times (default ``denoise_steps``), each time to its own
        output: X (n, layers[0]) -> (n, layers[-1]) in [0, 1]. One step is ``reconstruct``.

        Repeated steps sharpen the output toward the nearest stored character: a network
        trained on a mix of levels reads its cleaner output as a less noisy input.
        """
        steps = self.denoise_steps if steps is None else as_int(steps, "steps", 1)
        out = self.reconstruct(X)
        for _ in range(steps - 1):
            out = self.reconstruct(out)
        return out

    def get_config(self):
        """The constructor arguments, JSON-ready (with the noise, its level(s) and steps)."""
        config = super().get_config()
        level = self.noise_level[0] if len(self.noise_level) == 1 else list(self.noise_level)
        config.update(noise=self.noise, noise_level=level, denoise_steps=self.denoise_steps)
        return config

    def __repr__(self):
        level = self.noise_level[0] if len(self.noise_level) == 1 else list(self.noise_level)
        arch = self.layers if self._spec["dense"] else f"{self.net.L} layers"
        return (f"DenoisingAutoencoder({arch}, noise={self.noise!r}, noise_level={level}, "
                f"loss={self.loss!r}, optimizer={type(self.optimizer).__name__}, "
                f"epochs_trained={self.epochs_trained_})")


# ---------------------------------------------------------------------------------------------
# The optimal decoder
# ---------------------------------------------------------------------------------------------

def _log_ndtr(z):
    """log Φ(z), elementwise, accurate in both tails (erfc below, its asymptotic series far out)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    far = z < -30.0
    near = ~far
    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    with np.errstate(divide="ignore"):
        out[near] = np.log(0.5 * erfc(-z[near] / math.sqrt(2.0)))
    zf = z[far]
    out[far] = (-0.5 * zf * zf - np.log(-zf) - 0.5 * math.log(2 * math.pi)
                + np.log1p(-1.0 / (zf * zf) + 3.0 / zf ** 4))
    return out


def log_likelihood(noisy, chars, noise, level):
    """log P(noisy | char) for every noisy row and every candidate character.

    Parameters
    ----------
    noisy : array (m, d); chars : array (k, d), values in [0, 1]
    noise : 'bit_flip', 'salt_and_pepper' or 'gaussian'; level : p or σ

    Returns
    -------
    ndarray (m, k) of float64; -inf where a candidate cannot have produced the row.

    Notes
    -----
    Pixels are corrupted independently, so the log-likelihood is a sum over pixels of
    log P(y | x) for observed y and clean x:

    * bit flip (p): ``P(y|x) = (1 - p)[y = x] + p [y = 1 - x]``. For binary characters and p < 1/2
      this is ``d log p + (n - d) log(1 - p)`` with d the Hamming distance: the most likely
      character is the nearest one.
    * salt-and-pepper (p): the pixel is kept w.p. 1 - p, else replaced by a fair bit:
      ``P(y|x) = (1 - p)[y = x] + (p/2)([y = 0] + [y = 1])``. For binary x that is 1 - p/2 when
      y = x and p/2 otherwise: again a function of the Hamming distance alone, nearest wins.
    * Gaussian clipped to [0, 1] (σ): ``y = clip(x + σε)``, ε ~ N(0, 1). The law of y has a
      density on (0, 1) and point masses at both ends:

      - 0 < y < 1:  density φ((y - x)/σ)/σ, log = -(y - x)²/(2σ²) - log(σ√(2π));
      - y = 0:      P(x + σε <= 0) = Φ(-x/σ);
      - y = 1:      P(x + σε >= 1) = Φ((x - 1)/σ).

      Which of the three cases applies depends on y only, so every candidate is measured against
      the same reference measure (Lebesgue on (0, 1) plus the two atoms) and the sums compare.
      For binary x a clipped pixel costs log(1/2) if it agrees with x and log Φ(-1/σ) if not,
      so unlike plain squared distance, a saturated 0 observed over an ink pixel is strong but
      finite evidence. σ = 0 is the noiseless limit: only exact matches have likelihood 1.
    """
    key = parse_noise(noise)
    Y = np.asarray(noisy, dtype=np.float64)
    C = np.asarray(chars, dtype=np.float64)
    if Y.ndim != 2 or C.ndim != 2 or Y.shape[1] != C.shape[1]:
        raise ValueError(f"noisy, chars: expected 2-D arrays (m, d) and (k, d), got shapes "
                         f"{Y.shape} and {C.shape}")
    high = None if key == "gaussian" else 1.0
    level = as_float(level, "level", 0.0, high)
    with np.errstate(divide="ignore"):
        if key == "gaussian" and level > 0:
            s = level
            at0, at1 = Y <= 0.0, Y >= 1.0
            inside = (~(at0 | at1)).astype(np.float64)
            L0, L1 = _log_ndtr(-C / s), _log_ndtr((C - 1.0) / s)
            Yi = Y * inside
            sq = ((Yi * Yi).sum(1)[:, None] - 2.0 * Yi @ C.T + inside @ (C * C).T)
            const = -inside.sum(1)[:, None] * math.log(s * math.sqrt(2 * math.pi))
            return (at0.astype(np.float64) @ L0.T + at1.astype(np.float64) @ L1.T
                    - sq / (2.0 * s * s) + const)
        out = np.empty((Y.shape[0], C.shape[0]))
        for lo in range(0, Y.shape[0], 1024):      # (rows, k, d) blocks of bounded size
            y = Y[lo:lo + 1024, None, :]
            eq = (y == C[None]).astype(np.float64)
            if key == "gaussian":                  # σ = 0: the noiseless limit
                P = eq
            elif key == "bit_flip":
                P = (1 - level) * eq + level * (y == 1 - C[None])
            else:
                P = (1 - level) * eq + (level / 2) * ((y == 0) | (y == 1))
            out[lo:lo + 1024] = np.log(P).sum(-1)
        return out


def optimal_decode(noisy, chars, noise, level, rng=None):
    """The maximum-likelihood character for each noisy row: the best any denoiser can do.

    With the characters equally likely a priori, the ML choice is also the most probable one,
    so no denoiser identifies the character more often (see :func:`log_likelihood` for each
    noise model's likelihood, including the clipped Gaussian's).

    Parameters
    ----------
    noisy : array (m, d); chars : array (k, d)
    noise : 'bit_flip', 'salt_and_pepper' or 'gaussian'; level : p or σ
    rng : numpy Generator, int seed or None
        Ties (equal likelihood up to 1e-9 relative) are broken uniformly at random with ``rng``;
        with None they go deterministically to the lowest index.

    Returns
    -------
    ndarray (m,) of int: indices into ``chars``; ``chars[idx]`` are the decoded images.
    """
    ll = log_likelihood(noisy, chars, noise, level)
    best = ll.max(axis=1, keepdims=True)
    tol = 1e-9 * np.where(np.isfinite(best), np.maximum(1.0, np.abs(best)), 0.0)
    tied = (ll >= best - tol) | np.isneginf(best)
    if rng is None:
        return np.argmax(tied, axis=1)
    g = as_generator(rng)
    return np.argmax(np.where(tied, g.random(ll.shape), -1.0), axis=1)


# ---------------------------------------------------------------------------------------------
# The noise study
# ---------------------------------------------------------------------------------------------

METHODS = ("optimal", "denoising", "plain")


class NoiseStudy:
    """The results of :func:`noise_study`: ``records`` (a list of dicts), printable as a table.

    Each record has: noise, level, method ('optimal', 'denoising' or 'plain'), recovered (mean
    fraction of noisy characters recovered with <= 1 wrong pixel), recovered_std (its spread
    over the training seeds), wrong_mean and wrong_std (wrong pixels per noisy character, over
    every draw and seed), n (noisy characters scored per seed) and seeds.
    """

    def __init__(self, records, config=None):
        self.records = list(records)
        self.config = dict(config or {})

    def get(self, noise, level, method):
        """The record of one (noise, level, method)."""
        for r in self.records:
            if r["noise"] == noise and r["method"] == method and math.isclose(r["level"], level):
                return r
        raise KeyError(f"no record for noise={noise!r}, level={level}, method={method!r}")

    @property
    def noise_types(self):
        return list(dict.fromkeys(r["noise"] for r in self.records))

    def levels(self, noise):
        return sorted({r["level"] for r in self.records if r["noise"] == noise})

    def methods(self):
        return [m for m in METHODS if any(r["method"] == m for r in self.records)]

    def curve(self, noise, method, key="recovered"):
        """(levels, values, spreads) of one method's curve, spreads from ``key + '_std'``."""
        levels = self.levels(noise)
        rows = [self.get(noise, lv, method) for lv in levels]
        spread = "recovered_std" if key == "recovered" else "wrong_std"
        return (np.array(levels), np.array([r[key] for r in rows]),
                np.array([r.get(spread, 0.0) for r in rows]))

    def ratio(self, noise, level, method="denoising"):
        """recovered(method) / recovered(optimal) at one level (nan if optimal recovers none)."""
        opt = self.get(noise, level, "optimal")["recovered"]
        got = self.get(noise, level, method)["recovered"]
        return got / opt if opt > 0 else float("nan")

    def meets_target(self, fraction=0.97, max_level=0.3, method="denoising"):
        """Whether ``method`` recovers >= ``fraction`` of the optimal decoder at every level
        <= ``max_level`` of every noise type; returns (bool, worst ratio, where)."""
        worst, where = float("inf"), None
        for noise in self.noise_types:
            for lv in self.levels(noise):
                if lv <= max_level + 1e-12:
                    r = self.ratio(noise, lv, method)
                    if r < worst:
                        worst, where = r, (noise, lv)
        return worst >= fraction, worst, where

    def to_table(self):
        """One line per (noise, level): each method's recovery (± over seeds) and wrong pixels
        (± over draws), and the denoising/optimal ratio."""
        methods = self.methods()
        head = f"{'noise':<16}{'level':>6}"
        for m in methods:
            head += f"  {m + ' rec':>16}  {m + ' wrong':>16}"
        head += f"  {'ratio':>6}"
        lines = [head, "-" * len(head)]
        for noise in self.noise_types:
            for lv in self.levels(noise):
                line = f"{noise:<16}{lv:>6.2f}"
                for m in methods:
                    r = self.get(noise, lv, m)
                    line += (f"  {r['recovered']:>9.3f}±{r['recovered_std']:<6.3f}"
                             f"  {r['wrong_mean']:>9.2f}±{r['wrong_std']:<6.2f}")
                ratio = self.ratio(noise, lv) if "denoising" in methods else float("nan")
                line += f"  {ratio:>6.3f}"
                lines.append(line)
        return "\n".join(lines)

    __str__ = to_table

    def __repr__(self):
        return (f"NoiseStudy(noise_types={self.noise_types}, records={len(self.records)}, "
                f"methods={self.methods()})")


def _make_model(spec, seed, noise, levels, name):
    if callable(spec):
        model = spec(seed)
    else:
        config = dict(spec)
        config.setdefault("seed", seed)
        config["seed"] = seed
        if name == "model":
            config.update(noise=noise, noise_level=levels)
            model = DenoisingAutoencoder(**config)
        else:
            model = Autoencoder(**config)
    if not hasattr(model, "reconstruct"):
        raise TypeError(f"{name}: expected a config dict or a callable seed -> model, and the model "
                        f"to have reconstruct(), got {type(model).__name__}")
    return model


def noise_study(X, model=None, noise_types=NOISE_TYPES, levels=DEFAULT_LEVELS, seeds=(0, 1, 2),
                draws=100, epochs=None, train_levels=TRAIN_LEVELS, per_level=False, plain="letters",
                plain_epochs=5000, fit=None, denoise_steps=DENOISE_STEPS, seed=0, verbose=0):
    """Measure denoising against the optimal decoder and a plain autoencoder, on the same draws.

    For every noise type, every training seed and every level, ``draws`` noisy copies of every
    row of X are drawn once; the denoising autoencoder, the plain autoencoder and the optimal
    decoder are all scored on exactly those copies. A row counts as recovered when its output,
    thresholded at 0.5, has at most 1 wrong pixel against the clean row.

    Parameters
    ----------
    X : array (n, d) in [0, 1]
        The clean characters; also the candidates of the optimal decoder.
    model : dict, callable or None
        The denoising model: constructor arguments of :class:`DenoisingAutoencoder` (its noise
        and level are set by the study), or a callable ``seed -> model`` returning an untrained
        DenoisingAutoencoder. None uses :data:`RECIPE`.
    noise_types : sequence of 'bit_flip', 'salt_and_pepper', 'gaussian'
    levels : sequence of float
        p for bit flip and salt-and-pepper, σ for Gaussian.
    seeds : sequence of int
        Training seeds: each gives one denoising and one plain model per noise type (and level,
        with ``per_level``), and its own noisy draws.
    draws : int
        Noisy copies of each row per (noise, level, seed).
    epochs : int, optional
        Training epochs of the denoising model (default ``FIT['epochs']``).
    train_levels : sequence of float
        The mix of levels one denoising model per noise type is trained on.
    per_level : bool
        Instead, train one model per level, at that level (slower, by the number of levels).
    plain : 'letters', dict, callable or None
        The plain (non-denoising) autoencoder: 'letters' is the letters recipe (2-D latent,
        trained on clean X until 0 wrong pixels or ``plain_epochs``); a dict of Autoencoder
        arguments or a callable ``seed -> Autoencoder`` is trained the same way; a trained model
        is used as is for every seed; None leaves it out.
    fit : dict, optional
        Overrides of :data:`FIT` for the denoising model (batch_size, repeat, lr_decay).
    denoise_steps : int
        Applications of the denoising network to its own output (see
        :meth:`DenoisingAutoencoder.denoise`). The plain model is applied once.
    seed : int
        Seeds the noisy draws and the optimal decoder's tie-breaking.
    verbose : int
        1 prints one line per trained model.

    Returns
    -------
    :class:`NoiseStudy`
    """
    X = as_matrix(X, "X", np.float64)
    n, d = X.shape
    noise_types = [parse_noise(t) for t in ([noise_types] if isinstance(noise_types, str)
                                            else noise_types)]
    levels = [as_float(v, f"levels[{i}]", 0.0) for i, v in enumerate(levels)]
    seeds = [as_int(s, f"seeds[{i}]", 0) for i, s in enumerate(seeds)]
    if not (levels and seeds and noise_types):
        raise ValueError("noise_types, levels, seeds: expected non-empty sequences")
    for noise in noise_types:  # every level against every noise, before any model is trained
        _as_levels(levels, noise, "levels")
        _as_levels(train_levels, noise, "train_levels")
    draws = as_int(draws, "draws", 1)
    fit_args = dict(FIT, **(fit or {}))
    if epochs is not None:
        fit_args["epochs"] = as_int(epochs, "epochs", 0)
    steps = as_int(denoise_steps, "denoise_steps", 1)
    model_spec = RECIPE if model is None else model
    target = np.repeat(np.arange(n), draws)
    clean = X[target] >= 0.5

    plains = {}
    if plain is not None:
        for s in seeds:
            plains[s] = _train_plain(plain, X, s, plain_epochs, verbose)

    sums = {}   # (noise, level, method) -> list over seeds of (recovered, wrong array)
    for t_i, noise in enumerate(noise_types):
        for s in seeds:
            if per_level:
                models = {lv: _train_denoiser(model_spec, X, s, noise, (lv,), fit_args, verbose)
                          for lv in levels}
            else:
                mix = _as_levels(train_levels, noise, "train_levels")
                shared = _train_denoiser(model_spec, X, s, noise, mix, fit_args, verbose)
                models = {lv: shared for lv in levels}
            for l_i, lv in enumerate(levels):
                g = np.random.default_rng([seed, t_i, l_i, s])
                noisy = apply_noise(X[target], noise, lv, g)
                outs = {"optimal": X[optimal_decode(noisy, X, noise, lv, g)],
                        "denoising": models[lv].denoise(noisy, steps)}
                if s in plains:
                    outs["plain"] = plains[s].reconstruct(noisy)
                for method, out in outs.items():
                    wrong = ((np.asarray(out) >= 0.5) != clean).sum(axis=1)
                    sums.setdefault((noise, lv, method), []).append(wrong)

    records = []
    for (noise, lv, method), per_seed in sums.items():
        rec = np.array([(w <= 1).mean() for w in per_seed])
        wrong = np.concatenate(per_seed)
        records.append({"noise": noise, "level": lv, "method": method,
                        "recovered": float(rec.mean()), "recovered_std": float(rec.std()),
                        "wrong_mean": float(wrong.mean()), "wrong_std": float(wrong.std()),
                        "n": n * draws, "seeds": len(per_seed)})
    order = {m: i for i, m in enumerate(METHODS)}
    records.sort(key=lambda r: (noise_types.index(r["noise"]), r["level"], order[r["method"]]))
    config = {"noise_types": noise_types, "levels": levels, "seeds": seeds, "draws": draws,
              "fit": fit_args, "train_levels": list(train_levels), "per_level": per_level,
              "denoise_steps": steps, "seed": seed}
    return NoiseStudy(records, config)


def _train_denoiser(spec, X, seed, noise, levels, fit_args, verbose):
    model = _make_model(spec, seed, noise, list(levels), "model")
    t0 = time.perf_counter()
    args = dict(fit_args)
    epochs = args.pop("epochs")
    if isinstance(model, DenoisingAutoencoder):
        model.fit(X, epochs=epochs, noise=noise, noise_level=levels, **args)
    else:
        model.fit(X, epochs=epochs, batch_size=args.get("batch_size", 32), noise=noise,
                  noise_level=levels[0])
    if verbose:
        print(f"  denoising {noise} levels {list(levels)} seed {seed}: "
              f"{model.epochs_trained_} epochs, {time.perf_counter() - t0:.1f} s", flush=True)
    return model


def _train_plain(spec, X, seed, epochs, verbose):
    if isinstance(spec, Autoencoder):
        return spec
    if isinstance(spec, str):
        if spec != "letters":
            raise ValueError(f"plain: expected 'letters', a dict, a callable or a model, got {spec!r}")
        from .letters import RECIPE as LETTERS
        spec = LETTERS
    model = _make_model(spec, seed, None, None, "plain")
    t0 = time.perf_counter()
    model.fit(X, epochs=epochs, batch_size=None, callbacks=[PixelErrorStop(0)])
    if verbose:
        print(f"  plain seed {seed}: {model.epochs_trained_} epochs, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    return model
