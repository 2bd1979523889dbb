"""The noise study on the font: the denoising autoencoder against the optimal decoder.

    python3 bench/denoising_study.py            # quick look: 2 seeds, 3000 epochs, ~2-3 minutes
    python3 bench/denoising_study.py --seeds 3 --draws 200 --epochs 10000 --out out/denoising
                                                # the target run (the full recipe), ~10 minutes

Prints the table (per noise type and level: optimal decoder, denoising AE, plain AE, ratio),
checks the target (>= 97% of the optimal decoder at every level <= 0.3), and with --out
writes study.json and the figures.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sia_autoencoder import datasets  # noqa: E402
from sia_autoencoder.denoising import (DEFAULT_LEVELS, DENOISE_STEPS, FIT, RECIPE,  # noqa: E402
                                       TRAIN_LEVELS, noise_study)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=2, help="training seeds (default 2)")
    ap.add_argument("--draws", type=int, default=50, help="noisy draws per character (default 50)")
    ap.add_argument("--epochs", type=int, default=3000,
                    help=f"training epochs (default 3000 for a quick run; the recipe's is {FIT['epochs']})")
    ap.add_argument("--levels", type=float, nargs="+", default=list(DEFAULT_LEVELS))
    ap.add_argument("--noise", nargs="+", default=["bit_flip", "salt_and_pepper", "gaussian"])
    ap.add_argument("--steps", type=int, default=DENOISE_STEPS, help="denoising passes")
    ap.add_argument("--per-level", action="store_true", help="one model per level instead of a mix")
    ap.add_argument("--target", type=float, default=0.97)
    ap.add_argument("--out", default=None, help="directory for study.json and the figures")
    args = ap.parse_args(argv)

    X, labels = datasets.load_font()
    print(f"recipe {RECIPE}\nfit {dict(FIT, epochs=args.epochs)}, trained on levels "
          f"{list(TRAIN_LEVELS)}, {args.steps} denoising passes", flush=True)
    t0 = time.perf_counter()
    study = noise_study(X, None, noise_types=args.noise, levels=args.levels,
                        seeds=range(args.seeds), draws=args.draws, epochs=args.epochs,
                        per_level=args.per_level, denoise_steps=args.steps, verbose=1)
    seconds = time.perf_counter() - t0
    print(study.to_table())
    ok, worst, where = study.meets_target(args.target, 0.3)
    print(f"\ntarget: denoising >= {args.target:.0%} of the optimal decoder at every level <= 0.3: "
          f"{'MET' if ok else 'NOT MET'} (worst ratio {worst:.3f} at {where[0]} {where[1]})")
    print(f"{args.seeds} seeds x {args.draws} draws x {X.shape[0]} characters per level, "
          f"{seconds:.0f} s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "study.json"), "w") as f:
            json.dump({"config": study.config, "records": study.records, "target_met": ok,
                       "worst_ratio": worst, "worst_at": where, "seconds": seconds}, f, indent=1)
        import matplotlib
        matplotlib.use("Agg")
        from sia_autoencoder import plots
        fig = plots.plot_noise_study(study)
        fig.savefig(os.path.join(args.out, "noise_study.png"), dpi=110)
        print(f"written to {args.out}/")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
