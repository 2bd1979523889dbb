"""Issue 19 (reliability, round 2): one test per item, each failing before its fix.

A hang is tested in a child process under a timeout; the rest in process.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import sia_autoencoder as sa
from sia_autoencoder import _core, callbacks, optimizers
from sia_autoencoder.denoising import DenoisingAutoencoder, noise_study
from sia_autoencoder.vae import VAE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def X():
    return (np.random.default_rng(0).random((40, 12)) > 0.5).astype(np.float64)


def small(cls=sa.Autoencoder, **kw):
    if cls is VAE:
        return VAE(**{"encoder": [12, 6], "latent_dim": 2, "seed": 0, **kw})
    return cls(**{"layers": [12, 6, 2, 6, 12], "seed": 0, **kw})


MODELS = [sa.Autoencoder, DenoisingAutoencoder, VAE]


def run_child(code, timeout=60):
    """Run ``code`` in a fresh interpreter (this tree's package), killed after ``timeout`` s."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


# ---- a hang: the all-zero generator state ----

def test_the_zero_generator_state_is_refused_everywhere_and_never_hangs(tmp_path):
    code = f"""
    import numpy as np, sia_autoencoder as sa
    from sia_autoencoder import _core
    X = (np.random.default_rng(0).random((20, 8)) > 0.5).astype(float)
    m = sa.Autoencoder([8, 3, 8], seed=0)
    s = m.state_dict(); s["rng_state"][:] = 0
    for what, call in [("load_state_dict", lambda: m.load_state_dict(s)),
                       ("attribute", lambda: setattr(m, "rng_state", np.zeros(4, np.uint64)))]:
        try:
            call()
        except ValueError as e:
            assert "rng_state" in str(e) and "all zeros" in str(e), e
        else:
            raise AssertionError(what)
    m.rng_state[...] = 0                      # in place: the C core refuses it at the next fit
    try:
        m.fit(X, epochs=1, batch_size=4)
    except ValueError as e:
        assert "rng_state" in str(e), e
    else:
        raise AssertionError("fit")
    for call in (lambda: _core.noise_apply(np.zeros(3), 1, 0.5, np.zeros(4, np.uint64)),
                 lambda: _core.rng_uniform(np.zeros(3), np.zeros(4, np.uint64))):
        try:
            call()
        except ValueError as e:
            assert "all zeros" in str(e)
        else:
            raise AssertionError("_core")
    good = sa.Autoencoder([8, 3, 8], seed=0)
    good.save({str(tmp_path / 'zero.npz')!r})
    import zipfile, io
    src = {str(tmp_path / 'zero.npz')!r}
    with zipfile.ZipFile(src) as z:
        members = {{n: z.read(n) for n in z.namelist()}}
    buf = io.BytesIO(); np.save(buf, np.zeros(4, np.uint64)); members["state.rng_state.npy"] = buf.getvalue()
    with zipfile.ZipFile(src, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    try:
        sa.load(src)
    except ValueError as e:
        assert "zero.npz" in str(e) and "all zeros" in str(e), e
    else:
        raise AssertionError("load")
    print("OK")
    """
    r = run_child(code, timeout=120)
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr


# ---- divergence keeps the last finite weights (float32 included) ----

def _all_finite(model):
    return all(np.isfinite(a).all() for a in (model.params, model.optimizer.m, model.optimizer.v))


@pytest.mark.parametrize("opt", ["gd", "momentum", "adam", "adamw", "nadam", "rmsprop", "adadelta"])
@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("threads", [1, 2])
def test_float32_divergence_keeps_finite_weights(X, cls, opt, threads):
    """lr = 3e38 is a float32 number, but lr·g overflows: the step that would write inf is out."""
    m = small(cls, dtype="float32", optimizer=opt, learning_rate=3e38, threads=threads)
    with pytest.raises(sa.TrainingDivergedError, match="updated weight"):
        m.fit(X, epochs=3, batch_size=16)
    assert _all_finite(m)
    assert m.epochs_trained_ == len(m.history_.epoch)


@pytest.mark.parametrize("kind", [_core.GD, _core.MOMENTUM, _core.ADAM, _core.ADAMW,
                                  _core.NADAM, _core.RMSPROP, _core.ADADELTA])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_overflowing_step_writes_nothing(kind, dtype):
    big = np.finfo(dtype).max
    p = np.array([1.0, -2.0, big / 2], dtype)
    m, v = np.full(3, 0.5, dtype), np.full(3, 0.25, dtype)
    g = np.array([1.0, 1.0, -big / 4], dtype)
    before = p.copy(), m.copy(), v.copy()
    t = _core.optim_step(p, m, v, g, kind, 1e300 if dtype == np.float64 else 3e38, 0.9, 0.9,
                         0.999, 1e-30, 7)
    assert t == 7
    for a, b in zip((p, m, v), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", [_core.GD, _core.MOMENTUM, _core.ADAM, _core.ADAMW, _core.NADAM])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["near_max", "nan_grad", "inf_param", "negative_v", "ordinary"])
def test_a_step_is_stored_exactly_when_every_value_is_finite(kind, dtype, case):
    """optim.c first bounds the step from the maxima of its inputs and skips the check pass when
    the bound proves it finite. Where the bound cannot (values near the largest REAL, a NaN or
    inf, a negative v), the check decides as before: the step is stored iff all it writes is
    finite, and what it stores is the same as without the bound (the NumPy reference)."""
    big = np.finfo(dtype).max
    rng = np.random.default_rng(4)
    p = rng.standard_normal(37).astype(dtype)
    m, v = (rng.standard_normal(37) * 0.1).astype(dtype), (rng.random(37) * 0.01).astype(dtype)
    g = rng.standard_normal(37).astype(dtype)
    if case == "near_max":
        p[5] = big * 0.7     # finite after the step, but beyond the bound's margin
    elif case == "nan_grad":
        g[30] = np.nan
    elif case == "inf_param":
        p[0] = np.inf
    elif case == "negative_v":
        v[3] = -1.0          # Adam's root of it is NaN
    before = p.copy(), m.copy(), v.copy()
    t = _core.optim_step(p, m, v, g, kind, 1e-3, 0.9, 0.9, 0.999, 1e-7, 3)
    adam_like = kind in (_core.ADAM, _core.ADAMW, _core.NADAM)
    diverges = case in ("nan_grad", "inf_param") or (case == "negative_v" and adam_like)
    assert t == (3 if diverges else 4)
    if diverges:
        for a, b in zip((p, m, v), before):
            np.testing.assert_array_equal(a, b)
    else:
        assert all(np.isfinite(a).all() for a in (p, m, v))


@pytest.mark.parametrize("cls", MODELS)
def test_lr_1e300_in_the_core_diverges_with_finite_weights(X, cls):
    """The C core's own check (Python refuses lr = 1e300 for float32 before, see below)."""
    m = small(cls, dtype="float64", optimizer="gd", learning_rate=1e300)
    try:
        m.fit(X, epochs=3, batch_size=8)
    except sa.TrainingDivergedError:
        pass
    assert _all_finite(m)
    ae = small(dtype="float32", optimizer="gd")
    net, o = ae.net, ae.optimizer
    losses = np.full(3, np.nan)
    t = np.zeros(1, np.int64)
    Xf = X.astype(np.float32)
    args = (net.sizes, net.act, net.beta, net.params, net.grads, Xf, Xf, o.m, o.v, t,
            ae.rng_state, losses)
    done, status = _core.train(*args, loss=_core.BCE, batch=8, epochs=3, optimizer=_core.GD,
                               lr=3e38)
    assert status == 2 and np.isfinite(net.params).all()
    # lr = 1e300 is inf in float32: the core refuses it before any step (Python does earlier).
    with pytest.raises(ValueError, match=r"lr: expected a value that float32 holds"):
        _core.train(*args, loss=_core.BCE, batch=8, epochs=3, optimizer=_core.GD, lr=1e300)


def test_float32_divergence_keeps_the_weights_of_the_last_applied_step(X):
    kw = dict(layers=[12, 4, 12], optimizer="gd", learning_rate=3e38, seed=1, dtype="float32")
    ae = sa.Autoencoder(**kw)
    with pytest.raises(sa.TrainingDivergedError):
        ae.fit(X, epochs=20, batch_size="batch", shuffle=False)
    ref = sa.Autoencoder(**kw)
    Xf = X.astype(np.float32)
    for _ in range(100):
        loss = ref.net.loss(Xf, Xf, "bce", grad=True)
        if not (np.isfinite(loss) and np.isfinite(ref.net.grads).all()):
            break
        try:
            ref.optimizer.step(ref.params, ref.net.grads)
        except FloatingPointError:
            break
    assert np.isfinite(ae.params).all()
    np.testing.assert_array_equal(ae.params, ref.params)
    assert ae.optimizer.t == ref.optimizer.t


# ---- BCE targets in [0, 1] ----

@pytest.mark.parametrize("call, name", [
    (lambda m, X: m.fit(X, Y=2 * X), "Y"),
    (lambda m, X: m.fit(X - 0.5), "X"),
    (lambda m, X: m.evaluate(X, 2 * X), "Y"),
    (lambda m, X: m.fit(X, validation_data=(X, 3 * X)), "validation_data Y"),
    (lambda m, X: m.fit(X, validation_data=X + 1), "validation_data X"),
])
@pytest.mark.parametrize("cls", [sa.Autoencoder, DenoisingAutoencoder])
def test_bce_targets_outside_0_1_are_refused(X, cls, call, name):
    m = small(cls)
    before = m.params.copy()
    with pytest.raises(ValueError, match=rf"^{name}: binary cross-entropy needs targets in \[0, 1\]"):
        call(m, X)
    np.testing.assert_array_equal(m.params, before)
    small(cls, loss="mse").fit(X - 0.5, epochs=1)          # MSE takes any target


@pytest.mark.parametrize("call, name", [
    (lambda m, X: m.fit(2 * X), "X"),
    (lambda m, X: m.fit(X, validation_data=2 * X), "validation_data"),
    (lambda m, X: m.evaluate(X - 1), "X"),
])
def test_vae_bce_targets_outside_0_1_are_refused(X, call, name):
    with pytest.raises(ValueError, match=rf"^{name}: binary cross-entropy needs targets"):
        call(small(VAE), X)


# ---- β and hyperparameters against the model's dtype ----

def test_beta_beyond_the_dtype_is_refused():
    with pytest.raises(ValueError, match=r"activation: β of layer 2 \(logistic\).*float32"):
        sa.Autoencoder([4, 2, 4], output_activation=("logistic", 1e300), dtype="float32")
    with pytest.raises(ValueError, match=r"float32"):
        VAE([4, 3], 2, output_activation=("logistic", 1e-50), dtype="float32")
    sa.Autoencoder([4, 2, 4], output_activation=("logistic", 1e300), dtype="float64")


@pytest.mark.parametrize("opt, pattern", [
    (optimizers.GradientDescent(3.5e38), r"GradientDescent.learning_rate: .*float32"),
    (optimizers.GradientDescent(1e-46), r"GradientDescent.learning_rate: .*float32"),
    (optimizers.Adam(eps=1e-46), r"Adam.eps: .*float32"),
    (optimizers.Adam(beta2=0.99999999), r"Adam.beta2: .*rounds to 1"),
    (optimizers.Momentum(momentum=0.999999999), r"Momentum.momentum: .*rounds to 1"),
])
@pytest.mark.parametrize("cls", MODELS)
def test_hyperparameters_are_checked_against_the_dtype(X, cls, opt, pattern):
    with pytest.raises(ValueError, match=pattern):
        small(cls, optimizer=opt, dtype="float32")
    small(cls, optimizer=opt, dtype="float64")               # float64 holds them
    m = small(cls, dtype="float32")
    m.optimizer = opt                                        # changed after construction
    with pytest.raises(ValueError, match=pattern):
        m.fit(X, epochs=1)


def test_numpy_scalars_are_accepted_as_hyperparameters(X):
    f32, i64 = np.float32, np.int64
    opt = optimizers.Adam(learning_rate=f32(0.01), beta1=f32(0.8), beta2=np.float64(0.99), eps=f32(1e-7))
    assert type(opt.learning_rate) is float and opt.beta1 == pytest.approx(0.8)
    optimizers.Momentum(f32(0.1), momentum=f32(0.5))
    m = sa.Autoencoder([12, np.int32(4), 12], activation=("tanh", f32(0.5)), learning_rate=f32(0.01),
                       threads=i64(1), seed=i64(0))
    cbs = [callbacks.LossThreshold(f32(1e-3)), callbacks.PixelErrorStop(i64(0)),
           callbacks.EarlyStopping(monitor="loss", patience=i64(2), min_delta=f32(0.0))]
    m.fit(X, epochs=i64(2), batch_size=i64(8), callbacks=cbs)
    DenoisingAutoencoder([12, 4, 12], noise_level=f32(0.1), seed=0).fit(X, epochs=1, noise_level=f32(0.2))
    VAE([12, 4], i64(2), beta=f32(0.5), seed=0).fit(X, epochs=1)


def test_an_optimizer_instance_is_copied_into_the_model(X):
    opt = optimizers.Adam(learning_rate=0.01)
    a, b = small(optimizer=opt), small(optimizer=opt, learning_rate=0.5)
    assert a.optimizer is not opt and b.optimizer is not opt and a.optimizer is not b.optimizer
    assert opt.learning_rate == 0.01 and b.optimizer.learning_rate == 0.5
    a.fit(X, epochs=2)
    assert b.optimizer.t == 0 and opt.t == 0 and not opt.m.any() if opt.m is not None else True
    c = small(optimizer=opt)
    np.testing.assert_array_equal(c.optimizer.m, 0)


# ---- one fit at a time ----

class _Reenter(callbacks.Callback):
    def __init__(self, X):
        self.X, self.error = X, None

    def on_epoch_end(self, epoch, logs=None):
        try:
            self.model.fit(self.X, epochs=1)
        except RuntimeError as exc:
            self.error = exc


@pytest.mark.parametrize("cls", MODELS)
def test_a_callback_cannot_fit_its_own_model(X, cls):
    m = small(cls)
    cb = _Reenter(X)
    h = m.fit(X, epochs=2, callbacks=[cb])
    assert cb.error is not None and "already being trained" in str(cb.error)
    assert m.history_ is h and len(h.epoch) == 2 and m.epochs_trained_ == 2
    m.fit(X, epochs=1)                                       # and the guard is released


@pytest.mark.parametrize("cls", MODELS)
def test_a_second_thread_cannot_fit_a_model_in_training(X, cls):
    m = small(cls)
    started, release = threading.Event(), threading.Event()

    class Hold(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            started.set()
            release.wait(30)

    t = threading.Thread(target=lambda: m.fit(X, epochs=1, callbacks=[Hold()]))
    t.start()
    try:
        assert started.wait(30)
        with pytest.raises(RuntimeError, match="already being trained"):
            m.fit(X, epochs=1)
    finally:
        release.set()
        t.join(30)
    assert m.epochs_trained_ == 1


# ---- what C completed is recorded, whatever ends the call ----

def test_ctrl_c_in_validation_never_leaves_the_history_ragged(X):
    m = small()
    calls = {"n": 0}
    name = "loss_terms" if hasattr(m.net, "loss_terms") else "loss"  # what validation calls
    real = getattr(m.net, name)

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)
    setattr(m.net, name, flaky)
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, epochs=5, validation_data=X)
    h = m.history_.history
    assert len(h["loss"]) == len(h["val_loss"]) == len(m.history_.epoch) == m.epochs_trained_ == 3
    assert np.isnan(h["val_loss"][-1]) and np.isfinite(h["val_loss"][:2]).all()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.parametrize("cls", MODELS)
def test_an_exception_from_a_signal_handler_keeps_the_completed_epochs(cls):
    Xb = (np.random.default_rng(1).random((3000, 12)) > 0.5).astype(np.float64)
    m = small(cls)

    def handler(signum, frame):
        raise TimeoutError("alarm")
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(TimeoutError):
            m.fit(Xb, epochs=10**6, batch_size=1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    e = m.epochs_trained_
    assert len(m.history_.epoch) == e and all(len(v) == e for v in m.history_.history.values())
    steps = 3000
    assert e * steps <= m.optimizer.t < (e + 1) * steps


# ---- load_state_dict checks every shape and value ----

def test_load_state_dict_refuses_another_architecture_of_the_same_length():
    c = sa.Autoencoder([4, 3, 1, 3, 4], seed=0)    # 15 + 4 + 6 + 16 = 41 parameters
    h = sa.Autoencoder([3, 3, 2, 3, 3], seed=0)    # 12 + 8 + 9 + 12 = 41 parameters
    assert c.n_params == h.n_params == 41
    before = h.params.copy()
    with pytest.raises(ValueError, match=r"state\['param_shapes'\]\[0\]: expected the weight "
                                         r"shape \(3, 3\) of this architecture, got \(3, 4\)"):
        h.load_state_dict(c.state_dict())
    np.testing.assert_array_equal(h.params, before)


@pytest.mark.parametrize("key, value, pattern", [
    ("params", np.nan, r"state\['params'\]: expected finite values"),
    ("optimizer.m", np.inf, r"state\['optimizer.m'\]: expected finite"),
    ("optimizer.v", -1.0, r"state\['optimizer.v'\]: expected values >= 0"),
    ("optimizer.t", -5, r"state\['optimizer.t'\]: expected a step count"),
    ("optimizer.t", 2**63 - 1, r"state\['optimizer.t'\]: expected a step count"),
    ("epochs_trained", -1, r"state\['epochs_trained'\]: expected an integer >= 0"),
])
def test_load_state_dict_validates_the_values(key, value, pattern):
    m = small()
    s = m.state_dict()
    if s[key].ndim:
        s[key][0] = value
    else:
        s[key] = np.array(value, dtype=s[key].dtype)
    before = m.state_dict()
    with pytest.raises(ValueError, match=pattern):
        m.load_state_dict(s)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_state_without_param_shapes_still_loads():
    m = small()
    s = m.state_dict()
    del s["param_shapes"]
    small(seed=1).load_state_dict(s)


# ---- argument validation: callbacks, huge integers, grids ----

@pytest.mark.parametrize("make, pattern", [
    (lambda: callbacks.EarlyStopping(min_delta=float("nan")), r"EarlyStopping.min_delta: expected a finite"),
    (lambda: callbacks.EarlyStopping(min_delta="abc"), r"EarlyStopping.min_delta: expected a finite number, got 'abc'"),
    (lambda: callbacks.EarlyStopping(patience=2**64), r"EarlyStopping.patience"),
    (lambda: callbacks.PixelErrorStop(10**30), r"PixelErrorStop.max_wrong: expected an integer <= 2\*\*63 - 1"),
    (lambda: callbacks.LossThreshold("abc"), r"LossThreshold.eps"),
])
def test_callback_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


@pytest.mark.parametrize("make, exc, pattern", [
    (lambda: sa.Autoencoder([12, 2, 12], threads=2**31), ValueError, r"^threads: "),
    (lambda: sa.Autoencoder([35, 2**63, 35]), ValueError, r"^layers\[1\]: expected a width <= 2\*\*63 - 1"),
    (lambda: VAE([12, 2**64], 2), ValueError, r"^encoder\[1\]: "),
])
def test_huge_integers_fail_at_once(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_huge_counts_fail_at_once_naming_the_argument(X):
    m = small()
    with pytest.raises(ValueError, match=r"^epochs: expected an integer in \[0, 9223372036854775807\]"):
        m.fit(X, epochs=2**63)
    v = small(VAE)
    with pytest.raises(MemoryError, match=r"^n: 10000000000000 samples need"):
        v.sample(10**13)
    for model in (m, v):
        with pytest.raises(MemoryError, match=r"^n: .*grid points"):
            model.latent_grid(n=10**8)

    class StopNow(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True
    h = m.fit(X, epochs=10**15, callbacks=[StopNow()])      # nothing allocated per epoch
    assert len(h.epoch) == 1


@pytest.mark.parametrize("cls", [sa.Autoencoder, VAE])
@pytest.mark.parametrize("kw, name", [
    (dict(low="abc"), "low"), (dict(low=[1, 2, 3]), "low"), (dict(high=np.nan), "high"),
    (dict(high=[[1, 2]]), "high"), (dict(low=None), "low"), (dict(high=1j), "high"),
])
def test_latent_grid_checks_low_and_high(cls, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}: expected a finite number or a pair"):
        small(cls).latent_grid(n=3, **kw)
    images, Z = small(cls).latent_grid(n=3, low=(-1, -2), high=2)
    assert Z.shape[0] == 9


def test_noise_study_checks_levels_before_training(X, monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("trained before the levels were checked")
    monkeypatch.setattr(sa.Autoencoder, "fit", no_training)
    with pytest.raises(ValueError, match=r"levels\[1\]: expected a number in \[0.0, 1.0\], got 1.5"):
        noise_study(X[:, :12], noise_types="bit_flip", levels=[0.1, 1.5], seeds=(0,), draws=1)
    with pytest.raises(ValueError, match=r"train_levels\[0\]"):
        noise_study(X, noise_types="salt_and_pepper", levels=[0.1], train_levels=[2.0],
                    seeds=(0,), draws=1)


# ---- model files ----

def _rewrite(src, dst, meta=None, members=None, extra=()):
    with zipfile.ZipFile(src) as z:
        data = {n: z.read(n) for n in z.namelist()}
    if meta is not None:
        import io
        buf = io.BytesIO()
        np.save(buf, np.frombuffer(meta.encode(), np.uint8))
        data["__metadata__.npy"] = buf.getvalue()
    data.update(members or {})
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, b in data.items():
            z.writestr(n, b)
        for n, b in extra:
            z.writestr(n, b)
    return dst


def _npy_bytes(arr):
    import io
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _huge_header(shape, dtype="<f4", data=b""):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


@pytest.fixture
def saved(tmp_path):
    m = sa.Autoencoder([12, 4, 2, 4, 12], seed=0)
    path = tmp_path / "good.npz"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        meta = json.loads(np.load(z.open("__metadata__.npy")).tobytes())
    return path, meta


def _meta_with(meta, **changes):
    out = json.loads(json.dumps(meta))
    for k, v in changes.items():
        if k.startswith("config."):
            out["config"][k[7:]] = v
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("case", ["deep_json", "huge_shape", "zip_bomb", "layers_1e12_int",
                                  "layers_1e12_float", "nan_weights", "negative_v", "t_negative",
                                  "t_huge", "epochs_negative", "version_true", "duplicate"])
def test_bad_model_files_are_refused_quickly(saved, tmp_path, case):
    path, meta = saved
    dst = tmp_path / f"{case}.npz"
    with zipfile.ZipFile(path) as z:
        state = {n: np.load(z.open(n)) for n in z.namelist() if n.startswith("state.")}
    if case == "deep_json":
        _rewrite(path, dst, meta='{"a":' * 200000 + "1" + "}" * 200000)
    elif case == "huge_shape":
        _rewrite(path, dst, members={"state.params.npy": _huge_header((1 << 40,))})
    elif case == "zip_bomb":
        _rewrite(path, dst, members={"state.params.npy": _huge_header((1 << 28,), data=bytes(1 << 30))})
    elif case == "layers_1e12_int":
        _rewrite(path, dst, meta=json.dumps(_meta_with(meta, **{"config.layers": [12, 10**12, 2, 4, 12]})))
    elif case == "layers_1e12_float":
        _rewrite(path, dst, meta=json.dumps(_meta_with(meta, **{"config.layers": [12, 1e12, 2, 4, 12]})))
    elif case == "version_true":
        _rewrite(path, dst, meta=json.dumps(_meta_with(meta, format_version=True)))
    elif case == "duplicate":
        p = state["state.params.npy"].copy()
        p[:] = 7
        _rewrite(path, dst, extra=[("state.params.npy", _npy_bytes(p))])
    else:
        key, value = {"nan_weights": ("state.params.npy", np.nan),
                      "negative_v": ("state.optimizer.v.npy", -1.0),
                      "t_negative": ("state.optimizer.t.npy", -5),
                      "t_huge": ("state.optimizer.t.npy", 2**63 - 1),
                      "epochs_negative": ("state.epochs_trained.npy", -1)}[case]
        arr = state[key].copy()
        if arr.ndim:
            arr[0] = value
        else:
            arr = np.array(value, arr.dtype)
        _rewrite(path, dst, members={key: _npy_bytes(arr)})
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=rf"{case}.npz: not a valid sia_autoencoder model file"):
            sa.load(dst)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak     # the zip bomb used to take a 1 GiB allocation


def test_save_with_a_long_name_and_stale_temporaries(tmp_path):
    m = small()
    name = "m" * 240 + ".npz"                           # 244 bytes: a valid file name
    path = m.save(tmp_path / name)
    assert sa.load(path).n_params == m.n_params
    # A kill in the middle of a save leaves .<name>.<8 random>.tmp; the next save removes it.
    from sia_autoencoder.io import _tmp_prefix
    stale = tmp_path / (_tmp_prefix(str(tmp_path / "x.npz")) + "abcd1234.tmp")
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 60, time.time() - 60))
    other = tmp_path / ".y.npz.abcd1234.tmp"                 # another target's: kept
    other.write_bytes(b"partial")
    os.utime(other, (time.time() - 60, time.time() - 60))
    m.save(tmp_path / "x.npz")
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == [other.name]


def test_a_kill_during_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    code = f"""
    import os, numpy as np, sia_autoencoder as sa
    m = sa.Autoencoder([2000, 300, 2000], seed=0)
    import sia_autoencoder.io as sio
    real = np.savez
    def slow(f, **a):
        real(f, **a); f.flush(); os.kill(os.getpid(), 9)
    sio.np.savez = slow
    m.save({str(tmp_path / 'k.npz')!r})
    """
    r = run_child(code, timeout=120)
    assert r.returncode == -9
    tmps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(tmps) == 1
    os.utime(tmps[0], (time.time() - 60, time.time() - 60))
    small().save(tmp_path / "k.npz")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# ---- configs: exit status 2, the key named, nothing written ----

def _cli(tmp_path, cfg_text):
    cfg = tmp_path / "c.json"
    cfg.write_text(cfg_text)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "sia_autoencoder", str(cfg), "--out", str(out), "-q"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    return r, out


def _letters(**changes):
    with open(os.path.join(ROOT, "sia_autoencoder", "configs", "letters.json")) as f:
        cfg = json.load(f)
    cfg["epochs"] = 1
    cfg.pop("plots", None)
    for k, v in changes.items():
        node, *path = k.split(".")
        cur = cfg
        parts = k.split(".")
        for p in parts[:-1]:
            cur = cur[int(p)] if p.isdigit() else cur[p]
        cur[parts[-1]] = v
        del node, path
    return json.dumps(cfg)


@pytest.mark.parametrize("case", ["deep", "npy_745gib", "units_1e10", "units_product"])
def test_bad_configs_exit_2_naming_the_key(tmp_path, case):
    if case == "deep":
        text, key = '{"a":' * 100000 + "1" + "}" * 100000, "nested too deeply"
    elif case == "npy_745gib":
        big = tmp_path / "big.npy"
        big.write_bytes(_huge_header((100_000_000, 1000), "<f8", b"\0" * 64))
        text, key = _letters(dataset=str(big)), "dataset: "
    elif case == "units_1e10":
        text, key = _letters(**{"architecture.encoder.0.units": 1e10}), "architecture.encoder[0].units"
    else:
        text = _letters(**{"architecture.encoder.0.units": 100000, "architecture.encoder.1.units": 100000})
        key = "architecture.encoder[1].units"
    r, out = _cli(tmp_path, text)
    assert r.returncode == 2, r.stderr[-2000:]
    assert key in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("text, rows, error", [
    ("\ufeff0,1,0\n1,0,1\n1,1,0\n", 3, None),                 # a byte-order mark
    ("a,b,c\n0,1,0\n1,0,1\n", 2, None),                       # a header
    ("0,1\n1,0,1\n1,1,0\n", None, "line 2: expected 2 values"),  # a short first row
    ("0,1,0\n1,0,1,1\n1,1,0\n", None, "line 2: expected 3 values"),
    ("0,1,0\n1,x,1\n", None, "line 2: 'x' is not a number"),
])
def test_csv_datasets_keep_their_first_row(tmp_path, text, rows, error):
    from sia_autoencoder.config import ConfigError
    from sia_autoencoder.runner import _read_matrix
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode("utf-8"))
    if error is None:
        assert _read_matrix(str(path), "dataset", None).shape == (rows, 3)
    else:
        with pytest.raises(ConfigError, match=error):
            _read_matrix(str(path), "dataset", None)


# ---- the C boundary and arrays ----

def test_non_native_byte_order_is_refused_by_core():
    ae = small(dtype="float64")
    net = ae.net
    X = np.random.default_rng(0).random((3, 12))
    swapped = X.astype(">f8")
    out = np.empty((3, 12))
    with pytest.raises(ValueError, match=r"X: expected the machine's byte order"):
        _core.predict(net.sizes, net.act, net.beta, net.params, out, swapped, 0, net.L)
    with pytest.raises(ValueError, match=r"sizes: expected the machine's byte order"):
        _core.predict(net.sizes.astype(">i8"), net.act, net.beta, net.params, out, X, 0, net.L)
    with pytest.raises(ValueError, match=r"out: expected the machine's byte order"):
        _core.predict(net.sizes, net.act, net.beta, net.params, np.empty((3, 12), ">f8"), X, 0, net.L)
    np.testing.assert_array_equal(ae.reconstruct(swapped), ae.reconstruct(X))   # the API converts


@pytest.mark.parametrize("cls", MODELS)
def test_misaligned_arrays_are_copied_by_the_public_api(X, cls):
    m = small(cls, dtype="float32")
    raw = np.zeros(X.size * 4 + 1, np.uint8)
    raw[1:] = np.frombuffer(X.astype(np.float32).tobytes(), np.uint8)
    mis = raw[1:].view(np.float32).reshape(X.shape)
    assert not mis.flags.aligned
    np.testing.assert_array_equal(m.reconstruct(mis), m.reconstruct(X))
    assert m.evaluate(mis) == m.evaluate(X)
    m.fit(mis, epochs=1)


def test_vae_interpolate_validates_a_and_b(X):
    v = small(VAE)
    with pytest.raises(ValueError, match=r"^b: expected 12 columns"):
        v.interpolate(X[0], X[1, :5])
    with pytest.raises(TypeError, match=r"^a: expected real numbers"):
        v.interpolate(X[0].astype(complex), X[1])
    with pytest.raises(TypeError, match=r"^b: expected real numbers"):
        v.interpolate(X[0], np.array(list(X[1]), dtype=object))
    with pytest.raises(ValueError, match=r"^a: expected finite values"):
        v.interpolate(np.full(12, np.nan), X[1])
    assert v.interpolate(X[0], X[1], steps=4).shape == (4, 12)
