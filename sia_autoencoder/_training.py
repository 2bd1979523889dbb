"""The fit loop shared by every model: chunks of epochs run in C, callbacks and history here."""
import time
import warnings

import numpy as np

from ._progress import Progress
from ._validate import fitting
from .callbacks import BATCH_HOOKS, Callback, History, LossThreshold, PixelErrorStop, TerminateOnNaN


MAX_CHUNK = 1 << 16  # epochs per call into C at most: their logs are allocated per call


class TrainingDivergedError(FloatingPointError):
    """The loss, a gradient or an updated weight became NaN or inf; the model keeps its last
    finite weights."""


class CollapseWarning(RuntimeWarning):
    """Training collapsed: the model gives one output for every sample."""


def _bce_metric(out, Y):
    p = np.clip(out, 1e-7, 1 - 1e-7)
    return -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))


# Keras's metrics, as Keras computes them: the mean over every element (features and samples).
METRICS = {"mse": lambda out, Y: np.mean((out - Y) ** 2),
           "mae": lambda out, Y: np.mean(np.abs(out - Y)),
           "bce": _bce_metric}
_METRIC_NAMES = {"mse": "mse", "mean_squared_error": "mse", "mae": "mae",
                 "mean_absolute_error": "mae", "bce": "bce", "binary_crossentropy": "bce"}


def parse_metrics(metrics):
    """[(name as given, function)] from a list of metric names."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics: expected a list of names like ['mse', 'mae'], got {metrics!r}")
    out = []
    for i, name in enumerate(metrics):
        key = name.lower() if isinstance(name, str) else None
        if key not in _METRIC_NAMES:
            raise ValueError(f"metrics[{i}]: expected one of {', '.join(_METRIC_NAMES)}, got {name!r}")
        out.append((name, METRICS[_METRIC_NAMES[key]]))
    return out


def metric_logs(metrics, predict, X, Y, prefix=""):
    """{prefix + name: value} of every metric of predict(X) against Y, in float64."""
    if not metrics:
        return {}
    out, Y = np.asarray(predict(X), dtype=np.float64), np.asarray(Y, dtype=np.float64)
    return {prefix + name: float(fn(out, Y)) for name, fn in metrics}


def watch_collapse(model, X, run_chunk, rows=256):
    """``run_chunk`` that, after each chunk, warns (once) when the model's outputs for the first
    ``rows`` rows of X are all the same while those rows differ: training has collapsed to one
    output for every sample, as a learning rate too large for a summed loss does."""
    probe = X[:rows]
    if probe.shape[0] < 2 or not np.ptp(probe, axis=0).any():
        return run_chunk
    warned = False

    def run(records, start, count):
        nonlocal warned
        done, status = run_chunk(records, start, count)
        if warned or done == 0 or status == 2:
            return done, status
        out = model.reconstruct(probe)
        spread = float(np.ptp(out, axis=0).max())
        if spread <= 4 * np.finfo(out.dtype).eps * max(1.0, float(np.abs(out).max())):
            warned = True
            epoch = model.epochs_trained_ + done
            d = X.shape[1]
            hint = (f"with loss_reduction='sum' the gradient sums over the {d} features, so a "
                    f"Keras or PyTorch learning rate is {d}x too large here: try "
                    f"loss_reduction='mean' or a smaller learning rate"
                    if getattr(model, "loss_reduction", "sum") == "sum" else
                    "try a smaller learning rate")
            warnings.warn(CollapseWarning(
                f"training collapsed by epoch {epoch}: the model gives the same output for every "
                f"sample (checked on the first {probe.shape[0]} training rows), e.g. dead relu "
                f"units or saturated codes after steps too large; {hint}"), stacklevel=4)
        return done, status
    return run


def split_callbacks(callbacks):
    """(max_wrong or -1, loss_tol or 0, the callbacks that run in Python)."""
    callbacks = list(callbacks or [])
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks[{i}]: expected a sia_autoencoder.callbacks.Callback, got {cb!r}")
        hooks = [h for h in BATCH_HOOKS if hasattr(cb, h)]
        if hooks:
            raise TypeError(f"callbacks[{i}] ({type(cb).__name__}) defines {', '.join(hooks)}: "
                            f"batch-level hooks are not supported, because training runs whole "
                            f"epochs in C and a Python call per step would cost more than most "
                            f"steps. Use on_epoch_end (or on_epoch_begin) instead.")
    max_wrong = min((cb.max_wrong for cb in callbacks if isinstance(cb, PixelErrorStop)), default=-1)
    loss_tol = max((cb.eps for cb in callbacks if isinstance(cb, LossThreshold)), default=0.0)
    python = [cb for cb in callbacks if not isinstance(cb, (PixelErrorStop, LossThreshold))]
    return max_wrong, loss_tol, python


def parse_verbose(verbose):
    """0, 1 or 2; 'auto' (Keras's default) is 1."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def validation_pair(validation_data, name="validation_data"):
    """(X_val, Y_val or None) from X_val, (X_val, Y_val), [X_val, Y_val] or (X_val, None).

    A list of two 2-D arrays is a pair, as in Keras; any other list is X_val as nested rows."""
    if isinstance(validation_data, list) and len(validation_data) == 2 and \
            all(np.ndim(part) == 2 for part in validation_data):
        validation_data = tuple(validation_data)
    if isinstance(validation_data, tuple):
        if len(validation_data) == 3:
            raise ValueError(f"{name}: (X_val, Y_val, sample_weight) is not supported; "
                             f"expected X_val or (X_val, Y_val)")
        if len(validation_data) != 2:
            raise ValueError(f"{name}: expected X_val or (X_val, Y_val), got a tuple of "
                             f"{len(validation_data)}")
        return validation_data
    return validation_data, None


def split_validation(X, Y, validation_data, validation_split):
    """(X, Y, validation_data): with a ``validation_split`` in (0, 1) and no validation_data,
    the last ``validation_split`` of the rows (before any shuffling) are held out, as Keras does.
    Given validation_data, the split is ignored (as in Keras)."""
    if validation_split is None or validation_split == 0:
        return X, Y, validation_data
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or \
            not 0 <= validation_split < 1:
        raise ValueError(f"validation_split: expected a fraction in [0, 1), got {validation_split!r}")
    if validation_data is not None:
        return X, Y, validation_data
    n = X.shape[0]
    at = int(np.floor(n * (1.0 - validation_split)))
    if at < 1 or at >= n:
        raise ValueError(f"validation_split: {validation_split} of {n} samples leaves "
                         f"{at} for training and {n - at} for validation; each needs at least 1")
    return X[:at], Y[:at], (X[at:], Y[at:])


def fit_loop(model, run_chunk, epochs, keys, callbacks=(), validate=None, verbose=0, lr=None):
    """Run ``epochs`` epochs through ``run_chunk(records, start, n) -> (done, status)``.

    ``records`` maps each key of ``keys`` (e.g. 'loss') to a float64 array of NaNs, one per
    epoch of the chunk from ``start``, that the C core fills as epochs complete; status is 0
    (done), 1 (a stop condition in C was met) or 2 (diverged). ``validate()`` returns a dict of
    validation logs. Python is called once per epoch only when callbacks or validation need it;
    otherwise chunks run in C. ``run_chunk`` reads the optimizer's settings at each call, so
    that a callback's change of the learning rate applies from the next epoch. Epochs count from
    0 over the model's whole training, in the history and for the callbacks, as in Keras.
    Whatever ends the call (Ctrl-C, another exception raised by a signal handler, divergence),
    the completed epochs are kept in ``model.history_``. A model runs one fit at a time: a
    second one (another thread, a callback) raises RuntimeError.
    """
    with fitting(model):
        return _fit_loop(model, run_chunk, epochs, keys, callbacks, validate, verbose, lr)


class _Records(dict):
    """The per-epoch logs the C core writes, for the epochs of the current chunk only (so that
    ``epochs=10**12`` allocates nothing up front): ``records[key][e]`` for the fit's epoch e."""

    def __init__(self, keys):
        super().__init__()
        self.keys_, self.start = list(keys), 0

    def new_chunk(self, start, n):
        self.start = start
        for k in self.keys_:
            self[k] = _Offset(np.full(n, np.nan), start)


class _Offset:
    """A float64 array of NaNs indexed by the fit's epoch numbers from ``start`` on: indexing
    gives the array's own elements and views, which the C core writes."""

    def __init__(self, arr, start):
        self.arr, self.start = arr, start

    def __getitem__(self, key):
        if isinstance(key, slice):
            shift = lambda i: None if i is None else i - self.start  # noqa: E731
            return self.arr[shift(key.start):shift(key.stop):key.step]
        return self.arr[key - self.start]


def _fit_loop(model, run_chunk, epochs, keys, callbacks, validate, verbose, lr):
    verbose = parse_verbose(verbose)
    history = History()
    model.history_ = history
    model.stop_training = False
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin()
    records = _Records(keys)
    progress = Progress(epochs, verbose)
    per_epoch = bool(callbacks) or validate is not None
    done, chunk, recorded = 0, 1, 0   # epochs run in C; epochs in the history

    def append(logs):
        nonlocal recorded
        history.append(model.epochs_trained_, logs)
        model.epochs_trained_ += 1
        recorded += 1

    def record_bulk(end):
        """Epochs recorded .. end-1 into the history at once, with the C core's logs only."""
        nonlocal recorded
        n = end - recorded
        if n <= 0:
            return
        first = model.epochs_trained_
        history.epoch.extend(range(first, first + n))
        for k in keys:
            history.history.setdefault(k, []).extend(records[k][recorded:end].tolist())
        for values in history.history.values():  # e.g. val_loss: NaN, never a ragged history
            values.extend([np.nan] * (len(history.epoch) - len(values)))
        model.epochs_trained_ += n
        recorded = end

    def record(end):
        """Bring the history up to epoch ``end``, with validation, progress and callbacks."""
        if not per_epoch and not progress.active:  # nobody needs them one by one
            return record_bulk(end)
        while recorded < end:
            e = recorded
            logs = {k: records[k][e] for k in keys}
            try:
                if validate is not None:
                    logs.update(validate())
            finally:  # Ctrl-C in validate(): the epoch did run, so the history keeps it
                append(logs)
            progress.update(e + 1, logs)
            for cb in callbacks:
                cb.on_epoch_end(model.epochs_trained_ - 1, logs)

    try:
        while done < epochs and not model.stop_training:
            # Chunks of 1, 2, 4, ... epochs while they are fast: a watcher of the chunks (e.g.
            # watch_collapse) sees the first epochs one by one, at little cost.
            n = 1 if per_epoch else min(chunk, epochs - done)
            n = min(n, MAX_CHUNK)
            if per_epoch:
                for cb in callbacks:
                    cb.on_epoch_begin(model.epochs_trained_)
                if model.stop_training:
                    break
            t0 = time.perf_counter()
            records.new_chunk(done, n)
            k, status = run_chunk(records, done, n)
            done += k
            record(done)
            if status == 2 and any(isinstance(cb, TerminateOnNaN) for cb in callbacks):
                print(f"Epoch {model.epochs_trained_ + 1}: the loss, a gradient or an updated "
                      f"weight became NaN or inf, terminating training (the weights of the last finite step are kept)")
                history.stopped_by = "TerminateOnNaN"
                break
            if status == 2:
                lr = getattr(getattr(model, "optimizer", None), "learning_rate", lr)
                hint = f" (now {lr:g})" if lr is not None else ""
                raise TrainingDivergedError(
                    f"training diverged in epoch {model.epochs_trained_ + 1}: the loss, a gradient "
                    f"or an updated weight became NaN or inf. The model keeps the weights of its "
                    f"last finite step. "
                    f"Try a lower learning rate{hint}, or inputs scaled to [0, 1].")
            if status == 1:
                history.stopped_by = "stop condition"
                break
            if time.perf_counter() - t0 < 0.05:
                chunk *= 2
    except BaseException as exc:
        # Wherever the interrupt (Ctrl-C, or any exception a signal handler raised) landed (in C,
        # in validation, between the two), every epoch the C core completed is in the history:
        # their weights are the model's.
        if not isinstance(exc, TrainingDivergedError) and keys[0] in records:
            ran = records.start + int(np.count_nonzero(~np.isnan(records[keys[0]].arr)))
            record_bulk(ran)
        raise
    finally:
        progress.close()
        for cb in callbacks:
            cb.on_train_end()
    if model.stop_training and history.stopped_by is None:
        history.stopped_by = "callback"
    return history
