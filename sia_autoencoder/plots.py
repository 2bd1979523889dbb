"""Figures for any trained model with ``encode``/``decode`` (matplotlib is imported lazily).

Every function draws on a new figure (or the ``ax`` given) and returns the Figure, so that
scripts can ``fig.savefig(path)``; in a notebook the figure shows once, whether the call is the
cell's last line or not.

Images are rows of pixels (n, rows·cols), or arrays (n, rows, cols[, channels]). Their shape is
inferred when it can be: 35 pixels are the font's 7×5 characters, a square number of pixels a
square image (784 → 28×28, 400 → 20×20, 64 → 8×8); anything else needs ``shape=(rows, cols)``.
"""
import math
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import numpy as np

from ._typing import ArrayLike
from .datasets import FONT_SHAPE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["show_images", "plot_latent", "plot_reconstructions", "plot_decoded",
           "plot_latent_grid", "plot_interpolation", "plot_history", "plot_activation_histogram",
           "activation_stats", "plot_hash_groups", "hash_groups"]


def _plt():
    import matplotlib.pyplot as plt
    return plt


_FIGURE_CLASS = None


def _figure_class():
    """A matplotlib Figure that a notebook shows once. While pyplot holds it, the inline
    backend displays it when the cell ends, so displaying it during the cell (the returned
    Figure as the cell's last line) adds nothing; any other display shows it."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        from matplotlib.figure import Figure

        class ShownOnceFigure(Figure):
            def _ipython_display_(self):
                from IPython import get_ipython
                from IPython.display import display
                from matplotlib._pylab_helpers import Gcf
                shell = get_ipython()
                in_cell = getattr(getattr(shell, "displayhook", None), "exec_result", None) is not None
                manager = Gcf.get_fig_manager(getattr(self, "number", None))
                if in_cell and manager is not None and manager.canvas.figure is self \
                        and _pyplot_shows_figures():
                    return   # pyplot displays it when the cell ends
                data = {"text/plain": repr(self)}
                if shell is None or "image/png" in shell.display_formatter.active_types:
                    from IPython.core.pylabtools import print_figure
                    data["image/png"] = print_figure(self, "png")
                display(data, raw=True)

        ShownOnceFigure.__module__ = __name__
        ShownOnceFigure.__qualname__ = "ShownOnceFigure"
        _FIGURE_CLASS = ShownOnceFigure
    return _FIGURE_CLASS


def __getattr__(name):   # the figure class is made on first use (matplotlib loads lazily)
    if name == "ShownOnceFigure":
        return _figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _pyplot_shows_figures():
    import matplotlib
    backend = matplotlib.get_backend().lower()
    return "inline" in backend or "ipympl" in backend or "widget" in backend \
        or _plt().isinteractive()


def _subplots(*args, **kwargs):
    """plt.subplots for a figure that a notebook shows once."""
    return _plt().subplots(*args, FigureClass=_figure_class(), **kwargs)


def _owned(fig):
    """The figure of an ``ax`` the caller gave: shown once too (only a plain Figure's class is
    changed; it gains nothing but its notebook display)."""
    from matplotlib.figure import Figure
    if type(fig) is Figure:
        fig.__class__ = _figure_class()
    return fig


def image_shape(n_pixels: int, shape: Optional[Sequence[int]] = None,
                what: str = "images") -> Tuple[int, int]:
    """(rows, cols) of images of ``n_pixels`` pixels: ``shape`` if given (checked), else the
    font's 7×5 for 35 pixels, else a square; anything else raises, asking for ``shape=``."""
    if shape is not None:
        try:
            rows, cols = (int(v) for v in shape)
        except (TypeError, ValueError):
            raise ValueError(f"shape: expected (rows, cols), got {shape!r}") from None
        if rows * cols != n_pixels:
            raise ValueError(f"shape: {(rows, cols)} makes {rows * cols} pixels, but the {what} "
                             f"have {n_pixels}")
        return rows, cols
    if n_pixels == FONT_SHAPE[0] * FONT_SHAPE[1]:
        return FONT_SHAPE
    side = math.isqrt(n_pixels)
    if side * side == n_pixels:
        return side, side
    rows = max(r for r in range(1, side + 1) if n_pixels % r == 0)
    raise ValueError(f"shape: {what} of {n_pixels} pixels are not square, so their shape cannot "
                     f"be inferred; pass shape=(rows, cols), e.g. shape=({rows}, {n_pixels // rows})")


def _images(images, shape=None, what="images"):
    """images as an array (n, rows, cols) or (n, rows, cols, channels) (channels 3 or 4)."""
    images = np.asarray(images, dtype=float)
    if images.ndim == 1:
        images = images[None]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:
        rows, cols = image_shape(images.shape[1], shape, what)
        return images.reshape(len(images), rows, cols)
    if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (3, 4)):
        if shape is not None and tuple(shape) != images.shape[1:3]:
            raise ValueError(f"shape: {tuple(shape)} does not match the {what}' shape "
                             f"{images.shape[1:3]}")
        return images
    raise ValueError(f"{what}: expected rows of pixels (n, rows·cols) or images (n, rows, cols"
                     f"[, 1, 3 or 4 channels]), got shape {images.shape}")


def _is_binary(X):
    """Only 0/1 data has wrong pixels: thresholding grey images at 0.5 means nothing."""
    return bool(np.isin(np.asarray(X), (0.0, 1.0)).all())


def _imshow(ax, img, vmin=0.0, vmax=1.0):
    if img.ndim == 3:   # colour, channels last
        ax.imshow(np.clip(img, 0.0, 1.0), interpolation="nearest")
    else:
        ax.imshow(img, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def show_images(images, shape=None, titles=None, ncols=8, scale=0.9, suptitle=None) -> "Figure":
    """A mosaic of images (n, rows·cols) or (n, rows, cols), ink dark on white, with optional
    titles. ``shape`` (rows, cols) is inferred for the font and for square images."""
    images = _images(images, shape)
    n = images.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    aspect = images.shape[1] / images.shape[2]
    fig, axes = _subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * aspect + 0.3),
                          squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _imshow(ax, images[i])
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def project_codes(Z, projection=None, seed=0):
    """Codes Z (n, k) as drawn: (points (n, 2) or (n, 3), axis names, a note saying how).

    projection None: 2-D and 3-D codes as they are, more dimensions by PCA to 2-D. 'pca' or
    'tsne' (scikit-learn's t-SNE) project any k >= 2 to 2-D.
    """
    Z = np.asarray(Z, dtype=float)
    k = Z.shape[1]
    if projection is None:
        if k <= 3:
            return Z, [f"z{i + 1}" for i in range(k)], ""
        projection = "pca"
    if projection not in ("pca", "tsne"):
        raise ValueError(f"projection: expected None, 'pca' or 'tsne', got {projection!r}")
    if k < 2:
        raise ValueError(f"projection: needs codes of 2 dimensions or more, these have {k}")
    if projection == "pca":
        centred = Z - Z.mean(axis=0)
        _, sv, Vt = np.linalg.svd(centred, full_matrices=False)
        signs = np.where(Vt[:2].max(axis=1) >= -Vt[:2].min(axis=1), 1.0, -1.0)
        P = centred @ (Vt[:2].T * signs)
        share = float((sv[:2] ** 2).sum() / max((sv ** 2).sum(), np.finfo(float).tiny))
        return P, ["PC1", "PC2"], f"{k}-D codes through PCA to 2-D, {share:.0%} of the variance"
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise ImportError("projection='tsne' needs scikit-learn (pip install scikit-learn); "
                          "projection='pca' needs nothing more") from None
    n = Z.shape[0]
    P = TSNE(n_components=2, perplexity=min(30.0, max(1.0, (n - 1) / 3)), init="pca",
             random_state=seed).fit_transform(Z)
    return P, ["t-SNE 1", "t-SNE 2"], f"{k}-D codes through t-SNE to 2-D"


def _latent_axes(ax, dims, figsize=(7, 6)):
    if ax is None:
        if dims == 3:
            fig = _plt().figure(figsize=figsize, FigureClass=_figure_class())
            return fig.add_subplot(projection="3d")
        return _subplots(figsize=figsize)[1]
    if dims == 3 and not hasattr(ax, "get_zlim"):
        raise ValueError("ax: 3-D codes are drawn on 3-D axes (projection='3d'); pass one, or "
                         "projection='pca' to draw them in 2-D")
    _owned(ax.figure)
    return ax


def _titled(title, note):
    return f"{title}\n({note})" if note else title


def plot_latent(model, X, labels=None, ax=None, title="Latent space", c=None, cmap="tab10",
                projection=None) -> "Figure":
    """Scatter of the codes of X, each point labelled by its character (or coloured by ``c``).

    2-D codes are drawn as they are, 3-D codes in a 3-D scatter, and codes of more dimensions
    through a 2-D projection: PCA (the default), or ``projection='tsne'`` (scikit-learn's t-SNE);
    the title says which.
    """
    P, names, note = project_codes(model.encode(X), projection)
    dims = P.shape[1]
    if dims < 2:
        raise ValueError(f"plot_latent: needs a latent space of 2 dimensions or more, this one has "
                         f"{dims}")
    ax = _latent_axes(ax, dims)
    fig = ax.figure
    style = {"c": c, "cmap": cmap} if c is not None else {"color": "tab:blue"}
    points = ax.scatter(*P.T, s=30, alpha=0.8, **style)
    if c is not None:
        fig.colorbar(points, ax=ax)
    if labels is not None:
        for p, label in zip(P, labels):
            if dims == 3:
                ax.text(*p, f" {label}", fontsize=9)
            else:
                ax.annotate(str(label), tuple(p), textcoords="offset points", xytext=(4, 4),
                            fontsize=11)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if dims == 3:
        ax.set_zlabel(names[2])
    ax.set_title(_titled(title, note))
    ax.grid(alpha=0.3)
    return fig


def plot_reconstructions(model, X, labels=None, shape=None, threshold=None, scale=0.8) -> "Figure":
    """Originals (top row) against reconstructions (bottom row), column by column.

    On binary data (0/1 pixels) the wrong pixels of each reconstruction (thresholded at 0.5, as
    ``pixel_errors`` counts) are written under it. With ``threshold`` (e.g. 0.5) the
    reconstructions are drawn binarised.
    """
    X = np.asarray(X, dtype=float)
    R = np.asarray(model.reconstruct(X), dtype=float)
    originals, outputs = _images(X, shape, "inputs"), _images(R, shape, "outputs")
    if threshold is not None:
        outputs = (outputs >= threshold).astype(float)
    binary = _is_binary(X)
    if binary:
        errs = ((R >= 0.5) != (X >= 0.5)).reshape(len(X), -1).sum(axis=1)
    n = X.shape[0]
    aspect = originals.shape[1] / originals.shape[2]
    fig, axes = _subplots(2, n, figsize=(n * scale, 2 * scale * aspect + 0.6), squeeze=False)
    for i in range(n):
        _imshow(axes[0, i], originals[i])
        _imshow(axes[1, i], outputs[i])
        if labels is not None:
            axes[0, i].set_title(str(labels[i]), fontsize=9)
        if binary:
            axes[1, i].set_xlabel(f"{errs[i]}", fontsize=8,
                                  color="crimson" if errs[i] > 1 else "black")
    axes[0, 0].set_ylabel("input", fontsize=8)
    axes[1, 0].set_ylabel("output", fontsize=8)
    fig.suptitle("Originals and reconstructions" + (" (wrong pixels below)" if binary else ""))
    fig.tight_layout()
    return fig


def plot_decoded(model, z, shape=None, ax=None, title=None) -> "Figure":
    """The image decoded from one latent point ``z``: a new character from anywhere in the space."""
    z = np.asarray(z, dtype=float).reshape(1, -1)
    img = _images(model.decode(z), shape)[0]
    if ax is None:
        fig, ax = _subplots(figsize=(2, 2 * img.shape[0] / img.shape[1]))
    _imshow(ax, img)
    ax.set_title(title or "z = (" + ", ".join(f"{v:.2f}" for v in z[0]) + ")", fontsize=9)
    return _owned(ax.figure)


def axis_labels(values: ArrayLike) -> List[str]:
    """Tick labels for evenly spaced axis values: the fewest decimals that tell them apart, so
    that the value 0 (or 1.7e-05 on an axis of step 0.5) reads 0, as an axis would show it."""
    vals: np.ndarray = np.asarray(values, dtype=float).ravel()
    rounded: np.ndarray = vals
    for decimals in range(0, 8):
        rounded = np.round(vals, decimals) + 0.0             # + 0.0: no "-0"
        if len(np.unique(rounded)) == len(np.unique(vals)):
            break
    import matplotlib
    minus = "\u2212" if matplotlib.rcParams["axes.unicode_minus"] else "-"
    return [f"{v:.{decimals}f}".replace("-", minus) for v in rounded.tolist()]


def plot_latent_grid(model, n=10, low=-1.0, high=1.0, shape=None, ax=None, title=None) -> "Figure":
    """An n×n mosaic of images decoded over the latent window [low, high]² (z2 grows upwards)."""
    plt = _plt()
    images, Z = model.latent_grid(n, low, high)
    images = _images(images, shape)
    h, w = images.shape[1:3]
    pad = 1
    canvas = np.full((n * (h + pad) - pad, n * (w + pad) - pad) + images.shape[3:], np.nan)
    for k, img in enumerate(images):
        r, c = divmod(k, n)
        canvas[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    if ax is None:
        fig, ax = _subplots(figsize=(7, 7 * canvas.shape[0] / canvas.shape[1]))
    _owned(ax.figure)
    lo, hi = np.broadcast_to(np.asarray(low, float), 2), np.broadcast_to(np.asarray(high, float), 2)
    if canvas.ndim == 3:   # colour: white between the images
        ax.imshow(np.clip(np.nan_to_num(canvas, nan=1.0), 0.0, 1.0), interpolation="nearest")
    else:
        cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
        ax.imshow(np.ma.masked_invalid(canvas), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(np.arange(n) * (w + pad) + w / 2 - 0.5, axis_labels(np.linspace(lo[0], hi[0], n)),
                  fontsize=7)
    ax.set_yticks(np.arange(n) * (h + pad) + h / 2 - 0.5, axis_labels(np.linspace(hi[1], lo[1], n)),
                  fontsize=7)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title or f"Decoded latent grid, {n}×{n}")
    return ax.figure


def plot_interpolation(model, a, b, steps=10, shape=None, labels=("a", "b")) -> "Figure":
    """The images decoded along the latent segment from the code of ``a`` to that of ``b``."""
    images = model.interpolate(a, b, steps)
    titles = [labels[0]] + [""] * (steps - 2) + [labels[1]]
    return show_images(images, shape, titles=titles, ncols=steps,
                       suptitle=f"Interpolation from {labels[0]!s} to {labels[1]!s}")


def plot_history(history, ax=None, keys=None, log=True, title="Training loss") -> "Figure":
    """Per-epoch curves of a History (or its dict): 'loss', 'val_loss', ..."""
    h = getattr(history, "history", history)
    if ax is None:
        fig, ax = _subplots(figsize=(7, 4))
    _owned(ax.figure)
    for key in keys or list(h):
        ax.plot(np.arange(1, len(h[key]) + 1), h[key], label=key)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax.figure


# ---- variational autoencoders (any model with sample/encode; the latent grid and the
#      interpolation strip are plot_latent_grid and plot_interpolation above) ----

__all__ += ["plot_samples", "plot_latent_classes", "plot_vae_history"]


def plot_samples(model, n=32, shape=None, seed=None, ncols=8, title="Samples from the prior") -> "Figure":
    """A grid of ``n`` images decoded from z ~ N(0, I) (``model.sample(n, seed)``)."""
    return show_images(model.sample(n, seed=seed), shape, ncols=ncols, suptitle=title)


def plot_latent_classes(model, X, labels, names=None, annotate=False, ax=None,
                        title="Latent space (means) by class", cmap="tab10", projection=None) -> "Figure":
    """Scatter of the mean codes of X, one colour per class of ``labels`` with a legend.

    The classes are sorted, so a class keeps its colour in any subset that holds the same
    classes. ``names`` maps a label to the legend's text (a dict or a list indexed by label).
    With ``annotate`` every point is also written as its label (e.g. emoji names). Codes of 3 or
    more dimensions are drawn as :func:`plot_latent` draws them (``projection``).
    """
    plt = _plt()
    P, axis_names, note = project_codes(model.encode(X), projection)
    dims = P.shape[1]
    if dims < 2:
        raise ValueError(f"plot_latent_classes: needs a latent space of 2 dimensions or more, "
                         f"this one has {dims}")
    labels = np.asarray(labels)
    if labels.shape[0] != P.shape[0]:
        raise ValueError(f"labels: expected one label per row of X ({P.shape[0]}), got {labels.shape[0]}")
    ax = _latent_axes(ax, dims)
    classes = np.unique(labels).tolist()
    colours = plt.get_cmap(cmap)
    for i, cls in enumerate(classes):
        sel = labels == cls
        text = names[cls] if names is not None else cls
        ax.scatter(*P[sel].T, s=18, alpha=0.75, color=colours(i % colours.N), label=str(text))
        if annotate:
            for p in P[sel]:
                if dims == 3:
                    ax.text(*p, f" {text}", fontsize=8)
                else:
                    ax.annotate(str(text), tuple(p), textcoords="offset points", xytext=(3, 3),
                                fontsize=8)
    if len(classes) <= 20:
        ax.legend(fontsize=8, markerscale=1.5, loc="best")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    if dims == 3:
        ax.set_zlabel(axis_names[2])
    ax.set_title(_titled(title, note))
    ax.grid(alpha=0.3)
    return ax.figure


def plot_vae_history(history, title="VAE training: reconstruction against KL") -> "Figure":
    """The reconstruction loss (left axis) and the KL term (right axis) per epoch, with their
    validation curves when present; the total loss dashed on the left axis."""
    h = getattr(history, "history", history)
    fig, ax = _subplots(figsize=(7, 4))
    epochs = np.arange(1, len(h["reconstruction_loss"]) + 1)
    ax.plot(epochs, h["reconstruction_loss"], color="tab:blue", label="reconstruction")
    if "val_reconstruction_loss" in h:
        ax.plot(epochs, h["val_reconstruction_loss"], color="tab:blue", alpha=0.5, ls=":",
                label="val reconstruction")
    if "loss" in h:
        ax.plot(epochs, h["loss"], color="tab:gray", ls="--", label="total")
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction loss", color="tab:blue")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(epochs, h["kl_loss"], color="tab:red", label="KL")
    if "val_kl_loss" in h:
        ax2.plot(epochs, h["val_kl_loss"], color="tab:red", alpha=0.5, ls=":", label="val KL")
    ax2.set_ylabel("KL", color="tab:red")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ---- denoising (issue 3) ----
__all__ += ["plot_denoising", "plot_noise_study"]


def plot_denoising(model, X, noisy, labels=None, steps=None, shape=None, scale=0.8,
                   title=None) -> "Figure":
    """Clean (top), noisy (middle) and denoised (bottom) rows for the chosen characters.

    ``X`` and ``noisy`` are (n, d): the clean characters and their corrupted copies. The model is
    applied ``steps`` times if it has ``denoise`` (a DenoisingAutoencoder), else once. On binary
    data the denoised image's wrong pixels (thresholded at 0.5) are written under it.
    """
    X, noisy = np.asarray(X, dtype=float), np.asarray(noisy, dtype=float)
    if X.shape != noisy.shape:
        raise ValueError(f"noisy: expected the shape of X {X.shape}, got {noisy.shape}")
    out = np.asarray(model.denoise(noisy, steps) if hasattr(model, "denoise")
                     else model.reconstruct(noisy), dtype=float)
    binary = _is_binary(X)
    if binary:
        errs = ((out >= 0.5) != (X >= 0.5)).reshape(len(X), -1).sum(axis=1)
    rows = [_images(A, shape, what) for A, what in ((X, "images"), (noisy, "noisy images"),
                                                   (out, "outputs"))]
    n = X.shape[0]
    aspect = rows[0].shape[1] / rows[0].shape[2]
    fig, axes = _subplots(3, n, figsize=(n * scale + 0.6, 3 * scale * aspect + 0.8), squeeze=False)
    for i in range(n):
        for row, images in enumerate(rows):
            _imshow(axes[row, i], images[i])
        if labels is not None:
            axes[0, i].set_title(str(labels[i]), fontsize=9)
        if binary:
            axes[2, i].set_xlabel(f"{errs[i]}", fontsize=8,
                                  color="crimson" if errs[i] > 1 else "black")
    for row, name in enumerate(("clean", "noisy", "denoised")):
        axes[row, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(title or "Clean, noisy and denoised" + (" (wrong pixels below)" if binary else ""))
    fig.tight_layout()
    return fig


_METHOD_STYLE = {"optimal": dict(color="black", ls="--", marker="", label="optimal decoder (ML)"),
                 "denoising": dict(color="tab:blue", ls="-", marker="o", label="denoising AE"),
                 "plain": dict(color="tab:orange", ls=":", marker="s", label="plain AE")}


def plot_noise_study(study, key="recovered", axes=None, title=None) -> "Figure":
    """Recovery (fraction with <= 1 wrong pixel; ``key='wrong_mean'`` for wrong pixels) against
    the noise level, one panel per noise type: the denoising and plain autoencoders with their
    spread over seeds as a band, and the optimal decoder as the dashed bound."""
    noise_types = study.noise_types
    if axes is None:
        fig, axes = _subplots(1, len(noise_types), figsize=(4.6 * len(noise_types), 4),
                                 squeeze=False)
        axes = axes[0]
    fig = _owned(axes[0].figure)
    for ax, noise in zip(axes, noise_types):
        for method in study.methods():
            levels, values, spread = study.curve(noise, method, key)
            style = dict(_METHOD_STYLE.get(method, dict(label=method)))
            ax.plot(levels, values, ms=4, **style)
            if method != "optimal" and np.any(spread > 0):
                ax.fill_between(levels, values - spread, values + spread, alpha=0.2,
                                color=style.get("color"))
        ax.set_xlabel("σ" if noise == "gaussian" else "p")
        ax.set_title(noise.replace("_", " "))
        ax.grid(alpha=0.3)
        if key == "recovered":
            ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("recovered (≤ 1 wrong pixel)" if key == "recovered" else key)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---- regularized autoencoders (issue 15) ----

def _layer_output(model, X, layer):
    """The output of a layer of the model for X (n, units): 'code' (the latent layer), or the
    index of a layer (1 = the first layer's output)."""
    if isinstance(layer, str) and layer in ("code", "latent"):
        return np.asarray(model.encode(X)).reshape(len(X), -1)
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        return np.asarray(model.layer_output(X, int(layer))).reshape(len(X), -1)
    raise ValueError(f"layer: expected 'code' or a layer index, got {layer!r}")


def activation_stats(model, X, layer="code", near_zero=0.05):
    """The numbers behind :func:`plot_activation_histogram`: a dict with the layer's outputs
    ``a`` (n, units), each unit's mean activation ``unit_means`` (units,), their mean ``mean``,
    and the share of outputs below ``near_zero`` (``near_zero_share``)."""
    a = _layer_output(model, X, layer).astype(float)
    means = a.mean(axis=0)
    return {"a": a, "unit_means": means, "mean": float(a.mean()),
            "near_zero_share": float(np.mean(np.abs(a) < near_zero))}


def plot_activation_histogram(model, X, layer="code", bins=40, near_zero=0.05, axes=None,
                              title=None):
    """The two sparsity histograms of the lectures for one layer on X: every output value, and
    each unit's mean activation over X. Returns the Figure; :func:`activation_stats` gives the
    numbers."""
    s = activation_stats(model, X, layer, near_zero)
    if axes is None:
        fig, axes = _subplots(1, 2, figsize=(10, 3.4))
    fig = _owned(axes[0].figure)
    axes[0].hist(s["a"].ravel(), bins=bins, color="tab:blue")
    axes[0].set_title(f"all outputs: mean {s['mean']:.3f}, {100 * s['near_zero_share']:.0f}% "
                      f"below {near_zero:g}", fontsize=10)
    axes[0].set_xlabel("activation")
    axes[0].set_ylabel("count")
    axes[1].hist(s["unit_means"], bins=bins, color="tab:orange")
    axes[1].set_title(f"mean activation of each of {s['unit_means'].size} units", fontsize=10)
    axes[1].set_xlabel("mean activation over the samples")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"Activations of layer {layer!r}")
    fig.tight_layout()
    return fig


def hash_groups(hashes, labels=None, top=None):
    """The hashes sorted by how many samples share them: a list of (hash, indices), the most
    common first (ties by hash), and with ``labels`` each group's majority share (its purity)
    as a third item."""
    hashes = np.asarray(hashes)
    values, counts = np.unique(hashes, return_counts=True)
    order = sorted(range(values.size), key=lambda i: (-counts[i], values[i]))[:top]
    groups = []
    for i in order:
        idx = np.flatnonzero(hashes == values[i])
        if labels is None:
            groups.append((int(values[i]), idx))
        else:
            _, c = np.unique(np.asarray(labels)[idx], return_counts=True)
            groups.append((int(values[i]), idx, float(c.max() / idx.size)))
    return groups


def plot_hash_groups(model, X, labels=None, n_groups=8, per_group=8, shape=None, names=None,
                     scale=0.8):
    """Semantic hashing: the ``n_groups`` most common hashes of X (``model.hash``), one row each
    with ``per_group`` of its images, its size, and with ``labels`` its majority class and purity."""
    X = np.asarray(X)
    hashes = model.hash(X)
    groups = hash_groups(hashes, labels, n_groups)
    bits = int(np.asarray(model.encode(X[:1])).size)
    images = _images(X, shape)
    fig, axes = _subplots(len(groups), per_group, squeeze=False,
                          figsize=(per_group * scale, len(groups) * scale * 1.15 + 0.4))
    for row, group in zip(axes, groups):
        h, idx = group[0], group[1]
        for j, ax in enumerate(row):
            if j < idx.size:
                _imshow(ax, images[idx[j]])
            else:
                ax.axis("off")
        text = f"{h:0{bits}b}\n{idx.size} samples"
        if labels is not None:
            lab = np.asarray(labels)[idx]
            vals, c = np.unique(lab, return_counts=True)
            top = vals[np.argmax(c)]
            text += f"\n{names[top] if names is not None else top}: {100 * group[2]:.0f}%"
        row[0].set_ylabel(text, rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(f"The {len(groups)} most common hashes of {len(X)} samples", fontsize=10)
    fig.tight_layout()
    return fig
