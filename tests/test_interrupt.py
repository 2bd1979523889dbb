"""Ctrl-C during fit (issue 8): KeyboardInterrupt arrives promptly even inside a long epoch, the
model keeps the weights of its last completed step, stays usable, and keeps its history.

Each case runs in a child process: a timer thread sends SIGINT to the process (as Ctrl-C in a
terminal or "interrupt kernel" in Jupyter does) while the main thread is inside ``fit``. The
bound asserted here is loose (2 s) so that a busy machine cannot make it flaky; the measured
latency distribution is reported by ``bench/bench_interrupt.py``.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(r"""
    import json, os, signal, sys, threading, time
    import numpy as np
    import sia_autoencoder as sa

    # As in a terminal or Jupyter: Python's handler raises KeyboardInterrupt. A child of a shell's
    # background job (`cmd &` without job control, as some CI runners start their script) inherits
    # SIGINT ignored, and Python then installs no handler, so Ctrl-C could not be simulated.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cfg = json.loads(sys.argv[1])
    rng = np.random.default_rng(0)
    X = (rng.random((cfg["n"], cfg["layers"][0])) > 0.5).astype(np.float32)
    ae = sa.Autoencoder(cfg["layers"], seed=0, threads=1)
    init = ae.params.copy()
    sent = {}

    def ctrl_c():
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(cfg["delay"], ctrl_c)
    t0 = time.perf_counter()  # before the timer starts: the interrupt comes >= delay after t0
    timer.start()
    try:
        ae.fit(X, epochs=cfg["epochs"], batch_size=cfg["batch"],
               validation_data=X[:64] if cfg.get("validation") else None)
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    caught = time.perf_counter()
    timer.join()
    steps_per_epoch = -(-cfg["n"] // cfg["batch"])
    hist = ae.history_.history.get("loss", []) if ae.history_ is not None else []
    out = dict(outcome=outcome, latency=caught - sent.get("t", caught), ran=caught - t0,
               epochs_trained=ae.epochs_trained_, history=len(hist), steps=ae.optimizer.t,
               steps_per_epoch=steps_per_epoch, finite=bool(np.isfinite(ae.params).all()),
               history_finite=bool(np.isfinite(hist).all()), changed=bool((ae.params != init).any()))
    # Still usable: inference, evaluation, and more training from where it stopped.
    out["reconstruct_finite"] = bool(np.isfinite(ae.reconstruct(X[:8])).all())
    t_before = ae.optimizer.t
    ae.fit(X[:64], epochs=1, batch_size=64)
    out["trains_again"] = ae.optimizer.t == t_before + 1 and ae.epochs_trained_ == out["epochs_trained"] + 1
    print(json.dumps(out))
""")


def run_child(cfg, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# Under tools/sanitize.sh the core runs ~5x slower (-O1 and ASan): the bound scales with it.
BOUND = 2.0 * (10 if os.environ.get("SIA_SANITIZED") == "1" else 1)


def check(out, delay):
    assert out["outcome"] == "interrupted", out
    assert out["latency"] < BOUND, out        # loose; see bench/bench_interrupt.py for the numbers
    assert out["ran"] >= delay, out
    assert out["finite"] and out["history_finite"], out
    # Ctrl-C may now land inside the first step of a huge batch: weights change iff a step ran.
    assert out["changed"] == (out["steps"] > 0), out
    # History: one entry per completed epoch, and the weights are those of the last completed step,
    # which lies within the epoch that was running.
    assert out["history"] == out["epochs_trained"], out
    k, s = out["epochs_trained"], out["steps_per_epoch"]
    assert k * s <= out["steps"] < (k + 1) * s, out
    assert out["reconstruct_finite"] and out["trains_again"], out


# One long epoch of many mini-batch steps: the GIL is re-taken between steps every 50 ms.
LONG_EPOCH = dict(layers=[256, 128, 16, 128, 256], n=40000, batch=16, epochs=1000, delay=0.6)
# Several short epochs before the interrupt: the completed ones are kept in the history.
SHORT_EPOCHS = dict(layers=[64, 32, 8, 32, 64], n=2000, batch=20, epochs=100000, delay=0.8)
# Validation data: Python runs once per epoch, so the interrupt arrives in C or in Python.
PER_EPOCH = dict(SHORT_EPOCHS, validation=True)
# One huge batch: a single step is the unit that is never split (about 0.3-0.5 s here).
ONE_BIG_STEP = dict(layers=[512, 256, 32, 256, 512], n=3000, batch=3000, epochs=1000, delay=0.7)


@pytest.mark.parametrize("cfg", [LONG_EPOCH, SHORT_EPOCHS, PER_EPOCH, ONE_BIG_STEP],
                         ids=["long_epoch", "short_epochs", "per_epoch_python", "one_big_step"])
def test_ctrl_c_during_fit(cfg):
    out = run_child(cfg)
    check(out, cfg["delay"])
    if cfg["n"] == 2000:
        assert out["epochs_trained"] >= 1, out  # some epochs completed before Ctrl-C, and kept
