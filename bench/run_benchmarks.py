"""The benchmark suite of issue 7: sia_autoencoder against NumPy and PyTorch eager.

    python bench/run_benchmarks.py --quick      # a few minutes, prints the table
    python bench/run_benchmarks.py              # full: >= 7 runs each, writes docs/benchmarks.md

Workloads (every system: same architecture, same initial weights, same optimizer (Adam, lr 1e-3,
β = (0.9, 0.999), ε = 1e-8), same batch order, same dtype):
    A-online  letters 32×35, [35,25,15,10,2,10,15,25,35], tanh hidden (latent included),
              sigmoid output, MSE, batch 1 (32 steps per epoch)
    A-batch   the same in full batch (1 step per epoch)
    B         10,000×784 uniform values in [0, 1], [784,512,256,32,256,512,784], relu hidden
              (latent included), sigmoid output, BCE, mini-batch 128 (79 steps per epoch)
    C         VAE, 1,000×400 uniform values in [0, 1], encoder [400,200,100] relu + a linear
              [μ | log σ²] head, 2-D latent, decoder [2,100,200,400] relu with a sigmoid output,
              BCE + KL, mini-batch 32
    D, E, F   convolutional (issue 17), 10,000 Fashion-MNIST images 28×28×1, BCE, batch 128
              (bench/bench_conv.py builds both systems' models): D the UNSAM autoencoder
              (Conv2D 32 ×4 with two pools and two upsamplings, Conv2D 1), E the Keras blog's
              (16-8-8, three pools, three upsamplings), F the Keras examples' VAE (two stride-2
              Conv2D, Dense 16, 2-D latent, Dense 3136, three Conv2DTranspose), + KL. No NumPy
              version: sia against PyTorch only.

Batch order: every system runs the samples in their stored order (sia: ``shuffle=False``), so the
batches are identical. The initial weights are sia's (seed 0), copied into the NumPy and PyTorch
models; the first-epoch losses are printed side by side as a check that the three systems
train the same network. The VAE's ε differs between systems (each draws its own).

Each (workload, thread count, system) runs in its own subprocess with a controlled environment:
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to the thread count,
torch.set_num_threads(threads), sia ``threads=``; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are
removed (they can pin OpenBLAS to slower kernels). Each subprocess warms up (one epoch plus a
doubling calibration) alone, then waits for orders: the timed runs go in ``--runs`` rounds, each
round timing every system at every thread count once per dtype, in an order that rotates from
round to round, with a pause of ``--pause`` s before each run. A run trains enough whole epochs
to last about ``--run-time`` seconds; the reported time per epoch is the median over the runs.
Interleaving the systems and the thread counts makes a ratio a comparison under the same
conditions (sia against another system, or sia's 2 threads against its 1): on a machine shared
with other jobs, a burst of load lands on every cell's runs alike instead of on one cell.
"""
import argparse
import datetime
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SYSTEMS = ("sia", "numpy", "torch")
DTYPES = ("float32", "float64")

LETTERS = [35, 25, 15, 10, 2, 10, 15, 25, 35]
MNIST = [784, 512, 256, 32, 256, 512, 784]
WORKLOADS = {
    "A-online": dict(kind="ae", layers=LETTERS, hidden="tanh", loss="mse", batch=1, data="letters"),
    "A-batch": dict(kind="ae", layers=LETTERS, hidden="tanh", loss="mse", batch=None, data="letters"),
    "B": dict(kind="ae", layers=MNIST, hidden="relu", loss="bce", batch=128, data="mnist"),
    "C": dict(kind="vae", encoder=[400, 200, 100], latent=2, hidden="relu", loss="bce", batch=32,
              data="vae"),
    "D": dict(kind="conv", net="D", batch=128, data="fashion"),
    "E": dict(kind="conv", net="E", batch=128, data="fashion"),
    "F": dict(kind="conv", net="F", batch=128, data="fashion"),
}
CONV_ROWS = 10_000
# Issue 17's goals for its time ratios (float32): D, E and F at least CONV_GOAL× PyTorch's epochs
# per second; D and E on 2 threads at least SPEEDUP_GOAL× sia's own 1-thread speed; an epoch of B
# in at most B_TIME_GOAL× PyTorch's time. (bench/target_spread.py judges several runs by them.)
CONV_GOAL, SPEEDUP_GOAL, B_TIME_GOAL = 3.0, 1.7, 0.6
DESCRIPTION = {
    "A-online": "letters 32×35, [35,25,15,10,2,10,15,25,35], tanh, MSE, Adam, batch 1",
    "A-batch": "letters 32×35, same network, full batch (32)",
    "B": "10,000×784, [784,512,256,32,256,512,784], relu, BCE, Adam, batch 128",
    "C": "VAE 1,000×400, [400,200,100] → 2 → mirrored, relu, BCE+KL, Adam, batch 32",
    "D": "UNSAM conv autoencoder, 10,000 Fashion-MNIST 28×28×1: Conv2D 32 same relu, MaxPool 2, "
         "Conv2D 32, MaxPool 2, Conv2D 32, UpSampling 2, Conv2D 32, UpSampling 2, Conv2D 1 "
         "sigmoid; BCE, Adam, batch 128",
    "E": "the Keras blog's conv autoencoder (16-8-8, three pools, three upsamplings), same data, "
         "BCE, Adam, batch 128",
    "F": "the Keras examples' conv VAE (Conv2D 32 and 64 stride 2, Dense 16, 2-D latent, Dense "
         "3136, Conv2DTranspose 64, 32 stride 2 and 1), same data, BCE+KL, Adam, batch 128",
}


# ---------------------------------------------------------------- data and initial weights

def make_data(name, n_rows=None):
    """float64 data of a workload: the letters, or uniform [0, 1) values from a fixed seed."""
    if name == "letters":
        from sia_autoencoder.datasets import load_font
        return load_font()[0]
    if name == "fashion":  # images (n, 28, 28, 1) in [0, 1]
        from sia_autoencoder.datasets import load_fashion_mnist
        return load_fashion_mnist()[0][:n_rows or CONV_ROWS].astype(np.float64)[..., None]
    rng = np.random.default_rng(7)
    n, d = {"mnist": (10_000, 784), "vae": (1_000, 400)}[name]
    return rng.random((n_rows or n, d))


def sia_model(w, dtype, threads, seed=0):
    """The sia_autoencoder model of workload w (the VAE only if its module is importable)."""
    if w["kind"] == "ae":
        from sia_autoencoder import Autoencoder
        return Autoencoder(w["layers"], activation=w["hidden"], latent_activation=w["hidden"],
                           output_activation="sigmoid", loss=w["loss"], optimizer="adam",
                           learning_rate=1e-3, seed=seed, dtype=dtype, threads=threads)
    from sia_autoencoder.vae import VAE
    return VAE(encoder=w["encoder"], latent_dim=w["latent"], activation=w["hidden"],
               output_activation="sigmoid", loss=w["loss"], optimizer="adam", learning_rate=1e-3,
               seed=seed, dtype=dtype, threads=threads)


def _unflatten(params, sizes):
    out, off = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = params[off:off + n_out * n_in].reshape(n_out, n_in)
        off += n_out * n_in
        out.append((W, params[off:off + n_out]))
        off += n_out
    return out, off


def vae_sizes(w):
    enc = list(w["encoder"]) + [2 * w["latent"]]
    dec = [w["latent"]] + list(reversed(w["encoder"]))
    return enc, dec


def initial_weights(w, dtype):
    """(weights for numpy_ae/torch_ae, where they came from). sia's seed-0 initialization when
    the sia model can be built; for the VAE, Glorot uniform from seed 0 otherwise. The
    convolutional workloads: sia's get_weights() (PyTorch's shapes) for bench_conv.TorchConv."""
    if w["kind"] == "conv":
        from bench_conv import sia_model as conv_model
        m = conv_model(w["net"], dtype, 1)
        return [a.copy() for a in m.get_weights()], "sia seed 0"
    if w["kind"] == "ae":
        ae = sia_model(w, dtype, 1)
        return [(W.copy(), b.copy()) for W, b in ae.weights], "sia seed 0"
    enc, dec = vae_sizes(w)
    n_enc = sum(o * (i + 1) for i, o in zip(enc[:-1], enc[1:]))
    try:
        params = np.asarray(sia_model(w, dtype, 1).params).copy()
        source = "sia seed 0"
    except Exception:  # no VAE yet, or another layout: a Glorot init of our own
        rng = np.random.default_rng(0)
        parts = []
        for sizes in (enc, dec):
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                lim = np.sqrt(6 / (n_in + n_out))
                parts += [rng.uniform(-lim, lim, n_out * n_in), np.zeros(n_out)]
        params = np.concatenate(parts).astype(dtype)
        source = "Glorot uniform, seed 0 (numpy and torch only)"
    e, used = _unflatten(params[:n_enc], enc)
    d, used2 = _unflatten(params[n_enc:], dec)
    if used + used2 != params.size:
        raise ValueError(f"VAE params: expected {used + used2} values, got {params.size}")
    return {"encoder": e[:-1], "head": e[-1], "decoder": d}, source


# ---------------------------------------------------------------- the worker (a subprocess)

def calibrate(fit, run_time):
    """fit(epochs) -> loss. Warm-up epoch, then a doubling calibration (also a second warm-up),
    unless the warm-up epoch lasted run_time already. Returns (E, the loss of the first epoch):
    E epochs last about run_time seconds."""
    t0 = time.perf_counter()
    first_loss = fit(1)
    if time.perf_counter() - t0 >= run_time:  # one epoch is a run already (the conv workloads)
        return 1, first_loss
    epochs, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        fit(epochs)
        elapsed = time.perf_counter() - t0
        if elapsed >= run_time / 4 or epochs >= 1 << 20:
            break
        epochs *= 2
    return max(1, round(epochs * run_time / max(elapsed, 1e-9))), first_loss


def make_fit(system, w, dtype, threads, init):
    """fit(epochs) -> loss of the last epoch, for one system on one workload and dtype."""
    X = init["X"]
    batch = w["batch"] or X.shape[0]
    if w["kind"] == "conv":
        import bench_conv
        if system == "sia":
            model = bench_conv.sia_model(w["net"], dtype, threads)
            model.params[...] = init["params"]

            def fit(epochs):
                return float(model.fit(X, epochs=epochs, batch_size=batch, shuffle=False).history["loss"][-1])
            return fit
        import torch
        model = bench_conv.TorchConv(torch, w["net"], init["weights"], dtype)
        return lambda epochs: model.fit(X, epochs, batch)
    if system == "sia":
        model = sia_model(w, dtype, threads)
        if init["params"] is not None:
            model.params[...] = init["params"]  # the same start as the others

        def fit(epochs):
            h = model.fit(X, epochs=epochs, batch_size=batch, shuffle=False)
            return float(h.history["loss"][-1])
        return fit
    weights = init["weights"]
    if system == "numpy":
        import numpy_ae as impl
    else:
        import torch_ae as impl
    if w["kind"] == "ae":
        acts = [w["hidden"]] * (len(w["layers"]) - 2) + ["sigmoid"]
        if system == "numpy":
            model = impl.NumpyAutoencoder(weights, acts, w["loss"], 1e-3, dtype, cap=batch)
        else:
            model = impl.TorchAutoencoder(weights, acts, w["loss"], 1e-3, dtype)
    elif system == "numpy":
        model = impl.NumpyVAE(weights, w["hidden"], 1e-3, dtype, cap=batch)
    else:
        model = impl.TorchVAE(weights, w["hidden"], 1e-3, dtype)
    return lambda epochs: model.fit(X, epochs, batch)


def worker(job):
    """Runs in a subprocess, one system on one workload at one thread count, serving the
    parent over stdin/stdout (one JSON object per line): first it builds the model of each
    dtype, warms it up and calibrates it, and prints {"ready": {dtype: {E, first_loss}},
    "info": ...}; then each line "run <dtype>" trains E epochs and answers {"time": seconds per
    epoch}; "quit" ends it. The parent interleaves the systems' runs (see interleaved_runs)."""
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    system, threads = job["system"], job["threads"]
    w = WORKLOADS[job["workload"]]
    info = {}
    if system == "torch":
        import torch
        torch.set_num_threads(threads)
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    fits, ready = {}, {}
    for dtype in job["dtypes"]:
        with open(job["init"][dtype], "rb") as f:
            init = pickle.load(f)
        fits[dtype] = make_fit(system, w, dtype, threads, init)
        E, first_loss = calibrate(fits[dtype], job["run_time"])
        ready[dtype] = {"E": E, "first_loss": first_loss}
    if system == "numpy":
        try:
            from threadpoolctl import threadpool_info
            info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                                    "architecture")} for p in threadpool_info()
                            if p.get("user_api") == "blas"]
        except ImportError:
            info["blas"] = "threadpoolctl not installed"
    print(json.dumps({"ready": ready, "info": info}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        dtype = cmd[1]
        E = ready[dtype]["E"]
        t0 = time.perf_counter()
        fits[dtype](E)
        print(json.dumps({"time": (time.perf_counter() - t0) / E}), flush=True)


def clean_env(threads):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONPATH=ROOT)
    return env


class Server:
    """A worker subprocess (see worker), driven line by line."""

    def __init__(self, job):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                      json.dumps(job)], env=clean_env(job["threads"]), text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.hello = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().strip().splitlines() or ["failed"]
            raise RuntimeError(err[-1])
        return json.loads(line)

    def run(self, dtype):
        self.proc.stdin.write(f"run {dtype}\n")
        self.proc.stdin.flush()
        return self._read()["time"]

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()


def interleaved_runs(jobs, runs, dtypes, pause):
    """{key: result} for one workload, a key per server: (system, thread count). The servers
    start one at a time (each warms up and calibrates alone), then the timed runs go in rounds:
    each round runs every server once per dtype, in an order that rotates from round to round,
    so that a change in the machine's load touches every system and every thread count alike.
    A ratio between two cells of the workload (sia against PyTorch, or sia's 2 threads against
    its 1) is thus measured side by side, not minutes apart. Between two runs the parent sleeps
    `pause` seconds, so that the idle threads of one (OpenBLAS, OpenMP, sia's pool) stop
    spinning before the next one is timed."""
    servers, results = {}, {}
    try:
        for key, job in jobs.items():
            try:
                servers[key] = Server(job)
            except RuntimeError as exc:
                results[key] = {"error": str(exc)}
        times = {s: {d: [] for d in dtypes} for s in servers}
        order = list(servers)
        for r in range(runs):
            for dtype in dtypes:
                for k in range(len(order)):
                    key = order[(r + k) % len(order)]
                    time.sleep(pause)
                    times[key][dtype].append(servers[key].run(dtype))
        for key, srv in servers.items():
            results[key] = {"info": srv.hello["info"], "results": {
                d: {"times": times[key][d], "epochs_per_run": srv.hello["ready"][d]["E"],
                    "first_loss": srv.hello["ready"][d]["first_loss"],
                    "median": float(np.median(times[key][d]))} for d in dtypes}}
    finally:
        for srv in servers.values():
            srv.close()
    return results


# ---------------------------------------------------------------- GFLOP/s of workload B

def matmul_flops_per_epoch(layers, n, first_dinp=False):
    """2·(rows)·n_in·n_out for forward, dW and dinp of every layer (no dinp for layer 1)."""
    total = 0
    for i, (n_in, n_out) in enumerate(zip(layers[:-1], layers[1:])):
        total += 2 * n * n_in * n_out * (3 if i or first_dinp else 2)
    return total


def gemm_worker(job):
    """Times sia's gemm alone on the products of one B step (per dtype); prints JSON."""
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    from bench_gemm import median_time
    from sia_autoencoder import _core
    B, out = 128, {}
    for dtype in job["dtypes"]:
        rng = np.random.default_rng(0)
        total = 0.0
        for i, (n_in, n_out) in enumerate(zip(MNIST[:-1], MNIST[1:])):
            inp = rng.random((B, n_in)).astype(dtype)
            W = rng.standard_normal((n_out, n_in)).astype(dtype)
            dout = rng.standard_normal((B, n_out)).astype(dtype)
            z, dW, dinp = np.empty((B, n_out), dtype), np.empty((n_out, n_in), dtype), np.empty((B, n_in), dtype)
            t = job["threads"]
            total += median_time(lambda: _core.gemm(z, inp, W, False, True, True, t), job["runs"])
            total += median_time(lambda: _core.gemm(dW, dout, inp, True, False, True, t), job["runs"])
            if i:
                total += median_time(lambda: _core.gemm(dinp, dout, W, False, False, True, t), job["runs"])
        out[dtype] = total
    out["simd"] = _core.simd_path()
    print(json.dumps(out))


# D's convolutions: (in_h, in_w, in_c, out_c, first layer), 3 × 3 "same", stride 1, batch 128.
D_CONVS = [(28, 28, 1, 32, True), (14, 14, 32, 32, False), (7, 7, 32, 32, False),
           (14, 14, 32, 32, False), (28, 28, 32, 1, False)]


# D's pools and upsamplings: (kind, in_h, in_w, channels), 2 × 2.
D_POOLS = [(4, 28, 28, 32), (4, 14, 14, 32), (7, 7, 7, 32), (7, 14, 14, 32)]  # LAYER_MAXPOOL, _UPSAMPLE


def conv_flops_per_step(B=128):
    """2·B·pixels·out_c·9·in_c for the forward product, dW and din of each of D's convolutions
    (no din for the first)."""
    return sum(2 * B * h * w * oc * 9 * ic * (2 if first else 3) for h, w, ic, oc, first in D_CONVS)


def conv_worker(job):
    """Times sia's convolutions alone on D's layers, one step of 128 images (per dtype), through
    _core.layer_forward / layer_backward (forward, then dW, db and din); prints JSON."""
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    from bench_gemm import median_time
    from sia_autoencoder import _core
    B, out, t = 128, {}, job["threads"]
    for dtype in job["dtypes"]:
        rng = np.random.default_rng(0)
        total = {True: 0.0, False: 0.0}  # Winograd where training uses it; the direct kernels
        for h, w, ic, oc, first in D_CONVS:
            geom = np.array([h, w, ic, h, w, oc, 3, 3, 1, 1, 1, 1], np.int64)
            x = rng.random((B, h * w * ic)).astype(dtype)
            W = (rng.standard_normal(oc * 9 * ic + oc) * 0.1).astype(dtype)
            z, dW = np.empty((B, h * w * oc), dtype), np.empty_like(W)
            dz, dx = rng.standard_normal(z.shape).astype(dtype), None if first else np.empty_like(x)
            for wino in (True, False):
                _core._set_winograd(wino)
                total[wino] += median_time(lambda: _core.layer_forward(2, geom, z, x, W, t), job["runs"])
                total[wino] += median_time(lambda: _core.layer_backward(2, geom, dx, dW, dz, x, W, False, t), job["runs"])
        _core._set_winograd(True)
        out[dtype], out["direct_" + dtype] = total[True], total[False]
        # D's pools and upsamplings, which any implementation must also pass over
        rest = 0.0
        for kind, h, w, ch in D_POOLS:
            up = kind == _core.LAYER_UPSAMPLE
            oh, ow = (2 * h, 2 * w) if up else (h // 2, w // 2)
            geom = np.array([h, w, ch, oh, ow, ch, 2, 2, 1 if up else 2, 1 if up else 2, 0, 0], np.int64)
            x = rng.random((B, h * w * ch)).astype(dtype)
            z, dx = np.empty((B, oh * ow * ch), dtype), np.empty_like(x)
            dz = rng.standard_normal(z.shape).astype(dtype)
            rest += median_time(lambda: _core.layer_forward(kind, geom, z, x, None, t), job["runs"])
            rest += median_time(lambda: _core.layer_backward(kind, geom, dx, None, dz, x, None, False, t), job["runs"])
        out["pools_" + dtype] = rest
    print(json.dumps(out))


def d60k(threads):
    """{threads: the line of bench_conv.py}: one epoch of D on 60,000 images, sia and PyTorch."""
    out = {}
    for t in threads:
        r = subprocess.run([sys.executable, os.path.join(HERE, "bench_conv.py"), "--net", "D", "--n",
                            "60000", "--runs", "1", "--threads", str(t)], env=clean_env(t),
                           capture_output=True, text=True)
        lines = r.stdout.strip().splitlines()
        out[t] = lines[-1] if r.returncode == 0 and lines else f"failed: {r.stderr.strip()[-200:]}"
        print(f"  D 60k {t}t: {out[t]}")
    return out


def fma_peak():
    """bench_gemm.py's fma_peak: {"bits", "float32": {threads: GFLOP/s}, "float64": {...}} at the
    widest vector the CPU runs (best of 3 probes), or {} when it cannot run."""
    sys.path.insert(0, HERE)
    try:
        from bench_gemm import fma_peak as probe
        return probe()
    except Exception:
        return {}


def adam_floor(n=None):
    """{dtype: µs per Adam step on n parameters (default workload A's 2,977)}, from
    bench/adam_floor.c compiled here with the system's cc as the core's clones of the update
    (x86-64-v3, and x86-64-v4 where the CPU has AVX-512), the faster of them; {} without a cc."""
    src = os.path.join(HERE, "adam_floor.c")
    try:
        with open("/proc/cpuinfo") as f:
            wide = "avx512f" in f.read()
    except OSError:
        wide = False
    floor = {}
    with tempfile.TemporaryDirectory() as tmp:
        for march in ["x86-64-v3"] + (["x86-64-v4"] if wide else []):
            exe = os.path.join(tmp, "adam_floor_" + march)
            try:
                subprocess.run(["cc", "-O3", "-march=" + march, "-fno-math-errno", src, "-o", exe, "-lm"],
                               check=True, capture_output=True)
                out = subprocess.run([exe] + ([str(n)] if n else []), check=True, capture_output=True,
                                     text=True).stdout
            except (OSError, subprocess.CalledProcessError):
                continue
            for line in out.splitlines():  # "float32  Adam (sqrt and divide)    1.168 us/step ..."
                if "Adam (sqrt and divide)" in line:
                    us = float(line.split("us/step")[0].split()[-1])
                    floor[line.split()[0]] = min(us, floor.get(line.split()[0], us))
    return floor


def n_params(layers):
    """Weights and biases of a dense network of these layer sizes."""
    return sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))


# ---------------------------------------------------------------- the report

def machine_info():
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
        except OSError:
            return ""
    cpu = sh("lscpu | grep 'Model name' | head -1 | cut -d: -f2").strip() or platform.processor()
    import sia_autoencoder
    from sia_autoencoder import _core
    flags = sh("grep -m1 '^flags' /proc/cpuinfo").split()
    vec = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE2" if flags else "?"
    info = {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(), "vector": vec,
            "simd": _core.simd_path(),
            "python": platform.python_version(), "numpy": np.__version__,
            "sia_autoencoder": sia_autoencoder.__version__,
            "compiler": sh("cc --version | head -1"),
            "commit": sh(f"git -C {ROOT} rev-parse --short HEAD") + (" + local changes" if sh(
                f"git -C {ROOT} status --porcelain --untracked-files=no") else ""),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "unset")}
    return info


def fmt_rate(sec):
    if sec is None:
        return "—"
    r = 1 / sec
    return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"


def fmt_ratio(a, b):
    return "—" if a is None or b is None else f"{b / a:.2f}×" if b / a < 10 else f"{b / a:.0f}×"


def names(ap, option, text, known, aliases=None):
    """The comma-separated names of `text`, each one of `known` or an alias of one (aliases maps it
    to its name); otherwise the parser's error, naming the option, what it got and what it takes."""
    aliases = aliases or {}
    out = [aliases.get(n, n) for n in text.split(",") if n]
    bad = [n for n in out if n not in known]
    if bad or not out:
        ap.error(f"{option}: got {text!r}; expected a comma-separated subset of {', '.join(known)}"
                 + (f" ({', '.join(f'{a} for {n}' for a, n in aliases.items())})" if aliases else ""))
    return out


def main():
    ap = argparse.ArgumentParser(description="sia_autoencoder vs NumPy vs PyTorch (issue 7)")
    ap.add_argument("--quick", action="store_true", help="3 runs of ~0.15 s, B on 2,560 rows; prints only")
    ap.add_argument("--runs", type=int, help="timed runs per cell (default 7, quick 3)")
    ap.add_argument("--run-time", type=float, help="seconds per timed run (default 0.6, quick 0.15)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of sia, numpy, torch ('pytorch' for torch)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--pause", type=float, default=0.3,
                    help="seconds of sleep before each timed run (idle threads stop spinning)")
    ap.add_argument("--b-rows", type=int, help="rows of workload B (default 10,000, quick 2,560)")
    ap.add_argument("--conv-rows", type=int,
                    help="images of workloads D, E, F (default 10,000, quick 1,280)")
    ap.add_argument("--no-d60k", action="store_true",
                    help="skip the one-epoch run of D on 60,000 images (full mode runs it)")
    ap.add_argument("--out", help="markdown file to write (full mode default: docs/benchmarks.md)")
    ap.add_argument("--json", help="also dump the raw results here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--gemm-worker", help=argparse.SUPPRESS)
    ap.add_argument("--conv-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.gemm_worker:
        return gemm_worker(json.loads(args.gemm_worker))
    if args.conv_worker:
        return conv_worker(json.loads(args.conv_worker))

    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    runs = args.runs or (3 if args.quick else 7)
    run_time = args.run_time or (0.15 if args.quick else 0.6)
    out_md = args.out or (None if args.quick else os.path.join(ROOT, "docs", "benchmarks.md"))
    workloads = names(ap, "--workloads", args.workloads, WORKLOADS)
    systems = names(ap, "--systems", args.systems, SYSTEMS, {"pytorch": "torch"})
    threads = [int(t) for t in args.threads.split(",")]
    dtypes = names(ap, "--dtypes", args.dtypes, DTYPES)
    b_rows = args.b_rows or (2560 if args.quick else None)
    b_rows = None if b_rows == 10_000 else b_rows
    conv_rows = args.conv_rows or (1280 if args.quick else None)
    conv_rows = None if conv_rows == CONV_ROWS else conv_rows

    info = machine_info()
    print(f"{info['cpu']}, {info['cores']} cores, {info['vector']} ({info['simd']} path), load {info['load']}; python {info['python']}, "
          f"numpy {info['numpy']}; {runs} runs of ~{run_time} s per cell")
    results, notes, extra = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for wname in workloads:
            w = WORKLOADS[wname]
            X64 = make_data(w["data"], b_rows if wname == "B" else conv_rows if w["kind"] == "conv" else None)
            init = {}
            for dtype in dtypes:
                weights, source = initial_weights(w, dtype)
                if w["kind"] == "ae":
                    flat = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in weights])
                elif w["kind"] == "conv":  # the same model's flat parameters, for sia itself
                    import bench_conv
                    flat = np.asarray(bench_conv.sia_model(w["net"], dtype, 1).params).copy()
                else:
                    flat = None
                path = os.path.join(tmp, f"{wname}-{dtype}.pickle")
                with open(path, "wb") as f:
                    pickle.dump({"X": X64.astype(dtype), "weights": weights, "params": flat}, f)
                init[dtype] = path
                notes[wname] = source
            jobs = {}  # every system at every thread count, timed in the same rounds
            for t in threads:
                for system in systems:
                    if system == "numpy" and w["kind"] == "conv":
                        results[(wname, t, system)] = {"error": "no NumPy version"}
                        continue
                    if system == "sia" and w["kind"] == "vae":
                        try:
                            import sia_autoencoder.vae  # noqa: F401
                        except ImportError as exc:
                            results[(wname, t, system)] = {"error": f"sia_autoencoder.vae: {exc}"}
                            print(f"  {wname} {t}t {system}: skipped ({exc})")
                            continue
                    jobs[(system, t)] = dict(system=system, workload=wname, threads=t, dtypes=dtypes,
                                             init=init, run_time=run_time)
            t0 = time.perf_counter()
            for (system, t), r in interleaved_runs(jobs, runs, dtypes, args.pause).items():
                results[(wname, t, system)] = r
                if "error" in r:
                    print(f"  {wname} {t}t {system}: skipped ({r['error']})")
                    continue
                extra.setdefault(system, r["info"])
                cells = "  ".join(f"{d} {fmt_rate(v['median'])}/s (loss1 {v['first_loss']:.6g})"
                                  for d, v in r["results"].items())
                print(f"  {wname:<8} {t}t {system:<5} {cells}")
            print(f"  [{wname}: {time.perf_counter() - t0:.0f} s]")

        # GFLOP/s of B: the whole step, and sia's gemm calls alone, against the FMA probe.
        gflops = None
        if "B" in workloads and "sia" in systems:
            peak = fma_peak()
            n_rows = b_rows or 10_000
            flops = matmul_flops_per_epoch(MNIST, n_rows)
            steps = -(-n_rows // 128)
            gflops = {"peak": peak, "flops_per_epoch": flops, "steps": steps, "rows": {}}
            for t in threads:
                job = dict(threads=t, dtypes=dtypes, runs=max(5, runs))
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--gemm-worker",
                                      json.dumps(job)], env=clean_env(t), capture_output=True, text=True)
                gemm_s = json.loads(out.stdout) if out.returncode == 0 else {}
                gflops["simd"] = gemm_s.get("simd", gflops.get("simd"))
                for dtype in dtypes:
                    r = results.get(("B", t, "sia"), {}).get("results", {}).get(dtype)
                    if not r:
                        continue
                    whole = flops / r["median"] / 1e9
                    inside = flops / (gemm_s[dtype] * steps) / 1e9 if dtype in gemm_s else None
                    pk = peak.get(dtype, {}).get(t)
                    gflops["rows"][(t, dtype)] = (whole, inside, pk)

        # GFLOP/s of D: the whole step, and sia's convolutions alone, against the FMA probe.
        cflops = None
        if "D" in workloads and "sia" in systems:
            peak = gflops["peak"] if gflops else fma_peak()
            n_rows = conv_rows or CONV_ROWS
            flops = conv_flops_per_step() * n_rows / 128
            cflops = {"peak": peak, "flops_per_epoch": flops, "rows": {}}
            for t in threads:
                job = dict(threads=t, dtypes=dtypes, runs=max(5, runs))
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--conv-worker",
                                      json.dumps(job)], env=clean_env(t), capture_output=True, text=True)
                conv_s = json.loads(out.stdout) if out.returncode == 0 else {}
                for dtype in dtypes:
                    r = results.get(("D", t, "sia"), {}).get("results", {}).get(dtype)
                    if not r:
                        continue
                    whole = flops / r["median"] / 1e9
                    direct = conv_s.get("direct_" + dtype)
                    inside = conv_flops_per_step() / direct / 1e9 if direct else None
                    cflops["rows"][(t, dtype)] = (whole, inside, peak.get(dtype, {}).get(t))
                    if dtype in conv_s and direct:
                        cflops.setdefault("wino", {})[(t, dtype)] = (conv_s[dtype], direct)
                    if "pools_" + dtype in conv_s:
                        cflops.setdefault("pools", {})[(t, dtype)] = conv_s["pools_" + dtype]

    full_d = (d60k(threads) if "D" in workloads and not args.quick and not args.no_d60k
              and "torch" in systems else {})
    floor = adam_floor() if "A-online" in workloads and "sia" in systems else {}
    if gflops and "torch" in systems:
        gflops["adam"] = adam_floor(n_params(MNIST))
    lines = report(results, workloads, systems, threads, dtypes, info, extra, notes, gflops, runs,
                   run_time, args, b_rows, floor, cflops, full_d, conv_rows)
    print("\n".join(lines))
    if out_md:
        os.makedirs(os.path.dirname(out_md), exist_ok=True)
        with open(out_md, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"\nwrote {out_md}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{k[0]}|{k[1]}|{k[2]}": v for k, v in results.items()}, f, indent=1)


def _median(results, wname, t, system, dtype):
    r = results.get((wname, t, system), {})
    return r.get("results", {}).get(dtype, {}).get("median")


def model_flops(name, B=128):
    """Flops of one training step of B images of workload D, E or F: 2·B·(multiply-adds per
    image) for the forward product, dW and din of every convolution and dense layer (no din for
    the first), from the sia model's layer records."""
    import bench_conv
    ints = np.asarray(bench_conv.sia_model(name, "float32", 1).net.ints)
    total, first = 0, True
    for row in ints:
        kind, ih, iw, ic, oh, ow, oc, kh, kw = (int(row[i]) for i in (0, 2, 3, 4, 5, 6, 7, 8, 9))
        macs = {0: ih * iw * ic * oh * ow * oc, 2: oh * ow * oc * kh * kw * ic,
                3: ih * iw * ic * kh * kw * oc}.get(kind)
        if macs is None:
            continue
        total += 2 * B * macs * (2 if first else 3)
        first = False
    return total


def report(results, workloads, systems, threads, dtypes, info, extra, notes, gflops, runs, run_time,
           args, b_rows, floor, cflops=None, full_d=None, conv_rows=None):
    cmd = "python bench/run_benchmarks.py " + " ".join(sys.argv[1:])
    L = ["# Benchmarks", "",
         "sia_autoencoder against a from-scratch NumPy implementation (`bench/numpy_ae.py`) and "
         "PyTorch CPU eager (`bench/torch_ae.py`, `bench/bench_conv.py`), on the workloads of "
         "issues 7 (A, B, C) and 17 (D, E, F). Generated by "
         f"`{cmd}` (`bench/run_benchmarks.py`).", "",
         "## Machine and versions", ""]
    blas = extra.get("numpy", {}).get("blas")
    if isinstance(blas, list):
        blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')})"
                         for b in blas)
    for k, v in [("CPU", f"{info['cpu']}, {info['cores']} cores, widest vector {info['vector']} "
                  f"(sia's matrix product: its {info['simd']} path; shared with other jobs; "
                  f"load average at start {info['load']}, at end "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})"), ("OS", info["os"]),
                 ("Python", info["python"]), ("NumPy", f"{info['numpy']}, BLAS: {blas or '?'}"),
                 ("PyTorch", extra.get("torch", {}).get("torch", "not installed")),
                 ("sia_autoencoder", f"{info['sia_autoencoder']}, commit {info['commit']}"),
                 ("Compiler", info["compiler"]), ("Date", info["date"]),
                 ("Environment", f"OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}, "
                  f"OPENBLAS_L2_SIZE={info['OPENBLAS_L2_SIZE']} in the parent; both removed "
                  "for every system's subprocess")]:
        L.append(f"- **{k}:** {v}")
    L += ["", "## Method", "",
          "- Same architecture, same initial weights (sia's seed-0 init copied into NumPy and "
          "PyTorch), Adam (lr 1e-3, β 0.9/0.999, ε 1e-8), the same dtype, and the same batch "
          "order: no shuffling in any system (sia `fit(..., shuffle=False)`), samples in their "
          "stored order.",
          "- Each (workload, threads, system) runs in its own subprocess with OMP_NUM_THREADS = "
          "OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = threads, `torch.set_num_threads(threads)`, "
          "`Autoencoder(threads=threads)`.",
          f"- Warm-up (one epoch, then a doubling calibration unless that epoch lasted a run "
          f"already), then {runs} timed runs of whole epochs, each ~{run_time} s long or one "
          "epoch when an epoch is longer (D, E, F); the table gives the **median** epochs per "
          "second.",
          "- D, E and F (issue 17) train on 10,000 Fashion-MNIST images (`sia_autoencoder.datasets."
          "load_fashion_mnist`), in their stored order, both systems built by "
          "`bench/bench_conv.py` from the same weights (sia's `get_weights()`, PyTorch's shapes); "
          "PyTorch computes BCE from the logits, as sia does; F's ε is drawn by each system.",
          f"- The runs are interleaved: for each workload, {runs} rounds, each timing every system "
          "at every thread count once per dtype, in an order that rotates between rounds, after "
          f"a pause of {args.pause} s (so that idle BLAS/OpenMP threads of the previous run have "
          "stopped spinning). A change in the machine's load thus reaches every cell of a "
          "workload alike, and its ratios (sia against the others, sia's 2 threads against its "
          "1) compare runs made side by side.",
          "- Ratios are sia's epochs/s over the other system's (> 1: sia is faster).",
          "- Loss of the first epoch is printed by the script for every system as a check that "
          "they train the same network (the VAE's ε is drawn by each system itself)."]
    if b_rows:
        L.append(f"- B runs on {b_rows} rows instead of 10,000 (`--b-rows`; every step is the same "
                 "work, so the time per epoch scales with the rows and the ratios do not change).")
    if "C" in workloads:
        L.append(f"- VAE initial weights: {notes.get('C', '?')}.")
    L += ["", "## Results (epochs per second, median)", "",
          "| workload | dtype | threads | " + " | ".join(f"{s}" for s in systems) +
          (" | sia × NumPy | sia × PyTorch |" if "sia" in systems else " |"),
          "|---|---|---|" + "---:|" * len(systems) + ("---:|---:|" if "sia" in systems else "")]
    for wname in workloads:
        for dtype in dtypes:
            for t in threads:
                med = {s: _median(results, wname, t, s, dtype) for s in systems}
                row = f"| {wname} | {dtype} | {t} | " + " | ".join(fmt_rate(med[s]) for s in systems)
                if "sia" in systems:
                    row += f" | {fmt_ratio(med['sia'], med.get('numpy'))} | {fmt_ratio(med['sia'], med.get('torch'))} |"
                else:
                    row += " |"
                L.append(row)
    if float(info["load"].split()[0]) > (info["cores"] or 1):
        L += ["", f"**Caveat:** the machine was oversubscribed during this run (load average "
              f"{info['load']} on {info['cores']} cores). Cells with 2 threads then mostly measure "
              "threads waiting for a descheduled partner (OpenMP barriers, BLAS and PyTorch "
              "thread pools alike) and swing by 10× between systems run a minute apart; "
              "1-thread cells are the trustworthy ones. Rerun on an idle machine."]
    skipped = [f"{k[0]} {k[1]}t {k[2]}: {v['error']}" for k, v in results.items() if "error" in v]
    if skipped:
        L += ["", "Skipped: " + "; ".join(sorted(set(skipped)))]
    L += ["", "Workloads: " + "; ".join(f"**{w}** {DESCRIPTION[w]}" for w in workloads) + "."]

    if gflops:
        pk = gflops["peak"]
        gflops_table(L, "B", gflops, "products",
                     "Matrix-product flops per epoch: 2·rows·n_in·n_out for the forward product, dW "
                     f"and dinp of each layer (no dinp for the first): "
                     f"{gflops['flops_per_epoch'] / 1e9:.1f} GFLOP. *Whole step* divides them by the "
                     "epoch time; *in the products* by the time of the same gemm calls alone (sia's "
                     f"`_core.gemm` on B's shapes, its {gflops.get('simd', '?')} path). Peak: the FMA "
                     "throughput probe of `bench/bench_gemm.py` at the widest vector the CPU runs "
                     f"({pk.get('bits') or 'n/a'} bits), per dtype: ")
    if gflops and gflops.get("adam"):
        b_floor(L, results, gflops)
    if cflops:
        gflops_table(L, "D", cflops, "convolutions",
                     "Convolution flops per epoch: 2·images·pixels·out_c·9·in_c for the forward "
                     "product, dW and din of each of D's five convolutions (no din for the first), "
                     "as a direct convolution computes them: "
                     f"{cflops['flops_per_epoch'] / 1e9:.1f} GFLOP. *Whole step* divides them by the "
                     "epoch time; *in the convolutions* by the time of the same layers' forward and "
                     "backward alone by sia's direct kernels (`_core.layer_forward` / "
                     "`layer_backward` on D's shapes, 128 images, `_core._set_winograd(False)`), "
                     "whose flops these are. Peak: the FMA probe at "
                     f"{cflops['peak'].get('bits') or 'n/a'} bits, per dtype: ")
        wino = cflops.get("wino", {})
        if wino:
            L += ["", "Training takes D's three 32-channel convolutions by Winograd's F(2×2, 3×3) "
                  "instead (`csrc/winograd.c`: 16 multiplications for 2×2 outputs of a channel "
                  "pair, against 36), so the whole step's figure above counts flops that it does "
                  "not compute. The same five layers as trained, forward and backward, 128 images:"]
            L += [f"- {dtype}, {t} thread{'s' if t > 1 else ''}: {1e3 * a:.1f} ms, against "
                  f"{1e3 * b:.1f} ms by the direct kernels ({b / a:.2f}× faster)"
                  for (t, dtype), (a, b) in sorted(wino.items(), key=lambda x: (x[0][1], x[0][0]))]
    conv_w = [w for w in ("D", "E", "F") if w in workloads]
    peak1 = (((cflops or gflops or {}).get("peak") or {}).get("float32") or {}).get(1)
    if conv_w and peak1 and "float32" in dtypes:
        n_rows = conv_rows or CONV_ROWS
        L += ["", "## The FMA peak bounds the convolutional workloads", "",
              "A direct convolution (PyTorch's algorithm, and sia's for every layer that Winograd "
              "does not take) cannot run a step in less than its products' flops at the one-thread "
              f"float32 FMA peak ({peak1:.1f} GFLOP/s), whatever the rest costs: that bounds the "
              "ratio to PyTorch that any direct implementation could reach here. sia's Winograd "
              "layers (D's three 32-channel convolutions; the forward and the weight gradient of F's "
              "14×14×64 → 28×28×32 Conv2DTranspose, by F(2, 2) on its phases) do fewer "
              "multiplications, which is how D can pass that bound.", "",
              "| workload | GFLOP per step (128 images) | at the peak, ms per step | PyTorch, ms per step (1 thread) | best possible × PyTorch | measured × PyTorch |",
              "|---|---:|---:|---:|---:|---:|"]
        steps = -(-n_rows // 128)
        for wname in conv_w:
            f = model_flops(wname)
            at_peak = f / (peak1 * 1e9)
            ts = _median(results, wname, 1, "torch", "float32")
            si = _median(results, wname, 1, "sia", "float32")
            t_step = ts / steps if ts else None
            L.append(f"| {wname} | {f / 1e9:.2f} | {1e3 * at_peak:.1f} | "
                     + (f"{1e3 * t_step:.1f} | {t_step / at_peak:.2f}× |" if t_step else "— | — |")
                     + (f" {ts / si:.2f}× |" if ts and si else " — |"))
        pools = (cflops or {}).get("pools", {}).get((1, "float32"))
        ts = _median(results, "D", 1, "torch", "float32")
        if pools and ts and "D" in conv_w:
            floor_d = model_flops("D") / (peak1 * 1e9) + pools
            L += ["", f"D also passes over its activations in two max pools and two upsamplings: "
                  f"{1e3 * pools:.1f} ms a step, forward and backward, timed alone "
                  "(`_core.layer_forward` / `layer_backward`, 128 images, sia's kernels: one pass "
                  "each, a vector of channels at a time). With them, a step of D needs at least "
                  f"{1e3 * floor_d:.1f} ms here, so a direct implementation is at most "
                  f"{ts / steps / floor_d:.2f}× PyTorch at one thread, before any ReLU, padding, "
                  "loss or optimizer pass."]
    if full_d:
        L += ["", "## One epoch of D on 60,000 images", "",
              "`python bench/bench_conv.py --net D --n 60000 --runs 1 --threads T` (shuffled "
              "epochs, wall clock), after the suite:", ""]
        L += [f"- {t} thread{'s' if t > 1 else ''}: {line}" for t, line in full_d.items()]
    if floor:
        L += ["", "## Adam alone bounds A-online", "",
              "An online epoch of A is 32 Adam steps over 2,977 parameters, whatever the rest of "
              "the step costs. `bench/adam_floor.c` times that update alone, as the core computes "
              "it (one flat loop; the faster of its AVX2 and AVX-512 builds), in this run:", "",
              "| dtype | Adam step alone | at most, in epochs/s | that bound × NumPy's A-online (1 thread) |",
              "|---|---:|---:|---:|"]
        for d, us in floor.items():
            np_sec = _median(results, "A-online", 1, "numpy", d)  # seconds per NumPy epoch
            bound = 1e6 / (32 * us)
            L.append(f"| {d} | {us:.2f} µs | {bound:,.0f} | "
                     + (f"{bound * np_sec:.0f}× |" if np_sec else "— |"))
        L += ["", "Most of that time is the square root and the division of every parameter's "
              "update (`bench/adam_floor.c` also times the update without them). An exact Adam "
              "cannot go below it, so where the bound is under 50× NumPy, the A-online goal of "
              "50× NumPy is out of reach in that dtype on this machine."]
    L += ["", "## Targets of issues 7 and 17", ""]
    L += targets(results, workloads, threads, dtypes, gflops, cflops)
    L += ["", "## Commands", "", "```",
          "pip install torch==2.13.0      # optional: PyTorch is skipped when absent",
          "python setup.py build_ext --inplace",
          "python bench/run_benchmarks.py --quick   # a few minutes, prints only",
          "python bench/run_benchmarks.py           # full, writes this file",
          "python bench/bench_gemm.py               # the matrix product alone",
          "cc -O3 -march=x86-64-v3 -fno-math-errno bench/adam_floor.c -lm && ./a.out   # Adam alone",
          f"./a.out {n_params(MNIST)}   # Adam alone on workload B's parameters",
          "```"]
    return L


def b_floor(L, results, gflops):
    """Append to L the bound on a step of B: its products at the FMA peak plus Adam alone on its
    parameters (bench/adam_floor.c), against PyTorch's step and issue 17's goal of 0.6× its time."""
    steps, n = gflops["steps"], n_params(MNIST)
    step_flops = gflops["flops_per_epoch"] / steps
    rows, verdicts = [], []
    for (t, dtype), (_, inside, p) in sorted(gflops["rows"].items(), key=lambda x: (x[0][1], x[0][0])):
        us, sia, torch = (gflops["adam"].get(dtype), _median(results, "B", t, "sia", dtype),
                          _median(results, "B", t, "torch", dtype))
        if not (us and p and sia and torch):
            continue
        adam = us * 1e-6 / t  # with 2 threads: as if the update split perfectly over the cores
        floor, goal = step_flops / (p * 1e9) + adam, B_TIME_GOAL * torch / steps
        need = step_flops / (goal - adam) / 1e9 if goal > adam else None
        rows.append(f"| {dtype} | {t} | {1e3 * step_flops / (p * 1e9):.2f} | {1e3 * adam:.2f} | "
                    f"{1e3 * floor:.2f} | {1e3 * torch / steps:.2f} | {floor * steps / torch:.2f} | "
                    f"{sia / torch:.2f} | " + (f"{need:.0f} GFLOP/s ({100 * need / p:.0f}%) |" if need
                                               else "— |") +
                    (f" {inside:.0f} ({100 * inside / p:.0f}%) |" if inside else " — |"))
        if dtype == "float32":
            verdicts.append(
                f"{t} thread{'s' if t > 1 else ''}: " +
                (f"the floor is above {B_TIME_GOAL:g}× PyTorch's step, so the goal is out of reach here"
                 if floor > goal else
                 f"the floor is {floor * steps / torch:.2f}× PyTorch's step, so it does not rule the "
                 f"goal out, but the goal needs the products at {100 * need / p:.0f}% of the peak "
                 f"with nothing but Adam beside them in a step, and they run at "
                 f"{100 * inside / p:.0f}% timed alone" if inside else "—"))
    if not rows:
        return
    L += ["", "## The FMA peak and Adam bound B", "",
          f"A step of B (128 rows) multiplies {step_flops / 1e9:.3f} GFLOP and updates "
          f"{n:,} parameters by Adam. It cannot take less than those products at the FMA peak "
          "plus that update alone: `bench/adam_floor.c " + str(n) + "` times one pass of Adam "
          "over them as the core computes it (the faster of its AVX2 and AVX-512 builds, arrays "
          "warm in cache); with 2 threads the table counts half of it, as if the update split "
          "perfectly over the cores. Issue 17's goal is an epoch in at most 0.6× PyTorch's "
          "time; the last columns give the products' rate that goal needs if nothing but Adam "
          "took time beside them, and their rate timed alone (the table above).", "",
          "| dtype | threads | products at the peak, ms | Adam alone, ms | floor, ms per step | "
          "PyTorch, ms per step | floor ÷ PyTorch | sia ÷ PyTorch | products for 0.6× | "
          "products timed alone |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows
    if verdicts:
        L += ["", "float32, " + "; ".join(verdicts) + "."]


def gflops_table(L, workload, data, inside, intro):
    """Append to L the section of one workload's GFLOP/s: ``intro`` (ending in "per dtype: ")
    followed by the peaks, then a row per (dtype, threads) of the whole step's rate and the rate
    in its ``inside`` (products, convolutions) alone, against the peak."""
    pk = data["peak"]
    peaks = "; ".join(f"{d}: " + (", ".join(f"{t} thread(s) {g:.1f}" for t, g in pk.get(d, {}).items())
                                  or "n/a") for d in DTYPES)
    L += ["", f"## GFLOP/s in workload {workload}", "", intro + peaks + " GFLOP/s.", "",
          f"| dtype | threads | whole step GFLOP/s | in the {inside} GFLOP/s | peak | % of peak ({inside}) |",
          "|---|---|---:|---:|---:|---:|"]
    for (t, dtype), (whole, within, p) in sorted(data["rows"].items(), key=lambda x: (x[0][1], x[0][0])):
        pct = f"{100 * within / p:.0f}%" if within and p else "—"
        L.append(f"| {dtype} | {t} | {whole:.1f} | {within:.1f} | {p or 0:.1f} | {pct} |"
                 if within else f"| {dtype} | {t} | {whole:.1f} | — | — | — |")


def targets(results, workloads, threads, dtypes, gflops, cflops=None):
    """One line per target and cell: measured value, goal, met or not."""
    out = []
    if "float32" in dtypes:  # issue 17: the convolutional workloads, float32
        for w in ("D", "E", "F"):
            if w not in workloads:
                continue
            for t in threads:
                a, b = _median(results, w, t, "sia", "float32"), _median(results, w, t, "torch", "float32")
                if a and b:
                    r = b / a
                    out.append(f"- {w}, float32, {t} thread{'s' if t > 1 else ''}: sia is {r:.2f}× "
                               f"PyTorch (goal ≥ {CONV_GOAL:g}×): **{'met' if r >= CONV_GOAL else 'not met'}**")
                one = _median(results, w, 1, "sia", "float32")
                if t == 2 and a and one and w in ("D", "E"):
                    s = one / a
                    out.append(f"- {w}, float32, 2 threads: {s:.2f}× sia's own 1-thread speed "
                               f"(goal ≥ {SPEEDUP_GOAL:g}×): **{'met' if s >= SPEEDUP_GOAL else 'not met'}**")
        if cflops and (1, "float32") in cflops["rows"]:
            whole, inside, p = cflops["rows"][(1, "float32")]
            if inside and p:
                out.append(f"- D, float32, 1 thread: {inside:.1f} GFLOP/s in the direct convolutions = "
                           f"{100 * inside / p:.0f}% of the {p:.1f} GFLOP/s peak (goal ≥ 60%): "
                           f"**{'met' if inside >= 0.6 * p else 'not met'}** (whole step: "
                           f"{100 * whole / p:.0f}%)")

    def ratio(w, t, other, d):
        a, b = _median(results, w, t, "sia", d), _median(results, w, t, other, d)
        return None if a is None or b is None else b / a

    checks = [("A-online", "torch", 100), ("A-online", "numpy", 50), ("A-batch", "torch", 10),
              ("A-batch", "numpy", 10), ("C", "torch", 3)]
    for w, other, goal in checks:
        if w not in workloads:
            continue
        for d in dtypes:
            for t in threads:
                r = ratio(w, t, other, d)
                if r is None:
                    continue
                out.append(f"- {w}, {d}, {t} thread{'s' if t > 1 else ''}: sia is {r:.1f}× "
                           f"{'PyTorch' if other == 'torch' else 'NumPy'} (goal ≥ {goal}×): "
                           f"**{'met' if r >= goal else 'not met'}**")
    if "B" in workloads and "float32" in dtypes:  # issue 17: 1 and 2 threads
        for t in threads:
            r = ratio("B", t, "torch", "float32")
            if r is not None:
                out.append(f"- B, float32, {t} thread{'s' if t > 1 else ''}: time ratio sia/PyTorch "
                           f"{1 / r:.2f} (issue 17's goal ≤ {B_TIME_GOAL:g}): "
                           f"**{'met' if 1 / r <= B_TIME_GOAL else 'not met'}**")
            whole, inside, p = (gflops or {}).get("rows", {}).get((t, "float32"), (None,) * 3)
            if inside and p:
                out.append(f"- B, float32, {t} thread{'s' if t > 1 else ''}: {inside:.1f} GFLOP/s in "
                           f"the products = {100 * inside / p:.0f}% of the widest peak, {p:.1f} "
                           f"GFLOP/s (issue 17's goal ≥ 70%): **{'met' if inside >= 0.7 * p else 'not met'}**")
    if "B" in workloads and 2 in threads and "float32" in dtypes:
        r = ratio("B", 2, "torch", "float32")
        if r is not None:
            out.append(f"- B, float32, 2 threads: time ratio sia/PyTorch {1 / r:.2f} (goal ≤ 1.0): "
                       f"**{'met' if 1 / r <= 1.0 else 'not met'}**")
        if gflops and (2, "float32") in gflops["rows"]:
            whole, inside, p = gflops["rows"][(2, "float32")]
            if inside and p:
                out.append(f"- B, float32, 2 threads: {inside:.1f} GFLOP/s in the products = "
                           f"{100 * inside / p:.0f}% of the {p:.1f} GFLOP/s peak (goal ≥ 50%): "
                           f"**{'met' if inside >= p / 2 else 'not met'}** (whole step: "
                           f"{100 * whole / p:.0f}%)")
    return out


if __name__ == "__main__":
    main()
