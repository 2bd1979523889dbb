"""Where a step of a convolutional workload goes: each conv layer of D, E or F alone, forward and
backward (dW, db and din; no din for a first layer), 128 images, through ``_core.layer_forward``
/ ``layer_backward``, in ms and GFLOP/s (2·B·9·in_c·out_c per output pixel of a Conv2D, per input
pixel of a Conv2DTranspose, the products' multiply-adds as im2col would count them).

With ``--old DIR`` it also times another build of ``_core`` (DIR holds its .so, e.g. a copy taken
before a change) in the same process, each layer alternating the two builds, so that a ratio is
measured under the same load. One thread is timed on the thread's CPU clock (steadier on a
shared machine), more on the wall clock; each figure is the best of --runs.

With ``--split`` it also times the weight gradient alone (``layer_backward`` without din) and
gives din as the difference, so that a slow backward can be traced to one of its two products.

    python bench/conv_layers.py --net F --threads 1 2
    python bench/conv_layers.py --net F --old /tmp/old_core --threads 1
    python bench/conv_layers.py --net F --threads 1 --split
"""
import argparse
import glob
import importlib.util
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def conv_layers(net):
    """[(name, kind, geom)] of the conv layers of workload net, as sia builds them."""
    sys.path[:0] = [os.path.dirname(HERE), HERE]
    from bench_conv import sia_model
    from sia_autoencoder import _core
    names = {_core.LAYER_CONV2D: "Conv2D", _core.LAYER_CONV2D_T: "Conv2DTranspose"}
    out = []
    for row in sia_model(net, "float32", 1).net.ints:
        kind, g = int(row[0]), [int(v) for v in row[2:14]]
        if kind in names:
            out.append((f"{names[kind]} {g[0]}x{g[1]}x{g[2]} -> {g[3]}x{g[4]}x{g[5]} "
                        f"k{g[6]}x{g[7]} s{g[8]}", kind, np.array(g, np.int64)))
    return out


def load_core(folder, name):
    """The _core extension module in folder, imported under the package name `name`."""
    path = glob.glob(os.path.join(folder, "_core*.so"))[0]
    spec = importlib.util.spec_from_file_location(name + "._core", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_time(f, runs, threads):
    """Best seconds per call of f() over `runs` runs of 3 calls."""
    clock = time.thread_time if threads == 1 else time.perf_counter
    f()
    times = []
    for _ in range(runs):
        t0 = clock()
        for _ in range(3):
            f()
        times.append((clock() - t0) / 3)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", choices=["D", "E", "F"], default="F")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--old", help="folder of another build's _core .so, timed alongside")
    p.add_argument("--split", action="store_true",
                   help="also time dW alone; din is the backward's time minus it")
    args = p.parse_args()
    layers = conv_layers(args.net)
    from sia_autoencoder import _core
    builds = [("new", _core)] + ([("old", load_core(args.old, "sia_old"))] if args.old else [])
    B, dtype, rng = 128, args.dtype, np.random.default_rng(0)
    for t in args.threads:
        total = dict.fromkeys([n for n, _ in builds], 0.0)
        for i, (name, kind, geom) in enumerate(layers):
            ih, iw, ic, oh, ow, oc, kh, kw = (int(v) for v in geom[:8])
            x = rng.random((B, ih * iw * ic)).astype(dtype)
            W = (rng.standard_normal(oc * kh * kw * ic + oc) * 0.1).astype(dtype)
            z, dW = np.empty((B, oh * ow * oc), dtype), np.empty_like(W)
            dz = rng.standard_normal(z.shape).astype(dtype)
            dx = None if i == 0 else np.empty_like(x)
            flops = 2 * B * kh * kw * ic * oc * (oh * ow if kind == _core.LAYER_CONV2D else ih * iw)
            line = f"t={t} {name:46s}"
            for label, core in builds:
                f = best_time(lambda: core.layer_forward(kind, geom, z, x, W, t), args.runs, t)
                b = best_time(lambda: core.layer_backward(kind, geom, dx, dW, dz, x, W, False, t), args.runs, t)
                nb = 1 if dx is None else 2
                line += (f" | {label}: fwd {f * 1e3:6.2f} ms {flops / f / 1e9:4.0f} GF/s, "
                         f"bwd {b * 1e3:6.2f} ms {nb * flops / b / 1e9:4.0f} GF/s")
                if args.split and dx is not None:
                    w = best_time(lambda: core.layer_backward(kind, geom, None, dW, dz, x, W, False, t),
                                  args.runs, t)
                    line += (f" (dW {w * 1e3:6.2f} ms {flops / w / 1e9:4.0f} GF/s, "
                             f"din {(b - w) * 1e3:6.2f} ms"
                             + (f" {flops / (b - w) / 1e9:4.0f} GF/s)" if b > w else ")"))
                total[label] += f + b
            print(line, flush=True)
        print(f"t={t} all conv layers: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in total.items()))


if __name__ == "__main__":
    main()
