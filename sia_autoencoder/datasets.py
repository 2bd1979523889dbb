"""Datasets that ship with the package: nothing is downloaded at run time."""
import re
from importlib import resources

import numpy as np

__all__ = ["load_font", "FONT_SHAPE"]

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
