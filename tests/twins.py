"""NumPy twins of the C kernels: the oracles the tests compare the core against.

Written as the math reads, in float64, with no attempt at speed.
"""
import numpy as np

LINEAR, LOGISTIC, TANH, RELU, ELU, SELU = 0, 1, 2, 3, 4, 5
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
MSE, BCE, MAE = 0, 1, 2
MEAN = 3            # added to a loss code: the mean over the features too
LOSS_CODES = [MSE, BCE, MAE, MSE + MEAN, BCE + MEAN, MAE + MEAN]
GD, MOMENTUM, ADAM, RMSPROP, NADAM, ADADELTA, ADAMW = 0, 1, 2, 3, 4, 5, 6
BCE_EPS = 1e-7


def act_forward(x, kind, beta):
    if kind == LOGISTIC:
        return 1.0 / (1.0 + np.exp(-2.0 * beta * x))
    if kind == TANH:
        return np.tanh(beta * x)
    if kind == RELU:
        return np.maximum(x, 0.0)
    if kind in (ELU, SELU):
        a, s = (SELU_ALPHA, SELU_SCALE) if kind == SELU else (beta, 1.0)
        return s * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0)))
    return x.copy()


def act_grad(y, kind, beta):
    """f'(x) written from y = f(x)."""
    if kind == LOGISTIC:
        return 2.0 * beta * y * (1.0 - y)
    if kind == TANH:
        return beta * (1.0 - y * y)
    if kind == RELU:
        return (y > 0).astype(y.dtype)
    if kind in (ELU, SELU):  # s a eˣ = y + s a below 0
        a, s = (SELU_ALPHA, SELU_SCALE) if kind == SELU else (beta, 1.0)
        return np.where(y > 0, s, y + s * a)
    return np.ones_like(y)


def dense_forward(inp, W, b):
    return inp @ W.T + b


def dense_backward(dout, inp, W):
    """(dinp, dW, db) of out = inp Wᵀ + b."""
    return dout @ W, dout.T @ inp, dout.sum(axis=0)


def _bce_bounds(dtype):
    """The clamp [ε, 1−ε] as the C core computes it, in the buffers' dtype."""
    eps = np.dtype(dtype).type(BCE_EPS)
    return float(eps), float(np.dtype(dtype).type(1) - eps)


def loss_forward(z, y, t, loss, kind, beta, dtype=np.float64):
    if loss >= MEAN:
        return _loss_forward(z, y, t, loss - MEAN, kind, beta, dtype) / y.shape[1]
    return _loss_forward(z, y, t, loss, kind, beta, dtype)


def _loss_forward(z, y, t, loss, kind, beta, dtype):
    B = y.shape[0]
    if loss == MAE:
        return np.sum(np.abs(y - t)) / B
    if loss == MSE:
        return np.sum((y - t) ** 2) / B
    if kind == LOGISTIC:
        u = 2.0 * beta * z
        return np.sum(np.logaddexp(0.0, u) - t * u) / B
    yc = np.clip(y, *_bce_bounds(dtype))
    return -np.sum(t * np.log(yc) + (1 - t) * np.log(1 - yc)) / B


def loss_backward(z, y, t, loss, kind, beta, dtype=np.float64):
    """dL/dz."""
    if loss >= MEAN:
        return _loss_backward(z, y, t, loss - MEAN, kind, beta, dtype) / y.shape[1]
    return _loss_backward(z, y, t, loss, kind, beta, dtype)


def _loss_backward(z, y, t, loss, kind, beta, dtype):
    B = y.shape[0]
    if loss == MAE:
        return np.sign(y - t) / B * act_grad(y, kind, beta)
    if loss == MSE:
        return 2.0 * (y - t) / B * act_grad(y, kind, beta)
    if kind == LOGISTIC:
        return 2.0 * beta * (y - t) / B
    lo, hi = _bce_bounds(dtype)
    inside = (y >= lo) & (y <= hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (y - t) / (y * (1 - y)) / B * act_grad(y, kind, beta)
    return np.where(inside, g, 0.0)


def nadam_mu(beta1, t):
    """Nadam's momentum schedule (Keras): μ_t = β₁ (1 − ½ 0.96^t)."""
    return beta1 * (1.0 - 0.5 * 0.96 ** t)


def optim_step(p, m, v, g, kind, lr, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, t=0,
               rho=0.9, weight_decay=0.0):
    """The closed form of one step; returns new (p, m, v, t), or the old ones (t unchanged)
    when a new value would not be finite (or lie within 2^-10 of the dtype's largest number).
    weight_decay is L2 in the gradient (g + wd p) for every optimizer but AdamW, which decays p
    by lr wd p before Adam's step."""
    with np.errstate(over="ignore", invalid="ignore"):
        new = _optim_step(p, m, v, g, kind, lr, momentum, beta1, beta2, eps, t, rho, weight_decay)
    big = np.finfo(np.asarray(p).dtype).max * (1 - 1 / 1024)
    if all((np.abs(a) <= big).all() for a in new[:3]):
        return new
    return p, m, v, t


def _optim_step(p, m, v, g, kind, lr, momentum, beta1, beta2, eps, t, rho, weight_decay):
    t += 1
    if kind != ADAMW:
        g = g + weight_decay * p
    if kind == GD:
        return p - lr * g, m, v, t
    if kind == MOMENTUM:
        m = momentum * m - lr * g
        return p + m, m, v, t
    if kind == RMSPROP:  # Keras: ε inside the root
        v = rho * v + (1 - rho) * g * g
        m = momentum * m + lr * g / np.sqrt(v + eps)
        return p - m, m, v, t
    if kind == ADADELTA:  # m holds E[Δ²]
        v = rho * v + (1 - rho) * g * g
        d = -np.sqrt(m + eps) / np.sqrt(v + eps) * g
        m = rho * m + (1 - rho) * d * d
        return p + lr * d, m, v, t
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    vhat = v / (1 - beta2 ** t)
    if kind == NADAM:
        prod = np.prod([nadam_mu(beta1, s) for s in range(1, t + 1)])
        mu, mu_next = nadam_mu(beta1, t), nadam_mu(beta1, t + 1)
        mhat = mu_next * m / (1 - prod * mu_next) + (1 - mu) * g / (1 - prod)
        return p - lr * mhat / (np.sqrt(vhat) + eps), m, v, t
    if kind == ADAMW:
        p = p - lr * weight_decay * p
    mhat = m / (1 - beta1 ** t)
    return p - lr * mhat / (np.sqrt(vhat) + eps), m, v, t


def unflatten(params, sizes):
    out, off = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = params[off:off + n_out * n_in].reshape(n_out, n_in)
        b = params[off + n_out * n_in:off + n_out * (n_in + 1)]
        out.append((W, b))
        off += n_out * (n_in + 1)
    return out


def net_forward(params, sizes, acts, betas, X):
    """[(z_l, a_l)] for l = 0..L (z_0 = None, a_0 = X)."""
    trace = [(None, X)]
    a = X
    for (W, b), kind, beta in zip(unflatten(params, sizes), acts, betas):
        z = dense_forward(a, W, b)
        a = act_forward(z, kind, beta)
        trace.append((z, a))
    return trace


def net_loss(params, sizes, acts, betas, X, Y, loss):
    trace = net_forward(params, sizes, acts, betas, X)
    z, y = trace[-1]
    return loss_forward(z, y, Y, loss, acts[-1], betas[-1])


def net_loss_grad(params, sizes, acts, betas, X, Y, loss):
    """(loss, flat gradient) by backpropagation written out in NumPy."""
    trace = net_forward(params, sizes, acts, betas, X)
    z, y = trace[-1]
    value = loss_forward(z, y, Y, loss, acts[-1], betas[-1])
    dz = loss_backward(z, y, Y, loss, acts[-1], betas[-1])
    layers = unflatten(params, sizes)
    grads = []
    for l in range(len(layers), 0, -1):
        W, _ = layers[l - 1]
        dinp, dW, db = dense_backward(dz, trace[l - 1][1], W)
        grads.append((dW, db))
        if l > 1:
            dz = dinp * act_grad(trace[l - 1][1], acts[l - 2], betas[l - 2])
    flat = np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in reversed(grads)])
    return value, flat


# ---- image layers (conv.c, pooling.c): images (B, H, W, C), channels last ----

CONV2D, CONV2D_T, MAXPOOL, AVGPOOL, GAP, UPSAMPLE = 2, 3, 4, 5, 6, 7


def conv_out(n_in, k, s, padding):
    """(n_out, pad before) of one axis of a Conv2D or pool, as Keras."""
    if padding == "valid":
        return (n_in - k) // s + 1, 0
    n_out = -(-n_in // s)
    return n_out, max((n_out - 1) * s + k - n_in, 0) // 2


def conv_t_out(n_in, k, s, padding):
    """(n_out, crop before) of one axis of a Conv2DTranspose, as Keras (output_padding None)."""
    if padding == "valid":
        return n_in * s + max(k - s, 0), 0
    n_out = n_in * s
    return n_out, max((n_in - 1) * s + k - n_out, 0) // 2


def _taps(k, s, n):
    """Slice of the n positions that kernel offset k touches at stride s."""
    return slice(k, k + (n - 1) * s + 1, s)


def conv2d_forward(x, W, b, strides, pad, out_hw):
    """x (B, H, W, ic), W (oc, kh, kw, ic): z (B, oh, ow, oc), zero padding pad = (top, left)."""
    B, H, Wd, C = x.shape
    oc, kh, kw, _ = W.shape
    (sh, sw), (pt, pl), (oh, ow) = strides, pad, out_hw
    xp = np.zeros((B, max(H + pt, (oh - 1) * sh + kh), max(Wd + pl, (ow - 1) * sw + kw), C))
    xp[:, pt:pt + H, pl:pl + Wd] = x
    z = np.zeros((B, oh, ow, oc)) + b
    for ky in range(kh):
        for kx in range(kw):
            z += xp[:, _taps(ky, sh, oh), _taps(kx, sw, ow)] @ W[:, ky, kx, :].T
    return z


def conv2d_backward(dz, x, W, strides, pad):
    """(dx, dW, db) of conv2d_forward."""
    B, H, Wd, C = x.shape
    oc, kh, kw, _ = W.shape
    (sh, sw), (pt, pl), (oh, ow) = strides, pad, dz.shape[1:3]
    xp = np.zeros((B, max(H + pt, (oh - 1) * sh + kh), max(Wd + pl, (ow - 1) * sw + kw), C))
    xp[:, pt:pt + H, pl:pl + Wd] = x
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    for ky in range(kh):
        for kx in range(kw):
            rows, cols = _taps(ky, sh, oh), _taps(kx, sw, ow)
            dxp[:, rows, cols] += dz @ W[:, ky, kx, :]
            dW[:, ky, kx, :] = np.einsum("bijo,bijc->oc", dz, xp[:, rows, cols])
    return dxp[:, pt:pt + H, pl:pl + Wd], dW, dz.sum(axis=(0, 1, 2))


def conv2d_t_forward(x, W, b, strides, crop, out_hw):
    """x (B, ih, iw, ic), W (ic, kh, kw, oc): the full transposed output ((ih-1) s + k), cropped
    by crop = (top, left) to out_hw (zeros where the output reaches past the full one)."""
    B, ih, iw, _ = x.shape
    _, kh, kw, oc = W.shape
    (sh, sw), (pt, pl), (oh, ow) = strides, crop, out_hw
    full = np.zeros((B, max((ih - 1) * sh + kh, pt + oh), max((iw - 1) * sw + kw, pl + ow), oc))
    for ky in range(kh):
        for kx in range(kw):
            full[:, _taps(ky, sh, ih), _taps(kx, sw, iw)] += x @ W[:, ky, kx, :]
    return full[:, pt:pt + oh, pl:pl + ow] + b


def conv2d_t_backward(dz, x, W, strides, crop):
    """(dx, dW, db) of conv2d_t_forward."""
    B, ih, iw, _ = x.shape
    _, kh, kw, oc = W.shape
    (sh, sw), (pt, pl), (oh, ow) = strides, crop, dz.shape[1:3]
    dfull = np.zeros((B, max((ih - 1) * sh + kh, pt + oh), max((iw - 1) * sw + kw, pl + ow), oc))
    dfull[:, pt:pt + oh, pl:pl + ow] = dz
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for ky in range(kh):
        for kx in range(kw):
            d = dfull[:, _taps(ky, sh, ih), _taps(kx, sw, iw)]
            dx += d @ W[:, ky, kx, :].T
            dW[:, ky, kx, :] = np.einsum("bijc,bijo->co", x, d)
    return dx, dW, dz.sum(axis=(0, 1, 2))


# Winograd's F(2 × 2, 3 × 3) (csrc/winograd.c): 3 × 3 stride-1 Conv2D in tiles of 2 × 2 outputs.
WINO_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float)
WINO_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
WINO_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float)


def _wino_windows(x, pad, out_hw):
    """d (B, th, tw, 4, 4, C): the 4 × 4 input window of each 2 × 2 output tile, zero outside."""
    B, H, Wd, C = x.shape
    (pt, pl), (oh, ow) = pad, out_hw
    th, tw = -(-oh // 2), -(-ow // 2)
    xp = np.zeros((B, max(2 * th + 2, H + pt), max(2 * tw + 2, Wd + pl), C))
    xp[:, pt:pt + H, pl:pl + Wd] = x
    d = np.zeros((B, th, tw, 4, 4, C))
    for i in range(4):
        for j in range(4):
            d[:, :, :, i, j] = xp[:, i:i + 2 * th:2, j:j + 2 * tw:2]
    return d


def wino_conv2d_forward(x, W, b, pad, out_hw):
    """conv2d_forward at stride 1 for W (oc, 3, 3, ic), as winograd.c computes it:
    z = b + Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A per tile, the cells past out_hw cropped."""
    (oh, ow), oc = out_hw, W.shape[0]
    V = WINO_BT @ _wino_windows(x, pad, out_hw).transpose(0, 1, 2, 5, 3, 4) @ WINO_BT.T  # (B, th, tw, C, 4, 4)
    U = WINO_G @ W.transpose(0, 3, 1, 2) @ WINO_G.T                                        # (oc, ic, 4, 4)
    M = np.einsum("btuchw,ochw->btuohw", V, U)
    Y = WINO_AT @ M @ WINO_AT.T                                                            # (B, th, tw, oc, 2, 2)
    B, th, tw = Y.shape[:3]
    z = Y.transpose(0, 1, 4, 2, 5, 3).reshape(B, 2 * th, 2 * tw, oc)
    return z[:, :oh, :ow] + b


def wino_conv2d_backward(dz, x, W, pad):
    """(dx, dW, db) of wino_conv2d_forward as winograd.c computes them: dM = A dz Aᵀ per tile,
    dU = Σ_tiles dM ⊙ V, dW = Gᵀ dU G; dx by the forward on dz with W flipped in space and its
    channels swapped, padded by (2 − pt, 2 − pl)."""
    B, H, Wd, C = x.shape
    (pt, pl), (oh, ow), oc = pad, dz.shape[1:3], W.shape[0]
    V = WINO_BT @ _wino_windows(x, pad, (oh, ow)).transpose(0, 1, 2, 5, 3, 4) @ WINO_BT.T
    th, tw = V.shape[1:3]
    dzp = np.zeros((B, 2 * th, 2 * tw, oc))
    dzp[:, :oh, :ow] = dz
    dY = dzp.reshape(B, th, 2, tw, 2, oc).transpose(0, 1, 3, 5, 2, 4)                    # (B, th, tw, oc, 2, 2)
    dM = WINO_AT.T @ dY @ WINO_AT
    dU = np.einsum("btuohw,btuchw->ochw", dM, V)
    dW = (WINO_G.T @ dU @ WINO_G).transpose(0, 2, 3, 1)
    Wf = W[:, ::-1, ::-1, :].transpose(3, 1, 2, 0)
    dx = wino_conv2d_forward(dz, Wf, np.zeros(C), (2 - pt, 2 - pl), (H, Wd))
    return dx, dW, dz.sum(axis=(0, 1, 2))


def _windows(H, Wd, pool, strides, pad, out_hw):
    """(i, j, rows, cols) of every pooling window, cut to the cells inside the input."""
    for i in range(out_hw[0]):
        y0 = i * strides[0] - pad[0]
        for j in range(out_hw[1]):
            x0 = j * strides[1] - pad[1]
            yield (i, j, slice(max(y0, 0), min(y0 + pool[0], H)),
                   slice(max(x0, 0), min(x0 + pool[1], Wd)))


def pool_forward(x, kind, pool, strides, pad, out_hw):
    """Max or average (over the cells inside the input, as Keras) pooling: z (B, oh, ow, C)."""
    B, H, Wd, C = x.shape
    z = np.zeros((B, *out_hw, C))
    for i, j, rows, cols in _windows(H, Wd, pool, strides, pad, out_hw):
        cells = x[:, rows, cols].reshape(B, -1, C)
        z[:, i, j] = cells.max(axis=1) if kind == MAXPOOL else cells.mean(axis=1)
    return z


def pool_backward(dz, x, kind, pool, strides, pad):
    """dx of pool_forward; max routes dz to the first largest cell in (row, column) order."""
    B, H, Wd, C = x.shape
    dx = np.zeros_like(x)
    for i, j, rows, cols in _windows(H, Wd, pool, strides, pad, dz.shape[1:3]):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if kind == AVGPOOL:
            dx[:, rows, cols] += dz[:, i, j][:, None, None, :] / (h * w)
            continue
        first = x[:, rows, cols].reshape(B, h * w, C).argmax(axis=1)  # the first maximum
        for b in range(B):
            for c in range(C):
                dx[b, rows.start + first[b, c] // w, cols.start + first[b, c] % w, c] += dz[b, i, j, c]
    return dx


def gap_forward(x):
    return x.mean(axis=(1, 2))


def gap_backward(dz, x):
    return np.broadcast_to(dz[:, None, None, :] / (x.shape[1] * x.shape[2]), x.shape).copy()


def upsample_forward(x, size):
    return x.repeat(size[0], axis=1).repeat(size[1], axis=2)


def upsample_backward(dz, size):
    B, oh, ow, C = dz.shape
    return dz.reshape(B, oh // size[0], size[0], ow // size[1], size[1], C).sum(axis=(2, 4))


REG_NONE, REG_L1, REG_L2, REG_KL = 0, 1, 2, 3


def reg_penalty(a, reg, ra, rb):
    """Activity penalty of a (B, n): L1 ra·Σ|a|/B, L2 ra·Σa²/B, KL ra·Σ_j KL(rb ‖ ρ̂_j)."""
    B = a.shape[0]
    if reg == REG_L1:
        return ra * np.abs(a).sum() / B
    if reg == REG_L2:
        return ra * (a * a).sum() / B
    if reg == REG_KL:
        m = np.clip(a.mean(axis=0), BCE_EPS, 1 - BCE_EPS)
        return ra * np.sum(rb * np.log(rb / m) + (1 - rb) * np.log((1 - rb) / (1 - m)))
    return 0.0


def reg_grad(a, reg, ra, rb):
    """d(reg_penalty)/da, (B, n)."""
    B = a.shape[0]
    if reg == REG_L1:
        return ra * np.sign(a) / B
    if reg == REG_L2:
        return 2 * ra * a / B
    if reg == REG_KL:
        m = np.clip(a.mean(axis=0), BCE_EPS, 1 - BCE_EPS)
        return np.broadcast_to(ra * (-rb / m + (1 - rb) / (1 - m)) / B, a.shape).copy()
    return np.zeros_like(a)


# ---- the layer engine (net.c) from its records (csrc/sia.h's column order) ----

DENSE, DENSE_T, RESHAPE, DROPOUT, GNOISE, SAMPLE = 0, 1, 8, 9, 10, 11
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def _n_noise(rec):
    kind, ins, outs = rec[0], rec[2:5], rec[5:8]
    return int(np.prod(ins)) if kind in (DROPOUT, GNOISE) else (int(np.prod(outs)) if kind == SAMPLE else 0)


def layer_net_loss_grad(ints, reals, params, X, Y, loss, noise=None, kl_weight=1.0):
    """((total, recon, kl, penalties), flat gradient) of a network of layer records, written out
    in NumPy: each kind's forward, the activation, the loss on the last layer that is not a
    reshape, w·KL of the Sample layers and the activity penalties; then backward through all."""
    B, L = X.shape[0], len(ints)
    eps, at = [], 0
    for rec in ints:   # each stochastic layer's (B, n) block, layer after layer
        k = _n_noise(rec)
        eps.append(None if noise is None or not k else noise[at:at + B * k].reshape(B, k))
        at += B * k if noise is not None else 0
    img = lambda a, shape: a.reshape((B,) + tuple(shape))  # noqa: E731
    grads = np.zeros_like(params)

    def wb(rec):
        kind, off, n = rec[0], rec[14], rec[15]
        (ih, iw, ic), (oh, ow, oc), (kh, kw) = rec[2:5], rec[5:8], rec[8:10]
        if kind == DENSE:
            return params[off:off + oc * ic].reshape(oc, ic), params[off + oc * ic:off + n], off
        if kind == DENSE_T:
            return params[rec[16]:rec[16] + ic * oc].reshape(ic, oc), params[off:off + oc], rec[16]
        shape = (oc, kh, kw, ic) if kind == CONV2D else (ic, kh, kw, oc)
        nW = n - oc
        return params[off:off + nW].reshape(shape), params[off + nW:off + n], off

    a, zs = [X.reshape(B, -1)], []
    for j, (rec, r) in enumerate(zip(ints, reals)):
        kind, x = rec[0], a[-1]
        ins, outs, strides, pad = rec[2:5], rec[5:8], tuple(rec[10:12]), tuple(rec[12:14])
        if kind in (DENSE, DENSE_T):
            W, b, _ = wb(rec)
            z = x @ (W.T if kind == DENSE else W) + b
        elif kind in (RESHAPE, DROPOUT, GNOISE):
            e = eps[j]
            z = x if e is None or kind == RESHAPE else (x * e if kind == DROPOUT else x + e)
        elif kind == SAMPLE:
            k = outs[2]
            mu, lv = x[:, :k], np.clip(x[:, k:], LOGVAR_MIN, LOGVAR_MAX)
            z = mu if eps[j] is None else mu + np.exp(0.5 * lv) * eps[j]
        elif kind == CONV2D:
            W, b, _ = wb(rec)
            z = conv2d_forward(img(x, ins), W, b, strides, pad, tuple(outs[:2])).reshape(B, -1)
        elif kind == CONV2D_T:
            W, b, _ = wb(rec)
            z = conv2d_t_forward(img(x, ins), W, b, strides, pad, tuple(outs[:2])).reshape(B, -1)
        elif kind in (MAXPOOL, AVGPOOL):
            z = pool_forward(img(x, ins), kind, tuple(rec[8:10]), strides, pad, tuple(outs[:2])).reshape(B, -1)
        elif kind == GAP:
            z = gap_forward(img(x, ins))
        else:
            z = upsample_forward(img(x, ins), tuple(rec[8:10])).reshape(B, -1)
        zs.append(z)
        a.append(act_forward(z, rec[1], r[0]))
    o = max(j for j in range(L) if ints[j][0] != RESHAPE)
    recon = loss_forward(zs[o], a[o + 1], Y.reshape(B, -1), loss, ints[o][1], reals[o][0])
    kl = sum(-0.5 * np.sum(1 + np.clip(a[j][:, ints[j][7]:], LOGVAR_MIN, LOGVAR_MAX)
                           - a[j][:, :ints[j][7]] ** 2
                           - np.exp(np.clip(a[j][:, ints[j][7]:], LOGVAR_MIN, LOGVAR_MAX))) / B
             for j in range(L) if ints[j][0] == SAMPLE)
    pen = sum(reg_penalty(a[j + 1], ints[j][17], reals[j][2], reals[j][3]) for j in range(L))
    total = recon + kl_weight * kl + pen

    da = loss_backward(zs[o], a[o + 1], Y.reshape(B, -1), loss, ints[o][1], reals[o][0])
    dz = da + reg_grad(a[o + 1], ints[o][17], reals[o][2], reals[o][3]) * act_grad(a[o + 1], ints[o][1], reals[o][0])
    for j in range(o, -1, -1):
        rec, r = ints[j], reals[j]
        kind, x = rec[0], a[j]
        ins, strides, pad = rec[2:5], tuple(rec[10:12]), tuple(rec[12:14])
        if j < o:
            dz = (dz + reg_grad(a[j + 1], rec[17], r[2], r[3])) * act_grad(a[j + 1], rec[1], r[0])
        if kind in (DENSE, DENSE_T):
            W, b, woff = wb(rec)
            dW = dz.T @ x if kind == DENSE else x.T @ dz
            grads[woff:woff + W.size] += dW.ravel()
            boff = rec[14] + (W.size if kind == DENSE else 0)
            grads[boff:boff + b.size] += dz.sum(axis=0)
            din = dz @ (W if kind == DENSE else W.T)
        elif kind in (RESHAPE, GNOISE):
            din = dz
        elif kind == DROPOUT:
            din = dz if eps[j] is None else dz * eps[j]
        elif kind == SAMPLE:
            k = rec[7]
            lv = x[:, k:]
            inside = (lv >= LOGVAR_MIN) & (lv <= LOGVAR_MAX)
            s = np.clip(lv, LOGVAR_MIN, LOGVAR_MAX)
            dmu = dz + kl_weight * x[:, :k] / B
            dlv = np.where(inside, kl_weight * 0.5 * (np.exp(s) - 1) / B
                           + (0 if eps[j] is None else dz * eps[j] * 0.5 * np.exp(0.5 * s)), 0.0)
            din = np.concatenate([dmu, dlv], axis=1)
        elif kind in (CONV2D, CONV2D_T):
            W, b, off = wb(rec)
            g = img(dz, rec[5:8])
            f = conv2d_backward if kind == CONV2D else conv2d_t_backward
            din, dW, db = f(g, img(x, ins), W, strides, pad)
            grads[off:off + W.size] += dW.ravel()
            grads[off + W.size:off + W.size + b.size] += db
        elif kind in (MAXPOOL, AVGPOOL):
            din = pool_backward(img(dz, rec[5:8]), img(x, ins), kind, tuple(rec[8:10]), strides, pad)
        elif kind == GAP:
            din = gap_backward(dz, img(x, ins))
        else:
            din = upsample_backward(img(dz, rec[5:8]), tuple(rec[8:10]))
        dz = din.reshape(B, -1)
    return (total, recon, kl, pen), grads


# Winograd's F(2, 2) on the phases of a 3 × 3 stride-2 Conv2DTranspose (csrc/winograd2.c): tiles
# of 2 × 2 input pixels, 4 × 4 outputs each.
WINO2_BT = np.array([[1, -1, 0], [0, 1, 0], [0, -1, 1]], float)
WINO2_G = np.array([[1, 0], [1, 1], [0, 1]], float)
WINO2_AT = np.array([[1, 1, 0], [0, 1, 1]], float)


def wino2_conv2d_t_forward(x, W, b, out_hw):
    """conv2d_t_forward for W (ic, 3, 3, oc) at stride 2, crop (0, 0), as winograd2.c computes it.
    Tile (ty, tx) reads the 3 × 3 input window d at (2ty − 1, 2tx − 1) (zero outside) and gives
    z[4ty + u, 4tx + v]: (even, even) Aᵀ [(G h Gᵀ) ⊙ (Bᵀ d B)] A with h = W[:, ::-2, ::-2];
    (even, odd) Aᵀ [G W[:, ::-2, 1] ⊙ Bᵀ d[:, 1 + s]]; (odd, even) its transpose with W[:, 1, ::-2];
    (odd, odd) x W[:, 1, 1]; the cells past out_hw cropped."""
    B, H, Wd, C = x.shape
    (oh, ow), oc = out_hw, W.shape[3]
    th, tw = -(-oh // 4), -(-ow // 4)
    xp = np.zeros((B, 2 * th + 1, 2 * tw + 1, C))
    h, w = min(H, 2 * th), min(Wd, 2 * tw)
    xp[:, 1:1 + h, 1:1 + w] = x[:, :h, :w]
    d = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))[:, ::2, ::2]  # (B, th, tw, C, 3, 3)
    Wt = W.transpose(0, 3, 1, 2)                                                         # (ic, oc, 3, 3)
    Uee = WINO2_G @ Wt[:, :, ::-2, ::-2] @ WINO2_G.T                                     # (ic, oc, 3, 3)
    Ueo, Uoe = Wt[:, :, ::-2, 1] @ WINO2_G.T, Wt[:, :, 1, ::-2] @ WINO2_G.T              # (ic, oc, 3)
    Z = np.zeros((B, th, tw, oc, 4, 4))
    Z[..., 0::2, 0::2] = WINO2_AT @ np.einsum("btuchw,cohw->btuohw", WINO2_BT @ d @ WINO2_BT.T, Uee) @ WINO2_AT.T
    Z[..., 0::2, 1::2] = WINO2_AT @ np.einsum("btucis,coi->btuois", WINO2_BT @ d[..., :, 1:], Ueo)
    Z[..., 1::2, 0::2] = np.einsum("btucrj,coj->btuorj", d[..., 1:, :] @ WINO2_BT.T, Uoe) @ WINO2_AT.T
    Z[..., 1::2, 1::2] = np.einsum("btucrs,co->btuors", d[..., 1:, 1:], W[:, 1, 1, :])
    z = Z.transpose(0, 1, 4, 2, 5, 3).reshape(B, 4 * th, 4 * tw, oc)
    return z[:, :oh, :ow] + b


def wino2_dw(small, big, pad):
    """dW (Cs, 3, 3, Cb) = Σ_{n, i, j} small[n, i, j] ⊗ big[n, 2i + ky − pt, 2j + kx − pl] (zero
    outside big), the weight gradient of both kinds of 3 × 3 stride-2 layers (Conv2D: small = dz,
    big = the input; Conv2DTranspose: small = the input, big = dz), as winograd2.c's F(2, 2):
    tile (ty, tx) is small's 2 × 2 pixels X (zero past its edge) and the 5 × 5 window P of big
    at (4ty − pt, 4tx − pl); with M = G X Gᵀ (3 × 3) the tile gives, summed over all tiles,
      ee (Bᵀ P[::2, ::2] B) ⊙ M,  eo (Bᵀ P[::2, 1::2]) ⊙ M[:, ::2],  oe (P[1::2, ::2] B) ⊙ M[::2, :],
      oo P[1::2, 1::2] ⊙ M[::2, ::2],
    then dW[2a, 2b] = (Aᵀ ee A)[a, b], dW[2a, 1] = Aᵀ Σ_s eo, dW[1, 2b] = Σ_r oe A, dW[1, 1] = Σ oo."""
    B, h, w, Cs = small.shape
    _, H, W, Cb = big.shape
    pt, pl = pad
    th, tw = -(-h // 2), -(-w // 2)
    xs = np.zeros((B, 2 * th, 2 * tw, Cs))
    xs[:, :h, :w] = small
    bp = np.zeros((B, max(4 * th + 1, H + pt), max(4 * tw + 1, W + pl), Cb))
    bp[:, pt:pt + H, pl:pl + W] = big
    bp = bp[:, :4 * th + 1, :4 * tw + 1]
    X = xs.reshape(B, th, 2, tw, 2, Cs).transpose(0, 1, 3, 5, 2, 4)                    # (B, th, tw, Cs, 2, 2)
    P = np.lib.stride_tricks.sliding_window_view(bp, (5, 5), axis=(1, 2))[:, ::4, ::4]  # (B, th, tw, Cb, 5, 5)
    M = WINO2_G @ X @ WINO2_G.T                                                        # (B, th, tw, Cs, 3, 3)
    ee = np.einsum("btucij,btudij->cdij", M, WINO2_BT @ P[..., ::2, ::2] @ WINO2_BT.T)
    eo = np.einsum("btucis,btudis->cdi", M[..., :, ::2], WINO2_BT @ P[..., ::2, 1::2])
    oe = np.einsum("btucrj,btudrj->cdj", M[..., ::2, :], P[..., 1::2, ::2] @ WINO2_BT.T)
    oo = np.einsum("btucrs,btudrs->cd", M[..., ::2, ::2], P[..., 1::2, 1::2])
    dW = np.zeros((Cs, Cb, 3, 3))
    dW[..., ::2, ::2] = WINO2_AT @ ee @ WINO2_AT.T
    dW[..., ::2, 1] = eo @ WINO2_AT.T
    dW[..., 1, ::2] = oe @ WINO2_AT.T
    dW[..., 1, 1] = oo
    return dW.transpose(0, 2, 3, 1)
