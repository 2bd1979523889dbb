"""Callbacks and the training history, as in Keras.

Stop conditions that only need the training data (:class:`PixelErrorStop`,
:class:`LossThreshold`) are checked inside the C training loop, so they cost no Python call
per epoch. Any other callback is called after every epoch.
"""
import math

import numpy as np

__all__ = ["History", "Callback", "EarlyStopping", "PixelErrorStop", "LossThreshold"]


class History:
    """What ``fit`` returns: ``history`` maps 'loss' (and 'val_loss', ...) to per-epoch lists."""

    def __init__(self):
        self.epoch = []
        self.history = {}
        self.stopped_by = None   # the name of the stop condition that ended training, if any

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

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
        if not isinstance(max_wrong, (int, np.integer)) or max_wrong < 0:
            raise ValueError(f"PixelErrorStop.max_wrong: expected an integer >= 0, got {max_wrong!r}")
        self.max_wrong = int(max_wrong)


class LossThreshold(Callback):
    """Stop once an epoch's training loss falls below ``eps``. Checked in C after every epoch."""

    def __init__(self, eps):
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
            raise ValueError(f"LossThreshold.eps: expected a finite number > 0, got {eps!r}")
        self.eps = float(eps)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights``, the model ends with the weights of its best epoch.
    """

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0, restore_best_weights=False):
        if not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"EarlyStopping.patience: expected an integer >= 0, got {patience!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.restore_best_weights = restore_best_weights

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
