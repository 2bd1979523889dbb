"""Memory and reference counts (issue 8): thousands of repeated calls to fit, encode, decode,
evaluate, the state dict round trip and failing calls leave memory (tracemalloc and RSS),
the reference counts of the arrays passed in, and the number of live objects unchanged."""
import gc
import os
import sys
import tracemalloc

import numpy as np
import pytest

import sia_autoencoder as sa
from sia_autoencoder import _core


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # pragma: no cover - not Linux


def measure(fn, repeats, arrays=(), warmup=50):
    """(python bytes, RSS kB, live objects, refcounts before, after) over `repeats` calls, after
    a warm-up."""
    for _ in range(warmup):
        fn()
    gc.collect()
    refs = [sys.getrefcount(a) for a in arrays]
    rss0, objs0 = rss_kb(), len(gc.get_objects())
    tracemalloc.start()
    snap0 = tracemalloc.take_snapshot()
    for _ in range(repeats):
        fn()
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    del snap0, snap1
    gc.collect()
    after = [sys.getrefcount(a) for a in arrays]
    return grown, rss_kb() - rss0, len(gc.get_objects()) - objs0, refs, after


@pytest.fixture(scope="module")
def model():
    X = (np.random.default_rng(0).random((16, 20)) > 0.5).astype(np.float32)
    return sa.Autoencoder([20, 8, 3, 8, 20], seed=0), X


# SIA_LEAK_SCALE=20 turns every loop into a soak (e.g. 1,600 save/load round trips, 20,000 fits).
SCALE = max(1, int(os.environ.get("SIA_LEAK_SCALE", "1")))
SANITIZED = os.environ.get("SIA_SANITIZED") == "1"


def assert_no_growth(fn, repeats, arrays=(), warmup=50):
    repeats *= SCALE
    py, rss, objs, refs, after = measure(fn, repeats, arrays, warmup)
    assert after == refs, "a reference to an input array leaked"
    # A leak of even 64 bytes per call would show as repeats * 64 bytes.
    # (under ASan one-time allocations of ~60 KiB show up; they do not grow with repeats)
    assert py < (128 if SANITIZED else 32) * 1024, f"tracemalloc: {py} bytes more after {repeats} calls"
    if not SANITIZED:  # ASan keeps freed blocks in quarantine: RSS grows there by design
        assert rss < 4 * 1024 + repeats * 64 // 1024, f"RSS grew by {rss} kB after {repeats} calls"
    # one-time caches (imports, weakrefs) may add a few; a leak of one object per call, hundreds
    assert objs < min(100, repeats // 2), f"{objs} more live objects after {repeats} calls"


def test_fit_does_not_leak(model):
    ae, X = model
    assert_no_growth(lambda: ae.fit(X, epochs=2, batch_size=4), 1000, [X])


def test_fit_with_callbacks_and_validation_does_not_leak(model):
    ae, X = model
    cbs = [sa.EarlyStopping(patience=100), sa.PixelErrorStop(0)]
    assert_no_growth(lambda: ae.fit(X, epochs=2, batch_size=4, validation_data=X, callbacks=cbs,
                                    noise="gaussian", noise_level=0.1), 500, [X])


def test_inference_does_not_leak(model):
    ae, X = model
    Z = ae.encode(X)

    def calls():
        ae.encode(X)
        ae.decode(Z)
        ae.reconstruct(X)
        ae.evaluate(X)
        ae.pixel_errors(X)

    assert_no_growth(calls, 2000, [X, Z])


def test_state_round_trip_does_not_leak(model):
    ae, X = model
    assert_no_growth(lambda: ae.load_state_dict(ae.state_dict()), 3000)


def test_failing_calls_do_not_leak(model):
    """The error paths of the checks and of the C glue release what they took."""
    ae, X = model
    bad_width, bad_nan = X[:, :5], np.where(X > 0.5, np.nan, X)
    net = ae.net
    wrong_dtype = X.astype(np.int64)

    def calls():
        for fn, args in ((ae.fit, (bad_width,)), (ae.fit, (bad_nan,)), (ae.encode, (bad_width,)),
                         (ae.decode, (X,))):
            try:
                fn(*args)
            except ValueError:
                pass
        for args in ((net.sizes, net.act, net.beta, net.params, None, wrong_dtype, X, 0),
                     (net.sizes, net.act, net.beta, net.params.astype(np.float64), None, X, X, 0),
                     (net.sizes, net.act, net.beta, net.params, None, X, X, 7)):
            try:
                _core.loss_grad(*args)
            except (TypeError, ValueError):
                pass

    assert_no_growth(calls, 1000, [X, bad_width, bad_nan, wrong_dtype, net.params, net.sizes])


def test_core_train_does_not_leak_its_arguments(model):
    ae, X = model
    net, opt = ae.net, ae.optimizer
    t = np.zeros(1, np.int64)
    losses = np.zeros(2)
    arrays = [net.sizes, net.act, net.beta, net.params, net.grads, X, opt.m, opt.v, t,
              ae.rng_state, losses]

    def call():
        _core.train(*arrays[:6], X, *arrays[6:], loss=1, batch=4, epochs=2)

    assert_no_growth(call, 3000, arrays)


def test_save_load_does_not_leak(model, tmp_path):
    sio = pytest.importorskip("sia_autoencoder.io")
    ae, X = model
    path = str(tmp_path / "model.npz")

    def call():
        sio.save(ae, path)
        sio.load(path)

    assert_no_growth(call, 80, [X], warmup=10)  # each save is fsync'ed: slow
