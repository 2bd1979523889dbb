"""What a notebook shows: a figure once (the returned Figure and the inline backend's would be
two), and the progress bar of verbose=1 as one display updated in place (not one output per
redraw). One small notebook runs in a real Jupyter kernel; each test reads one of its cells."""
import textwrap
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

import sia_autoencoder  # noqa: E402

CELLS = {
    "setup": """
        import time
        import numpy as np
        from sia_autoencoder import Autoencoder, VAE, callbacks, datasets, plots
        X, labels = datasets.load_font()
        ae = Autoencoder([35, 10, 2, 10, 35], seed=0)
        ae.fit(X, epochs=20)
        """,
    "last_line": "plots.plot_latent(ae, X, labels)",
    "not_last": "plots.plot_reconstructions(ae, X[:4])\nx = 1",
    "assigned": "fig = plots.plot_decoded(ae, [0.0, 0.0])\nfig",
    "closed": "import matplotlib.pyplot as plt\nfig = plots.plot_decoded(ae, [0.0, 0.0])\nplt.close(fig)\nfig",
    "two": "plots.plot_latent(ae, X)\nplots.plot_history(ae.history_)",
    "given_ax": "fig, ax = plt.subplots()\nplots.plot_latent(ae, X, ax=ax)",
    "progress": """
        class Slow(callbacks.Callback):      # several redraws (one every 0.1 s at most)
            def on_epoch_end(self, epoch, logs=None):
                time.sleep(0.06)
        history = ae.fit(X, epochs=10, verbose=1, callbacks=[Slow()])
        """,
    "progress_vae": """
        vae = VAE(encoder=[35, 10], latent_dim=2, seed=0)
        vae.fit(X, epochs=8, batch_size=8, verbose=1, validation_data=X, callbacks=[Slow()])
        print("after")
        """,
}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip()) for src in CELLS.values()]
    root = str(Path(sia_autoencoder.__file__).resolve().parent.parent)
    nb.cells.insert(0, nbformat.v4.new_code_cell(f"import sys; sys.path.insert(0, {root!r})"))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    with pytest.MonkeyPatch.context() as mp:
        # The kernel inherits the environment: CI exports MPLBACKEND=Agg, which would turn the
        # inline backend (what a notebook user has, and what these tests are about) off.
        mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        client.execute()
    return dict(zip(CELLS, nb.cells[1:]))


def _images(cell):
    return sum("image/png" in o.get("data", {}) for o in cell.outputs)


@pytest.mark.parametrize("name", ["last_line", "not_last", "assigned", "closed", "given_ax"])
def test_a_figure_shows_once(cells, name):
    assert _images(cells[name]) == 1, cells[name].outputs


def test_two_figures_show_once_each(cells):
    assert _images(cells["two"]) == 2, cells["two"].outputs


def test_the_progress_bar_is_one_display_updated_in_place(cells):
    outputs = cells["progress"].outputs
    assert len(outputs) == 1, outputs
    text = outputs[0]["data"]["text/plain"]
    assert outputs[0]["output_type"] == "display_data"
    assert text.startswith("Epoch 10/10 [") and text.endswith("done"), text


def test_a_vae_bar_with_validation_then_printing(cells):
    outputs = cells["progress_vae"].outputs
    assert [o["output_type"] for o in outputs] == ["display_data", "stream"], outputs
    assert "val_loss" in outputs[0]["data"]["text/plain"]
    assert outputs[1]["text"] == "after\n"
