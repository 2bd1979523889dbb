"""The way out: a trained model as a PyTorch module (``model.to_torch()``), back
(``Autoencoder.from_torch(module)``), and as ONNX graphs (``model.export_onnx(path)``).

torch, onnx and onnxruntime are optional: each is imported inside the function that needs it,
which says how to install it when it is missing.

Both ways go through one plan of the model: the encoder's and the decoder's steps, each a
``Step`` (a dense layer with its weights in PyTorch's shapes and its activation, a flatten or a
reshape), so that the torch and the ONNX builders know nothing of the model classes.

Activations: logistic(β) is sigmoid(2βx) and tanh(β) is tanh(βx); for Keras's sigmoid
(β = 0.5) and β = 1 the torch module uses ``nn.Sigmoid`` and ``nn.Tanh`` themselves.
A VAE's module returns ``(reconstruction, mu, logvar)``: z is sampled in training mode and is
μ in eval mode, as the package's ``reconstruct`` does; its ``loss`` method is the package's
(summed over features, averaged over the batch, plus β times the KL term).
"""
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from ._net import parse_activation

__all__ = ["to_torch", "from_torch", "export_onnx", "Step", "plan"]

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0   # as csrc/vae.c clamps logvar


IMAGE_KINDS = ("conv2d", "conv2d_t", "maxpool", "avgpool", "upsample", "gap")


@dataclass
class Step:
    """One step of a network: kind 'dense' (W (out, in), b (out,)), 'flatten', 'reshape'
    (to ``shape``, per sample), 'dropout' or 'gaussian_noise' (``rate``: the rate or σ; both
    identity outside training), then ``activation`` (an Activation)."""
    kind: str
    W: Optional[np.ndarray] = None
    b: Optional[np.ndarray] = None
    activation: Any = field(default_factory=lambda: parse_activation("linear"))
    shape: Optional[Tuple[int, ...]] = None
    rate: float = 0.0
    # image kinds ('conv2d', 'conv2d_t', 'maxpool', 'avgpool', 'upsample', 'gap'): the input
    # (h, w, c) and output (h, w, c), the window, the strides, and the padding
    # (top, bottom, left, right) that Keras's rules give ('conv2d_t': the crop of the full output)
    in_hwc: Optional[Tuple[int, ...]] = None
    out_hwc: Optional[Tuple[int, ...]] = None
    kernel: Tuple[int, int] = (1, 1)
    strides: Tuple[int, int] = (1, 1)
    pads: Tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def image(self) -> bool:
        return self.kind in IMAGE_KINDS


@dataclass
class Plan:
    """A model as steps: ``encoder`` maps an input to the code (a VAE's to [μ | logvar]),
    ``decoder`` maps a code to an output."""
    kind: str                 # 'autoencoder' or 'vae'
    encoder: list
    decoder: list
    input_shape: tuple        # per sample, as the first step takes it
    latent_dim: int
    dtype: np.dtype
    beta: float = 1.0         # VAE: the KL weight
    loss: str = "bce"


def _missing(package, extra, err):
    return ImportError(f"this needs {package}, which is not installed ({err}); install it with "
                       f"pip install {extra}")


def _import_torch():
    try:
        import torch
    except ImportError as err:
        raise _missing("PyTorch", "torch", err) from None
    return torch


def _import_onnx():
    try:
        import onnx
    except ImportError as err:
        raise _missing("onnx", "'sia_autoencoder[onnx]' (or: pip install onnx onnxruntime)", err) from None
    return onnx


# ---------------------------------------------------------------------------------------------
# The plan of a model


def plan(model: Any) -> Plan:
    """The :class:`Plan` of an Autoencoder (or DenoisingAutoencoder) or a VAE, from its layers."""
    from .vae import VAE
    net = model.net
    if isinstance(model, VAE):
        s = model._sample                    # the Sample layer: [μ | logvar] -> z
        steps = [_step(net, layer) for layer in net.layers[:s]] + [None] + \
            [_step(net, layer) for layer in net.layers[s + 1:]]
        return Plan("vae", steps[:s], steps[s + 1:], tuple(net.input_shape), model.latent_dim,
                    np.dtype(model.dtype), beta=float(model.beta), loss=model.loss)
    steps = [_step(net, layer) for layer in net.layers]
    k = model.latent_index
    return Plan("autoencoder", steps[:k], steps[k:], tuple(net.input_shape), model.latent_dim,
                np.dtype(model.dtype), loss=model.loss)


def _step(net, layer):
    from . import layers as L
    act = layer.activation
    if isinstance(layer, L.Dense):
        W, b = layer.torch_weights(net.layer_params(layer))
        return Step("dense", W, b, act)
    if isinstance(layer, L.DenseTranspose):   # tied: the shared W, transposed (a copy)
        W = layer.of.torch_weights(net.layer_params(layer.of))[0].T.copy()
        b, = layer.torch_weights(net.layer_params(layer))
        return Step("dense", W, b, act)
    if isinstance(layer, L.Flatten):
        return Step("flatten", activation=act, shape=tuple(layer.output_shape))
    if isinstance(layer, L.Reshape):
        return Step("reshape", activation=act, shape=tuple(layer.output_shape))
    if isinstance(layer, L.Dropout):
        return Step("dropout", activation=act, rate=float(layer.rate))
    if isinstance(layer, L.GaussianNoise):
        return Step("gaussian_noise", activation=act, rate=float(layer.stddev))
    image = _image_step(net, layer)
    if image is not None:
        return image
    raise ValueError(f"{layer.where()}: no PyTorch or ONNX equivalent of this layer kind yet")


def _hwc(shape):
    shape = tuple(int(v) for v in shape)
    return shape if len(shape) == 3 else shape + (1,)


def _same_pads(n, k, s, n_out, before):
    """(before, after) of one axis: the total padding that Keras's rules give, split."""
    total = max((n_out - 1) * s + k - n, 0)
    return before, total - before


def _image_step(net, layer):
    """The Step of a convolution, pooling or upsampling layer, or None for another kind."""
    kind = {"Conv2D": "conv2d", "Conv2DTranspose": "conv2d_t", "MaxPool2D": "maxpool",
            "AveragePooling2D": "avgpool", "UpSampling2D": "upsample",
            "GlobalAveragePooling2D": "gap"}.get(type(layer).__name__)
    if kind is None:
        return None
    in_hwc, out_shape = _hwc(layer.input_shape), tuple(layer.output_shape)
    step = Step(kind, activation=layer.activation, in_hwc=in_hwc,
                out_hwc=_hwc(out_shape) if kind != "gap" else (1, 1, out_shape[0]))
    (h, w, _), (oh, ow, _) = in_hwc, step.out_hwc
    if kind in ("conv2d", "conv2d_t"):
        step.W, step.b = layer.torch_weights(net.layer_params(layer))
        step.kernel, step.strides = tuple(layer.kernel_size), tuple(layer.strides)
    elif kind in ("maxpool", "avgpool"):
        step.kernel, step.strides = tuple(layer.pool_size), tuple(layer.strides)
    elif kind == "upsample":
        step.kernel = tuple(layer.size)
    (kh, kw), (sh, sw) = step.kernel, step.strides
    if kind in ("conv2d", "maxpool", "avgpool") and layer.padding == "same":
        pt, pl = layer.pad
        step.pads = _same_pads(h, kh, sh, oh, pt) + _same_pads(w, kw, sw, ow, pl)
    elif kind == "conv2d_t":   # the full output (in − 1)·s + k, cropped to the Keras output
        pt, pl = layer.pad
        full_h, full_w = (h - 1) * sh + kh, (w - 1) * sw + kw
        step.pads = (pt, full_h - oh - pt, pl, full_w - ow - pl)   # negative: output padding
    return step


# ---------------------------------------------------------------------------------------------
# PyTorch

_TORCH_CLASSES: Dict[str, Any] = {}


def _torch_classes():
    """The torch modules of the package, defined once torch is imported."""
    if _TORCH_CLASSES:
        return _TORCH_CLASSES
    torch = _import_torch()
    nn = torch.nn

    class ScaledSigmoid(nn.Module):
        """logistic(β): sigmoid(2βx)."""

        def __init__(self, beta):
            super().__init__()
            self.beta = float(beta)

        def forward(self, x):
            return torch.sigmoid((2.0 * self.beta) * x)

        def extra_repr(self):
            return f"beta={self.beta:g}"

    class ScaledTanh(nn.Module):
        """tanh(βx)."""

        def __init__(self, beta):
            super().__init__()
            self.beta = float(beta)

        def forward(self, x):
            return torch.tanh(self.beta * x)

        def extra_repr(self):
            return f"beta={self.beta:g}"

    class Reshape(nn.Module):
        """Each sample to ``shape`` (C order, channels last as the package's images)."""

        def __init__(self, shape):
            super().__init__()
            self.shape = tuple(int(v) for v in shape)

        def forward(self, x):
            return x.reshape(x.shape[0], *self.shape)

        def extra_repr(self):
            return f"shape={self.shape}"

    class ChannelsFirst(nn.Module):
        """Samples (h, w, c) as the package holds them (or flat, or (h, w)) to PyTorch's (c, h, w)."""

        def __init__(self, hwc):
            super().__init__()
            self.hwc = tuple(int(v) for v in hwc)

        def forward(self, x):
            return x.reshape(x.shape[0], *self.hwc).permute(0, 3, 1, 2)

        def extra_repr(self):
            return f"hwc={self.hwc}"

    class ChannelsLast(nn.Module):
        """PyTorch's (c, h, w) back to the package's per-sample ``shape`` (h, w, c)."""

        def __init__(self, shape):
            super().__init__()
            self.shape = tuple(int(v) for v in shape)

        def forward(self, x):
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], *self.shape)

        def extra_repr(self):
            return f"shape={self.shape}"

    class Crop(nn.Module):
        """The rows top..top+h and columns left..left+w (a Conv2DTranspose's Keras output)."""

        def __init__(self, top, left, h, w):
            super().__init__()
            self.box = (int(top), int(left), int(h), int(w))

        def forward(self, x):
            t, l, h, w = self.box
            return x[:, :, t:t + h, l:l + w]

        def extra_repr(self):
            return f"top={self.box[0]}, left={self.box[1]}, h={self.box[2]}, w={self.box[3]}"

    class KerasAvgPool2d(nn.Module):
        """Average pooling with Keras's 'same' padding: the mean over the cells inside the input."""

        def __init__(self, kernel, strides, pads):
            super().__init__()
            self.kernel, self.strides, self.pads = tuple(kernel), tuple(strides), tuple(pads)

        def forward(self, x):
            pt, pb, pl, pr = self.pads
            f = nn.functional
            total = f.avg_pool2d(f.pad(x, (pl, pr, pt, pb)), self.kernel, self.strides)
            ones = torch.ones_like(x[:1, :1])
            cells = f.avg_pool2d(f.pad(ones, (pl, pr, pt, pb)), self.kernel, self.strides)
            return total / cells

        def extra_repr(self):
            return f"kernel={self.kernel}, strides={self.strides}, pads={self.pads}"

    class GaussianNoise(nn.Module):
        """x + σ·N(0, 1) in training mode, x in eval mode (Keras's GaussianNoise)."""

        def __init__(self, stddev):
            super().__init__()
            self.stddev = float(stddev)

        def forward(self, x):
            return x + self.stddev * torch.randn_like(x) if self.training else x

        def extra_repr(self):
            return f"stddev={self.stddev:g}"

    class AutoencoderModule(nn.Module):
        """``decoder(encoder(x))``; ``encode`` and ``decode`` as the package's model."""

        def __init__(self, encoder, decoder):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder

        def encode(self, x):
            return self.encoder(x)

        def decode(self, z):
            return self.decoder(z)

        def forward(self, x):
            return self.decoder(self.encoder(x))

    class VAEModule(nn.Module):
        """``forward(x) -> (reconstruction, mu, logvar)``; z = μ + exp(½ logvar)·ε in training
        mode, z = μ in eval mode. ``loss(x, out)`` is the package's loss."""

        def __init__(self, encoder, decoder, latent_dim, beta=1.0, loss="bce"):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder
            self.latent_dim, self.beta, self.loss_name = int(latent_dim), float(beta), loss

        def encode(self, x):
            h = self.encoder(x)
            k = self.latent_dim
            return h[:, :k], torch.clamp(h[:, k:], LOGVAR_MIN, LOGVAR_MAX)

        def decode(self, z):
            return self.decoder(z)

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
            return self.decoder(z), mu, logvar

        def loss(self, x, out):
            """Reconstruction (BCE or squared error, summed over features) + β·KL, both averaged
            over the batch, as the package trains (BCE from probabilities here)."""
            recon, mu, logvar = out
            x, recon = x.reshape(len(x), -1), recon.reshape(len(recon), -1)
            if self.loss_name == "bce":
                rec = nn.functional.binary_cross_entropy(recon, x, reduction="none").sum(1)
            else:
                rec = ((recon - x) ** 2).sum(1)
            kl = 0.5 * (mu ** 2 + torch.exp(logvar) - 1.0 - logvar).sum(1)
            return (rec + self.beta * kl).mean()

    for cls in (ScaledSigmoid, ScaledTanh, Reshape, GaussianNoise, ChannelsFirst, ChannelsLast, Crop,
                KerasAvgPool2d, AutoencoderModule, VAEModule):
        cls.__module__ = __name__
        _TORCH_CLASSES[cls.__name__] = cls
    return _TORCH_CLASSES


def __getattr__(name):   # the torch classes, for pickling and isinstance checks
    if name in ("ScaledSigmoid", "ScaledTanh", "Reshape", "GaussianNoise", "ChannelsFirst",
                "ChannelsLast", "Crop", "KerasAvgPool2d", "AutoencoderModule", "VAEModule"):
        return _torch_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _torch_activation(act):
    torch = _import_torch()
    nn, cls = torch.nn, _torch_classes()
    if act.name == "linear":
        return None
    if act.name == "relu":
        return nn.ReLU()
    if act.name == "logistic":
        return nn.Sigmoid() if act.beta == 0.5 else cls["ScaledSigmoid"](act.beta)
    if act.name == "tanh":
        return nn.Tanh() if act.beta == 1.0 else cls["ScaledTanh"](act.beta)
    if act.name == "elu":
        return nn.ELU(alpha=act.beta)
    if act.name == "selu":
        return nn.SELU()
    raise ValueError(f"to_torch: no PyTorch module for the activation {act}")


def _torch_sequential(steps, dtype):
    """The steps as an nn.Sequential. Data enters and leaves in the package's layout (rows, or
    images channels last); the image layers run channels first, as PyTorch's, between a
    ChannelsFirst and a ChannelsLast."""
    torch = _import_torch()
    nn, cls = torch.nn, _torch_classes()
    tdtype = torch.float64 if dtype == np.float64 else torch.float32

    def weighted(module, step):
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(step.W)))
            module.bias.copy_(torch.from_numpy(np.ascontiguousarray(step.b)))
        return module

    modules, chw = [], None     # chw: the (h, w, c) of the data while it is channels first
    for step in steps:
        if step.image and chw is None:
            modules.append(cls["ChannelsFirst"](step.in_hwc))
        elif not step.image and chw is not None:
            modules.append(cls["ChannelsLast"](chw))
            chw = None
        pt, pb, pl, pr = step.pads
        if step.kind == "dense":
            n_out, n_in = step.W.shape
            modules.append(weighted(nn.Linear(n_in, n_out, dtype=tdtype), step))
        elif step.kind == "flatten":
            modules.append(nn.Flatten())
        elif step.kind == "reshape":
            modules.append(cls["Reshape"](step.shape))
        elif step.kind == "dropout":
            modules.append(nn.Dropout(step.rate))
        elif step.kind == "gaussian_noise":
            modules.append(cls["GaussianNoise"](step.rate))
        elif step.kind == "conv2d":
            if any(step.pads):
                modules.append(nn.ZeroPad2d((pl, pr, pt, pb)))
            modules.append(weighted(nn.Conv2d(step.W.shape[1], step.W.shape[0], step.kernel,
                                              step.strides, dtype=tdtype), step))
        elif step.kind == "conv2d_t":
            extra = (max(-pb, 0), max(-pr, 0))   # Keras's output beyond the full one: bias only
            modules.append(weighted(nn.ConvTranspose2d(step.W.shape[0], step.W.shape[1], step.kernel,
                                                       step.strides, output_padding=extra,
                                                       dtype=tdtype), step))
            if any(step.pads):
                modules.append(cls["Crop"](pt, pl, step.out_hwc[0], step.out_hwc[1]))
        elif step.kind == "maxpool":
            if any(step.pads):
                modules.append(nn.ConstantPad2d((pl, pr, pt, pb), float("-inf")))
            modules.append(nn.MaxPool2d(step.kernel, step.strides))
        elif step.kind == "avgpool":
            modules.append(cls["KerasAvgPool2d"](step.kernel, step.strides, step.pads) if any(step.pads)
                           else nn.AvgPool2d(step.kernel, step.strides))
        elif step.kind == "upsample":
            modules.append(nn.Upsample(scale_factor=step.kernel, mode="nearest"))
        elif step.kind == "gap":
            modules.append(nn.AdaptiveAvgPool2d(1))
            modules.append(nn.Flatten())
        else:
            raise ValueError(f"to_torch: no PyTorch module for a {step.kind!r} layer")
        if step.image:
            chw = None if step.kind == "gap" else step.out_hwc   # GAP's output is flat
        act = _torch_activation(step.activation)
        if act is not None:
            modules.append(act)
    if chw is not None:
        modules.append(cls["ChannelsLast"](chw))
    return nn.Sequential(*modules)


def to_torch(model: Any) -> Any:
    """An equivalent ``torch.nn.Module``: the same weights (copies) and, up to rounding, the same
    outputs, in the model's dtype. An Autoencoder gives a module with ``encoder``, ``decoder``,
    ``encode``, ``decode`` and ``forward(x) = decode(encode(x))``; a VAE one whose ``forward``
    returns ``(reconstruction, mu, logvar)`` and whose ``loss`` is the package's. The module
    is an ordinary one: move it to a GPU, wrap it in DistributedDataParallel, train it."""
    p = plan(model)
    cls = _torch_classes()
    enc, dec = _torch_sequential(p.encoder, p.dtype), _torch_sequential(p.decoder, p.dtype)
    if p.kind == "vae":
        return cls["VAEModule"](enc, dec, p.latent_dim, p.beta, p.loss)
    return cls["AutoencoderModule"](enc, dec)


def _act_from_torch(module, where):
    torch = _import_torch()
    nn, cls = torch.nn, _torch_classes()
    if isinstance(module, nn.ReLU):
        return parse_activation("relu")
    if isinstance(module, nn.Sigmoid):
        return parse_activation(("logistic", 0.5))
    if isinstance(module, nn.Tanh):
        return parse_activation("tanh")
    if isinstance(module, cls["ScaledSigmoid"]):
        return parse_activation(("logistic", module.beta))
    if isinstance(module, cls["ScaledTanh"]):
        return parse_activation(("tanh", module.beta))
    if isinstance(module, nn.ELU):
        return parse_activation(("elu", module.alpha))
    if isinstance(module, nn.SELU):
        return parse_activation("selu")
    if isinstance(module, nn.Identity):
        return parse_activation("linear")
    return None


KNOWN = ("Linear, ReLU, Sigmoid, Tanh, ELU, SELU, Identity, Flatten, Unflatten, Dropout, and with "
         "the convolutional layers Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, Upsample, "
         "AdaptiveAvgPool2d(1), ZeroPad2d")


def _layers_from_torch(module, where):
    """(the package's layers, their arrays in PyTorch's shapes) for the leaves of a torch
    module: Linear layers, each followed by at most one activation, and the shape and noise
    layers."""
    torch = _import_torch()
    nn, cls = torch.nn, _torch_classes()
    from . import layers as L
    leaves = [m for m in module.modules() if not list(m.children())]
    out, arrays, activated = [], [], set()
    padded, skip_flatten = False, False   # a padding module before a conv or pool: Keras's 'same'
    chw = False   # the data is channels first (after an image layer, before a ChannelsLast)
    for i, m in enumerate(leaves):
        name = f"{where}: module {i} ({type(m).__name__})"
        nxt = leaves[i + 1] if i + 1 < len(leaves) else None
        if isinstance(m, nn.Linear):
            if m.bias is None:
                raise ValueError(f"{name}: a Linear layer without a bias is not supported")
            out.append(L.Dense(m.out_features))
            arrays.append([m.weight.detach().cpu().numpy().copy(), m.bias.detach().cpu().numpy().copy()])
            continue
        if isinstance(m, (cls["ChannelsFirst"], cls["ChannelsLast"], cls["Crop"])):
            chw = chw and not isinstance(m, cls["ChannelsLast"])
            continue   # layout and cropping of to_torch's image layers: implied by the layers
        if isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d)):
            padded = True
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and hasattr(L, "Conv2D"):
            if m.bias is None or m.groups != 1 or tuple(m.dilation) != (1, 1):
                raise ValueError(f"{name}: only convolutions with a bias, groups=1 and dilation 1 "
                                 f"are supported")
            if isinstance(m, nn.Conv2d):
                same = padded or tuple(m.padding) != (0, 0)
                symmetric = tuple(m.padding) != (0, 0) and not padded
                if symmetric and (tuple(m.stride) != (1, 1) or any(
                        2 * p != k - 1 for p, k in zip(m.padding, m.kernel_size))):
                    raise ValueError(f"{name}: padding={tuple(m.padding)} with stride "
                                     f"{tuple(m.stride)} and kernel {tuple(m.kernel_size)} is not "
                                     f"Keras's 'same' (which puts an odd padding cell at the bottom "
                                     f"and right only); only padding (k − 1) / 2 at stride 1, or "
                                     f"an explicit ZeroPad2d, maps to a package layer")
                out.append(L.Conv2D(m.out_channels, tuple(m.kernel_size), tuple(m.stride),
                                    "same" if same else "valid"))
            else:
                same = isinstance(nxt, cls["Crop"])
                out.append(L.Conv2DTranspose(m.out_channels, tuple(m.kernel_size), tuple(m.stride),
                                             "same" if same else "valid"))
            arrays.append([m.weight.detach().cpu().numpy().copy(), m.bias.detach().cpu().numpy().copy()])
            padded = False
            chw = True
            continue
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, cls["KerasAvgPool2d"])) and hasattr(L, "Conv2D"):
            if isinstance(m, cls["KerasAvgPool2d"]):
                out.append(L.AveragePooling2D(m.kernel, m.strides, "same"))
            else:
                kind = L.MaxPool2D if isinstance(m, nn.MaxPool2d) else L.AveragePooling2D
                out.append(kind(m.kernel_size, m.stride, "same" if padded else "valid"))
            arrays.append([])
            padded = False
            chw = True
            continue
        if isinstance(m, nn.Upsample) and hasattr(L, "Conv2D") and m.mode == "nearest":
            scale = m.scale_factor if isinstance(m.scale_factor, tuple) else (m.scale_factor,) * 2
            out.append(L.UpSampling2D(tuple(int(v) for v in scale)))
            arrays.append([])
            chw = True
            continue
        if isinstance(m, nn.AdaptiveAvgPool2d) and hasattr(L, "Conv2D"):
            out.append(L.GlobalAveragePooling2D())
            arrays.append([])
            skip_flatten = isinstance(nxt, nn.Flatten)
            continue
        if isinstance(m, nn.Flatten) and skip_flatten:
            skip_flatten = False
            continue
        if isinstance(m, nn.Flatten) and chw:   # PyTorch flattens (c, h, w); the package (h, w, c)
            flat = L.Flatten()
            flat._from_chw = True
            out.append(flat)
            arrays.append([])
            chw = False
            continue
        layer = None
        if isinstance(m, nn.Flatten):
            if (m.start_dim, m.end_dim) != (1, -1):
                raise ValueError(f"{name}: only Flatten(start_dim=1) is supported")
            layer = L.Flatten()
        elif isinstance(m, nn.Unflatten):
            if m.dim != 1:
                raise ValueError(f"{name}: only Unflatten(1, shape) is supported")
            layer = L.Reshape(tuple(m.unflattened_size))
        elif isinstance(m, cls["Reshape"]):
            layer = L.Reshape(m.shape)
        elif isinstance(m, nn.Dropout):
            layer = L.Dropout(m.p)
        elif isinstance(m, cls["GaussianNoise"]):
            layer = L.GaussianNoise(m.stddev)
        if layer is not None:
            out.append(layer)
            arrays.append([])
            continue
        act = _act_from_torch(m, name)
        if act is None:
            raise ValueError(f"{name}: not a layer kind the package knows ({KNOWN})")
        if act.name == "linear":
            continue
        weighted = tuple(getattr(L, k) for k in ("Dense", "Conv2D", "Conv2DTranspose") if hasattr(L, k))
        if not out or not isinstance(out[-1], weighted) or len(out) - 1 in activated:
            raise ValueError(f"{name}: an activation must follow a Linear layer directly")
        out[-1].activation = act
        activated.add(len(out) - 1)
    if not any(isinstance(layer, L.Dense) for layer in out):
        raise ValueError(f"{where}: no Linear layer found")
    return out, arrays


def from_torch(cls: Any, module: Any, latent_index: Optional[int] = None,
               input_shape: Optional[Tuple[int, ...]] = None, **kwargs: Any) -> Any:
    """A model of class ``cls`` with the architecture and the weights of a torch module.

    ``module`` has ``encoder`` and ``decoder`` submodules (as ``to_torch`` makes them; the code
    is the encoder's output), or is one sequence of layers whose narrowest inner Linear layer
    is the code (``latent_index``, in the dense notation's widths, says which when that is
    ambiguous). Known layer kinds: Linear (with a bias), ReLU, Sigmoid, Tanh, ELU, SELU,
    Identity, Flatten, Unflatten, Dropout, and the package's own modules (scaled activations,
    Reshape, GaussianNoise). ``input_shape`` is one sample's shape (default: the first Linear
    layer's inputs); ``kwargs`` go to the model's constructor (loss, optimizer, dtype, seed...).
    """
    torch = _import_torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        module = module.module
    from . import layers as L
    from .vae import VAE
    if hasattr(module, "encoder") and hasattr(module, "decoder"):
        if latent_index is not None:
            raise ValueError("latent_index: the code is the encoder's output; leave it out")
        enc, enc_w = _layers_from_torch(module.encoder, "module.encoder")
        dec, dec_w = _layers_from_torch(module.decoder, "module.decoder")
    else:
        if issubclass(cls, VAE):
            raise ValueError("VAE.from_torch: expected a module with encoder, decoder and "
                             "latent_dim (as VAE.to_torch makes it)")
        layers, weights = _layers_from_torch(module, "module")
        dense = [i for i, arrays in enumerate(weights) if arrays]   # the layers with weights
        sizes = [arrays for arrays in weights if arrays]
        widths = [sizes[0][0].shape[1]] + [W.shape[0] for W, _ in sizes]
        from .autoencoder import find_latent
        k = dense[find_latent(widths, latent_index) - 1] + 1
        enc, enc_w, dec, dec_w = layers[:k], weights[:k], layers[k:], weights[k:]
    first = next(w for w in enc_w if w)[0]
    if input_shape is None:   # to_torch's modules say it where images enter channels first
        cf = [m for m in (module.encoder if hasattr(module, "encoder") else module).modules()
              if isinstance(m, _torch_classes()["ChannelsFirst"])]
        if cf and not isinstance(enc[0], L.Dense):
            input_shape = cf[0].hwc
    if "dtype" not in kwargs:
        kwargs["dtype"] = "float64" if first.dtype == np.float64 else "float32"
    n_in = first.shape[1]
    if first.ndim == 4 and input_shape is None:
        raise ValueError("input_shape: a module that starts with a convolution needs the shape of "
                         "one sample, channels last, e.g. input_shape=(28, 28, 1)")
    only_dense = all(isinstance(layer, L.Dense) for layer in enc + dec) and input_shape is None
    acts = [[layer.activation.name, layer.activation.beta] for layer in enc + dec]
    if issubclass(cls, VAE):
        if not hasattr(module, "latent_dim") or not isinstance(enc[-1], L.Dense):
            raise ValueError("VAE.from_torch: expected a module with encoder, decoder and "
                             "latent_dim, the encoder ending with the Linear layer of [μ | logvar]")
        k = int(module.latent_dim)
        kwargs.setdefault("beta", getattr(module, "beta", 1.0))
        kwargs.setdefault("loss", getattr(module, "loss_name", "bce"))
        head = enc.pop()
        if head.units != 2 * k:
            raise ValueError(f"module.encoder: its last Linear layer gives {head.units} values, "
                             f"expected 2 × latent_dim = {2 * k}")
        output = dec[-1].activation if isinstance(dec[-1], L.Dense) else parse_activation("linear")
        if only_dense:
            model = cls(encoder=[n_in] + [layer.units for layer in enc], latent_dim=k,
                        decoder=[layer.units for layer in dec], activation=acts[:len(enc)] + acts[len(enc) + 1:-1],
                        output_activation=[output.name, output.beta], **kwargs)
        else:
            model = cls(encoder=enc, latent_dim=k, decoder=dec, output_activation=[output.name, output.beta],
                        input_shape=input_shape or (n_in,), **kwargs)
    elif only_dense:
        model = cls([n_in] + [layer.units for layer in enc + dec], activation=acts,
                    latent_index=len(enc), **kwargs)
    else:
        model = cls(encoder=enc, decoder=dec, input_shape=input_shape or (n_in,), **kwargs)
    net = model.net
    with_weights = [layer for layer in net.layers if layer.torch_weights(net.layer_params(layer))]
    given = [w for w in enc_w + dec_w if w]
    if len(given) != len(with_weights):
        raise ValueError(f"module: {len(given)} layers with weights for a model that has "
                         f"{len(with_weights)}")
    for k, layer in enumerate(net.layers[:-1]):
        if getattr(layer, "_from_chw", False) and isinstance(net.layers[k + 1], L.Dense):
            h, w, c = _hwc(layer.input_shape)
            W = given[with_weights.index(net.layers[k + 1])][0]
            order = np.arange(h * w * c).reshape(c, h, w).transpose(1, 2, 0).ravel()
            given[with_weights.index(net.layers[k + 1])][0] = W[:, order]
    for layer, arrays in zip(with_weights, given):
        want = layer.torch_weights(net.layer_params(layer))
        for got, ref in zip(arrays, want):
            if got.shape != ref.shape:
                raise ValueError(f"module: {layer.where()}: expected a weight of shape {ref.shape}, "
                                 f"got {got.shape}")
        layer.set_torch_weights(net.layer_params(layer), arrays)
    return model


# ---------------------------------------------------------------------------------------------
# ONNX


def _onnx_graph(steps, name, input_name, in_shape, output_names, dtype, split=None):
    """An ONNX model of ``steps`` from ``input_name`` (batch, *in_shape) to its output; with
    ``split`` = k, the output (batch, 2k) is split into two outputs [μ | logvar] (logvar
    clamped as the package clamps it)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    nodes, inits = [], []
    x, shape = input_name, tuple(in_shape)

    def const(value, cname, kind=dtype):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=kind), cname))
        return cname

    chw = None    # as in _torch_sequential: image layers run channels first

    def relayout(op_name, z, perm, reshape):
        nodes.append(helper.make_node("Reshape", [z, const(reshape, f"{op_name}_shape", np.int64)],
                                      [f"{op_name}_r"]) if perm == [0, 3, 1, 2] else
                     helper.make_node("Transpose", [z], [f"{op_name}_t"], perm=perm))
        if perm == [0, 3, 1, 2]:
            nodes.append(helper.make_node("Transpose", [f"{op_name}_r"], [f"{op_name}_t"], perm=perm))
            return f"{op_name}_t"
        nodes.append(helper.make_node("Reshape", [f"{op_name}_t", const(reshape, f"{op_name}_shape",
                                                                         np.int64)], [f"{op_name}_r"]))
        return f"{op_name}_r"

    for i, step in enumerate(steps):
        y = f"{step.kind}{i}"
        if step.image and chw is None:
            x = relayout(f"chw{i}", x, [0, 3, 1, 2], (-1,) + tuple(step.in_hwc))
        elif not step.image and chw is not None:
            x = relayout(f"hwc{i}", x, [0, 2, 3, 1], (-1,) + tuple(chw))
            chw = None
        pt, pb, pl, pr = step.pads
        if step.kind in ("conv2d", "conv2d_t"):
            attrs = dict(kernel_shape=list(step.kernel), strides=list(step.strides))
            if step.kind == "conv2d":
                attrs["pads"] = [pt, pl, pb, pr]
            else:   # crop the full output; a negative crop is output padding
                attrs["pads"] = [max(pt, 0), max(pl, 0), max(pb, 0), max(pr, 0)]
                attrs["output_padding"] = [max(-pb, 0), max(-pr, 0)]
            nodes.append(helper.make_node("Conv" if step.kind == "conv2d" else "ConvTranspose",
                                          [x, const(step.W, f"W{i}"), const(step.b, f"b{i}")], [y],
                                          name=f"{step.kind}_{i}", **attrs))
        elif step.kind in ("maxpool", "avgpool"):
            attrs = dict(kernel_shape=list(step.kernel), strides=list(step.strides),
                         pads=[pt, pl, pb, pr])
            if step.kind == "avgpool":
                attrs["count_include_pad"] = 0    # Keras: the mean over the cells inside the input
            nodes.append(helper.make_node("MaxPool" if step.kind == "maxpool" else "AveragePool",
                                          [x], [y], **attrs))
        elif step.kind == "upsample":
            scales = const([1.0, 1.0, float(step.kernel[0]), float(step.kernel[1])], f"scales{i}",
                           np.float32)
            nodes.append(helper.make_node("Resize", [x, "", scales], [y], mode="nearest",
                                          coordinate_transformation_mode="asymmetric",
                                          nearest_mode="floor"))
        elif step.kind == "gap":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [f"gap{i}_4d"]))
            nodes.append(helper.make_node("Flatten", [f"gap{i}_4d"], [y], axis=1))
            shape = (step.out_hwc[2],)
        elif step.kind == "dense":
            nodes.append(helper.make_node("Gemm", [x, const(step.W, f"W{i}"), const(step.b, f"b{i}")],
                                          [y], transB=1, name=f"dense_{i}"))
            shape = (step.W.shape[0],)
        elif step.kind in ("flatten", "reshape"):
            nodes.append(helper.make_node("Reshape", [x, const((-1,) + tuple(step.shape), f"shape{i}",
                                                                np.int64)], [y]))
            shape = tuple(step.shape)
        elif step.kind in ("dropout", "gaussian_noise"):   # identity outside training
            nodes.append(helper.make_node("Identity", [x], [y]))
        else:
            raise ValueError(f"export_onnx: no ONNX operator for a {step.kind!r} layer")
        if step.image and step.kind != "gap":
            chw = shape = tuple(step.out_hwc)
        elif step.kind == "gap":
            chw = None
        x = _onnx_activation(step.activation, y, i, nodes, const)
    if chw is not None:
        x = relayout("hwc_out", x, [0, 2, 3, 1], (-1,) + tuple(chw))
    outputs = []
    if split is None:
        nodes.append(helper.make_node("Identity", [x], [output_names[0]]))
        outputs.append(helper.make_tensor_value_info(output_names[0], elem, ["batch", *shape]))
    else:
        k = split
        nodes.append(helper.make_node("Split", [x, const([k, k], "split_sizes", np.int64)],
                                      [output_names[0], "logvar_raw"], axis=1))
        nodes.append(helper.make_node("Clip", ["logvar_raw", const(LOGVAR_MIN, "logvar_min"),
                                               const(LOGVAR_MAX, "logvar_max")], [output_names[1]]))
        outputs += [helper.make_tensor_value_info(n, elem, ["batch", k]) for n in output_names]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(input_name, elem,
                                                                         ["batch", *in_shape])],
                              outputs, initializer=inits)
    model = helper.make_model(graph, producer_name="sia_autoencoder",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8   # onnxruntime >= 1.15 reads it
    onnx.checker.check_model(model, full_check=True)
    return model


def _onnx_activation(act, x, i, nodes, const):
    from onnx import helper
    if act.name == "linear":
        return x
    y = f"act{i}"
    if act.name == "relu":
        nodes.append(helper.make_node("Relu", [x], [y]))
    elif act.name == "elu":
        nodes.append(helper.make_node("Elu", [x], [y], alpha=float(act.beta)))
    elif act.name == "selu":
        nodes.append(helper.make_node("Selu", [x], [y]))
    else:
        op, scale = {"logistic": ("Sigmoid", 2.0 * act.beta), "tanh": ("Tanh", act.beta)}[act.name]
        if scale != 1.0:
            nodes.append(helper.make_node("Mul", [x, const(scale, f"scale{i}")], [f"scaled{i}"]))
            x = f"scaled{i}"
        nodes.append(helper.make_node(op, [x], [y]))
    return y


def export_onnx(model: Any, path: Union[str, "os.PathLike[str]"], dtype: Any = "float32") -> Dict[str, str]:
    """Write the model as three ONNX graphs, each checked by ``onnx.checker``: ``path`` (the
    whole model, input ``x`` to output ``reconstruction``; a VAE decodes μ), and beside it
    ``<stem>.encoder.onnx`` (``x`` to ``code``; a VAE's to ``mu`` and ``logvar``) and
    ``<stem>.decoder.onnx`` (``z`` to ``reconstruction``). The batch dimension is free.
    Returns {'model': path, 'encoder': ..., 'decoder': ...}.

    ``dtype``: 'float32' (the default, what runtimes serve) or 'float64'.
    """
    onnx = _import_onnx()
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype}")
    p = plan(model)
    path = os.fspath(path)
    stem = path[:-5] if path.endswith(".onnx") else path
    code_shape = _shape_after(p.encoder, p.input_shape)
    if p.kind == "vae":
        enc = _onnx_graph(p.encoder, "encoder", "x", p.input_shape, ["mu", "logvar"], dtype,
                          split=p.latent_dim)
        head = p.encoder[-1]
        mu_head = Step("dense", head.W[:p.latent_dim], head.b[:p.latent_dim])
        whole_steps = p.encoder[:-1] + [mu_head] + p.decoder
        code_shape = (p.latent_dim,)
    else:
        enc = _onnx_graph(p.encoder, "encoder", "x", p.input_shape, ["code"], dtype)
        whole_steps = p.encoder + p.decoder
    dec = _onnx_graph(p.decoder, "decoder", "z", code_shape, ["reconstruction"], dtype)
    whole = _onnx_graph(whole_steps, "autoencoder", "x", p.input_shape, ["reconstruction"], dtype)
    paths = {"model": path if path.endswith(".onnx") else path + ".onnx",
             "encoder": stem + ".encoder.onnx", "decoder": stem + ".decoder.onnx"}
    for key, graph in (("model", whole), ("encoder", enc), ("decoder", dec)):
        folder = os.path.dirname(os.path.abspath(paths[key]))
        os.makedirs(folder, exist_ok=True)
        onnx.save_model(graph, paths[key])
    return paths


def _shape_after(steps, shape):
    for step in steps:
        if step.kind == "dense":
            shape = (step.W.shape[0],)
        elif step.kind in ("flatten", "reshape"):
            shape = tuple(step.shape)
        elif step.kind == "gap":
            shape = (step.out_hwc[2],)
        elif step.image:
            shape = tuple(step.out_hwc)
    return tuple(shape)


class Interop:
    """Mixin of the models: ``to_torch``, ``from_torch`` and ``export_onnx``."""

    def to_torch(self) -> Any:
        """An equivalent ``torch.nn.Module`` (see :func:`sia_autoencoder.interop.to_torch`)."""
        return to_torch(self)

    @classmethod
    def from_torch(cls, module: Any, **kwargs: Any) -> Any:
        """A model with the architecture and weights of a torch module (see
        :func:`sia_autoencoder.interop.from_torch`)."""
        return from_torch(cls, module, **kwargs)

    def export_onnx(self, path: Union[str, "os.PathLike[str]"], dtype: Any = "float32") -> Dict[str, str]:
        """Write the model, its encoder and its decoder as ONNX graphs (see
        :func:`sia_autoencoder.interop.export_onnx`)."""
        return export_onnx(self, path, dtype)
