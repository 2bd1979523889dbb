"""The letters target: the documented recipe on seeds 0-9, one thread.

    python bench/letters_seeds.py [--seeds 10] [--dtype float32]

Prints a markdown table (seed, letters learned with <= 1 wrong pixel, max wrong pixels, epochs,
seconds) and how many seeds reach 0 wrong pixels. Each run is timed from the call to fit to its
return, after one warm-up run.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sia_autoencoder.letters import train_letters  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    train_letters(0, threads=1, dtype=args.dtype)  # warm-up: imports, page faults
    rows = []
    for seed in range(args.seeds):
        ae, X, labels, history, seconds = train_letters(seed, threads=1, dtype=args.dtype)
        errs = ae.pixel_errors(X)
        rows.append((seed, int((errs <= 1).sum()), int(errs.max()), len(history), seconds))
    print(f"| seed | letters learned (≤ 1 wrong pixel) | max wrong pixels | epochs | seconds |")
    print("|---:|---:|---:|---:|---:|")
    for seed, learned, worst, epochs, seconds in rows:
        print(f"| {seed} | {learned}/32 | {worst} | {epochs} | {seconds:.3f} |")
    perfect = sum(r[2] == 0 for r in rows)
    print(f"\n{sum(r[1] == 32 for r in rows)}/{len(rows)} seeds learn all 32 letters; "
          f"{perfect}/{len(rows)} reach 0 wrong pixels; slowest run {max(r[4] for r in rows):.3f} s")


if __name__ == "__main__":
    main()
