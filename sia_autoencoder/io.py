"""Saving and loading models: one ``.npz`` file, read without pickle.

The file holds the arrays of ``model.state_dict()`` (as ``state.<name>``) and one JSON document
(``__metadata__``, stored as bytes in a uint8 array): the class name, ``get_config()``, the
package and format versions, and the training history. Loading looks the class name up in a
registry of the package's models (never imports a name read from the file), rebuilds the model
from its config and restores the state, so a file can carry numbers and text only, never code.

Saves are atomic: the file is written to a temporary file in the same folder, then renamed over
the target, so a crash in the middle of a save leaves the previous file intact.
"""
import glob
import hashlib
import importlib
import json
import os
import tempfile
import time
import zipfile
import zlib
from typing import Any, Dict, Union

import numpy as np

from ._validate import check_rng_state

__all__ = ["save", "load", "register_model", "Persistable", "FORMAT", "FORMAT_VERSION"]

FORMAT = "sia_autoencoder.model"
FORMAT_VERSION = 1
_META = "__metadata__"
_STATE = "state."
WEIGHTS_FORMAT = "sia_autoencoder.weights"
_WEIGHTS = "weights."

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
    return _write_atomically(path, arrays)


def _write_atomically(path, arrays):
    """np.savez(path, **arrays) through a locked temporary file renamed over ``path``: a reader
    sees the old file or the new one, never a part."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _tmp_prefix(path)
    _remove_stale(directory, prefix)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            _lock(f)  # held until closed: _remove_stale of another save leaves this one alone
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


def _tmp_prefix(path):
    """The temporary files of a save to ``path`` are ``.<name>.<random>.tmp``, with <name> cut
    (and a hash of the whole name added) so that the temporary name stays within the 255 bytes
    of a file name whatever the target's length."""
    name = os.path.basename(path)
    if len(name.encode("utf-8", "surrogateescape")) > 200:
        digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        cut = name.encode("utf-8", "surrogateescape")[:160].decode("utf-8", "ignore")
        name = f"{cut}~{digest}"
    return "." + name + "."


def _lock(f):
    try:
        import fcntl
    except ImportError:  # not POSIX: no stale-file cleanup
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)


def _remove_stale(directory, prefix):
    """Delete the temporaries that a killed save to the same target left behind: those no
    running save holds a lock on."""
    try:
        import fcntl
    except ImportError:
        return
    for tmp in glob.glob(os.path.join(glob.escape(directory), glob.escape(prefix) + "*.tmp")):
        rest = os.path.basename(tmp)[len(prefix):-len(".tmp")]
        if len(rest) != 8 or "." in rest:  # mkstemp's 8 characters, nothing else
            continue
        try:
            if time.time() - os.stat(tmp).st_mtime < 2:  # just made by mkstemp, not locked yet
                continue
            with open(tmp, "rb") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(tmp)
        except OSError:  # a save in progress holds it, or it is gone already
            pass


def _bad(path, why):
    return ValueError(f"{path}: not a valid sia_autoencoder model file ({why})")


# Bounds checked before a member is read: a member may expand at most _RATIO times its
# compressed size (np.savez stores members uncompressed; this stops zip bombs), and the metadata
# JSON is at most _META_BYTES long.
_RATIO = 64
_META_BYTES = 64 << 20


def _members(path, zf):
    """The archive's members by name, each checked for duplication and compression ratio."""
    infos = {}
    for info in zf.infolist():
        if info.filename in infos:
            raise _bad(path, f"the member {info.filename!r} appears twice")
        if info.file_size > _RATIO * info.compress_size + (1 << 20):
            raise _bad(path, f"the member {info.filename!r} declares {info.file_size} bytes from "
                             f"{info.compress_size} compressed (a zip bomb?)")
        infos[info.filename] = info
    return infos


def _npy_header(path, zf, info):
    """(shape, dtype, header length) of a stored .npy member, from its header alone; the
    declared size must be the size the member holds."""
    name = info.filename
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        except (ValueError, TypeError, SyntaxError) as exc:
            raise _bad(path, f"{name}: not a .npy array header ({exc})") from None
        header = f.tell() if hasattr(f, "tell") else None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise _bad(path, f"{name}: expected a numeric array, got dtype {dtype}")
    count = 1
    for n in shape:
        count *= int(n)
    if header is not None and count * dtype.itemsize != info.file_size - header:
        raise _bad(path, f"{name}: declares shape {tuple(shape)} ({count * dtype.itemsize} "
                         f"bytes) but holds {info.file_size - header}")
    return tuple(shape), dtype


def read(path, headers=None):
    """(metadata dict, state dict of arrays) from a saved file, checked but not built.

    ``headers(meta, shapes)``, if given, is called with the metadata and the declared shape and
    dtype of every state array before any array is read, and may refuse them (ValueError)."""
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
        with zipfile.ZipFile(path) as zf:
            infos = _members(path, zf)
            key = _META + ".npy"
            if key not in infos:
                names = ", ".join(n[:-4] if n.endswith(".npy") else n for n in infos)
                raise _bad(path, f"no {_META} entry; entries: {names or 'none'}")
            if infos[key].file_size > _META_BYTES:
                raise _bad(path, f"{_META}: {infos[key].file_size} bytes, more than {_META_BYTES}")
            shape, dtype = _npy_header(path, zf, infos[key])
            if dtype != np.uint8 or len(shape) != 1:
                raise _bad(path, f"{_META}: expected a 1-D uint8 array, got {dtype} {shape}")
            with zf.open(infos[key]) as f:
                meta_bytes = np.lib.format.read_array(f, allow_pickle=False)
            meta = _parse_meta(path, meta_bytes)
            shapes = {}
            for name, info in infos.items():
                if name.startswith(_STATE) and name.endswith(".npy"):
                    shapes[name[len(_STATE):-4]] = _npy_header(path, zf, info)
            if headers is not None:
                headers(meta, shapes)
            state = {}
            for name in shapes:
                with zf.open(infos[_STATE + name + ".npy"]) as f:
                    state[name] = np.lib.format.read_array(f, allow_pickle=False)
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise _bad(path, f"corrupted: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, NotImplementedError,
            zipfile.LargeZipFile) as exc:
        # NotImplementedError: zipfile on a corrupted compression-method or flag field
        raise _bad(path, f"corrupted or truncated: {exc}") from None
    return meta, state


def _parse_meta(path, meta_bytes):
    try:
        meta = json.loads(meta_bytes.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"{_META} is not valid JSON: {exc}") from None
    except RecursionError:
        raise _bad(path, f"{_META}: JSON nested too deeply") from None
    if isinstance(meta, dict) and meta.get("format") == WEIGHTS_FORMAT:
        raise ValueError(f"{path}: a file of weights only (save_weights), without the architecture: "
                         f"build the model, then model.load_weights({path!r})")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(path, f"{_META}: expected format {FORMAT!r}, got "
                         f"{meta.get('format') if isinstance(meta, dict) else meta!r}")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version > FORMAT_VERSION \
            or version < 1:
        raise _bad(path, f"format version {version!r}; this package reads versions 1 to "
                         f"{FORMAT_VERSION} (written by sia_autoencoder {meta.get('package_version')})")
    if not isinstance(meta.get("config"), dict):
        raise _bad(path, f"{_META}.config: expected an object, got {meta.get('config')!r}")
    return meta


def _implied_params(meta):
    """The parameter count the config of a dense model implies (None when it cannot tell):
    computed without building the model, so that a config asking for 10^12 weights is refused
    before anything is allocated."""
    config = meta["config"]

    def widths(v):
        return v if isinstance(v, list) and v and all(
            isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v) else None

    def dense(sizes):
        return sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:]))
    name = meta.get("class")
    if name in ("Autoencoder", "DenoisingAutoencoder") and widths(config.get("layers")):
        return dense(config["layers"])
    k = config.get("latent_dim")
    if name == "VAE" and widths(config.get("encoder")) and isinstance(k, int) and k > 0:
        dec = config.get("decoder") or config["encoder"][::-1]
        if widths(dec):
            return dense(config["encoder"] + [2 * k]) + dense([k] + dec)
    return None


def load(path: Union[str, "os.PathLike[str]"]) -> Any:
    """The model saved at ``path`` by ``model.save(path)``, with its weights, optimizer state,
    generator state and history: predictions and further training match the saved model's.

    Raises FileNotFoundError if there is no file, and ValueError naming the file if it is not
    a model file, is truncated or corrupted, or names a class this package does not know.
    """
    path = os.fspath(path)

    def check(meta, shapes):
        """Before any array is read: the config's parameter count is the one the file holds."""
        want = _implied_params(meta)
        if want is None or "params" not in shapes:
            return
        got = shapes["params"][0]
        if got != (want,):
            raise _bad(path, f"state['params']: expected shape {(want,)} (the parameters its "
                             f"config implies), got {got}")
    meta, state = read(path, check)
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
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
        raise _bad(path, f"its {name} config or state does not fit: {exc}") from None
    except MemoryError as exc:
        raise _bad(path, f"its {name} config asks for more memory than there is: {exc}") from None
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


def _param_shapes(model):
    """int64 (n_arrays, 4): the shape of each weight and bias array, zero-padded to 4 axes."""
    arrays = model.parameters()
    out = np.zeros((len(arrays), 4), dtype=np.int64)
    for i, a in enumerate(arrays):
        out[i, :a.ndim] = a.shape
    return out


def _shape_row(row):
    return tuple(int(n) for n in row if n)


class Persistable:
    """Mixin for models with ``get_config``, a flat ``params`` vector, an ``optimizer``,
    ``rng_state`` and ``epochs_trained_``: ``state_dict``/``load_state_dict``, ``save(path)``
    and pickling through the same config + state (so pickles do not depend on private
    attributes)."""

    def state_dict(self):
        """Everything learned or drawn so far, as named arrays (copies): the flat parameters,
        the shape of every weight and bias array in them (``param_shapes``, one row each,
        zero-padded), the optimizer's state and step count, and the generator state of the
        training loop."""
        return {"params": self.params.copy(), "param_shapes": _param_shapes(self),
                "optimizer.m": self.optimizer.m.copy(),
                "optimizer.v": self.optimizer.v.copy(),
                "optimizer.t": np.array(self.optimizer.t, dtype=np.int64),
                "rng_state": self.rng_state.copy(),
                "epochs_trained": np.array(self.epochs_trained_, dtype=np.int64)}

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`: shapes and dtypes must match this model's (also the
        shape of every weight array, when the state gives them), and the values must be a
        state training can reach: finite weights and moments, Adam's v >= 0, step counts and
        epochs >= 0, a generator state that is not all zeros. Nothing changes on an error."""
        want = self.state_dict()
        missing = sorted(set(want) - set(state) - {"param_shapes"})  # older states lack it
        if missing:
            raise KeyError(f"state: missing {', '.join(missing)}")
        got = {}
        for key, ref in want.items():
            if key not in state:
                continue
            got[key] = arr = np.asarray(state[key])
            if arr.shape != ref.shape:
                what = " (another architecture)" if key == "param_shapes" else ""
                raise ValueError(f"state[{key!r}]: expected shape {ref.shape}{what}, got {arr.shape}")
            if arr.dtype.kind != ref.dtype.kind:
                raise TypeError(f"state[{key!r}]: expected dtype {ref.dtype}, got {arr.dtype}")
        if "param_shapes" in got and not np.array_equal(got["param_shapes"], want["param_shapes"]):
            bad = int(np.argwhere((got["param_shapes"] != want["param_shapes"]).any(axis=1))[0, 0])
            raise ValueError(f"state['param_shapes'][{bad}]: expected the weight shape "
                             f"{_shape_row(want['param_shapes'][bad])} of this architecture, got "
                             f"{_shape_row(got['param_shapes'][bad])}")
        for key in ("params", "optimizer.m", "optimizer.v"):
            finite = np.isfinite(got[key])
            if not finite.all():
                i = int(np.argmin(finite))
                raise ValueError(f"state[{key!r}]: expected finite values, got {got[key][i]} at {i}")
        if (got["optimizer.v"] < 0).any():
            i = int(np.argmax(got["optimizer.v"] < 0))
            raise ValueError(f"state['optimizer.v']: expected values >= 0 (means of squares), got "
                             f"{got['optimizer.v'][i]} at {i}")
        t, epochs = int(got["optimizer.t"]), int(got["epochs_trained"])
        if not 0 <= t <= 2**62:
            raise ValueError(f"state['optimizer.t']: expected a step count in [0, 2**62], got {t}")
        if epochs < 0:
            raise ValueError(f"state['epochs_trained']: expected an integer >= 0, got {epochs}")
        rng_state = check_rng_state(got["rng_state"], "state['rng_state']")
        self.params[...] = got["params"]
        self.optimizer.m[...] = got["optimizer.m"]
        self.optimizer.v[...] = got["optimizer.v"]
        self.optimizer.t = t
        self.rng_state[...] = rng_state
        self.epochs_trained_ = epochs

    def save(self, path: Union[str, "os.PathLike[str]"]) -> str:
        """Write the model to ``path`` (.npz, written atomically); ``sia_autoencoder.load(path)``
        reads it back. Returns the path."""
        return save(self, path)

    def save_weights(self, path: Union[str, "os.PathLike[str]"]) -> str:
        """Write the weights alone (``get_weights()``, no optimizer state, no architecture) to
        ``path`` (.npz, atomically), as Keras's ``save_weights``; :meth:`load_weights` reads them
        into a model of the same architecture. Returns the path."""
        path = os.fspath(path)
        model: Any = self  # the mixin's host class has get_weights/set_weights
        arrays = {f"{_WEIGHTS}{i:04d}": np.asarray(w) for i, w in enumerate(model.get_weights())}
        meta = json.dumps({"format": WEIGHTS_FORMAT, "class": type(self).__name__,
                           "package_version": _package_version()})
        arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
        return _write_atomically(path, arrays)

    def load_weights(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Read weights written by :meth:`save_weights` (or the weights of a file written by
        :meth:`save`) into this model, which must have the same architecture; the optimizer's
        state and the training generator are left as they are. Nothing changes on an error."""
        path = os.fspath(path)
        model: Any = self
        try:
            with np.load(path, allow_pickle=False) as f:
                files = dict(f.items())
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise _bad(path, f"{type(exc).__name__}: {exc}") from None
        keys = sorted(k for k in files if k.startswith(_WEIGHTS))
        if not keys and _STATE + "params" in files:  # a whole model's file: its weights
            other = load(path)
            weights = other.get_weights()
        elif keys:
            weights = [files[k] for k in keys]
        else:
            raise _bad(path, "no weights in it")
        before = model.get_weights()
        try:
            model.set_weights(weights)
        except (ValueError, TypeError) as exc:
            model.set_weights(before)
            raise ValueError(f"{path}: the weights do not fit this model: {exc}") from None

    def __reduce__(self):
        return (_rebuild, (type(self), self.get_config(), self.state_dict(), _history_dict(self)))
