"""Same seed, data and thread count -> bit-identical results, for every model class, whatever
the verbosity, the callbacks, and however the epochs are split into fit calls or into the C
core's slices (issue 18: a VAE's weights moved by ~1e-2 with verbose=2, a callback, or
fit(epochs=3) twice, because its trainer kept shuffling the previous epoch's order, and the
order started from 0..n-1 again at every call)."""
import numpy as np
import pytest

from sia_autoencoder import VAE, Autoencoder, DenoisingAutoencoder, _core
from sia_autoencoder.callbacks import Callback, EarlyStopping

EPOCHS = 6


def data(n=50, d=35, seed=0):
    return (np.random.default_rng(seed).random((n, d)) > 0.5).astype(np.float32)


# (name, constructor, fit keyword arguments): shuffling and noise on in every one.
MODELS = {
    "autoencoder": (lambda t: Autoencoder([35, 16, 4, 16, 35], seed=3, threads=t),
                    dict(noise="salt_and_pepper", noise_level=0.1)),
    "denoising": (lambda t: DenoisingAutoencoder([35, 16, 4, 16, 35], noise="bit_flip",
                                                 noise_level=0.1, seed=3, threads=t), {}),
    "denoising_mix": (lambda t: DenoisingAutoencoder([35, 16, 4, 16, 35], noise="gaussian",
                                                     noise_level=[0.1, 0.3], seed=3, threads=t), {}),
    "vae": (lambda t: VAE([35, 16], latent_dim=2, seed=3, threads=t), {}),
}


class Watcher(Callback):
    """Does nothing but look: any callback makes the loop call Python after every epoch."""

    def on_epoch_end(self, epoch, logs=None):
        self.last = dict(logs)


def fingerprint(model):
    opt = model.optimizer
    return (model.params.copy(), opt.m.copy(), opt.v.copy(), opt.t, model.rng_state.copy(),
            list(model.history_.history["loss"]))


def run(name, threads, ways, X, capsys=None):
    """Train a fresh model over the fit calls ``ways`` (a list of (epochs, extra kwargs));
    returns its fingerprint and every loss in order."""
    make, kw = MODELS[name]
    model = make(threads)
    losses = []
    for epochs, extra in ways:
        model.fit(X, epochs=epochs, batch_size=8, shuffle=True, **kw, **extra)
        losses += model.history_.history["loss"]
    if capsys is not None:
        capsys.readouterr()
    return fingerprint(model), losses


def assert_identical(a, b):
    (pa, ma, va, ta, ra, _), la = a
    (pb, mb, vb, tb, rb, _), lb = b
    assert ta == tb
    assert np.array_equal(ra, rb), "the generator's state differs"
    assert np.array_equal(pa, pb), f"weights differ by up to {np.abs(pa - pb).max():.3g}"
    assert np.array_equal(ma, mb) and np.array_equal(va, vb), "the optimizer's state differs"
    assert la == lb


WAYS = {
    "verbose=1": [(EPOCHS, dict(verbose=1))],
    "verbose=2": [(EPOCHS, dict(verbose=2))],
    "a callback": [(EPOCHS, dict(callbacks=[Watcher()]))],
    "early stopping that never fires": [(EPOCHS, dict(callbacks=[EarlyStopping("loss", 100)]))],
    "validation": [(EPOCHS, dict(validation_data=data(12, seed=5)))],
    "3 + 3": [(3, {}), (3, {})],
    "1 x 6": [(1, {})] * EPOCHS,
    "2 + 4 with verbose=2": [(2, {}), (4, dict(verbose=2))],
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(MODELS))
def test_watching_or_splitting_changes_nothing(name, threads, capsys):
    X = data()
    ref = run(name, threads, [(EPOCHS, {})], X)
    for way, calls in WAYS.items():
        got = run(name, threads, calls, X, capsys)
        try:
            assert_identical(ref, got)
        except AssertionError as exc:
            raise AssertionError(f"{name}, threads={threads}, {way}: {exc}") from None


@pytest.fixture
def pause_at_every_check():
    """The C core pauses (re-takes the GIL, checks for Ctrl-C, resumes) at every step and
    between the chunks of a step, instead of every 50 ms."""
    old = _core._set_slice_ns(1)
    try:
        yield
    finally:
        _core._set_slice_ns(old)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(MODELS))
def test_pauses_change_nothing(name, threads):
    # 300 rows in whole-batch steps: a step of more than 256 rows (SIA_STEP_ROWS) runs in
    # chunks, and the C core may pause between them.
    X = data(300)
    make, kw = MODELS[name]
    results = []
    for pause in (False, True):
        model = make(threads)
        old = _core._set_slice_ns(1) if pause else None
        try:
            model.fit(X, epochs=3, batch_size=8, **kw)
            model.fit(X, epochs=2, batch_size=300, **kw)
        finally:
            if old is not None:
                _core._set_slice_ns(old)
        results.append((fingerprint(model), []))
    assert_identical(*results)


def test_set_slice_ns_refuses_nonsense():
    with pytest.raises(ValueError, match="expected a duration >= 1, got 0"):
        _core._set_slice_ns(0)
