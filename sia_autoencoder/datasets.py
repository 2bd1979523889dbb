"""Datasets that ship with the package: nothing is downloaded at run time."""
import re
from importlib import resources

import numpy as np

from ._emojis import EMOJI_SHAPE, load_emojis

__all__ = ["load_font", "FONT_SHAPE", "load_emojis", "EMOJI_SHAPE", "load_digits", "DIGITS_SHAPE",
           "load_idx", "load_fashion_mnist", "FASHION_MNIST_SHAPE", "FASHION_MNIST_CLASSES"]

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


def load_font(dtype=np.float64):
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


def load_digits(dtype=np.float32):
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


def load_fashion_mnist(directory, kind="train", dtype=np.float32):
    """Fashion-MNIST (or MNIST) from the standard IDX files in ``directory``; nothing is downloaded.

    Looks for ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (kind='train') or
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (kind='test'), each with or
    without ``.gz``.

    Returns
    -------
    X : ndarray (n, 784) of ``dtype``, pixels scaled to [0, 1], each image 28×28 flattened
        row-major (``FASHION_MNIST_SHAPE``).
    labels : ndarray (n,) of int64, class 0..9 (names in ``FASHION_MNIST_CLASSES``).
    """
    import os
    prefixes = {"train": "train", "test": "t10k", "t10k": "t10k"}
    if kind not in prefixes:
        raise ValueError(f"kind: expected 'train' or 'test', got {kind!r}")

    def find(stem):
        for candidate in (stem, stem + ".gz"):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                return path
        raise FileNotFoundError(f"{os.fspath(directory)}: expected {stem} or {stem}.gz (the IDX files "
                                f"of Fashion-MNIST), found neither")

    images = load_idx(find(f"{prefixes[kind]}-images-idx3-ubyte"))
    labels = load_idx(find(f"{prefixes[kind]}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"{os.fspath(directory)}: expected images of 3 dimensions and labels of 1, "
                         f"got shapes {images.shape} and {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{os.fspath(directory)}: expected one label per image, got {images.shape[0]} "
                         f"images and {labels.shape[0]} labels")
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    return X.astype(dtype), labels.astype(np.int64)
