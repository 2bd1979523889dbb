"""What Keras and PyTorch users write, working as they expect (issue 18)."""
import csv
import os

import numpy as np
import pytest

import sia_autoencoder as sa
from sia_autoencoder import VAE, Autoencoder, DenoisingAutoencoder
from sia_autoencoder.callbacks import (Callback, CSVLogger, EarlyStopping, LambdaCallback,
                                       ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN)
from sia_autoencoder.optimizers import Momentum


def data(n=40, d=12, seed=0):
    return (np.random.default_rng(seed).random((n, d)) > 0.5).astype(np.float32)


def ae(**kw):
    args = dict(layers=[12, 8, 3, 8, 12], seed=1)
    args.update(kw)
    return Autoencoder(**args)


def vae(**kw):
    args = dict(encoder=[12, 8], latent_dim=2, seed=1)
    args.update(kw)
    return VAE(**args)


MAKERS = {"autoencoder": ae, "vae": vae,
          "denoising": lambda **kw: DenoisingAutoencoder([12, 8, 3, 8, 12], seed=1, **kw)}


# ---- architecture ----

def test_the_only_hidden_layer_takes_activation():
    """[784, 32, 784] with activation='relu' is Keras's Dense(32, activation='relu'), not a
    linear code."""
    model = Autoencoder([12, 4, 12], activation="relu", seed=0)
    assert [a.name for a in model.activations] == ["relu", "logistic"]
    assert Autoencoder(**model.get_config()).activations == model.activations
    explicit = Autoencoder([12, 4, 12], activation="relu", latent_activation="linear", seed=0)
    assert explicit.activations[0].name == "linear"
    deep = Autoencoder([12, 8, 4, 8, 12], activation="relu", seed=0)  # a deeper code stays linear
    assert [a.name for a in deep.activations] == ["relu", "linear", "relu", "logistic"]


def test_momentum_convention_is_documented():
    """Keras's velocity form: with a learning rate that changes, the next step is α·Δp − lr₂·g,
    where torch.optim.SGD would take lr₂·(α·b + g)."""
    p, g = np.zeros(3), np.array([1.0, -2.0, 0.5])
    opt = Momentum(learning_rate=0.1, momentum=0.9)
    opt.step(p, g)
    opt.learning_rate = 0.01
    opt.step(p, g)
    keras = -0.1 * g + (0.9 * (-0.1 * g) - 0.01 * g)
    torch_form = -0.1 * g - 0.01 * (0.9 * g + g)
    np.testing.assert_allclose(p, keras, rtol=1e-15)
    assert not np.allclose(p, torch_form)
    assert "torch.optim.SGD" in Momentum.__doc__
    readme = open(os.path.join(os.path.dirname(__file__), os.pardir, "README.md")).read()
    assert "torch.optim.SGD" in readme


def test_loss_grad_is_public_and_exact():
    model = ae(dtype="float64")
    X, Y = data(6).astype(float), data(6, seed=3).astype(float)
    loss, g = model.loss_grad(X, Y)
    assert loss == model.evaluate(X, Y) and g.shape == model.params.shape
    assert model.loss_grad(X)[0] == model.evaluate(X)
    h = 1e-6
    for i in np.random.default_rng(0).choice(model.n_params, 12, replace=False):
        old = model.params[i]
        model.params[i] = old + h
        up = model.evaluate(X, Y)
        model.params[i] = old - h
        down = model.evaluate(X, Y)
        model.params[i] = old
        assert g[i] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)
    g2 = model.loss_grad(X, Y)[1]
    g[...] = 0  # a copy: the caller may keep it
    assert np.any(g2 != 0)
    with pytest.raises(ValueError, match="Y: expected 6 rows"):
        model.loss_grad(X, Y[:5])


# ---- fit's arguments ----

def test_vae_fit_accepts_x_as_its_target():
    X = data()
    a, b = vae(), vae()
    a.fit(X, epochs=2, batch_size=8)
    b.fit(X, X.copy(), epochs=2, batch_size=8, validation_data=(X[:5], X[:5]))
    np.testing.assert_array_equal(a.params, b.params)
    assert "val_loss" in b.history_.history
    with pytest.raises(ValueError, match=r"Y: a VAE reconstructs its input, so the target must "
                                         r"be X itself \(or None\); it differs from X at row 0"):
        vae().fit(X, 1 - X, epochs=1)
    with pytest.raises(TypeError, match=r"give epochs by name: fit\(X, epochs=3\)"):
        vae().fit(X, 3)


@pytest.mark.parametrize("name", list(MAKERS))
def test_validation_data_as_a_pair_or_a_list(name):
    X, Xv = data(), data(6, seed=9)
    hs = []
    for val in (Xv, (Xv, Xv), [Xv, Xv], (Xv, None)):
        model = MAKERS[name]()
        hs.append(model.fit(X, epochs=2, batch_size=8, validation_data=val).history["val_loss"])
    assert hs[0] == hs[1] == hs[2] == hs[3]
    # A list of rows is X_val itself, not a pair.
    model = MAKERS[name]()
    rows = Xv[:2].tolist()
    h = model.fit(X, epochs=1, validation_data=rows)
    assert len(h.history["val_loss"]) == 1


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_batch_larger_than_the_data_uses_the_whole_set(name):
    X = data(10)
    a, b = MAKERS[name](), MAKERS[name]()
    a.fit(X, epochs=2, batch_size=10)
    b.fit(X, epochs=2, batch_size=256)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("name", list(MAKERS))
def test_validation_split_holds_out_the_last_rows(name):
    X = data(40)
    a, b = MAKERS[name](), MAKERS[name]()
    ha = a.fit(X, epochs=2, batch_size=8, validation_split=0.1)
    hb = b.fit(X[:36], epochs=2, batch_size=8, validation_data=X[36:])
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.history == hb.history
    c = MAKERS[name]()  # validation_data wins, as in Keras
    hc = c.fit(X[:36], epochs=2, batch_size=8, validation_data=X[36:], validation_split=0.5)
    assert hc.history == hb.history
    with pytest.raises(ValueError, match=r"validation_split: expected a fraction in \[0, 1\), got 1"):
        MAKERS[name]().fit(X, validation_split=1)
    with pytest.raises(ValueError, match="leaves 0 for training"):
        MAKERS[name]().fit(X[:1], validation_split=0.5)


@pytest.mark.parametrize("name", list(MAKERS))
def test_verbose_auto_is_one(name, capsys):
    X = data()
    a, b = MAKERS[name](), MAKERS[name]()
    a.fit(X, epochs=2, verbose="auto")
    out_auto = capsys.readouterr().out
    b.fit(X, epochs=2, verbose=1)
    out_one = capsys.readouterr().out
    assert "Epoch 2/2" in out_auto and out_one.count("Epoch") == out_auto.count("Epoch")
    np.testing.assert_array_equal(a.params, b.params)
    with pytest.raises(ValueError, match=r"verbose: expected 0, 1, 2 or 'auto', got 'loud'"):
        MAKERS[name]().fit(X, verbose="loud")


# ---- callbacks ----

def test_history_and_callbacks_count_epochs_from_zero():
    seen = {"begin": [], "end": []}
    cb = LambdaCallback(on_epoch_begin=lambda e, logs: seen["begin"].append(e),
                        on_epoch_end=lambda e, logs: seen["end"].append(e))
    model = ae()
    h = model.fit(data(), epochs=3, callbacks=[cb])
    assert h.epoch == [0, 1, 2] and seen == {"begin": [0, 1, 2], "end": [0, 1, 2]}
    h = model.fit(data(), epochs=2, callbacks=[cb])   # epochs count over the model's training
    assert h.epoch == [3, 4] and seen["end"] == [0, 1, 2, 3, 4]
    assert model.fit(data(), epochs=2).epoch == [5, 6]   # bulk epochs too


def test_on_epoch_begin_of_a_subclass_is_called():
    class Counter(Callback):
        def __init__(self):
            self.begins, self.ends = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.begins.append(epoch)

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append((epoch, sorted(logs)))
    for name in MAKERS:
        cb = Counter()
        MAKERS[name]().fit(data(), epochs=3, callbacks=[cb])
        assert cb.begins == [0, 1, 2] and [e for e, _ in cb.ends] == [0, 1, 2]
        assert "loss" in cb.ends[0][1]


@pytest.mark.parametrize("hook", ["on_batch_end", "on_batch_begin", "on_train_batch_end",
                                  "on_train_batch_begin"])
def test_batch_level_hooks_are_refused_with_the_reason(hook):
    Cls = type("PerBatch", (Callback,), {hook: lambda self, batch, logs=None: None})
    with pytest.raises(TypeError, match=rf"callbacks\[0\] \(PerBatch\) defines {hook}: batch-level "
                                        r"hooks are not supported, because training runs whole "
                                        r"epochs in C and a Python call per step"):
        ae().fit(data(), epochs=1, callbacks=[Cls()])
    with pytest.raises(ValueError, match=rf"LambdaCallback: {hook} is not supported"):
        LambdaCallback(**{hook: print})


def test_early_stopping_waits_patience_epochs_as_keras():
    """A loss that never improves by min_delta after the first epoch: Keras stops once `wait`
    reaches patience, after 1 + max(patience, 1) epochs (it was one more here)."""
    for patience in (0, 1, 3):
        stop = EarlyStopping(monitor="loss", patience=patience, min_delta=1e9)
        h = ae().fit(data(), epochs=50, callbacks=[stop])
        assert len(h) == 1 + max(patience, 1)
        assert stop.stopped_epoch == len(h) - 1 and h.stopped_by == "callback"


def test_a_learning_rate_changed_by_a_callback_applies_from_the_next_epoch():
    X = data()
    for name in MAKERS:
        ref = MAKERS[name]()
        ref.fit(X, epochs=2, batch_size=8)
        ref.optimizer.learning_rate = 0.1
        ref.fit(X, epochs=2, batch_size=8)

        def change(epoch, logs, model):
            if epoch == 1:
                model.optimizer.learning_rate = 0.1
        model = MAKERS[name]()
        cb = LambdaCallback(on_epoch_end=lambda e, logs: change(e, logs, model))
        model.fit(X, epochs=4, batch_size=8, callbacks=[cb])
        np.testing.assert_array_equal(model.params, ref.params, err_msg=name)


def test_reduce_lr_on_plateau_as_keras():
    model = ae(learning_rate=0.01)
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e9, cooldown=1,
                           min_lr=0.002)
    rates = []
    model.fit(data(), epochs=9, callbacks=[
        cb, LambdaCallback(on_epoch_end=lambda e, logs: rates.append(model.optimizer.learning_rate))])
    # Keras: epoch 0 sets best; 1, 2 wait -> reduce at 2; 3 ends the cooldown and waits (1);
    # 4 waits (2) -> reduce; 5 cooldown, wait 1; 6 -> 0.00125, floored at min_lr; then nothing.
    assert rates == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.002, 0.002, 0.002],
                                  rel=1e-15)


def test_model_checkpoint_saves_through_save_with_keras_names(tmp_path):
    X, Xv = data(), data(8, seed=4)
    model = ae()
    every = ModelCheckpoint(str(tmp_path / "ae-{epoch:02d}-{val_loss:.3f}.npz"))
    h = model.fit(X, epochs=3, validation_data=Xv, callbacks=[every])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"ae-{e + 1:02d}-{v:.3f}.npz" for e, v in enumerate(h.history["val_loss"])]
    last = sa.load(every.saved[-1])
    np.testing.assert_array_equal(last.params, model.params)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # save_best_only: written at the epochs whose val_loss improved, the last one the best.
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True)
    seen = []
    model = ae(learning_rate=0.05)
    h = model.fit(X, epochs=8, validation_data=Xv, callbacks=[best, LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append(model.params.copy()))])
    val = h.history["val_loss"]
    improved = [e for e in range(len(val)) if val[e] < min(val[:e], default=np.inf)]
    assert len(best.saved) == len(improved)
    np.testing.assert_array_equal(sa.load(tmp_path / "best.npz").params, seen[int(np.argmin(val))])


def test_model_checkpoint_weights_only_and_every_n_epochs(tmp_path):
    X = data()
    model = ae()
    cb = ModelCheckpoint(tmp_path / "w-{epoch}.npz", save_weights_only=True, save_freq_epochs=2)
    seen = []
    model.fit(X, epochs=5, callbacks=[cb, LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append([w.copy() for w in model.get_weights()]))])
    assert [os.path.basename(p) for p in cb.saved] == ["w-2.npz", "w-4.npz"]
    fresh = ae(seed=9)
    fresh.load_weights(cb.saved[0])
    for got, want in zip(fresh.get_weights(), seen[1]):
        np.testing.assert_array_equal(got, want)
    assert fresh.optimizer.t == 0 and fresh.epochs_trained_ == 0   # the weights alone
    with pytest.raises(ValueError, match="weights only .*load_weights"):
        sa.load(cb.saved[0])
    # A whole model's file gives its weights too; another architecture is refused, unchanged.
    model.save(tmp_path / "whole.npz")
    fresh.load_weights(tmp_path / "whole.npz")
    np.testing.assert_array_equal(fresh.params, model.params)
    other = Autoencoder([6, 3, 2, 3, 6], seed=0)
    before = other.params.copy()
    with pytest.raises(ValueError, match="do not fit this model"):
        other.load_weights(cb.saved[0])
    np.testing.assert_array_equal(other.params, before)
    with pytest.raises(ValueError, match=r"save_freq: expected 'epoch' .*save_freq_epochs"):
        ModelCheckpoint(tmp_path / "x.npz", save_freq=10)
    with pytest.raises(ValueError, match=r"save_freq_epochs: expected an integer >= 1"):
        ModelCheckpoint(tmp_path / "x.npz", save_freq_epochs=0)


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    model = ae()
    h = model.fit(data(), epochs=3, validation_data=data(5, seed=2), callbacks=[CSVLogger(path)])
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[1]) for r in rows[1:]] == h.history["loss"]
    model.fit(data(), epochs=2, validation_data=data(5, seed=2), callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.reader(open(path)))
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2, 3, 4] and rows.count(rows[0]) == 1


def test_terminate_on_nan_stops_without_an_error(capsys):
    X = np.random.default_rng(0).random((20, 12))  # and a learning rate far too large
    kw = dict(layers=[12, 4, 12], activation="linear", output_activation="linear", loss="mse",
              optimizer="gd", learning_rate=1e6, dtype="float64")
    with pytest.raises(sa.TrainingDivergedError):
        ae(**kw).fit(X, epochs=20)
    model = ae(**kw)
    h = model.fit(X, epochs=20, callbacks=[TerminateOnNaN()])
    assert h.stopped_by == "TerminateOnNaN" and len(h) < 20
    assert np.isfinite(model.params).all()
    assert "terminating training" in capsys.readouterr().out


def test_existing_on_epoch_end_subclasses_keep_working():
    class Old(Callback):
        def __init__(self):
            self.calls = []

        def on_epoch_end(self, epoch, logs=None):
            self.calls.append((epoch, logs["loss"]))
            if epoch == 1:
                self.model.stop_training = True
    cb = Old()
    h = ae().fit(data(), epochs=5, callbacks=[cb])
    assert [e for e, _ in cb.calls] == [0, 1] and [l for _, l in cb.calls] == h.history["loss"]
