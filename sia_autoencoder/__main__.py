"""python -m sia_autoencoder [--out DIR] [--seed N]: the letters main job."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sia-autoencoder", description=__doc__)
    parser.add_argument("--out", default="out", help="output folder (default: out)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    from .letters import run
    report = run(args.out, seed=args.seed, verbose=0 if args.quiet else 1)
    return 0 if report["letters_learned"] == report["letters_total"] else 1


if __name__ == "__main__":
    sys.exit(main())
