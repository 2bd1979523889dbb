"""Callbacks and the training history, as in Keras.

Stop conditions that only need the training data (:class:`PixelErrorStop`,
:class:`LossThreshold`) are checked inside the C training loop, so they cost no Python call
per epoch. Any other callback is called after every epoch.
"""
import math
import numbers

import numpy as np

from ._validate import INT64_MAX


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

__all__ = ["History", "Callback", "EarlyStopping", "PixelErrorStop", "LossThreshold"]


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
    """Base class: override any of the hooks. Set ``self.model.stop_training = True`` to stop."""
    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
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


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights``, the model ends with the weights of its best epoch.
    """

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0, restore_best_weights=False):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"EarlyStopping.monitor: expected the name of a log like 'val_loss', "
                             f"got {monitor!r}")
        self.monitor = monitor
        self.patience = _count(patience, "EarlyStopping.patience")
        if not (_real(min_delta) and min_delta >= 0):
            raise ValueError(f"EarlyStopping.min_delta: expected a finite number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_epoch, self.best_params = math.inf, 0, None, None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping.monitor: {self.monitor!r} is not logged; "
                           f"the logs have {sorted(logs)} (val_loss needs validation_data)")
        value = logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore_best_weights:
                self.best_params = self.model.params.copy()
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_params is not None:
            self.model.params[...] = self.best_params
