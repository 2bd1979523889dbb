"""Run an experiment from a JSON config; with none, the letters autoencoder.

    python -m sia_autoencoder                       # the bundled letters config
    python -m sia_autoencoder denoising             # a bundled config, by name
    python -m sia_autoencoder my.json --out runs/a  # your own config
    python -m sia_autoencoder --list                # the bundled configs
    python -m sia_autoencoder --copy vae my_vae.json
    python -m sia_autoencoder my.json --check       # validate only
    python -m sia_autoencoder --schema              # every key of a config, documented

The output folder (default out/<config name>) receives the figures (PNG), summary.json and
the trained model (model.npz, read back with sia_autoencoder.load).
"""
import argparse
import os
import shutil
import sys


def schema_path():
    """The config schema's documentation, shipped inside the package (configs/schema.md)."""
    from .config import _configs_dir
    return _configs_dir().joinpath("schema.md")


def _parser():
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="sia-autoencoder", description=__doc__.split("\n")[0],
        epilog="Config schema: sia-autoencoder --schema. Exit status: 0 done, 1 training failed, "
               "2 invalid config or arguments.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("config", nargs="?", default=None,
                        help="a JSON config file, or the name of a bundled config "
                             "(default: letters)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: out/<config name>)")
    parser.add_argument("--epochs", type=int, metavar="N", default=None,
                        help="override the config's epochs (e.g. for a quick try)")
    parser.add_argument("--seed", type=int, metavar="N", default=None,
                        help="override the config's seed")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress and no report")
    parser.add_argument("--list", action="store_true", help="list the bundled configs and exit")
    parser.add_argument("--copy", nargs=2, metavar=("NAME", "DEST"),
                        help="copy a bundled config to DEST as a starting point, and exit")
    parser.add_argument("--check", action="store_true",
                        help="validate the config, print it as it would run, and exit")
    parser.add_argument("--schema", action="store_true",
                        help="print the config schema (every key, its default and meaning), and exit")
    return parser


def main(argv=None):
    from .config import ConfigError, bundled_config_path, bundled_configs, load_config
    parser = _parser()
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 0:
        parser.error(f"--epochs: expected an integer >= 0, got {args.epochs}")
    if args.seed is not None and args.seed < 0:
        parser.error(f"--seed: expected an integer >= 0, got {args.seed}")

    if args.schema:
        print(schema_path().read_text(encoding="utf-8"), end="")
        return 0
    if args.list:
        configs = bundled_configs()
        width = max(map(len, configs))
        for name, desc in configs.items():
            print(f"{name:<{width}}  {desc}")
        return 0
    if args.copy:
        name, dest = args.copy
        try:
            src = bundled_config_path(name)
        except FileNotFoundError as exc:
            print(f"sia-autoencoder: error: {exc}", file=sys.stderr)
            return 2
        if os.path.isdir(dest):
            dest = os.path.join(dest, os.path.basename(src))
        if os.path.exists(dest):
            print(f"sia-autoencoder: error: {dest} exists; not overwriting it", file=sys.stderr)
            return 2
        shutil.copyfile(src, dest)
        print(f"copied {name} to {dest}")
        return 0

    try:
        cfg = load_config(args.config if args.config is not None else "letters")
        if args.check:
            import json
            over = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
            print(json.dumps(cfg.replace(**over).to_dict(), indent=2, ensure_ascii=False))
            return 0
        from .runner import run
        run(cfg, args.out, epochs=args.epochs, seed=args.seed, verbose=0 if args.quiet else 1,
            print_fn=None if args.quiet else print)
    except ConfigError as exc:
        print(f"sia-autoencoder: invalid config: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"sia-autoencoder: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:   # e.g. piped into head: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("\nsia-autoencoder: interrupted", file=sys.stderr)
        return 130
    except FloatingPointError as exc:   # TrainingDivergedError
        print(f"sia-autoencoder: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
