"""Saving and loading models: one ``.npz`` file, read without pickle.

The file holds the arrays of ``model.state_dict()`` (as ``state.<name>``) and one JSON document
(``__metadata__``, stored as bytes in a uint8 array): the class name, ``get_config()``, the
package and format versions, and the training history. Loading looks the class name up in a
registry of the package's models (never imports a name read from the file), rebuilds the model
from its config and restores the state, so a file can carry numbers and text only, never code.

Saves are atomic: the file is written to a temporary file in the same folder, then renamed over
the target, so a crash in the middle of a save leaves the previous file intact.
"""
import importlib
import json
import os
import tempfile
import zipfile
import zlib
from typing import Any, Dict, Union

import numpy as np

__all__ = ["save", "load", "register_model", "Persistable", "FORMAT", "FORMAT_VERSION"]

FORMAT = "sia_autoencoder.model"
FORMAT_VERSION = 1
_META = "__metadata__"
_STATE = "state."

# Class name -> the module that defines it, imported only when a file of that class is loaded.
_REGISTRY = {"Autoencoder": "sia_autoencoder.autoencoder",
             "DenoisingAutoencoder": "sia_autoencoder.denoising",
             "VAE": "sia_autoencoder.vae"}
_CLASSES: Dict[str, type] = {}


def register_model(cls, name=None):
    """Let :func:`load` rebuild ``cls`` (a class with ``get_config``, ``state_dict`` and
    ``load_state_dict``, built by ``cls(**config)``) from files that name it ``name``."""
    name = name or cls.__name__
    _CLASSES[name] = cls
    return cls


def _model_class(name):
    if name in _CLASSES:
        return _CLASSES[name]
    if name not in _REGISTRY:
        raise KeyError(name)
    cls = getattr(importlib.import_module(_REGISTRY[name]), name)
    _CLASSES[name] = cls
    return cls


def _package_version():
    from . import __version__
    return __version__


def _history_dict(model):
    h = getattr(model, "history_", None)
    if h is None or not hasattr(h, "history"):
        return None
    return {"epoch": [int(e) for e in h.epoch], "history": {k: list(map(float, v)) for k, v in h.history.items()},
            "stopped_by": h.stopped_by}


def _restore_history(model, data):
    """Rebuild the History saved by :func:`_history_dict`; raises ValueError if it is malformed."""
    if not data:
        return
    from .callbacks import History
    h = History()
    try:
        h.epoch = [int(e) for e in data["epoch"]]
        h.history = {str(k): [float(x) for x in v] for k, v in data["history"].items()}
        h.stopped_by = data.get("stopped_by")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"history: expected {{'epoch': [...], 'history': {{name: [...]}}}}, "
                         f"got {type(exc).__name__}: {exc}") from None
    if h.stopped_by is not None and not isinstance(h.stopped_by, str):
        raise ValueError(f"history.stopped_by: expected a string or null, got {h.stopped_by!r}")
    model.history_ = h


def metadata(model):
    """The JSON-ready description written next to the arrays."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "class": type(model).__name__,
            "config": model.get_config(), "package_version": _package_version(),
            "history": _history_dict(model)}


def save(model: Any, path: Union[str, "os.PathLike[str]"]) -> str:
    """Write ``model`` to ``path`` (an .npz file; the name is used as given), atomically.

    Returns the path. Any class with ``get_config()``, ``state_dict()`` and
    ``load_state_dict()`` can be saved; :func:`load` knows the package's models and the classes
    given to :func:`register_model`.
    """
    path = os.fspath(path)
    arrays = {}
    for key, value in model.state_dict().items():
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"state_dict()[{key!r}]: expected a numeric array, got dtype {arr.dtype}")
        arrays[_STATE + key] = arr
    meta = json.dumps(metadata(model), ensure_ascii=False, allow_nan=True)
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub reads a key as allow_pickle
            f.flush()
            os.fsync(f.fileno())
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _bad(path, why):
    return ValueError(f"{path}: not a valid sia_autoencoder model file ({why})")


def read(path):
    """(metadata dict, state dict of arrays) from a saved file, checked but not built."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a folder, not a model file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such model file") from None
    if magic != b"PK\x03\x04":
        raise _bad(path, "not an .npz archive: empty, truncated at the start, or another kind "
                         "of file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if _META not in data.files:
                raise _bad(path, f"no {_META} entry; entries: {', '.join(data.files) or 'none'}")
            meta_bytes = data[_META]
            state = {k[len(_STATE):]: data[k] for k in data.files if k.startswith(_STATE)}
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise _bad(path, f"corrupted: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, NotImplementedError) as exc:
        # NotImplementedError: zipfile on a corrupted compression-method or flag field
        raise _bad(path, f"corrupted or truncated: {exc}") from None
    if meta_bytes.dtype != np.uint8 or meta_bytes.ndim != 1:
        raise _bad(path, f"{_META}: expected a 1-D uint8 array, got {meta_bytes.dtype} {meta_bytes.shape}")
    try:
        meta = json.loads(meta_bytes.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"{_META} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(path, f"{_META}: expected format {FORMAT!r}, got "
                         f"{meta.get('format') if isinstance(meta, dict) else meta!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise _bad(path, f"format version {version!r}; this package reads versions 1 to "
                         f"{FORMAT_VERSION} (written by sia_autoencoder {meta.get('package_version')})")
    if not isinstance(meta.get("config"), dict):
        raise _bad(path, f"{_META}.config: expected an object, got {meta.get('config')!r}")
    return meta, state


def load(path: Union[str, "os.PathLike[str]"]) -> Any:
    """The model saved at ``path`` by ``model.save(path)``, with its weights, optimizer state,
    generator state and history: predictions and further training match the saved model's.

    Raises FileNotFoundError if there is no file, and ValueError naming the file if it is not
    a model file, is truncated or corrupted, or names a class this package does not know.
    """
    path = os.fspath(path)
    meta, state = read(path)
    name = meta.get("class")
    try:
        cls = _model_class(name)
    except (KeyError, TypeError):
        known = sorted(set(_REGISTRY) | set(_CLASSES))
        raise _bad(path, f"unknown model class {name!r}; known: {', '.join(known)} "
                         f"(register others with sia_autoencoder.io.register_model)") from None
    except ImportError as exc:
        raise ValueError(f"{path}: the model class {name!r} is not available in this version of "
                         f"sia_autoencoder ({exc})") from None
    try:
        model = cls(**meta["config"])
        model.load_state_dict(state)
    except (TypeError, ValueError, KeyError) as exc:
        raise _bad(path, f"its {name} config or state does not fit: {exc}") from None
    try:
        _restore_history(model, meta.get("history"))
    except ValueError as exc:
        raise _bad(path, str(exc)) from None
    return model


def _rebuild(cls, config, state, history):
    model = cls(**config)
    model.load_state_dict(state)
    _restore_history(model, history)
    return model


class Persistable:
    """Mixin for models with ``get_config``, a flat ``params`` vector, an ``optimizer``,
    ``rng_state`` and ``epochs_trained_``: ``state_dict``/``load_state_dict``, ``save(path)``
    and pickling through the same config + state (so pickles do not depend on private
    attributes)."""

    def state_dict(self):
        """Everything learned or drawn so far, as named arrays (copies): the flat parameters,
        the optimizer's state and step count, and the generator state of the training loop."""
        return {"params": self.params.copy(), "optimizer.m": self.optimizer.m.copy(),
                "optimizer.v": self.optimizer.v.copy(),
                "optimizer.t": np.array(self.optimizer.t, dtype=np.int64),
                "rng_state": self.rng_state.copy(),
                "epochs_trained": np.array(self.epochs_trained_, dtype=np.int64)}

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`; shapes and dtypes must match this model's."""
        want = self.state_dict()
        missing = sorted(set(want) - set(state))
        if missing:
            raise KeyError(f"state: missing {', '.join(missing)}")
        for key, ref in want.items():
            got = np.asarray(state[key])
            if got.shape != ref.shape:
                raise ValueError(f"state[{key!r}]: expected shape {ref.shape}, got {got.shape}")
            if got.dtype.kind != ref.dtype.kind:
                raise TypeError(f"state[{key!r}]: expected dtype {ref.dtype}, got {got.dtype}")
        self.params[...] = state["params"]
        self.optimizer.m[...] = state["optimizer.m"]
        self.optimizer.v[...] = state["optimizer.v"]
        self.optimizer.t = int(state["optimizer.t"])
        self.rng_state[...] = state["rng_state"]
        self.epochs_trained_ = int(state["epochs_trained"])

    def save(self, path: Union[str, "os.PathLike[str]"]) -> str:
        """Write the model to ``path`` (.npz, written atomically); ``sia_autoencoder.load(path)``
        reads it back. Returns the path."""
        return save(self, path)

    def __reduce__(self):
        return (_rebuild, (type(self), self.get_config(), self.state_dict(), _history_dict(self)))
