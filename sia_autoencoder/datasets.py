"""Datasets: the course's font and emojis (bundled), scikit-learn's digits, and MNIST and
Fashion-MNIST read from their IDX files (found on disk, or downloaded once and verified)."""
import re
from importlib import resources
from typing import Any, List, Tuple

import numpy as np

from ._emojis import EMOJI_SHAPE, load_emojis

__all__ = ["load_font", "FONT_SHAPE", "load_emojis", "EMOJI_SHAPE", "load_digits", "DIGITS_SHAPE",
           "load_idx", "load_fashion_mnist", "load_mnist", "FASHION_MNIST_SHAPE", "FASHION_MNIST_CLASSES",
           "MNIST_SHAPE"]

FONT_SHAPE = (7, 5)  # rows, columns of one character

_ROW = re.compile(r"\{([^{}]*)\},?\s*//\s*0x([0-9a-fA-F]+),\s*(\S+)")


def _data_text(name):
    return resources.files("sia_autoencoder").joinpath("data", name).read_text(encoding="utf-8")


def parse_font_h(text):
    """Parse a course ``font.h``: one ``{0x.., ...}, // 0x61, a`` line per character.

    Bit 4 of each byte is the leftmost pixel; the rows go top to bottom.

    Returns
    -------
    X : ndarray (n_chars, rows * 5) of float64 in {0, 1}, each character flattened row-major.
    labels : list of str, the character named in each line's comment ("DEL" stays "DEL").
    """
    images, labels = [], []
    for body, _code, label in _ROW.findall(text):
        rows = [int(v, 16) for v in body.split(",") if v.strip()]
        bits = [(row >> (4 - col)) & 1 for row in rows for col in range(5)]
        images.append(bits)
        labels.append(label)
    if not images:
        raise ValueError("font.h: found no character rows like '{0x04, ...}, // 0x60, `'")
    return np.array(images, dtype=np.float64), labels


def load_font(dtype: Any = np.float64) -> Tuple[np.ndarray, List[str]]:
    """The course's 32 binary 5×7 characters, from the vendored ``font.h``.

    Returns
    -------
    X : ndarray (32, 35) of ``dtype``, values in {0, 1}; each character is 7 rows of 5 pixels,
        flattened row-major (reshape a row with ``FONT_SHAPE`` to draw it). DEL is a filled block.
    labels : list of 32 str: '`', 'a', ..., 'z', '{', '|', '}', '~', 'DEL'.
    """
    X, labels = parse_font_h(_data_text("font.h"))
    return X.astype(dtype), labels


# ---- scikit-learn's 8×8 digits (optional extra) ----

DIGITS_SHAPE = (8, 8)


def load_digits(dtype: Any = np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 1,797 handwritten 8×8 digits (no download), scaled to [0, 1].

    Needs scikit-learn: ``pip install sia_autoencoder[digits]`` (or ``pip install scikit-learn``).

    Returns
    -------
    X : ndarray (1797, 64) of ``dtype``, values in [0, 1] (the original 0..16 divided by 16),
        each digit 8 rows of 8 pixels flattened row-major (reshape with ``DIGITS_SHAPE``).
    labels : ndarray (1797,) of int64, the digit 0..9 of each row.
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise ImportError("load_digits needs scikit-learn, an optional extra: "
                          "pip install sia_autoencoder[digits]  (or: pip install scikit-learn)") from exc
    bunch = _sk_load_digits()
    return (np.asarray(bunch.data, dtype=np.float64) / 16.0).astype(dtype), \
        np.asarray(bunch.target, dtype=np.int64)


# ---- IDX files (MNIST, Fashion-MNIST) ----

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FASHION_MNIST_SHAPE = (28, 28)
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot"]


def load_idx(path):
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    uint32; the big-endian data follow.

    Returns
    -------
    ndarray of the file's shape, in native byte order (uint8 for images and labels).
    """
    import gzip
    import os
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{os.fspath(path)}: a corrupt or truncated gzip file ({exc})") from None
    name = os.fspath(path)
    if len(raw) < 4:
        raise ValueError(f"{name}: truncated IDX file, expected a 4-byte magic number, got {len(raw)} bytes")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] < 1:
        raise ValueError(f"{name}: not an IDX file, expected a magic number 0x0000TTDD with type TT in "
                         f"{{08, 09, 0B, 0C, 0D, 0E}} and DD >= 1 dimensions, got 0x{raw[:4].hex().upper()}")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header, expected {header} bytes for {ndim} "
                         f"dimensions, got {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    want = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != want:
        what = "truncated" if len(raw) < want else "too long"
        raise ValueError(f"{name}: {what} IDX file, expected {want} bytes for shape {shape} of "
                         f"{dtype.str[1:]}, got {len(raw)}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


MNIST_SHAPE = (28, 28)

# Where the IDX files are looked for, in this order (see _find_folder): the `path=` argument
# alone when it is given; otherwise $SIA_DATA/<folder>, the user cache folder
# <cache>/sia_autoencoder/<folder>, then the system folders below (Debian's dataset-fashion-mnist
# package installs /usr/share/datasets/fashion-mnist; Debian has no MNIST package). When none holds
# the files, they are downloaded once into $SIA_DATA/<folder> (or the cache folder), each checked
# against the SHA-256 of the official file before it is moved into place.
_SYSTEM_ROOTS = ["/usr/share/datasets"]
_PREFIX = {"train": "train", "test": "t10k"}
_DATASETS = {
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
        "sha256": {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    },
    "mnist": {
        "title": "MNIST",
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/",
                    "http://yann.lecun.com/exdb/mnist/"],
        "sha256": {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    },
}
_TIMEOUT = 30.0  # seconds without data before a mirror is given up


def _cache_root():
    """The user cache folder: $XDG_CACHE_HOME (or ~/.cache) on Linux, ~/Library/Caches on macOS,
    %LOCALAPPDATA% on Windows, each with a sia_autoencoder subfolder."""
    import os
    import sys
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = os.environ["LOCALAPPDATA"]
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sia_autoencoder")


def _split_files(folder, stems):
    """The paths of ``stems`` in ``folder`` (each as is or with .gz), or None if one is missing."""
    import os
    found = []
    for stem in stems:
        for candidate in (stem, stem + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                found.append(path)
                break
        else:
            return None
    return found


def _download(url, target, sha256):
    """Download ``url`` to ``target``: into a temporary file beside it, checked against ``sha256``,
    then renamed into place (atomic: ``target`` is either absent or complete)."""
    import hashlib
    import os
    import tempfile
    import urllib.request
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(target) + ".", suffix=".part",
                               dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
            announced = response.headers.get("Content-Length")
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if announced is not None and announced.isdigit() and int(announced) != size:
            raise ValueError(f"truncated download, expected {announced} bytes, got {size}")
        if digest.hexdigest() != sha256:
            raise ValueError(f"expected SHA-256 {sha256}, got {digest.hexdigest()}")
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _fetch(name, split, folder):
    """Download the two files of ``split`` of dataset ``name`` into ``folder``, trying each mirror."""
    import os
    import sys
    info = _DATASETS[name]
    os.makedirs(folder, exist_ok=True)
    paths = []
    for kind in ("images-idx3", "labels-idx1"):
        filename = f"{_PREFIX[split]}-{kind}-ubyte.gz"
        target = os.path.join(folder, filename)
        failures = []
        for mirror in info["mirrors"]:
            url = mirror + filename
            print(f"Downloading {info['title']} {filename} from {url} to {folder}", file=sys.stderr)
            try:
                _download(url, target, info["sha256"][filename])
                break
            except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
                failures.append(f"{url}: {exc}")
        else:
            raise OSError(f"could not download {info['title']} {filename}; tried:\n  " +
                          "\n  ".join(failures) + f"\nPut the IDX files in {folder} by hand, "
                          "or pass path= the folder that holds them.")
        paths.append(target)
    return paths


def _find_folder(name, split, path, download):
    """The image and label files of ``split``: from ``path`` if given, else the first folder of
    the search list that has both, else downloaded."""
    import os
    stems = [f"{_PREFIX[split]}-images-idx3-ubyte", f"{_PREFIX[split]}-labels-idx1-ubyte"]
    if path is not None:
        files = _split_files(path, stems)
        if files is None:
            missing = [s for s in stems if _split_files(path, [s]) is None]
            raise FileNotFoundError(f"{os.fspath(path)}: expected {missing[0]} or {missing[0]}.gz (the "
                                    f"IDX files of {_DATASETS[name]['title']}), found neither")
        return files
    home = os.environ.get("SIA_DATA")
    writable = os.path.join(home, name) if home else os.path.join(_cache_root(), name)
    folders = ([os.path.join(home, name)] if home else []) + [os.path.join(_cache_root(), name)] + \
        [os.path.join(root, name) for root in _SYSTEM_ROOTS]
    for folder in folders:
        files = _split_files(folder, stems)
        if files is not None:
            return files
    if not download:
        raise FileNotFoundError(f"{_DATASETS[name]['title']} ({split}): found no {stems[0]}[.gz] and "
                                f"{stems[1]}[.gz] in " + ", ".join(folders) +
                                "; pass download=True to fetch them, or path= their folder")
    return _fetch(name, split, writable)


def _load_idx_pair(name, path=None, split=None, dtype=np.float32, *, flatten=False, download=True,
                   kind=None, directory=None):
    import os
    if directory is not None:
        if path is not None:
            raise TypeError("give the folder as path= or as directory= (its old name), not both")
        path = directory
    if kind is not None:
        if split is not None:
            raise TypeError(f"give split= or kind= (its old name), not both: got split={split!r}, "
                            f"kind={kind!r}")
        split = kind
    if split is None:
        split = "train"
    if isinstance(split, str) and split == "t10k":
        split = "test"
    if not isinstance(split, str) or split not in _PREFIX:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a folder (str or path-like), got {type(path).__name__}")
    for arg, value in (("flatten", flatten), ("download", download)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{arg}: expected True or False, got {value!r}")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a floating-point dtype (float32 or float64), got {dtype!r}") from None
    if dtype.kind != "f":
        raise ValueError(f"dtype: expected a floating-point dtype (float32 or float64), got {dtype}")

    image_file, label_file = _find_folder(name, split, path, bool(download))
    images, labels = load_idx(image_file), load_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"{image_file}, {label_file}: expected images of 3 dimensions and labels of 1, "
                         f"got shapes {images.shape} and {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{image_file}, {label_file}: expected one label per image, got "
                         f"{images.shape[0]} images and {labels.shape[0]} labels")
    X = np.divide(images, 255, dtype=dtype)  # correctly rounded in dtype
    if flatten:
        X = X.reshape(X.shape[0], -1)
    return X, labels.astype(np.int64)


_LOADER_DOC = """{title} as ``(X, y)``: images scaled to [0, 1], labels 0..9.

    The four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each with or without ``.gz``) are read
    from ``path`` when it is given. Otherwise from the first of: ``$SIA_DATA/{folder}``, the user
    cache folder (``~/.cache/sia_autoencoder/{folder}`` on Linux){system}; when none has them they
    are downloaded once from the official site into ``$SIA_DATA/{folder}`` (or the cache folder),
    checked against their published SHA-256 and moved into place atomically. Nothing is downloaded
    when the module is imported.

    Parameters
    ----------
    path : str or path-like, optional
        A folder holding the IDX files; only that folder is read (``directory`` is its old name).
    split : {{'train', 'test'}}, default 'train'
        The 60,000 training or the 10,000 test images (``kind`` is its old name).
    dtype : floating dtype, default float32
    flatten : bool, default False
        Return ``X`` as ``(n, 784)`` rows instead of ``(n, 28, 28)`` images.
    download : bool, default True
        Whether to download the files when no folder has them (else ``FileNotFoundError``).

    Returns
    -------
    X : ndarray (n, 28, 28) of ``dtype`` (or (n, 784) with ``flatten=True``), pixel / 255.
    y : ndarray (n,) of int64, the class 0..9{classes}.
    """


def load_fashion_mnist(path=None, split=None, dtype=np.float32, *, flatten=False, download=True,
                       kind=None, directory=None):
    return _load_idx_pair("fashion-mnist", path, split, dtype, flatten=flatten, download=download,
                          kind=kind, directory=directory)


def load_mnist(path=None, split=None, dtype=np.float32, *, flatten=False, download=True,
               kind=None, directory=None):
    return _load_idx_pair("mnist", path, split, dtype, flatten=flatten, download=download,
                          kind=kind, directory=directory)


load_fashion_mnist.__doc__ = _LOADER_DOC.format(
    title="Fashion-MNIST (Zalando's 70,000 28×28 clothing images)", folder="fashion-mnist",
    system=", then ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``)",
    classes=" (names in ``FASHION_MNIST_CLASSES``)")
load_mnist.__doc__ = _LOADER_DOC.format(
    title="MNIST (LeCun's 70,000 28×28 handwritten digits)", folder="mnist",
    system=", then ``/usr/share/datasets/mnist``", classes=", the digit")
