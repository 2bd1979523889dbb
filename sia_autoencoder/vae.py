"""The variational autoencoder: encoder to (μ, logvar), z = μ + exp(½ logvar)·ε, decoder.

Training runs whole epochs in C (``csrc/vae.c``): ε is drawn there from the model's seeded
generator, and the loss is the reconstruction (BCE or MSE, summed over features) plus β times
the Gaussian KL, both averaged over the batch.
"""
import numpy as np

from . import _core
from ._net import (DenseStack, LOSSES, check_sizes, format_summary, is_activation_list,
                   parse_activation, parse_dtype, parse_loss, parse_threads)
from ._training import fit_loop, split_callbacks, split_validation, validation_pair
from ._validate import (INT64_MAX, as_float, as_int, as_matrix, as_range, as_vector,
                        check_activations, check_alloc, check_optimizer, check_targets)
from .autoencoder import DEFAULT_BATCH, Autoencoder, _seed_streams
from .io import Persistable
from .optimizers import get_optimizer

__all__ = ["VAE", "LOGVAR_MIN", "LOGVAR_MAX"]

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0  # the clamp of csrc/vae.c: exp(logvar) stays finite
KEYS = ["loss", "reconstruction_loss", "kl_loss"]


class VAE(Persistable):
    """A dense variational autoencoder.

    Parameters
    ----------
    encoder : list of int
        The input width, then the encoder's hidden widths: ``[400, 200, 100]``. A linear layer
        of ``2 * latent_dim`` units follows, giving μ and logvar.
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
    loss : 'bce' or 'mse'
        The reconstruction term, summed over features; the total is averaged over the batch.
    beta : float >= 0
        The weight of the KL term (β-VAE; 1 is the plain VAE).
    kl_warmup_epochs : int >= 0
        Ramp the KL weight linearly: epoch e (counting from 1 over the model's whole training)
        uses β·min(1, e / kl_warmup_epochs). 0: β from the start.
    optimizer, learning_rate, weight_decay, seed, dtype, threads
        As for :class:`~sia_autoencoder.Autoencoder`. The seed fixes the weights, the sample
        order and every ε drawn in training.

    Models pickle, and ``save(path)`` / ``sia_autoencoder.load(path)`` round-trip them, through
    :meth:`get_config` and :meth:`state_dict`.
    """

    def __init__(self, encoder=(400, 200, 100), latent_dim=2, decoder=None, activation="tanh",
                 output_activation="logistic", loss="bce", beta=1.0, kl_warmup_epochs=0,
                 optimizer="adam", learning_rate=None, seed=None, dtype="float32", threads=1,
                 weight_decay=None):
        encoder = check_sizes(encoder, "encoder")
        if len(encoder) < 1:
            raise ValueError("encoder: expected at least the input width, e.g. [400, 200, 100], got []")
        self.latent_dim = as_int(latent_dim, "latent_dim", 1)
        if decoder is None:
            decoder = encoder[::-1]
        decoder = check_sizes(decoder, "decoder")
        if len(decoder) < 1 or decoder[-1] != encoder[0]:
            got = decoder[-1] if decoder else "nothing"
            raise ValueError(f"decoder: expected the widths after the latent space ending with the "
                             f"input width {encoder[0]}, got {decoder} (ends with {got})")
        self.encoder, self.decoder = encoder, decoder
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
        self.output_activation = parse_activation(output_activation, "output_activation")
        self.loss = parse_loss(loss)
        self.beta = as_float(beta, "beta", 0.0)
        self.kl_warmup_epochs = as_int(kl_warmup_epochs, "kl_warmup_epochs", 0)
        self.optimizer = get_optimizer(optimizer, learning_rate, weight_decay)
        self.dtype = parse_dtype(dtype)
        check_activations(self.activations + [self.output_activation], self.dtype)
        check_optimizer(self.optimizer, self.dtype)
        self.threads = parse_threads(threads)
        self._seed = seed
        self.seed_, init_rng, self.rng_state = _seed_streams(seed)

        k = self.latent_dim
        linear = parse_activation("linear")
        self.enc_sizes = encoder + [2 * k]
        self.dec_sizes = [k] + decoder
        self.enc = DenseStack(self.enc_sizes, self.activations[:n_enc] + [linear], self.dtype)
        self.dec = DenseStack(self.dec_sizes, self.activations[n_enc:] + [self.output_activation],
                              self.dtype)
        n = self.enc.params.size + self.dec.params.size
        self._params = np.zeros(n, dtype=self.dtype)
        self._grads = np.zeros(n, dtype=self.dtype)
        self._bind_views()
        self.enc.init(init_rng)
        self.dec.init(init_rng)
        self.optimizer.reset(n, self.dtype)
        self.epochs_trained_ = 0
        self.history_ = None
        self.stop_training = False

    def _bind_views(self):
        """The encoder's and decoder's parameters are views into one flat vector."""
        P = _n_params(self.enc.sizes)
        self.enc.params, self.dec.params = self._params[:P], self._params[P:]
        self.enc.grads, self.dec.grads = self._grads[:P], self._grads[P:]

    # ---- parameters ----
    rng_state = Autoencoder.rng_state

    @property
    def params(self):
        """All weights and biases, one flat vector: the encoder's (W1, b1, ...), then the decoder's."""
        return self._params

    @property
    def weights(self):
        """[(W, b), ...]: the encoder's layers, then the decoder's; views into ``params``."""
        return self.enc.weights + self.dec.weights

    def parameters(self):
        return [p for Wb in self.weights for p in Wb]

    @property
    def n_params(self):
        return int(self._params.size)

    @property
    def input_dim(self):
        return self.encoder[0]

    def kl_weight(self, epoch):
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

    def _stacks(self):
        return (self.enc.sizes, self.enc.act, self.enc.beta, self.dec.sizes, self.dec.act,
                self.dec.beta)

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
        X = as_matrix(X, "X", self.dtype, width=self.input_dim)
        _same_as_input(X, Y, "Y")
        X, _, validation_data = split_validation(X, X, validation_data, validation_split)
        check_targets(X, "X", self.loss)
        check_optimizer(self.optimizer, self.dtype)
        n = X.shape[0]
        epochs = as_int(epochs, "epochs", 0, INT64_MAX)
        batch = self._batch_size(batch_size, n)
        max_wrong, loss_tol, python_callbacks = split_callbacks(callbacks)
        validate = self._validator(validation_data)
        opt = self.optimizer
        if opt.m is None or opt.m.shape != self._params.shape:
            opt.reset(self._params.size, self.dtype)

        def run_chunk(records, start, count):
            first = self.epochs_trained_ + 1
            weights = self._kl_weights(first, count)
            # The optimizer's settings as they are now: a callback may have changed them.
            t = np.array([opt.t], dtype=np.int64)
            try:
                return _core.vae_train(
                    *self._stacks(), self._params, self._grads, X, opt.m, opt.v, t, self.rng_state,
                    *(records[key][start:start + count] for key in KEYS), weights,
                    loss=LOSSES[self.loss], batch=batch, shuffle=bool(shuffle), epochs=count,
                    **opt._core_kwargs(), loss_tol=loss_tol, max_wrong=max_wrong,
                    nthreads=self.threads)
            finally:
                opt.t = int(t[0])

        return fit_loop(self, run_chunk, epochs, KEYS, python_callbacks, validate, verbose)

    _batch_size = Autoencoder._batch_size

    def _validator(self, validation_data):
        if validation_data is None:
            return None
        Xv, Yv = validation_pair(validation_data)
        Xv = as_matrix(Xv, "validation_data", self.dtype, width=self.input_dim)
        _same_as_input(Xv, Yv, "validation_data Y")
        check_targets(Xv, "validation_data", self.loss)
        eps = self._fixed_eps(Xv.shape[0], 0)

        def validate():
            total, recon, kl = self._loss_terms(Xv, eps, self.kl_weight(self.epochs_trained_ + 1))
            return {"val_loss": total, "val_reconstruction_loss": recon, "val_kl_loss": kl}
        return validate

    def _fixed_eps(self, n, seed):
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(self.dtype)

    def _loss_terms(self, X, eps, weight, grad=False):
        if grad:
            self._grads[...] = 0
        return _core.vae_loss_grad(*self._stacks(), self._params, self._grads if grad else None,
                                   X, eps, LOSSES[self.loss], float(weight), self.threads)

    def evaluate(self, X, seed=0, return_terms=False):
        """The loss of X with ε drawn from ``seed`` (deterministic) and the full KL weight β.

        Returns the total, or with ``return_terms`` a dict of 'loss', 'reconstruction_loss' and
        'kl_loss'.
        """
        X = as_matrix(X, "X", self.dtype, width=self.input_dim)
        check_targets(X, "X", self.loss)
        total, recon, kl = self._loss_terms(X, self._fixed_eps(X.shape[0], seed), self.beta)
        if return_terms:
            return {"loss": total, "reconstruction_loss": recon, "kl_loss": kl}
        return total

    def loss_grad(self, X, eps, kl_weight=None):
        """The loss terms of X as one batch for the given ε (n, latent_dim), and the gradient of
        the total with respect to ``params``: (total, recon, kl, grads (n_params,) copy)."""
        X = as_matrix(X, "X", self.dtype, width=self.input_dim)
        check_targets(X, "X", self.loss)
        eps = as_matrix(eps, "eps", self.dtype, width=self.latent_dim, rows=X.shape[0],
                        width_what="latent_dim")
        w = self.beta if kl_weight is None else as_float(kl_weight, "kl_weight", 0.0)
        total, recon, kl = self._loss_terms(X, eps, w, grad=True)
        return total, recon, kl, self._grads.copy()

    # ---- inference ----
    def encode(self, X, return_logvar=False):
        """The mean μ (n, latent_dim) of the posterior of each row of X, deterministically;
        with ``return_logvar``, (μ, logvar), logvar clamped to [-30, 20] as in training."""
        h = self.enc.forward(X, 0, self.enc.L, self.threads)
        mu, logvar = h[:, :self.latent_dim].copy(), h[:, self.latent_dim:]
        if return_logvar:
            return mu, np.clip(logvar, LOGVAR_MIN, LOGVAR_MAX)
        return mu

    def decode(self, Z):
        """Outputs (n, input_dim) decoded from latent points Z (n, latent_dim)."""
        Z = as_matrix(Z, "Z", self.dtype, width=self.latent_dim, width_what="latent_dim")
        return self.dec.forward(Z, 0, self.dec.L, self.threads, name="Z")

    def reconstruct(self, X):
        """Decode the mean code of X (no sampling): (n, input_dim)."""
        return self.decode(self.encode(X))

    predict = reconstruct
    __call__ = reconstruct

    def sample(self, n=1, seed=None, return_latent=False):
        """Decode n points drawn from the prior N(0, I): (n, input_dim), and Z with ``return_latent``.

        ``seed`` seeds a NumPy generator for Z (None: fresh entropy); the training generator is
        left untouched.
        """
        n = as_int(n, "n", 1)
        check_alloc(n, 8 * (self.latent_dim + self.input_dim), "n", "samples")
        Z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        out = self.decode(Z)
        return (out, Z) if return_latent else out

    def latent_grid(self, n=8, low=-4.0, high=4.0, dims=(0, 1)):
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

    def interpolate(self, a, b, steps=10):
        """Decode ``steps`` evenly spaced points on the segment between the mean codes of the
        inputs a and b (each a vector of input_dim): (steps, input_dim)."""
        steps = as_int(steps, "steps", 2)
        codes = self.encode(np.concatenate([as_vector(v, name, self.dtype, self.input_dim)
                                            for v, name in ((a, "a"), (b, "b"))]))
        w = np.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1 - w) * codes[0] + w * codes[1])

    # ---- description ----
    def get_config(self):
        """The constructor arguments, JSON-ready: ``VAE(**vae.get_config())`` rebuilds the same
        architecture (with fresh weights; see :meth:`load_state_dict`)."""
        return {"encoder": list(self.encoder), "latent_dim": self.latent_dim,
                "decoder": list(self.decoder),
                "activation": self._activation_config,
                "output_activation": [self.output_activation.name, self.output_activation.beta],
                "loss": self.loss, "beta": self.beta, "kl_warmup_epochs": self.kl_warmup_epochs,
                "optimizer": self.optimizer.get_config(),
                "seed": self._seed if isinstance(self._seed, int) else None,
                "dtype": self.dtype.name, "threads": self.threads}

    def summary(self, print_fn=print):
        """Print the layers, their activations and parameter counts, as Keras does."""
        rows = [("input", self.input_dim, "", 0)]
        for l, (act, (W, b)) in enumerate(zip(self.enc.activations, self.enc.weights), start=1):
            name = f"dense_{l} (μ, logvar)" if l == self.enc.L else f"dense_{l} (encoder)"
            rows.append((name, W.shape[0], str(act), W.size + b.size))
        rows.append(("z = μ + σ·ε", self.latent_dim, "sampling", 0))
        for l, (act, (W, b)) in enumerate(zip(self.dec.activations, self.dec.weights),
                                          start=self.enc.L + 1):
            role = "output" if l == self.enc.L + self.dec.L else "decoder"
            rows.append((f"dense_{l} ({role})", W.shape[0], str(act), W.size + b.size))
        warm = f", KL warm-up {self.kl_warmup_epochs} epochs" if self.kl_warmup_epochs else ""
        print_fn(format_summary(f'Model: "VAE" ({self.dtype.name}, loss {self.loss} + '
                                f'{self.beta:g}·KL{warm}, optimizer {type(self.optimizer).__name__})',
                                rows, self.n_params))

    def __repr__(self):
        return (f"VAE(encoder={self.encoder}, latent_dim={self.latent_dim}, decoder={self.decoder}, "
                f"loss={self.loss!r}, beta={self.beta:g}, epochs_trained={self.epochs_trained_})")


def _same_as_input(X, Y, name):
    """Refuse a target Y other than None or X itself (same values): a VAE reconstructs X."""
    if Y is None or Y is X:
        return
    if isinstance(Y, (int, float)) and not isinstance(Y, bool):
        raise TypeError(f"{name}: expected None or X, got {Y!r}; give epochs by name: "
                        f"fit(X, epochs={Y!r})")
    Yv = as_matrix(Y, name, X.dtype, width=X.shape[1], rows=X.shape[0],
                   width_what="the input width: a VAE reconstructs its input")
    if not np.array_equal(Yv, X):
        r, c = np.argwhere(Yv != X)[0]
        raise ValueError(f"{name}: a VAE reconstructs its input, so the target must be X itself "
                         f"(or None); it differs from X at row {r}, column {c}. To map X to "
                         f"another Y, train an Autoencoder (fit(X, Y)).")


def _n_params(sizes):
    return sum(int(o) * (int(i) + 1) for i, o in zip(sizes[:-1], sizes[1:]))
