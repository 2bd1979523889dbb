"""Benchmark of sia_autoencoder._core.gemm on the products of the MNIST autoencoder.

Workload: layers [784, 512, 256, 32, 256, 512, 784], batch B = 128. Every dense layer of width
n_in -> n_out makes three products; the encoder's three layer shapes (the decoder mirrors them)
give nine:

    forward  NT  out  (B, n_out)    = inp  (B, n_in)   · W (n_out, n_in)ᵀ
    dW       TN  dW   (n_out, n_in) = dout (B, n_out)ᵀ · inp (B, n_in)
    dinp     NN  dinp (B, n_in)     = dout (B, n_out)  · W (n_out, n_in)

Each is timed at nthreads 1 and 2, in float32 and float64 (median of >= 5 runs after a
warm-up, accumulate off), and reported in GFLOP/s (2·M·N·K flops), as a share of the machine's
peak, and as a ratio to numpy.matmul on the same shapes with the same number of threads
(> 1 means sia is faster).

The peak is measured two ways: a small FMA-throughput probe in C (fma_peak: compiled at run time
with the system cc into a temporary directory, at the widest vector the CPU runs: 512 bits with
AVX-512, else 256; float32 and float64; 1 and 2 threads), and a large numpy sgemm, which is a
lower bound. If no C compiler works, the probe is skipped. bench/run_benchmarks.py takes its peak
from fma_peak too. The CPU and sia's vector path (SIA_SIMD, _core.simd_path()) are printed.

numpy runs in subprocesses with OPENBLAS_NUM_THREADS (and OMP_NUM_THREADS) set to the thread
count and OPENBLAS_CORETYPE removed from the environment: some machines here set
OPENBLAS_CORETYPE to an older core, which slows OpenBLAS down and would flatter the ratio.

Usage: python bench/bench_gemm.py [--runs 7]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = [(784, 512), (512, 256), (256, 32)]
BATCH = 128

PROBE_C = r"""
#include <stdio.h>
#include <omp.h>
/* REAL and BYTES come from the command line: one vector of BYTES bytes (64: AVX-512, 32: AVX2). */
typedef REAL vec __attribute__((vector_size(BYTES)));
#define STEP(a) a = a * x + y
/* 10 independent FMA chains per thread (2 units x 4 cycles of latency need 8); the asm keeps
   them in registers. */
int main(void) {
    const long iters = 30000000;
    for (int threads = 1; threads <= 2; threads++) {
        double t0 = omp_get_wtime();
        REAL sink = 0;
        #pragma omp parallel num_threads(threads) reduction(+:sink)
        {
            vec x = {(REAL)1.0000001}, y = {(REAL)0.9999999};
            vec a0 = x, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9;
            for (long n = 0; n < iters; n++) {
                __asm__("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4));
                STEP(a0); STEP(a1); STEP(a2); STEP(a3); STEP(a4); STEP(a5); STEP(a6); STEP(a7); STEP(a8); STEP(a9);
            }
            vec s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
            sink += s[0] + s[1];
        }
        double dt = omp_get_wtime() - t0;
        printf("%d %.3f %g\n", threads, 2.0 * (BYTES / sizeof(REAL)) * 10 * iters * threads / dt / 1e9, (double)sink);
    }
    return 0;
}
"""
# The widest vector first: a CPU without AVX-512 fails to compile or run (SIGILL) its probe.
PROBE_WIDTHS = [(512, ["-mavx512f", "-mfma"]), (256, ["-mavx2", "-mfma"])]


def fma_probe(real="float"):
    """(bits, {threads: GFLOP/s}): the FMA throughput of `real` at the widest vector the CPU
    runs (512 or 256 bits), 1 and 2 threads; (None, {}) if no probe compiles and runs."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None, {}
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "probe.c")
        with open(src, "w") as f:
            f.write(PROBE_C)
        for bits, flags in PROBE_WIDTHS:
            exe = os.path.join(d, f"probe{bits}")
            r = subprocess.run([cc, "-O2", *flags, "-fopenmp", f"-DREAL={real}", f"-DBYTES={bits // 8}",
                                src, "-o", exe], capture_output=True)
            if r.returncode:
                continue
            run = subprocess.run([exe], capture_output=True, text=True)
            if run.returncode:
                continue
            lines = [line.split() for line in run.stdout.split("\n") if line.strip()]
            return bits, {int(t): float(g) for t, g, _ in lines}
    return None, {}


def fma_peak(tries=3):
    """The machine's peak, for every "% of peak" of the benchmarks: {"bits": 512 or 256 (or None),
    "float32": {threads: GFLOP/s}, "float64": {...}}, each the best of `tries` probes (a probe
    that shares a core with another job measures less than the peak)."""
    peak = {"bits": None, "float32": {}, "float64": {}}
    for dtype, real in (("float32", "float"), ("float64", "double")):
        for _ in range(tries):
            bits, g = fma_probe(real)
            peak["bits"] = peak["bits"] or bits
            for t, v in g.items():
                peak[dtype][t] = max(peak[dtype].get(t, 0.0), v)
    return peak


def products(dtype, seed=0):
    """[(name, C, A, B, transA, transB)] for the nine products, as gemm arguments."""
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in LAYERS:
        inp = rng.standard_normal((BATCH, n_in)).astype(dtype)
        W = rng.standard_normal((n_out, n_in)).astype(dtype)
        dout = rng.standard_normal((BATCH, n_out)).astype(dtype)
        tag = f"{n_in}->{n_out}"
        out.append((f"fwd  NT {tag}", np.empty((BATCH, n_out), dtype), inp, W, 0, 1))
        out.append((f"dW   TN {tag}", np.empty((n_out, n_in), dtype), dout, inp, 1, 0))
        out.append((f"dinp NN {tag}", np.empty((BATCH, n_in), dtype), dout, W, 0, 0))
    return out


def median_time(f, runs, min_time=0.02):
    """Median seconds per call of f(), over `runs` runs of enough calls to last min_time."""
    f()
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < min_time / 2:
        f()
        n += 1
    reps = max(1, int(n * min_time / (time.perf_counter() - t0)))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        times.append((time.perf_counter() - t0) / reps)
    return float(np.median(times))


def numpy_worker(runs):
    """Run in a subprocess: prints JSON {dtype: {name: seconds}} for numpy.matmul, plus a big sgemm."""
    res = {}
    for dtype in ("float32", "float64"):
        res[dtype] = {}
        for name, C, A, B, tA, tB in products(dtype):
            a, b = (A.T if tA else A), (B.T if tB else B)
            res[dtype][name] = median_time(lambda: np.matmul(a, b, out=C), runs)
    n = 2048
    X = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    Y = np.empty_like(X)
    res["big_sgemm_gflops"] = 2 * n ** 3 / median_time(lambda: np.matmul(X, X, out=Y), max(3, runs // 2)) / 1e9
    res["config"] = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    print(json.dumps(res))


def numpy_times(threads, runs):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--numpy-worker", "--runs", str(runs)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.runs = max(5, args.runs)
    if args.numpy_worker:
        return numpy_worker(args.runs)
    sys.path.insert(0, ROOT)
    from sia_autoencoder import _core

    probe = fma_peak()
    npy = {t: numpy_times(t, args.runs) for t in (1, 2)}
    print(f"numpy {np.__version__} ({npy[1]['config']}), OPENBLAS_CORETYPE "
          f"{'was set, removed for numpy' if 'OPENBLAS_CORETYPE' in os.environ else 'not set'}")
    print(f"CPU {cpu_name()}; sia's matrix product runs its {_core.simd_path()} path; FMA probe at "
          f"{probe['bits'] or 'n/a'} bits")
    for t in (1, 2):
        line = f"peak, {t} thread{'s' if t > 1 else ' '}: "
        line += ", ".join(f"{d} FMA probe {probe[d][t]:6.1f} GFLOP/s" for d in ("float32", "float64")
                          if t in probe[d]) or "FMA probe n/a"
        line += f", numpy 2048^3 sgemm {npy[t]['big_sgemm_gflops']:6.1f} GFLOP/s (lower bound)"
        print(line)
    peak = {(d, t): probe[d].get(t, npy[t]["big_sgemm_gflops"] / (1 if d == "float32" else 2))
            for d in ("float32", "float64") for t in (1, 2)}

    print(f"\n{'product':<18}{'M':>5}{'N':>5}{'K':>5} | " +
          " | ".join(f"{d[5:]}/{t}t GF/s %pk  x np" for d in ("float32", "float64") for t in (1, 2)))
    totals = {}
    for dtype in ("float32", "float64"):
        for i, (name, C, A, B, tA, tB) in enumerate(products(dtype)):
            M, N = C.shape
            K = A.shape[0] if tA else A.shape[1]
            for t in (1, 2):
                s = median_time(lambda: _core.gemm(C, A, B, tA, tB, False, t), args.runs)
                flops = 2 * M * N * K
                tot = totals.setdefault((dtype, t), [0, 0, 0])
                tot[0] += flops
                tot[1] += s
                tot[2] += npy[t][dtype][name]
                totals[(dtype, t, i)] = (flops / s / 1e9, flops / s / 1e9 / peak[(dtype, t)] * 100,
                                         npy[t][dtype][name] / s)
    for i, (name, C, A, B, tA, tB) in enumerate(products("float32")):
        M, N = C.shape
        K = A.shape[0] if tA else A.shape[1]
        cells = [f"{g:7.1f} {p:3.0f}% {r:5.2f}" for d in ("float32", "float64") for t in (1, 2)
                 for g, p, r in [totals[(d, t, i)]]]
        print(f"{name:<18}{M:5d}{N:5d}{K:5d} | " + " | ".join(cells))
    cells = []
    for d in ("float32", "float64"):
        for t in (1, 2):
            flops, s, s_np = totals[(d, t)]
            g = flops / s / 1e9
            cells.append(f"{g:7.1f} {g / peak[(d, t)] * 100:3.0f}% {s_np / s:5.2f}")
    print(f"{'all nine':<33} | " + " | ".join(cells))
    print("\nGF/s = 2MNK / median time; %pk = of the FMA probe of that dtype at the widest vector the "
          "CPU has, at that thread count; x np = numpy time / sia time.")


def cpu_name():
    """The CPU's model name (lscpu), for every figure printed."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:
        import platform
        return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
