"""Ctrl-C latency of Autoencoder.fit: time from SIGINT to KeyboardInterrupt caught, per scenario.

    python bench/bench_interrupt.py [repeats]

Uses the child process of tests/test_interrupt.py (a timer thread sends SIGINT while the main
thread is in fit) and prints min / median / p90 / max latency for each scenario.
"""
import os
import random
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from test_interrupt import LONG_EPOCH, ONE_BIG_STEP, PER_EPOCH, SHORT_EPOCHS, run_child  # noqa: E402


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for name, cfg in [("long epoch, mini-batch 16", LONG_EPOCH), ("short epochs", SHORT_EPOCHS),
                      ("per-epoch Python (validation)", PER_EPOCH),
                      ("one huge batch (3000 x 512)", ONE_BIG_STEP)]:
        lat = []
        for _ in range(repeats):
            out = run_child(dict(cfg, delay=cfg["delay"] + random.uniform(0, 0.3)))
            assert out["outcome"] == "interrupted", out
            lat.append(out["latency"] * 1000)
        lat.sort()
        p90 = lat[min(len(lat) - 1, int(0.9 * len(lat)))]
        print(f"{name:32s} n={repeats:3d}  min {lat[0]:6.1f} ms  median {statistics.median(lat):6.1f} ms  "
              f"p90 {p90:6.1f} ms  max {lat[-1]:6.1f} ms")


if __name__ == "__main__":
    main()
