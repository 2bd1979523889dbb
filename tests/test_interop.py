"""The way out: to_torch (the same outputs, under DistributedDataParallel too), from_torch, and
export_onnx (checked graphs, the same outputs under onnxruntime). The torch tests skip without
torch, the ONNX ones without onnx/onnxruntime (CI installs the onnx extra, so they run there).

Relative errors are max |a − b| / max |b| over the data, as the issue's bounds: float32 outputs
within 1e-6 (torch) and 1e-5 (onnxruntime); float64 models within 1e-12.
"""
import subprocess
import sys

import numpy as np
import pytest

from sia_autoencoder import VAE, Autoencoder, DenoisingAutoencoder, datasets


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def letters():
    X, _ = datasets.load_font()
    ae = Autoencoder([35, 25, 15, 10, 2, 10, 15, 25, 35], activation="tanh", learning_rate=0.01, seed=0)
    ae.fit(X, epochs=300, batch_size=None)
    return ae, X


@pytest.fixture(scope="module")
def emojis_vae():
    X, _ = datasets.load_emojis()
    vae = VAE(encoder=[400, 64, 16], latent_dim=3, activation="relu", seed=0)
    vae.fit(X, epochs=40, batch_size=8)
    return vae, X


def _models64():
    X, _ = datasets.load_font()
    out = []
    for act in ["tanh", ("tanh", 0.7), "relu", "sigmoid", ("logistic", 1.3), "linear"]:
        out.append((Autoencoder([35, 12, 3, 12, 35], activation=act, latent_activation=act,
                                loss="mse", dtype="float64", seed=1), X))
    return out


def test_torch_and_onnx_are_not_imported_by_the_package():
    code = "import sia_autoencoder, sys; print(sorted({'torch', 'onnx', 'onnxruntime'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["torch", "onnx"])
def test_a_missing_package_says_how_to_install_it(monkeypatch, letters, tmp_path, module):
    monkeypatch.setitem(sys.modules, module, None)     # import torch / onnx raises ImportError
    ae, _ = letters
    with pytest.raises(ImportError, match=r"pip install") as exc:
        ae.to_torch() if module == "torch" else ae.export_onnx(tmp_path / "m.onnx")
    assert ("PyTorch" if module == "torch" else "sia_autoencoder[onnx]") in str(exc.value)


# ---- PyTorch ------------------------------------------------------------------------------

def test_to_torch_float32_outputs_within_1e6(letters):
    torch = pytest.importorskip("torch")
    ae, X = letters
    module = ae.to_torch().eval()
    x = torch.from_numpy(X.astype(np.float32))
    with torch.no_grad():
        assert module(x).dtype == torch.float32
        assert rel(module(x).numpy(), ae.reconstruct(X)) <= 1e-6
        assert rel(module.encode(x).numpy(), ae.encode(X)) <= 1e-6
        Z = ae.encode(X)
        assert rel(module.decode(torch.from_numpy(Z)).numpy(), ae.decode(Z)) <= 1e-6
    # the same weights, as copies
    linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    for lin, (W, b) in zip(linears, ae.weights):
        assert np.array_equal(lin.weight.detach().numpy(), W) and np.array_equal(lin.bias.detach().numpy(), b)
    linears[0].weight.data.zero_()
    assert np.abs(ae.weights[0][0]).max() > 0


@pytest.mark.parametrize("model, X", _models64(), ids=["tanh", "tanh0.7", "relu", "sigmoid", "logistic1.3", "linear"])
def test_to_torch_float64_every_activation(model, X):
    torch = pytest.importorskip("torch")
    module = model.to_torch()
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    assert out.dtype == np.float64
    assert rel(out, model.reconstruct(X)) <= 1e-12
    back = Autoencoder.from_torch(module, loss="mse", dtype="float64")
    assert [a for a in back.activations] == [a for a in model.activations]
    assert np.array_equal(back.params, model.params)
    assert back.latent_index == model.latent_index


def test_a_denoising_autoencoder_exports_as_an_autoencoder(letters):
    torch = pytest.importorskip("torch")
    X = letters[1]
    dae = DenoisingAutoencoder([35, 20, 35], activation="relu", noise="bit_flip", noise_level=0.1, seed=0)
    dae.fit(X, epochs=20)
    with torch.no_grad():
        out = dae.to_torch()(torch.from_numpy(X.astype(np.float32))).numpy()
    assert rel(out, dae.reconstruct(X)) <= 1e-6


def test_vae_to_torch_eval_outputs_and_loss(emojis_vae):
    torch = pytest.importorskip("torch")
    vae, X = emojis_vae
    module = vae.to_torch().eval()
    with torch.no_grad():
        recon, mu, logvar = module(torch.from_numpy(X.astype(np.float32)))
    ref_mu, ref_logvar = vae.encode(X, return_logvar=True)
    assert rel(recon.numpy(), vae.reconstruct(X)) <= 1e-6
    assert rel(mu.numpy(), ref_mu) <= 1e-6 and rel(logvar.numpy(), ref_logvar) <= 1e-6
    module.train()
    recon_a, _, _ = module(torch.from_numpy(X.astype(np.float32)))
    recon_b, _, _ = module(torch.from_numpy(X.astype(np.float32)))
    assert not torch.equal(recon_a, recon_b)        # training mode samples z


def test_vae_loss_and_gradient_match_the_package_in_float64():
    torch = pytest.importorskip("torch")
    X = datasets.load_emojis()[0].astype(np.float64)
    vae = VAE(encoder=[400, 32], latent_dim=2, activation="tanh", loss="mse", beta=0.7, dtype="float64", seed=3)
    vae.fit(X, epochs=5, batch_size=8)
    eps = np.random.default_rng(0).standard_normal((len(X), 2))
    total, _, _, grads = vae.loss_grad(X, eps)
    module = vae.to_torch()
    x = torch.from_numpy(X)
    mu, logvar = module.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.from_numpy(eps)
    loss = module.loss(x, (module.decode(z), mu, logvar))
    loss.backward()
    assert abs(loss.item() - total) <= 1e-10 * abs(total)
    flat = np.concatenate([t for lin in module.modules() if isinstance(lin, torch.nn.Linear)
                           for t in (lin.weight.grad.numpy().ravel(), lin.bias.grad.numpy().ravel())])
    assert rel(flat, grads) <= 1e-10


def test_from_torch_round_trip_of_a_vae(emojis_vae):
    pytest.importorskip("torch")
    vae, X = emojis_vae
    back = VAE.from_torch(vae.to_torch())
    assert np.array_equal(back.params, vae.params)
    assert back.latent_dim == vae.latent_dim
    assert np.array_equal(back.reconstruct(X), vae.reconstruct(X))


def test_from_torch_a_plain_sequential():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(35, 16), nn.ReLU(), nn.Linear(16, 2), nn.Linear(2, 16), nn.Tanh(),
                        nn.Linear(16, 35), nn.Sigmoid())
    ae = Autoencoder.from_torch(seq, loss="bce")
    assert ae.layers == [35, 16, 2, 16, 35] and ae.latent_dim == 2
    assert [str(a) for a in ae.activations] == ["relu", "linear", "tanh", "logistic(β=0.5)"]
    X, _ = datasets.load_font()
    with torch.no_grad():
        assert rel(seq(torch.from_numpy(X.astype(np.float32))).numpy(), ae.reconstruct(X)) <= 1e-6
    ae.fit(X, epochs=2)                               # and it trains like any other


def test_from_torch_says_what_it_does_not_know():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with pytest.raises(ValueError, match=r"module 1 \(GELU\): not a layer kind the package knows"):
        Autoencoder.from_torch(nn.Sequential(nn.Linear(8, 2), nn.GELU(), nn.Linear(2, 8)))
    with pytest.raises(ValueError, match="without a bias"):
        Autoencoder.from_torch(nn.Sequential(nn.Linear(8, 2, bias=False), nn.Linear(2, 8)))
    with pytest.raises(ValueError, match="must follow a Linear layer"):
        Autoencoder.from_torch(nn.Sequential(nn.Linear(8, 2), nn.ReLU(), nn.Tanh(), nn.Linear(2, 8)))
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        Autoencoder.from_torch([1, 2])


def test_to_torch_trains_under_distributed_data_parallel(letters, tmp_path):
    """A gloo process group of world size 1: DDP wraps the module, trains it, and the trained
    weights come back with from_torch, predicting what the torch module predicts."""
    torch = pytest.importorskip("torch")
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    ae, X = letters
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        module = ae.to_torch()
        ddp = torch.nn.parallel.DistributedDataParallel(module)
        x = torch.from_numpy(X.astype(np.float32))
        with torch.no_grad():
            assert rel(ddp(x).numpy(), ae.reconstruct(X)) <= 1e-6
        opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
        for _ in range(5):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy(ddp(x), x, reduction="sum") / len(x)
            loss.backward()
            opt.step()
        back = Autoencoder.from_torch(ddp)
        with torch.no_grad():
            assert rel(back.reconstruct(X), module(x).numpy()) <= 1e-6
        assert not np.array_equal(back.params, ae.params)
    finally:
        dist.destroy_process_group()


# ---- ONNX ---------------------------------------------------------------------------------

def _session(path):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_export_onnx_autoencoder(letters, tmp_path):
    onnx = pytest.importorskip("onnx")
    ae, X = letters
    paths = ae.export_onnx(tmp_path / "letters.onnx")
    assert paths == {"model": str(tmp_path / "letters.onnx"),
                     "encoder": str(tmp_path / "letters.encoder.onnx"),
                     "decoder": str(tmp_path / "letters.decoder.onnx")}
    for path in paths.values():
        onnx.checker.check_model(onnx.load(path), full_check=True)
    x = X.astype(np.float32)
    assert rel(_session(paths["model"]).run(None, {"x": x})[0], ae.reconstruct(X)) <= 1e-5
    codes = _session(paths["encoder"]).run(["code"], {"x": x})[0]
    assert rel(codes, ae.encode(X)) <= 1e-5
    Z = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32)
    assert rel(_session(paths["decoder"]).run(None, {"z": Z})[0], ae.decode(Z)) <= 1e-5


def test_export_onnx_vae(emojis_vae, tmp_path):
    pytest.importorskip("onnx")
    vae, X = emojis_vae
    paths = vae.export_onnx(tmp_path / "sub" / "vae")
    x = X.astype(np.float32)
    mu, logvar = _session(paths["encoder"]).run(["mu", "logvar"], {"x": x})
    ref_mu, ref_logvar = vae.encode(X, return_logvar=True)
    assert rel(mu, ref_mu) <= 1e-5 and rel(logvar, ref_logvar) <= 1e-5
    assert rel(_session(paths["model"]).run(None, {"x": x})[0], vae.reconstruct(X)) <= 1e-5
    Z = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    assert rel(_session(paths["decoder"]).run(None, {"z": Z})[0], vae.decode(Z)) <= 1e-5


@pytest.mark.parametrize("model, X", _models64()[:4], ids=["tanh", "tanh0.7", "relu", "sigmoid"])
def test_export_onnx_float64_every_activation(model, X, tmp_path):
    pytest.importorskip("onnx")
    paths = model.export_onnx(tmp_path / "m.onnx", dtype="float64")
    out = _session(paths["model"]).run(None, {"x": X})[0]
    assert out.dtype == np.float64 and rel(out, model.reconstruct(X)) <= 1e-12
    with pytest.raises(ValueError, match="dtype: expected 'float32' or 'float64'"):
        model.export_onnx(tmp_path / "m.onnx", dtype="float16")


# ---- models written as layers ---------------------------------------------------------------

def _layered(dtype="float32"):
    from sia_autoencoder import layers as L
    enc1 = L.Dense(24, "elu", beta=0.8)
    model = Autoencoder(encoder=[L.Flatten(), L.GaussianNoise(0.1), enc1, L.Dropout(0.2), L.Dense(3, "selu")],
                        decoder=[L.Dense(24, "tanh"), L.DenseTranspose(enc1, "sigmoid"), L.Reshape((7, 5))],
                        input_shape=(7, 5), loss="mse", dtype=dtype, seed=0)
    X = datasets.load_font()[0].reshape(-1, 7, 5)
    model.fit(X, epochs=20)
    return model, X


def test_to_torch_of_layers_noise_reshape_and_tied_weights():
    torch = pytest.importorskip("torch")
    model, X = _layered("float64")
    module = model.to_torch().eval()
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    assert out.shape == X.shape                      # images in, images out, as the model
    assert rel(out, model.reconstruct(X)) <= 1e-12
    kinds = [type(m).__name__ for m in module.modules() if not list(m.children())]
    assert kinds == ["Flatten", "GaussianNoise", "Linear", "ELU", "Dropout", "Linear", "SELU",
                     "Linear", "Tanh", "Linear", "Sigmoid", "Reshape"]
    back = Autoencoder.from_torch(module, input_shape=(7, 5), loss="mse")
    assert np.array_equal(back.reconstruct(X), model.reconstruct(X))
    assert [type(layer).__name__ for layer in back.net.layers] == [
        "Flatten", "GaussianNoise", "Dense", "Dropout", "Dense", "Dense", "Dense", "Reshape"]


def test_export_onnx_of_layers(tmp_path):
    pytest.importorskip("onnx")
    model, X = _layered("float32")
    paths = model.export_onnx(tmp_path / "layers.onnx")
    x = X.astype(np.float32)
    out = _session(paths["model"]).run(None, {"x": x})[0]
    assert out.shape == X.shape and rel(out, model.reconstruct(X)) <= 1e-5
    assert rel(_session(paths["encoder"]).run(None, {"x": x})[0], model.encode(X)) <= 1e-5


# ---- convolutional models (Keras's padding through explicit padding and cropping) ----------

def _conv_models():
    from sia_autoencoder import layers as L
    if not hasattr(L, "Conv2D"):
        pytest.skip("this version has no convolutional layers")
    same = Autoencoder(
        encoder=[L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
                 L.Conv2D(3, 3, strides=2, padding="same", activation="tanh"),
                 L.AveragePooling2D(2, padding="same"), L.Flatten(), L.Dense(2)],
        decoder=[L.Dense(7 * 7 * 3, "relu"), L.Reshape((7, 7, 3)), L.UpSampling2D(2),
                 L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
                 L.Conv2D(1, 3, padding="same", activation="sigmoid")],
        input_shape=(28, 28, 1), dtype="float64", loss="mse", seed=0)
    valid = Autoencoder(
        encoder=[L.Conv2D(4, 3, activation="relu"), L.MaxPool2D(2), L.Conv2D(3, 3, strides=2),
                 L.GlobalAveragePooling2D(), L.Dense(2)],
        decoder=[L.Dense(6 * 6 * 3, "relu"), L.Reshape((6, 6, 3)),
                 L.Conv2DTranspose(4, 3, strides=2, activation="relu"), L.UpSampling2D(2),
                 L.Conv2DTranspose(1, 3, activation="sigmoid")],
        input_shape=(28, 28, 1), dtype="float64", loss="mse", seed=0)
    wide = Autoencoder(   # a transposed convolution whose stride exceeds its kernel
        encoder=[L.Conv2D(2, 4, strides=4), L.Flatten(), L.Dense(3)],
        decoder=[L.Dense(4 * 4 * 2), L.Reshape((4, 4, 2)), L.Conv2DTranspose(1, 1, strides=7)],
        input_shape=(28, 28, 1), dtype="float64", loss="mse", seed=0)
    vae = VAE(encoder=[L.Conv2D(4, 3, strides=2, padding="same", activation="relu"), L.Flatten()],
              latent_dim=2, decoder=[L.Dense(14 * 14 * 4, "relu"), L.Reshape((14, 14, 4)),
                                     L.Conv2DTranspose(1, 3, strides=2, padding="same")],
              input_shape=(28, 28, 1), dtype="float64", loss="mse", seed=0)
    return {"same": same, "valid": valid, "wide": wide, "vae": vae}


@pytest.mark.parametrize("name", ["same", "valid", "wide", "vae"])
def test_conv_to_torch(name):
    torch = pytest.importorskip("torch")
    model = _conv_models()[name]
    X = np.random.default_rng(0).random((5, 28, 28, 1))
    module = model.to_torch().eval()
    with torch.no_grad():
        out = module(torch.from_numpy(X))
    out = out[0] if name == "vae" else out
    assert out.shape == X.shape and rel(out.numpy(), model.reconstruct(X)) <= 1e-12
    # float32, as served (outputs in [0, 1] or near: 1e-5 of their scale)
    module32 = module.float()
    with torch.no_grad():
        out32 = module32(torch.from_numpy(X.astype(np.float32)))
    out32 = out32[0] if name == "vae" else out32
    assert rel(out32.numpy(), model.reconstruct(X)) <= 1e-5


@pytest.mark.parametrize("name", ["same", "valid", "wide", "vae"])
def test_conv_export_onnx(name, tmp_path):
    pytest.importorskip("onnx")
    model = _conv_models()[name]
    X = np.random.default_rng(0).random((5, 28, 28, 1))
    paths = model.export_onnx(tmp_path / f"{name}.onnx")
    got = _session(paths["model"]).run(None, {"x": X.astype(np.float32)})[0]
    assert got.shape == X.shape and rel(got, model.reconstruct(X)) <= 1e-5
    Z = model.encode(X)
    got = _session(paths["decoder"]).run(None, {"z": Z.astype(np.float32)})[0]
    assert rel(got, model.decode(Z)) <= 1e-5


@pytest.mark.parametrize("name", ["same", "valid", "wide"])
def test_conv_from_torch_round_trip(name):
    torch = pytest.importorskip("torch")
    model = _conv_models()[name]
    X = np.random.default_rng(1).random((4, 28, 28, 1))
    back = Autoencoder.from_torch(model.to_torch(), loss="mse")
    assert [type(layer).__name__ for layer in back.net.layers] == \
        [type(layer).__name__ for layer in model.net.layers]
    assert np.array_equal(back.params, model.params)
    assert rel(back.reconstruct(X), model.reconstruct(X)) <= 1e-12
    del torch


def test_conv_from_a_plain_pytorch_module():
    """PyTorch's own layout: images (c, h, w) and Flatten in that order; the package's model
    takes the same images channels last and gives the same codes."""
    torch = pytest.importorskip("torch")
    _conv_models()
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 7 * 7, 2), nn.Linear(2, 12), nn.Tanh(),
                        nn.Linear(12, 784), nn.Sigmoid()).double()
    with pytest.raises(ValueError, match="input_shape"):
        Autoencoder.from_torch(net)
    ae = Autoencoder.from_torch(net, input_shape=(28, 28, 1))
    assert ae.latent_dim == 2
    X = np.random.default_rng(2).random((3, 28, 28, 1))
    with torch.no_grad():
        ref = net(torch.from_numpy(X.transpose(0, 3, 1, 2).copy())).numpy()
    assert rel(ae.reconstruct(X).reshape(3, -1), ref) <= 1e-12
    odd = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(784, 2),
                        nn.Linear(2, 784))   # PyTorch pads both sides; Keras's 'same' does not
    with pytest.raises(ValueError, match="is not Keras's 'same'"):
        Autoencoder.from_torch(odd, input_shape=(28, 28, 1))
