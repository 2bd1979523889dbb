"""The CLI's figures: a plain autoencoder's samples.png is drawn where the codes are (and says
so), and a VAE's latent_grid.png covers its codes as well as the prior's bulk."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from sia_autoencoder import Autoencoder, datasets, plots, runner  # noqa: E402


def _distance_to_segment(p, a, b):
    d = b - a
    t = np.clip(np.dot(p - a, d) / max(np.dot(d, d), 1e-300), 0.0, 1.0)
    return np.linalg.norm(p - (a + t * d))


def test_samples_lie_around_and_between_the_codes():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(32, 2)) * [3.0, 0.5] + [10.0, -4.0]
    points, title = runner.near_codes(Z, 64, np.random.default_rng(1))
    assert points.shape == (64, 2)
    assert "between two random codes" in title
    bound = 5 * runner.JITTER * np.linalg.norm(Z.std(axis=0))
    for p in points:
        nearest = min(_distance_to_segment(p, Z[i], Z[j]) for i in range(32) for j in range(i + 1, 32))
        assert nearest <= bound
    # between the codes: some points are far from every code, not just jittered copies of them
    jitter = runner.JITTER * np.linalg.norm(Z.std(axis=0))
    assert max(np.linalg.norm(Z - p, axis=1).min() for p in points) > 3 * jitter


def test_samples_of_a_letters_autoencoder_are_closer_to_letters_than_the_codes_window():
    X, _ = datasets.load_font()
    ae = Autoencoder([35, 25, 15, 10, 2, 10, 15, 25, 35], activation="tanh", learning_rate=0.01, seed=0)
    ae.fit(X, epochs=400, batch_size=None)
    Z = ae.encode(X)
    near, _ = runner.near_codes(Z, 200, np.random.default_rng(0))
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    box = np.random.default_rng(0).uniform(lo, hi, size=(200, 2))   # what samples.png drew before

    def wrong_to_nearest_letter(points):
        images = ae.decode(points) >= 0.5
        return (images[:, None, :] != (X[None] >= 0.5)).sum(axis=2).min(axis=1).mean()

    assert wrong_to_nearest_letter(near) < wrong_to_nearest_letter(box)


def test_the_cli_samples_figure_says_how_it_was_drawn(tmp_path, monkeypatch):
    titles = []
    show = plots.show_images

    def spy(*args, **kwargs):
        titles.append(kwargs.get("suptitle"))
        return show(*args, **kwargs)

    monkeypatch.setattr(plots, "show_images", spy)
    cfg = {"problem": "CONVENTIONAL", "dataset": "font", "architecture": {"latent": {"units": 2}},
           "epochs": 20, "plots": ["samples"], "seed": 0}
    summary = runner.run(cfg, tmp_path, verbose=0, print_fn=None)
    assert summary["figures"] == ["samples.png"]
    assert titles == ["New samples: latent points between two random codes, moved by 5% of the "
                      "codes' spread"]


def test_the_vae_latent_grid_covers_the_codes_and_the_prior():
    Z = np.array([[-6.0, 0.3], [4.0, 7.5], [0.0, 0.0]])
    low, high = runner.grid_window(Z, prior=True)
    assert np.all(low <= Z.min(axis=0)) and np.all(high >= Z.max(axis=0))
    assert np.all(low <= -2.5) and np.all(high >= 2.5)
    low, high = runner.grid_window(Z[2:] + 0.1, prior=True)           # codes inside the prior's bulk
    assert np.allclose(low, -2.5) and np.allclose(high, 2.5)
    low, high = runner.grid_window(Z, prior=False)                    # an autoencoder: the codes
    assert np.allclose(low, Z.min(axis=0) - 0.1 * np.ptp(Z, axis=0))


def test_the_cli_vae_grid_covers_its_codes(tmp_path, monkeypatch):
    windows = []
    grid = plots.plot_latent_grid

    def spy(model, n, low, high, **kwargs):
        windows.append((np.asarray(low), np.asarray(high), model.encode(datasets.load_emojis()[0])))
        return grid(model, n, low, high, **kwargs)

    monkeypatch.setattr(plots, "plot_latent_grid", spy)
    runner.run("vae", tmp_path, epochs=30, verbose=0, print_fn=None)
    (low, high, Z), = windows
    assert np.all(low <= Z.min(axis=0)) and np.all(high >= Z.max(axis=0))
