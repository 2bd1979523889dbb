"""Figures for any trained model with ``encode``/``decode`` (matplotlib is imported lazily).

Every function draws on a new figure (or the ``ax`` given) and returns the Figure, so that
notebooks show it and scripts can ``fig.savefig(path)``.
"""
import numpy as np

from .datasets import FONT_SHAPE

__all__ = ["show_images", "plot_latent", "plot_reconstructions", "plot_decoded",
           "plot_latent_grid", "plot_interpolation", "plot_history", "plot_activation_histogram",
           "activation_stats", "plot_hash_groups", "hash_groups"]


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _image(row, shape):
    return np.asarray(row, dtype=float).reshape(shape)


def _imshow(ax, img, vmin=0.0, vmax=1.0):
    ax.imshow(img, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def show_images(images, shape=FONT_SHAPE, titles=None, ncols=8, scale=0.9, suptitle=None):
    """A mosaic of images (n, prod(shape)), ink dark on white, with optional titles."""
    plt = _plt()
    images = np.asarray(images)
    n = images.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    aspect = shape[0] / shape[1]
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * aspect + 0.3),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _imshow(ax, _image(images[i], shape))
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_latent(model, X, labels=None, ax=None, title="Latent space", c=None, cmap="tab10"):
    """Scatter of the 2-D codes of X, each point labelled by its character (or coloured by ``c``)."""
    plt = _plt()
    Z = model.encode(X)
    if Z.shape[1] != 2:
        raise ValueError(f"plot_latent: needs a 2-D latent space, this one has {Z.shape[1]}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    fig = ax.figure
    style = {"c": c, "cmap": cmap} if c is not None else {"color": "tab:blue"}
    points = ax.scatter(Z[:, 0], Z[:, 1], s=30, alpha=0.8, **style)
    if c is not None:
        fig.colorbar(points, ax=ax)
    if labels is not None:
        for (x, y), label in zip(Z, labels):
            ax.annotate(str(label), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=11)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def plot_reconstructions(model, X, labels=None, shape=FONT_SHAPE, threshold=None, scale=0.8):
    """Originals (top row) against reconstructions (bottom row), column by column.

    With ``threshold`` (e.g. 0.5) the reconstructions are binarised, as ``pixel_errors`` counts.
    """
    plt = _plt()
    X = np.asarray(X, dtype=float)
    R = model.reconstruct(X)
    if threshold is not None:
        R = (R >= threshold).astype(float)
    errs = ((R >= 0.5) != (X >= 0.5)).sum(axis=1)
    n = X.shape[0]
    aspect = shape[0] / shape[1]
    fig, axes = plt.subplots(2, n, figsize=(n * scale, 2 * scale * aspect + 0.6), squeeze=False)
    for i in range(n):
        _imshow(axes[0, i], _image(X[i], shape))
        _imshow(axes[1, i], _image(R[i], shape))
        if labels is not None:
            axes[0, i].set_title(str(labels[i]), fontsize=9)
        axes[1, i].set_xlabel(f"{errs[i]}", fontsize=8, color="crimson" if errs[i] > 1 else "black")
    axes[0, 0].set_ylabel("input", fontsize=8)
    axes[1, 0].set_ylabel("output", fontsize=8)
    fig.suptitle("Originals and reconstructions (wrong pixels below)")
    fig.tight_layout()
    return fig


def plot_decoded(model, z, shape=FONT_SHAPE, ax=None, title=None):
    """The image decoded from one latent point ``z``: a new character from anywhere in the space."""
    plt = _plt()
    z = np.asarray(z, dtype=float).reshape(1, -1)
    img = model.decode(z)[0]
    if ax is None:
        fig, ax = plt.subplots(figsize=(2, 2 * shape[0] / shape[1]))
    _imshow(ax, _image(img, shape))
    ax.set_title(title or "z = (" + ", ".join(f"{v:.2f}" for v in z[0]) + ")", fontsize=9)
    return ax.figure


def plot_latent_grid(model, n=10, low=-1.0, high=1.0, shape=FONT_SHAPE, ax=None, title=None):
    """An n×n mosaic of images decoded over the latent window [low, high]² (z2 grows upwards)."""
    plt = _plt()
    images, Z = model.latent_grid(n, low, high)
    h, w = shape
    pad = 1
    canvas = np.ones((n * (h + pad) - pad, n * (w + pad) - pad)) * np.nan
    for k, img in enumerate(images):
        r, c = divmod(k, n)
        canvas[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = _image(img, shape)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 7 * canvas.shape[0] / canvas.shape[1]))
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    lo, hi = np.broadcast_to(np.asarray(low, float), 2), np.broadcast_to(np.asarray(high, float), 2)
    ax.imshow(np.ma.masked_invalid(canvas), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(np.arange(n) * (w + pad) + w / 2 - 0.5, [f"{v:.2g}" for v in np.linspace(lo[0], hi[0], n)],
                  fontsize=7)
    ax.set_yticks(np.arange(n) * (h + pad) + h / 2 - 0.5, [f"{v:.2g}" for v in np.linspace(hi[1], lo[1], n)],
                  fontsize=7)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title or f"Decoded latent grid, {n}×{n}")
    return ax.figure


def plot_interpolation(model, a, b, steps=10, shape=FONT_SHAPE, labels=("a", "b")):
    """The images decoded along the latent segment from the code of ``a`` to that of ``b``."""
    images = model.interpolate(a, b, steps)
    titles = [labels[0]] + [""] * (steps - 2) + [labels[1]]
    return show_images(images, shape, titles=titles, ncols=steps,
                       suptitle=f"Interpolation from {labels[0]!s} to {labels[1]!s}")


def plot_history(history, ax=None, keys=None, log=True, title="Training loss"):
    """Per-epoch curves of a History (or its dict): 'loss', 'val_loss', ..."""
    plt = _plt()
    h = getattr(history, "history", history)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
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


def plot_samples(model, n=32, shape=FONT_SHAPE, seed=None, ncols=8, title="Samples from the prior"):
    """A grid of ``n`` images decoded from z ~ N(0, I) (``model.sample(n, seed)``)."""
    return show_images(model.sample(n, seed=seed), shape, ncols=ncols, suptitle=title)


def plot_latent_classes(model, X, labels, names=None, annotate=False, ax=None,
                        title="Latent space (means) by class", cmap="tab10"):
    """Scatter of the 2-D mean codes of X, one colour per class of ``labels`` with a legend.

    ``names`` maps a label to the legend's text (a dict or a list indexed by label). With
    ``annotate`` every point is also written as its label (e.g. emoji names).
    """
    plt = _plt()
    Z = model.encode(X)
    if Z.shape[1] != 2:
        raise ValueError(f"plot_latent_classes: needs a 2-D latent space, this one has {Z.shape[1]}")
    labels = np.asarray(labels)
    if labels.shape[0] != Z.shape[0]:
        raise ValueError(f"labels: expected one label per row of X ({Z.shape[0]}), got {labels.shape[0]}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    classes = list(dict.fromkeys(labels.tolist()))
    colours = plt.get_cmap(cmap)
    for i, cls in enumerate(classes):
        sel = labels == cls
        text = names[cls] if names is not None else cls
        ax.scatter(Z[sel, 0], Z[sel, 1], s=18, alpha=0.75, color=colours(i % colours.N), label=str(text))
        if annotate:
            for x, y in Z[sel]:
                ax.annotate(str(text), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=8)
    if len(classes) <= 20:
        ax.legend(fontsize=8, markerscale=1.5, loc="best")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax.figure


def plot_vae_history(history, title="VAE training: reconstruction against KL"):
    """The reconstruction loss (left axis) and the KL term (right axis) per epoch, with their
    validation curves when present; the total loss dashed on the left axis."""
    plt = _plt()
    h = getattr(history, "history", history)
    fig, ax = plt.subplots(figsize=(7, 4))
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


def plot_denoising(model, X, noisy, labels=None, steps=None, shape=FONT_SHAPE, scale=0.8,
                   title=None):
    """Clean (top), noisy (middle) and denoised (bottom) rows for the chosen characters.

    ``X`` and ``noisy`` are (n, d): the clean characters and their corrupted copies. The model is
    applied ``steps`` times if it has ``denoise`` (a DenoisingAutoencoder), else once; the
    denoised image's wrong pixels (thresholded at 0.5) are written under it.
    """
    plt = _plt()
    X, noisy = np.asarray(X, dtype=float), np.asarray(noisy, dtype=float)
    if X.shape != noisy.shape:
        raise ValueError(f"noisy: expected the shape of X {X.shape}, got {noisy.shape}")
    out = model.denoise(noisy, steps) if hasattr(model, "denoise") else model.reconstruct(noisy)
    errs = ((np.asarray(out) >= 0.5) != (X >= 0.5)).sum(axis=1)
    n = X.shape[0]
    aspect = shape[0] / shape[1]
    fig, axes = plt.subplots(3, n, figsize=(n * scale + 0.6, 3 * scale * aspect + 0.8), squeeze=False)
    for i in range(n):
        for row, img in enumerate((X[i], noisy[i], out[i])):
            _imshow(axes[row, i], _image(img, shape))
        if labels is not None:
            axes[0, i].set_title(str(labels[i]), fontsize=9)
        axes[2, i].set_xlabel(f"{errs[i]}", fontsize=8, color="crimson" if errs[i] > 1 else "black")
    for row, name in enumerate(("clean", "noisy", "denoised")):
        axes[row, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(title or "Clean, noisy and denoised (wrong pixels below)")
    fig.tight_layout()
    return fig


_METHOD_STYLE = {"optimal": dict(color="black", ls="--", marker="", label="optimal decoder (ML)"),
                 "denoising": dict(color="tab:blue", ls="-", marker="o", label="denoising AE"),
                 "plain": dict(color="tab:orange", ls=":", marker="s", label="plain AE")}


def plot_noise_study(study, key="recovered", axes=None, title=None):
    """Recovery (fraction with <= 1 wrong pixel; ``key='wrong_mean'`` for wrong pixels) against
    the noise level, one panel per noise type: the denoising and plain autoencoders with their
    spread over seeds as a band, and the optimal decoder as the dashed bound."""
    plt = _plt()
    noise_types = study.noise_types
    if axes is None:
        fig, axes = plt.subplots(1, len(noise_types), figsize=(4.6 * len(noise_types), 4),
                                 squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
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
    plt = _plt()
    s = activation_stats(model, X, layer, near_zero)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    fig = axes[0].figure
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
    plt = _plt()
    X = np.asarray(X)
    hashes = model.hash(X)
    groups = hash_groups(hashes, labels, n_groups)
    bits = int(np.asarray(model.encode(X[:1])).size)
    if shape is None:
        shape = X.shape[1:] if X.ndim == 3 else _square(X.shape[1])
    fig, axes = plt.subplots(len(groups), per_group, squeeze=False,
                             figsize=(per_group * scale, len(groups) * scale * 1.15 + 0.4))
    for row, group in zip(axes, groups):
        h, idx = group[0], group[1]
        for j, ax in enumerate(row):
            if j < idx.size:
                _imshow(ax, _image(X[idx[j]], shape))
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


def _square(n):
    side = int(round(np.sqrt(n)))
    if side * side != n:
        raise ValueError(f"shape: images of {n} values are not square; pass shape=(rows, cols)")
    return (side, side)
