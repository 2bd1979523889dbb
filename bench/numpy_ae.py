"""A from-scratch NumPy implementation of the benchmark trainings, the second system of
bench/run_benchmarks.py.

It is written as a careful NumPy user would write it, so that the comparison is fair:
every weight and bias lives in one flat vector (like sia_autoencoder's ``params``), the
gradients in another, and Adam runs once over the flat vectors with in-place operations.
The matrix products write straight into the gradient views with ``out=``.

The math is sia_autoencoder's, in the usual notation:
    dense layer     z = a Wᵀ + b,  W (n_out, n_in)
    activations     tanh(x), sigmoid(x) = 1/(1+exp(−x)), relu(x), linear
    losses          summed over features, averaged over the batch; BCE from the logits
                    (softplus(z) − t z), so dL/dz = (y − t)/B
    Adam            m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;
                    p −= lr m̂ / (√v̂ + ε),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)
The VAE: encoder layers, then two heads μ and log σ² (n_enc → latent each), z = μ + σ ε,
a decoder from z back to the input width, loss = BCE(x, x̂) + KL(N(μ, σ²) ‖ N(0, 1)),
KL = −½ Σ (1 + log σ² − μ² − σ²).
"""
import numpy as np

__all__ = ["Adam", "MLP", "NumpyAutoencoder", "NumpyVAE", "flat_size"]


def flat_size(sizes):
    """Parameters of a dense stack W1, b1, W2, b2, ... with widths ``sizes``."""
    return sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:]))


def _act(name, z, out):
    """out = f(z) for f in tanh, sigmoid, relu, linear; returns out."""
    if name == "tanh":
        return np.tanh(z, out=out)
    if name == "sigmoid":
        np.negative(z, out=out)
        np.exp(out, out=out)
        out += 1
        return np.reciprocal(out, out=out)
    if name == "relu":
        return np.maximum(z, 0, out=out)
    out[...] = z
    return out


def _act_backward(name, dz, y):
    """dz *= f'(x), written from y = f(x)."""
    if name == "tanh":
        dz *= 1 - y * y
    elif name == "sigmoid":
        dz *= y * (1 - y)
    elif name == "relu":
        dz *= y > 0


class Adam:
    """Adam over one flat parameter vector, in place."""

    def __init__(self, p, g, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.p, self.g = p, g
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.m, self.v, self.tmp = np.zeros_like(p), np.zeros_like(p), np.empty_like(p)
        self.t = 0

    def step(self):
        self.t += 1
        m, v, g, tmp = self.m, self.v, self.g, self.tmp
        m *= self.b1
        m += (1 - self.b1) * g
        v *= self.b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.b2
        v += tmp
        c1 = 1 / (1 - self.b1 ** self.t)
        c2 = 1 / (1 - self.b2 ** self.t)
        np.multiply(v, c2, out=tmp)          # v̂
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)            # m / (√v̂ + ε) ...
        tmp *= self.lr * c1                   # ... times lr / (1 − β1^t)
        self.p -= tmp


class MLP:
    """A dense stack over views into the flat vectors ``params`` and ``grads`` (both given),
    with activation buffers for up to ``cap`` rows."""

    def __init__(self, sizes, acts, params, grads, cap):
        self.sizes, self.acts = list(sizes), list(acts)
        self.W, self.b, self.dW, self.db = [], [], [], []
        off = 0
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            self.W.append(params[off:off + n_out * n_in].reshape(n_out, n_in))
            self.dW.append(grads[off:off + n_out * n_in].reshape(n_out, n_in))
            off += n_out * n_in
            self.b.append(params[off:off + n_out])
            self.db.append(grads[off:off + n_out])
            off += n_out
        dt = params.dtype
        self.z = [np.empty((cap, n), dt) for n in sizes[1:]]
        self.a = [np.empty((cap, n), dt) for n in sizes[1:]]

    def forward(self, x):
        """Returns (z, y) of the last layer for x (B, n0); keeps every layer's output."""
        B = x.shape[0]
        self.inp = x
        a = x
        for l, (W, b, name) in enumerate(zip(self.W, self.b, self.acts)):
            z = np.matmul(a, W.T, out=self.z[l][:B])
            z += b
            a = _act(name, z, self.a[l][:B])
        return z, a

    def backward(self, dz, want_dinp=False):
        """dz (B, n_L) = dL/dz of the last layer; writes the gradients (not accumulated).
        Returns dL/dx (B, n0) when want_dinp."""
        L = len(self.W)
        for l in range(L - 1, -1, -1):
            a_prev = self.inp if l == 0 else self.a[l - 1][:dz.shape[0]]
            np.matmul(dz.T, a_prev, out=self.dW[l])
            np.sum(dz, axis=0, out=self.db[l])
            if l == 0 and not want_dinp:
                return None
            da = dz @ self.W[l]
            if l > 0:
                _act_backward(self.acts[l - 1], da, a_prev)
            dz = da
        return dz


class NumpyAutoencoder:
    """The dense autoencoder: weights [(W (n_out, n_in), b), ...] are copied in."""

    def __init__(self, weights, acts, loss, lr=1e-3, dtype=np.float32, cap=1):
        sizes = [weights[0][0].shape[1]] + [W.shape[0] for W, _ in weights]
        self.params = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in weights]).astype(dtype)
        self.grads = np.zeros_like(self.params)
        self.net = MLP(sizes, acts, self.params, self.grads, cap)
        self.loss, self.out_act = loss, acts[-1]
        self.opt = Adam(self.params, self.grads, lr)

    def train_step(self, x, t):
        """One Adam step on the batch x -> t; returns the batch loss."""
        B = x.shape[0]
        z, y = self.net.forward(x)
        if self.loss == "bce":  # from the logits, as sia_autoencoder does with a sigmoid output
            loss = float(np.sum(np.logaddexp(0, z) - t * z)) / B
            dz = (y - t) / B
        else:
            d = y - t
            loss = float(np.sum(d * d)) / B
            dz = d * (2 / B)
            _act_backward(self.out_act, dz, y)
        self.net.backward(dz)
        self.opt.step()
        return loss

    def fit(self, X, epochs, batch):
        """``epochs`` epochs over X -> X in order (no shuffle); returns the last epoch's loss."""
        n = X.shape[0]
        for _ in range(epochs):
            total = 0.0
            for s in range(0, n, batch):
                xb = X[s:s + batch]
                total += self.train_step(xb, xb) * xb.shape[0]
        return total / n


class NumpyVAE:
    """A VAE: encoder stack, heads μ and log σ² (packed as one n_enc -> 2·latent layer: the
    first ``latent`` outputs are μ, the rest log σ²), reparameterization, decoder stack with a
    sigmoid output; BCE + KL, summed over features, averaged over the batch.

    weights: {"encoder": [(W, b), ...], "head": (W, b), "decoder": [(W, b), ...]}.
    """

    def __init__(self, weights, hidden, lr=1e-3, dtype=np.float32, cap=1, seed=0):
        enc, head, dec = weights["encoder"], weights["head"], weights["decoder"]
        parts = enc + [head] + dec
        self.params = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in parts]).astype(dtype)
        self.grads = np.zeros_like(self.params)
        self.latent = head[0].shape[0] // 2
        enc_sizes = [enc[0][0].shape[1]] + [W.shape[0] for W, _ in enc] + [head[0].shape[0]]
        dec_sizes = [dec[0][0].shape[1]] + [W.shape[0] for W, _ in dec]
        n_enc = flat_size(enc_sizes)
        self.encoder = MLP(enc_sizes, [hidden] * len(enc) + ["linear"], self.params[:n_enc],
                           self.grads[:n_enc], cap)
        self.decoder = MLP(dec_sizes, [hidden] * (len(dec) - 1) + ["sigmoid"],
                           self.params[n_enc:], self.grads[n_enc:], cap)
        self.opt = Adam(self.params, self.grads, lr)
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)

    def train_step(self, x):
        B, k = x.shape[0], self.latent
        _, h = self.encoder.forward(x)
        mu, logvar = h[:, :k], h[:, k:]
        sigma = np.exp(0.5 * logvar)
        eps = self.rng.standard_normal((B, k), dtype=self.dtype)
        z = mu + sigma * eps
        logits, y = self.decoder.forward(z)
        recon = float(np.sum(np.logaddexp(0, logits) - x * logits))
        kl = float(-0.5 * np.sum(1 + logvar - mu * mu - sigma * sigma))
        dz = self.decoder.backward((y - x) / B, want_dinp=True)
        dh = np.empty_like(h)
        dh[:, :k] = dz + mu / B                                  # dz/dμ = 1, dKL/dμ = μ
        dh[:, k:] = dz * eps * 0.5 * sigma + 0.5 * (sigma * sigma - 1) / B
        self.encoder.backward(dh)
        self.opt.step()
        return (recon + kl) / B

    def fit(self, X, epochs, batch):
        n = X.shape[0]
        for _ in range(epochs):
            total = 0.0
            for s in range(0, n, batch):
                xb = X[s:s + batch]
                total += self.train_step(xb) * xb.shape[0]
        return total / n
