"""net.save / dp.load: exact round trips, a pickle-free format, and clean errors on bad files."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

import deltaprop as dp

import npref
from conftest import make_targets

LOAD_ERRORS = (ValueError, OSError)


def _trained(rng, loss="cross_entropy", activation="tanh", dtype="float32", sizes=(5, 7, 6, 3)):
    net = dp.MLP(list(sizes), activation=activation, loss=loss, dtype=dtype, seed=3)
    X = rng.standard_normal((40, sizes[0])).astype(net.dtype)
    y = make_targets(rng, loss, 40, sizes[-1], dtype=net.dtype)
    net.fit(X, y, epochs=2, batch_size=8, lr=0.1, seed=0)
    return net, X, y


@pytest.fixture
def model_path(tmp_path):
    return tmp_path / "model.npz"


# ----------------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("loss", list(npref.LOSSES))
def test_round_trip_predictions(rng, dtype, loss, model_path):
    net, X, y = _trained(rng, loss=loss, dtype=dtype.name)
    net.save(model_path)
    net2 = dp.load(model_path)
    np.testing.assert_array_equal(net2.forward(X), net.forward(X))
    np.testing.assert_array_equal(net2.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(net2.predict(X), net.predict(X))


def test_round_trip_architecture(rng, dtype, model_path):
    net, _, _ = _trained(rng, loss="binary_cross_entropy", activation="leaky_relu", dtype=dtype.name)
    net.save(model_path)
    net2 = dp.load(model_path)
    assert isinstance(net2, dp.MLP)
    assert list(net2.sizes) == list(net.sizes)
    assert net2.loss == net.loss
    assert net2.dtype == net.dtype == dtype
    assert net2.num_params == net.num_params
    assert [layer.activation for layer in net2.layers] == [layer.activation for layer in net.layers]
    np.testing.assert_array_equal(net2.get_params(), net.get_params())


def test_round_trip_per_layer_activations(rng, model_path):
    net = dp.MLP([3, 4, 5, 2], activation=["sigmoid", "relu"], dtype="float64", seed=0)
    net.set_params(rng.standard_normal(net.num_params))
    net.save(model_path)
    net2 = dp.load(model_path)
    assert [layer.activation for layer in net2.layers[:-1]] == ["sigmoid", "relu"]
    X = rng.standard_normal((5, 3))
    np.testing.assert_array_equal(net2.forward(X), net.forward(X))


def test_loaded_model_trains_identically(rng, model_path):
    net, X, y = _trained(rng, dtype="float64")
    net.save(model_path)
    net2 = dp.load(model_path)
    assert net2.train_step(X, y, lr=0.1) == net.train_step(X, y, lr=0.1)
    np.testing.assert_array_equal(net2.get_params(), net.get_params())


def test_loaded_model_is_independent(rng, model_path):
    net, X, y = _trained(rng)
    net.save(model_path)
    net2 = dp.load(model_path)
    net2.layers[0].W[...] = 0.0
    assert np.any(net.layers[0].W != 0.0)


def test_save_accepts_str_path(rng, model_path):
    net, X, _ = _trained(rng)
    net.save(str(model_path))
    np.testing.assert_array_equal(dp.load(str(model_path)).forward(X), net.forward(X))


def test_save_overwrites(rng, model_path):
    net, X, y = _trained(rng)
    net.save(model_path)
    net.train_step(X, y, lr=1.0)
    net.save(model_path)
    np.testing.assert_array_equal(dp.load(model_path).get_params(), net.get_params())


# --------------------------------------------------------------------------------------- format
def test_file_loads_without_pickle(rng, model_path):
    net, _, _ = _trained(rng)
    net.save(model_path)
    with np.load(model_path, allow_pickle=False) as data:
        names = list(data.files)
        assert names
        arrays = [data[name] for name in names]      # raises on any pickled object array
    assert all(a.dtype != object for a in arrays)
    total = sum(a.size for a in arrays if a.dtype.kind == "f")
    assert total >= net.num_params                   # the weights are in there


def test_file_contains_the_weights(rng, model_path):
    net, _, _ = _trained(rng, dtype="float64")
    net.save(model_path)
    W0 = net.layers[0].W
    with np.load(model_path, allow_pickle=False) as data:
        found = any(data[name].shape == W0.shape and np.array_equal(data[name], W0) for name in data.files)
        found_flat = any(data[name].ndim == 1 and data[name].size == net.num_params
                         and np.array_equal(data[name], net.get_params()) for name in data.files)
    assert found or found_flat


# ---------------------------------------------------------------------------------- bad files
def test_load_missing_file(tmp_path):
    with pytest.raises(OSError):
        dp.load(tmp_path / "does_not_exist.npz")


def test_load_empty_file(model_path):
    model_path.write_bytes(b"")
    with pytest.raises(LOAD_ERRORS):
        dp.load(model_path)


def test_load_garbage(model_path):
    model_path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(LOAD_ERRORS):
        dp.load(model_path)


def test_load_text_file(model_path):
    model_path.write_text("this is not a model\n")
    with pytest.raises(LOAD_ERRORS):
        dp.load(model_path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_load_truncated_file(rng, model_path, fraction):
    net, _, _ = _trained(rng)
    net.save(model_path)
    data = model_path.read_bytes()
    model_path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(LOAD_ERRORS):
        dp.load(model_path)


def test_load_npz_that_is_not_a_model(model_path):
    np.savez(model_path, a=np.arange(3.0), b=np.eye(2))
    with pytest.raises(LOAD_ERRORS):
        dp.load(model_path)


def test_load_pickled_npz_is_refused(model_path):
    np.savez(model_path, payload=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(LOAD_ERRORS):
        dp.load(model_path)


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    change(arrays)
    np.savez(dst, **arrays)


def test_load_rejects_wrong_weight_shape(rng, tmp_path, model_path):
    net, _, _ = _trained(rng)
    net.save(model_path)
    bad = tmp_path / "bad.npz"

    def shrink_largest_float_array(arrays):
        name = max((n for n in arrays if arrays[n].dtype.kind == "f"), key=lambda n: arrays[n].size)
        arrays[name] = arrays[name].reshape(-1)[:-1]

    _rewrite(model_path, bad, shrink_largest_float_array)
    with pytest.raises(LOAD_ERRORS):
        dp.load(bad)


def test_load_rejects_missing_entry(rng, tmp_path, model_path):
    net, _, _ = _trained(rng)
    net.save(model_path)
    with np.load(model_path, allow_pickle=False) as data:
        names = [name for name in data.files if data[name].dtype.kind == "f"]   # weight entries
    assert names
    for k, name in enumerate(names):
        bad = tmp_path / f"bad{k}.npz"
        _rewrite(model_path, bad, lambda arrays, name=name: arrays.pop(name))
        with pytest.raises(LOAD_ERRORS):
            dp.load(bad)


def test_load_zip_with_corrupt_member(rng, tmp_path, model_path):
    net, _, _ = _trained(rng)
    net.save(model_path)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(model_path) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, b"\x93NUMPY garbage header")
    with pytest.raises(LOAD_ERRORS):
        dp.load(bad)
