"""bench/target_spread.py: issue 17's time-ratio targets computed from run_benchmarks.py's JSON,
one column per run: epochs/s ratios are the other cell's seconds over sia's, B's goal is a time
ratio at most 0.6, and a target whose cells a run did not time shows a dash."""
import json
import os
import subprocess
import sys

import pytest
from repo_scripts import load_script

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "target_spread.py")


@pytest.fixture(scope="module")
def spread():
    return load_script("bench/target_spread.py")


def cell(seconds):
    return {"info": {}, "results": {"float32": {"times": [seconds], "epochs_per_run": 1, "median": seconds}}}


RUN_A = {"D|1|sia": cell(3.0), "D|1|torch": cell(9.6), "D|2|sia": cell(1.6), "D|2|torch": cell(4.0),
         "B|1|sia": cell(0.8), "B|1|torch": cell(1.25)}
RUN_B = {"D|1|sia": cell(2.0), "D|1|torch": cell(5.0), "D|2|sia": cell(1.25), "D|2|torch": cell(4.0)}


def test_targets_are_ratios_of_the_cells_epoch_times(spread):
    got = {name: (round(value, 6), met) for name, value, met in spread.targets(RUN_A)}
    assert got == {"D 1t × PyTorch (≥ 3)": (3.2, True), "D 2t × PyTorch (≥ 3)": (2.5, False),
                   "D 2t ÷ its 1t (≥ 1.7)": (1.875, True), "B 1t time ÷ PyTorch's (≤ 0.6)": (0.64, False)}


def test_table_has_a_column_per_run_and_counts_the_runs_that_met(spread):
    rows = spread.table([RUN_A, RUN_B])
    assert rows[0] == "| target | run 1 | run 2 | met |"
    assert "| D 1t × PyTorch (≥ 3) | 3.200 ✔ | 2.500 | 1 of 2 |" in rows
    assert "| D 2t ÷ its 1t (≥ 1.7) | 1.875 ✔ | 1.600 | 1 of 2 |" in rows
    assert "| B 1t time ÷ PyTorch's (≤ 0.6) | 0.640 | — | 0 of 1 |" in rows


def test_files_without_a_target_are_an_error(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"A-online|1|sia": cell(0.01)}))
    r = subprocess.run([sys.executable, SCRIPT, str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "none of the files times both cells of any target" in r.stderr
    assert r.stdout == ""
