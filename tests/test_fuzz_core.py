"""Fuzz every function of the private C module: only clean Python exceptions may come out.

Each call starts from a valid argument list for the function and corrupts one to three of them
(wrong types, dtypes, shapes, ranks, negative and huge sizes, NaN/inf hyperparameters,
out-of-range enum codes, non-contiguous, Fortran-order, misaligned, read-only and byte-swapped
arrays, garbage values inside otherwise valid arrays, the all-zero generator state, values whose
optimizer updates overflow), or calls it with a random number of garbage arguments.
The fuzzer runs in a subprocess so that a segfault or an abort fails the test instead of killing
pytest; it prints a JSON summary with the number of inputs tried.

Standalone (e.g. under tools/sanitize.sh or tools/valgrind.sh):
    python tests/test_fuzz_core.py --seed 1 --calls 20000
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

CLEAN = (TypeError, ValueError, MemoryError, OverflowError)

# ---------------------------------------------------------------- garbage


def garbage_scalar(r):
    return [None, 0, 1, -1, 2, 3, 4, 7, 2**31, -2**31 - 1, 2**63, -2**63 - 1, 2**64, 10**30,
            0.5, -0.0, math.nan, math.inf, -math.inf, 1e308, 5e-324, True, False, "x", b"\x00",
            [], [1, 2], (1,), {}, object(), np.float64(np.nan), np.int64(-5), 1j][r.integers(33)]


DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint64, np.int8, np.bool_, np.complex128,
          np.float16, object]


def garbage_array(r, like=None):
    """A random array, often close to ``like`` (same shape or dtype) so that later checks run."""
    choice = r.integers(8)
    dtype = DTYPES[r.integers(len(DTYPES))]
    if like is not None and choice < 4:
        shape = list(like.shape)
        if choice == 0 and shape:          # one dimension off by a little or a lot
            k = r.integers(len(shape))
            shape[k] = int(max(0, shape[k] + r.choice([-1, 1, 5, -shape[k]])))
        elif choice == 1:                  # right shape, wrong dtype
            pass
        elif choice == 2:                  # right dtype, another rank
            dtype = like.dtype
            shape = shape + [1] if r.random() < 0.5 else shape[:-1]
        else:
            dtype = like.dtype
    else:
        shape = [int(s) for s in r.integers(0, 5, size=r.integers(0, 4))]
    a = np.zeros(shape, dtype=dtype) if dtype is not object else np.empty(shape, dtype=object)
    if a.size and dtype is not object:
        a[...] = r.integers(-3, 4, size=a.shape).astype(dtype) if dtype is not np.bool_ else True
    return a


def layout(r, a):
    """The same values in an odd memory layout: strided, Fortran, misaligned, read-only or in
    the other byte order."""
    if not isinstance(a, np.ndarray) or a.dtype == object:
        return a
    k = r.integers(6)
    if k == 4 and a.dtype.itemsize > 1:            # the other byte order, same values
        return a.astype(a.dtype.newbyteorder())
    if k == 0:                                     # strided view
        big = np.zeros((2 * max(a.size, 1),), dtype=a.dtype)
        v = big[::2][:a.size].reshape(a.shape)
        v[...] = a
        return v
    if k == 1 and a.ndim >= 2:
        return np.asfortranarray(a)
    if k == 2:                                     # misaligned: offset by one byte
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        v = raw[1:].view(a.dtype).reshape(a.shape) if a.itemsize == 1 or a.nbytes else a
        if v is not a:
            v[...] = a
        return v
    if k == 3:
        v = a.copy()
        v.flags.writeable = False
        return v
    return a


def poison(r, a):
    """Bad values inside an array of the right type: NaN, inf, negative or huge entries."""
    if not isinstance(a, np.ndarray) or a.size == 0:
        return a
    a = a.copy()
    i = np.unravel_index(r.integers(a.size), a.shape)
    if a.dtype.kind == "f":
        with np.errstate(over="ignore"):
            a[i] = [np.nan, np.inf, -np.inf, 1e30, -1e30][r.integers(5)]
            if r.integers(4) == 0:                 # values whose updates overflow
                a[...] = 1e300 if a.dtype.itemsize == 8 else 3e38
    elif a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        a[i] = [0, -1, info.max, info.min, min(2**31, info.max), 4, 100][r.integers(7)] \
            if a.dtype.kind == "i" else [0, info.max, min(2**40, info.max)][r.integers(3)]
        if a.dtype.kind == "u" and r.integers(3) == 0:
            a[...] = 0                             # e.g. the all-zero generator state
    return a


def mutate(r, value):
    if isinstance(value, np.ndarray):
        k = r.integers(5)
        if k == 0:
            return garbage_array(r, value)
        if k == 1:
            return layout(r, value)
        if k == 2:
            return poison(r, value)
        if k == 3:
            return garbage_scalar(r)
        return value.astype(np.float32 if value.dtype == np.float64 else np.float64) \
            if value.dtype.kind == "f" else garbage_array(r, value)
    return garbage_scalar(r)


# ---------------------------------------------------------------- valid calls


def net_args(r, dtype):
    L = int(r.integers(1, 4))
    sizes = r.integers(1, 6, size=L + 1).astype(np.int64)
    P = int(sum(sizes[1:] * (sizes[:-1] + 1)))
    act = r.integers(0, 4, size=L).astype(np.int32)
    beta = r.uniform(0.5, 2, size=L)
    params = (r.standard_normal(P) * 0.5).astype(dtype)
    return sizes, act, beta, params


def layer_net(r, dtype):
    """A small random network of layer records: dense layers, with a reshape, dropout, noise or
    a VAE's sampling here and there."""
    from sia_autoencoder import layers as Ly
    from sia_autoencoder._net import LayerNet
    d = int(r.integers(1, 6))
    k = int(r.integers(1, 4))
    acts = ["linear", "tanh", "relu", "logistic"]
    body = [Ly.Dense(int(r.integers(1, 5)), acts[r.integers(4)])]
    extra = r.integers(5)
    if extra == 1:
        body += [Ly.Dropout(0.3)]
    elif extra == 2:
        body += [Ly.GaussianNoise(0.2), Ly.Reshape((-1,))]
    elif extra == 3:
        body += [Ly.Dense(2 * k), Ly.Sample()]
    body += [Ly.Dense(d, acts[r.integers(4)])]
    return LayerNet(body, (d,), dtype)


def layer_geom(kind, ih, iw, ic, oc, k, s, padding):
    """geom int64 (12,) of a valid image layer (tests/test_conv_kernels.py has the rules)."""
    def axis(n):
        if kind == 3:  # Conv2DTranspose, "same"
            return n * s, max(k - s, 0) // 2
        if kind == 6:
            return 1, 0
        if kind == 7:
            return n * k, 0
        if padding == "valid":
            return (n - k) // s + 1, 0
        o = -(-n // s)
        return o, max((o - 1) * s + k - n, 0) // 2
    (oh, pt), (ow, pl) = axis(ih), axis(iw)
    return np.array([ih, iw, ic, oh, ow, oc if kind in (2, 3) else ic, k, k, s, s, pt, pl], np.int64)


def valid(name, r):
    """(args, kwargs) of a valid call of _core.<name>, small enough to run in microseconds."""
    dt = np.float32 if r.random() < 0.5 else np.float64
    n, d = int(r.integers(1, 6)), int(r.integers(1, 6))
    f = lambda *shape: r.random(shape).astype(dt)  # noqa: E731
    if name == "gemm":
        M, N, K = (int(x) for x in r.integers(1, 6, 3))
        tA, tB = bool(r.integers(2)), bool(r.integers(2))
        return [f(M, N), f(K, M) if tA else f(M, K), f(N, K) if tB else f(K, N), tA, tB,
                bool(r.integers(2)), int(r.integers(1, 3))], {}
    if name == "dense_forward":
        return [f(n, d), f(n, 3), f(d, 3), f(d)], {}
    if name == "dense_backward":
        return [f(n, 3) if r.random() < 0.7 else None, f(d, 3), f(d), f(n, d), f(n, 3), f(d, 3)], {}
    if name == "act_forward":
        return [f(n, d), f(n, d), int(r.integers(4)), 1.0], {}
    if name == "act_backward":
        return [f(n, d), f(n, d), f(n, d), int(r.integers(4)), 1.0], {}
    if name == "loss_forward":
        return [f(n, d), f(n, d), f(n, d), int(r.integers(2)), int(r.integers(4)), 1.0], {}
    if name == "loss_backward":
        return [f(n, d), f(n, d), f(n, d), f(n, d), int(r.integers(2)), int(r.integers(4)), 1.0], {}
    if name == "optim_step":
        return [f(d), f(d), f(d), f(d), int(r.integers(3)), 0.01, 0.9, 0.9, 0.999, 1e-8, 0], {}
    if name == "simd_path":                      # no arguments: any argument is refused
        return [], {}
    if name == "rng_seed":
        return [np.zeros(4, np.uint64), int(r.integers(2**63))], {}
    if name in ("rng_uniform", "rng_normal"):
        state = np.zeros(4, np.uint64)
        state[0] = 1
        return [np.zeros(n), state], {}
    if name == "noise_apply":
        return [f(n, d), int(r.integers(4)), 0.1, np.arange(1, 5, dtype=np.uint64)], {}
    if name in ("layer_forward", "layer_backward"):
        kind = int(r.integers(2, 8))  # Conv2D .. UpSampling2D
        ih, iw, ic, oc, k = (int(v) for v in r.integers(1, 6, 5))
        s = int(r.integers(1, 3))
        pad = "same" if r.random() < 0.5 or kind == 3 else "valid"
        ih, iw = max(ih, k), max(iw, k)
        geom = layer_geom(kind, ih, iw, ic, oc, k, s, pad)
        n_in, n_out = ih * iw * ic, int(geom[3] * geom[4] * geom[5])
        P = k * k * ic * oc + oc if kind in (2, 3) else 0
        W = f(P) if P else None
        if name == "layer_forward":
            return [kind, geom, f(n, n_out), f(n, n_in), W, int(r.integers(1, 3))], {}
        return [kind, geom, f(n, n_in) if r.random() < 0.8 else None, f(P) if P else None,
                f(n, n_out), f(n, n_in), W, bool(r.integers(2)), int(r.integers(1, 3))], {}
    k = int(r.integers(1, 4))
    if name == "reparam_forward":
        return [f(n, k), f(n, 2 * k), f(n, k)], {}
    if name == "reparam_backward":
        return [f(n, 2 * k), f(n, k), f(n, 2 * k), f(n, k)], {}
    if name == "kl_forward":
        return [f(n, 2 * k)], {}
    if name == "kl_backward":
        return [f(n, 2 * k), f(n, 2 * k), 0.5], {}
    if name.startswith("net_"):
        net = layer_net(r, dt)
        L, P = net.L, net.params.size
        d_in, d_out = net.width(0), net.width(L)
        params = (r.standard_normal(P) * 0.5).astype(dt)
        if name == "net_predict":
            l0 = int(r.integers(0, L + 1))
            l1 = int(r.integers(l0, L + 1))
            return [net.ints, net.reals, params, f(n, net.width(l1)), f(n, net.width(l0)), l0, l1], {}
        if name == "net_loss_grad":
            grads = np.zeros_like(params) if r.random() < 0.7 else None
            noise = r.standard_normal(n * net.noise_cols).astype(dt) if r.random() < 0.7 else None
            return [net.ints, net.reals, params, grads, f(n, d_in), f(n, d_out), noise,
                    int(r.integers(2)), 0.5], {}
        epochs = int(r.integers(0, 3))
        rec = lambda: np.zeros(max(epochs, 1)) if r.random() < 0.7 else None  # noqa: E731
        args = [net.ints, net.reals, params, np.zeros_like(params), f(n, d_in), f(n, d_out),
                np.zeros_like(params), np.zeros_like(params), np.zeros(1, np.int64),
                np.arange(1, 5, dtype=np.uint64), np.zeros(max(epochs, 1)), rec(), rec(), rec(),
                np.full(max(epochs, 1), 0.5) if r.random() < 0.5 else None]
        kw = dict(loss=int(r.integers(2)), batch=int(r.integers(1, n + 1)), shuffle=bool(r.integers(2)),
                  epochs=epochs, optimizer=int(r.integers(3)), lr=0.01, momentum=0.5, beta1=0.9,
                  beta2=0.999, eps=1e-8, loss_tol=0.0, max_wrong=int(r.integers(-1, 3)),
                  noise=int(r.integers(4)), noise_level=0.1, nthreads=int(r.integers(1, 3)))
        return args, kw
    sizes, act, beta, params = net_args(r, dt)
    d_in, d_out = int(sizes[0]), int(sizes[-1])
    if name == "predict":
        L = len(sizes) - 1
        l0 = int(r.integers(0, L + 1))
        l1 = int(r.integers(l0, L + 1))
        return [sizes, act, beta, params, f(n, int(sizes[l1])), f(n, int(sizes[l0])), l0, l1], {}
    if name == "loss_grad":
        grads = np.zeros_like(params) if r.random() < 0.7 else None
        return [sizes, act, beta, params, grads, f(n, d_in), f(n, d_out), int(r.integers(2))], {}
    if name == "pixel_errors":
        return [np.zeros(n, np.int64), f(n, d), f(n, d)], {}
    if name == "train":
        epochs = int(r.integers(0, 3))
        args = [sizes, act, beta, params, np.zeros_like(params), f(n, d_in), f(n, d_out),
                np.zeros_like(params), np.zeros_like(params), np.zeros(1, np.int64),
                np.arange(1, 5, dtype=np.uint64), np.zeros(max(epochs, 1))]
        kw = dict(loss=int(r.integers(2)), batch=int(r.integers(1, n + 1)), shuffle=bool(r.integers(2)),
                  epochs=epochs, optimizer=int(r.integers(3)), lr=0.01, momentum=0.5, beta1=0.9,
                  beta2=0.999, eps=1e-8, loss_tol=0.0, max_wrong=int(r.integers(-1, 3)),
                  noise=int(r.integers(4)), noise_level=0.1, nthreads=int(r.integers(1, 3)))
        return args, kw
    return None


def fuzz(seed, calls):
    from sia_autoencoder import _core
    r = np.random.default_rng(seed)
    names = sorted(k for k in dir(_core) if callable(getattr(_core, k)) and not k.startswith("_"))
    stats = {"tried": 0, "ok": 0, "exceptions": {}, "per_function": {}, "unknown_functions": [],
             "failures": []}
    for i in range(calls):
        name = names[i % len(names)]
        fn = getattr(_core, name)
        built = valid(name, r)
        if built is None:                        # a function this fuzzer does not know yet
            if name not in stats["unknown_functions"]:
                stats["unknown_functions"].append(name)
            args = [garbage_array(r) if r.random() < 0.5 else garbage_scalar(r)
                    for _ in range(r.integers(0, 15))]
            kw = {}
        else:
            args, kw = built
            if r.random() < 0.97:                # 3% stay valid: the happy path must run too
                for _ in range(r.integers(1, 4)):
                    if kw and r.random() < 0.3:
                        key = list(kw)[r.integers(len(kw))]
                        kw[key] = garbage_scalar(r)
                    elif r.random() < 0.05:
                        args = args[:r.integers(0, len(args) + 1)] if r.random() < 0.5 else args + [garbage_scalar(r)]
                    elif args:
                        k = r.integers(len(args))
                        args[k] = mutate(r, args[k])
        stats["tried"] += 1
        stats["per_function"][name] = stats["per_function"].get(name, 0) + 1
        try:
            fn(*args, **kw)
            stats["ok"] += 1
        except CLEAN as exc:
            key = type(exc).__name__
            stats["exceptions"][key] = stats["exceptions"].get(key, 0) + 1
            if not str(exc):
                stats["failures"].append(f"{name}: {key} with an empty message")
        except Exception as exc:  # SystemError, RuntimeError, ...: a bug in the glue
            stats["failures"].append(f"{name}: {type(exc).__name__}: {exc}")
    return stats


# ---------------------------------------------------------------- the tests

HERE = os.path.dirname(os.path.abspath(__file__))


def run_fuzzer(seed, calls, timeout=240):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "test_fuzz_core.py"), "--seed", str(seed),
                           "--calls", str(calls)], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, (f"the fuzzer died with exit code {proc.returncode} (negative: a signal, "
                                  f"e.g. -11 a segfault)\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_fuzz_core_raises_only_clean_exceptions():
    import pytest
    calls = int(os.environ.get("SIA_FUZZ_CALLS", "6000"))
    stats = run_fuzzer(seed=int(os.environ.get("SIA_FUZZ_SEED", "20261123")), calls=calls)
    assert stats["tried"] == calls
    assert stats["failures"] == []
    # The corruption must reach the checks, and valid calls must get through them.
    assert stats["ok"] > 0 and sum(stats["exceptions"].values()) > calls // 2
    assert set(stats["exceptions"]) >= {"TypeError", "ValueError"}
    if stats["unknown_functions"]:
        pytest.xfail(f"only random arguments for {stats['unknown_functions']} (no valid call known)")


def test_fuzz_core_finds_the_checks_not_the_kernels():
    """A handful of targeted inputs the random search may miss, each with its exact error."""
    import pytest
    from sia_autoencoder import _core
    r = np.random.default_rng(0)
    sizes, act, beta, params = net_args(r, np.float64)
    X = np.zeros((2, int(sizes[0])))
    out = np.zeros((2, int(sizes[-1])))
    L = len(sizes) - 1
    cases = [
        (ValueError, r"sizes\[0\]: expected a width >= 1, got -1", lambda: _core.predict(
            np.array([-1] + list(sizes[1:]), np.int64), act, beta, params, out, X, 0, L)),
        (MemoryError, r"sizes: the parameter count overflows", lambda: _core.predict(
            np.array([2**40, 2**40, 2**40], np.int64), act[:1].repeat(2), beta[:1].repeat(2), params, out, X, 0, 2)),
        (ValueError, r"act: expected a code in \[0, 6\), got 99", lambda: _core.predict(
            sizes, np.full(L, 99, np.int32), beta, params, out, X, 0, L)),
        (ValueError, r"beta\[0\]: expected a finite number > 0, got nan", lambda: _core.predict(
            sizes, act, np.full(L, np.nan), params, out, X, 0, L)),
        (ValueError, r"l0, l1: expected 0 <= l0 <= l1", lambda: _core.predict(
            sizes, act, beta, params, out, X, 0, L + 1)),
        (ValueError, r"X: expected a C-contiguous, aligned array", lambda: _core.loss_grad(
            sizes, act, beta, params, None, np.zeros((2, 2 * int(sizes[0])))[:, ::2], out, 0)),
        (ValueError, r"out: expected a writeable array, got a read-only one", lambda: _core.act_forward(
            np.zeros(3).setflags(write=False) or np.frombuffer(b"\0" * 24), np.zeros(3), 0, 1.0)),
        (TypeError, r"inp: expected dtype float32 or float64, got int64", lambda: _core.act_forward(
            np.zeros(3), np.zeros(3, np.int64), 0, 1.0)),
        (ValueError, r"lr: expected a finite number > 0, got nan", lambda: _core.optim_step(
            *(np.zeros(3),) * 4, 2, math.nan, 0.9, 0.9, 0.999, 1e-8, 0)),
        (ValueError, r"momentum: expected a value in \[0, 1\), got 1", lambda: _core.optim_step(
            *(np.zeros(3),) * 4, 1, 0.1, 1.0, 0.9, 0.999, 1e-8, 0)),
        (ValueError, r"optimizer: expected a code in \[0, 7\), got -1", lambda: _core.optim_step(
            *(np.zeros(3),) * 4, -1, 0.1, 0.5, 0.9, 0.999, 1e-8, 0)),
        (ValueError, r"level: expected a probability in \[0, 1\], got inf", lambda: _core.noise_apply(
            np.zeros(3), 1, math.inf, np.ones(4, np.uint64))),
        (OverflowError, r"int", lambda: _core.act_forward(np.zeros(3), np.zeros(3), 2**40, 1.0)),
        # found by UBSan: t = INT64_MAX overflowed in the step's t += 1
        (ValueError, r"t: expected a step count in \[0, 2\*\*62\], got 9223372036854775807", lambda: _core.optim_step(
            *(np.zeros(3),) * 4, 2, 0.1, 0.5, 0.9, 0.999, 1e-8, 2**63 - 1)),
    ]
    for exc, pattern, call in cases:
        with pytest.raises(exc, match=pattern):
            call()


def test_train_rejects_out_of_range_run_settings():
    import pytest
    from sia_autoencoder import _core
    r = np.random.default_rng(1)
    args, kw = valid("train", r)
    n = args[5].shape[0]
    for key, value, pattern in [
        ("batch", 0, rf"batch: expected a batch size in \[1, {n}\], got 0"),
        ("batch", n + 1, rf"batch: expected a batch size in \[1, {n}\], got {n + 1}"),
        ("epochs", -1, r"epochs: expected 0 <= epochs <= len\(losses\)"),
        ("epochs", 2**62, r"epochs: expected 0 <= epochs <= len\(losses\)"),
        ("noise", 9, r"noise: expected a code in \[0, 4\), got 9"),
        ("loss", -1, r"loss: expected a code in \[0, 6\), got -1"),
        ("lr", -1.0, r"lr: expected a finite number > 0, got -1"),
        ("noise_level", math.nan, r"noise_level, loss_tol: expected finite values, got nan"),
        ("loss_tol", math.inf, r"noise_level, loss_tol: expected finite values, got 0.1\d*, inf"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            _core.train(*args, **{**kw, key: value})
    params = args[3].copy()
    _core.train(*args, **{**kw, "nthreads": 10**6})  # clamped, not a failed thread spawn
    assert np.isfinite(args[3]).all() and params.shape == args[3].shape


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--calls", type=int, default=6000)
    a = p.parse_args()
    sys.path.insert(0, os.path.dirname(HERE))   # the repo's in-place build
    print(json.dumps(fuzz(a.seed, a.calls)))


if __name__ == "__main__":
    main()
