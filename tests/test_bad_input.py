"""Bad input raises ValueError/TypeError naming the argument: never a crash, never a wrong answer."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import kernels as K

BAD = (ValueError, TypeError)


def name(*names):
    """A regex matching any of the argument names as a whole word."""
    return "|".join(rf"(?<![A-Za-z_]){n}(?![A-Za-z_])" for n in names)


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture
def ce_net():
    return dp.MLP([5, 7, 3], activation="tanh", loss="cross_entropy", dtype="float64", seed=0)


@pytest.fixture
def data(rng):
    return rng.standard_normal((10, 5)), rng.integers(0, 3, 10)


def _call(net, method, X, y):
    if method == "fit":
        return net.fit(X, y, epochs=1, batch_size=4)
    if method == "train_step":
        return net.train_step(X, y)
    if method == "evaluate":
        return net.evaluate(X, y)
    if method == "loss_and_grad":
        return net.loss_and_grad(X, y)
    return getattr(net, method)(X)


X_METHODS = ["fit", "train_step", "predict", "predict_proba", "evaluate", "loss_and_grad", "forward",
             "activations"]
XY_METHODS = ["fit", "train_step", "evaluate", "loss_and_grad"]
FINITE_METHODS = ["fit", "train_step", "predict", "predict_proba", "evaluate", "loss_and_grad"]


# ------------------------------------------------------------------------------------------ X
@pytest.mark.parametrize("method", X_METHODS)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 5), ()], ids=["1d", "3d", "0d"])
def test_X_wrong_ndim(ce_net, rng, method, shape):
    X = rng.standard_normal(shape)
    y = np.zeros(2 if len(shape) == 3 else 1, dtype=np.int64)
    with pytest.raises(ValueError, match=name("X")):
        _call(ce_net, method, X, y)


@pytest.mark.parametrize("method", X_METHODS)
@pytest.mark.parametrize("features", [4, 6, 0])
def test_X_wrong_number_of_features(ce_net, rng, method, features):
    X = rng.standard_normal((10, features))
    with pytest.raises(ValueError, match=name("X")):
        _call(ce_net, method, X, rng.integers(0, 3, 10))


@pytest.mark.parametrize("method", XY_METHODS)
def test_X_zero_rows(ce_net, method):
    with pytest.raises(ValueError, match=name("X", "y")):
        _call(ce_net, method, np.zeros((0, 5)), np.zeros(0, dtype=np.int64))


@pytest.mark.parametrize("method", FINITE_METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_X_not_finite(ce_net, data, method, bad):
    X, y = data
    X = X.copy()
    X[3, 2] = bad
    theta = ce_net.get_params()
    with pytest.raises(ValueError, match=name("X")):
        _call(ce_net, method, X, y)
    np.testing.assert_array_equal(ce_net.get_params(), theta)


@pytest.mark.parametrize("method", X_METHODS)
def test_X_none(ce_net, method):
    with pytest.raises(BAD, match=name("X")):
        _call(ce_net, method, None, np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("method", ["predict", "fit"])
def test_X_strings(ce_net, method):
    X = np.array([["a", "b", "c", "d", "e"]] * 3)
    with pytest.raises(BAD, match=name("X")):
        _call(ce_net, method, X, np.zeros(3, dtype=np.int64))


# ------------------------------------------------------------------------------------------ y
@pytest.mark.parametrize("method", XY_METHODS)
@pytest.mark.parametrize("n_y", [9, 11, 1])
def test_length_mismatch(ce_net, data, method, n_y):
    X, _ = data
    with pytest.raises(ValueError, match=name("X", "y")):
        _call(ce_net, method, X, np.zeros(n_y, dtype=np.int64))


@pytest.mark.parametrize("method", XY_METHODS)
@pytest.mark.parametrize("bad_label", [3, 100, -1], ids=["C", "large", "negative"])
@pytest.mark.parametrize("layout", ["int64", "int32", "int64-strided"])
def test_cross_entropy_label_out_of_range(ce_net, data, method, bad_label, layout):
    """Refused before any work, naming the range found (contiguous int64 labels are scanned by the
    core, other layouts by numpy)."""
    X, y = data
    y = y.astype(np.int32 if layout == "int32" else np.int64)
    if layout == "int64-strided":
        y = np.repeat(y, 2)[::2]
    else:
        y = y.copy()
    y[4] = bad_label
    theta = ce_net.get_params()
    with pytest.raises(ValueError, match=name("y") + r".*got values in \[" + f"{y.min()}, {y.max()}" + r"\]"):
        _call(ce_net, method, X, y)
    np.testing.assert_array_equal(ce_net.get_params(), theta)


@pytest.mark.parametrize("method", XY_METHODS)
def test_cross_entropy_fractional_float_labels(ce_net, data, method):
    X, y = data
    y = y.astype(np.float64)
    y[0] = 0.5
    with pytest.raises(ValueError, match=name("y")):
        _call(ce_net, method, X, y)


@pytest.mark.parametrize("method", XY_METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_cross_entropy_nonfinite_labels(ce_net, data, method, bad):
    X, y = data
    y = y.astype(np.float64)
    y[1] = bad
    with pytest.raises(ValueError, match=name("y")):
        _call(ce_net, method, X, y)


@pytest.mark.parametrize("method", XY_METHODS)
def test_cross_entropy_one_hot_with_wrong_width(ce_net, data, method):
    X, _ = data
    with pytest.raises(ValueError, match=name("y")):
        _call(ce_net, method, X, np.eye(4)[np.zeros(10, dtype=int)])


@pytest.mark.parametrize("method", XY_METHODS)
def test_cross_entropy_string_labels(ce_net, data, method):
    X, _ = data
    with pytest.raises(BAD, match=name("y")):
        _call(ce_net, method, X, np.array(["a"] * 10))


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
@pytest.mark.parametrize("method", XY_METHODS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_float_targets_not_finite(rng, loss, method, bad):
    net = dp.MLP([5, 4, 2], loss=loss, dtype="float64", seed=0)
    X = rng.standard_normal((6, 5))
    y = rng.integers(0, 2, (6, 2)).astype(np.float64)
    y[2, 1] = bad
    with pytest.raises(ValueError, match=name("y")):
        _call(net, method, X, y)


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
@pytest.mark.parametrize("shape", [(6, 3), (6, 1), (6,), (6, 2, 1)])
def test_float_targets_wrong_shape(rng, loss, shape):
    net = dp.MLP([5, 4, 2], loss=loss, dtype="float64", seed=0)
    X = rng.standard_normal((6, 5))
    with pytest.raises(ValueError, match=name("y")):
        net.loss_and_grad(X, np.zeros(shape))


@pytest.mark.parametrize("value", [2.0, -1.0])
def test_bce_targets_outside_unit_interval(rng, value):
    # assumption: bce targets must lie in [0, 1]
    net = dp.MLP([5, 4, 2], loss="binary_cross_entropy", dtype="float64", seed=0)
    X = rng.standard_normal((6, 5))
    y = np.zeros((6, 2))
    y[0, 0] = value
    with pytest.raises(ValueError, match=name("y")):
        net.loss_and_grad(X, y)


def test_validation_data_is_checked(ce_net, data):
    X, y = data
    Xv = X.copy()
    Xv[0, 0] = np.nan
    with pytest.raises(ValueError, match=name("X", "X_val", "validation_data")):
        ce_net.fit(X, y, epochs=1, validation_data=(Xv, y))


# ------------------------------------------------------------------------------ constructor
@pytest.mark.parametrize("sizes", [[], [5], [5, 0, 3], [5, -2, 3], [0, 3], [5, 3, 0]],
                         ids=["empty", "one", "zero-hidden", "negative", "zero-in", "zero-out"])
def test_bad_sizes(sizes):
    with pytest.raises(ValueError, match=name("sizes")):
        dp.MLP(sizes)


@pytest.mark.parametrize("sizes", [[5, 2.5, 3], "53", None, [5, "7", 3]])
def test_sizes_wrong_type(sizes):
    with pytest.raises(BAD, match=name("sizes")):
        dp.MLP(sizes)


@pytest.mark.parametrize("activation", ["swish", "", "ReLU ", "softmax"])
def test_unknown_activation(activation):
    with pytest.raises(ValueError, match=name("activation")):
        dp.MLP([3, 4, 2], activation=activation)


def test_activation_none():
    with pytest.raises(BAD, match=name("activation")):
        dp.MLP([3, 4, 2], activation=None)


@pytest.mark.parametrize("activation", [["relu"], ["relu", "tanh", "relu"], ["relu", "nope"]])
def test_activation_list_wrong(activation):
    with pytest.raises(ValueError, match=name("activation")):
        dp.MLP([3, 4, 5, 2], activation=activation)


@pytest.mark.parametrize("loss", ["hinge", "", "crossentropy", "softmax"])
def test_unknown_loss(loss):
    with pytest.raises(ValueError, match=name("loss")):
        dp.MLP([3, 4, 2], loss=loss)


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex64", "banana"])
def test_bad_dtype(dtype):
    with pytest.raises(BAD, match=name("dtype")):
        dp.MLP([3, 4, 2], dtype=dtype)


# ------------------------------------------------------------------------------ hyperparameters
@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf])
@pytest.mark.parametrize("method", ["fit", "train_step"])
def test_bad_lr(ce_net, data, lr, method):
    X, y = data
    theta = ce_net.get_params()
    with pytest.raises(ValueError, match=name("lr")):
        if method == "fit":
            ce_net.fit(X, y, epochs=1, lr=lr)
        else:
            ce_net.train_step(X, y, lr=lr)
    np.testing.assert_array_equal(ce_net.get_params(), theta)


@pytest.mark.parametrize("l2", [-0.1, np.nan])
@pytest.mark.parametrize("method", ["fit", "train_step", "loss_and_grad"])
def test_bad_l2(ce_net, data, l2, method):
    # assumption: l2 must be a finite number >= 0
    X, y = data
    with pytest.raises(ValueError, match=name("l2")):
        if method == "fit":
            ce_net.fit(X, y, epochs=1, l2=l2)
        elif method == "train_step":
            ce_net.train_step(X, y, l2=l2)
        else:
            ce_net.loss_and_grad(X, y, l2=l2)


@pytest.mark.parametrize("batch_size", [0, -1])
def test_bad_batch_size(ce_net, data, batch_size):
    X, y = data
    with pytest.raises(ValueError, match=name("batch_size")):
        ce_net.fit(X, y, epochs=1, batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.5, "32", None])
def test_batch_size_wrong_type(ce_net, data, batch_size):
    X, y = data
    with pytest.raises(BAD, match=name("batch_size")):
        ce_net.fit(X, y, epochs=1, batch_size=batch_size)


@pytest.mark.parametrize("epochs", [-1, -100])
def test_negative_epochs(ce_net, data, epochs):
    X, y = data
    with pytest.raises(ValueError, match=name("epochs")):
        ce_net.fit(X, y, epochs=epochs)


@pytest.mark.parametrize("epochs", [1.5, "3"])
def test_epochs_wrong_type(ce_net, data, epochs):
    X, y = data
    with pytest.raises(BAD, match=name("epochs")):
        ce_net.fit(X, y, epochs=epochs)


def test_unknown_optimizer(ce_net, data):
    X, y = data
    with pytest.raises(ValueError, match=name("optimizer")):
        ce_net.fit(X, y, epochs=1, optimizer="adamw2")


# -------------------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.complex128, np.bool_])
def test_gemm_A_bad_dtype(dtype):
    with pytest.raises(TypeError, match=name("A")):
        K.gemm(np.ones((2, 3), dtype=dtype), np.ones((3, 2)))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16])
def test_gemm_B_bad_dtype(dtype):
    with pytest.raises(TypeError, match=name("B")):
        K.gemm(np.ones((2, 3)), np.ones((3, 2), dtype=dtype))


def test_gemm_mixed_float_dtypes():
    with pytest.raises(TypeError, match=name("A", "B")):
        K.gemm(np.ones((2, 3), dtype=np.float32), np.ones((3, 2), dtype=np.float64))


@pytest.mark.parametrize("A", [None, "hello", object()], ids=["None", "str", "object"])
def test_gemm_not_array_like(A):
    with pytest.raises(TypeError, match=name("A")):
        K.gemm(A, np.ones((3, 2)))


def test_gemm_A_wrong_ndim():
    with pytest.raises(ValueError, match=name("A")):
        K.gemm(np.ones(3), np.ones((3, 2)))


def test_gemm_B_wrong_ndim():
    with pytest.raises(ValueError, match=name("B")):
        K.gemm(np.ones((2, 3)), np.ones((3, 2, 1)))


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_inner_dimension_mismatch(trans_a, trans_b):
    A = np.ones((3, 2)) if trans_a else np.ones((2, 3))
    B = np.ones((2, 4)) if trans_b else np.ones((4, 2))
    with pytest.raises(ValueError, match=name("A", "B")):
        K.gemm(A, B, trans_a=trans_a, trans_b=trans_b)


@pytest.mark.parametrize("out", [np.zeros((3, 2)), np.zeros((2, 3, 1)), np.zeros(6)], ids=["transposed", "3d", "flat"])
def test_gemm_out_wrong_shape(out):
    with pytest.raises(ValueError, match=name("out")):
        K.gemm(np.ones((2, 4)), np.ones((4, 3)), out=out)


def test_gemm_out_wrong_dtype():
    with pytest.raises(BAD, match=name("out")):
        K.gemm(np.ones((2, 4)), np.ones((4, 3)), out=np.zeros((2, 3), dtype=np.float32))


def test_gemm_out_not_contiguous():
    big = np.zeros((2, 6))
    out = big[:, ::2]
    with pytest.raises(BAD, match=name("out")):
        K.gemm(np.ones((2, 4)), np.ones((4, 3)), out=out)
    np.testing.assert_array_equal(big, 0.0)


def test_gemm_out_fortran_order():
    out = np.zeros((2, 3), order="F")
    with pytest.raises(BAD, match=name("out")):
        K.gemm(np.ones((2, 4)), np.ones((4, 3)), out=out)


def test_gemm_out_not_an_array():
    with pytest.raises(BAD, match=name("out")):
        K.gemm(np.ones((2, 4)), np.ones((4, 3)), out=[[0.0] * 3] * 2)


def test_gemv_int_A():
    with pytest.raises(TypeError, match=name("A")):
        K.gemv(np.ones((2, 3), dtype=np.int64), np.ones(3))


def test_gemv_int_x():
    with pytest.raises(TypeError, match=name("x")):
        K.gemv(np.ones((2, 3)), np.ones(3, dtype=np.int64))


@pytest.mark.parametrize("trans,n", [(False, 2), (True, 3), (False, 4)])
def test_gemv_x_wrong_length(trans, n):
    with pytest.raises(ValueError, match=name("x")):
        K.gemv(np.ones((2, 3)), np.ones(n), trans=trans)


def test_gemv_x_2d():
    with pytest.raises(ValueError, match=name("x")):
        K.gemv(np.ones((2, 3)), np.ones((3, 1)))


def test_gemv_out_wrong_shape():
    with pytest.raises(ValueError, match=name("out")):
        K.gemv(np.ones((2, 3)), np.ones(3), out=np.zeros(3))


def test_dense_forward_int_X():
    with pytest.raises(TypeError, match=name("X")):
        K.dense_forward(np.ones((2, 3), dtype=np.int32), np.ones((4, 3)), np.ones(4))


def test_dense_forward_W_mismatch():
    with pytest.raises(ValueError, match=name("W", "X")):
        K.dense_forward(np.ones((2, 3)), np.ones((4, 5)), np.ones(4))


def test_dense_forward_b_mismatch():
    with pytest.raises(ValueError, match=name("b")):
        K.dense_forward(np.ones((2, 3)), np.ones((4, 3)), np.ones(5))


def test_dense_forward_unknown_activation():
    with pytest.raises(ValueError, match=name("activation")):
        K.dense_forward(np.ones((2, 3)), np.ones((4, 3)), np.ones(4), activation="gelu")


def test_dense_backward_dZ_mismatch():
    with pytest.raises(ValueError, match=name("dZ")):
        K.dense_backward(np.ones((2, 3)), np.ones((4, 3)), np.ones((2, 5)))


def test_dense_backward_mixed_dtypes():
    with pytest.raises(TypeError, match=name("X", "W", "dZ")):
        K.dense_backward(np.ones((2, 3)), np.ones((4, 3), dtype=np.float32), np.ones((2, 4)))


def test_activation_forward_unknown_name():
    with pytest.raises(ValueError, match=name("activation", "name")):
        K.activation_forward("softplus", np.ones((2, 2)))


def test_activation_forward_int_Z():
    with pytest.raises(TypeError, match=name("Z")):
        K.activation_forward("relu", np.ones((2, 2), dtype=np.int64))


def test_activation_backward_shape_mismatch():
    Z = np.ones((2, 3))
    with pytest.raises(ValueError, match=name("A", "dA", "Z")):
        K.activation_backward("tanh", Z, np.tanh(Z), np.ones((3, 2)))


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0], [0, 1, 2], [0]], ids=["C", "negative", "long", "short"])
def test_softmax_ce_bad_labels(labels):
    with pytest.raises(ValueError, match=name("labels")):
        K.softmax_cross_entropy(np.zeros((2, 3)), np.array(labels))


def test_softmax_ce_fractional_labels():
    with pytest.raises(BAD, match=name("labels")):
        K.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.5, 1.0]))


def test_softmax_ce_probability_rows_wrong_width():
    with pytest.raises(ValueError, match=name("labels")):
        K.softmax_cross_entropy(np.zeros((2, 3)), np.full((2, 4), 0.25))


def test_softmax_ce_logits_1d():
    with pytest.raises(ValueError, match=name("logits")):
        K.softmax_cross_entropy(np.zeros(3), np.array([0]))


def test_softmax_ce_int_logits():
    with pytest.raises(TypeError, match=name("logits")):
        K.softmax_cross_entropy(np.zeros((2, 3), dtype=np.int64), np.array([0, 1]))


def test_mse_shape_mismatch():
    with pytest.raises(ValueError, match=name("pred", "target")):
        K.mse(np.zeros((2, 3)), np.zeros((3, 2)))


def test_mse_int_pred():
    with pytest.raises(TypeError, match=name("pred")):
        K.mse(np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3)))


def test_bce_shape_mismatch():
    with pytest.raises(ValueError, match=name("logits", "target")):
        K.sigmoid_binary_cross_entropy(np.zeros((2, 3)), np.zeros((2, 2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_value_found_at_every_position(dtype, bad):
    # The finiteness check runs 16 lanes at a time plus a tail: probe every lane and the tail.
    net = dp.MLP([37, 3], dtype=dtype)
    X = np.ones((1, 37), dtype=dtype)
    for position in range(37):
        Xb = X.copy()
        Xb[0, position] = bad
        with pytest.raises(ValueError, match="X"):
            net.predict(Xb)


@pytest.mark.parametrize("sizes", [[4, 3], [4, 5, 3]])
def test_misspelled_activation_is_refused_with_or_without_hidden_layers(sizes):
    with pytest.raises(ValueError, match="activation"):
        dp.MLP(sizes, activation="nope")
