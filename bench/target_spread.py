"""How far issue 17's time-ratio targets move between runs of the suite on the same code: reads
the ``--json`` files of several ``bench/run_benchmarks.py`` runs and prints, for each target that
a run's epoch times decide, its value in every run and whether it was met.

    for i in 1 2 3; do
        python bench/run_benchmarks.py --workloads B,D,E --systems sia,torch --dtypes float32 \\
            --runs 5 --no-d60k --out /tmp/run$i.md --json /tmp/run$i.json
    done
    python bench/target_spread.py /tmp/run1.json /tmp/run2.json /tmp/run3.json

The targets (float32): D, E and F ≥ 3× PyTorch's epochs per second on 1 and 2 threads; D and E
on 2 threads ≥ 1.7× sia's own 1-thread speed; B's epoch time ≤ 0.6× PyTorch's on 1 and 2
threads. The %-of-peak targets need the suite's separate product timings, which the JSON does
not hold: they are in each run's report.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_benchmarks import B_TIME_GOAL, CONV_GOAL, SPEEDUP_GOAL, _median  # noqa: E402

DTYPE = "float32"


def targets(run):
    """[(name, value, met)] for every target this run decides: a ratio of two cells' epoch times.
    run: a --json file's contents, keyed 'workload|threads|system' as run_benchmarks writes it."""
    results = {}
    for key, cell in run.items():
        w, t, system = key.split("|")
        results[(w, int(t), system)] = cell

    def epoch_seconds(workload, threads, system):  # None when the run did not time that cell
        return _median(results, workload, threads, system, DTYPE)

    out = []

    def add(name, num, den, goal, at_least):
        if num is not None and den is not None:
            value = num / den
            out.append((name, value, value >= goal if at_least else value <= goal))

    for w in ("D", "E", "F"):
        for t in (1, 2):  # epochs/s ratio = PyTorch's seconds over sia's
            add(f"{w} {t}t × PyTorch (≥ {CONV_GOAL:g})", epoch_seconds(w, t, "torch"), epoch_seconds(w, t, "sia"),
                CONV_GOAL, True)
    for w in ("D", "E"):
        add(f"{w} 2t ÷ its 1t (≥ {SPEEDUP_GOAL:g})", epoch_seconds(w, 1, "sia"), epoch_seconds(w, 2, "sia"),
            SPEEDUP_GOAL, True)
    for t in (1, 2):
        add(f"B {t}t time ÷ PyTorch's (≤ {B_TIME_GOAL:g})", epoch_seconds("B", t, "sia"), epoch_seconds("B", t, "torch"),
            B_TIME_GOAL, False)
    return out


def table(runs):
    """Markdown rows: a target, its value in each run (✔ when met), and how many runs met it."""
    names, cells = [], {}
    for i, run in enumerate(runs):
        for name, value, met in targets(run):
            if name not in cells:
                names.append(name)
                cells[name] = [None] * len(runs)
            cells[name][i] = (value, met)
    lines = ["| target | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " | met |",
             "|---|" + "---:|" * len(runs) + "---:|"]
    for name in names:
        row = ["—" if c is None else f"{c[0]:.3f}" + (" ✔" if c[1] else "") for c in cells[name]]
        met = sum(1 for c in cells[name] if c is not None and c[1])
        timed = sum(1 for c in cells[name] if c is not None)
        lines.append(f"| {name} | " + " | ".join(row) + f" | {met} of {timed} |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+", help="files written by run_benchmarks.py --json")
    args = ap.parse_args(argv)
    runs = []
    for path in args.json:
        with open(path) as f:
            runs.append(json.load(f))
    lines = table(runs)
    if len(lines) == 2:
        sys.exit("none of the files times both cells of any target (float32 sia and torch, or sia at 1 and 2 threads)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
