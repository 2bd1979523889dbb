"""The variational autoencoder: encoder to (μ, logvar), z = μ + exp(½ logvar)·ε, decoder.

A VAE is one network of the layer engine: the encoder's layers, a linear Dense(2k) head giving
[μ | logvar], a Sample layer (``csrc/vae.c``), the decoder's layers; it trains in the one C
trainer of every model. ε is drawn there from the model's seeded generator, and the loss is
the reconstruction (BCE, MSE or MAE, summed over features) plus β times the Gaussian KL, both
averaged over the batch. With ``loss_reduction='mean'`` the whole sum is divided by the number of
features: the same objective per feature, so learning rates carry over from per-pixel losses.
"""
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from ._typing import ArrayLike

from . import _core, initializers
from . import layers as _layers
from ._net import (LayerNet, check_sizes, is_activation_list, loss_code, parse_activation,
                   parse_dtype, parse_loss, parse_reduction, parse_threads)
from ._training import (fit_loop, metric_logs, parse_metrics, split_callbacks, split_validation,
                        validation_pair)
from ._validate import (INT64_MAX, as_float, as_int, as_matrix, as_range, as_vector,
                        check_activations, check_alloc, check_optimizer, check_targets)
from .autoencoder import (DEFAULT_BATCH, Autoencoder, _seed_streams, as_rows, layer_table,
                          reconstruction_errors, sample_shape_of, shaped)
from .interop import Interop
from .io import Persistable
from .optimizers import get_optimizer

__all__ = ["VAE", "LOGVAR_MIN", "LOGVAR_MAX"]

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0  # the clamp of csrc/vae.c: exp(logvar) stays finite
KEYS = ["loss", "reconstruction_loss", "kl_loss"]


class VAE(Persistable, Interop):
    """A dense variational autoencoder.

    Parameters
    ----------
    encoder : list of int, or list of layers
        The input width, then the encoder's hidden widths: ``[400, 200, 100]``; or the encoder's
        layers (:mod:`sia_autoencoder.layers`, ints among them: Dense widths) with
        ``input_shape``. A linear layer of ``2 * latent_dim`` units follows, giving μ and
        logvar, then the sampling layer.
    latent_dim : int
        The size k of the latent space.
    decoder : list of int, optional
        The decoder's widths after the latent space, ending with the output width (which must
        equal the input width). None mirrors the encoder: ``[100, 200, 400]``.
    activation : str, (name, beta), or list
        The hidden layers' activation (as in :class:`~sia_autoencoder.Autoencoder`). A list gives
        one per hidden layer, the encoder's then the decoder's
        (``len(encoder) - 1 + len(decoder) - 1`` entries); the μ/logvar layer is always linear.
    output_activation : str or (name, beta)
        The output layer's; 'logistic' for data in [0, 1] with BCE.
    loss : 'bce', 'mse' or 'mae'
        The reconstruction term, summed over features (Keras's names work too:
        'binary_crossentropy', 'mean_squared_error', 'mean_absolute_error'); the total is
        averaged over the batch.
    loss_reduction : 'sum' or 'mean'
        'sum' (the default, Keras's VAE example and the course's): the reconstruction term summed
        over the features, plus β·KL. 'mean': that whole objective divided by the number of
        features D, i.e. the reconstruction averaged over the features (as Keras's and
        PyTorch's losses report it) plus (β/D)·KL. The balance between the two terms, and so
        the model learnt, is the same; only the scale changes, so that a learning rate chosen
        for a per-pixel loss carries over. The history's 'reconstruction_loss' is then per
        feature; 'kl_loss' is always the unweighted KL per sample.
    metrics : list of str, optional
        Keras's metrics ('mse', 'mae', 'bce', or their long names) of the reconstructions through
        the mean code (no sampling, so they draw nothing from the model's generator), logged
        after every epoch as for :class:`~sia_autoencoder.Autoencoder`, and as 'val_mse', ...
        on validation data.
    beta : float >= 0
        The weight of the KL term (β-VAE; 1 is the plain VAE).
    kl_warmup_epochs : int >= 0
        Ramp the KL weight linearly: epoch e (counting from 1 over the model's whole training)
        uses β·min(1, e / kl_warmup_epochs). 0: β from the start.
    optimizer, learning_rate, weight_decay, seed, dtype, threads
        As for :class:`~sia_autoencoder.Autoencoder`. The seed fixes the weights, the sample
        order and every ε drawn in training.
    input_shape : tuple, optional
        The shape of one sample (``(28, 28, 1)``...): needed for an encoder of layers. Images
        are channels last; reconstructions come back in the input's shape.
    kernel_initializer : str, function, or list, optional
        As for :class:`~sia_autoencoder.Autoencoder`; a list gives one per layer with weights,
        the encoder's (the μ/logvar layer last) then the decoder's.

    Models pickle, and ``save(path)`` / ``sia_autoencoder.load(path)`` round-trip them, through
    :meth:`get_config` and :meth:`state_dict`.
    """

    def __init__(self, encoder=(400, 200, 100), latent_dim=2, decoder=None, activation="tanh",
                 output_activation="logistic", loss="bce", beta=1.0, kl_warmup_epochs=0,
                 optimizer="adam", learning_rate=None, seed=None, dtype="float32", threads=1,
                 input_shape=None, weight_decay=None, kernel_initializer=None,
                 loss_reduction="sum", metrics=None):
        self.latent_dim = as_int(latent_dim, "latent_dim", 1)
        k = self.latent_dim
        linear = parse_activation("linear")
        self.output_activation = parse_activation(output_activation, "output_activation")
        widths = _all_widths(encoder) and (decoder is None or _all_widths(decoder))
        if widths:   # the dense notation: encoder[0] is the input width
            encoder = check_sizes(encoder, "encoder")
            if len(encoder) < 1:
                raise ValueError("encoder: expected at least the input width, e.g. [400, 200, 100], got []")
            if decoder is None:
                decoder = encoder[::-1]
            decoder = check_sizes(decoder, "decoder")
            if len(decoder) < 1 or decoder[-1] != encoder[0]:
                got = decoder[-1] if decoder else "nothing"
                raise ValueError(f"decoder: expected the widths after the latent space ending with the "
                                 f"input width {encoder[0]}, got {decoder} (ends with {got})")
            n_enc, n_dec = len(encoder) - 1, len(decoder) - 1
            if is_activation_list(activation):
                if len(activation) != n_enc + n_dec:
                    raise ValueError(f"activation: a list needs one entry per hidden layer "
                                     f"({n_enc} in the encoder + {n_dec} in the decoder), "
                                     f"got {len(activation)}")
                self.activations = [parse_activation(a, f"activation[{i}]")
                                    for i, a in enumerate(activation)]
                self._activation_config = [[a.name, a.beta] for a in self.activations]
            else:
                hidden = parse_activation(activation, "activation")
                self.activations = [hidden] * (n_enc + n_dec)
                self._activation_config = [hidden.name, hidden.beta]
            self.enc_sizes = encoder + [2 * k]
            self.dec_sizes = [k] + decoder
            enc_layers = [_layers.Dense(w, activation=a)
                          for w, a in zip(encoder[1:], self.activations[:n_enc])]
            dec_layers = [_layers.Dense(w, activation=a) for w, a in
                          zip(decoder, self.activations[n_enc:] + [self.output_activation])]
            in_shape = (encoder[0],)
            if input_shape is not None:
                shape = _layers._shape(input_shape, "input_shape")
                if int(np.prod(shape)) != encoder[0]:
                    raise ValueError(f"input_shape: {shape} has {int(np.prod(shape))} values, the "
                                     f"input width encoder[0] is {encoder[0]}")
        else:        # layers (or widths of Dense layers after the input)
            if input_shape is None:
                raise ValueError("input_shape: a VAE given as layers needs the shape of one "
                                 "sample, e.g. input_shape=(28, 28, 1)")
            if decoder is None:
                raise ValueError("decoder: a VAE given as layers needs its decoder's layers")
            if is_activation_list(activation):
                raise ValueError("activation: a per-layer list is for the dense notation; give "
                                 "each Dense layer its activation")
            hidden = parse_activation(activation, "activation")
            self._activation_config = [hidden.name, hidden.beta]
            in_shape = _layers._shape(input_shape, "input_shape")
            enc_layers = _half(encoder, "encoder", hidden, hidden)
            dec_layers = _half(decoder, "decoder", hidden, self.output_activation)
            self.activations = [layer.activation for layer in enc_layers + dec_layers]
        self.encoder, self.decoder = encoder, decoder
        self.loss = parse_loss(loss)
        self.loss_reduction = parse_reduction(loss_reduction)
        self.metrics = [name for name, _ in parse_metrics(metrics)]
        self.beta = as_float(beta, "beta", 0.0)
        self.kl_warmup_epochs = as_int(kl_warmup_epochs, "kl_warmup_epochs", 0)
        self.optimizer = get_optimizer(optimizer, learning_rate, weight_decay)
        self.dtype = parse_dtype(dtype)
        check_activations(self.activations + [self.output_activation], self.dtype)
        check_optimizer(self.optimizer, self.dtype)
        self.threads = parse_threads(threads)
        self._seed = seed
        self.seed_, init_rng, self.rng_state = _seed_streams(seed)

        self._widths = widths
        head, sample = _layers.Dense(2 * k, activation=linear), _layers.Sample()
        self.kernel_initializer = initializers.assign(enc_layers + [head] + dec_layers,
                                                      kernel_initializer)
        self.net = LayerNet(_layers.resolve_tied(enc_layers + [head, sample] + dec_layers),
                            in_shape, self.dtype)
        self._sample = sample.index
        if int(np.prod(self.net.output_shape)) != int(np.prod(in_shape)):
            raise ValueError(f"{self.net.layers[-1].where()}: the decoder's output "
                             f"{self.net.output_shape} does not match the input shape {in_shape}"
                             f"{_layers.shape_hint(self.net.layers)}")
        self.input_shape = tuple(_layers._shape(input_shape, "input_shape")) \
            if input_shape is not None else in_shape
        if widths:
            self.enc = _Half(self.net, 0, self._sample, self.enc_sizes)
            self.dec = _Half(self.net, self._sample + 1, self.net.L, self.dec_sizes)
        self.net.init(init_rng)
        self.optimizer.reset(self.net.params.size, self.dtype)
        self.epochs_trained_ = 0
        self.history_ = None
        self.stop_training = False

    # ---- parameters ----
    rng_state = Autoencoder.rng_state

    @property
    def params(self) -> np.ndarray:
        """All weights and biases, one flat vector: the encoder's (W1, b1, ...), then the decoder's."""
        return self.net.params

    @property
    def _params(self):
        return self.net.params

    @property
    def _grads(self):
        return self.net.grads

    @property
    def weights(self):
        """[(W, b), ...] of the dense layers: the encoder's, the head's, then the decoder's;
        views into ``params``."""
        return self.net.weights

    def parameters(self):
        """The weight and bias arrays of every layer, in order (views into ``params``)."""
        return self.net.parameters()

    @property
    def n_params(self) -> int:
        return int(self._params.size)

    @property
    def input_dim(self):
        """Values per input sample."""
        return self.net.width(0)

    @property
    def _loss_code(self):
        return loss_code(self.loss, self.loss_reduction)

    @property
    def _kl_scale(self):
        """What the C core's KL weight is, per unit of β: 1/D with loss_reduction='mean'."""
        return 1.0 / self.input_dim if self.loss_reduction == "mean" else 1.0

    def kl_weight(self, epoch: int) -> float:
        """The KL weight of training epoch ``epoch`` (1-based over the model's whole training)."""
        if self.kl_warmup_epochs <= 0:
            return self.beta
        return self.beta * min(1.0, epoch / self.kl_warmup_epochs)

    def _kl_weights(self, first, count):
        """The KL weights of epochs first .. first + count - 1, as float64 (count,)."""
        if self.kl_warmup_epochs <= 0:
            return np.full(count, self.beta)
        epochs = np.arange(first, first + count, dtype=np.float64)
        return self.beta * np.minimum(1.0, epochs / self.kl_warmup_epochs)

    # ---- training ----
    def fit(self, X, Y=None, epochs=1, batch_size=DEFAULT_BATCH, shuffle=True, validation_data=None,
            callbacks=None, verbose=0, validation_split=0.0):
        """Train on X for ``epochs`` epochs.

        Parameters
        ----------
        X : array (n, input_dim), values in [0, 1] for BCE
        Y : None or X
            Accepted for Keras's ``fit(X, X)``: a VAE reconstructs its input, so any other
            target is an error.
        epochs : int
        batch_size : int, None, 'online' or 'batch'
            Samples per step, as for :meth:`Autoencoder.fit`: 1 (online), n (None or 'batch'),
            or a mini-batch size (one larger than n uses the whole set, as in Keras).
        shuffle : bool
            Reshuffle the sample order every epoch, from the model's seed.
        validation_data : X_val, (X_val, X_val) or (X_val, None), optional
            Its loss terms are logged as 'val_loss', 'val_reconstruction_loss', 'val_kl_loss'
            (with a fixed ε, so that they move only with the weights).
        validation_split : float in [0, 1)
            Hold out the last fraction of the rows of X as validation data, as Keras does;
            ignored when ``validation_data`` is given.
        callbacks : list of :class:`~sia_autoencoder.callbacks.Callback`
            ``LossThreshold`` applies to the total loss, ``PixelErrorStop`` to the
            reconstructions through the mean.
        verbose : 0, 1, 2 or 'auto' (1)

        Returns
        -------
        :class:`~sia_autoencoder.callbacks.History` with per-epoch 'loss' (recon + w·KL),
        'reconstruction_loss' and 'kl_loss' (the unweighted KL).
        """
        X = as_rows(X, "X", self.dtype, self.input_dim, self.input_shape)
        _same_as_input(X, Y, "Y", self.input_shape)
        X, _, validation_data = split_validation(X, X, validation_data, validation_split)
        check_targets(X, "X", self.loss)
        check_optimizer(self.optimizer, self.dtype)
        n = X.shape[0]
        epochs = as_int(epochs, "epochs", 0, INT64_MAX)
        batch = self._batch_size(batch_size, n)
        max_wrong, loss_tol, python_callbacks = split_callbacks(callbacks)
        validate = self._validator(validation_data, X)
        opt = self.optimizer
        if opt.m is None or opt.m.shape != self._params.shape:
            opt.reset(self._params.size, self.dtype)

        def run_chunk(records, start, count):
            first = self.epochs_trained_ + 1
            weights = self._kl_weights(first, count) * self._kl_scale
            # The optimizer's settings as they are now: a callback may have changed them.
            t = np.array([opt.t], dtype=np.int64)
            try:
                return self.net.train(
                    X, X, opt, t, self.rng_state,
                    [records[key][start:start + count] for key in KEYS], weights,
                    loss=self._loss_code, batch=batch, shuffle=bool(shuffle), epochs=count,
                    **opt._core_kwargs(), loss_tol=loss_tol, max_wrong=max_wrong,
                    nthreads=self.threads)
            finally:
                opt.t = int(t[0])

        return fit_loop(self, run_chunk, epochs, KEYS, python_callbacks, validate, verbose)

    _batch_size = Autoencoder._batch_size

    def _validator(self, validation_data, X=None):
        """The per-epoch logs beyond the training terms: the metrics on X and the validation
        terms and metrics; None when there are none."""
        metrics = parse_metrics(self.metrics)
        if validation_data is None:
            if not metrics:
                return None
            return lambda: metric_logs(metrics, self._rows_out, X, X)
        Xv, Yv = validation_pair(validation_data)
        Xv = as_rows(Xv, "validation_data", self.dtype, self.input_dim, self.input_shape)
        _same_as_input(Xv, Yv, "validation_data Y", self.input_shape)
        check_targets(Xv, "validation_data", self.loss)
        eps = self._fixed_eps(Xv.shape[0], 0)

        def validate():
            out = metric_logs(metrics, self._rows_out, X, X) if X is not None else {}
            total, recon, kl = self._loss_terms(Xv, eps, self.kl_weight(self.epochs_trained_ + 1))
            out.update({"val_loss": total, "val_reconstruction_loss": recon, "val_kl_loss": kl})
            out.update(metric_logs(metrics, self._rows_out, Xv, Xv, "val_"))
            return out
        return validate

    def _rows_out(self, X):
        """The reconstructions of rows X through the mean code, as rows."""
        return self.net.forward(X, 0, self.net.L, self.threads)

    def _fixed_eps(self, n, seed):
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(self.dtype)

    def _loss_terms(self, X, eps, weight, grad=False):
        """(total, recon, KL) of X as one batch with the given ε (n, k) and KL weight (per unit
        of β, scaled here as ``loss_reduction`` says); any Dropout or
        GaussianNoise layer is off (the identity), so that the terms move only with the weights."""
        n, parts = X.shape[0], []
        for layer in self.net.layers:
            if layer.kind == _core.LAYER_SAMPLE:
                parts.append(np.asarray(eps, dtype=self.dtype).ravel())
            elif layer.kind == _core.LAYER_DROPOUT:
                parts.append(np.ones(n * int(np.prod(layer.input_shape)), dtype=self.dtype))
            elif layer.kind == _core.LAYER_GNOISE:
                parts.append(np.zeros(n * int(np.prod(layer.input_shape)), dtype=self.dtype))
        total, recon, kl, _ = self.net.loss_terms(X, X, self._loss_code, self.threads, grad,
                                                  np.concatenate(parts), weight * self._kl_scale)
        return total, recon, kl

    def evaluate(self, X: ArrayLike, seed: Optional[int] = 0, return_terms: bool = False) -> Any:
        """The loss of X with ε drawn from ``seed`` (deterministic) and the full KL weight β.

        Returns the total, or with ``return_terms`` a dict of 'loss', 'reconstruction_loss' and
        'kl_loss'.
        """
        X = as_rows(X, "X", self.dtype, self.input_dim, self.input_shape)
        check_targets(X, "X", self.loss)
        total, recon, kl = self._loss_terms(X, self._fixed_eps(X.shape[0], seed), self.beta)
        if return_terms:
            return {"loss": total, "reconstruction_loss": recon, "kl_loss": kl}
        return total

    def loss_grad(self, X: ArrayLike, eps: ArrayLike,
                  kl_weight: Optional[float] = None) -> Tuple[float, float, float, np.ndarray]:
        """The loss terms of X as one batch for the given ε (n, latent_dim), and the gradient of
        the total with respect to ``params``: (total, recon, kl, grads (n_params,) copy).
        ``kl_weight`` (default β) is in units of β: with ``loss_reduction='mean'`` the total is
        recon (per feature) + kl_weight/D · KL."""
        X = as_rows(X, "X", self.dtype, self.input_dim, self.input_shape)
        check_targets(X, "X", self.loss)
        eps = as_matrix(eps, "eps", self.dtype, width=self.latent_dim, rows=X.shape[0],
                        width_what="latent_dim")
        w = self.beta if kl_weight is None else as_float(kl_weight, "kl_weight", 0.0)
        total, recon, kl = self._loss_terms(X, eps, w, grad=True)
        return total, recon, kl, self._grads.copy()

    # ---- inference ----
    def encode(self, X: ArrayLike, return_logvar: bool = False) -> Any:
        """The mean μ (n, latent_dim) of the posterior of each row (or image) of X,
        deterministically; with ``return_logvar``, (μ, logvar), logvar clamped to [-30, 20] as
        in training."""
        X = as_rows(X, "X", self.dtype, self.input_dim, self.input_shape)
        h = self.net.forward(X, 0, self._sample, self.threads)
        mu, logvar = h[:, :self.latent_dim].copy(), h[:, self.latent_dim:]
        if return_logvar:
            return mu, np.clip(logvar, LOGVAR_MIN, LOGVAR_MAX)
        return mu

    def decode(self, Z: ArrayLike) -> np.ndarray:
        """Outputs decoded from latent points Z (n, latent_dim): (n, input_dim), images in the
        model's input shape."""
        Z = as_matrix(Z, "Z", self.dtype, width=self.latent_dim, width_what="latent_dim")
        return shaped(self.net.forward(Z, self._sample + 1, self.net.L, self.threads, name="Z"),
                      self.input_shape)

    def reconstruct(self, X: ArrayLike) -> np.ndarray:
        """Decode the mean code of X (no sampling), in X's shape."""
        shape = sample_shape_of(X)
        X = as_rows(X, "X", self.dtype, self.input_dim, self.input_shape)
        return shaped(self.net.forward(X, 0, self.net.L, self.threads), shape)

    predict = reconstruct
    __call__ = reconstruct

    def reconstruction_error(self, X: ArrayLike, per_sample: bool = True) -> np.ndarray:
        """The reconstruction term of each sample (n,), through its mean code (no sampling, no KL),
        reduced over its features as in training (``loss_reduction``); with ``per_sample=False``,
        its mean over the samples."""
        return reconstruction_errors(self.reconstruct(X), X, self.loss, per_sample,
                                     self.loss_reduction)

    def sample(self, n: int = 1, seed: Optional[int] = None, return_latent: bool = False) -> Any:
        """Decode n points drawn from the prior N(0, I): (n, input_dim), and Z with ``return_latent``.

        ``seed`` seeds a NumPy generator for Z (None: fresh entropy); the training generator is
        left untouched.
        """
        n = as_int(n, "n", 1)
        check_alloc(n, 8 * (self.latent_dim + self.input_dim), "n", "samples")
        Z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        out = self.decode(Z)
        return (out, Z) if return_latent else out

    def latent_grid(self, n: int = 8, low: Union[float, Sequence[float]] = -4.0,
                    high: Union[float, Sequence[float]] = 4.0,
                    dims: Tuple[int, int] = (0, 1)) -> Tuple[np.ndarray, np.ndarray]:
        """Decode an n×n grid of latent points over [low, high]² (the course's 8 partitions over
        [-4, 4] by default). ``low``/``high`` may be pairs, one range per axis. With more than two
        latent dimensions, ``dims`` are the two that vary and the others stay at 0 (the prior's
        mean). The first row is at the top (largest z2). Returns (images (n*n, input_dim),
        Z (n*n, latent_dim))."""
        if self.latent_dim < 2:
            raise ValueError(f"latent_grid: needs a latent space of 2 or more dimensions, this one "
                             f"has {self.latent_dim}")
        n = as_int(n, "n", 1)
        check_alloc(n * n, 8 * (self.latent_dim + self.input_dim), "n", f"grid points ({n}²)")
        d0, d1 = (as_int(d, "dims", 0, self.latent_dim - 1) for d in dims)
        if d0 == d1:
            raise ValueError(f"dims: expected two different latent dimensions, got {tuple(dims)}")
        lo, hi = as_range(low, "low", self.dtype), as_range(high, "high", self.dtype)
        z1, z2 = np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)
        Z = np.zeros((n * n, self.latent_dim))
        Z[:, d0] = np.tile(z1, n)
        Z[:, d1] = np.repeat(z2, n)
        return self.decode(Z), Z

    def interpolate(self, a: ArrayLike, b: ArrayLike, steps: int = 10) -> np.ndarray:
        """Decode ``steps`` evenly spaced points on the segment between the mean codes of the
        inputs a and b (each a vector of input_dim): (steps, input_dim)."""
        steps = as_int(steps, "steps", 2)
        codes = self.encode(np.concatenate([as_vector(v, name, self.dtype, self.input_dim)
                                            for v, name in ((a, "a"), (b, "b"))]))
        w = np.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1 - w) * codes[0] + w * codes[1])

    get_weights = Autoencoder.get_weights
    set_weights = Autoencoder.set_weights

    # ---- description ----
    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments, JSON-ready: ``VAE(**vae.get_config())`` rebuilds the same
        architecture (with fresh weights; see :meth:`load_state_dict`)."""
        common = {"latent_dim": self.latent_dim,
                  "activation": self._activation_config,
                  "output_activation": [self.output_activation.name, self.output_activation.beta],
                  "loss": self.loss, "loss_reduction": self.loss_reduction,
                  "metrics": list(self.metrics) or None, "beta": self.beta, "kl_warmup_epochs": self.kl_warmup_epochs,
                  "optimizer": self.optimizer.get_config(),
                  "seed": self._seed if isinstance(self._seed, int) else None,
                  "dtype": self.dtype.name, "threads": self.threads}
        if self._widths:
            cfg = {"encoder": list(self.encoder), "decoder": list(self.decoder), **common,
                   "kernel_initializer": initializers.config(self.kernel_initializer)}
            if self.input_shape != (self.encoder[0],):
                cfg["input_shape"] = list(self.input_shape)
            return cfg
        layers = [_layers.to_config(layer) for layer in self.net.layers]
        return {"encoder": layers[:self._sample - 1], "decoder": layers[self._sample + 1:],
                "input_shape": list(self.input_shape), **common}

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print every layer with its output shape, activation and parameters, as Keras does."""
        warm = f", KL warm-up {self.kl_warmup_epochs} epochs" if self.kl_warmup_epochs else ""
        per = " (mean over features, KL/D)" if self.loss_reduction == "mean" else ""
        print_fn(layer_table(f'Model: "VAE" ({self.dtype.name}, loss {self.loss} + '
                             f'{self.beta:g}·KL{per}{warm}, optimizer {type(self.optimizer).__name__})',
                             self.net, self.input_shape,
                             {self._sample - 1: "μ, logvar", self._sample: "latent",
                              self.net.L - 1: "output"}))

    def __repr__(self):
        enc = self.encoder if self._widths else f"{self._sample - 1} layers"
        dec = self.decoder if self._widths else f"{self.net.L - self._sample - 1} layers"
        return (f"VAE(encoder={enc}, latent_dim={self.latent_dim}, decoder={dec}, "
                f"loss={self.loss!r}, beta={self.beta:g}, epochs_trained={self.epochs_trained_})")


def _all_widths(spec):
    return isinstance(spec, (list, tuple)) and all(
        isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in spec)


def _half(items, name, hidden, last_act):
    """The layers of an encoder or decoder list: layers (or their configs), or ints, the widths
    of Dense layers (hidden activation; the decoder's last one the output activation)."""
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise ValueError(f"{name}: expected a list of layers or widths, got {items!r}")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            act = last_act if i == len(items) - 1 else hidden
            out.append(_layers.Dense(int(item), activation=act))
        else:
            out.append(_layers.from_config(item, f"{name}[{i}]"))
    return out


class _Half:
    """The encoder (to [μ | logvar]) or the decoder of a dense VAE, as the widths notation
    describes it: sizes, activations and views of the flat parameters."""

    def __init__(self, net, l0, l1, sizes):
        self.layers = net.layers[l0:l1]
        self.sizes = np.array(sizes, dtype=np.int64)
        first = self.layers[0].off
        end = self.layers[-1].off + self.layers[-1].n_params
        self.params, self.grads = net.params[first:end], net.grads[first:end]

    @property
    def L(self):
        return len(self.layers)

    @property
    def activations(self):
        return [layer.activation for layer in self.layers]

    @property
    def act(self):
        return np.array([a.code for a in self.activations], dtype=np.int32)

    @property
    def beta(self):
        return np.array([a.beta for a in self.activations], dtype=np.float64)

    @property
    def weights(self):
        off = self.layers[0].off
        return [tuple(layer.views(self.params[layer.off - off:layer.off - off + layer.n_params]))
                for layer in self.layers]


def _same_as_input(X, Y, name, shape=None):
    """Refuse a target Y other than None or X itself (same values): a VAE reconstructs X."""
    if Y is None or Y is X:
        return
    if isinstance(Y, (int, float)) and not isinstance(Y, bool):
        raise TypeError(f"{name}: expected None or X, got {Y!r}; give epochs by name: "
                        f"fit(X, epochs={Y!r})")
    Yv = as_rows(Y, name, X.dtype, X.shape[1], shape, rows=X.shape[0],
                 width_what="the input width: a VAE reconstructs its input")
    if not np.array_equal(Yv, X):
        r, c = np.argwhere(Yv != X)[0]
        raise ValueError(f"{name}: a VAE reconstructs its input, so the target must be X itself "
                         f"(or None); it differs from X at row {r}, column {c}. To map X to "
                         f"another Y, train an Autoencoder (fit(X, Y)).")


