"""bench/run_benchmarks.py's lists of names (--workloads, --systems, --dtypes): an unknown name is
an error that names the option, what it got and what it takes, before any work starts; 'pytorch'
is the system 'torch'. (An unknown system used to run as PyTorch under its own name and then had
no column in the report.)"""
import argparse
import os
import subprocess
import sys

import pytest
from repo_scripts import load_script

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "run_benchmarks.py")


@pytest.fixture(scope="module")
def bench():
    return load_script("bench/run_benchmarks.py")


class Refused(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Refused(message)


def test_names_keep_known_ones_in_order_and_map_aliases(bench):
    got = bench.names(Parser(), "--systems", "torch,sia,,pytorch", bench.SYSTEMS, {"pytorch": "torch"})
    assert got == ["torch", "sia", "torch"]
    assert bench.names(Parser(), "--workloads", "F,D", bench.WORKLOADS) == ["F", "D"]


@pytest.mark.parametrize("option, text", [("--systems", "sia,foo"), ("--workloads", "G"), ("--dtypes", "float16"),
                                          ("--systems", ",")])
def test_unknown_names_are_refused_with_what_was_expected(bench, option, text):
    known = {"--systems": bench.SYSTEMS, "--workloads": bench.WORKLOADS, "--dtypes": bench.DTYPES}[option]
    with pytest.raises(Refused) as e:
        bench.names(Parser(), option, text, known)
    assert option in str(e.value) and repr(text) in str(e.value) and ", ".join(known) in str(e.value)


def test_the_script_stops_before_any_work():
    r = subprocess.run([sys.executable, SCRIPT, "--systems", "sia,pytroch", "--quick"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "--systems: got 'sia,pytroch'; expected a comma-separated subset of sia, numpy, torch" in r.stderr
    assert r.stdout == ""  # no machine probe, no workload
