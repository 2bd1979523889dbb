"""The bundled 20×20 emoji set, drawn by ``tools/make_emojis.py``."""
from importlib import resources

import numpy as np

EMOJI_SHAPE = (20, 20)  # rows, columns of one picture


def load_emojis(flatten=True, dtype=np.float32):
    """Grayscale 20×20 faces and icons for the VAE exercise (smiley, sad, heart, star, ...).

    Parameters
    ----------
    flatten : bool
        If True, each picture is one row of 400 pixels, row-major; else it keeps its 20×20 shape.
    dtype : numpy dtype
        Dtype of the returned images.

    Returns
    -------
    X : ndarray (N, 400) if ``flatten`` else (N, 20, 20), of ``dtype``, values in [0, 1]
        with 1 = ink and 0 = paper (so binary cross-entropy applies); edges are anti-aliased.
    names : list of N distinct str, one per picture, e.g. 'smiley', 'heart'.
    """
    path = resources.files("sia_autoencoder") / "data" / "emojis.npz"
    with path.open("rb") as f, np.load(f, allow_pickle=False) as data:
        images = data["images"]
        names = [str(name) for name in data["names"]]
    if flatten:
        images = images.reshape(len(images), -1)
    return images.astype(dtype), names
