"""deltaprop.MLP: construction, parameters, inference, loss/gradient, one SGD step, initialisation."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp

import npref
from conftest import assert_close, make_targets, randn, set_weights, tols, weights_of

SIZES = [5, 7, 6, 3]
LOSSES = list(npref.LOSSES)
ACTS = list(npref.ACTIVATIONS)


def _net(loss="cross_entropy", activation="tanh", dtype="float64", sizes=SIZES, seed=0):
    return dp.MLP(list(sizes), activation=activation, loss=loss, dtype=dtype, seed=seed)


def _randomise(net, rng, scale=0.5):
    """Non-zero biases and weights, so that every parameter matters."""
    theta = scale * rng.standard_normal(net.num_params)
    net.set_params(theta.astype(net.dtype))
    return theta


# ------------------------------------------------------------------------------- construction
def test_attributes(dtype):
    net = dp.MLP([4, 8, 2], activation="tanh", loss="mse", dtype=dtype.name, seed=1)
    assert list(net.sizes) == [4, 8, 2]
    assert net.loss == "mse"
    assert net.dtype == dtype
    assert isinstance(net.dtype, np.dtype)
    # assumption: a single name is reported as given (or as one name per hidden layer)
    assert net.activation == "tanh" or list(net.activation) == ["tanh"]


def test_defaults():
    net = dp.MLP([3, 4, 2])
    assert net.dtype == np.float32
    assert net.loss == "cross_entropy"
    assert net.activation == "relu" or list(net.activation) == ["relu"]


def test_dtype_accepts_numpy_dtype():
    assert dp.MLP([2, 2], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("sizes", [[5, 3], [5, 7, 3], [4, 9, 8, 7, 2], [1, 1]])
def test_num_params(sizes):
    net = dp.MLP(sizes)
    assert isinstance(net.num_params, int)
    assert net.num_params == npref.num_params(sizes)


@pytest.mark.parametrize("sizes", [[5, 3], [5, 7, 6, 3]])
def test_layer_shapes_and_dtypes(dtype, sizes):
    net = dp.MLP(sizes, dtype=dtype.name)
    assert len(net.layers) == len(sizes) - 1
    for layer, fan_in, fan_out in zip(net.layers, sizes[:-1], sizes[1:]):
        assert layer.W.shape == (fan_out, fan_in)
        assert layer.b.shape == (fan_out,)
        assert layer.W.dtype == dtype and layer.b.dtype == dtype


def test_hidden_layer_activation_names():
    net = dp.MLP([3, 4, 4, 2], activation="sigmoid")
    assert [layer.activation for layer in net.layers[:-1]] == ["sigmoid", "sigmoid"]


def test_per_layer_activation_list_names():
    net = dp.MLP([3, 4, 5, 2], activation=["tanh", "relu"], dtype="float64")
    assert [layer.activation for layer in net.layers[:-1]] == ["tanh", "relu"]


def test_per_layer_activation_list_forward(rng):
    net = dp.MLP([3, 4, 5, 2], activation=["tanh", "relu"], loss="mse", dtype="float64")
    _randomise(net, rng)
    X = rng.standard_normal((6, 3))
    Ws, bs = weights_of(net)
    Zs, _ = npref.forward(Ws, bs, ["tanh", "relu"], "mse", X)
    np.testing.assert_allclose(net.forward(X), Zs[-1], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------- parameter views
@pytest.mark.cpu_only
def test_W_is_writable_view_changing_predictions(rng):
    net = _net(loss="mse")
    X = rng.standard_normal((4, 5))
    before = net.forward(X).copy()
    net.layers[0].W[...] = 0.0
    after = net.forward(X)
    assert not np.allclose(before, after)
    # with layer 0 zeroed the hidden activations are tanh(b1) = tanh(0) = 0 for every row
    np.testing.assert_allclose(net.activations(X)[0], 0.0, atol=1e-15)


@pytest.mark.cpu_only
def test_b_is_writable_view_changing_predictions(rng):
    net = _net(loss="mse")
    X = rng.standard_normal((4, 5))
    before = net.forward(X).copy()
    net.layers[-1].b[:] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(net.forward(X), before + [1.0, 2.0, 3.0], rtol=1e-12)


@pytest.mark.cpu_only
def test_view_writes_show_in_get_params():
    net = _net()
    net.layers[0].W[0, 1] = 42.0
    net.layers[1].b[2] = -7.0
    theta = net.get_params()
    assert theta[1] == 42.0                       # layer 0 W row-major: (0, 1) is index 1
    assert theta[5 * 7 + 7 + 7 * 6 + 2] == -7.0   # after W0, b0, W1


@pytest.mark.cpu_only
def test_views_see_set_params(rng):
    net = _net()
    W0 = net.layers[0].W
    theta = rng.standard_normal(net.num_params)
    net.set_params(theta)
    np.testing.assert_array_equal(net.layers[0].W, theta[:35].reshape(7, 5))
    np.testing.assert_array_equal(W0, theta[:35].reshape(7, 5))


@pytest.mark.cpu_only
def test_views_see_train_step(rng):
    net = _net()
    W0 = net.layers[0].W
    X, y = rng.standard_normal((8, 5)), make_targets(rng, "cross_entropy", 8, 3)
    net.train_step(X, y, lr=0.5)
    np.testing.assert_array_equal(W0, net.get_params()[:35].reshape(7, 5))


# ----------------------------------------------------------------------- get_params/set_params
def test_get_params_flat_order(rng):
    net = _net(sizes=[3, 4, 2])
    _randomise(net, rng)
    expected = np.concatenate([net.layers[0].W.ravel(), net.layers[0].b,
                               net.layers[1].W.ravel(), net.layers[1].b])
    theta = net.get_params()
    assert theta.shape == (net.num_params,)
    assert theta.dtype == net.dtype
    np.testing.assert_array_equal(theta, expected)


def test_set_params_flat_order():
    net = _net(sizes=[2, 3, 1])
    net.set_params(np.arange(13, dtype=np.float64))
    np.testing.assert_array_equal(net.layers[0].W, [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(net.layers[0].b, [6, 7, 8])
    np.testing.assert_array_equal(net.layers[1].W, [[9, 10, 11]])
    np.testing.assert_array_equal(net.layers[1].b, [12])


def test_get_set_round_trip(rng, dtype):
    net = _net(dtype=dtype.name)
    theta = rng.standard_normal(net.num_params).astype(dtype)
    net.set_params(theta)
    np.testing.assert_array_equal(net.get_params(), theta)


def test_get_params_returns_copy():
    net = _net()
    theta = net.get_params()
    theta[:] = 99.0
    assert not np.any(net.get_params() == 99.0)


def test_set_params_copies_input(rng):
    net = _net()
    theta = rng.standard_normal(net.num_params)
    net.set_params(theta)
    theta[:] = 0.0
    assert np.any(net.get_params() != 0.0)


def test_set_params_changes_predictions(rng):
    a, b = _net(seed=1), _net(seed=2)
    X = rng.standard_normal((5, 5))
    b.set_params(a.get_params())
    np.testing.assert_array_equal(b.predict_proba(X), a.predict_proba(X))


@pytest.mark.parametrize("delta", [-1, 1])
def test_set_params_wrong_length(delta):
    net = _net()
    with pytest.raises(ValueError, match="theta|params"):
        net.set_params(np.zeros(net.num_params + delta))


# ---------------------------------------------------------------------------------- inference
@pytest.mark.parametrize("loss", LOSSES)
def test_forward_matches_numpy(rng, dtype, loss):
    net = _net(loss=loss, dtype=dtype.name)
    _randomise(net, rng)
    X = randn(rng, (9, 5), dtype)
    Z = net.forward(X)
    Ws, bs = weights_of(net)
    Zs, _ = npref.forward(Ws, bs, "tanh", loss, X)
    assert Z.shape == (9, 3)
    assert Z.dtype == dtype
    assert_close(Z, Zs[-1], dtype, k=7)


@pytest.mark.parametrize("activation", ACTS)
def test_forward_each_activation(rng, activation):
    net = _net(loss="mse", activation=activation)
    _randomise(net, rng)
    X = rng.standard_normal((6, 5))
    Ws, bs = weights_of(net)
    Zs, _ = npref.forward(Ws, bs, activation, "mse", X)
    np.testing.assert_allclose(net.forward(X), Zs[-1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_activations_list(rng, dtype, loss):
    net = _net(loss=loss, dtype=dtype.name)
    _randomise(net, rng)
    X = randn(rng, (4, 5), dtype)
    acts = net.activations(X)
    Ws, bs = weights_of(net)
    _, As = npref.forward(Ws, bs, "tanh", loss, X)
    assert len(acts) == len(SIZES) - 1
    for got, want in zip(acts, As):
        assert got.shape == want.shape
        assert got.dtype == dtype
        assert_close(got, want, dtype, k=7)


def test_activations_last_is_predict_proba(rng):
    net = _net()
    _randomise(net, rng)
    X = rng.standard_normal((4, 5))
    np.testing.assert_allclose(net.activations(X)[-1], net.predict_proba(X), rtol=1e-12)


def test_predict_proba_cross_entropy(rng, dtype):
    net = _net(dtype=dtype.name)
    _randomise(net, rng)
    X = randn(rng, (10, 5), dtype)
    P = net.predict_proba(X)
    assert P.shape == (10, 3) and P.dtype == dtype
    assert_close(P.sum(axis=1), np.ones(10), dtype)
    assert_close(P, npref.softmax(net.forward(X)), dtype)


def test_predict_proba_bce(rng, dtype):
    net = _net(loss="binary_cross_entropy", dtype=dtype.name)
    _randomise(net, rng)
    X = randn(rng, (10, 5), dtype)
    P = net.predict_proba(X)
    assert P.shape == (10, 3)
    assert_close(P, npref.sigmoid(net.forward(X)), dtype)


def test_predict_proba_mse_is_output(rng):
    net = _net(loss="mse")
    _randomise(net, rng)
    X = rng.standard_normal((10, 5))
    np.testing.assert_allclose(net.predict_proba(X), net.forward(X), rtol=1e-12)


def test_predict_cross_entropy_labels(rng, dtype):
    net = _net(dtype=dtype.name)
    _randomise(net, rng, scale=1.5)
    X = randn(rng, (20, 5), dtype)
    pred = net.predict(X)
    assert pred.shape == (20,)
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, np.argmax(net.forward(X), axis=1))


def test_predict_bce_zero_one(rng):
    net = _net(loss="binary_cross_entropy")
    _randomise(net, rng, scale=1.5)
    X = rng.standard_normal((20, 5))
    pred = net.predict(X)
    assert pred.shape == (20, 3)
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, (net.forward(X) > 0).astype(np.int64))


def test_predict_mse_values(rng):
    net = _net(loss="mse")
    _randomise(net, rng)
    X = rng.standard_normal((7, 5))
    pred = net.predict(X)
    assert pred.shape == (7, 3)
    np.testing.assert_allclose(pred, net.forward(X), rtol=1e-12)


def test_predict_single_row(rng):
    net = _net()
    X = rng.standard_normal((1, 5))
    assert net.predict(X).shape == (1,)
    assert net.predict_proba(X).shape == (1, 3)


def test_inference_does_not_modify_input_or_params(rng):
    net = _net()
    X = rng.standard_normal((5, 5))
    X0, theta0 = X.copy(), net.get_params()
    net.predict(X)
    net.predict_proba(X)
    net.forward(X)
    net.activations(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(net.get_params(), theta0)


def test_noncontiguous_input(rng):
    net = _net()
    big = rng.standard_normal((10, 10))
    X = big[::2, ::2]
    np.testing.assert_allclose(net.forward(X), net.forward(np.ascontiguousarray(X)), rtol=1e-12)


def test_float64_input_to_float32_net(rng):
    # assumption: X is converted to the net's dtype
    net = _net(dtype="float32")
    X = rng.standard_normal((6, 5))
    np.testing.assert_allclose(net.forward(X), net.forward(X.astype(np.float32)), rtol=1e-6)


def test_forward_large_batch(rng, dtype):
    net = dp.MLP([32, 64, 10], dtype=dtype.name, seed=3)
    X = randn(rng, (1000, 32), dtype)
    Ws, bs = weights_of(net)
    Zs, _ = npref.forward(Ws, bs, "relu", "cross_entropy", X)
    assert_close(net.forward(X), Zs[-1], dtype, k=64)


# ----------------------------------------------------------------------------------- evaluate
def test_evaluate_cross_entropy(rng, dtype):
    net = _net(dtype=dtype.name)
    _randomise(net, rng)
    X = randn(rng, (30, 5), dtype)
    y = make_targets(rng, "cross_entropy", 30, 3)
    res = net.evaluate(X, y)
    Ws, bs = weights_of(net)
    assert isinstance(res, dict)
    t = tols(dtype, 7)
    ref = npref.mean_loss(Ws, bs, "tanh", "cross_entropy", X, y)
    assert res["loss"] == pytest.approx(ref, rel=t["rtol"], abs=t["atol"])
    assert res["accuracy"] == pytest.approx(np.mean(net.predict(X) == y))


def test_evaluate_bce(rng):
    net = _net(loss="binary_cross_entropy", sizes=[5, 4, 1])
    _randomise(net, rng, scale=1.5)
    X = rng.standard_normal((40, 5))
    y = make_targets(rng, "binary_cross_entropy", 40, 1)
    res = net.evaluate(X, y)
    Ws, bs = weights_of(net)
    assert res["loss"] == pytest.approx(npref.mean_loss(Ws, bs, "tanh", "binary_cross_entropy", X, y), rel=1e-10)
    expected_acc = np.mean((npref.forward(Ws, bs, "tanh", "binary_cross_entropy", X)[0][-1] > 0) == (y > 0.5))
    assert 0.0 < expected_acc < 1.0
    assert res["accuracy"] == pytest.approx(expected_acc)


def test_evaluate_mse(rng):
    net = _net(loss="mse")
    _randomise(net, rng)
    X = rng.standard_normal((12, 5))
    y = make_targets(rng, "mse", 12, 3)
    Ws, bs = weights_of(net)
    assert net.evaluate(X, y)["loss"] == pytest.approx(npref.mean_loss(Ws, bs, "tanh", "mse", X, y), rel=1e-10)


def test_evaluate_perfect_accuracy():
    net = dp.MLP([2, 2], activation="identity", dtype="float64")
    set_weights(net, [np.eye(2)], [np.zeros(2)])
    X = np.array([[3.0, 0.0], [0.0, 3.0], [5.0, 1.0]])
    assert net.evaluate(X, np.array([0, 1, 0]))["accuracy"] == 1.0
    assert net.evaluate(X, np.array([1, 0, 1]))["accuracy"] == 0.0


# ------------------------------------------------------------------------------ loss_and_grad
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
def test_loss_and_grad_matches_numpy_backprop(rng, loss, activation):
    net = _net(loss=loss, activation=activation)
    _randomise(net, rng)
    X = rng.standard_normal((8, 5))
    y = make_targets(rng, loss, 8, 3)
    value, grad = net.loss_and_grad(X, y)
    Ws, bs = weights_of(net)
    ref_value, ref_grad = npref.loss_and_grad(Ws, bs, activation, loss, X, y)
    assert isinstance(value, float)
    assert grad.shape == (net.num_params,)
    assert grad.dtype == np.float64
    assert value == pytest.approx(ref_value, rel=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_and_grad_with_l2(rng, loss):
    net = _net(loss=loss)
    _randomise(net, rng)
    X = rng.standard_normal((8, 5))
    y = make_targets(rng, loss, 8, 3)
    value, grad = net.loss_and_grad(X, y, l2=0.3)
    Ws, bs = weights_of(net)
    ref_value, ref_grad = npref.loss_and_grad(Ws, bs, "tanh", loss, X, y, l2=0.3)
    assert value == pytest.approx(ref_value, rel=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)


def test_l2_does_not_touch_biases(rng):
    net = _net()
    _randomise(net, rng)
    X, y = rng.standard_normal((8, 5)), make_targets(rng, "cross_entropy", 8, 3)
    v0, g0 = net.loss_and_grad(X, y)
    v1, g1 = net.loss_and_grad(X, y, l2=0.7)
    mask = npref.weight_mask(SIZES).astype(bool)
    theta = net.get_params()
    np.testing.assert_allclose(g1[~mask], g0[~mask], rtol=1e-12)
    np.testing.assert_allclose(g1[mask] - g0[mask], 0.7 * theta[mask], rtol=1e-9, atol=1e-12)
    assert v1 - v0 == pytest.approx(0.35 * float((theta[mask] ** 2).sum()), rel=1e-9)


def test_loss_and_grad_float32(rng):
    net = _net(dtype="float32")
    _randomise(net, rng)
    X = rng.standard_normal((8, 5)).astype(np.float32)
    y = make_targets(rng, "cross_entropy", 8, 3)
    value, grad = net.loss_and_grad(X, y, l2=0.1)
    Ws, bs = weights_of(net)
    ref_value, ref_grad = npref.loss_and_grad(Ws, bs, "tanh", "cross_entropy", X, y, l2=0.1)
    assert grad.dtype == np.float32
    assert value == pytest.approx(ref_value, rel=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-5)


def test_loss_and_grad_equals_evaluate_without_l2(rng):
    net = _net()
    _randomise(net, rng)
    X, y = rng.standard_normal((9, 5)), make_targets(rng, "cross_entropy", 9, 3)
    assert net.loss_and_grad(X, y)[0] == pytest.approx(net.evaluate(X, y)["loss"], rel=1e-12)


def test_loss_and_grad_does_not_change_params(rng):
    net = _net()
    theta = net.get_params()
    net.loss_and_grad(rng.standard_normal((4, 5)), np.array([0, 1, 2, 0]), l2=0.1)
    np.testing.assert_array_equal(net.get_params(), theta)


def test_loss_is_mean_over_batch(rng):
    # duplicating the batch leaves the mean loss and its gradient unchanged
    net = _net()
    _randomise(net, rng)
    X, y = rng.standard_normal((5, 5)), make_targets(rng, "cross_entropy", 5, 3)
    v1, g1 = net.loss_and_grad(X, y)
    v2, g2 = net.loss_and_grad(np.concatenate([X, X]), np.concatenate([y, y]))
    assert v2 == pytest.approx(v1, rel=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------------------- label formats
def test_cross_entropy_float_integral_labels(rng):
    net = _net()
    X, y = rng.standard_normal((6, 5)), np.array([0, 2, 1, 1, 0, 2])
    a, ga = net.loss_and_grad(X, y)
    b, gb = net.loss_and_grad(X, y.astype(np.float64))
    assert a == b
    np.testing.assert_array_equal(ga, gb)


def test_cross_entropy_one_hot_labels(rng):
    net = _net()
    _randomise(net, rng)
    X, y = rng.standard_normal((6, 5)), np.array([0, 2, 1, 1, 0, 2])
    a, ga = net.loss_and_grad(X, y)
    b, gb = net.loss_and_grad(X, npref.one_hot(y, 3))
    assert b == pytest.approx(a, rel=1e-12)
    np.testing.assert_allclose(gb, ga, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
def test_one_dimensional_targets_for_single_output(rng, loss):
    net = _net(loss=loss, sizes=[4, 3, 1])
    _randomise(net, rng)
    X = rng.standard_normal((7, 4))
    y = make_targets(rng, loss, 7, 1)
    a, ga = net.loss_and_grad(X, y)
    b, gb = net.loss_and_grad(X, y.ravel())
    assert a == b
    np.testing.assert_array_equal(ga, gb)


# ---------------------------------------------------------------------------------- train_step
@pytest.mark.parametrize("loss", LOSSES)
def test_train_step_is_one_sgd_step(rng, loss):
    net = _net(loss=loss)
    _randomise(net, rng)
    X = rng.standard_normal((8, 5))
    y = make_targets(rng, loss, 8, 3)
    theta = net.get_params()
    Ws, bs = weights_of(net)
    ref_loss, ref_grad = npref.loss_and_grad(Ws, bs, "tanh", loss, X, y)
    value = net.train_step(X, y, lr=0.05)
    assert isinstance(value, float)
    assert value == pytest.approx(ref_loss, rel=1e-10)
    np.testing.assert_allclose(net.get_params(), theta - 0.05 * ref_grad, rtol=1e-10, atol=1e-13)


def test_train_step_with_l2(rng):
    net = _net()
    _randomise(net, rng)
    X, y = rng.standard_normal((8, 5)), make_targets(rng, "cross_entropy", 8, 3)
    theta = net.get_params()
    Ws, bs = weights_of(net)
    ref_loss, ref_grad_l2 = npref.loss_and_grad(Ws, bs, "tanh", "cross_entropy", X, y, l2=0.2)
    _, ref_grad = npref.loss_and_grad(Ws, bs, "tanh", "cross_entropy", X, y)
    mask = npref.weight_mask(SIZES)
    # W -= lr * (dW + l2 W); b -= lr * db
    np.testing.assert_allclose(ref_grad_l2, ref_grad + 0.2 * mask * theta, rtol=1e-12, atol=1e-15)
    value = net.train_step(X, y, lr=0.1, l2=0.2)
    assert value == pytest.approx(ref_loss, rel=1e-10)
    np.testing.assert_allclose(net.get_params(), theta - 0.1 * ref_grad_l2, rtol=1e-10, atol=1e-13)


def test_train_step_equals_loss_and_grad_update(rng):
    net = _net()
    _randomise(net, rng)
    X, y = rng.standard_normal((8, 5)), make_targets(rng, "cross_entropy", 8, 3)
    theta = net.get_params()
    value, grad = net.loss_and_grad(X, y, l2=0.01)
    assert net.train_step(X, y, lr=0.3, l2=0.01) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(net.get_params(), theta - 0.3 * grad, rtol=1e-12, atol=1e-15)


def test_train_step_float32(rng):
    net = _net(dtype="float32")
    _randomise(net, rng)
    X = rng.standard_normal((16, 5)).astype(np.float32)
    y = make_targets(rng, "cross_entropy", 16, 3)
    theta = net.get_params().astype(np.float64)
    Ws, bs = weights_of(net)
    ref_loss, ref_grad = npref.loss_and_grad(Ws, bs, "tanh", "cross_entropy", X, y)
    value = net.train_step(X, y, lr=0.5)
    assert value == pytest.approx(ref_loss, rel=1e-5)
    step = (theta - net.get_params().astype(np.float64)) / 0.5
    np.testing.assert_allclose(step, ref_grad, rtol=1e-3, atol=2e-5)


def test_train_step_default_lr_is_0_01(rng):
    net = _net()
    _randomise(net, rng)
    X, y = rng.standard_normal((4, 5)), make_targets(rng, "cross_entropy", 4, 3)
    theta = net.get_params()
    _, grad = net.loss_and_grad(X, y)
    net.train_step(X, y)
    np.testing.assert_allclose(net.get_params(), theta - 0.01 * grad, rtol=1e-12, atol=1e-15)


def test_repeated_train_steps_reduce_loss(rng):
    net = _net()
    X, y = rng.standard_normal((32, 5)), make_targets(rng, "cross_entropy", 32, 3)
    first = net.train_step(X, y, lr=0.5)
    for _ in range(50):
        last = net.train_step(X, y, lr=0.5)
    assert last < 0.7 * first


def test_train_step_batch_sizes_can_change(rng):
    net = _net()
    for n in (8, 3, 17, 1, 8):
        X, y = rng.standard_normal((n, 5)), make_targets(rng, "cross_entropy", n, 3)
        theta = net.get_params()
        _, grad = net.loss_and_grad(X, y)
        net.train_step(X, y, lr=0.1)
        np.testing.assert_allclose(net.get_params(), theta - 0.1 * grad, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------------ initialisation
def test_same_seed_same_init():
    a = dp.MLP([10, 20, 5], seed=123)
    b = dp.MLP([10, 20, 5], seed=123)
    np.testing.assert_array_equal(a.get_params(), b.get_params())


def test_different_seed_different_init():
    a = dp.MLP([10, 20, 5], seed=1)
    b = dp.MLP([10, 20, 5], seed=2)
    assert not np.array_equal(a.get_params(), b.get_params())


def test_biases_start_at_zero():
    net = dp.MLP([10, 20, 30, 5], activation="tanh", seed=4)
    for layer in net.layers:
        np.testing.assert_array_equal(layer.b, 0.0)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_he_normal_init(activation):
    net = dp.MLP([512, 512, 256], activation=activation, dtype="float64", seed=0)
    for layer in net.layers:               # the output layer follows the hidden rule
        W = layer.W
        std = np.sqrt(2.0 / W.shape[1])
        assert abs(W.mean()) < 0.05 * std
        assert W.std() == pytest.approx(std, rel=0.10)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "identity"])
def test_glorot_uniform_init(activation):
    net = dp.MLP([512, 512, 256], activation=activation, dtype="float64", seed=0)
    for layer in net.layers:
        W = layer.W
        fan_out, fan_in = W.shape
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(W).max() <= limit * (1 + 1e-6)
        assert np.abs(W).max() > 0.99 * limit            # uniform fills the whole interval
        assert W.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.10)
        assert abs(W.mean()) < 0.05 * limit


def test_he_init_float32():
    a = dp.MLP([256, 256, 10], activation="relu", dtype="float32", seed=0)
    assert a.layers[0].W.std() == pytest.approx(np.sqrt(2.0 / 256), rel=0.10)


# ------------------------------------------------------------------------------- end to end
def test_float32_and_float64_agree(rng):
    n64 = _net(dtype="float64")
    _randomise(n64, rng)
    n32 = _net(dtype="float32")
    n32.set_params(n64.get_params().astype(np.float32))
    X = rng.standard_normal((20, 5))
    y = make_targets(rng, "cross_entropy", 20, 3)
    np.testing.assert_allclose(n32.predict_proba(X.astype(np.float32)), n64.predict_proba(X), rtol=1e-4, atol=1e-6)
    for _ in range(5):
        l32 = n32.train_step(X.astype(np.float32), y, lr=0.1)
        l64 = n64.train_step(X, y, lr=0.1)
        assert l32 == pytest.approx(l64, rel=1e-4)
    np.testing.assert_allclose(n32.get_params(), n64.get_params(), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [[3, 2], [784, 512, 512, 10], [20, 7, 5, 3]])
def test_parameters_start_on_a_cache_line(sizes, dtype):
    # Every layer's W follows whole, aligned rows only if the flat vector itself starts on a
    # 64-byte boundary (the kernels' vector loads of a row must not straddle two lines).
    net = dp.MLP(sizes, seed=0, dtype=dtype)
    assert net.network._params.ctypes.data % 64 == 0
    assert net.get_params().size == net.num_params


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_train_step_fast_path_matches_the_checked_path(dtype):
    """A C-contiguous X of the model's dtype with int64 labels and plain-number lr/l2 skips the
    general checks (Network.fast_sgd_step); any other form of the same batch takes them: both
    give the same loss and parameters, bit for bit."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((9, 12)).astype(dtype)
    y = rng.integers(0, 3, 9)
    fast, checked = dp.MLP([12, 8, 3], seed=2, dtype=dtype), dp.MLP([12, 8, 3], seed=2, dtype=dtype)
    assert fast.network.fast_sgd_step(X, y, 0.1, 0.01) is not None  # the fast path runs ...
    assert checked.network.fast_sgd_step(X.tolist(), y, 0.1, 0.01) is None  # ... or declines
    assert checked.network.fast_sgd_step(X, y.astype(np.int32), 0.1, 0.01) is None
    assert checked.network.fast_sgd_step(np.asfortranarray(X), y, 0.1, 0.01) is None
    checked.train_step(X.tolist(), y.tolist(), lr=0.1, l2=0.01)
    np.testing.assert_array_equal(fast.get_params(), checked.get_params())
    losses = [(fast.train_step(X, y, lr=0.1, l2=0.01), checked.train_step(X.tolist(), list(y), lr=np.float64(0.1), l2=0.01))
              for _ in range(3)]
    assert all(a == b for a, b in losses)
    np.testing.assert_array_equal(fast.get_params(), checked.get_params())


@pytest.mark.parametrize("bad, match", [
    ({"X": np.nan}, "X: expected finite values"),
    ({"y": 3}, r"y: class indices must lie in \[0, 2\]"),
    ({"y": -1}, r"y: class indices must lie in \[0, 2\]"),
    ({"lr": 0.0}, "lr"),
    ({"lr": float("inf")}, "lr"),
    ({"l2": -1.0}, "l2"),
])
def test_train_step_fast_path_still_refuses_bad_input(bad, match):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    if "X" in bad:
        X[2, 1] = bad["X"]
    if "y" in bad:
        y[3] = bad["y"]
    net = dp.MLP([4, 6, 3], seed=0)
    before = net.get_params()
    with pytest.raises(ValueError, match=match):
        net.train_step(X, y, lr=bad.get("lr", 0.1), l2=bad.get("l2", 0.0))
    np.testing.assert_array_equal(net.get_params(), before)  # nothing changed
