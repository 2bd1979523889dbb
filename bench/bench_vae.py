"""Epochs of the C VAE against the same VAE written in plain NumPy (bench/vae_numpy.py).

Both train the same architecture from the same weights with Adam, the same batch size and
float32; NumPy draws its order and ε with its own fast generator. Both use the same number of
threads: sia ``VAE(threads=...)``, which splits each step's batch into one part per thread
(csrc/sia.h), and OpenBLAS, limited before NumPy is imported. Each thread count runs in its own
process. Prints the median time per epoch over --runs runs and the ratio.

    python3 bench/bench_vae.py                       # emojis and digits, 1 and 2 threads
    python3 bench/bench_vae.py --dataset digits --batch 8 16 32 --runs 7 --threads 1
"""
import argparse
import os
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["emojis", "digits", "both"], default="both")
    p.add_argument("--batch", type=int, nargs="*", help="batch sizes (default: each recipe's)")
    p.add_argument("--activation", default=None, help="hidden activation (default: each recipe's)")
    p.add_argument("--encoder", type=int, nargs="+", help="encoder widths, input first (default: "
                   "each recipe's)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                   help="thread counts, each run in its own process (default: 1 2)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall: perf_counter; cpu: process time (steadier on a shared machine, "
                        "only meaningful with --threads 1)")
    args = p.parse_args()
    if len(args.threads) > 1:  # OpenBLAS reads its thread count once, when NumPy is imported
        import subprocess
        same = ["--dataset", args.dataset, "--runs", str(args.runs), "--clock", args.clock]
        same += ["--batch", *map(str, args.batch)] if args.batch else []
        same += ["--activation", args.activation] if args.activation else []
        same += ["--encoder", *map(str, args.encoder)] if args.encoder else []
        for t in args.threads:
            subprocess.run([sys.executable, __file__, *same, "--threads", str(t)], check=True)
        return
    args.threads = args.threads[0]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [here, os.path.dirname(here)]  # bench/ and the checkout (or the installed package)
    import vae_numpy as vn
    from sia_autoencoder import VAE, datasets

    clock = time.perf_counter if args.clock == "wall" else time.process_time
    # The recipes that draw the recognisable grids (see the VAE notes of the issue).
    recipes = {"emojis": dict(encoder=[400, 200, 100], activation="tanh", batch=8, c_epochs=200,
                              np_epochs=20),
               "digits": dict(encoder=[64, 64, 32], activation="relu", batch=32, c_epochs=20,
                              np_epochs=3)}
    names = list(recipes) if args.dataset == "both" else [args.dataset]
    print(f"threads={args.threads} clock={args.clock} runs={args.runs}, median ms per epoch")
    for name in names:
        r = recipes[name]
        X = (datasets.load_emojis()[0] if name == "emojis" else datasets.load_digits()[0]).astype(np.float32)
        for batch in args.batch or [r["batch"]]:
            act = args.activation or r["activation"]
            encoder = args.encoder or r["encoder"]
            model = VAE(encoder, 2, activation=act, seed=0, threads=args.threads)
            twin = vn.NumpyVAE(model.enc_sizes, list(zip(model.enc.act, model.enc.beta)),
                               model.dec_sizes, list(zip(model.dec.act, model.dec.beta)),
                               model.params.copy(), loss=vn.BCE)
            gen = np.random.default_rng(0)
            n, k = X.shape[0], model.latent_dim
            t_c, t_np = [], []
            model.fit(X, epochs=1, batch_size=batch)  # warm up
            for _ in range(args.runs):
                t0 = clock()
                model.fit(X, epochs=r["c_epochs"], batch_size=batch)
                t_c.append((clock() - t0) / r["c_epochs"])
                t0 = clock()
                for _ in range(r["np_epochs"]):
                    order = gen.permutation(n)
                    eps = [gen.standard_normal((min(batch, n - i), k)).astype(np.float32)
                           for i in range(0, n, batch)]
                    twin.train_epoch(X, order, eps, batch)
                t_np.append((clock() - t0) / r["np_epochs"])
            c, nump = float(np.median(t_c)), float(np.median(t_np))
            print(f"{name:7s} {str(encoder):16s} latent 2 {act:5s} batch {batch:4d} "
                  f"({-(-n // batch)} steps): C {c * 1e3:8.2f}  NumPy {nump * 1e3:8.2f}  "
                  f"ratio {nump / c:5.1f}x", flush=True)


if __name__ == "__main__":
    main()
