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
import sys

DTYPE = "float32"


def epoch_seconds(run, workload, threads, system):
    """The median seconds per epoch of one cell, or None when the run did not time it."""
    cell = run.get(f"{workload}|{threads}|{system}", {}).get("results", {}).get(DTYPE)
    return cell["median"] if cell else None


def targets(run):
    """[(name, value, met)] for every target this run decides: a ratio of two cells' epoch times."""
    out = []

    def add(name, num, den, goal, at_least):
        if num is not None and den is not None:
            value = num / den
            out.append((name, value, value >= goal if at_least else value <= goal))

    for w in ("D", "E", "F"):
        for t in (1, 2):  # epochs/s ratio = PyTorch's seconds over sia's
            add(f"{w} {t}t × PyTorch (≥ 3)", epoch_seconds(run, w, t, "torch"), epoch_seconds(run, w, t, "sia"), 3.0, True)
    for w in ("D", "E"):
        add(f"{w} 2t ÷ its 1t (≥ 1.7)", epoch_seconds(run, w, 1, "sia"), epoch_seconds(run, w, 2, "sia"), 1.7, True)
    for t in (1, 2):
        add(f"B {t}t time ÷ PyTorch's (≤ 0.6)", epoch_seconds(run, "B", t, "sia"), epoch_seconds(run, "B", t, "torch"),
            0.6, False)
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
