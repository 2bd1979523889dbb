"""MNIST and Fashion-MNIST loaders: the folders they search, their arguments, and the download
(tested against a server on 127.0.0.1 that serves small IDX files made here: right, truncated
and corrupted ones). Nothing here reaches the network, and nothing downloads at import."""
import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from sia_autoencoder import datasets

N_TRAIN, N_TEST = 7, 3


def idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(">u1").tobytes()


def make_split(rng, n):
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the scale
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


@pytest.fixture
def data(rng):
    """{'train': (images, labels), 'test': ...} and the gzipped IDX files {filename: bytes}."""
    splits = {"train": make_split(rng, N_TRAIN), "test": make_split(rng, N_TEST)}
    files = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = splits[split]
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels), mtime=0)
    return splits, files


def write_files(folder, files, compress=True):
    os.makedirs(folder, exist_ok=True)
    for name, raw in files.items():
        if compress:
            (folder / name).write_bytes(raw)
        else:
            (folder / name[:-3]).write_bytes(gzip.decompress(raw))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Every folder the loaders search, moved under tmp_path and empty; no mirror to download from."""
    monkeypatch.delenv("SIA_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(datasets, "_SYSTEM_ROOTS", [str(tmp_path / "system")])
    for name in datasets._DATASETS:
        monkeypatch.setitem(datasets._DATASETS, name, dict(datasets._DATASETS[name], mirrors=[]))
    return tmp_path


class Server:
    """A bounded HTTP server on 127.0.0.1: ``routes`` maps a path to (mode, body); mode 'ok'
    sends the body, 'cut' announces the whole body but closes the connection halfway."""

    def __init__(self):
        self.routes, self.requests = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                mode, body = server.routes.get(self.path, ("missing", b""))
                if mode == "missing":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if mode == "ok" else body[:len(body) // 2])
                self.wfile.flush()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, mirror):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{mirror}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def use_mirrors(monkeypatch, files, mirrors, name="mnist"):
    sha = {filename: hashlib.sha256(raw).hexdigest() for filename, raw in files.items()}
    monkeypatch.setitem(datasets._DATASETS, name, dict(datasets._DATASETS[name], mirrors=mirrors, sha256=sha))


def check(X, y, images, labels, shape=(28, 28), dtype=np.float32):
    assert X.shape == (len(images),) + shape and X.dtype == dtype and y.dtype == np.int64
    np.testing.assert_array_equal(X, (images.astype(np.float64) / 255).astype(dtype).reshape(X.shape))
    np.testing.assert_array_equal(y, labels)
    assert X.min() == 0 and X.max() == 1


# ---- reading a folder ----

@pytest.mark.parametrize("loader", [datasets.load_fashion_mnist, datasets.load_mnist])
def test_images_in_unit_range_from_a_folder(loader, home, data):
    (train, test), files = data[0].values(), data[1]
    write_files(home / "mine", files)
    check(*loader(path=home / "mine"), *train)
    check(*loader(path=str(home / "mine"), split="test"), *test)
    check(*loader(home / "mine", "test", flatten=True), *test, shape=(784,))
    check(*loader(home / "mine", split="train", dtype=np.float64), *train, dtype=np.float64)


def test_old_calls_keep_working(home, data):
    (train, test), files = data[0].values(), data[1]
    write_files(home / "old", files, compress=False)  # uncompressed IDX files too
    check(*datasets.load_fashion_mnist(home / "old"), *train)
    check(*datasets.load_fashion_mnist(home / "old", kind="test"), *test)
    check(*datasets.load_fashion_mnist(directory=home / "old", kind="t10k", flatten=True), *test,
          shape=(784,))


def test_a_given_folder_is_the_only_one_read(home, data):
    write_files(home / "system" / "fashion-mnist", data[1])
    (home / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: expected train-images-idx3-ubyte or "
                                                "train-images-idx3-ubyte.gz"):
        datasets.load_fashion_mnist(path=home / "empty")
    write_files(home / "half", {"t10k-images-idx3-ubyte.gz": data[1]["t10k-images-idx3-ubyte.gz"]})
    with pytest.raises(FileNotFoundError, match="expected t10k-labels-idx1-ubyte or t10k-labels"):
        datasets.load_fashion_mnist(path=home / "half", split="test")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"split": "validation"}, ValueError, "split: expected 'train' or 'test', got 'validation'"),
    ({"split": 0}, ValueError, "split: expected 'train' or 'test', got 0"),
    ({"kind": "TEST"}, ValueError, "split: expected 'train' or 'test', got 'TEST'"),
    ({"split": "train", "kind": "test"}, TypeError, "give split= or kind= .* not both"),
    ({"path": "a", "directory": "b"}, TypeError, "give the folder as path= or as directory="),
    ({"path": 3}, TypeError, "path: expected a folder .*got int"),
    ({"flatten": "yes"}, TypeError, "flatten: expected True or False, got 'yes'"),
    ({"download": 1}, TypeError, "download: expected True or False, got 1"),
    ({"dtype": np.int32}, ValueError, "dtype: expected a floating-point dtype .*got int32"),
    ({"dtype": "real"}, TypeError, "dtype: expected a floating-point dtype .*got 'real'"),
])
def test_arguments_are_validated(kwargs, error, message, home):
    with pytest.raises(error, match=message):
        datasets.load_mnist(**kwargs)


def test_mismatched_files_are_reported(home, data):
    files = dict(data[1])
    files["train-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(np.zeros(N_TRAIN + 1, np.uint8)))
    write_files(home / "bad", files)
    with pytest.raises(ValueError, match=f"expected one label per image, got {N_TRAIN} images and "
                                         f"{N_TRAIN + 1} labels"):
        datasets.load_mnist(home / "bad")


# ---- the search order ----

def test_search_order_sia_data_then_cache_then_system(home, data, monkeypatch):
    (train, _), files = data[0].values(), data[1]
    other = {k: gzip.compress(idx_bytes(np.zeros((2, 28, 28) if "images" in k else (2,), np.uint8)))
             for k in files}
    write_files(home / "system" / "fashion-mnist", files)  # where Debian's package puts them
    check(*datasets.load_fashion_mnist(), *train)
    with pytest.raises(FileNotFoundError):                   # no system folder for MNIST here
        datasets.load_mnist(download=False)
    write_files(home / "cache" / "sia_autoencoder" / "fashion-mnist", other)
    assert len(datasets.load_fashion_mnist()[0]) == 2        # the cache comes before the system
    write_files(home / "data" / "fashion-mnist", files, compress=False)
    monkeypatch.setenv("SIA_DATA", str(home / "data"))
    check(*datasets.load_fashion_mnist(), *train)           # $SIA_DATA comes first


def test_nothing_found_and_no_download_names_every_folder(home):
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_fashion_mnist(split="test", download=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte[.gz]" in message and "download=True" in message
    assert os.path.join(str(home), "cache", "sia_autoencoder", "fashion-mnist") in message
    assert os.path.join(str(home), "system", "fashion-mnist") in message


# ---- the download ----

def test_download_once_verified_into_the_cache(home, data, server, monkeypatch, capsys):
    (train, test), files = data[0].values(), data[1]
    for filename, raw in files.items():
        server.routes[f"/good/{filename}"] = ("ok", raw)
    use_mirrors(monkeypatch, files, [server.url("good")])
    check(*datasets.load_mnist(), *train)
    assert sorted(server.requests) == ["/good/train-images-idx3-ubyte.gz", "/good/train-labels-idx1-ubyte.gz"]
    assert server.url("good") + "train-images-idx3-ubyte.gz" in capsys.readouterr().err
    cache = home / "cache" / "sia_autoencoder" / "mnist"
    assert sorted(os.listdir(cache)) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert (cache / "train-images-idx3-ubyte.gz").read_bytes() == files["train-images-idx3-ubyte.gz"]
    check(*datasets.load_mnist(), *train)                    # from the cache: no new request
    assert len(server.requests) == 2
    check(*datasets.load_mnist(split="test"), *test)         # the other split, when first asked
    assert len(server.requests) == 4


def test_download_goes_to_sia_data_when_set(home, data, server, monkeypatch):
    (_, test), files = data[0].values(), data[1]
    for filename, raw in files.items():
        server.routes[f"/good/{filename}"] = ("ok", raw)
    use_mirrors(monkeypatch, files, [server.url("good")], name="fashion-mnist")
    monkeypatch.setenv("SIA_DATA", str(home / "data"))
    check(*datasets.load_fashion_mnist(split="test"), *test)
    assert sorted(os.listdir(home / "data" / "fashion-mnist")) == ["t10k-images-idx3-ubyte.gz",
                                                                  "t10k-labels-idx1-ubyte.gz"]
    assert not (home / "cache").exists()


def test_truncated_and_corrupted_downloads_are_rejected_then_the_next_mirror_used(home, data, server,
                                                                                  monkeypatch):
    (train, _), files = data[0].values(), data[1]
    images, labels = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
    corrupted = bytearray(files[images])
    corrupted[len(corrupted) // 2] ^= 0xFF
    server.routes[f"/bad/{images}"] = ("ok", bytes(corrupted))     # same size, one byte flipped
    server.routes[f"/bad/{labels}"] = ("cut", files[labels])        # connection lost halfway
    for filename, raw in files.items():
        server.routes[f"/good/{filename}"] = ("ok", raw)
    use_mirrors(monkeypatch, files, [server.url("bad"), server.url("good")])
    check(*datasets.load_mnist(), *train)
    assert server.requests == [f"/bad/{images}", f"/good/{images}", f"/bad/{labels}", f"/good/{labels}"]
    cache = home / "cache" / "sia_autoencoder" / "mnist"
    assert sorted(os.listdir(cache)) == [images, labels]             # no partial file left behind


def test_when_every_mirror_fails_nothing_is_written(home, data, server, monkeypatch):
    files = data[1]
    images = "train-images-idx3-ubyte.gz"
    server.routes[f"/short/{images}"] = ("ok", files[images][:-10])  # a truncated file, served whole
    server.routes[f"/cut/{images}"] = ("cut", files[images])
    use_mirrors(monkeypatch, files, [server.url("short"), server.url("cut"), server.url("none")])
    with pytest.raises(OSError) as info:
        datasets.load_mnist()
    message = str(info.value)
    want = hashlib.sha256(files[images]).hexdigest()
    got = hashlib.sha256(files[images][:-10]).hexdigest()
    assert f"could not download MNIST {images}" in message
    assert f"{server.url('short')}{images}: expected SHA-256 {want}, got {got}" in message
    cut = len(files[images])
    assert f"{server.url('cut')}{images}: truncated download, expected {cut} bytes, got {cut // 2}" in message
    assert f"{server.url('none')}{images}: HTTP Error 404" in message
    assert os.listdir(home / "cache" / "sia_autoencoder" / "mnist") == []


def test_download_false_makes_no_request(home, data, server, monkeypatch):
    use_mirrors(monkeypatch, data[1], [server.url("good")])
    with pytest.raises(FileNotFoundError, match="pass download=True"):
        datasets.load_mnist(download=False)
    assert server.requests == []


def test_importing_the_package_opens_no_connection():
    code = ("import socket\n"
            "def refuse(*a, **k): raise AssertionError('network used at import')\n"
            "socket.socket.connect = refuse\n"
            "socket.create_connection = refuse\n"
            "import sia_autoencoder, sia_autoencoder.datasets\n"
            "print('ok')\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(datasets.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ---- the real data, where Debian's package installed it (CI does) ----

@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debians_package(monkeypatch):
    monkeypatch.delenv("SIA_DATA", raising=False)
    X, y = datasets.load_fashion_mnist(path="/usr/share/datasets/fashion-mnist", split="test")
    assert X.shape == (10000, 28, 28) and X.dtype == np.float32
    assert X.min() == 0 and X.max() == 1
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))
    assert y[:5].tolist() == [9, 2, 1, 1, 6]  # the published first test labels
