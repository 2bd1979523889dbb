"""Convolutional models end to end: the issue's example, shapes and their errors, weights in
PyTorch's shapes, saving, and the loss and gradient of whole convolutional autoencoders and of
a convolutional VAE against the same networks in PyTorch (float64, relative error <= 1e-10;
skipped without torch)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SIMD_PATHS
from sia_autoencoder import VAE, Autoencoder, _core, layers as L
from test_conv_kernels import torch_forward

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_conv  # noqa: E402  (bench/bench_conv.py: the issue's network)


def unsam():
    return bench_conv.unsam(L)


def test_the_issue_example_runs_and_encodes_to_7x7x32(rng):
    X = rng.random((40, 28, 28)).astype(np.float32)
    encoder, decoder = unsam()
    ae = Autoencoder(encoder=encoder, decoder=decoder, input_shape=(28, 28, 1), seed=0)
    lines = []
    ae.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(28, 28, 32)" in text and "(7, 7, 32)" in text and "28,353" in text
    loss = ae.fit(X, epochs=2, batch_size=16, validation_data=X[:8]).history["loss"]
    assert np.all(np.isfinite(loss)) and loss[1] < loss[0]
    assert ae.encode(X[:5]).shape == (5, 7, 7, 32)
    assert ae.reconstruct(X[:3]).shape == (3, 28, 28)  # the input's shape
    assert ae.reconstruct(X[:3, :, :, None]).shape == (3, 28, 28, 1)
    assert [w.shape for w in ae.get_weights()][:4] == [(32, 1, 3, 3), (32,), (32, 32, 3, 3), (32,)]


@pytest.mark.skipif("avx512" not in SIMD_PATHS, reason="the CPU has no AVX-512")
def test_training_gives_the_same_bits_on_avx512_and_avx2(rng):
    """Fused ReLUs, Winograd, strides 1 and 2 and channel counts that are not multiples of 16
    through the conv kernels of both widths, and one output channel from the image itself
    (Conv2D and Conv2DTranspose, 32 and 16 channels in): a few epochs end on the same weights."""
    X = rng.random((20, 12, 12, 1)).astype(np.float32)

    def run(path):
        old = _core._set_simd_path(path)
        try:
            ae = Autoencoder(encoder=[L.Conv2D(24, 3, padding="same", activation="relu"),
                                      L.Conv2D(24, 3, padding="same", activation="relu"),
                                      L.Conv2D(40, 3, strides=2, padding="same", activation="relu")],
                             decoder=[L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
                                      L.Conv2DTranspose(1, 3, padding="same", activation="relu"),
                                      L.Conv2D(16, 3, padding="same", activation="relu"),
                                      L.Conv2D(1, 3, padding="same", activation="sigmoid")],
                             input_shape=(12, 12, 1), seed=5, threads=2)
            ae.fit(X, epochs=2, batch_size=8)
            return ae.params.copy()
        finally:
            _core._set_simd_path(old)

    assert np.array_equal(run("avx512"), run("avx2"))


def test_training_is_bit_identical_for_a_seed_and_a_thread_count(rng):
    X = rng.random((24, 12, 12, 1)).astype(np.float32)

    def run(threads):
        ae = Autoencoder(encoder=[L.Conv2D(4, 3, strides=2, padding="same", activation="relu")],
                         decoder=[L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")],
                         input_shape=(12, 12, 1), seed=3, threads=threads)
        ae.fit(X, epochs=2, batch_size=8)
        return ae.params.copy()

    assert np.array_equal(run(1), run(1))
    assert np.array_equal(run(2), run(2))


@pytest.mark.parametrize("threads", [1, 2])
def test_predicting_many_images_matches_predicting_them_a_few_at_a_time(rng, threads):
    # D's activations take about 0.6 MB an image: predict runs such a network a few dozen rows
    # at a time (net.c, PREDICT_BYTES), and each row's output must not depend on that cut
    X = rng.random((90, 28, 28, 1)).astype(np.float32)
    encoder, decoder = unsam()
    ae = Autoencoder(encoder=encoder, decoder=decoder, input_shape=(28, 28, 1), seed=0, threads=threads)
    whole = ae.reconstruct(X)
    parts = np.concatenate([ae.reconstruct(X[i:i + 7]) for i in range(0, len(X), 7)])
    assert np.array_equal(whole, parts)
    assert np.array_equal(ae.encode(X), np.concatenate([ae.encode(X[i:i + 1]) for i in range(len(X))]))


def test_weights_move_to_and_from_pytorch_shapes(rng):
    ae = Autoencoder(encoder=[L.Conv2D(3, (2, 3), padding="same", activation="relu")],
                     decoder=[L.Conv2DTranspose(2, 3, padding="same"), L.Conv2D(1, 1, activation="sigmoid")],
                     input_shape=(5, 6, 1), seed=0)
    W = ae.get_weights()
    assert [w.shape for w in W] == [(3, 1, 2, 3), (3,), (3, 2, 3, 3), (2,), (1, 2, 1, 1), (1,)]
    new = [rng.normal(size=w.shape) for w in W]
    ae.set_weights(new)
    for got, want in zip(ae.get_weights(), new):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"layer 1 \(Conv2DTranspose\).*expected shape \(3, 2, 3, 3\)"):
        ae.set_weights([new[0], new[1], new[2].transpose(1, 0, 2, 3), new[3], new[4], new[5]])


def test_a_conv_model_saves_and_loads(tmp_path, rng):
    from sia_autoencoder import io
    encoder, decoder = unsam()
    ae = Autoencoder(encoder=encoder, decoder=decoder, input_shape=(28, 28, 1), seed=1)
    X = rng.random((3, 28, 28, 1)).astype(np.float32)
    path = tmp_path / "conv.npz"
    io.save(ae, str(path))
    back = io.load(str(path))
    assert np.array_equal(back.params, ae.params)
    assert np.array_equal(back.reconstruct(X), ae.reconstruct(X))


@pytest.mark.parametrize("make, message", [
    (lambda: Autoencoder(encoder=[L.Conv2D(4, 5)], decoder=[L.Conv2DTranspose(1, 5)],
                         input_shape=(3, 8, 1)),
     r"layer 0 \(Conv2D\): its kernel 5 is larger than its input's 3 rows \(input \(3, 8, 1\)\)"),
    (lambda: Autoencoder(encoder=[L.MaxPool2D(4)], decoder=[L.UpSampling2D(4)], input_shape=(2, 8)),
     r"layer 0 \(MaxPool2D\): its pool size 4 is larger than its input's 2 rows"),
    (lambda: Autoencoder(encoder=[L.Dense(4)], decoder=[L.Conv2D(1, 3)], input_shape=(16,)),
     r"layer 1 \(Conv2D\): expected an image input \(h, w, c\), got shape \(4,\); put a Reshape"),
    (lambda: Autoencoder(encoder=[L.Conv2D(4, 3, padding="same"), L.MaxPool2D(2)],
                         decoder=[L.UpSampling2D(2), L.Conv2D(1, 3, padding="same")], input_shape=(7, 7, 1)),
     r"layer 3 \(Conv2D\): the decoder's output \(6, 6, 1\) does not match the input shape \(7, 7, 1\)"
     r".*layer 1 \(MaxPool2D\) leaves out the last 1 row and 1 column of its \(7, 7, 4\) input"),
    (lambda: L.Conv2D(0, 3), r"Conv2D: filters must be an integer >= 1, got 0"),
    (lambda: L.Conv2D(4, (3, 0)), r"Conv2D: kernel_size must be an integer >= 1 or a pair"),
    (lambda: L.Conv2DTranspose(4, 3, padding="full"), r"padding must be 'valid' or 'same', got 'full'"),
    (lambda: L.MaxPool2D(2, strides=-1), r"MaxPool2D: strides must be"),
    (lambda: L.UpSampling2D(2, interpolation="bilinear"), r"interpolation must be 'nearest'"),
])
def test_shape_errors_name_the_layer_and_the_shapes(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---- whole networks against PyTorch (float64) ----

def torch_net(torch, net, X, noise=None):
    """The network's forward in torch, layer by layer from its records and its weights
    (internal layouts, as tensors that collect gradients). Returns (output z of the last layer,
    its activation, [parameter tensors in flat order], KL terms)."""
    import torch.nn.functional as F
    a = torch.tensor(X.reshape(X.shape[0], *net.input_shape))
    if a.dim() == 3:
        a = a[..., None]
    tensors, kls, z, eps_at, out_act = [], [], None, 0, None
    for j, layer in enumerate(net.layers):
        geom = net.ints[j, 2:14]
        act, beta = layer.activation.name, layer.activation.beta
        ps = [torch.tensor(v.astype(np.float64), requires_grad=True) for v in layer.views(net.layer_params(layer))]
        tensors += ps
        B = a.shape[0]
        if layer.kind == _core.LAYER_DENSE:
            z = a.reshape(B, -1) @ ps[0].T + ps[1]
        elif layer.kind == _core.LAYER_RESHAPE:
            a = a.reshape(B, *layer.output_shape)
            continue
        elif layer.kind == _core.LAYER_SAMPLE:
            k = layer.output_shape[0]
            mu, logvar = a[:, :k], a[:, k:]
            eps = torch.tensor(noise[eps_at:eps_at + B * k].reshape(B, k))
            eps_at += B * k
            kls.append(-0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar)) / B)
            a = mu + torch.exp(0.5 * logvar) * eps
            continue
        else:
            x = a if a.dim() == 4 else a.reshape(B, *(int(v) for v in geom[:3]))
            z = torch_forward(layer.kind, geom, x, *(ps or [None, None]))
        out_act = layer.activation  # of the last layer that is not a Reshape: the output's
        a = {"relu": F.relu, "tanh": lambda v: torch.tanh(beta * v),
             "logistic": lambda v: torch.sigmoid(2 * beta * v), "linear": lambda v: v}[act](z)
    return z, out_act, tensors, kls


def check_against_torch(model, X, total, grads, noise=None, kl_weight=0.0):
    torch = pytest.importorskip("torch")
    z, out_act, tensors, kls = torch_net(torch, model.net, X, noise)
    B = X.shape[0]
    t = torch.tensor(X.reshape(z.shape))
    u = 2 * out_act.beta * z  # BCE from the logits of logistic(β)
    loss = torch.sum(torch.nn.functional.softplus(u) - t * u) / B + kl_weight * sum(kls)
    loss.backward()
    want = np.concatenate([p.grad.numpy().ravel() for p in tensors])
    assert abs(total - loss.item()) <= 1e-10 * abs(loss.item())
    assert np.max(np.abs(grads - want)) <= 1e-10 * np.max(np.abs(want))


def conv_vae_layers(convs, grid, transposes, size):
    """(make, input shape) of a net of workload F's kinds of layers: two 3 × 3 stride-2 Conv2D
    of `convs` channels, a Dense bottleneck, a Dense to `grid`, two 3 × 3 stride-2
    Conv2DTranspose of `transposes` channels and a stride-1 one to one channel, on size × size."""
    def make():
        return ([L.Conv2D(c, 3, strides=2, padding="same", activation="relu") for c in convs] +
                [L.Flatten(), L.Dense(4, activation="relu")],
                [L.Dense(int(np.prod(grid)), activation="relu"), L.Reshape(grid)] +
                [L.Conv2DTranspose(c, 3, strides=2, padding="same", activation="relu") for c in transposes] +
                [L.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")])
    return make, (size, size, 1)


CONV_NETS = {
    "unsam": (unsam, (28, 28, 1)),
    "strided-dense-transpose": (lambda: (
        [L.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
         L.Conv2D(4, 3, activation="tanh", beta=0.7), L.AveragePooling2D(2), L.Flatten(), L.Dense(2)],
        [L.Dense(36, activation="relu"), L.Reshape((3, 3, 4)),
         L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu"), L.UpSampling2D(2),
         L.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")]), (12, 12, 1)),
    "odd-same-pool-gap": (lambda: (
        [L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
         L.AveragePooling2D(3, strides=2, padding="same"), L.GlobalAveragePooling2D()],
        [L.Dense(49 * 2, activation="sigmoid"), L.Reshape((7, 7, 2))]), (7, 7, 2)),
    # the Keras blog's (workload E): 'same' pools of odd sizes, a 'valid' convolution, one
    # output channel (the dot kernel); convolutions apply their ReLU themselves (fuses_act)
    "keras-blog": (lambda: (
        [L.Conv2D(8, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
         L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
         L.Conv2D(4, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same")],
        [L.Conv2D(4, 3, padding="same", activation="relu"), L.UpSampling2D(2),
         L.Conv2D(4, 3, padding="same", activation="relu"), L.UpSampling2D(2),
         L.Conv2D(8, 3, activation="relu"), L.UpSampling2D(2),
         L.Conv2D(1, 3, padding="same", activation="sigmoid")]), (12, 12, 1)),
    # stride-1 transposed convolutions: the flipped direct forward with its ReLU, dWᵀ tiles
    "transpose-relu": (lambda: (
        [L.Conv2D(8, 3, padding="same", activation="relu")],
        [L.Conv2DTranspose(8, 3, padding="same", activation="relu"),
         L.Conv2DTranspose(4, (3, 2), activation="relu"), L.Conv2D(1, (3, 2), activation="sigmoid")]),
        (6, 7, 1)),
    # workload F's layers, smaller: stride-2 convolutions and transposed convolutions with
    # their ReLU fused forward and backward; din and the transposed forward by their phases
    "conv-vae-layers": conv_vae_layers((8, 16), (3, 3, 16), (16, 8), 12),
    # the same with a Conv2DTranspose wide enough for F(2, 2) on its phases (csrc/winograd2.c,
    # 4 × 4 × 48 -> 8 × 8 × 24, as F's 14 × 14 × 64 -> 28 × 28 × 32) and one that stays direct
    "conv-vae-layers-winograd": conv_vae_layers((8, 16), (4, 4, 48), (24, 8), 16),
    # with a Conv2D (8 × 8 × 32 -> 4 × 4 × 32) and a Conv2DTranspose (4 × 4 × 32 -> 8 × 8 × 32)
    # whose dW goes by F(2, 2) (csrc/winograd2.c, wino2dw_fits), their ReLUs fused backward and
    # the layer below's folded into din as on the direct path
    "conv-vae-layers-winograd-dw": conv_vae_layers((32, 32), (4, 4, 32), (32, 8), 16),
    # one output channel from the image itself, inside the network: its ReLU fused forward
    # (Conv2D and the stride-1 Conv2DTranspose) and backward, and din to one channel
    "one-channel-relu": (lambda: (
        [L.Conv2D(16, 3, padding="same", activation="relu"), L.Conv2D(1, 3, padding="same", activation="relu")],
        [L.Conv2D(8, 3, padding="same", activation="relu"),
         L.Conv2DTranspose(1, 3, padding="same", activation="relu"), L.Conv2D(1, 1, activation="sigmoid")]),
        (9, 14, 1)),
    "valid-stride-transpose": (lambda: (
        [L.Conv2D(3, (3, 2), strides=(2, 1), activation="tanh"), L.Conv2D(5, 2, strides=2)],
        [L.Conv2DTranspose(3, 2, strides=2, activation="relu"),
         L.Conv2DTranspose(2, (3, 2), strides=(2, 1), padding="valid", activation="sigmoid")]), (9, 5, 2)),
}


@pytest.mark.parametrize("name", list(CONV_NETS))
def test_conv_autoencoder_loss_and_gradient_match_pytorch(name):
    make, shape = CONV_NETS[name]
    encoder, decoder = make()
    ae = Autoencoder(encoder=encoder, decoder=decoder, input_shape=shape, dtype="float64", seed=5)
    rng = np.random.default_rng(9)
    ae.set_weights([rng.normal(scale=0.3, size=w.shape) for w in ae.get_weights()])
    X = rng.random((5, *shape))
    total = ae.net.loss(X.reshape(5, -1), X.reshape(5, -1), "bce", grad=True)
    check_against_torch(ae, X, total, ae.net.grads.copy())


@pytest.mark.parametrize("name", ["conv-vae-layers-winograd", "conv-vae-layers-winograd-dw"])
def test_the_winograd_net_takes_the_stride2_transpose_path(name):
    """conv-vae-layers-winograd's first Conv2DTranspose goes by F(2, 2) (other bits than the
    direct path's, the same numbers), and so do the dW of conv-vae-layers-winograd-dw's second
    Conv2D and first Conv2DTranspose: the PyTorch comparison above covers them."""
    make, shape = CONV_NETS[name]
    rng = np.random.default_rng(9)
    X = rng.random((5, *shape)).reshape(5, -1)
    got = []
    for on in (True, False):
        old = _core._set_winograd(on)
        try:
            encoder, decoder = make()
            ae = Autoencoder(encoder=encoder, decoder=decoder, input_shape=shape, dtype="float64", seed=5)
            got.append((ae.net.loss(X, X, "bce", grad=True), ae.net.grads.copy()))
        finally:
            _core._set_winograd(old)
    assert not np.array_equal(got[0][1], got[1][1])
    assert abs(got[0][0] - got[1][0]) <= 1e-12 * abs(got[1][0])
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-9, atol=1e-12)


def test_conv_vae_loss_and_gradient_match_pytorch():
    vae = VAE(encoder=[L.Conv2D(4, 3, strides=2, padding="same", activation="relu"), L.Flatten(),
                       L.Dense(16, activation="tanh")],
              latent_dim=2,
              decoder=[L.Dense(6 * 6 * 4, activation="relu"), L.Reshape((6, 6, 4)),
                       L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")],
              input_shape=(12, 12, 1), dtype="float64", seed=2)
    rng = np.random.default_rng(4)
    X = rng.random((6, 12, 12, 1))
    eps = rng.normal(size=(6, 2))
    total, recon, kl, grads = vae.loss_grad(X, eps, kl_weight=0.8)
    check_against_torch(vae, X, total, grads, noise=eps.ravel(), kl_weight=0.8)
