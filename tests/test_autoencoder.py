"""The Autoencoder API as a user meets it: architectures, fit, stop conditions, determinism."""
import numpy as np
import pytest

from sia_autoencoder import (Autoencoder, EarlyStopping, LossThreshold, PixelErrorStop,
                             callbacks, datasets, optimizers)
from sia_autoencoder.letters import RECIPE, train_letters

X_FONT, LABELS = datasets.load_font()


def small(seed=0, **kw):
    return Autoencoder([35, 12, 2, 12, 35], seed=seed, **kw)


def test_latent_layer_is_the_narrowest_even_when_asymmetric():
    ae = Autoencoder([35, 20, 3, 35], seed=0)
    assert ae.latent_index == 2 and ae.latent_dim == 3
    assert ae.encode(X_FONT).shape == (32, 3)
    assert ae.decode(np.zeros((5, 3))).shape == (5, 35)
    assert [W.shape for W, _ in ae.weights] == [(20, 35), (3, 20), (35, 3)]


def test_ambiguous_latent_layer_needs_latent_index():
    with pytest.raises(ValueError, match="latent_index"):
        Autoencoder([35, 2, 10, 2, 35])
    ae = Autoencoder([35, 2, 10, 2, 35], latent_index=3, seed=0)
    assert ae.latent_index == 3


def test_default_activations_per_role_and_per_layer_lists():
    ae = Autoencoder([35, 10, 2, 10, 35], activation=("tanh", 0.5), seed=0)
    assert [str(a) for a in ae.activations] == ["tanh(β=0.5)", "linear", "tanh(β=0.5)", "logistic"]
    ae = Autoencoder([35, 10, 2, 10, 35], seed=0,
                     activation=["relu", ("logistic", 2.0), "tanh", "sigmoid"])
    assert [(a.name, a.beta) for a in ae.activations] == [
        ("relu", 1.0), ("logistic", 2.0), ("tanh", 1.0), ("logistic", 0.5)]


def test_initialisation_glorot_and_he_from_the_seed():
    ae = Autoencoder([400, 300, 2, 300, 400], activation="relu", seed=3)
    W1 = ae.weights[0][0]
    assert np.abs(W1).max() <= np.sqrt(6 / 400)            # He uniform for relu
    assert np.std(W1) == pytest.approx(np.sqrt(6 / 400) / np.sqrt(3), rel=0.05)
    W2 = ae.weights[1][0]                                   # linear latent: Glorot uniform
    assert np.std(W2) == pytest.approx(np.sqrt(6 / 302) / np.sqrt(3), rel=0.2)
    assert all(np.all(b == 0) for _, b in ae.weights)


def test_params_is_one_flat_vector_viewed_by_weights():
    ae = small()
    W, b = ae.weights[0]
    W[0, 0] = 123.0
    assert ae.params[0] == 123.0
    assert ae.n_params == sum(p.size for p in ae.parameters()) == ae.params.size


def test_summary_lists_layers_and_parameter_count():
    lines = []
    Autoencoder(RECIPE["layers"], seed=0).summary(print_fn=lines.append)
    text = lines[0]
    assert "dense_4 (latent)" in text and "Total params: 2,977" in text
    assert text.count("tanh") == 6 and "logistic" in text


@pytest.mark.parametrize("batch_size", [1, 5, 32, None, "online", "batch"])
def test_fit_lowers_the_loss_in_every_update_mode(batch_size):
    ae = small(learning_rate=0.01)
    before = ae.evaluate(X_FONT)
    history = ae.fit(X_FONT, epochs=30, batch_size=batch_size)
    assert len(history.history["loss"]) == 30 == len(history)
    assert ae.evaluate(X_FONT) < 0.9 * before
    assert ae.epochs_trained_ == 30


def test_epoch_loss_is_the_mean_of_the_batch_losses():
    """In full batch the epoch's loss is the loss before that epoch's single step."""
    ae = small(learning_rate=0.01)
    before = ae.evaluate(X_FONT)
    h = ae.fit(X_FONT, epochs=1, batch_size=None)
    assert h.history["loss"][0] == pytest.approx(before, rel=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size", [1, 7, None])
def test_same_seed_bit_identical_different_seed_different(dtype, batch_size):
    runs = []
    for seed in (5, 5, 6):
        ae = small(seed=seed, dtype=dtype)
        ae.fit(X_FONT, epochs=20, batch_size=batch_size)
        runs.append(ae.params.copy())
    assert runs[0].dtype == np.dtype(dtype)
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_shuffle_changes_the_trajectory_and_is_seeded():
    a, b = small(seed=1), small(seed=1)
    a.fit(X_FONT, epochs=5, batch_size=4, shuffle=True)
    b.fit(X_FONT, epochs=5, batch_size=4, shuffle=False)
    assert not np.array_equal(a.params, b.params)


def test_two_fits_continue_where_the_first_stopped():
    a, b = small(seed=2), small(seed=2)
    a.fit(X_FONT, epochs=10, batch_size=8)
    a.fit(X_FONT, epochs=10, batch_size=8)
    b.fit(X_FONT, epochs=20, batch_size=8)
    assert np.array_equal(a.params, b.params)
    assert a.optimizer.t == b.optimizer.t == 80


def test_pixel_error_stop_ends_training_when_every_sample_is_close():
    ae = Autoencoder(seed=0, **RECIPE)
    history = ae.fit(X_FONT, epochs=5000, batch_size=None, callbacks=[PixelErrorStop(1)])
    assert len(history) < 5000 and history.stopped_by == "stop condition"
    assert ae.pixel_errors(X_FONT).max() <= 1


def test_loss_threshold_stops_below_eps():
    ae = small(learning_rate=0.01)
    history = ae.fit(X_FONT, epochs=3000, batch_size=None, callbacks=[LossThreshold(5.0)])
    assert history.history["loss"][-1] < 5.0 <= min(history.history["loss"][:-1])


def test_early_stopping_restores_the_best_weights():
    ae = small(learning_rate=0.05)
    rng = np.random.default_rng(0)
    X_val = (rng.uniform(size=(16, 35)) > 0.5).astype(float)   # unrelated: val loss soon rises
    stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history = ae.fit(X_FONT, epochs=500, batch_size=None, validation_data=X_val,
                     callbacks=[stopper])
    val = history.history["val_loss"]
    # Keras: stop after `patience` epochs in a row without improvement (wait >= patience).
    assert len(val) < 500 and len(val) == stopper.best_epoch + 1 + 3 - (ae.epochs_trained_ - len(val))
    assert ae.evaluate(X_val) == pytest.approx(min(val), rel=1e-5)


def test_validation_loss_is_logged_every_epoch():
    ae = small()
    h = ae.fit(X_FONT, epochs=4, validation_data=(X_FONT[:8], X_FONT[:8]))
    assert len(h.history["val_loss"]) == 4
    assert h.history["val_loss"][-1] == pytest.approx(ae.evaluate(X_FONT[:8]), rel=1e-6)


def test_custom_callback_sees_every_epoch_and_can_stop():
    class StopAtThree(callbacks.Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append((epoch, logs["loss"]))
            if epoch == 2:
                self.model.stop_training = True

    cb = StopAtThree()
    h = small().fit(X_FONT, epochs=10, callbacks=[cb])
    assert [e for e, _ in cb.seen] == [0, 1, 2] and len(h) == 3
    assert h.stopped_by == "callback"


def test_encode_decode_reconstruct_agree():
    ae = small()
    ae.fit(X_FONT, epochs=20)
    Z = ae.encode(X_FONT)
    np.testing.assert_allclose(ae.decode(Z), ae.reconstruct(X_FONT), rtol=1e-6)
    assert np.array_equal(ae.predict(X_FONT), ae(X_FONT))
    errs = ae.pixel_errors(X_FONT)
    want = ((ae.reconstruct(X_FONT) >= 0.5) != (X_FONT >= 0.5)).sum(axis=1)
    assert np.array_equal(errs, want)


def test_latent_grid_and_interpolation():
    ae = small()
    images, Z = ae.latent_grid(4, low=-2, high=(1, 3))
    assert images.shape == (16, 35) and Z.shape == (16, 2)
    assert Z[0].tolist() == [-2.0, 3.0] and Z[-1].tolist() == [1.0, -2.0]  # top-left to bottom-right
    path = ae.interpolate(X_FONT[1], X_FONT[2], steps=5)
    assert path.shape == (5, 35)
    np.testing.assert_allclose(path[0], ae.reconstruct(X_FONT[1:2])[0], rtol=1e-5)
    np.testing.assert_allclose(path[-1], ae.reconstruct(X_FONT[2:3])[0], rtol=1e-5)


def test_denoising_noise_option_trains_on_corrupted_inputs():
    clean, noisy = small(seed=4), small(seed=4)
    clean.fit(X_FONT, epochs=5)
    noisy.fit(X_FONT, epochs=5, noise="bit_flip", noise_level=0.2)
    assert not np.array_equal(clean.params, noisy.params)


def test_optimizer_objects_and_names():
    assert isinstance(small(optimizer="momentum").optimizer, optimizers.Momentum)
    assert small(optimizer="sgd", learning_rate=0.5).optimizer.learning_rate == 0.5
    ae = small(optimizer=optimizers.Momentum(learning_rate=0.02, momentum=0.5))
    ae.fit(X_FONT, epochs=3)
    assert ae.optimizer.t == 3
    with pytest.raises(ValueError, match="optimizer: expected one of"):
        small(optimizer="adagrad")


def test_optimizer_step_from_python_matches_closed_form():
    import twins
    p = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, 0.5, -1.0])
    opt = optimizers.Adam(learning_rate=0.1)
    opt.step(p, g)
    want, *_ = twins.optim_step(np.array([1.0, -2.0, 3.0]), np.zeros(3), np.zeros(3), g,
                                twins.ADAM, 0.1)
    np.testing.assert_allclose(p, want, rtol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_documented_recipe_learns_every_letter(seed):
    """The README's recipe: all 32 characters with at most 1 wrong pixel, on seeds 0-9."""
    ae, X, labels, history, seconds = train_letters(seed)
    errs = ae.pixel_errors(X)
    assert (errs <= 1).all(), dict(zip(labels, errs))
    assert len(history) < 5000


def test_callbacks_and_verbosity_do_not_change_the_trajectory(capsys):
    """Per-epoch Python work splits training into many C calls; the result must not change."""
    a, b = small(seed=9), small(seed=9)
    a.fit(X_FONT, epochs=12, batch_size=5)
    b.fit(X_FONT, epochs=12, batch_size=5, verbose=2, callbacks=[callbacks.Callback()])
    assert np.array_equal(a.params, b.params)
    assert "Epoch 12/12" in capsys.readouterr().out


def test_a_name_beta_pair_written_as_a_list_is_one_activation():
    """JSON has no tuples: ['tanh', 0.5] is one activation, not a list of two."""
    ae = Autoencoder([35, 10, 2, 10, 35], activation=["tanh", 0.5], seed=0)
    assert str(ae.activations[0]) == "tanh(β=0.5)" and len(ae.activations) == 4
