"""Saving and loading: npz + JSON metadata, atomic writes, pickling, damaged files."""
import json
import os
import pickle

import numpy as np
import pytest

import sia_autoencoder as sa
from sia_autoencoder import io as sio
from sia_autoencoder.datasets import load_font


@pytest.fixture(scope="module")
def font():
    return load_font()[0]


def trained(X, dtype="float32", epochs=15, seed=3):
    ae = sa.Autoencoder([35, 12, 2, 12, 35], activation=("tanh", 0.8), seed=seed, dtype=dtype,
                        optimizer="momentum", learning_rate=0.05, threads=1)
    ae.fit(X, epochs=epochs, batch_size=8)
    return ae


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip_identical(tmp_path, font, dtype):
    ae = trained(font, dtype)
    path = ae.save(tmp_path / "m.npz")
    assert os.fspath(path) == os.fspath(tmp_path / "m.npz")
    back = sa.load(path)
    assert type(back) is sa.Autoencoder
    assert back.get_config() == ae.get_config()
    assert np.array_equal(back.predict(font), ae.predict(font))
    assert np.array_equal(back.encode(font), ae.encode(font))
    assert back.params.dtype == np.dtype(dtype)
    assert back.epochs_trained_ == ae.epochs_trained_ == 15
    assert back.history_.history == ae.history_.history
    # The optimizer and generator states came along: training on gives the same numbers.
    ae.fit(font, epochs=4, batch_size=8)
    back.fit(font, epochs=4, batch_size=8)
    assert np.array_equal(back.params, ae.params)


def test_file_is_plain_npz_with_json_metadata(tmp_path, font):
    ae = trained(font)
    ae.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        meta = json.loads(data["__metadata__"].tobytes().decode())
        assert data["__metadata__"].dtype == np.uint8
        assert np.array_equal(data["state.params"], ae.params)
    assert meta["class"] == "Autoencoder"
    assert meta["format"] == sio.FORMAT and meta["format_version"] == sio.FORMAT_VERSION
    assert meta["package_version"] == sa.__version__
    assert meta["config"] == json.loads(json.dumps(ae.get_config()))


def test_pickle_round_trip(font):
    ae = trained(font)
    back = pickle.loads(pickle.dumps(ae))
    assert np.array_equal(back.predict(font), ae.predict(font))
    assert back.history_.history == ae.history_.history
    ae.fit(font, epochs=3, batch_size=8)
    back.fit(font, epochs=3, batch_size=8)
    assert np.array_equal(back.params, ae.params)


def test_vae_save_load_and_pickle(tmp_path):
    vae_mod = pytest.importorskip("sia_autoencoder.vae")
    X = load_font()[0]
    vae = vae_mod.VAE([35, 16], latent_dim=2, seed=1, threads=1)
    vae.fit(X, epochs=5, batch_size=8)
    sio.save(vae, tmp_path / "v.npz")
    for back in (sa.load(tmp_path / "v.npz"), pickle.loads(pickle.dumps(vae))):
        assert type(back) is vae_mod.VAE
        assert np.array_equal(back.decode(np.zeros((3, 2))), vae.decode(np.zeros((3, 2))))
        assert np.array_equal(back.encode(X), vae.encode(X))


def test_save_is_atomic(tmp_path, font, monkeypatch):
    ae = trained(font)
    path = tmp_path / "m.npz"
    ae.save(path)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    other = trained(font, seed=9)
    monkeypatch.setattr(sio.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        other.save(path)
    assert path.read_bytes() == before                  # the previous file survives
    assert os.listdir(tmp_path) == ["m.npz"]             # and no temporary file is left
    monkeypatch.undo()
    assert np.array_equal(sa.load(path).params, ae.params)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        sa.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("damage", ["truncate_half", "truncate_tail", "flip_data_byte", "empty",
                                    "garbage", "npy_not_npz"])
def test_damaged_files_raise_clear_error(tmp_path, font, damage):
    ae = trained(font)
    path = tmp_path / "m.npz"
    ae.save(path)
    raw = bytearray(path.read_bytes())
    if damage == "truncate_half":
        raw = raw[:len(raw) // 2]
    elif damage == "truncate_tail":
        raw = raw[:-10]
    elif damage == "flip_data_byte":
        with np.load(path) as data:   # a byte inside the parameters' data
            needle = data["state.params"].tobytes()[:16]
        at = raw.find(needle)
        assert at > 0
        raw[at + 5] ^= 0xFF
    elif damage == "empty":
        raw = b""
    elif damage == "garbage":
        raw = os.urandom(300)
    elif damage == "npy_not_npz":
        with open(path, "wb") as f:
            np.save(f, ae.params)
        raw = path.read_bytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="m.npz: not a valid sia_autoencoder model file"):
        sa.load(path)


def _write_npz(path, meta, **arrays):
    arrays["__metadata__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_unknown_class_is_refused_and_nothing_imported(tmp_path, font):
    ae = trained(font)
    meta = sio.metadata(ae)
    meta["class"] = "system"
    state = {"state." + k: v for k, v in ae.state_dict().items()}
    _write_npz(tmp_path / "evil.npz", meta, **state)
    with pytest.raises(ValueError, match="unknown model class 'system'"):
        sa.load(tmp_path / "evil.npz")


def test_object_arrays_are_never_unpickled(tmp_path, font):
    ae = trained(font)
    state = {"state." + k: v for k, v in ae.state_dict().items()}
    state["state.params"] = np.array([object()], dtype=object)
    meta = sio.metadata(ae)
    with open(tmp_path / "p.npz", "wb") as f:
        np.savez(f, __metadata__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                 **state)
    with pytest.raises(ValueError, match="p.npz"):
        sa.load(tmp_path / "p.npz")


def test_bad_metadata_and_state(tmp_path, font):
    ae = trained(font)
    state = {"state." + k: v for k, v in ae.state_dict().items()}
    meta = sio.metadata(ae)
    _write_npz(tmp_path / "v.npz", {**meta, "format_version": 99}, **state)
    with pytest.raises(ValueError, match="format version 99"):
        sa.load(tmp_path / "v.npz")
    np.savez(tmp_path / "n.npz", **state)
    with pytest.raises(ValueError, match="no __metadata__ entry"):
        sa.load(tmp_path / "n.npz")
    short = dict(state)
    short["state.params"] = short["state.params"][:-1]
    _write_npz(tmp_path / "s.npz", meta, **short)
    with pytest.raises(ValueError, match=r"s.npz: .*state\['params'\]: expected shape"):
        sa.load(tmp_path / "s.npz")
    with open(tmp_path / "j.npz", "wb") as f:
        np.savez(f, __metadata__=np.frombuffer(b"{not json", dtype=np.uint8), **state)
    with pytest.raises(ValueError, match="not valid JSON"):
        sa.load(tmp_path / "j.npz")
