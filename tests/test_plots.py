"""The figures: image shapes inferred or asked for by name, wrong pixels on binary data only,
classes coloured in sorted order, 3-D and higher-dimensional latent spaces, tick labels."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sia_autoencoder import Autoencoder, datasets, plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class Square:
    """A stand-in model on 784-pixel (or any) images: the identity, and codes = the first k
    pixels; enough to draw every figure."""

    def __init__(self, d=784, k=2):
        self.d, self.k = d, k

    def reconstruct(self, X):
        return np.clip(np.asarray(X, float) * 0.9 + 0.05, 0, 1)

    def encode(self, X):
        X = np.asarray(X, float).reshape(len(X), -1)
        return X[:, :self.k] * np.arange(1, self.k + 1)

    def decode(self, Z):
        Z = np.asarray(Z, float)
        return np.tile(1 / (1 + np.exp(-Z[:, :1])), (1, self.d))

    def latent_grid(self, n, low, high):
        Z = np.array([(a, b) for b in np.linspace(high, low, n) for a in np.linspace(low, high, n)])
        return self.decode(Z), Z


def _bottom_labels(fig):
    return [ax.get_xlabel() for ax in fig.axes if ax.get_subplotspec().rowspan.start > 0]


@pytest.mark.parametrize("d, shape", [(784, (28, 28)), (64, (8, 8)), (400, (20, 20)), (35, (7, 5))])
def test_square_images_and_the_font_are_inferred(d, shape):
    X = np.random.default_rng(0).random((3, d))
    fig = plots.show_images(X)
    assert fig.axes[0].images[0].get_array().shape == shape
    fig = plots.plot_reconstructions(Square(d), X)
    assert fig.axes[-1].images[0].get_array().shape == shape
    assert plots.plot_decoded(Square(d), [0.0, 1.0]).axes[0].images[0].get_array().shape == shape


def test_other_widths_ask_for_shape_by_name():
    X = np.random.default_rng(0).random((3, 50))
    with pytest.raises(ValueError, match=r"shape: images of 50 pixels are not square.*shape=\(5, 10\)"):
        plots.show_images(X)
    with pytest.raises(ValueError, match=r"shape=\("):
        plots.plot_reconstructions(Square(50), X)
    assert plots.show_images(X, shape=(5, 10)).axes[0].images[0].get_array().shape == (5, 10)
    with pytest.raises(ValueError, match=r"shape: \(7, 7\) makes 49 pixels, but the images have 50"):
        plots.show_images(X, shape=(7, 7))


def test_images_given_as_arrays_keep_their_shape():
    X = np.random.default_rng(0).random((2, 6, 9))
    assert plots.show_images(X).axes[0].images[0].get_array().shape == (6, 9)
    assert plots.show_images(X[..., None]).axes[0].images[0].get_array().shape == (6, 9)


def test_wrong_pixels_are_counted_on_binary_data_only():
    rng = np.random.default_rng(0)
    binary = (rng.random((4, 64)) > 0.5).astype(float)
    fig = plots.plot_reconstructions(Square(64), binary)
    assert _bottom_labels(fig) == ["0"] * 4          # 0.05 / 0.95 thresholded: all right
    assert "wrong pixels" in fig._suptitle.get_text()
    grey = rng.random((4, 64))
    fig = plots.plot_reconstructions(Square(64), grey)
    assert _bottom_labels(fig) == [""] * 4
    assert "wrong pixels" not in fig._suptitle.get_text()
    fig = plots.plot_denoising(Square(64), grey, np.clip(grey + 0.1, 0, 1))
    assert all(label == "" for label in _bottom_labels(fig))
    assert "wrong pixels" not in fig._suptitle.get_text()


def test_latent_classes_are_coloured_in_sorted_order():
    model = Square(4, 2)
    X = np.random.default_rng(0).random((12, 4))
    labels = np.array([7, 3, 5] * 4)
    fig = plots.plot_latent_classes(model, X, labels)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["3", "5", "7"]
    colours = {t: tuple(c.get_facecolor()[0]) for t, c in zip(legend, fig.axes[0].collections)}
    subset = plots.plot_latent_classes(model, X[[0, 1]], labels[[0, 1]])   # 7, 3 only
    sub = {t.get_text(): tuple(c.get_facecolor()[0])
           for t, c in zip(subset.axes[0].get_legend().get_texts(), subset.axes[0].collections)}
    assert sub["3"] == colours["3"]


def test_3d_codes_in_a_3d_scatter():
    X = np.random.default_rng(0).random((10, 6))
    fig = plots.plot_latent(Square(6, 3), X, labels=list("abcdefghij"))
    ax = fig.axes[0]
    assert ax.name == "3d" and ax.get_zlabel() == "z3"
    assert len(ax.texts) == 10
    with pytest.raises(ValueError, match="3-D axes"):
        plots.plot_latent(Square(6, 3), X, ax=plt.subplots()[1])
    fig = plots.plot_latent_classes(Square(6, 3), X, [0, 1] * 5)
    assert fig.axes[0].name == "3d"


def test_more_dimensions_through_a_projection_that_the_title_names():
    rng = np.random.default_rng(0)
    X = rng.random((40, 8))
    fig = plots.plot_latent(Square(8, 5), X)
    ax = fig.axes[0]
    assert ax.name == "rectilinear" and ax.get_xlabel() == "PC1"
    assert "5-D codes through PCA to 2-D" in ax.get_title()
    P, names, note = plots.project_codes(Square(8, 5).encode(X))
    centred = Square(8, 5).encode(X) - Square(8, 5).encode(X).mean(axis=0)
    # the first two principal directions: P's columns are uncorrelated, with the largest variances
    assert abs(np.corrcoef(P.T)[0, 1]) < 1e-8
    assert P[:, 0].var() >= P[:, 1].var()
    assert P[:, 0].var() + P[:, 1].var() <= centred.var(axis=0).sum() + 1e-12
    fig = plots.plot_latent(Square(8, 3), X, projection="pca")        # 3-D, asked for in 2-D
    assert fig.axes[0].name == "rectilinear"
    with pytest.raises(ValueError, match="projection"):
        plots.plot_latent(Square(8, 5), X, projection="umap")


def test_tsne_with_scikit_learn():
    pytest.importorskip("sklearn")
    X = np.random.default_rng(0).random((30, 8))
    fig = plots.plot_latent(Square(8, 4), X, projection="tsne")
    assert "4-D codes through t-SNE to 2-D" in fig.axes[0].get_title()
    assert fig.axes[0].get_xlabel() == "t-SNE 1"


def test_latent_grid_ticks_read_as_axis_values():
    assert plots.axis_labels([-1.2, -0.6, 1.7e-05, 0.6, 1.2]) == ["−1.2", "−0.6", "0.0", "0.6", "1.2"]
    assert plots.axis_labels(np.linspace(-4, 4, 9))[3:6] == ["−1", "0", "1"]
    fig = plots.plot_latent_grid(Square(784), n=5, low=-1.2, high=1.2 + 3.4e-05)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["−1.2", "−0.6", "0.0", "0.6", "1.2"]
    assert not any("e-" in t for t in ticks)


def test_the_letters_figures_still_draw():
    X, labels = datasets.load_font()
    ae = Autoencoder([35, 10, 2, 10, 35], seed=0)
    ae.fit(X, epochs=30)
    assert len(plots.plot_latent(ae, X, labels).axes[0].texts) == 32
    fig = plots.plot_reconstructions(ae, X[:4], labels[:4])
    assert all(label.isdigit() for label in _bottom_labels(fig))
    assert plots.plot_latent_grid(ae, 4, -1, 1).axes[0].images[0].get_array().shape == (4 * 8 - 1, 4 * 6 - 1)
