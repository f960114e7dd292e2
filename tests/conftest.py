"""Shared fixtures and small helpers for the deltaprop test suite.

The numpy reference implementation (independent of deltaprop) lives in ``npref.py`` next to this
file; this directory is put on sys.path here so that ``import npref`` works in every import mode.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]


@pytest.fixture
def rng():
    """A fresh, fixed-seed generator per test (tests never share random state)."""
    return np.random.default_rng(20240601)


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param


def tols(dtype, k=1):
    """rtol/atol for comparing a deltaprop result of ``dtype`` against a float64 numpy reference.

    ``k`` is the length of the longest reduction that produced the values (the K of a GEMM, the
    fan-in of a layer, ...): rounding errors of a sum grow with its length.
    """
    dtype = np.dtype(dtype)
    k = max(int(k), 1)
    if dtype == np.float32:
        return {"rtol": 1e-4, "atol": 1e-4 * max(1.0, k / 10.0) ** 0.75}
    if dtype == np.float64:
        return {"rtol": 1e-10, "atol": 1e-10 * max(1.0, k / 100.0)}
    raise AssertionError(f"unexpected dtype {dtype}")


@pytest.fixture
def tol(dtype):
    """tol(k) -> dict(rtol=..., atol=...) for the parametrised dtype."""
    return lambda k=1: tols(dtype, k)


def assert_close(actual, expected, dtype=None, k=1, err_msg=""):
    """Compare ``actual`` to a float64 reference with the tolerance of ``dtype`` (default: actual's)."""
    actual = np.asarray(actual)
    dtype = np.dtype(dtype) if dtype is not None else actual.dtype
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
        err_msg=err_msg, **tols(dtype, k))


def randn(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def make_targets(rng, loss, n, out, dtype=np.float64):
    """Valid targets for ``loss``: int labels for cross_entropy, 0/1 floats for bce, reals for mse."""
    if loss == "cross_entropy":
        return rng.integers(0, out, size=n).astype(np.int64)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, out)).astype(dtype)
    if loss == "mse":
        return rng.standard_normal((n, out)).astype(dtype)
    raise AssertionError(loss)


def make_blobs(rng, n_per_class=100, centers=((-3.0, -3.0), (3.0, -3.0), (0.0, 3.0)), std=0.7,
               dtype=np.float32):
    """Easy, well separated Gaussian blobs in 2-D; returns shuffled (X, y)."""
    centers = np.asarray(centers, dtype=np.float64)
    X = np.concatenate([c + std * rng.standard_normal((n_per_class, centers.shape[1])) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per_class)
    perm = rng.permutation(len(y))
    return X[perm].astype(dtype), y[perm].astype(np.int64)


def make_spirals(rng, n_per_class=150, noise=0.15, turns=1.25, dtype=np.float32):
    """Two interleaved spirals in 2-D (a non-linearly separable problem); returns shuffled (X, y)."""
    t = np.sqrt(rng.uniform(0.05, 1.0, n_per_class)) * turns * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (turns * 2 * np.pi) * 3.0
    X = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n_per_class, 2))
    y = np.repeat([0, 1], n_per_class)
    perm = rng.permutation(len(y))
    return X[perm].astype(dtype), y[perm].astype(np.int64)


def set_weights(net, Ws, bs):
    """Give the net the float arrays Ws[i] (out, in) and bs[i] (out,) (through set_params, so it
    works on every device)."""
    assert len(net.layers) == len(Ws) == len(bs)
    for layer, W, b in zip(net.layers, Ws, bs):
        assert np.shape(W) == layer.W.shape and np.shape(b) == layer.b.shape
    net.set_params(np.concatenate([np.concatenate([np.ravel(W), np.ravel(b)]) for W, b in zip(Ws, bs)]))


def weights_of(net):
    """float64 copies of every layer's (W, b)."""
    Ws = [np.array(layer.W, dtype=np.float64) for layer in net.layers]
    bs = [np.array(layer.b, dtype=np.float64) for layer in net.layers]
    return Ws, bs


# These modules run with their models on the device given by --device (or DELTAPROP_TEST_DEVICE):
# `pytest --device cuda tests/test_mlp_api.py ...` is the same API, training and checkpoint suite on
# a GPU, against the same independent references. Tests marked `cpu_only` (writes into parameter
# views, which are read-only copies on a GPU) are skipped there.
DEVICE_MODULES = {"test_mlp_api", "test_training", "test_checkpoint", "test_fit_features"}


def pytest_addoption(parser):
    parser.addoption("--device", default=os.environ.get("DELTAPROP_TEST_DEVICE", "cpu"),
                     help="device of the models in " + ", ".join(sorted(DEVICE_MODULES)) + " (cpu, cuda, cuda:N)")


def _device_module(item) -> bool:
    return item.module.__name__.rsplit(".", 1)[-1] in DEVICE_MODULES


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` need the CUDA backend and a GPU: skipped, with the reason, without
    (as is the device suite under --device cuda)."""
    from deltaprop import cuda

    on_gpu = config.getoption("--device") != "cpu"
    for item in items:
        if on_gpu and _device_module(item) and item.get_closest_marker("cpu_only"):
            item.add_marker(pytest.mark.skip(reason="CPU only: writes into parameter views"))
    reason = cuda.why_unavailable()
    if not reason:
        return
    skip = pytest.mark.skip(reason=f"needs a CUDA GPU: {reason}")
    for item in items:
        if "cuda" in item.keywords or (on_gpu and _device_module(item)):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _models_on_the_test_device(request, monkeypatch):
    """Under --device cuda, a model made without a device in a DEVICE_MODULES test is on the GPU."""
    device = request.config.getoption("--device")
    if device == "cpu" or not _device_module(request.node):
        return
    import inspect

    import deltaprop as dp

    names = [p for p in inspect.signature(dp.MLP.__init__).parameters if p != "self"]
    defaults = list(dp.MLP.__init__.__defaults__)
    defaults[names.index("device") - (len(names) - len(defaults))] = device
    monkeypatch.setattr(dp.MLP.__init__, "__defaults__", tuple(defaults))
