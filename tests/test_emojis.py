import numpy as np
import pytest

from sia_autoencoder._emojis import EMOJI_SHAPE, load_emojis


@pytest.fixture(scope="module")
def emojis():
    return load_emojis()


def test_shape_and_dtype(emojis):
    X, names = emojis
    assert X.ndim == 2 and X.shape[1] == 400
    assert X.shape[0] >= 24
    assert X.dtype == np.float32
    assert len(names) == X.shape[0]


def test_values_are_probabilities(emojis):
    X, _ = emojis
    assert np.all(np.isfinite(X))
    assert X.min() >= 0.0 and X.max() <= 1.0
    # every picture has solid ink and solid paper, not a uniform grey
    assert np.all(X.max(axis=1) == 1.0) and np.all(X.min(axis=1) == 0.0)
    ink = X.mean(axis=1)
    assert np.all((ink > 0.05) & (ink < 0.8)), ink


def test_names_unique_strings(emojis):
    _, names = emojis
    assert all(isinstance(n, str) and n for n in names)
    assert len(set(names)) == len(names)
    assert {"smiley", "sad", "heart", "star"} <= set(names)


def test_pictures_pairwise_distinct(emojis):
    X, names = emojis
    X = X.astype(np.float64)
    d2 = (X**2).sum(1)[:, None] + (X**2).sum(1)[None] - 2 * X @ X.T
    dist = np.sqrt(np.maximum(d2, 0)) + np.diag(np.full(len(X), np.inf))
    i, j = np.unravel_index(np.argmin(dist), dist.shape)
    assert dist[i, j] > 2.0, f"{names[i]} and {names[j]} are only {dist[i, j]:.2f} apart"


def test_unflattened_shape_matches_flat(emojis):
    X, names = emojis
    Y, names2 = load_emojis(flatten=False)
    assert Y.shape == (len(X), *EMOJI_SHAPE)
    assert names2 == names
    np.testing.assert_array_equal(Y.reshape(len(Y), -1), X)


def test_loader_is_deterministic(emojis):
    X, names = emojis
    X2, names2 = load_emojis()
    assert X2 is not X
    np.testing.assert_array_equal(X2, X)
    assert names2 == names


def test_dtype_argument():
    X, _ = load_emojis(dtype=np.float64)
    assert X.dtype == np.float64
    X32, _ = load_emojis()
    np.testing.assert_allclose(X, X32, rtol=0, atol=0)


def test_smiley_is_a_face(emojis):
    # a ring face: the centre column crosses ink at the top edge, and the corners are blank
    X, names = emojis
    smiley = X[names.index("smiley")].reshape(EMOJI_SHAPE)
    assert smiley[1, 9:11].min() > 0.5
    assert smiley[0, 0] == 0 and smiley[-1, -1] == 0
    assert smiley[:, :10].sum() == pytest.approx(smiley[:, ::-1][:, :10].sum(), rel=1e-5)  # mirror-symmetric


def test_bundled_file_matches_generator(emojis):
    # the .npz must be exactly what tools/make_emojis.py draws, so the drawings stay the source
    from repo_scripts import REPO, load_script

    if not (REPO / "tools" / "make_emojis.py").exists():
        pytest.skip("tools/make_emojis.py is not shipped with this install")
    tool = load_script("tools/make_emojis.py")
    images, names = tool.make()
    X, bundled_names = emojis
    assert list(names) == bundled_names
    np.testing.assert_array_equal(images.reshape(len(images), -1), X)
