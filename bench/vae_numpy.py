"""A straightforward NumPy VAE: the oracle of tests/test_vae.py and the baseline of bench_vae.py.

Same architecture, parameter layout, loss conventions and Adam as the C core (csrc/vae.c), written
as the math reads: an encoder stack ending in [μ | logvar], z = μ + exp(½ s) ε with
s = clip(logvar, −30, 20), a decoder stack, loss = recon + w·KL (recon summed over features and
both averaged over the batch).

``Xoshiro`` replays the C generator (xoshiro256**, Box-Muller, Lemire, Fisher-Yates) in pure
Python, so a test can draw exactly the sample order and ε that the C training loop draws.
"""
import numpy as np

LINEAR, LOGISTIC, TANH, RELU = 0, 1, 2, 3
MSE, BCE = 0, 1
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
BCE_EPS = 1e-7
MASK64 = (1 << 64) - 1


# ---- activations: f and f' written from y = f(x) ----

def act_forward(x, kind, beta):
    if kind == LOGISTIC:
        return 1.0 / (1.0 + np.exp(-2.0 * beta * x))
    if kind == TANH:
        return np.tanh(beta * x)
    if kind == RELU:
        return np.maximum(x, 0)
    return x


def act_grad(y, kind, beta):
    if kind == LOGISTIC:
        return 2.0 * beta * y * (1.0 - y)
    if kind == TANH:
        return beta * (1.0 - y * y)
    if kind == RELU:
        return (y > 0).astype(y.dtype)
    return np.ones_like(y)


# ---- the VAE's own pieces ----

def split(h):
    """h (B, 2k) -> μ, logvar (B, k) each."""
    k = h.shape[1] // 2
    return h[:, :k], h[:, k:]


def reparam_forward(h, eps):
    mu, lv = split(h)
    return mu + np.exp(0.5 * np.clip(lv, LOGVAR_MIN, LOGVAR_MAX)) * eps


def reparam_backward(dz, h, eps):
    """dL/dh (B, 2k) from dL/dz."""
    mu, lv = split(h)
    inside = (lv >= LOGVAR_MIN) & (lv <= LOGVAR_MAX)
    dlv = np.where(inside, dz * eps * 0.5 * np.exp(0.5 * np.clip(lv, LOGVAR_MIN, LOGVAR_MAX)), 0)
    return np.concatenate([dz, dlv], axis=1)


def kl_forward(h):
    mu, lv = split(h)
    s = np.clip(lv, LOGVAR_MIN, LOGVAR_MAX)
    return float(np.sum(-0.5 * (1 + s - mu ** 2 - np.exp(s)))) / h.shape[0]


def kl_backward(h, weight=1.0):
    """weight · dKL/dh (B, 2k)."""
    mu, lv = split(h)
    inside = (lv >= LOGVAR_MIN) & (lv <= LOGVAR_MAX)
    s = np.clip(lv, LOGVAR_MIN, LOGVAR_MAX)
    g = weight / h.shape[0]
    return np.concatenate([g * mu, np.where(inside, g * 0.5 * (np.exp(s) - 1), 0)], axis=1)


def recon_forward(z, y, t, loss, kind, beta):
    B = y.shape[0]
    if loss == MSE:
        return float(np.sum((y - t) ** 2)) / B
    if kind == LOGISTIC:
        u = 2.0 * beta * z
        return float(np.sum(np.logaddexp(0, u) - t * u)) / B
    yc = np.clip(y, BCE_EPS, 1 - BCE_EPS)
    return float(-np.sum(t * np.log(yc) + (1 - t) * np.log(1 - yc))) / B


def recon_backward(z, y, t, loss, kind, beta):
    """dL/dz of the output layer."""
    B = y.shape[0]
    if loss == MSE:
        return 2 * (y - t) / B * act_grad(y, kind, beta)
    if kind == LOGISTIC:
        return 2 * beta * (y - t) / B
    inside = (y >= BCE_EPS) & (y <= 1 - BCE_EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (y - t) / (y * (1 - y)) / B * act_grad(y, kind, beta)
    return np.where(inside, g, 0)


# ---- the model ----

def n_params(sizes):
    return sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:]))


class NumpyVAE:
    """A VAE over a flat parameter vector laid out as the C core lays it out.

    Parameters
    ----------
    enc_sizes : list of int, d ... 2k;  dec_sizes : list of int, k ... d
    enc_acts, dec_acts : list of (kind, beta), one per layer (the encoder's last is the head)
    params : (P,) array, encoder W1, b1, W2, b2, ..., then the decoder's; used in place.
    loss : MSE or BCE
    """

    def __init__(self, enc_sizes, enc_acts, dec_sizes, dec_acts, params, loss=BCE):
        self.enc_sizes, self.dec_sizes = list(enc_sizes), list(dec_sizes)
        # Python scalars, so that float32 arrays stay float32 (NumPy's weak scalar promotion)
        self.enc_acts = [(int(kind), float(beta)) for kind, beta in enc_acts]
        self.dec_acts = [(int(kind), float(beta)) for kind, beta in dec_acts]
        self.k = self.dec_sizes[0]
        self.params = params
        self.loss = loss
        self.P_enc = n_params(self.enc_sizes)
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self.t = 0

    def _layers(self, params, sizes, off):
        out = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            W = params[off:off + n_out * n_in].reshape(n_out, n_in)
            b = params[off + n_out * n_in:off + n_out * (n_in + 1)]
            out.append((W, b))
            off += n_out * (n_in + 1)
        return out

    def _stack_forward(self, layers, acts, a):
        trace = [(None, a)]
        for (W, b), (kind, beta) in zip(layers, acts):
            z = a @ W.T + b
            a = act_forward(z, kind, beta)
            trace.append((z, a))
        return trace

    def _stack_backward(self, layers, acts, trace, dz, want_dinp):
        """Gradients [(dW, db)] of each layer and dL/da_0 (or None)."""
        grads = [None] * len(layers)
        dinp = None
        for l in range(len(layers), 0, -1):
            W, _ = layers[l - 1]
            a_prev = trace[l - 1][1]
            grads[l - 1] = (dz.T @ a_prev, dz.sum(axis=0))
            if l > 1 or want_dinp:
                dinp = dz @ W
            if l > 1:
                kind, beta = acts[l - 2]
                dz = dinp * act_grad(a_prev, kind, beta)
        return grads, dinp

    def encode(self, X):
        """μ, logvar (n, k) of X."""
        enc = self._layers(self.params, self.enc_sizes, 0)
        return split(self._stack_forward(enc, self.enc_acts, X)[-1][1])

    def decode(self, Z):
        dec = self._layers(self.params, self.dec_sizes, self.P_enc)
        return self._stack_forward(dec, self.dec_acts, Z)[-1][1]

    def loss_grad(self, X, eps, kl_weight=1.0, grad=True):
        """(total, recon, KL, flat gradient of total or None) of the batch X with the given ε."""
        enc = self._layers(self.params, self.enc_sizes, 0)
        dec = self._layers(self.params, self.dec_sizes, self.P_enc)
        etrace = self._stack_forward(enc, self.enc_acts, X)
        h = etrace[-1][1]
        z = reparam_forward(h, eps)
        dtrace = self._stack_forward(dec, self.dec_acts, z)
        zo, y = dtrace[-1]
        kind, beta = self.dec_acts[-1]
        recon = recon_forward(zo, y, X, self.loss, kind, beta)
        kl = kl_forward(h)
        total = recon + kl_weight * kl
        if not grad:
            return total, recon, kl, None
        dgrads, dz_lat = self._stack_backward(dec, self.dec_acts, dtrace,
                                              recon_backward(zo, y, X, self.loss, kind, beta), True)
        dh = reparam_backward(dz_lat, h, eps) + kl_backward(h, kl_weight)
        kind, beta = self.enc_acts[-1]
        egrads, _ = self._stack_backward(enc, self.enc_acts, etrace, dh * act_grad(h, kind, beta),
                                         False)
        flat = np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in egrads + dgrads])
        return total, recon, kl, flat.astype(self.params.dtype, copy=False)

    def adam_step(self, g, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.t += 1
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        mhat = self.m / (1 - beta1 ** self.t)
        vhat = self.v / (1 - beta2 ** self.t)
        self.params -= (lr * mhat / (np.sqrt(vhat) + eps)).astype(self.params.dtype, copy=False)

    def train_epoch(self, X, order, eps_batches, batch, kl_weight=1.0, lr=1e-3):
        """One epoch of Adam steps over X in ``order``, batch by batch, the i-th batch using
        ``eps_batches[i]`` (B_i, k). Returns the epoch's mean (total, recon, KL)."""
        n = X.shape[0]
        sums = np.zeros(3)
        for i, r0 in enumerate(range(0, n, batch)):
            Xb = X[order[r0:r0 + batch]]
            total, recon, kl, g = self.loss_grad(Xb, eps_batches[i], kl_weight)
            self.adam_step(g, lr)
            sums += np.array([total, recon, kl]) * Xb.shape[0]
        return sums / n


# ---- the C core's generator, replayed in Python ----

def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class Xoshiro:
    """xoshiro256** from a (4,) uint64 state, exactly as csrc/rng.c steps it."""

    def __init__(self, state):
        self.s = [int(v) for v in np.asarray(state, dtype=np.uint64)]

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def _box_muller(self):
        """Box-Muller's radius R and angle θ from one pair of uniforms, as csrc/rng.c."""
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return np.sqrt(-2.0 * np.log(u1)), 6.283185307179586 * u2

    def normal(self):
        R, theta = self._box_muller()
        return R * np.cos(theta)

    def normals(self, n):
        """n normals as sia_rng_normals: R cos θ and R sin θ of each pair of uniforms."""
        out = []
        while len(out) + 1 < n:
            R, theta = self._box_muller()
            out += [R * np.cos(theta), R * np.sin(theta)]
        if len(out) < n:
            out.append(self.normal())
        return out

    def below(self, n):
        m = self.next() * n
        low = m & MASK64
        if low < n:
            threshold = ((1 << 64) - n) % n
            while low < threshold:
                m = self.next() * n
                low = m & MASK64
        return m >> 64

    def shuffle(self, idx):
        for i in range(len(idx) - 1, 0, -1):
            j = self.below(i + 1)
            idx[i], idx[j] = idx[j], idx[i]


def replay_epochs(state, n, k, batch, epochs, shuffle=True):
    """The sample order and ε of each epoch of C training: [(order, [eps (B, k), ...])]. Each
    epoch shuffles 0..n-1 afresh, so the epochs do not depend on how fit calls split them."""
    rng = Xoshiro(state)
    out = []
    for _ in range(epochs):
        order = list(range(n))
        if shuffle:
            rng.shuffle(order)
        eps = []
        for r0 in range(0, n, batch):
            B = min(batch, n - r0)
            eps.append(np.array(rng.normals(B * k)).reshape(B, k))
        out.append((np.array(order), eps))
    return out
