"""Experiment configuration: one JSON file describes a whole run (the schema: configs/schema.md,
printed by `sia-autoencoder --schema`).

Two layouts are accepted and give the same :class:`ExperimentConfig`:

* the package's own, e.g. ``{"problem": "CONVENTIONAL", "architecture": {"encoder": [...],
  "latent": {...}}, "optimizer": {"type": "ADAM", ...}, "updater": {...}, ...}``;
* the layout student teams already write: ``problem``, ``problemOptions``,
  ``hyperparameters.optimizer.type``/``options``, ``hyperparameters.updater``,
  ``encoderArchitecture[].neuronQty``/``activationFunction``, ``seed``.

Every error names the key path as the file spells it, the value it got and what is allowed;
unknown keys are refused with the closest valid name. Enums are case-insensitive.
"""
import dataclasses
import difflib
import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from typing import List, Optional

__all__ = ["ConfigError", "ExperimentConfig", "Layer", "load_config", "parse_config",
           "bundled_configs", "bundled_config_path", "DEFAULT_CONFIG",
           "PROBLEMS", "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "UPDATERS", "NOISES", "PLOTS"]

PROBLEMS = ("CONVENTIONAL", "DENOISING", "VARIATIONAL")
ACTIVATIONS = ("LINEAR", "LOGISTIC", "TANH", "RELU", "ELU", "SELU")
LOSSES = ("BCE", "MSE")
OPTIMIZERS = ("GRADIENT_DESCENT", "MOMENTUM", "ADAM", "ADAMW", "RMSPROP", "NADAM", "ADADELTA")
UPDATERS = ("ONLINE", "BATCH", "MINI-BATCH")
NOISES = ("SALT_AND_PEPPER", "BIT_FLIP", "GAUSSIAN")
DTYPES = ("FLOAT32", "FLOAT64")
PLOTS = ("loss", "latent", "reconstructions", "samples", "latent_grid", "interpolation",
         "denoising", "noise_study")
BUILTIN_DATASETS = ("font", "emojis", "digits")

#: The figures each problem can make, and those it makes when ``plots`` is not given.
PROBLEM_PLOTS = {
    "CONVENTIONAL": ("loss", "latent", "reconstructions", "samples", "latent_grid", "interpolation"),
    "DENOISING": ("loss", "latent", "reconstructions", "samples", "latent_grid", "interpolation",
                  "denoising", "noise_study"),
    "VARIATIONAL": ("loss", "latent", "reconstructions", "samples", "latent_grid", "interpolation"),
}
DEFAULT_PLOTS = {
    "CONVENTIONAL": PROBLEM_PLOTS["CONVENTIONAL"],
    "DENOISING": ("loss", "latent", "reconstructions", "latent_grid", "denoising", "noise_study"),
    "VARIATIONAL": PROBLEM_PLOTS["VARIATIONAL"],
}
NEEDS_2D = ("latent", "latent_grid")

# Spellings accepted besides the canonical names (compared after upper-casing and '-' -> '_').
_ALIASES = {"GD": "GRADIENT_DESCENT", "SGD": "GRADIENT_DESCENT", "MINIBATCH": "MINI-BATCH",
            "BINARY_CROSSENTROPY": "BCE", "BINARY_CROSS_ENTROPY": "BCE", "SALT_PEPPER": "SALT_AND_PEPPER",
            "SALTANDPEPPER": "SALT_AND_PEPPER", "BITFLIP": "BIT_FLIP", "VAE": "VARIATIONAL"}

#: The bundled config that runs when none is given: the letters autoencoder.
DEFAULT_CONFIG = "letters"

# Optimizer defaults (by type where they differ: those of sia_autoencoder.optimizers), and which
# options each type takes. alpha is momentum's α; rho the decay of RMSprop's and Adadelta's mean
# square; weight_decay is decoupled for ADAMW and an L2 term in the gradient for the others.
OPTIMIZER_DEFAULTS = {"learning_rate": {"GRADIENT_DESCENT": 0.01, "MOMENTUM": 0.01, "ADAM": 0.001,
                                        "ADAMW": 0.001, "RMSPROP": 0.001, "NADAM": 0.001,
                                        "ADADELTA": 1.0},
                      "alpha": 0.9, "beta1": 0.9, "beta2": 0.999,
                      "epsilon": {"ADAM": 1e-8, "ADAMW": 1e-8, "RMSPROP": 1e-7, "NADAM": 1e-7,
                                  "ADADELTA": 1e-6},
                      "rho": {"RMSPROP": 0.9, "ADADELTA": 0.95},
                      "weight_decay": {"ADAMW": 0.004}}
OPTIMIZER_OPTIONS = {"GRADIENT_DESCENT": ("learning_rate", "weight_decay"),
                     "MOMENTUM": ("learning_rate", "alpha", "weight_decay"),
                     "ADAM": ("learning_rate", "beta1", "beta2", "epsilon", "weight_decay"),
                     "ADAMW": ("learning_rate", "beta1", "beta2", "epsilon", "weight_decay"),
                     "RMSPROP": ("learning_rate", "rho", "epsilon", "weight_decay"),
                     "NADAM": ("learning_rate", "beta1", "beta2", "epsilon", "weight_decay"),
                     "ADADELTA": ("learning_rate", "rho", "epsilon", "weight_decay")}


class ConfigError(ValueError):
    """An invalid experiment config. ``errors`` lists one message per problem, each starting
    with the key path; the message joins them, prefixed by the file name when known."""

    def __init__(self, errors, source=None):
        self.errors = list(dict.fromkeys(errors))   # each message once, in order
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.errors) == 1:
            msg = head + self.errors[0]
        else:
            msg = (f"{head}{len(self.errors)} errors in the config:\n  "
                   + "\n  ".join(self.errors))
        super().__init__(msg)


# ---------------------------------------------------------------------------------------------
# The result


@dataclass
class Layer:
    """One dense layer: its width (None for the output, whose width is the data's) and its
    activation with slope β."""
    units: Optional[int]
    activation: str = "TANH"
    beta: float = 1.0

    def to_dict(self):
        out = {"units": self.units, "activation": self.activation, "beta": self.beta}
        if self.units is None:
            del out["units"]
        return out


@dataclass
class ExperimentConfig:
    """A validated experiment, in the package's own layout (``to_dict()`` writes it back)."""
    problem: str
    encoder: List[Layer]
    latent: Layer
    decoder: Optional[List[Layer]] = None        # None: the encoder mirrored
    output: Layer = field(default_factory=lambda: Layer(None, "LOGISTIC", 1.0))
    name: Optional[str] = None
    description: Optional[str] = None
    dataset: str = "font"
    image_shape: Optional[List[int]] = None
    loss: str = "BCE"
    optimizer: str = "ADAM"
    learning_rate: float = 0.001
    alpha: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    rho: float = 0.9
    weight_decay: float = 0.0
    updater: str = "BATCH"
    batch_size: Optional[int] = None
    epochs: int = 1000
    max_wrong_pixels: Optional[int] = None
    loss_below: Optional[float] = None
    patience: Optional[int] = None
    min_delta: float = 0.0
    noise: Optional[str] = None
    noise_level: float = 0.0
    noise_study_levels: Optional[List[float]] = None
    vae_beta: float = 1.0
    kl_warmup_epochs: int = 0
    seed: int = 0
    dtype: str = "float32"
    threads: Optional[int] = 1
    plots: Optional[List[str]] = None            # None: the problem's defaults
    source: Optional[str] = field(default=None, repr=False, compare=False)
    paths: dict = field(default_factory=dict, repr=False, compare=False)  # logical -> user key path

    # -- derived --
    @property
    def decoder_layers(self):
        """The decoder's hidden layers: as given, or the encoder's in reverse order."""
        return list(reversed(self.encoder)) if self.decoder is None else list(self.decoder)

    def layer_sizes(self, n_features):
        """Every width from the input to the output, e.g. [35, 25, 15, 10, 2, 10, 15, 25, 35]."""
        return ([n_features] + [l.units for l in self.encoder] + [self.latent.units]
                + [l.units for l in self.decoder_layers] + [n_features])

    def activations(self):
        """One (name, β) per weight layer, lower-case names as :class:`Autoencoder` takes them."""
        layers = self.encoder + [self.latent] + self.decoder_layers + [self.output]
        return [(l.activation.lower(), l.beta) for l in layers]

    def plot_list(self):
        """The figures this run makes: the ones asked for, or the problem's defaults that apply."""
        if self.plots is not None:
            return list(self.plots)
        return [p for p in DEFAULT_PLOTS[self.problem]
                if self.latent.units == 2 or p not in NEEDS_2D]

    def path(self, logical):
        """The key path of a setting as the config file spells it."""
        return self.paths.get(logical, logical)

    def to_dict(self):
        """The config in the package's own layout, every default filled in (the config as run)."""
        opt = {"type": self.optimizer}
        opt.update({k: getattr(self, k) for k in OPTIMIZER_OPTIONS[self.optimizer]})
        updater = {"type": self.updater}
        if self.updater == "MINI-BATCH":
            updater["batch_size"] = self.batch_size
        stop = {"max_wrong_pixels": self.max_wrong_pixels, "loss_below": self.loss_below,
                "patience": self.patience, "min_delta": self.min_delta}
        out = {"name": self.name, "description": self.description, "problem": self.problem,
               "dataset": self.dataset, "image_shape": self.image_shape,
               "architecture": {"encoder": [l.to_dict() for l in self.encoder],
                                "latent": self.latent.to_dict(),
                                "decoder": [l.to_dict() for l in self.decoder_layers],
                                "output": self.output.to_dict()},
               "loss": self.loss, "optimizer": opt, "updater": updater, "epochs": self.epochs,
               "stop": stop}
        if self.problem == "DENOISING":
            out["noise"] = {"type": self.noise, "level": self.noise_level,
                            "study_levels": self.noise_study_levels}
        if self.problem == "VARIATIONAL":
            out["vae"] = {"beta": self.vae_beta, "kl_warmup_epochs": self.kl_warmup_epochs}
        out.update({"seed": self.seed, "dtype": self.dtype, "threads": self.threads,
                    "plots": self.plot_list()})
        return out

    def replace(self, **changes):
        """A copy with some settings changed (e.g. ``epochs`` from the command line)."""
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# The two layouts, as key paths. "[]" marks a list of layers; a layer is read with LAYER_KEYS.

_NATIVE = {
    "name": "name", "description": "description", "problem": "problem", "dataset": "dataset",
    "image_shape": "image_shape",
    "encoder": "architecture.encoder[]", "latent": "architecture.latent",
    "decoder": "architecture.decoder[]", "output": "architecture.output",
    "loss": "loss",
    "optimizer": "optimizer.type", "learning_rate": "optimizer.learning_rate",
    "alpha": "optimizer.alpha", "beta1": "optimizer.beta1", "beta2": "optimizer.beta2",
    "epsilon": "optimizer.epsilon", "rho": "optimizer.rho", "weight_decay": "optimizer.weight_decay",
    "updater": "updater.type", "batch_size": "updater.batch_size",
    "epochs": "epochs",
    "max_wrong_pixels": "stop.max_wrong_pixels", "loss_below": "stop.loss_below",
    "patience": "stop.patience", "min_delta": "stop.min_delta",
    "noise": "noise.type", "noise_level": "noise.level", "noise_study_levels": "noise.study_levels",
    "vae_beta": "vae.beta", "kl_warmup_epochs": "vae.kl_warmup_epochs",
    "seed": "seed", "dtype": "dtype", "threads": "threads", "plots": "plots",
}
_TEAM = {
    "name": "name", "description": "description", "problem": "problem", "dataset": "dataset",
    "image_shape": "imageShape",
    "encoder": "encoderArchitecture[]", "decoder": "decoderArchitecture[]",
    "output": "outputActivationFunction",
    "loss": "hyperparameters.loss",
    "optimizer": "hyperparameters.optimizer.type",
    "learning_rate": "hyperparameters.optimizer.options.learningRate",
    "alpha": "hyperparameters.optimizer.options.alpha",
    "beta1": "hyperparameters.optimizer.options.beta1",
    "beta2": "hyperparameters.optimizer.options.beta2",
    "epsilon": "hyperparameters.optimizer.options.epsilon",
    "rho": "hyperparameters.optimizer.options.rho",
    "weight_decay": "hyperparameters.optimizer.options.weightDecay",
    "updater": "hyperparameters.updater.type",
    "batch_size": "hyperparameters.updater.options.batchSize",
    "epochs": "hyperparameters.epochs",
    "max_wrong_pixels": "hyperparameters.stop.maxWrongPixels",
    "loss_below": "hyperparameters.stop.lossBelow",
    "patience": "hyperparameters.stop.patience", "min_delta": "hyperparameters.stop.minDelta",
    "noise": "problemOptions.noiseType", "noise_level": "problemOptions.noiseLevel",
    "noise_study_levels": "problemOptions.noiseLevels",
    "vae_beta": "problemOptions.beta", "kl_warmup_epochs": "problemOptions.klWarmupEpochs",
    "seed": "seed", "dtype": "dtype", "threads": "threads", "plots": "plots",
}
# A layer's keys: units, activation, beta.
_NATIVE_LAYER = {"units": "units", "activation": "activation", "beta": "beta"}
_TEAM_LAYER = {"units": "neuronQty", "activation": "activationFunction.type",
               "beta": "activationFunction.options.beta"}
_NATIVE_OUTPUT = {"activation": "activation", "beta": "beta"}
_TEAM_OUTPUT = {"activation": "type", "beta": "options.beta"}
_TEAM_MARKERS = ("problemOptions", "hyperparameters", "encoderArchitecture", "decoderArchitecture",
                 "outputActivationFunction")


class _Layout:
    def __init__(self, name, fields, layer, output):
        self.name, self.fields, self.layer, self.output = name, fields, layer, output
        self.tree = _key_tree(fields, layer, output)

    def where(self, logical):
        return self.fields[logical].replace("[]", "")


def _key_tree(fields, layer, output):
    """Nested dict of allowed keys: a leaf is None, a list of layers is ('layers', layer_tree)."""
    tree = {}

    def add(t, parts, leaf):
        for p in parts[:-1]:
            t = t.setdefault(p, {})
        t[parts[-1]] = leaf

    layer_tree, output_tree = {}, {}
    for p in layer.values():
        add(layer_tree, p.split("."), None)
    for p in output.values():
        add(output_tree, p.split("."), None)
    for logical, path in fields.items():
        if path.endswith("[]"):
            add(tree, path[:-2].split("."), ("layers", layer_tree))
        elif logical in ("latent",):
            add(tree, path.split("."), layer_tree)
        elif logical == "output":
            add(tree, path.split("."), output_tree)
        else:
            add(tree, path.split("."), None)
    return tree


NATIVE = _Layout("native", _NATIVE, _NATIVE_LAYER, _NATIVE_OUTPUT)
TEAM = _Layout("team", _TEAM, _TEAM_LAYER, _TEAM_OUTPUT)


# ---------------------------------------------------------------------------------------------
# Reading values


class _Bad(Exception):
    """One invalid value; the parser adds the key path."""


_MISSING = object()


def _get(data, path):
    """The value at a dotted path, or _MISSING; a non-object on the way raises _Bad there."""
    node, done = data, []
    for part in path.split("."):
        if not isinstance(node, dict):
            raise _Bad((".".join(done), f"expected an object, got {_show(node)}"))
        if part not in node:
            return _MISSING
        node = node[part]
        done.append(part)
    return node


def _show(value):
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value)
    except RecursionError:
        return "a value nested too deeply to show"


def _norm(s):
    return s.upper().replace("-", "_").replace(" ", "_")


def _enum(value, allowed):
    if not isinstance(value, str):
        raise _Bad(f"expected one of {', '.join(allowed)}, got {_show(value)}")
    key = _norm(value)
    key = _norm(_ALIASES.get(key, key))
    for a in allowed:
        if _norm(a) == key:
            return a
    raise _Bad(f"{value!r} is not one of {', '.join(allowed)}")


def _number(value, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Bad(f"expected a number, got {_show(value)}")
    bad = ((low is not None and (value <= low if low_open else value < low))
           or (high is not None and (value >= high if high_open else value > high)))
    if bad:
        lo = "" if low is None else f"{'(' if low_open else '['}{low:g}"
        hi = "" if high is None else f"{high:g}{')' if high_open else ']'}"
        rng = f"in {lo}, {hi}" if low is not None and high is not None else (
            f"{'>' if low_open else '>='} {low:g}" if low is not None else f"<= {high:g}")
        raise _Bad(f"expected a number {rng}, got {_show(value)}")
    return float(value)


def _integer(value, low=None, high=None):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"expected an integer, got {_show(value)}")
    if low is not None and value < low:
        raise _Bad(f"expected an integer >= {low}, got {value}")
    if high is not None and value > high:
        raise _Bad(f"expected an integer <= {high}, got {value}")
    return value


#: The widest layer a config may ask for, and the most weights between two of its layers:
#: beyond them the model cannot be built in memory, and the config says so at the key.
MAX_UNITS = 1 << 20
MAX_LAYER_WEIGHTS = 1 << 31


def _string(value):
    if not isinstance(value, str) or not value:
        raise _Bad(f"expected a non-empty string, got {_show(value)}")
    return value


def _dataset(value):
    if not isinstance(value, str) or not value:
        raise _Bad(f"expected {', '.join(BUILTIN_DATASETS)} or a path to a .npy or .csv file, "
                   f"got {_show(value)}")
    if value.lower() in BUILTIN_DATASETS:
        return value.lower()
    if not value.lower().endswith((".npy", ".csv")):
        close = difflib.get_close_matches(value.lower(), BUILTIN_DATASETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _Bad(f"{value!r} is not one of {', '.join(BUILTIN_DATASETS)} nor a path ending in "
                   f".npy or .csv{hint}")
    return value


# ---------------------------------------------------------------------------------------------
# Parsing


def _suggest(key, here, everywhere):
    """'did you mean ...' for an unknown key: a sibling first, else any key path of the layout."""
    close = difflib.get_close_matches(key, here, n=1, cutoff=0.6)
    if not close:
        lower = {k.lower(): k for k in here}
        if key.lower() in lower:
            close = [lower[key.lower()]]
    if close:
        return f"did you mean {close[0]!r}?"
    leaf = key.lower().replace("_", "")
    far = [p for p in everywhere if p.split(".")[-1].replace("[]", "").lower().replace("_", "") == leaf]
    if far:
        return f"did you mean {far[0]!r}?"
    return None


def _all_paths(tree, prefix=""):
    out = []
    for k, sub in tree.items():
        p = prefix + k
        if isinstance(sub, tuple):
            out.append(p + "[]")
            out += _all_paths(sub[1], p + "[].")
        elif isinstance(sub, dict):
            out.append(p)
            out += _all_paths(sub, p + ".")
        else:
            out.append(p)
    return out


def _check_keys(node, tree, path, errors, everywhere):
    """Refuse keys that the layout does not define, with a suggestion."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key not in tree:
            hint = _suggest(key, list(tree), everywhere)
            errors.append(f"{where}: unknown key" + (f"; {hint}" if hint else "")
                          + f" (allowed here: {', '.join(tree)})")
            continue
        sub = tree[key]
        if isinstance(sub, tuple):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    _check_keys(item, sub[1], f"{where}[{i}]", errors, everywhere)
        elif isinstance(sub, dict):
            _check_keys(value, sub, where, errors, everywhere)


def _detect_layout(data):
    return TEAM if any(k in data for k in _TEAM_MARKERS) else NATIVE


class _Parser:
    def __init__(self, data, layout):
        self.data, self.layout, self.errors = data, layout, []
        self.paths = {k: layout.where(k) for k in layout.fields}

    def error(self, path, msg):
        self.errors.append(f"{path}: {msg}")

    def read(self, logical, check, default=_MISSING, required=False, **kw):
        path = self.layout.where(logical)
        return self.read_at(self.data, path, path, check, default, required, **kw)

    def read_at(self, node, rel, full, check, default=_MISSING, required=False, **kw):
        try:
            value = _get(node, rel)
        except _Bad as exc:
            where, msg = exc.args[0]
            base = full[:len(full) - len(rel)]
            self.error(base + where if where else base.rstrip("."), msg)
            return default
        if value is _MISSING or value is None:
            if required:
                self.error(full, "missing (required)")
            return default
        try:
            return check(value, **kw) if check else value
        except _Bad as exc:
            self.error(full, exc.args[0])
            return default

    def layer(self, node, full, keys, need_units=True, default_act="TANH"):
        if not isinstance(node, dict):
            self.error(full, f"expected a layer object like "
                             f"{self._example(keys)}, got {_show(node)}")
            return None
        units = None
        if need_units:
            units = self.read_at(node, keys["units"], f"{full}.{keys['units']}", _integer,
                                 required=True, low=1, high=MAX_UNITS)
        act = self.read_at(node, keys["activation"], f"{full}.{keys['activation']}", _enum,
                           default_act, allowed=ACTIVATIONS)
        beta = self.read_at(node, keys["beta"], f"{full}.{keys['beta']}", _number, 1.0,
                            low=0, low_open=True)
        if need_units and units is None:
            return None
        return Layer(units, act, beta)

    def _example(self, keys):
        if keys is _TEAM_LAYER:
            return '{"neuronQty": 10, "activationFunction": {"type": "TANH", "options": {"beta": 1}}}'
        return '{"units": 10, "activation": "TANH", "beta": 1}'

    def layers(self, logical, required=False):
        path = self.layout.where(logical)
        value = self.read(logical, None, None, required=required)
        if value is None:
            return None
        if not isinstance(value, list):
            self.error(path, f"expected a list of layers, got {_show(value)}")
            return None
        out = [self.layer(item, f"{path}[{i}]", self.layout.layer) for i, item in enumerate(value)]
        return None if any(l is None for l in out) else out


def _check_layer_weights(p, cfg):
    """Between two consecutive layers of the config, at most MAX_LAYER_WEIGHTS weights."""
    chain = [(f"{p.layout.where('encoder')}[{i}]", l) for i, l in enumerate(cfg.get("encoder", []))]
    if "latent" in cfg:
        chain.append((p.paths.get("latent", "latent"), cfg["latent"]))
    chain += [(f"{p.layout.where('decoder')}[{i}]", l) for i, l in enumerate(cfg.get("decoder", []))]
    for (_, a), (where, b) in zip(chain, chain[1:]):
        if isinstance(a.units, int) and isinstance(b.units, int) and a.units * b.units > MAX_LAYER_WEIGHTS:
            key = p.layout.layer["units"]
            p.error(f"{where}.{key}", f"{a.units} x {b.units} weights from the layer before, "
                                      f"more than {MAX_LAYER_WEIGHTS}")


def parse_config(data, source=None, base_dir=None):
    """Validate a config (a dict from JSON, in either layout) into an :class:`ExperimentConfig`.

    Raises :class:`ConfigError` listing every problem found, each with its key path.
    ``base_dir`` resolves a relative dataset path (default: the config file's folder).
    """
    try:
        return _parse_config(data, source, base_dir)
    except RecursionError:
        raise ConfigError(["nested too deeply to be a config"], source) from None


def _parse_config(data, source, base_dir):
    if not isinstance(data, dict):
        raise ConfigError([f"expected a JSON object at the top level, got {_show(data)[:60]}"], source)
    layout = _detect_layout(data)
    p = _Parser(data, layout)
    tree = layout.tree
    _check_keys(data, tree, "", p.errors, _all_paths(tree))

    cfg = {}
    cfg["name"] = p.read("name", _string, None)
    cfg["description"] = p.read("description", _string, None)
    problem = p.read("problem", _enum, "CONVENTIONAL", allowed=PROBLEMS)
    problem_ok = not p.errors or not p.errors[-1].startswith(layout.where("problem") + ":")
    cfg["problem"] = problem
    cfg["dataset"] = p.read("dataset", _dataset, "font")
    shape = p.read("image_shape", None, None)
    if shape is not None:
        if (not isinstance(shape, list) or len(shape) != 2
                or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)):
            p.error(layout.where("image_shape"), f"expected [rows, columns], two integers >= 1, "
                                                 f"got {_show(shape)}")
        else:
            cfg["image_shape"] = shape

    # Architecture
    encoder = p.layers("encoder", required=layout is TEAM)
    if layout is TEAM:
        path = layout.where("encoder")
        if encoder is not None and not encoder:
            p.error(path, "expected at least one layer (the last one is the latent space)")
        elif encoder:
            cfg["encoder"], cfg["latent"] = encoder[:-1], encoder[-1]
            p.paths["latent"] = f"{path}[{len(encoder) - 1}]"
    else:
        cfg["encoder"] = encoder if encoder is not None else []
        node = p.read("latent", None, None, required=True)
        if node is not None:
            latent = p.layer(node, layout.where("latent"), layout.layer, default_act="LINEAR")
            if latent is not None:
                cfg["latent"] = latent
    decoder = p.layers("decoder")
    if decoder is not None:
        cfg["decoder"] = decoder
    _check_layer_weights(p, cfg)
    out_node = p.read("output", None, None)
    if out_node is not None:
        out = p.layer(out_node, layout.where("output"), layout.output, need_units=False,
                      default_act="LOGISTIC")
        if out is not None:
            cfg["output"] = out

    # Training
    cfg["loss"] = p.read("loss", _enum, "BCE", allowed=LOSSES)
    out_act = cfg["output"].activation if "output" in cfg else "LOGISTIC"
    if cfg["loss"] == "BCE" and out_act != "LOGISTIC":
        p.error(f"{layout.where('output')}.{layout.output['activation']}",
                f"BCE needs a LOGISTIC output (values in (0, 1)), got {out_act}; use loss MSE "
                f"for other outputs")
    opt = p.read("optimizer", _enum, "ADAM", allowed=OPTIMIZERS)
    cfg["optimizer"] = opt
    cfg["learning_rate"] = p.read("learning_rate", _number,
                                  OPTIMIZER_DEFAULTS["learning_rate"][opt], low=0, low_open=True)
    cfg["alpha"] = p.read("alpha", _number, 0.9, low=0, high=1, high_open=True)
    cfg["beta1"] = p.read("beta1", _number, 0.9, low=0, high=1, high_open=True)
    cfg["beta2"] = p.read("beta2", _number, 0.999, low=0, high=1, high_open=True)
    cfg["epsilon"] = p.read("epsilon", _number, OPTIMIZER_DEFAULTS["epsilon"].get(opt, 1e-8), low=0,
                            low_open=True)
    cfg["rho"] = p.read("rho", _number, OPTIMIZER_DEFAULTS["rho"].get(opt, 0.9), low=0, high=1,
                        high_open=True)
    cfg["weight_decay"] = p.read("weight_decay", _number,
                                 OPTIMIZER_DEFAULTS["weight_decay"].get(opt, 0.0), low=0)
    for option in ("alpha", "beta1", "beta2", "epsilon", "rho", "weight_decay"):
        if option not in OPTIMIZER_OPTIONS[opt] and _get_quiet(data, layout.where(option)) is not None:
            p.error(layout.where(option), f"{opt} takes no {option}; its options are "
                                          f"{', '.join(_option_names(layout, opt))}")
    n_errors = len(p.errors)
    updater = p.read("updater", _enum, "BATCH", allowed=UPDATERS)
    updater_ok = len(p.errors) == n_errors
    cfg["updater"] = updater
    batch = p.read("batch_size", _integer, None, low=1)
    if updater == "MINI-BATCH":
        cfg["batch_size"] = batch if batch is not None else 32
    elif batch is not None and updater_ok:
        p.error(layout.where("batch_size"), f"only MINI-BATCH takes a batch size "
                                            f"({layout.where('updater')} is {updater})")
    cfg["epochs"] = p.read("epochs", _integer, 1000, low=0)
    cfg["max_wrong_pixels"] = p.read("max_wrong_pixels", _integer, None, low=0)
    cfg["loss_below"] = p.read("loss_below", _number, None, low=0, low_open=True)
    cfg["patience"] = p.read("patience", _integer, None, low=0)
    cfg["min_delta"] = p.read("min_delta", _number, 0.0, low=0)

    # Problem options
    noise = p.read("noise", _enum, None, allowed=NOISES)
    level = p.read("noise_level", _number, None, low=0)
    levels = p.read("noise_study_levels", None, None)
    if problem == "DENOISING":
        if noise is None and _get_quiet(data, layout.where("noise")) is None:
            p.error(layout.where("noise"), f"missing (required when problem is DENOISING); "
                                           f"one of {', '.join(NOISES)}")
        high = None if noise == "GAUSSIAN" else 1.0
        if level is None:
            level = 0.1
        elif high is not None and level > high:
            p.error(layout.where("noise_level"), f"expected a probability in [0, 1] for {noise}, "
                                                 f"got {level:g}")
        cfg["noise"], cfg["noise_level"] = noise, level
        if levels is not None:
            where = layout.where("noise_study_levels")
            if not isinstance(levels, list) or not levels:
                p.error(where, f"expected a non-empty list of noise levels, got {_show(levels)}")
            else:
                good = []
                for i, v in enumerate(levels):
                    try:
                        good.append(_number(v, low=0, high=high))
                    except _Bad as exc:
                        p.error(f"{where}[{i}]", exc.args[0])
                cfg["noise_study_levels"] = good
        else:
            top = 0.5 if high else 1.0
            cfg["noise_study_levels"] = [round(top * i / 5, 10) for i in range(6)]
    elif problem_ok:
        for logical in ("noise", "noise_level", "noise_study_levels"):
            if _get_quiet(data, layout.where(logical)) is not None:
                p.error(layout.where(logical), f"only a DENOISING problem uses noise "
                                               f"({layout.where('problem')} is {problem})")
    vae_beta = p.read("vae_beta", _number, 1.0, low=0)
    warmup = p.read("kl_warmup_epochs", _integer, 0, low=0)
    if problem == "VARIATIONAL":
        cfg["vae_beta"], cfg["kl_warmup_epochs"] = vae_beta, warmup
    elif problem_ok:
        for logical in ("vae_beta", "kl_warmup_epochs"):
            if _get_quiet(data, layout.where(logical)) is not None:
                p.error(layout.where(logical), f"only a VARIATIONAL problem uses it "
                                               f"({layout.where('problem')} is {problem})")
    if problem == "VARIATIONAL" and cfg.get("max_wrong_pixels") is not None:
        p.error(layout.where("max_wrong_pixels"), "a VARIATIONAL problem cannot stop on wrong "
                                                  "pixels; use loss_below or patience")

    cfg["seed"] = p.read("seed", _integer, 0, low=0)
    dtype = p.read("dtype", _enum, "FLOAT32", allowed=DTYPES)
    cfg["dtype"] = dtype.lower()
    cfg["threads"] = p.read("threads", _integer, 1, low=1)

    plots = p.read("plots", None, None)
    if plots is not None:
        where = layout.where("plots")
        allowed = PROBLEM_PLOTS[problem]
        if not isinstance(plots, list):
            p.error(where, f"expected a list of figure names ({', '.join(allowed)}), got {_show(plots)}")
        else:
            names = []
            for i, v in enumerate(plots):
                try:
                    name = _enum(v, PLOTS).lower() if isinstance(v, str) else _enum(v, allowed)
                except _Bad:
                    close = difflib.get_close_matches(str(v).lower(), allowed, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    p.error(f"{where}[{i}]", f"{_show(v)} is not one of {', '.join(allowed)}{hint}")
                    continue
                if name not in allowed:
                    p.error(f"{where}[{i}]", f"{name!r} is not a figure of a {problem} problem; "
                                             f"those are {', '.join(allowed)}")
                elif name in NEEDS_2D and "latent" in cfg and cfg["latent"].units != 2:
                    p.error(f"{where}[{i}]", f"{name!r} needs a 2-D latent space "
                                             f"({p.paths['latent']} has {cfg['latent'].units} units)")
                elif name not in names:
                    names.append(name)
            cfg["plots"] = names

    if p.errors:
        raise ConfigError(p.errors, source)
    if base_dir is not None and cfg["dataset"] not in BUILTIN_DATASETS \
            and not os.path.isabs(cfg["dataset"]):
        cfg["dataset"] = os.path.normpath(os.path.join(base_dir, cfg["dataset"]))
    return ExperimentConfig(source=source, paths=p.paths, **cfg)


def _get_quiet(data, path):
    try:
        value = _get(data, path)
    except _Bad:
        return None
    return None if value is _MISSING else value


def _option_names(layout, opt):
    return [layout.where(o).split(".")[-1] for o in OPTIMIZER_OPTIONS[opt]]


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _Bad(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def load_config(config, base_dir=None):
    """A validated :class:`ExperimentConfig` from a JSON file path, the name of a bundled config
    (``bundled_configs()``), a dict, or an ExperimentConfig (returned as is)."""
    if isinstance(config, ExperimentConfig):
        return config
    if isinstance(config, dict):
        return parse_config(config, base_dir=base_dir)
    path = os.fspath(config)
    if not os.path.exists(path) and not path.lower().endswith(".json"):
        path = bundled_config_path(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"config: no such file {path!r}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text (byte {exc.start}): a config is a JSON file"],
                          path) from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"],
                          path) from None
    except _Bad as exc:
        raise ConfigError([exc.args[0]], path) from None
    except RecursionError:
        raise ConfigError(["JSON nested too deeply to be a config"], path) from None
    cfg = parse_config(data, source=path,
                       base_dir=base_dir if base_dir is not None else os.path.dirname(os.path.abspath(path)))
    if cfg.name is None:
        cfg.name = os.path.splitext(os.path.basename(path))[0]
    return cfg


# ---------------------------------------------------------------------------------------------
# Bundled configs


def _configs_dir():
    return resources.files("sia_autoencoder").joinpath("configs")


def bundled_configs():
    """{name: description} of the example configs shipped with the package."""
    out = {}
    for entry in sorted(_configs_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            try:
                desc = json.loads(entry.read_text(encoding="utf-8")).get("description", "")
            except (ValueError, AttributeError):
                desc = ""
            out[entry.name[:-5]] = desc
    return out


def bundled_config_path(name):
    """The path of a bundled config by name ('letters', 'denoising', 'vae', ...)."""
    names = bundled_configs()
    key = name[:-5] if name.endswith(".json") else name
    if key not in names:
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise FileNotFoundError(f"config: {name!r} is neither a file nor a bundled config; {hint}"
                                f"the bundled configs are {', '.join(names)}")
    return str(_configs_dir().joinpath(key + ".json"))
