"""Random cases for each family of issue 19, through the public API: hyperparameters of every
type and size, arrays in every layout, generator states, state dicts, model files, configs and
CSV files. Whatever comes in, the outcome is a result that is finite, or one of the documented
exceptions with a message that names the argument; never a hang, a crash or a silent change.
"""
import dataclasses
import io
import json
import math
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import sia_autoencoder as sa
from sia_autoencoder import callbacks, optimizers
from sia_autoencoder.config import ConfigError, load_config
from sia_autoencoder.denoising import DenoisingAutoencoder
from sia_autoencoder.vae import VAE

FAST = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
X12 = (np.random.default_rng(0).random((24, 12)) > 0.5).astype(np.float64)

# Values of every kind a user might pass where a number is expected.
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-50, max_value=1e50),
    st.integers(min_value=-2**70, max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 10**30, 1e-46, 3.5e38, 1e300, 0.99999999, True,
                     "abc", None, [1, 2], 1j]),
    st.builds(lambda v, t: t(v), st.floats(min_value=-10, max_value=10),
              st.sampled_from([np.float32, np.float64, np.float16])),
    st.builds(lambda v, t: t(v), st.integers(min_value=0, max_value=100),
              st.sampled_from([np.int8, np.int32, np.int64, np.uint64])),
)


def named(exc, *names):
    """The exception's message starts with (or names) one of ``names``."""
    msg = str(exc)
    return any(n in msg for n in names)


def finite_model(m):
    arrays = [m.params] + [a for a in (m.optimizer.m, m.optimizer.v) if a is not None]
    return all(np.isfinite(a).all() for a in arrays)


# ---- hyperparameters ----

@FAST
@given(kind=st.sampled_from(["gd", "momentum", "adam", "adamw", "nadam", "rmsprop", "adadelta"]),
       dtype=st.sampled_from(["float32", "float64"]), lr=NUMBERS, extra=NUMBERS,
       which=st.sampled_from(["momentum", "beta1", "beta2", "eps", "rho", "weight_decay", None]))
def test_fuzz_optimizer_hyperparameters(kind, dtype, lr, extra, which):
    cls = type(optimizers.get_optimizer(kind))
    kw = {"learning_rate": lr}
    if which in [f.name for f in dataclasses.fields(cls) if f.init]:
        kw[which] = extra
    try:
        opt = cls(**kw)
        m = sa.Autoencoder([12, 4, 12], optimizer=opt, dtype=dtype, seed=0)
    except (ValueError, TypeError) as exc:
        assert named(exc, "learning_rate", "momentum", "beta1", "beta2", "eps", "rho",
                     "weight_decay"), exc
        return
    assert opt.learning_rate == m.optimizer.learning_rate and m.optimizer is not opt
    try:
        m.fit(X12, epochs=2, batch_size=8)
    except sa.TrainingDivergedError:
        pass
    assert finite_model(m)


@FAST
@given(beta=NUMBERS, threads=NUMBERS, dtype=st.sampled_from(["float32", "float64"]),
       cls=st.sampled_from([sa.Autoencoder, VAE, DenoisingAutoencoder]))
def test_fuzz_model_arguments(beta, threads, dtype, cls):
    try:
        if cls is VAE:
            m = VAE([12, 4], 2, activation=("tanh", beta), threads=threads, dtype=dtype, seed=0)
        else:
            m = cls([12, 4, 12], activation=("tanh", beta), latent_activation=("tanh", beta),
                    threads=threads, dtype=dtype, seed=0)
    except (ValueError, TypeError) as exc:
        assert named(exc, "activation", "β", "threads"), exc
        return
    m.fit(X12, epochs=1)
    assert finite_model(m)


@FAST
@given(epochs=NUMBERS, batch=st.one_of(NUMBERS, st.sampled_from(["online", "batch", None])),
       level=NUMBERS, cls=st.sampled_from([sa.Autoencoder, VAE, DenoisingAutoencoder]))
def test_fuzz_fit_arguments(epochs, batch, level, cls):
    m = VAE([12, 4], 2, seed=0) if cls is VAE else cls([12, 4, 12], seed=0)
    kw = dict(epochs=epochs, batch_size=batch)
    if cls is not VAE:
        kw.update(noise="gaussian", noise_level=level)
    if isinstance(epochs, (int, np.integer)) and not isinstance(epochs, bool) and 3 < epochs:
        kw["epochs"] = int(epochs) if epochs < 2**63 else epochs
        kw["callbacks"] = [callbacks.LossThreshold(1e9)]     # stops after one epoch
    try:
        m.fit(X12, **kw)
    except (ValueError, TypeError, MemoryError) as exc:
        assert named(exc, "epochs", "batch_size", "noise_level"), exc
        return
    assert finite_model(m) and len(m.history_.epoch) == m.epochs_trained_


@FAST
@given(a=NUMBERS, b=NUMBERS, c=NUMBERS)
def test_fuzz_callback_arguments(a, b, c):
    for make, names in [(lambda: callbacks.EarlyStopping(patience=a, min_delta=b), ("patience", "min_delta")),
                        (lambda: callbacks.PixelErrorStop(c), ("max_wrong",)),
                        (lambda: callbacks.LossThreshold(a), ("eps",))]:
        try:
            cb = make()
        except (ValueError, TypeError) as exc:
            assert named(exc, *names), exc
            continue
        for key in ("min_delta", "eps"):
            if hasattr(cb, key):
                assert math.isfinite(getattr(cb, key))


@FAST
@given(n=st.one_of(st.integers(min_value=-5, max_value=300),
                   st.sampled_from([10**7, 10**13, 2**63, 2**70, 2.5, "3", None, np.int64(5)])),
       low=NUMBERS, high=NUMBERS,
       cls=st.sampled_from([sa.Autoencoder, VAE]))
def test_fuzz_grids_and_samples(n, low, high, cls):
    m = VAE([12, 4], 2, seed=0) if cls is VAE else sa.Autoencoder([12, 4, 2, 4, 12], seed=0)
    try:
        images, Z = m.latent_grid(n=n, low=low, high=high)
    except (ValueError, TypeError, MemoryError) as exc:
        assert named(exc, "n:", "low:", "high:"), exc
    else:
        assert np.isfinite(Z).all() and images.shape[0] == Z.shape[0]
    if cls is VAE:
        try:
            m.sample(n, seed=0)
        except (ValueError, TypeError, MemoryError) as exc:
            assert named(exc, "n:"), exc


# ---- arrays: layouts, byte orders, alignment, target ranges ----

@FAST
@given(order=st.sampled_from(["=", ">", "<"]), dtype=st.sampled_from([np.float32, np.float64, np.int16]),
       offset=st.booleans(), fortran=st.booleans(), scale=st.sampled_from([1.0, 2.0, -1.0]),
       loss=st.sampled_from(["bce", "mse"]))
def test_fuzz_array_layouts(order, dtype, offset, fortran, scale, loss):
    m = sa.Autoencoder([12, 4, 12], seed=0, loss=loss, dtype="float32")
    base = (X12 * scale).astype(dtype)
    arr = base.astype(np.dtype(dtype).newbyteorder(order))
    if fortran:
        arr = np.asfortranarray(arr)
    if offset:
        raw = np.zeros(arr.nbytes + 1, np.uint8)
        raw[1:] = np.frombuffer(np.ascontiguousarray(arr).tobytes(), np.uint8)
        arr = raw[1:].view(arr.dtype).reshape(arr.shape)
    np.testing.assert_array_equal(m.reconstruct(arr), m.reconstruct(base))
    try:
        m.fit(arr, epochs=1)
    except ValueError as exc:
        assert loss == "bce" and scale != 1.0 and str(exc).startswith("X: binary cross-entropy"), exc
        return
    assert finite_model(m)


# ---- generator states and state dicts ----

@FAST
@given(state=st.lists(st.sampled_from([0, 1, 2**64 - 1, 12345]), min_size=4, max_size=4),
       key=st.sampled_from(["params", "optimizer.m", "optimizer.v", "optimizer.t", "epochs_trained",
                            "param_shapes", None]),
       value=st.sampled_from([np.nan, np.inf, -1.0, -5, 2**62 + 1, 3]))
def test_fuzz_state_dicts(state, key, value):
    m = sa.Autoencoder([12, 4, 12], seed=0)
    s = m.state_dict()
    s["rng_state"] = np.array(state, np.uint64)
    if key is not None:
        a = s[key]
        if a.ndim:
            a.flat[0] = value if a.dtype.kind == "f" else int(value) if np.isfinite(value) else 0
        else:
            s[key] = np.array(value if a.dtype.kind == "f" or not np.isfinite(value) else int(value)) \
                if np.isfinite(value) else np.array(0, a.dtype)
    before = m.state_dict()
    try:
        m.load_state_dict(s)
    except (ValueError, TypeError) as exc:
        assert "state" in str(exc) or "rng_state" in str(exc), exc
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(v, before[k])
        return
    assert any(state) and finite_model(m) and (m.optimizer.v >= 0).all()
    m.fit(X12, epochs=1, batch_size=4)      # a state that loads trains (and never hangs)


# ---- model files ----

def _npy(arr=None, header=None, data=b""):
    buf = io.BytesIO()
    if header is not None:
        np.lib.format.write_array_header_1_0(buf, header)
        buf.write(data)
    else:
        np.save(buf, arr)
    return buf.getvalue()


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzzapi") / "good.npz"
    sa.Autoencoder([12, 4, 12], seed=0).save(path)
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@FAST
@given(kind=st.sampled_from(["nest", "shape", "bomb", "dup", "value", "meta"]),
       depth=st.integers(min_value=1, max_value=100000), n=st.integers(min_value=0, max_value=2**62),
       member=st.sampled_from(["params", "optimizer.m", "optimizer.v", "optimizer.t",
                               "epochs_trained", "rng_state", "param_shapes"]),
       value=st.sampled_from([np.nan, -np.inf, -1, -5, 2**63 - 1, 0]),
       meta_key=st.sampled_from(["format_version", "config.layers", "config.dtype", "history"]),
       meta_value=st.sampled_from([True, None, [12, 10**12, 12], [12, 1e12, 12], -1, "x", {"a": 1}]))
def test_fuzz_model_files(tmp_path_factory, good_file, kind, depth, n, member, value, meta_key,
                          meta_value):
    members = dict(good_file)
    extra = []
    meta = json.loads(np.load(io.BytesIO(members["__metadata__.npy"])).tobytes())
    if kind == "nest":
        members["__metadata__.npy"] = _npy(np.frombuffer(('{"a":' * depth + "1" + "}" * depth).encode(), np.uint8))
    elif kind == "shape":
        members[f"state.{member}.npy"] = _npy(header={"descr": "<f4", "fortran_order": False, "shape": (n,)})
    elif kind == "bomb":
        members[f"state.{member}.npy"] = _npy(header={"descr": "<f8", "fortran_order": False,
                                                      "shape": (1 << 24,)}, data=bytes(1 << 27))
    elif kind == "dup":
        extra.append((f"state.{member}.npy", members[f"state.{member}.npy"]))
    elif kind == "value":
        arr = np.load(io.BytesIO(members[f"state.{member}.npy"]))
        if arr.dtype.kind == "f":
            arr.flat[0] = value
        elif np.isfinite(value):
            arr = arr.astype(np.int64) if arr.dtype.kind == "u" and value < 0 else arr
            arr.flat[0] = value
        members[f"state.{member}.npy"] = _npy(arr)
    else:
        node = meta
        parts = meta_key.split(".")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = meta_value
        members["__metadata__.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    path = tmp_path_factory.mktemp("fz") / "f.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in list(members.items()) + extra:
            z.writestr(name, data)
    try:
        m = sa.load(path)
    except ValueError as exc:
        assert str(exc).startswith(str(path)), exc
        return
    assert finite_model(m) and m.rng_state.any() and m.epochs_trained_ >= 0


# ---- configs and CSV datasets ----

@FAST
@given(depth=st.integers(min_value=1, max_value=100000), units=NUMBERS, second=NUMBERS)
def test_fuzz_configs(tmp_path_factory, depth, units, second):
    d = tmp_path_factory.mktemp("cfg")
    deep = d / "deep.json"
    deep.write_text('{"a":' * depth + "1" + "}" * depth)
    for path in (deep,):
        with pytest.raises(ConfigError):
            load_config(str(path))
    cfg = {"architecture": {"encoder": [{"units": units}, {"units": second}],
                            "latent": {"units": 2}}, "epochs": 1}
    p = d / "units.json"
    try:
        p.write_text(json.dumps(cfg))
    except (TypeError, ValueError):
        return
    try:
        c = load_config(str(p))
    except ConfigError as exc:
        assert "architecture.encoder" in str(exc), exc
        return
    assert all(1 <= l.units <= 1 << 20 for l in c.encoder)


@FAST
@given(rows=st.lists(st.lists(st.sampled_from(["0", "1", "0.5", "x", "", " 2"]), min_size=1, max_size=4),
                     min_size=1, max_size=6), bom=st.booleans(), header=st.booleans())
def test_fuzz_csv(tmp_path_factory, rows, bom, header):
    from sia_autoencoder.runner import _read_matrix
    lines = ([",".join(f"c{i}" for i in range(len(rows[0])))] if header else []) + [",".join(r) for r in rows]
    text = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    path.write_text(text, encoding="utf-8")
    try:
        X = _read_matrix(str(path), "dataset", None)
    except ConfigError as exc:
        assert "dataset" in str(exc)
        return
    numeric = [r for r in rows if all(c.strip() not in ("x", "") for c in r)]
    # every numeric row is kept (the first one too), and only a non-numeric first line is dropped
    assert X.shape[0] == len(numeric) == len(rows) - (0 if header or X.shape[0] == len(rows) else 1)
