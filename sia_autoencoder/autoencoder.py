"""The dense autoencoder: the course's architecture notation, trained by the C core."""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from ._typing import ArrayLike

from . import _core, initializers
from . import layers as _layers, regularizers as _regularizers
from ._net import (LayerNet, check_sizes, dense_layers, format_summary, is_activation_list,
                   loss_code, parse_activation, parse_dtype, parse_loss, parse_reduction,
                   parse_threads)
from ._training import (fit_loop, metric_logs, parse_metrics, split_callbacks, split_validation,
                        validation_pair, watch_collapse)
from ._validate import (INT64_MAX, as_float, as_int, as_matrix, as_range, as_vector,
                        check_activations, check_alloc, check_optimizer, check_rng_state,
                        check_targets)
from .interop import Interop
from .io import Persistable
from .optimizers import get_optimizer

__all__ = ["Autoencoder", "NOISE_KINDS"]

NOISE_KINDS = {"salt_and_pepper": _core.NOISE_SALT_PEPPER, "bit_flip": _core.NOISE_BIT_FLIP,
               "gaussian": _core.NOISE_GAUSSIAN}


def find_latent(sizes, latent_index=None):
    """The index of the latent layer: the narrowest inner layer, unless given."""
    if latent_index is not None:
        return as_int(latent_index, "latent_index", 1, len(sizes) - 2)
    inner = sizes[1:-1]
    narrowest = min(inner)
    where = [i + 1 for i, s in enumerate(inner) if s == narrowest]
    if len(where) > 1:
        raise ValueError(f"layers {sizes}: the narrowest layer ({narrowest}) appears at positions "
                         f"{where}; pass latent_index= to say which one is the latent space")
    return where[0]


def reconstruction_errors(out, X, loss, per_sample=True, reduction="sum"):
    """Each sample's loss (n,) float64 of the reconstruction ``out`` of ``X``, reduced over its
    features as in training (summed, or averaged with ``reduction='mean'``): squared error,
    absolute error, or binary cross-entropy with ``out`` clamped to [1e-7, 1 - 1e-7] (the
    core's clamp, so that a saturated output costs a finite amount).
    With ``per_sample=False``, their mean."""
    if not isinstance(per_sample, (bool, np.bool_)):
        raise TypeError(f"per_sample: expected True or False, got {per_sample!r}")
    y = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    t = np.asarray(X, dtype=np.float64).reshape(len(out), -1)
    if loss == "mse":
        elementwise = np.square(y - t)
    elif loss == "mae":
        elementwise = np.abs(y - t)
    else:
        y = np.clip(y, 1e-7, 1 - 1e-7)
        elementwise = -(t * np.log(y) + (1 - t) * np.log1p(-y))
    errors = elementwise.mean(axis=1) if reduction == "mean" else elementwise.sum(axis=1)
    return errors if per_sample else float(errors.mean())


class _DefaultBatch(int):
    """The default batch size, 32 (capped at n, as any batch size is)."""


DEFAULT_BATCH = _DefaultBatch(32)


def _seed_sequence(seed):
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed if seed is not None else np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0 or None, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def _seed_streams(seed):
    """From a seed: its entropy (``seed_``), the generator of the initial weights, and the C
    core's rng state for the training loop (order, noise, ε), drawn from two independent
    streams of the seed."""
    ss = _seed_sequence(seed)
    init_ss, loop_ss = ss.spawn(2)
    rng_state = np.zeros(4, dtype=np.uint64)
    _core.rng_seed(rng_state, int(loop_ss.generate_state(1, np.uint64)[0]))
    return ss.entropy, np.random.default_rng(init_ss), rng_state


def as_rows(X, name, dtype, width, sample_shape=None, rows=None, width_what="the model's input width"):
    """X as a C-contiguous (n, width) array: rows of ``width`` values, or samples of any shape
    with ``width`` values each (images (n, h, w, c) or (n, h, w)), flattened in C order."""
    arr = X if isinstance(X, np.ndarray) else None
    if arr is None:
        try:
            arr = np.asarray(X)
        except (ValueError, TypeError):
            arr = None  # as_matrix says what is wrong with it
    if arr is not None and arr.ndim > 2 and arr.dtype.kind in "biuf":
        per = int(np.prod(arr.shape[1:]))
        if per != width:
            want = f" of shape {tuple(sample_shape)}" if sample_shape and len(sample_shape) > 1 else ""
            raise ValueError(f"{name}: expected a 2-D array (n_samples, {width}) or samples{want} "
                             f"of {width} values ({width_what}), got shape {arr.shape}")
        X = arr.reshape(arr.shape[0], per)
    return as_matrix(X, name, dtype, width=width, rows=rows, width_what=width_what)


def sample_shape_of(X):
    """The per-sample shape of an input as given: () for rows, (h, w, ...) for images."""
    try:
        shape = np.shape(X)
    except (ValueError, TypeError):  # ragged: as_rows says what is wrong with it
        return ()
    return tuple(shape[1:]) if len(shape) > 2 else ()


def shaped(out, shape):
    """(n, values) rows back in a per-sample shape (unchanged for () or a flat shape)."""
    if len(shape) > 1 and int(np.prod(shape)) == out.shape[1]:
        return out.reshape((out.shape[0],) + tuple(shape))
    return out


def network_from_spec(layers, encoder, decoder, activation, latent_activation, output_activation,
                      latent_index, input_shape):
    """The layers, input shape and latent index of an Autoencoder's arguments, and the sizes
    list of the dense notation (None for layer lists)."""
    if layers is not None and (encoder is not None or decoder is not None):
        raise ValueError("layers, encoder/decoder: give the whole network as layers=[...] or its "
                         "two halves as encoder=[...], decoder=[...], not both")
    if layers is None and (encoder is None or decoder is None):
        raise ValueError("layers: expected the widths [35, 25, 15, 10, 2, 10, 15, 25, 35], a list "
                         "of layers, or encoder=[...] and decoder=[...]")
    if layers is not None and not (hasattr(layers, "__len__") and not isinstance(layers, (str, bytes))
                                   and any(isinstance(x, (_layers.Layer, dict)) for x in layers)):
        return dense_notation(layers, activation, latent_activation, output_activation,
                              latent_index, input_shape)
    if input_shape is None:
        raise ValueError("input_shape: a network given as layers needs the shape of one sample, "
                         "e.g. input_shape=(28, 28, 1) or (784,)")
    input_shape = _layers._shape(input_shape, "input_shape")
    hidden = parse_activation(activation, "activation") if not is_activation_list(activation) else None

    def half(items, name, last_act):
        if isinstance(items, (str, bytes)) or not hasattr(items, "__len__") or len(items) == 0:
            raise ValueError(f"{name}: expected a non-empty list of layers or widths, got {items!r}")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                if hidden is None:
                    raise ValueError("activation: a per-layer list is for the dense notation; give "
                                     "each Dense layer its activation")
                act = last_act if i == len(items) - 1 else hidden
                out.append(_layers.Dense(int(item), activation=act))
            else:
                out.append(_layers.from_config(item, f"{name}[{i}]"))
        return out

    if layers is not None:
        net = _layers.resolve_tied([_layers.from_config(x, f"layers[{i}]") for i, x in enumerate(layers)])
        k = None if latent_index is None else as_int(latent_index, "latent_index", 1, len(net) - 1)
    else:
        enc = half(encoder, "encoder", parse_activation(latent_activation or "linear", "latent_activation"))
        dec = half(decoder, "decoder", parse_activation(output_activation, "output_activation"))
        net, k = _layers.resolve_tied(enc + dec), len(enc)
    if len(input_shape) > 1 and isinstance(net[0], _layers.Dense):
        # images into a dense first layer: flattened, as the dense notation does (outputs come
        # back in the input's shape)
        input_shape = (int(np.prod(input_shape)),)
    return net, input_shape, k, None


def dense_notation(layers, activation, latent_activation, output_activation, latent_index,
                   input_shape):
    """The Dense layers of ``[35, 25, 15, 10, 2, 10, 15, 25, 35]``, exactly as before layers
    existed (same initial draws, same flat layout W1, b1, W2, b2, ...)."""
    sizes = check_sizes(layers)
    if len(sizes) < 3:
        raise ValueError(f"layers: expected at least 3 widths (input, latent, output), got {sizes}")
    if sizes[0] != sizes[-1]:
        raise ValueError(f"layers: the output width must equal the input width, got input "
                         f"{sizes[0]} and output {sizes[-1]}")
    latent = find_latent(sizes, latent_index)
    L = len(sizes) - 1
    if is_activation_list(activation):
        if len(activation) != L:
            raise ValueError(f"activation: a list needs one entry per weight layer ({L}), "
                             f"got {len(activation)}")
        acts = [parse_activation(a, f"activation[{i}]") for i, a in enumerate(activation)]
    else:
        hidden = parse_activation(activation, "activation")
        acts = [hidden] * L
        if latent_activation is None:  # the only hidden layer takes `activation`
            acts[latent - 1] = hidden if L == 2 else parse_activation("linear")
        else:
            acts[latent - 1] = parse_activation(latent_activation, "latent_activation")
        acts[-1] = parse_activation(output_activation, "output_activation")
    if input_shape is None:
        input_shape = (sizes[0],)
    else:
        input_shape = _layers._shape(input_shape, "input_shape")
        if int(np.prod(input_shape)) != sizes[0]:
            raise ValueError(f"input_shape: {input_shape} has {int(np.prod(input_shape))} values, "
                             f"the first width of layers is {sizes[0]}")
    return dense_layers(sizes, acts), (sizes[0],), latent, sizes


TERM_KEYS = ("loss", "reconstruction_loss", "kl_loss", "regularization_loss")  # net_train's records


def dense_extras(layers, sizes, latent, tied, activity_regularizer):
    """Tie the mirrored layers of the dense notation (``tied=True``) and put the activity
    regularizers on them; returns (tied, {width index: regularizer}) for get_config.

    ``activity_regularizer``: one regularizer (on the latent layer), or a dict from the index
    of a width in ``layers`` (1 .. len(layers) - 1: the layer that outputs it) to one."""
    if tied and sizes is None:
        raise ValueError("tied: tied=True is for the dense notation [784, 100, 30, 100, 784]; in "
                         "a list of layers write DenseTranspose(of=the_dense_layer)")
    regs = {}
    if activity_regularizer is not None:
        if sizes is None:
            raise ValueError("activity_regularizer: for a list of layers, give each Dense layer "
                             "its own activity_regularizer=")
        items = activity_regularizer.items() if isinstance(activity_regularizer, dict) \
            else [(latent, activity_regularizer)]
        for k, spec in items:
            if isinstance(k, str) and k.strip().isdigit():
                k = int(k)   # from JSON
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < len(sizes):
                raise ValueError(f"activity_regularizer: keys are indices of layers' widths, "
                                 f"1 .. {len(sizes) - 1}, got {k!r}")
            layer = layers[k - 1]
            layer.activity_regularizer = _layers.check_regularizer(
                spec, layer.activation, f"activity_regularizer[{k}]")
            regs[int(k)] = layer.activity_regularizer
    if tied:
        L = len(sizes) - 1
        if list(sizes) != list(reversed(sizes)) or 2 * latent != L:
            raise ValueError(f"tied: tied weights need a decoder that mirrors the encoder, got "
                             f"layers {list(sizes)}")
        for j in range(latent, L):   # decoder layer j (0-based) inverts encoder layer L-1-j
            of, old = layers[L - 1 - j], layers[j]
            layers[j] = _layers.DenseTranspose(of, activation=old.activation)
            if getattr(old, "activity_regularizer", None) is not None:
                raise ValueError(f"activity_regularizer[{j + 1}]: a tied decoder layer takes no "
                                 f"activity regularizer here; put it on an encoder layer")
    return bool(tied), regs


class Autoencoder(Persistable, Interop):
    """An autoencoder: dense as the course writes it, ``[35, 25, 15, 10, 2, 10, 15, 25, 35]``, or
    any list of layers (:mod:`sia_autoencoder.layers`).

    Parameters
    ----------
    layers : list of int, or list of layers
        Every width from the input to the output; the narrowest inner layer is the latent space.
        Encoder and decoder need not mirror each other; input and output widths must match.
        Or the whole network as layers (with ``input_shape``): the code is the narrowest inner
        output unless ``latent_index`` (the number of the encoder's layers) says otherwise.
    encoder, decoder : lists of layers (or ints: the widths of Dense layers), optional
        The two halves instead of ``layers``; the code is the encoder's output. Images are
        channels last; outputs come back in the input's shape.
    input_shape : tuple, optional
        The shape of one sample, e.g. ``(28, 28, 1)``, ``(28, 28)`` or ``(784,)``: needed for a
        network given as layers; with the widths notation, the shape ``decode`` returns.
    activation : str, (name, beta), or list
        The hidden layers' activation: 'linear' (or None, as in Keras), 'logistic'
        (1/(1+exp(−2βx))), 'tanh' (tanh(βx)), 'relu', 'elu' (x, or β(eˣ − 1) below 0: β is Keras's
        ``alpha``), 'selu', or 'sigmoid' (logistic with β = 0.5). A list gives one per weight layer
        (``len(layers) - 1`` entries) and overrides the two below.
    latent_activation : str or (name, beta), optional
        The latent layer's activation. By default 'linear', except when the latent layer is the
        only hidden layer (``[784, 32, 784]``): then it takes ``activation``, as Keras's
        ``Dense(32, activation="relu")`` would.
    output_activation : str or (name, beta)
        The output layer's activation.
    loss : 'bce', 'mse' or 'mae'
        Binary cross-entropy (the default, for data in [0, 1] with the logistic output), squared
        error or absolute error; Keras's names ('binary_crossentropy', 'mean_squared_error',
        'mean_absolute_error') work too. Averaged over the batch, and over the features as
        ``loss_reduction`` says.
    loss_reduction : 'sum' or 'mean'
        'sum' (the course's convention) sums the loss over the features; 'mean' averages over
        them too, as Keras and PyTorch report it, so that their learning rates carry over (with
        'sum', a gradient on 784 pixels is 784 times larger).
    metrics : list of str, optional
        Keras's metrics to log in the history after every epoch: 'mse', 'mae', 'bce' (or
        'mean_squared_error', ...), the mean over every element, on the training data (and
        as 'val_mse', ... on validation data). Keras averages its training metrics over the
        epoch's batches; here they are computed with the epoch's final weights.
    optimizer : str or an instance from :mod:`sia_autoencoder.optimizers`
        'adam', 'adamw', 'nadam', 'rmsprop', 'adadelta', 'momentum', 'gd' (or 'sgd').
    learning_rate : float, optional
        Overrides the optimizer's default (Adam, AdamW, Nadam, RMSprop 1e-3, Adadelta 1,
        gradient descent and momentum 1e-2).
    weight_decay : float, optional
        Overrides the optimizer's weight decay: decoupled for AdamW (p ← p − lr·wd·p, default
        0.004), an L2 term wd·p added to the gradient for the others (default 0), as
        ``torch.optim``'s ``weight_decay``.
    seed : int or None
        Seeds the weights, the sample order and the noise. None draws fresh entropy.
    dtype : 'float32' or 'float64'
    threads : int, 'auto' or None
        Compute threads (1 by default; 'auto' or None: every core). With 2+, each training
        step of 8 rows or more runs as one part of its batch per thread (gradients summed in a
        fixed order), and products too large for that (e.g. 784-512 in batches of 128) are
        split instead. Worth it on an idle machine: a thread that waits for a busy core costs
        more than it saves. Results are bit-identical for a given seed, data and thread count.
    latent_index : int, optional
        Which entry of ``layers`` is the latent space, when the narrowest is ambiguous.
    kernel_initializer : str, function, or list, optional
        How the weights start: Keras's names ('glorot_uniform', 'he_uniform', 'glorot_normal',
        'he_normal', 'lecun_uniform', 'lecun_normal') or a function ``(rng, shape, fan_in,
        fan_out)`` (see :mod:`sia_autoencoder.initializers`); a list gives one per layer with
        weights. None (the default): each layer's own, by default Glorot uniform, and He
        uniform for relu layers. Biases start at 0.
    """

    def __init__(self, layers=None, activation="tanh", latent_activation=None,
                 output_activation="logistic", loss="bce", optimizer="adam", learning_rate=None,
                 seed=None, dtype="float32", threads=1, latent_index=None, encoder=None,
                 decoder=None, input_shape=None, weight_decay=None, kernel_initializer=None,
                 loss_reduction="sum", metrics=None, tied=False, activity_regularizer=None):
        net_layers, in_shape, latent, sizes = network_from_spec(
            layers, encoder, decoder, activation, latent_activation, output_activation,
            latent_index, input_shape)
        self._tied, self._regs = dense_extras(net_layers, sizes, latent, tied, activity_regularizer)
        self.kernel_initializer = initializers.assign(net_layers, kernel_initializer)
        self.loss = parse_loss(loss)
        self.loss_reduction = parse_reduction(loss_reduction)
        self.metrics = [name for name, _ in parse_metrics(metrics)]
        self.optimizer = get_optimizer(optimizer, learning_rate, weight_decay)
        self.dtype = parse_dtype(dtype)
        check_optimizer(self.optimizer, self.dtype)
        self.threads = parse_threads(threads)
        self._seed = seed
        self.seed_, init_rng, self.rng_state = _seed_streams(seed)
        self.net = LayerNet(net_layers, in_shape, self.dtype)
        if int(np.prod(self.net.output_shape)) != int(np.prod(in_shape)):
            last = net_layers[-1]
            raise ValueError(f"{last.where()}: the decoder's output {self.net.output_shape} does not "
                             f"match the input shape {in_shape}{_layers.shape_hint(net_layers)}")
        if latent is None:  # one list of layers: the code is the narrowest inner output
            widths = [self.net.width(j) for j in range(1, self.net.L)]
            where = [j + 1 for j, w in enumerate(widths) if w == min(widths)]
            if len(where) > 1:
                raise ValueError(f"layers: the narrowest inner output ({min(widths)} values) comes "
                                 f"after layers {[j - 1 for j in where]}; pass latent_index= (the "
                                 f"number of the encoder's layers) to say which is the code")
            latent = where[0]
        self.latent_index = latent
        self.layers = sizes if sizes is not None else self.net.layers
        self.activations = [layer.activation for layer in self.net.layers]
        check_activations(self.activations, self.dtype)
        # the user's sample shape (outputs of decode come back in it)
        self.input_shape = tuple(_layers._shape(input_shape, "input_shape")) if input_shape is not None \
            else in_shape
        self._spec = dict(encoder=encoder, decoder=decoder, dense=sizes is not None,
                          whole=layers is not None and sizes is None)
        self.net.init(init_rng)
        self.optimizer.reset(self.net.params.size, self.dtype)
        self.epochs_trained_ = 0
        self.history_ = None
        self.stop_training = False

    @property
    def n_inputs(self):
        return self.net.width(0)

    @property
    def latent_shape(self):
        """The per-sample shape of the codes: (k,) or (h, w, c)."""
        return self.net.layers[self.latent_index - 1].output_shape

    # ---- parameters ----
    @property
    def rng_state(self):
        """The training loop's generator state (xoshiro256**), uint64 (4,); never all zeros."""
        return self._rng_state

    @rng_state.setter
    def rng_state(self, state):
        self._rng_state = check_rng_state(state)

    @property
    def params(self) -> np.ndarray:
        """All weights and biases, one flat vector (W1, b1, W2, b2, ...); write to it in place."""
        return self.net.params

    @property
    def weights(self):
        """[(W, b), ...] per layer: views into ``params``, W of shape (n_out, n_in)."""
        return self.net.weights

    def parameters(self):
        """The weight and bias arrays of every layer, in order (views into ``params``)."""
        return self.net.parameters()

    @property
    def n_params(self) -> int:
        return int(self.net.params.size)

    @property
    def latent_dim(self) -> int:
        """The number of values of a code (the latent layer's width)."""
        return self.net.width(self.latent_index)

    @property
    def _loss_code(self):
        return loss_code(self.loss, self.loss_reduction)

    # ---- training ----
    def fit(self, X, Y=None, epochs=1, batch_size=DEFAULT_BATCH, shuffle=True, validation_data=None,
            callbacks=None, verbose=0, noise=None, noise_level=0.0, validation_split=0.0):
        """Train on X -> Y (Y defaults to X).

        Parameters
        ----------
        X : array (n, layers[0]); Y : array (n, layers[-1]), optional
        epochs : int
        batch_size : int, None, 'online' or 'batch'
            Samples per step: 1 (online), n (batch: None or 'batch'), or anything between
            (mini-batch). A size larger than n uses the whole set, as in Keras.
        shuffle : bool
            Reshuffle the sample order every epoch, from the model's seed.
        validation_data : X_val, (X_val, Y_val) or [X_val, Y_val], optional
            Its loss is logged as 'val_loss' after every epoch.
        validation_split : float in [0, 1)
            Hold out the last fraction of the rows of X and Y (before shuffling) as validation
            data, as Keras does; ignored when ``validation_data`` is given.
        callbacks : list of :class:`~sia_autoencoder.callbacks.Callback`
            e.g. ``PixelErrorStop(1)``, ``LossThreshold(1e-3)``, ``EarlyStopping(...)``,
            ``ReduceLROnPlateau(...)``, ``ModelCheckpoint(path)``, ``CSVLogger(path)``.
        verbose : 0, 1, 2 or 'auto'
            Silent, a progress bar, or one line per epoch; 'auto' (Keras's default) is 1.
        noise : 'salt_and_pepper', 'bit_flip' or 'gaussian', optional
            Denoising: each batch's inputs are corrupted with fresh noise of ``noise_level``
            (a probability, or σ for Gaussian) as it is drawn; the targets stay clean.

        Returns
        -------
        :class:`~sia_autoencoder.callbacks.History` with per-epoch 'loss' (and 'val_loss', and
        the metrics).

        A warning (:class:`~sia_autoencoder._training.CollapseWarning`) names the epoch by which
        training collapsed to one output for every sample, if it does.
        """
        X, Y, validation_data = self._fit_data(X, Y, validation_data, validation_split)
        check_optimizer(self.optimizer, self.dtype)
        epochs = as_int(epochs, "epochs", 0, INT64_MAX)
        batch = self._batch_size(batch_size, X.shape[0])
        noise_code, level = self._noise(noise, noise_level)
        max_wrong, loss_tol, python_callbacks = split_callbacks(callbacks)
        validate = self._validator(validation_data, X, Y)

        keys = self._history_keys()

        def run_chunk(records, start, count):  # the learning rate as it is now (callbacks)
            recs = [records[k][start:start + count] if k in records else None for k in TERM_KEYS]
            return self._train_in_c(X, Y, recs, count, batch, shuffle,
                                    self.optimizer.learning_rate, noise_code, level, max_wrong,
                                    loss_tol)

        run_chunk = watch_collapse(self, X, run_chunk)
        return fit_loop(self, run_chunk, epochs, keys, python_callbacks, validate, verbose)

    def _penalised(self):
        """Whether a layer has an activity regularizer: the history then logs the terms apart."""
        return any(layer.regularizer_fields()[0] != _core.REG_NONE for layer in self.net.layers)

    def _history_keys(self):
        return ["loss", "reconstruction_loss", "regularization_loss"] if self._penalised() else ["loss"]

    def _train_in_c(self, X, Y, records, epochs, batch, shuffle, lr, noise, level, max_wrong,
                    loss_tol):
        """One ``_core.net_train`` call: ``epochs`` epochs of X -> Y, each epoch's loss, and its
        terms, into ``records`` (loss, reconstruction, KL, penalties: arrays or None; one
        array: the loss alone).
        Returns (epochs done, status); the optimizer's step count follows even on Ctrl-C."""
        opt, net = self.optimizer, self.net
        if opt.m is None or opt.m.shape != self.params.shape:
            opt.reset(self.params.size, self.dtype)
        if isinstance(records, np.ndarray):
            records = [records]
        t = np.array([opt.t], dtype=np.int64)
        try:
            return net.train(
                X, Y, opt, t, self.rng_state, records, loss=self._loss_code, batch=batch,
                shuffle=bool(shuffle), epochs=epochs, **opt._core_kwargs(lr), loss_tol=loss_tol,
                max_wrong=max_wrong, noise=noise, noise_level=level, nthreads=self.threads)
        finally:
            opt.t = int(t[0])

    def _fit_data(self, X, Y, validation_data, validation_split):
        """fit's X and Y as rows of this model (Y defaults to X; BCE targets checked), with
        ``validation_split``'s last rows held out as the validation data."""
        X = as_rows(X, "X", self.dtype, self.n_inputs, self.input_shape)
        Y = X if Y is None else as_rows(Y, "Y", self.dtype, self.net.width(self.net.L),
                                        self.net.output_shape, rows=X.shape[0],
                                        width_what="the model's output width")
        X, Y, validation_data = split_validation(X, Y, validation_data, validation_split)
        check_targets(Y, "X" if Y is X else "Y", self.loss)
        return X, Y, validation_data

    def _batch_size(self, batch_size, n):
        if batch_size is None or batch_size == "batch":
            return n
        if batch_size == "online":
            return 1
        if isinstance(batch_size, str):
            raise ValueError(f"batch_size: expected an integer >= 1, None, 'online' or "
                             f"'batch', got {batch_size!r}")
        batch = as_int(batch_size, "batch_size")
        if batch < 1:
            raise ValueError(f"batch_size: expected an integer >= 1, None, 'online' or 'batch', "
                             f"got {batch}")
        return min(batch, n)  # larger than the data: the whole set, as in Keras

    def _noise(self, noise, level):
        if noise is None:
            return _core.NOISE_NONE, 0.0
        key = noise.lower().replace("-", "_") if isinstance(noise, str) else noise
        if key not in NOISE_KINDS:
            raise ValueError(f"noise: expected one of {', '.join(NOISE_KINDS)} or None, got {noise!r}")
        high = None if key == "gaussian" else 1.0
        return NOISE_KINDS[key], as_float(level, "noise_level", 0.0, high)

    def _validator(self, validation_data, X=None, Y=None):
        """The per-epoch logs beyond the loss: validation loss, and the metrics on X -> Y and on
        the validation data; None when there are none."""
        metrics = parse_metrics(self.metrics)
        if validation_data is None:
            if not metrics:
                return None
            return lambda: metric_logs(metrics, self._rows_out, X, Y)
        Xv, Yv = validation_pair(validation_data)
        Xv = as_rows(Xv, "validation_data X", self.dtype, self.n_inputs, self.input_shape)
        Yv = Xv if Yv is None else as_rows(Yv, "validation_data Y", self.dtype,
                                           self.net.width(self.net.L), self.net.output_shape,
                                           rows=Xv.shape[0], width_what="the model's output width")
        check_targets(Yv, "validation_data X" if Yv is Xv else "validation_data Y", self.loss)

        def logs():
            out = metric_logs(metrics, self._rows_out, X, Y) if X is not None else {}
            total, recon, _, pen = self.net.loss_terms(Xv, Yv, self._loss_code, self.threads)
            out["val_loss"] = total
            if self._penalised():
                out["val_reconstruction_loss"], out["val_regularization_loss"] = recon, pen
            out.update(metric_logs(metrics, self._rows_out, Xv, Yv, "val_"))
            return out
        return logs

    def _rows_out(self, X):
        """The model's output for rows X (n, inputs), as rows (n, outputs)."""
        return self.net.forward(X, 0, self.net.L, self.threads)

    # ---- inference ----
    def encode(self, X: ArrayLike) -> np.ndarray:
        """Latent codes of X (n, input values, or images (n, h, w[, c])): (n, latent_dim), or
        (n, h, w, c) for a convolutional code."""
        X = as_rows(X, "X", self.dtype, self.n_inputs, self.input_shape)
        return shaped(self.net.forward(X, 0, self.latent_index, self.threads), self.latent_shape)

    def layer_output(self, X: ArrayLike, layer: int) -> np.ndarray:
        """The output of layer ``layer`` (1 .. number of layers; the latent layer is
        ``latent_index``) for X, deterministically (no noise, no dropout): (n, its width)."""
        layer = as_int(layer, "layer", 1, self.net.L)
        X = as_rows(X, "X", self.dtype, self.n_inputs, self.input_shape)
        return self.net.forward(X, 0, layer, self.threads)

    def hash(self, X: ArrayLike, threshold: float = 0.5) -> np.ndarray:
        """Semantic hashing: the codes of X thresholded at ``threshold``, bit j for unit j, read
        as one integer per sample: (n,) int64. For codes of at most 63 units."""
        Z = np.asarray(self.encode(X)).reshape(len(X) if hasattr(X, "__len__") else 1, -1)
        k = Z.shape[1]
        if k > 63:
            raise ValueError(f"hash: the code has {k} units; a hash holds at most 63 bits")
        return ((Z > threshold).astype(np.int64) << np.arange(k, dtype=np.int64)).sum(axis=1)

    def decode(self, Z: ArrayLike) -> np.ndarray:
        """Outputs decoded from latent points Z (n, latent_dim) (or codes of the latent
        shape): (n, outputs), images in the model's input shape."""
        Z = as_rows(Z, "Z", self.dtype, self.latent_dim, self.latent_shape,
                    width_what=f"the width of layer {self.latent_index}")
        out = self.net.forward(Z, self.latent_index, self.net.L, self.threads, name="Z")
        return shaped(out, self.input_shape)

    def reconstruct(self, X: ArrayLike) -> np.ndarray:
        """The autoencoder's output for X, in X's shape (rows or images)."""
        shape = sample_shape_of(X)
        X = as_rows(X, "X", self.dtype, self.n_inputs, self.input_shape)
        return shaped(self.net.forward(X, 0, self.net.L, self.threads), shape)

    predict = reconstruct
    __call__ = reconstruct

    def evaluate(self, X: ArrayLike, Y: Optional[ArrayLike] = None) -> float:
        """The loss of X -> Y (Y defaults to X), as in training."""
        X = as_rows(X, "X", self.dtype, self.n_inputs, self.input_shape)
        Y = X if Y is None else as_rows(Y, "Y", self.dtype, self.net.width(self.net.L),
                                        self.net.output_shape, rows=X.shape[0],
                                        width_what="the model's output width")
        check_targets(Y, "X" if Y is X else "Y", self.loss)
        return self.net.loss(X, Y, self._loss_code, self.threads)

    def reconstruction_error(self, X: ArrayLike, per_sample: bool = True) -> np.ndarray:
        """The loss of each sample's reconstruction (n,), reduced over its features as in training
        (``loss_reduction``): its mean is ``evaluate(X)`` without regularization (up to rounding,
        and BCE's clamp of a saturated output). With ``per_sample=False``, that mean. Large
        errors flag samples unlike the training data."""
        return reconstruction_errors(self.reconstruct(X), X, self.loss, per_sample,
                                     self.loss_reduction)

    def loss_grad(self, X: ArrayLike, Y: Optional[ArrayLike] = None) -> Tuple[float, np.ndarray]:
        """The loss of X -> Y (Y defaults to X) as one batch, and its gradient with respect to
        ``params``: (loss, grads (n_params,), a copy in the flat layout of ``params``)."""
        X = as_rows(X, "X", self.dtype, self.n_inputs, self.input_shape)
        Y = X if Y is None else as_rows(Y, "Y", self.dtype, self.net.width(self.net.L),
                                        self.net.output_shape, rows=X.shape[0],
                                        width_what="the model's output width")
        loss = self.net.loss(X, Y, self._loss_code, self.threads, grad=True)
        return loss, self.net.grads.copy()

    def pixel_errors(self, X: ArrayLike, Y: Optional[ArrayLike] = None) -> np.ndarray:
        """Wrong pixels per sample (n,): the reconstruction of X against Y (default X), both
        thresholded at 0.5."""
        X = as_rows(X, "X", self.dtype, self.n_inputs, self.input_shape)
        out = self.net.forward(X, 0, self.net.L, self.threads)
        T = as_rows(X if Y is None else Y, "Y" if Y is not None else "X", self.dtype,
                    self.net.width(self.net.L), self.net.output_shape, rows=out.shape[0],
                    width_what="the model's output width")
        errs = np.empty(out.shape[0], dtype=np.int64)
        _core.pixel_errors(errs, out, T)
        return errs

    def latent_grid(self, n: int = 10, low: Union[float, Sequence[float]] = -1.0,
                    high: Union[float, Sequence[float]] = 1.0) -> Tuple[np.ndarray, np.ndarray]:
        """Decode an n×n grid of latent points over [low, high]² (a 2-D latent space only).

        ``low`` and ``high`` may be pairs to give each axis its own range. The first row of the
        grid is at the top (largest z2), as in a plot. Returns (images (n*n, layers[-1]),
        Z (n*n, 2)).
        """
        if self.latent_dim != 2:
            raise ValueError(f"latent_grid: needs a 2-D latent space, this one has {self.latent_dim}")
        n = as_int(n, "n", 1)
        check_alloc(n * n, 8 * (2 + self.net.width(self.net.L)), "n", f"grid points ({n}²)")
        lo, hi = as_range(low, "low", self.dtype), as_range(high, "high", self.dtype)
        z1 = np.linspace(lo[0], hi[0], n)
        z2 = np.linspace(hi[1], lo[1], n)
        Z = np.stack([np.tile(z1, n), np.repeat(z2, n)], axis=1)
        return self.decode(Z), Z

    def interpolate(self, a: ArrayLike, b: ArrayLike, steps: int = 10) -> np.ndarray:
        """Decode ``steps`` evenly spaced points on the segment between the codes of inputs a and b
        (each a vector of layers[0]): (steps, layers[-1])."""
        steps = as_int(steps, "steps", 2)
        codes = self.encode(np.concatenate([as_vector(v, name, self.dtype, self.n_inputs)
                                            for v, name in ((a, "a"), (b, "b"))]))
        w = np.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1 - w) * codes[0] + w * codes[1])

    # ---- weights in PyTorch's shapes ----
    def get_weights(self) -> List[np.ndarray]:
        """Every layer's arrays in PyTorch's shapes, in order (copies): Dense W (out, in), then
        its bias; Conv2D W (out, in, kh, kw); Conv2DTranspose W (in, out, kh, kw)."""
        return [a for layer in self.net.layers for a in layer.torch_weights(self.net.layer_params(layer))]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Set every layer's arrays from a list in :meth:`get_weights`' order and shapes."""
        weights = list(weights)
        k = 0
        for layer in self.net.layers:
            n = len(layer.torch_weights(self.net.layer_params(layer)))
            if k + n > len(weights):
                raise ValueError(f"weights: expected {len(self.get_weights())} arrays, got {len(weights)}")
            layer.set_torch_weights(self.net.layer_params(layer), weights[k:k + n])
            k += n
        if k != len(weights):
            raise ValueError(f"weights: expected {k} arrays, got {len(weights)}")

    # ---- description ----
    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments, JSON-ready: ``Autoencoder(**ae.get_config())`` rebuilds the
        same architecture (with fresh weights; see :meth:`load_state_dict`)."""
        common = {"loss": self.loss, "loss_reduction": self.loss_reduction,
                  "metrics": list(self.metrics) or None, "optimizer": self.optimizer.get_config(),
                  "seed": self._seed if isinstance(self._seed, int) else None,
                  "dtype": self.dtype.name, "threads": self.threads}
        if self._spec["dense"]:
            cfg = {"layers": list(self.layers),
                   "activation": [[a.name, a.beta] for a in self.activations],
                   **common, "latent_index": self.latent_index,
                   "kernel_initializer": initializers.config(self.kernel_initializer)}
            if self._tied:
                cfg["tied"] = True
            if self._regs:
                cfg["activity_regularizer"] = {str(k): _regularizers.to_config(r)
                                               for k, r in self._regs.items()}
            if self.input_shape != (self.layers[0],):
                cfg["input_shape"] = list(self.input_shape)
            return cfg
        layers = [_layers.to_config(layer) for layer in self.net.layers]
        if self._spec["whole"]:
            arch = {"layers": layers, "latent_index": self.latent_index}
        else:
            arch = {"encoder": layers[:self.latent_index], "decoder": layers[self.latent_index:]}
        return {**arch, "input_shape": list(self.input_shape), **common}

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print every layer with its output shape, activation and parameters, as Keras does."""
        loss = self.loss if self.loss_reduction == "sum" else f"{self.loss} (mean over features)"
        print_fn(layer_table(f'Model: "{type(self).__name__}" ({self.dtype.name}, loss {loss}, '
                             f'optimizer {type(self.optimizer).__name__})', self.net,
                             self.input_shape, {self.latent_index - 1: "latent",
                                                self.net.L - 1: "output"}))

    def __repr__(self):
        arch = self.layers if self._spec["dense"] else f"{self.net.L} layers"
        return (f"Autoencoder({arch}, latent={self.latent_dim}, loss={self.loss!r}, "
                f"optimizer={type(self.optimizer).__name__}, epochs_trained={self.epochs_trained_})")


def layer_table(title, net, input_shape, roles=None):
    """A Keras-style summary: each layer's name, output shape, activation and parameters."""
    roles = roles or {}
    rows = [("input", str(tuple(input_shape)), "", 0)]
    counts = {}
    for j, layer in enumerate(net.layers):
        counts[layer.name] = counts.get(layer.name, 0) + 1
        name = f"{layer.name}_{counts[layer.name]}" + (f" ({roles[j]})" if j in roles else "")
        rows.append((name, str(tuple(layer.output_shape)), layer.describe(), layer.n_params))
    return format_summary(title, rows, int(net.params.size))
