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
from dataclasses import dataclass, field

import numpy as np

from ._net import parse_activation

__all__ = ["to_torch", "from_torch", "export_onnx", "Step", "plan"]

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0   # as csrc/vae.c clamps logvar


@dataclass
class Step:
    """One step of a network: kind 'dense' (W (out, in), b (out,)), 'flatten' or 'reshape'
    (``shape``, per sample), then ``activation`` (an Activation)."""
    kind: str
    W: np.ndarray = None
    b: np.ndarray = None
    activation: object = field(default_factory=lambda: parse_activation("linear"))
    shape: tuple = None


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


def plan(model):
    """The :class:`Plan` of an Autoencoder (or DenoisingAutoencoder) or a VAE."""
    from .vae import VAE
    dtype = np.dtype(model.dtype)
    if isinstance(model, VAE):
        n_enc = len(model.enc_sizes) - 1
        acts = model.activations[:n_enc - 1] + [parse_activation("linear")]
        dec_acts = model.activations[n_enc - 1:] + [model.output_activation]
        enc = [_dense(W, b, a) for (W, b), a in zip(model.enc.weights, acts)]
        dec = [_dense(W, b, a) for (W, b), a in zip(model.dec.weights, dec_acts)]
        return Plan("vae", enc, dec, (model.input_dim,), model.latent_dim, dtype,
                    beta=float(model.beta), loss=model.loss)
    steps = [_dense(W, b, a) for (W, b), a in zip(model.weights, model.activations)]
    k = model.latent_index
    return Plan("autoencoder", steps[:k], steps[k:], (model.layers[0],), model.latent_dim, dtype,
                loss=model.loss)


def _dense(W, b, activation):
    return Step("dense", np.array(W), np.array(b), activation)


# ---------------------------------------------------------------------------------------------
# PyTorch

_TORCH_CLASSES = {}


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

    for cls in (ScaledSigmoid, ScaledTanh, AutoencoderModule, VAEModule):
        cls.__module__ = __name__
        _TORCH_CLASSES[cls.__name__] = cls
    return _TORCH_CLASSES


def __getattr__(name):   # the torch classes, for pickling and isinstance checks
    if name in ("ScaledSigmoid", "ScaledTanh", "AutoencoderModule", "VAEModule"):
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
    raise ValueError(f"to_torch: no PyTorch module for the activation {act}")


def _torch_sequential(steps, dtype):
    torch = _import_torch()
    nn = torch.nn
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    modules = []
    for step in steps:
        if step.kind == "dense":
            n_out, n_in = step.W.shape
            lin = nn.Linear(n_in, n_out, dtype=tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(step.W)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(step.b)))
            modules.append(lin)
        elif step.kind == "flatten":
            modules.append(nn.Flatten())
        elif step.kind == "reshape":
            modules.append(nn.Unflatten(1, tuple(step.shape)))
        else:
            raise ValueError(f"to_torch: no PyTorch module for a {step.kind!r} layer")
        act = _torch_activation(step.activation)
        if act is not None:
            modules.append(act)
    return nn.Sequential(*modules)


def to_torch(model):
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
    if isinstance(module, nn.Identity):
        return parse_activation("linear")
    return None


def _steps_from_torch(module, where):
    """The steps of a torch module: Linear layers, each followed by at most one activation."""
    torch = _import_torch()
    nn = torch.nn
    leaves = [m for m in module.modules() if not list(m.children())]
    steps, activated = [], set()
    for i, m in enumerate(leaves):
        name = f"{where}: module {i} ({type(m).__name__})"
        if isinstance(m, nn.Linear):
            if m.bias is None:
                raise ValueError(f"{name}: a Linear layer without a bias is not supported")
            steps.append(Step("dense", m.weight.detach().cpu().numpy().copy(),
                              m.bias.detach().cpu().numpy().copy()))
            continue
        if isinstance(m, nn.Flatten):
            continue     # flat data stays flat
        act = _act_from_torch(m, name)
        if act is None:
            raise ValueError(f"{name}: not a layer kind the package knows (Linear, ReLU, Sigmoid, "
                             f"Tanh, Identity, Flatten)")
        if act.name == "linear":
            continue
        if not steps or len(steps) - 1 in activated:
            raise ValueError(f"{name}: an activation must follow a Linear layer directly")
        steps[-1].activation = act
        activated.add(len(steps) - 1)
    if not steps:
        raise ValueError(f"{where}: no Linear layer found")
    return steps


def from_torch(cls, module, latent_index=None, **kwargs):
    """A model of class ``cls`` with the architecture and the weights of a torch module.

    ``module`` has ``encoder`` and ``decoder`` submodules (as ``to_torch`` makes them; the code
    is the encoder's output), or is one sequence of layers whose narrowest inner layer is the
    code (``latent_index`` says which when that is ambiguous). Known layer kinds: Linear
    (with a bias), ReLU, Sigmoid, Tanh, Identity, Flatten, and the package's scaled activations.
    ``kwargs`` go to the model's constructor (loss, optimizer, dtype, seed...).
    """
    torch = _import_torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        module = module.module
    from .vae import VAE
    if hasattr(module, "encoder") and hasattr(module, "decoder"):
        enc = _steps_from_torch(module.encoder, "module.encoder")
        dec = _steps_from_torch(module.decoder, "module.decoder")
        if latent_index is not None:
            raise ValueError("latent_index: the code is the encoder's output; leave it out")
    else:
        steps = _steps_from_torch(module, "module")
        sizes = [steps[0].W.shape[1]] + [s.W.shape[0] for s in steps]
        from .autoencoder import find_latent
        k = find_latent(sizes, latent_index)
        enc, dec = steps[:k], steps[k:]
    steps = enc + dec
    chains = [enc, dec] if issubclass(cls, VAE) else [steps]   # a VAE's code is half of [μ | logvar]
    for chain in chains:
        for a, b in zip(chain[:-1], chain[1:]):
            if a.W.shape[0] != b.W.shape[1]:
                raise ValueError(f"module: a Linear layer of {a.W.shape[0]} outputs is followed by "
                                 f"one of {b.W.shape[1]} inputs")
    if "dtype" not in kwargs:
        kwargs["dtype"] = "float64" if steps[0].W.dtype == np.float64 else "float32"
    if issubclass(cls, VAE):
        if not hasattr(module, "latent_dim"):
            raise ValueError("VAE.from_torch: expected a module with encoder, decoder and "
                             "latent_dim (as VAE.to_torch makes it)")
        k = int(module.latent_dim)
        acts = [s.activation for s in enc[:-1] + dec[:-1]]
        kwargs.setdefault("beta", getattr(module, "beta", 1.0))
        kwargs.setdefault("loss", getattr(module, "loss_name", "bce"))
        model = cls(encoder=[enc[0].W.shape[1]] + [s.W.shape[0] for s in enc[:-1]], latent_dim=k,
                    decoder=[s.W.shape[0] for s in dec], activation=[[a.name, a.beta] for a in acts],
                    output_activation=[dec[-1].activation.name, dec[-1].activation.beta], **kwargs)
    else:
        sizes = [steps[0].W.shape[1]] + [s.W.shape[0] for s in steps]
        model = cls(sizes, activation=[[s.activation.name, s.activation.beta] for s in steps],
                    latent_index=len(enc), **kwargs)
    for (W, b), s in zip(model.weights, steps):
        if W.shape != s.W.shape:
            raise ValueError(f"module: expected a weight of shape {W.shape}, got {s.W.shape}")
        W[...] = s.W
        b[...] = s.b
    return model


# ---------------------------------------------------------------------------------------------
# ONNX


def _onnx_graph(steps, name, input_name, n_in, output_names, dtype, split=None):
    """An ONNX model of ``steps`` from ``input_name`` (batch, n_in) to its output; with ``split``
    = k, the output (batch, 2k) is split into two outputs [μ | logvar] (logvar clamped)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    nodes, inits = [], []
    x = input_name
    n_out = n_in
    for i, step in enumerate(steps):
        if step.kind != "dense":
            raise ValueError(f"export_onnx: no ONNX operator for a {step.kind!r} layer")
        W = numpy_helper.from_array(step.W.astype(dtype), f"W{i}")
        b = numpy_helper.from_array(step.b.astype(dtype), f"b{i}")
        inits += [W, b]
        y = f"dense{i}"
        nodes.append(helper.make_node("Gemm", [x, W.name, b.name], [y], transB=1, name=f"dense_{i}"))
        x, n_out = _onnx_activation(step.activation, y, i, nodes, inits, dtype), step.W.shape[0]
    outputs = []
    if split is None:
        nodes.append(helper.make_node("Identity", [x], [output_names[0]]))
        outputs.append(helper.make_tensor_value_info(output_names[0], elem, ["batch", n_out]))
    else:
        k = split
        sizes = numpy_helper.from_array(np.array([k, k], dtype=np.int64), "split_sizes")
        lo = numpy_helper.from_array(np.array(LOGVAR_MIN, dtype=dtype), "logvar_min")
        hi = numpy_helper.from_array(np.array(LOGVAR_MAX, dtype=dtype), "logvar_max")
        inits += [sizes, lo, hi]
        nodes.append(helper.make_node("Split", [x, "split_sizes"], [output_names[0], "logvar_raw"],
                                      axis=1))
        nodes.append(helper.make_node("Clip", ["logvar_raw", "logvar_min", "logvar_max"],
                                      [output_names[1]]))
        outputs += [helper.make_tensor_value_info(n, elem, ["batch", k]) for n in output_names]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(input_name, elem,
                                                                         ["batch", n_in])],
                              outputs, initializer=inits)
    model = helper.make_model(graph, producer_name="sia_autoencoder",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8   # onnxruntime >= 1.15 reads it
    onnx.checker.check_model(model, full_check=True)
    return model


def _onnx_activation(act, x, i, nodes, inits, dtype):
    from onnx import helper, numpy_helper
    if act.name == "linear":
        return x
    y = f"act{i}"
    if act.name == "relu":
        nodes.append(helper.make_node("Relu", [x], [y]))
        return y
    op, scale = {"logistic": ("Sigmoid", 2.0 * act.beta), "tanh": ("Tanh", act.beta)}[act.name]
    if scale != 1.0:
        inits.append(numpy_helper.from_array(np.array(scale, dtype=dtype), f"scale{i}"))
        nodes.append(helper.make_node("Mul", [x, f"scale{i}"], [f"scaled{i}"]))
        x = f"scaled{i}"
    nodes.append(helper.make_node(op, [x], [y]))
    return y


def export_onnx(model, path, dtype="float32"):
    """Write the model as three ONNX graphs, each checked by ``onnx.checker``: ``path`` (the
    whole model, input ``x`` to output ``reconstruction``; a VAE decodes μ), and beside it
    ``<stem>.encoder.onnx`` (``x`` to ``code``; a VAE's to ``mu`` and ``logvar``) and
    ``<stem>.decoder.onnx`` (``z`` to ``reconstruction``). The batch dimension is free.
    Returns {'model': path, 'encoder': ..., 'decoder': ...}.

    ``dtype``: 'float32' (the default, what runtimes serve) or 'float64'.
    """
    import os
    onnx = _import_onnx()
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype}")
    p = plan(model)
    path = os.fspath(path)
    stem = path[:-5] if path.endswith(".onnx") else path
    n_in = int(np.prod(p.input_shape))
    n_code = p.encoder[-1].W.shape[0]
    if p.kind == "vae":
        enc = _onnx_graph(p.encoder, "encoder", "x", n_in, ["mu", "logvar"], dtype, split=p.latent_dim)
        whole_steps = p.encoder[:-1] + [Step("dense", p.encoder[-1].W[:p.latent_dim],
                                             p.encoder[-1].b[:p.latent_dim])] + p.decoder
    else:
        enc = _onnx_graph(p.encoder, "encoder", "x", n_in, ["code"], dtype)
        whole_steps = p.encoder + p.decoder
    dec = _onnx_graph(p.decoder, "decoder", "z", p.latent_dim if p.kind == "vae" else n_code,
                      ["reconstruction"], dtype)
    whole = _onnx_graph(whole_steps, "autoencoder", "x", n_in, ["reconstruction"], dtype)
    paths = {"model": path if path.endswith(".onnx") else path + ".onnx",
             "encoder": stem + ".encoder.onnx", "decoder": stem + ".decoder.onnx"}
    for key, graph in (("model", whole), ("encoder", enc), ("decoder", dec)):
        folder = os.path.dirname(os.path.abspath(paths[key]))
        os.makedirs(folder, exist_ok=True)
        onnx.save_model(graph, paths[key])
    return paths


class Interop:
    """Mixin of the models: ``to_torch``, ``from_torch`` and ``export_onnx``."""

    def to_torch(self):
        """An equivalent ``torch.nn.Module`` (see :func:`sia_autoencoder.interop.to_torch`)."""
        return to_torch(self)

    @classmethod
    def from_torch(cls, module, **kwargs):
        """A model with the architecture and weights of a torch module (see
        :func:`sia_autoencoder.interop.from_torch`)."""
        return from_torch(cls, module, **kwargs)

    def export_onnx(self, path, dtype="float32"):
        """Write the model, its encoder and its decoder as ONNX graphs (see
        :func:`sia_autoencoder.interop.export_onnx`)."""
        return export_onnx(self, path, dtype)
