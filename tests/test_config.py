"""The experiment config: both layouts, defaults, and the exact error messages."""
import json

import pytest

from sia_autoencoder.config import (ConfigError, bundled_config_path, bundled_configs,
                                    load_config, parse_config)

NATIVE = {
    "problem": "DENOISING", "dataset": "font",
    "architecture": {"encoder": [{"units": 20, "activation": "TANH", "beta": 0.5}],
                     "latent": {"units": 2, "activation": "LINEAR"},
                     "output": {"activation": "LOGISTIC", "beta": 1.0}},
    "loss": "BCE",
    "optimizer": {"type": "ADAM", "learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-7},
    "updater": {"type": "MINI-BATCH", "batch_size": 8},
    "epochs": 300, "stop": {"max_wrong_pixels": 1},
    "noise": {"type": "BIT_FLIP", "level": 0.1, "study_levels": [0, 0.2]},
    "seed": 4,
}
TEAM = {
    "problem": "denoising",
    "problemOptions": {"noiseType": "bit_flip", "noiseLevel": 0.1, "noiseLevels": [0, 0.2]},
    "encoderArchitecture": [
        {"neuronQty": 20, "activationFunction": {"type": "tanh", "options": {"beta": 0.5}}},
        {"neuronQty": 2, "activationFunction": {"type": "linear"}}],
    "hyperparameters": {
        "epochs": 300, "loss": "bce", "stop": {"maxWrongPixels": 1},
        "optimizer": {"type": "Adam", "options": {"learningRate": 0.01, "beta1": 0.8,
                                                  "beta2": 0.99, "epsilon": 1e-7}},
        "updater": {"type": "mini-batch", "options": {"batchSize": 8}}},
    "seed": 4,
}


def errors_of(data):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.errors


def error_of(data):
    errors = errors_of(data)
    assert len(errors) == 1, errors
    return errors[0]


def with_(base, path, value):
    data = json.loads(json.dumps(base))
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


def test_team_layout_equals_native_layout():
    a, b = parse_config(NATIVE), parse_config(TEAM)
    assert a.to_dict() == b.to_dict()
    assert a.layer_sizes(35) == [35, 20, 2, 20, 35]
    assert a.activations() == [("tanh", 0.5), ("linear", 1.0), ("tanh", 0.5), ("logistic", 1.0)]
    assert (a.batch_size, a.noise, a.noise_level, a.beta1, a.epsilon) == (8, "BIT_FLIP", 0.1, 0.8, 1e-7)


def test_defaults_are_filled_in():
    cfg = parse_config({"architecture": {"latent": {"units": 3}}})
    d = cfg.to_dict()
    assert d["problem"] == "CONVENTIONAL" and d["dataset"] == "font" and d["loss"] == "BCE"
    assert d["optimizer"] == {"type": "ADAM", "learning_rate": 0.001, "beta1": 0.9,
                              "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0}
    assert d["updater"] == {"type": "BATCH"}
    assert d["architecture"]["latent"] == {"units": 3, "activation": "LINEAR", "beta": 1.0}
    assert "latent" not in d["plots"] and "loss" in d["plots"]   # 3-D latent: no 2-D plots
    assert parse_config(d).to_dict() == d                          # the config as run re-parses


@pytest.mark.parametrize("spelling", ["momentum", "Momentum", "MOMENTUM"])
def test_enums_are_case_insensitive(spelling):
    cfg = parse_config(with_(NATIVE, "optimizer", {"type": spelling, "alpha": 0.5}))
    assert cfg.optimizer == "MOMENTUM" and cfg.alpha == 0.5
    assert cfg.to_dict()["optimizer"] == {"type": "MOMENTUM", "learning_rate": 0.01, "alpha": 0.5,
                                          "weight_decay": 0.0}


def test_enum_error_names_path_value_and_choices():
    bad = with_(TEAM, "hyperparameters.optimizer.type", "ADAGRAD")
    assert error_of(bad) == ("hyperparameters.optimizer.type: 'ADAGRAD' is not one of "
                             "GRADIENT_DESCENT, MOMENTUM, ADAM, ADAMW, RMSPROP, NADAM, ADADELTA")
    assert error_of(with_(NATIVE, "architecture.encoder.0.activation", "softmax")) == (
        "architecture.encoder[0].activation: 'softmax' is not one of LINEAR, LOGISTIC, TANH, RELU, "
        "ELU, SELU")
    assert error_of(with_(TEAM, "hyperparameters.updater.type", "stochastic")) == \
        "hyperparameters.updater.type: 'stochastic' is not one of ONLINE, BATCH, MINI-BATCH"
    assert error_of(with_(NATIVE, "problem", "GAN")) == \
        "problem: 'GAN' is not one of CONVENTIONAL, DENOISING, VARIATIONAL"


def test_unknown_keys_get_the_closest_name():
    msg = error_of(with_(NATIVE, "optimzer", {"type": "ADAM"}))
    assert msg.startswith("optimzer: unknown key; did you mean 'optimizer'?")
    msg = error_of(with_(TEAM, "hyperparameters.updater.options", {"batch_size": 8}))
    assert msg.startswith("hyperparameters.updater.options.batch_size: unknown key; "
                          "did you mean 'batchSize'?")
    msg = error_of(with_(NATIVE, "learning_rate", 0.1))   # right name, wrong place
    assert msg.startswith("learning_rate: unknown key; did you mean 'optimizer.learning_rate'?")
    msg = error_of(with_(TEAM, "encoderArchitecture.0.neuronQtty", 3))
    assert msg.startswith("encoderArchitecture[0].neuronQtty: unknown key; did you mean 'neuronQty'?")


@pytest.mark.parametrize("path, value, expected", [
    ("epochs", -1, "epochs: expected an integer >= 0, got -1"),
    ("epochs", 2.5, "epochs: expected an integer, got 2.5"),
    ("seed", "one", "seed: expected an integer, got 'one'"),
    ("optimizer.learning_rate", 0, "optimizer.learning_rate: expected a number > 0, got 0"),
    ("optimizer.beta1", 1, "optimizer.beta1: expected a number in [0, 1), got 1"),
    ("architecture.encoder.0.units", 0, "architecture.encoder[0].units: expected an integer >= 1, got 0"),
    ("architecture.encoder.0.beta", -2, "architecture.encoder[0].beta: expected a number > 0, got -2"),
    ("noise.level", 1.5, "noise.level: expected a probability in [0, 1] for BIT_FLIP, got 1.5"),
    ("optimizer.alpha", 0.9, "optimizer.alpha: ADAM takes no alpha; its options are "
                             "learning_rate, beta1, beta2, epsilon, weight_decay"),
    ("architecture.output.activation", "TANH", "architecture.output.activation: BCE needs a "
     "LOGISTIC output (values in (0, 1)), got TANH; use loss MSE for other outputs"),
    ("dataset", "fonts", "dataset: 'fonts' is not one of font, emojis, digits nor a path ending in "
                         ".npy or .csv (did you mean 'font'?)"),
    ("plots", ["loss", "noise"], "plots[1]: 'noise' is not one of loss, latent, reconstructions, "
                                 "samples, latent_grid, interpolation, denoising, noise_study "
                                 "(did you mean 'noise_study'?)"),
    ("architecture", 3, "architecture: expected an object, got 3"),
])
def test_value_errors(path, value, expected):
    assert error_of(with_(NATIVE, path, value)) == expected


def test_cross_field_rules():
    assert error_of(with_(NATIVE, "updater", {"type": "BATCH", "batch_size": 4})) == \
        "updater.batch_size: only MINI-BATCH takes a batch size (updater.type is BATCH)"
    conventional = with_(NATIVE, "problem", "CONVENTIONAL")
    assert errors_of(conventional)[0] == \
        "noise.type: only a DENOISING problem uses noise (problem is CONVENTIONAL)"
    assert error_of(with_(NATIVE, "noise", ...)).startswith(
        "noise.type: missing (required when problem is DENOISING)")
    assert error_of(with_(TEAM, "problemOptions.beta", 2.0)) == \
        "problemOptions.beta: only a VARIATIONAL problem uses it (problem is DENOISING)"
    vae = with_(with_(NATIVE, "problem", "VARIATIONAL"), "noise", ...)
    assert error_of(vae) == ("stop.max_wrong_pixels: a VARIATIONAL problem cannot stop on wrong "
                             "pixels; use loss_below or patience")
    plots_3d = with_(with_(NATIVE, "architecture.latent.units", 3), "plots", ["latent_grid"])
    assert error_of(plots_3d) == ("plots[0]: 'latent_grid' needs a 2-D latent space "
                                  "(architecture.latent has 3 units)")
    assert error_of({"problem": "CONVENTIONAL"}) == "architecture.latent: missing (required)"
    assert error_of({"problem": "CONVENTIONAL", "encoderArchitecture": []}) == \
        "encoderArchitecture: expected at least one layer (the last one is the latent space)"


def test_all_errors_are_reported_at_once():
    bad = with_(with_(with_(NATIVE, "epochs", -3), "optimizer.type", "ADAGRAD"), "sed", 1)
    errors = errors_of(bad)
    assert len(errors) == 3
    assert {e.split(":")[0] for e in errors} == {"sed", "epochs", "optimizer.type"}
    with pytest.raises(ConfigError, match="3 errors in the config"):
        parse_config(bad)


def test_file_errors(tmp_path):
    (tmp_path / "syntax.json").write_text('{"problem": "CONVENTIONAL",\n "epochs": }')
    with pytest.raises(ConfigError, match=r"syntax.json: not valid JSON: Expecting value at line 2"):
        load_config(tmp_path / "syntax.json")
    (tmp_path / "dup.json").write_text('{"epochs": 1, "epochs": 2}')
    with pytest.raises(ConfigError, match="dup.json: duplicate key 'epochs'"):
        load_config(tmp_path / "dup.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object at the top level"):
        load_config(tmp_path / "list.json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_config(tmp_path / "missing.json")


def test_file_name_is_default_name_and_dataset_path_is_relative_to_file(tmp_path):
    data = with_(NATIVE, "dataset", "data/x.npy")
    (tmp_path / "exp1.json").write_text(json.dumps(data))
    cfg = load_config(tmp_path / "exp1.json")
    assert cfg.name == "exp1"
    assert cfg.dataset == str(tmp_path / "data" / "x.npy")


def test_bundled_configs_are_valid_and_listed():
    names = bundled_configs()
    assert {"letters", "denoising", "vae", "team_layout"} <= set(names)
    problems = {load_config(n).problem for n in names}
    assert problems == {"CONVENTIONAL", "DENOISING", "VARIATIONAL"}
    assert all(names.values())   # each has a description
    with pytest.raises(FileNotFoundError, match="did you mean 'letters'"):
        bundled_config_path("leters")


def test_letters_config_mirrors_the_letters_recipe():
    from sia_autoencoder import Autoencoder
    from sia_autoencoder.letters import FIT, RECIPE
    from sia_autoencoder.runner import build_model
    cfg = load_config("letters")
    assert build_model(cfg, 35).get_config() == \
        Autoencoder(seed=0, threads=1, **RECIPE).get_config()
    assert (cfg.epochs, cfg.max_wrong_pixels, cfg.updater) == (FIT["epochs"], FIT["max_wrong"], "BATCH")
    assert FIT["batch_size"] is None


def test_a_binary_file_is_a_config_error_naming_the_file(tmp_path):
    from sia_autoencoder.config import ConfigError, load_config
    path = tmp_path / "model.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConfigError, match=r"model\.json.*not UTF-8"):
        load_config(str(path))


@pytest.mark.parametrize("kind, cls, options", [
    ("ADAMW", "AdamW", {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                        "weight_decay": 0.004}),
    ("RMSPROP", "RMSprop", {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7, "weight_decay": 0.0}),
    ("NADAM", "Nadam", {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7,
                        "weight_decay": 0.0}),
    ("ADADELTA", "Adadelta", {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6, "weight_decay": 0.0}),
])
def test_new_optimizers_and_their_defaults(kind, cls, options):
    """Each optimizer type of issue 15, with the defaults of sia_autoencoder.optimizers, in both
    layouts; the model the runner builds uses them."""
    from sia_autoencoder.runner import _optimizer
    cfg = parse_config(with_(NATIVE, "optimizer", {"type": kind.lower()}))
    assert cfg.to_dict()["optimizer"] == {"type": kind, **options}
    opt = _optimizer(cfg)
    assert type(opt).__name__ == cls
    assert opt.learning_rate == options["learning_rate"] and opt.weight_decay == options["weight_decay"]
    assert opt.eps == options["epsilon"]
    team = parse_config(with_(TEAM, "hyperparameters.optimizer", {
        "type": kind, "options": {"learningRate": 0.01, "weightDecay": 0.5}}))
    assert team.learning_rate == 0.01 and team.weight_decay == 0.5
    assert _optimizer(team).weight_decay == 0.5


def test_options_of_other_optimizers_are_refused():
    assert error_of(with_(NATIVE, "optimizer", {"type": "ADAM", "rho": 0.9})) == (
        "optimizer.rho: ADAM takes no rho; its options are learning_rate, beta1, beta2, epsilon, "
        "weight_decay")
    assert error_of(with_(NATIVE, "optimizer", {"type": "SGD", "weight_decay": -1})) == (
        "optimizer.weight_decay: expected a number >= 0, got -1")
