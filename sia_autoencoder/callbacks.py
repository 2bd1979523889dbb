"""Callbacks and the training history, as in Keras.

Stop conditions that only need the training data (:class:`PixelErrorStop`,
:class:`LossThreshold`) are checked inside the C training loop, so they cost no Python call
per epoch. Any other callback is called before and after every epoch; epochs count from 0
over the model's whole training (``History.epoch`` too), as Keras counts them.

Batch-level hooks (``on_batch_end``, ``on_train_batch_begin``, ...) are refused: the C core
runs whole epochs, and a Python call per step would cost more than most steps.
"""
import csv
import math
import numbers
import os
import warnings

import numpy as np

from ._validate import INT64_MAX

__all__ = ["History", "Callback", "EarlyStopping", "PixelErrorStop", "LossThreshold",
           "ModelCheckpoint", "CSVLogger", "LambdaCallback", "ReduceLROnPlateau", "TerminateOnNaN"]

#: Keras's batch-level hooks, which the C training loop cannot call.
BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
               "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
               "on_predict_batch_end")


def _real(x):
    """A finite real number of any type (np.float32 included), not a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)) and math.isfinite(x)


def _count(x, name):
    """An integer in [0, 2**63 - 1] (the C core's range)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral) or x < 0:
        raise ValueError(f"{name}: expected an integer >= 0, got {x!r}")
    if x > INT64_MAX:
        raise ValueError(f"{name}: expected an integer <= 2**63 - 1, got {x!r}")
    return int(x)


def _min_delta(callback, min_delta):
    """|min_delta| as Keras takes it, from a finite real number."""
    if not _real(min_delta):
        raise ValueError(f"{type(callback).__name__}.min_delta: expected a finite number, got "
                         f"{min_delta!r}")
    return abs(float(min_delta))


class History:
    """What ``fit`` returns: ``history`` maps 'loss' (and 'val_loss', ...) to per-epoch lists."""

    def __init__(self):
        self.epoch = []
        self.history = {}
        self.stopped_by = None   # the name of the stop condition that ended training, if any

    def append(self, epoch, logs):
        """One epoch's logs. Every list keeps one value per epoch: a key missing from ``logs``
        (validation cut short by Ctrl-C) gets NaN, a new key NaN for the epochs before it."""
        for key, value in logs.items():
            self.history.setdefault(key, [math.nan] * len(self.epoch)).append(float(value))
        for key, values in self.history.items():
            if len(values) == len(self.epoch):
                values.append(math.nan)
        self.epoch.append(epoch)

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last}, stopped_by={self.stopped_by!r})"


class Callback:
    """Base class: override any of the hooks. Set ``self.model.stop_training = True`` to stop.

    ``on_epoch_begin(epoch)`` and ``on_epoch_end(epoch, logs)`` get the epoch counted from 0
    over the model's whole training. Batch-level hooks are refused (see the module's doc).
    """
    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class PixelErrorStop(Callback):
    """Stop once every training sample has at most ``max_wrong`` wrong pixels (thresholded at 0.5).

    Checked in C after every epoch, on the clean training data.
    """

    def __init__(self, max_wrong=1):
        self.max_wrong = _count(max_wrong, "PixelErrorStop.max_wrong")


class LossThreshold(Callback):
    """Stop once an epoch's training loss falls below ``eps``. Checked in C after every epoch."""

    def __init__(self, eps):
        if not (_real(eps) and eps > 0):
            raise ValueError(f"LossThreshold.eps: expected a finite number > 0, got {eps!r}")
        self.eps = float(eps)


def _monitored(callback, logs):
    """The value of ``callback.monitor`` in ``logs``, or a KeyError that says what is logged."""
    if callback.monitor not in logs:
        raise KeyError(f"{type(callback).__name__}.monitor: {callback.monitor!r} is not logged; "
                       f"the logs have {sorted(logs)} (val_loss needs validation_data or "
                       f"validation_split)")
    return float(logs[callback.monitor])


def _check_mode(callback, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{type(callback).__name__}.mode: expected 'auto', 'min' or 'max', got {mode!r}")
    # 'auto', as Keras: larger is better for accuracies, smaller for anything else.
    return "max" if mode == "max" or (mode == "auto" and "acc" in callback.monitor) else "min"


def _check_patience(callback, patience):
    return _count(patience, f"{type(callback).__name__}.patience")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs, as Keras:
    after ``patience`` epochs in a row without improvement (``wait >= patience``).

    With ``restore_best_weights``, the model ends with the weights of its best epoch.
    """

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0, restore_best_weights=False,
                 mode="auto"):
        self.monitor, self.patience = monitor, _check_patience(self, patience)
        self.min_delta = _min_delta(self, min_delta)
        self.mode = _check_mode(self, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_epoch, self.best_params = math.inf, 0, None, None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(self, logs)
        score = value if self.mode == "min" else -value
        if score < self.best - self.min_delta:
            self.best, self.wait, self.best_epoch = score, 0, epoch
            if self.restore_best_weights:
                self.best_params = self.model.params.copy()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_params is not None:
            self.model.params[...] = self.best_params


class ModelCheckpoint(Callback):
    """Save the model after every epoch (or only when ``monitor`` improves, with
    ``save_best_only``) through ``model.save``, which writes atomically.

    ``filepath`` may hold Keras's fields: ``"ae-{epoch:03d}-{val_loss:.4f}.npz"``, where
    ``epoch`` counts from 1, as in Keras's file names, and the other names are the epoch's logs.
    With ``save_weights_only``, the weights alone go through ``model.save_weights`` (read them
    back with ``model.load_weights``). ``save_freq`` is ``'epoch'`` (Keras's default) or an
    integer N: every N-th epoch. Keras counts an integer in batches; training runs whole epochs
    in C here, so a number of batches is refused rather than silently read as epochs: give
    ``save_freq_epochs=N`` to make the unit explicit.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto", verbose=0,
                 save_weights_only=False, save_freq="epoch", save_freq_epochs=None):
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint.save_freq: expected 'epoch' (saving every N batches, "
                             f"as Keras reads an integer, cannot happen: training runs whole epochs "
                             f"in C; use save_freq_epochs=N to save every N epochs), got {save_freq!r}")
        every = 1 if save_freq_epochs is None else save_freq_epochs
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"ModelCheckpoint.save_freq_epochs: expected an integer >= 1, got "
                             f"{save_freq_epochs!r}")
        self.save_weights_only, self.save_freq_epochs = bool(save_weights_only), every
        self.filepath = os.fspath(filepath)
        self.monitor, self.save_best_only, self.verbose = monitor, bool(save_best_only), verbose
        self.mode = _check_mode(self, mode)
        self.best = math.inf
        self.saved = []   # the paths written, in order

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if (epoch + 1) % self.save_freq_epochs:
            return
        if self.save_best_only:
            if self.monitor not in logs:
                warnings.warn(f"ModelCheckpoint: {self.monitor!r} is not logged (the logs have "
                              f"{sorted(logs)}); the model is not saved", RuntimeWarning, stacklevel=2)
                return
            score = float(logs[self.monitor]) * (1 if self.mode == "min" else -1)
            if not score < self.best:
                return
            self.best = score
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint.filepath: cannot format {self.filepath!r} with "
                             f"epoch and the logs {sorted(logs)}: {exc!r}") from None
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.saved.append(path)
        if self.verbose:
            what = "weights" if self.save_weights_only else "model"
            print(f"Epoch {epoch + 1}: saved the {what} to {path}")


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (from 0, as Keras) and every log, flushed as it
    goes. With ``append``, rows are added to an existing file (its header is kept)."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self._file = self._writer = self._keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._keys = None
        if exists:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer.writerow(["epoch"] + self._keys)
        self._writer.writerow([epoch] + [repr(float(logs[k])) if k in logs else "NA"
                                         for k in self._keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Accepts ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_train_begin(logs)`` and ``on_train_end(logs)``; batch-level hooks are refused.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, **batch_hooks):
        for name in batch_hooks:
            if name in BATCH_HOOKS:
                raise ValueError(
                    f"LambdaCallback: {name} is not supported: training runs whole epochs in C, "
                    f"and a Python call per step would cost more than most steps; use "
                    f"on_epoch_end (or on_epoch_begin)")
            raise TypeError(f"LambdaCallback: unexpected argument {name!r}")
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end)):
            if fn is not None:
                setattr(self, name, lambda epoch, logs=None, fn=fn: fn(epoch, logs))
        for name, fn in (("on_train_begin", on_train_begin), ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, lambda logs=None, fn=fn: fn(logs))


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs, as Keras (then wait ``cooldown`` epochs, and never go
    below ``min_lr``). The new rate applies from the next epoch.

    Under momentum, a change of the rate acts as in Keras (velocity form, see
    :class:`~sia_autoencoder.optimizers.Momentum`), not as in ``torch.optim.SGD``.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        if not (_real(factor) and 0 < factor < 1):
            raise ValueError(f"ReduceLROnPlateau.factor: expected a number in (0, 1), got {factor!r}")
        if not (_real(min_lr) and min_lr >= 0):
            raise ValueError(f"ReduceLROnPlateau.min_lr: expected a finite number >= 0, got {min_lr!r}")
        self.monitor, self.factor, self.verbose = monitor, float(factor), verbose
        self.patience = _check_patience(self, patience)
        self.mode = _check_mode(self, mode)
        self.min_delta, self.min_lr = _min_delta(self, min_delta), float(min_lr)
        self.cooldown = _count(cooldown, "ReduceLROnPlateau.cooldown")

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = math.inf, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(self, logs)
        score = value if self.mode == "min" else -value
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if score < self.best - self.min_delta:
            self.best, self.wait = score, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                opt = self.model.optimizer
                old = float(opt.learning_rate)
                if old > self.min_lr:
                    opt.learning_rate = max(old * self.factor, self.min_lr)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                              f"{opt.learning_rate:g}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class TerminateOnNaN(Callback):
    """Stop training, without an error, when the loss (or any log) becomes NaN or infinite.

    Without it, divergence raises :class:`~sia_autoencoder.TrainingDivergedError`. Either way
    the model keeps the weights of its last finite step.
    """

    def on_epoch_end(self, epoch, logs=None):
        bad = [k for k, v in (logs or {}).items() if not math.isfinite(float(v))]
        if bad:
            print(f"Epoch {epoch + 1}: invalid {', '.join(bad)}, terminating training")
            self.model.stop_training = True
