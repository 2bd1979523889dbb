"""The layer engine (issue 14): one C engine over layer records, one trainer for every model.

- whole networks (dense + reshape, convolutional, a convolutional VAE) against the same network
  in PyTorch on the same weights: loss and gradient, float64, relative error <= 1e-10 (skipped
  without torch);
- the gradient of every layer kind the engine walks (Dropout, GaussianNoise, Sample, tied
  DenseTranspose, activity penalties) against central finite differences;
- shapes inferred at construction with errors naming the layer; records refused by the C glue
  with errors naming the layer; images in and out; weights in PyTorch's shapes; determinism.
"""
import numpy as np
import pytest

from sia_autoencoder import Autoencoder, VAE, _core, layers as L
from sia_autoencoder._net import LayerNet
from sia_autoencoder.callbacks import Callback
from sia_autoencoder.regularizers import L1, L2, KLSparsity


# ---- image layers as records (the engine's side of conv.c and pooling.c) ----
# The user-facing Conv2D classes are the conv module's; these minimal ones give the engine the
# same records (Keras's "valid"/"same" rules) so that a whole convolutional network can be
# checked here.

def _axis(n, k, s, padding, transpose=False):
    """(n_out, pad before) of one axis, as Keras."""
    if transpose:
        out = n * s if padding == "same" else n * s + max(k - s, 0)
        return out, max((n - 1) * s + k - out, 0) // 2
    if padding == "valid":
        return (n - k) // s + 1, 0
    out = -(-n // s)
    return out, max((out - 1) * s + k - n, 0) // 2


class _Image(L.Layer):
    def __init__(self, kind, filters=None, k=3, s=1, padding="valid", activation=None):
        super().__init__(activation)
        self.kind, self.filters, self.k, self.s, self.padding = kind, filters, k, s, padding

    def build(self, shape):
        h, w, c = shape
        k, s = self.k, self.s
        if self.kind == _core.LAYER_UPSAMPLE:
            out, self.pad = (h * k, w * k, c), (0, 0)
        else:
            t = self.kind == _core.LAYER_CONV2D_T
            (oh, pt), (ow, pl) = _axis(h, k, s, self.padding, t), _axis(w, k, s, self.padding, t)
            out, self.pad = (oh, ow, self.filters or c), (pt, pl)
        self.in_c = c
        return self._set(shape, out)

    @property
    def n_params(self):
        if self.kind not in (_core.LAYER_CONV2D, _core.LAYER_CONV2D_T):
            return 0
        return self.filters * (self.k * self.k * self.in_c + 1)

    def views(self, params):
        k, ci, co = self.k, self.in_c, self.filters
        nW = k * k * ci * co
        shape = (co, k, k, ci) if self.kind == _core.LAYER_CONV2D else (ci, k, k, co)
        return [params[:nW].reshape(shape), params[nW:nW + co]]

    def init(self, rng, params):
        params[...] = rng.uniform(-0.5, 0.5, size=params.shape)

    def torch_weights(self, params):
        if not self.n_params:
            return []
        W, b = self.views(params)
        return [W.transpose(0, 3, 1, 2).copy(), b.copy()]  # (out|in, in|out, kh, kw)

    def record_fields(self):
        k, s = (self.k, self.s) if self.kind != _core.LAYER_UPSAMPLE else (self.k, 1)
        return dict(kernel=(k, k), strides=(s, s), pad=self.pad, tied=-1, rate=0.0)

    def get_config(self):
        return {}


def conv(filters, k=3, s=1, padding="same", activation="tanh"):
    return _Image(_core.LAYER_CONV2D, filters, k, s, padding, activation)


def conv_t(filters, k=3, s=2, padding="same", activation="tanh"):
    return _Image(_core.LAYER_CONV2D_T, filters, k, s, padding, activation)


def maxpool(k=2):
    return _Image(_core.LAYER_MAXPOOL, None, k, k, "valid")


def upsample(k=2):
    return _Image(_core.LAYER_UPSAMPLE, None, k, 1, "valid")


# ---- the same network in PyTorch ----

def torch_forward(torch, net, x, eps=None):
    """net's forward in torch (float64, NCHW inside, NHWC at the reshapes): returns the logits
    of the output layer and the list of [μ | logvar] of its Sample layers."""
    F = torch.nn.functional
    params = [torch.tensor(a, requires_grad=True) for layer in net.layers
              for a in layer.torch_weights(net.layer_params(layer))]
    it = iter(params)
    acts = {"linear": lambda v: v, "tanh": torch.tanh, "relu": F.relu}
    h = x  # (B, *input_shape), channels last
    heads = []
    for j, layer in enumerate(net.layers):
        kind = layer.kind
        last = j == net.L - 1 or all(x.kind == _core.LAYER_RESHAPE for x in net.layers[j + 1:])
        if kind == _core.LAYER_RESHAPE:
            h = h.reshape((h.shape[0],) + tuple(layer.output_shape))
            continue
        if kind == _core.LAYER_DENSE:
            W, b = next(it), next(it)
            z = h.reshape(h.shape[0], -1) @ W.T + b
        elif kind == _core.LAYER_SAMPLE:
            heads.append(h)
            k = layer.output_shape[0]
            z = h[:, :k] + torch.exp(0.5 * h[:, k:]) * eps
        else:
            ih, iw, _ = layer.input_shape
            oh, ow, _ = layer.output_shape
            xin = h.permute(0, 3, 1, 2)
            k, s = layer.k, layer.s
            if kind == _core.LAYER_CONV2D:
                W, b = next(it), next(it)
                pt, pl = layer.pad
                pb = (oh - 1) * s + k - ih - pt
                pr = (ow - 1) * s + k - iw - pl
                zc = F.conv2d(F.pad(xin, (pl, max(pr, 0), pt, max(pb, 0))), W, b, stride=s)
                zc = zc[:, :, :oh, :ow]
            elif kind == _core.LAYER_CONV2D_T:
                W, b = next(it), next(it)
                full = F.conv_transpose2d(xin, W, b, stride=s)
                pt, pl = layer.pad
                zc = full[:, :, pt:pt + oh, pl:pl + ow]
            elif kind == _core.LAYER_MAXPOOL:
                zc = F.max_pool2d(xin, k, k)
            else:  # nearest upsampling
                zc = xin.repeat_interleave(k, 2).repeat_interleave(k, 3)
            z = zc.permute(0, 2, 3, 1)
        act = layer.activation
        if last:
            h = z  # the logits: the loss takes them (BCE with a logistic output)
            assert act.name == "logistic" and act.beta == 0.5
        else:
            h = acts[act.name](z) if act.name != "logistic" else torch.sigmoid(2 * act.beta * z)
    return h, heads, params


def torch_loss_grad(torch, net, X, eps=None, kl_weight=1.0):
    x = torch.tensor(X.reshape((X.shape[0],) + tuple(net.input_shape)))
    t = torch.tensor(X.reshape(X.shape[0], -1))
    e = None if eps is None else torch.tensor(eps)
    logits, heads, params = torch_forward(torch, net, x, e)
    B = X.shape[0]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits.reshape(B, -1), t, reduction="sum") / B
    for h in heads:
        k = h.shape[1] // 2
        mu, lv = h[:, :k], h[:, k:]
        loss = loss + kl_weight * (-0.5 * (1 + lv - mu ** 2 - torch.exp(lv)).sum() / B)
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in params]


def engine_loss_grad(net, X, eps=None, kl_weight=1.0):
    X2 = np.ascontiguousarray(X.reshape(X.shape[0], -1))
    total = net.loss_terms(X2, X2, "bce", grad=True, noise=None if eps is None else eps.ravel(),
                           kl_weight=kl_weight)[0]
    grads = [a for layer in net.layers for a in layer.torch_weights(net.grads[layer.off:layer.off + layer.n_params]
                                                                    if layer.n_params else net.grads[:0])]
    return total, grads


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def built(layers, input_shape, seed=0):
    net = LayerNet(layers, input_shape, np.float64)
    net.init(np.random.default_rng(seed))
    return net


def compare_with_torch(net, X, eps=None):
    torch = pytest.importorskip("torch")
    ours, g_ours = engine_loss_grad(net, X, eps)
    theirs, g_theirs = torch_loss_grad(torch, net, X, eps)
    assert abs(ours - theirs) <= 1e-10 * abs(theirs)
    assert len(g_ours) == len(g_theirs) > 0
    for a, b in zip(g_ours, g_theirs):
        assert a.shape == b.shape
        assert rel_err(a, b) <= 1e-10, rel_err(a, b)
    return ours


def test_torch_dense_reshape_autoencoder():
    net = built([L.Flatten(), L.Dense(10, "tanh"), L.Dense(2), L.Dense(10, "relu"),
                 L.Dense(36, "sigmoid"), L.Reshape((6, 6))], (6, 6))
    X = np.random.default_rng(1).random((7, 6, 6))
    compare_with_torch(net, X)


def test_torch_convolutional_autoencoder():
    """Stride 1 and 2, 'same' with the odd padding at the bottom and right, a pool, a dense
    code, transposed convolutions and upsampling."""
    net = built([conv(3, 3, 1), maxpool(2), conv(4, 3, 2), L.Flatten(), L.Dense(2),
                 L.Dense(2 * 2 * 4, "tanh"), L.Reshape((2, 2, 4)), conv_t(3, 3, 2), upsample(2),
                 conv(1, 3, 1, activation="sigmoid")], (8, 8, 1), seed=2)
    assert net.layers[2].pad == (0, 0) and net.output_shape == (8, 8, 1)
    X = np.random.default_rng(3).random((5, 8, 8, 1))
    compare_with_torch(net, X)


def relu_fold_net(penalty=True):
    """ReLU convolutions under a pool (odd input: its last row and column in no window) and an
    upsampling, whose backward fold the ReLU's gradient into din (pooling.c); with penalty, an
    L2 penalty on one ReLU layer, where the engine keeps its own pass."""
    reg = (L.Conv2D(2, 3, padding="same", activation="relu", activity_regularizer=L2(0.1)) if penalty
           else conv(2, 3, 1, activation="relu"))
    return built([conv(4, 3, 1, activation="relu"), maxpool(2), conv(3, 3, 1, activation="relu"),
                  upsample(2), conv_t(2, 2, 1, "valid", "relu"), maxpool(1), reg, upsample(1),
                  conv(2, 3, 1, activation="relu"), upsample(1),
                  conv(1, 3, 1, activation="sigmoid")], (9, 9, 1), seed=9)


def test_torch_relu_folded_into_pool_and_upsampling_backward():
    net = relu_fold_net(penalty=False)
    assert net.output_shape == (9, 9, 1)
    X = np.random.default_rng(10).random((4, 9, 9, 1))
    compare_with_torch(net, X)


def test_torch_convolutional_vae():
    net = built([conv(3, 3, 2), L.Flatten(), L.Dense(6, "tanh"), L.Dense(4), L.Sample(),
                 L.Dense(3 * 3 * 2, "tanh"), L.Reshape((3, 3, 2)), conv_t(2, 3, 2, "valid"),
                 conv(1, 3, 1, "same", "sigmoid"), L.Reshape((7, 7))], (7, 7, 1), seed=4)
    assert net.output_shape == (7, 7)
    X = np.random.default_rng(5).random((6, 7, 7))
    eps = np.random.default_rng(6).standard_normal((6, 2))
    compare_with_torch(net, X, eps)


# ---- every kind's gradient against finite differences (float64) ----

def check_fd(net, X, noise, kl_weight=0.7, loss="bce", n_dirs=4, seed=0):
    X2 = np.ascontiguousarray(X.reshape(X.shape[0], -1))
    f = lambda: net.loss_terms(X2, X2, loss, noise=noise, kl_weight=kl_weight)[0]  # noqa: E731
    net.loss_terms(X2, X2, loss, grad=True, noise=noise, kl_weight=kl_weight)
    g = net.grads.copy()
    p0 = net.params.copy()
    r = np.random.default_rng(seed)
    for _ in range(n_dirs):
        d = r.standard_normal(p0.size)
        h = 1e-6
        net.params[:] = p0 + h * d
        up = f()
        net.params[:] = p0 - h * d
        down = f()
        net.params[:] = p0
        fd = (up - down) / (2 * h)
        assert abs(fd - g @ d) <= 1e-6 * max(1.0, abs(fd)), (fd, g @ d)


def test_gradients_of_noise_sample_and_tied_layers():
    r = np.random.default_rng(0)
    enc = L.Dense(6, "tanh")
    layers = [L.Dropout(0.3), enc, L.GaussianNoise(0.5), L.Dense(4), L.Sample(), L.Dense(6, "tanh"),
              L.DenseTranspose(enc, activation="sigmoid")]
    net = built(layers, (9,))
    assert layers[-1].n_params == 9 and net.ints[6, 16] == enc.off  # b only; W is enc's
    X = r.random((5, 9))
    noise = np.concatenate([np.where(r.random(5 * 9) < 0.3, 0.0, 1 / 0.7),  # dropout multipliers
                            0.5 * r.standard_normal(5 * 6),                  # σ ε
                            r.standard_normal(5 * 2)])                       # the sample's ε
    check_fd(net, X, noise)
    check_fd(net, X, None)  # the deterministic forward: identity layers, z = μ


def test_gradients_with_the_relu_folded_into_pool_and_upsampling():
    net = relu_fold_net()
    check_fd(net, np.random.default_rng(11).random((3, 9, 9, 1)), None)


def conv_fold_net():
    """Convolutions right above ReLU layers (conv_vae's decoder in small): each folds the ReLU
    below it into its din, across a Reshape too (the Dense under the first Conv2DTranspose)."""
    return built([conv(8, 3, 2, "same", "relu"), conv(8, 3, 2, "same", "relu"), L.Flatten(),
                  L.Dense(5, "relu"), L.Dense(2 * 2 * 8, "relu"), L.Reshape((2, 2, 8)),
                  conv_t(8, 3, 2, "same", "relu"), conv_t(8, 3, 2, "same", "relu"),
                  conv_t(1, 3, 1, "same", "sigmoid")], (8, 8, 1), seed=12)


def test_gradients_with_the_relu_folded_into_conv_backward():
    check_fd(conv_fold_net(), np.random.default_rng(13).random((3, 8, 8, 1)), None)


def test_torch_relu_folded_into_conv_backward():
    net = conv_fold_net()
    assert net.output_shape == (8, 8, 1)
    compare_with_torch(net, np.random.default_rng(14).random((4, 8, 8, 1)))


@pytest.mark.parametrize("reg", [L1(0.05), L2(0.1), KLSparsity(0.2, 0.3)])
def test_gradients_of_activity_penalties(reg):
    X = np.random.default_rng(1).random((6, 5))
    net = built([L.Dense(4, "sigmoid", activity_regularizer=reg), L.Dense(5, "sigmoid",
                 activity_regularizer=L2(0.01))], (5,))
    check_fd(net, X, None)
    X2 = X.copy()
    total, recon, kl, pen = net.loss_terms(X2, X2, "bce")
    a = 1 / (1 + np.exp(-(X @ net.weights[0][0].T + net.weights[0][1])))
    y = 1 / (1 + np.exp(-(a @ net.weights[1][0].T + net.weights[1][1])))
    want = reg.penalty(a) + L2(0.01).penalty(y)
    assert pen == pytest.approx(want, rel=1e-12) and total == pytest.approx(recon + pen, rel=1e-15)
    assert kl == 0


# ---- models built from layers ----

def test_shape_errors_name_the_layer():
    # images into a first Dense layer are flattened (issue 15's example, as the dense notation)
    ae = Autoencoder(encoder=[L.Dense(3)], decoder=[L.Dense(64)], input_shape=(8, 8, 1))
    assert ae.reconstruct(np.zeros((2, 8, 8, 1))).shape == (2, 8, 8, 1)
    with pytest.raises(ValueError, match=r"layer 1 \(Dense\): expected a flat input \(n,\), got shape "
                                         r"\(8, 8\); put a Flatten\(\) before it"):
        Autoencoder(encoder=[L.Reshape((8, 8)), L.Dense(3)], decoder=[L.Dense(64)],
                    input_shape=(64,))
    with pytest.raises(ValueError, match=r"layer 3 \(Reshape\): cannot reshape \(64,\) \(64 values\) "
                                         r"to \(7, 7, 1\) \(49 values\)"):
        Autoencoder(encoder=[L.Flatten(), L.Dense(2)], decoder=[L.Dense(64), L.Reshape((7, 7, 1))],
                    input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match=r"layer 3 \(Dense\): the decoder's output \(5,\) does not "
                                         r"match the input shape \(8, 8, 1\)"):
        Autoencoder(encoder=[L.Flatten(), L.Dense(4)], decoder=[L.Dense(4), L.Dense(5)],
                    input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match=r"input_shape: a network given as layers needs"):
        Autoencoder(encoder=[L.Dense(3)], decoder=[L.Dense(5)])
    with pytest.raises(ValueError, match=r"layer 1 \(Sample\): expected an even width"):
        LayerNet([L.Dense(3), L.Sample()], (4,), np.float64)


def test_the_glue_refuses_bad_records_naming_the_layer():
    net = built([L.Dense(4, "tanh"), L.Dense(3)], (3,))
    X, out = np.zeros((2, 3)), np.zeros((2, 3))
    cases = [((1, 1), 99, r"layers\[1\] \(Dense\): act: expected a code in \[0, \d+\), got 99"),
             ((1, 2), 5, r"layers\[1\] \(Dense\): expected the input shape \(1, 1, 4\) of the layer "
                         r"before it, got \(5, 1, 4\)"),
             ((0, 14), 10**6, r"layers\[0\] \(Dense\): off: expected an offset of its parameters"),
             ((1, 15), 7, r"layers\[1\] \(Dense\): n_params: expected 15, got 7"),
             ((0, 0), 77, r"layers\[0\] \(unknown kind\): kind: expected a code"),
             ((1, 9), 2, r"layers\[1\] \(Dense\): kernel, strides, padding: expected \(1, 1\)")]
    for (j, c), value, pattern in cases:
        ints = net.ints.copy()
        ints[j, c] = value
        with pytest.raises(ValueError, match=pattern):
            _core.net_predict(ints, net.reals, net.params, out, X, 0, 2)
    reals = net.reals.copy()
    reals[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"layers\[0\] \(Dense\): beta: expected a finite number > 0"):
        _core.net_predict(net.ints, reals, net.params, out, X, 0, 2)
    with pytest.raises(ValueError, match=r"noise: expected length 0, got 3"):
        _core.net_loss_grad(net.ints, net.reals, net.params, None, X, X, np.zeros(3), 1, 0.0)


def test_images_in_and_out_for_dense_and_layer_models():
    X = np.random.default_rng(0).random((20, 6, 6))
    dense = Autoencoder([36, 8, 2, 8, 36], seed=0)          # the dense notation, given images
    h = dense.fit(X, epochs=3, batch_size=5)
    assert dense.reconstruct(X).shape == (20, 6, 6) and dense.encode(X).shape == (20, 2)
    flat = Autoencoder([36, 8, 2, 8, 36], seed=0)
    h2 = flat.fit(X.reshape(20, 36), epochs=3, batch_size=5)  # the same run on the rows
    assert h.history["loss"] == h2.history["loss"]
    assert np.array_equal(dense.reconstruct(X).reshape(20, 36), flat.reconstruct(X.reshape(20, 36)))
    with pytest.raises(ValueError, match=r"X: expected a 2-D array \(n_samples, 36\) or samples of "
                                         r"36 values .*got shape \(20, 5, 5\)"):
        dense.fit(X[:, :5, :5])
    ae = Autoencoder(encoder=[L.Flatten(), L.Dense(8, "tanh"), L.Dense(2)],
                     decoder=[L.Dense(8, "tanh"), L.Dense(36, "sigmoid"), L.Reshape((6, 6, 1))],
                     input_shape=(6, 6, 1), seed=0)
    ae.fit(X, epochs=2)
    assert ae.reconstruct(X).shape == (20, 6, 6)                 # X's own shape
    assert ae.reconstruct(X[..., None]).shape == (20, 6, 6, 1)
    assert ae.decode(np.zeros((3, 2))).shape == (3, 6, 6, 1)     # the model's input shape
    v = VAE(encoder=[L.Flatten(), L.Dense(8, "tanh")], latent_dim=2,
            decoder=[L.Dense(8, "tanh"), L.Dense(36, "sigmoid")], input_shape=(6, 6), seed=0)
    hv = v.fit(X, epochs=2)
    assert set(hv.history) >= {"loss", "reconstruction_loss", "kl_loss"}
    assert v.reconstruct(X).shape == (20, 6, 6) and v.encode(X).shape == (20, 2)


def test_one_list_of_layers_finds_its_code():
    ae = Autoencoder(layers=[L.Dense(8, "relu"), L.Dense(2), L.Dense(8, "relu"), L.Dense(16, "sigmoid")],
                     input_shape=(16,), seed=0)
    assert ae.latent_index == 2 and ae.encode(np.zeros((3, 16))).shape == (3, 2)
    assert Autoencoder(**ae.get_config()).latent_index == 2
    with pytest.raises(ValueError, match=r"the narrowest inner output \(4 values\) comes after layers "
                                         r"\[0, 1\]; pass latent_index="):
        Autoencoder(layers=[L.Dense(4), L.Dense(4), L.Dense(16)], input_shape=(16,))


def test_summary_shows_output_shapes_and_parameters():
    ae = Autoencoder(encoder=[L.Flatten(), L.Dense(8, "relu"), L.Dropout(0.2), L.Dense(2)],
                     decoder=[L.Dense(36, "sigmoid"), L.Reshape((6, 6, 1))], input_shape=(6, 6, 1))
    lines = []
    ae.summary(print_fn=lines.append)
    text = lines[0]
    assert "flatten_1" in text and "(36,)" in text and "dense_2 (latent)" in text
    assert "reshape_1 (output)" in text and "(6, 6, 1)" in text and "rate 0.2" in text
    assert f"Total params: {ae.n_params:,}" in text and ae.n_params == 36 * 8 + 8 + 18 + 3 * 36


def test_weights_in_torch_shapes_round_trip():
    ae = Autoencoder([6, 4, 2, 4, 6], seed=0)
    ws = ae.get_weights()
    assert [w.shape for w in ws] == [(4, 6), (4,), (2, 4), (2,), (4, 2), (4,), (6, 4), (6,)]
    assert np.array_equal(ws[0], ae.weights[0][0]) and not np.shares_memory(ws[0], ae.params)
    other = Autoencoder([6, 4, 2, 4, 6], seed=1)
    other.set_weights(ws)
    assert np.array_equal(other.params, ae.params)
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\): array 0: expected shape \(4, 6\), got \(6, 4\)"):
        other.set_weights([ws[0].T] + ws[1:])
    with pytest.raises(ValueError, match=r"weights: expected 8 arrays, got 7"):
        other.set_weights(ws[:7])
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(6, 4)
    assert tuple(lin.weight.shape) == ws[0].shape   # PyTorch's (out, in)


class _Quiet(Callback):
    pass


def test_stochastic_layers_are_seeded_and_off_outside_training():
    X = np.random.default_rng(0).random((24, 10))

    def make(threads=1):
        return Autoencoder(encoder=[L.GaussianNoise(0.1), L.Dense(6, "relu"), L.Dropout(0.5), L.Dense(2)],
                           decoder=[L.Dense(6, "tanh"), L.Dense(10, "sigmoid")], input_shape=(10,),
                           seed=3, threads=threads)
    a, b, c = make(), make(), make()
    ha = a.fit(X, epochs=4, batch_size=8)
    hb = b.fit(X, epochs=4, batch_size=8, callbacks=[_Quiet()])   # one C call per epoch
    c.fit(X, epochs=1, batch_size=8)
    c.fit(X, epochs=3, batch_size=8)
    assert ha.history["loss"] == hb.history["loss"]
    assert np.array_equal(a.params, b.params) and np.array_equal(a.params, c.params)
    # outside training both are the identity: a deterministic, noise-free prediction
    assert np.array_equal(a.reconstruct(X), a.reconstruct(X))
    twin = Autoencoder(encoder=[L.Dense(6, "relu"), L.Dense(2)],
                       decoder=[L.Dense(6, "tanh"), L.Dense(10, "sigmoid")], input_shape=(10,))
    twin.set_weights(a.get_weights())
    assert np.array_equal(twin.reconstruct(X), a.reconstruct(X))
    assert twin.evaluate(X) == a.evaluate(X)
    # data-parallel parts read their rows of the step's numbers: 2 threads are reproducible too,
    # however the epochs are split
    d, e = make(threads=2), make(threads=2)
    hd = d.fit(X, epochs=4, batch_size=8)
    e.fit(X, epochs=2, batch_size=8, callbacks=[_Quiet()])
    e.fit(X, epochs=2, batch_size=8)
    assert np.isfinite(hd.history["loss"]).all() and np.array_equal(d.params, e.params)
    # and in training they act: without them the same weights take other steps
    plain = Autoencoder(encoder=[L.Dense(6, "relu"), L.Dense(2)],
                        decoder=[L.Dense(6, "tanh"), L.Dense(10, "sigmoid")], input_shape=(10,),
                        seed=3)
    assert np.array_equal(plain.params, make().params)
    plain.fit(X, epochs=1, batch_size=8)
    f = make()
    f.fit(X, epochs=1, batch_size=8)
    assert not np.array_equal(plain.params, f.params)


def test_layer_models_save_and_load(tmp_path):
    import sia_autoencoder as sa
    X = np.random.default_rng(0).random((12, 4, 4))
    enc = L.Dense(5, "tanh", activity_regularizer=L1(0.01))
    ae = Autoencoder(encoder=[L.Flatten(), enc, L.Dropout(0.1), L.Dense(2)],
                     decoder=[L.Dense(5, "tanh"), L.DenseTranspose(enc, "sigmoid"), L.Reshape((4, 4))],
                     input_shape=(4, 4), seed=0)
    ae.fit(X, epochs=2)
    back = sa.load(ae.save(tmp_path / "m.npz"))
    assert np.array_equal(back.reconstruct(X), ae.reconstruct(X))
    assert back.net.layers[5].of is back.net.layers[1]
    assert back.net.layers[1].activity_regularizer == L1(0.01)
    v = VAE(encoder=[L.Flatten(), L.Dense(6, "relu")], latent_dim=2,
            decoder=[L.Dense(16, "sigmoid"), L.Reshape((4, 4))], input_shape=(4, 4), seed=1)
    v.fit(X, epochs=2)
    back = sa.load(v.save(tmp_path / "v.npz"))
    assert np.array_equal(back.reconstruct(X), v.reconstruct(X))


# ---- the engine against its NumPy twin, from the records ----

@pytest.mark.parametrize("case", ["noise_sample_tied", "penalties", "images", "relu_folds"])
def test_engine_matches_its_numpy_twin(case):
    import twins
    r = np.random.default_rng(7)
    if case == "noise_sample_tied":
        enc = L.Dense(6, "tanh")
        layers = [L.Dropout(0.3), enc, L.GaussianNoise(0.5), L.Dense(4), L.Sample(),
                  L.Dense(6, "relu"), L.DenseTranspose(enc, activation="sigmoid")]
        shape = (9,)
    elif case == "penalties":
        layers = [L.Dense(5, "sigmoid", activity_regularizer=KLSparsity(0.2, 0.3)),
                  L.Dense(4, "tanh", activity_regularizer=L1(0.02)), L.Dense(6, "sigmoid",
                  activity_regularizer=L2(0.05))]
        shape = (6,)
    elif case == "relu_folds":
        layers = None
        shape = (9, 9, 1)
    else:
        layers = [conv(3, 3, 2), maxpool(2), L.Flatten(), L.Dense(4), L.Sample(),
                  L.Dense(2 * 2 * 3, "tanh"), L.Reshape((2, 2, 3)), upsample(2),
                  conv_t(2, 3, 2), conv(1, 3, 1, activation="sigmoid")]
        shape = (8, 8, 1)
    net = built(layers, shape, seed=8) if layers else relu_fold_net()
    X = r.random((5,) + shape).reshape(5, -1)
    noise = r.standard_normal(5 * net.noise_cols) if net.noise_cols else None
    if case == "noise_sample_tied":
        noise[:5 * 9] = np.where(r.random(5 * 9) < 0.3, 0.0, 1 / 0.7)
    for loss in ("bce", "mse"):
        got = net.loss_terms(X, X, loss, grad=True, noise=noise, kl_weight=0.6)
        want, g = twins.layer_net_loss_grad(net.ints, net.reals, net.params, X, X,
                                            _core.BCE if loss == "bce" else _core.MSE, noise, 0.6)
        assert np.allclose(got, want, rtol=1e-12, atol=0)
        assert rel_err(net.grads, g) <= 1e-12
