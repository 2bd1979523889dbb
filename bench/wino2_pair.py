"""Paired timing of Conv2DTranspose 3 × 3 stride-2 forwards ('same'), F(2, 2) on the phases
(csrc/winograd2.c) against the direct phases: each pair times one call with Winograd on and one
with it off (_core._set_winograd), back to back in alternating order, on the thread's CPU clock
(1 thread, 128 images); prints the median and quartiles of the per-pair ratios direct / Winograd.
The shapes that wino2_fits refuses go direct both ways (ratio ~1): the measurements that chose
the gate are in winograd2.c's header.

    PYTHONPATH=. python bench/wino2_pair.py float32 40                 # workload F's two layers
    PYTHONPATH=. python bench/wino2_pair.py float32 16 9,64,64 12,32,32  # n x n x ic -> 2n x 2n x oc
"""
import sys
import time

import numpy as np

from sia_autoencoder import _core

dtype, pairs, B = sys.argv[1], int(sys.argv[2]), 128
shapes = [tuple(int(v) for v in s.split(",")) for s in sys.argv[3:]] or [(7, 64, 64), (14, 64, 32)]
rng = np.random.default_rng(0)
for n, ic, oc in shapes:
    geom = np.array([n, n, ic, 2 * n, 2 * n, oc, 3, 3, 2, 2, 0, 0], np.int64)
    x = rng.random((B, n * n * ic)).astype(dtype)
    W = (rng.standard_normal(oc * 9 * ic + oc) * 0.1).astype(dtype)
    z = np.empty((B, 4 * n * n * oc), dtype)
    t = {True: [], False: []}
    for k in range(pairs):
        for on in ((True, False) if k % 2 else (False, True)):
            _core._set_winograd(on)
            t0 = time.thread_time()
            _core.layer_forward(_core.LAYER_CONV2D_T, geom, z, x, W, 1)
            t[on].append(time.thread_time() - t0)
    _core._set_winograd(True)
    w, d = np.array(t[True][2:]), np.array(t[False][2:])
    r = d / w
    th = (2 * n + 3) // 4
    print(f"{dtype} ConvT {n}x{n}x{ic} -> {2 * n}x{2 * n}x{oc} (tiles {4 * n * n / (16 * th * th):.0%} inside): "
          f"direct / winograd median {np.median(r):.3f} (quartiles {np.quantile(r, .25):.3f}-{np.quantile(r, .75):.3f}); "
          f"medians {np.median(w) * 1e3:.2f} / {np.median(d) * 1e3:.2f} ms", flush=True)
