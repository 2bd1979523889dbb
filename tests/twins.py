"""NumPy twins of the C kernels: the oracles the tests compare the core against.

Written as the math reads, in float64, with no attempt at speed.
"""
import numpy as np

LINEAR, LOGISTIC, TANH, RELU = 0, 1, 2, 3
MSE, BCE = 0, 1
GD, MOMENTUM, ADAM = 0, 1, 2
BCE_EPS = 1e-7


def act_forward(x, kind, beta):
    if kind == LOGISTIC:
        return 1.0 / (1.0 + np.exp(-2.0 * beta * x))
    if kind == TANH:
        return np.tanh(beta * x)
    if kind == RELU:
        return np.maximum(x, 0.0)
    return x.copy()


def act_grad(y, kind, beta):
    """f'(x) written from y = f(x)."""
    if kind == LOGISTIC:
        return 2.0 * beta * y * (1.0 - y)
    if kind == TANH:
        return beta * (1.0 - y * y)
    if kind == RELU:
        return (y > 0).astype(y.dtype)
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
    B = y.shape[0]
    if loss == MSE:
        return np.sum((y - t) ** 2) / B
    if kind == LOGISTIC:
        u = 2.0 * beta * z
        return np.sum(np.logaddexp(0.0, u) - t * u) / B
    yc = np.clip(y, *_bce_bounds(dtype))
    return -np.sum(t * np.log(yc) + (1 - t) * np.log(1 - yc)) / B


def loss_backward(z, y, t, loss, kind, beta, dtype=np.float64):
    """dL/dz."""
    B = y.shape[0]
    if loss == MSE:
        return 2.0 * (y - t) / B * act_grad(y, kind, beta)
    if kind == LOGISTIC:
        return 2.0 * beta * (y - t) / B
    lo, hi = _bce_bounds(dtype)
    inside = (y >= lo) & (y <= hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (y - t) / (y * (1 - y)) / B * act_grad(y, kind, beta)
    return np.where(inside, g, 0.0)


def optim_step(p, m, v, g, kind, lr, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, t=0):
    """The closed form of one step; returns new (p, m, v, t), or the old ones (t unchanged)
    when a new value would not be finite (or lie within 2^-10 of the dtype's largest number)."""
    with np.errstate(over="ignore", invalid="ignore"):
        new = _optim_step(p, m, v, g, kind, lr, momentum, beta1, beta2, eps, t)
    big = np.finfo(np.asarray(p).dtype).max * (1 - 1 / 1024)
    if all((np.abs(a) <= big).all() for a in new[:3]):
        return new
    return p, m, v, t


def _optim_step(p, m, v, g, kind, lr, momentum, beta1, beta2, eps, t):
    t += 1
    if kind == GD:
        return p - lr * g, m, v, t
    if kind == MOMENTUM:
        m = momentum * m - lr * g
        return p + m, m, v, t
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    mhat, vhat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
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
