"""The worked examples of the lecture notes deltaprop follows, computed by hand: UCSD DSC 140B,
Lecture 22 ("004" below: a forward example, an exercise and a backprop example) and TBSI
"Learning From Data", Lecture 6 ("002": the single sigmoid neuron).

DSC 140B writes z = Wᵀ a + b with W of shape (in, out); deltaprop stores W as (out, in), so every
matrix from those notes is transposed before it goes into deltaprop.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import kernels as K

from conftest import set_weights

# ------------------------------------------------------------------------- 004 "Example" (forward)
# W1 = [[2,-1,0],[4,5,2]] (in=2, out=3), W2 = [3,2,-4]^T, b1 = (3,-2,-2), b2 = -4, x = (3,-1).
#   W1^T x = (2*3 + 4*(-1), -1*3 + 5*(-1), 0*3 + 2*(-1)) = (2, -8, -2)
#   z1 = (2, -8, -2) + (3, -2, -2) = (5, -10, -4)        a1 = ReLU(z1) = (5, 0, 0)
#   z2 = 3*5 + 2*0 + (-4)*0 - 4 = 11                     H = 11 (linear output)
EX1_W1 = np.array([[2.0, -1.0, 0.0], [4.0, 5.0, 2.0]])     # (in, out), the notes' convention
EX1_W2 = np.array([[3.0], [2.0], [-4.0]])
EX1_B1 = np.array([3.0, -2.0, -2.0])
EX1_B2 = np.array([-4.0])
EX1_X = np.array([[3.0, -1.0]])
EX1_Z1 = np.array([[5.0, -10.0, -4.0]])
EX1_A1 = np.array([[5.0, 0.0, 0.0]])
EX1_H = np.array([[11.0]])


def test_004_example_forward_kernels(dtype):
    Z1, A1 = K.dense_forward(EX1_X.astype(dtype), EX1_W1.T.astype(dtype), EX1_B1.astype(dtype), "relu")
    np.testing.assert_array_equal(Z1, EX1_Z1)
    np.testing.assert_array_equal(A1, EX1_A1)
    Z2, A2 = K.dense_forward(A1, EX1_W2.T.astype(dtype), EX1_B2.astype(dtype), "identity")
    np.testing.assert_array_equal(Z2, EX1_H)
    np.testing.assert_array_equal(A2, EX1_H)


def _example1_net(dtype):
    net = dp.MLP([2, 3, 1], activation="relu", loss="mse", dtype=dtype, seed=0)
    set_weights(net, [EX1_W1.T, EX1_W2.T], [EX1_B1, EX1_B2])
    return net


def test_004_example_forward_mlp(dtype):
    net = _example1_net(dtype)
    np.testing.assert_allclose(net.forward(EX1_X.astype(dtype)), EX1_H, rtol=1e-6)
    np.testing.assert_allclose(net.predict(EX1_X.astype(dtype)), EX1_H, rtol=1e-6)


def test_004_example_hidden_activations_mlp(dtype):
    acts = _example1_net(dtype).activations(EX1_X.astype(dtype))
    assert len(acts) == 2
    np.testing.assert_allclose(acts[0], EX1_A1, rtol=1e-6)
    np.testing.assert_allclose(acts[1], EX1_H, rtol=1e-6)


# --------------------------------------------------------------------------- 004 "Exercise"
# W11 = -2, W21 = -5, W31 = 2 (the notes: W_ij joins input i to hidden unit j), x = (3, 2, -2), zero
# biases, ReLU.  z1 = 3*(-2) + 2*(-5) + (-2)*2 = -20 < 0, so a1 = 0 and g'(z1) = 0:
#   dH/dW11 = dH/dz1 * x1 = (dH/da1 * g'(z1)) * 3 = 0.
# The rest of the network is not given; any weights give the same zero.
EXR_X = np.array([[3.0, 2.0, -2.0]])


def _exercise_net():
    net = dp.MLP([3, 2, 1], activation="relu", loss="mse", dtype="float64", seed=0)
    W1 = np.array([[-2.0, -5.0, 2.0],      # deltaprop row 0 = the notes' column 1 (W11, W21, W31)
                   [1.0, 1.0, 0.5]])       # hidden unit 2: z = 3 + 2 - 1 = 4 > 0, alive
    W2 = np.array([[1.5, -0.7]])
    set_weights(net, [W1, W2], [np.zeros(2), np.zeros(1)])
    return net


def test_004_exercise_z1_is_negative():
    Z1, A1 = K.dense_forward(EXR_X, np.array([[-2.0, -5.0, 2.0]]), np.zeros(1), "relu")
    assert Z1[0, 0] == -20.0
    assert A1[0, 0] == 0.0


def test_004_exercise_gradient_is_zero():
    net = _exercise_net()
    H = float(net.forward(EXR_X)[0, 0])
    # loss 0.5 (H - y)^2 with y = H - 1 has dL/dθ = dH/dθ
    loss, grad = net.loss_and_grad(EXR_X, np.array([[H - 1.0]]))
    assert loss == pytest.approx(0.5)
    dW1 = grad[:6].reshape(2, 3)
    assert dW1[0, 0] == 0.0                  # the exercise's answer
    np.testing.assert_array_equal(dW1[0], 0.0)   # the whole dead unit has no gradient
    assert grad[6] == 0.0                    # nor its bias
    assert np.all(dW1[1] != 0.0)             # while the live unit does: dH/dW = w2 * x
    np.testing.assert_allclose(dW1[1], -0.7 * EXR_X[0], rtol=1e-12)


# ----------------------------------------------------------------------- 004 backprop "Example"
# W1 = [[2,-3],[2,1]], W2 = [[2,1],[0,1]], W3 = [3,-2]^T (all in x out), x = (2,1), ReLU, b = 0.
# Forward:
#   z1 = W1^T x = (2*2 + 2*1, -3*2 + 1*1) = (6, -5)      a1 = (6, 0)
#   z2 = W2^T a1 = (2*6 + 0*0, 1*6 + 1*0) = (12, 6)      a2 = (12, 6)
#   z3 = W3^T a2 = 3*12 - 2*6 = 24                        H = 24 (g'(24) = 1 either way)
# Backward (the notes' formulas):
#   dH/dz3 = 1;  dH/dW3_i1 = a2_i = (12, 6);  dH/db3 = 1
#   dH/da2 = W3 * 1 = (3, -2);  dH/dz2 = (3, -2) * g'(12, 6) = (3, -2)
#   dH/dW2_ij = a1_i dz2_j = [[18, -12], [0, 0]];  dH/db2 = (3, -2)
#   dH/da1_j = Σ_k dz2_k W2_jk = (3*2 + (-2)*1, 3*0 + (-2)*1) = (4, -2)
#   dH/dz1 = (4, -2) * g'(6, -5) = (4, 0)
#   dH/dW1_ij = x_i dz1_j = [[8, 0], [4, 0]];  dH/db1 = (4, 0)
BP_W = [np.array([[2.0, -3.0], [2.0, 1.0]]), np.array([[2.0, 1.0], [0.0, 1.0]]), np.array([[3.0], [-2.0]])]
BP_X = np.array([[2.0, 1.0]])
BP_H = 24.0
BP_DW = [np.array([[8.0, 0.0], [4.0, 0.0]]), np.array([[18.0, -12.0], [0.0, 0.0]]), np.array([[12.0], [6.0]])]
BP_DB = [np.array([4.0, 0.0]), np.array([3.0, -2.0]), np.array([1.0])]
BP_A = [np.array([[6.0, 0.0]]), np.array([[12.0, 6.0]]), np.array([[24.0]])]


def test_004_backprop_example_kernels(dtype):
    a = BP_X.astype(dtype)
    cache = []
    for i, W in enumerate(BP_W):
        act = "relu" if i < 2 else "identity"
        Z, A = K.dense_forward(a, W.T.astype(dtype), np.zeros(W.shape[1], dtype=dtype), act)
        np.testing.assert_array_equal(A, BP_A[i])
        cache.append((a, W.T.astype(dtype), Z, A, act))
        a = A
    delta = np.ones((1, 1), dtype=dtype)                 # dH/da3
    for i in range(2, -1, -1):
        a_prev, W_dp, Z, A, act = cache[i]
        dZ = K.activation_backward(act, Z, A, delta)
        dX, dW, db = K.dense_backward(a_prev, W_dp, dZ)
        np.testing.assert_array_equal(dW, BP_DW[i].T, err_msg=f"dW of layer {i + 1}")
        np.testing.assert_array_equal(db, BP_DB[i], err_msg=f"db of layer {i + 1}")
        delta = dX
    np.testing.assert_array_equal(delta, [[4 * 2 + 0 * -3, 4 * 2 + 0 * 1]])   # dH/dx = W1 dz1


def _bp_net(dtype):
    net = dp.MLP([2, 2, 2, 1], activation="relu", loss="mse", dtype=dtype, seed=0)
    set_weights(net, [W.T for W in BP_W], [np.zeros(W.shape[1]) for W in BP_W])
    return net


def test_004_backprop_example_forward_mlp(dtype):
    acts = _bp_net(dtype).activations(BP_X.astype(dtype))
    for got, want in zip(acts, BP_A):
        np.testing.assert_array_equal(got, want)


def test_004_backprop_example_gradient_mlp(dtype):
    net = _bp_net(dtype)
    # mse loss 0.5 (H - y)^2 with y = H - 1: dL/dθ = (H - y) dH/dθ = dH/dθ
    loss, grad = net.loss_and_grad(BP_X.astype(dtype), np.array([[BP_H - 1.0]], dtype=dtype))
    assert loss == pytest.approx(0.5)
    expected = np.concatenate([np.concatenate([dW.T.ravel(), db]) for dW, db in zip(BP_DW, BP_DB)])
    assert grad.shape == (net.num_params,) == (15,)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-6)


def test_004_backprop_example_one_sgd_step(dtype):
    net = _bp_net(dtype)
    theta = net.get_params().astype(np.float64)
    expected_grad = np.concatenate([np.concatenate([dW.T.ravel(), db]) for dW, db in zip(BP_DW, BP_DB)])
    loss = net.train_step(BP_X.astype(dtype), np.array([[BP_H - 1.0]], dtype=dtype), lr=0.01)
    assert loss == pytest.approx(0.5)
    np.testing.assert_allclose(net.get_params(), theta - 0.01 * expected_grad, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------- 002 (x+y)z
# x = -2, y = 5, z = -4: q = x + y = 3, f = q z = -12.
#   df/dz = q = 3;  df/dq = z = -4;  df/dx = df/dy = df/dq * 1 = -4.
# As two dense layers without bias: q = [1 1]·(x, y), f = [z]·q; df/dz is the weight gradient
# of the second layer and df/dx, df/dy the input gradient of the first.
def test_002_x_plus_y_times_z_forward(dtype):
    xy = np.array([[-2.0, 5.0]], dtype=dtype)
    q, _ = K.dense_forward(xy, np.array([[1.0, 1.0]], dtype=dtype), np.zeros(1, dtype=dtype))
    f, _ = K.dense_forward(q, np.array([[-4.0]], dtype=dtype), np.zeros(1, dtype=dtype))
    assert q[0, 0] == 3.0
    assert f[0, 0] == -12.0


def test_002_x_plus_y_times_z_backward(dtype):
    xy = np.array([[-2.0, 5.0]], dtype=dtype)
    q = np.array([[3.0]], dtype=dtype)
    dq, dz, _ = K.dense_backward(q, np.array([[-4.0]], dtype=dtype), np.ones((1, 1), dtype=dtype))
    assert dz[0, 0] == 3.0        # df/dz = q
    assert dq[0, 0] == -4.0       # df/dq = z
    dxy, _, _ = K.dense_backward(xy, np.array([[1.0, 1.0]], dtype=dtype), dq)
    np.testing.assert_array_equal(dxy, [[-4.0, -4.0]])   # df/dx = df/dy = -4


def test_002_x_plus_y_times_z_finite_differences():
    def f(v):
        xy = v[None, :2]
        q, _ = K.dense_forward(xy, np.array([[1.0, 1.0]]), np.zeros(1))
        out, _ = K.dense_forward(q, np.array([[v[2]]]), np.zeros(1))
        return out[0, 0]

    v = np.array([-2.0, 5.0, -4.0])
    eps = 1e-6
    num = [(f(v + eps * e) - f(v - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(num, [-4.0, -4.0, 3.0], rtol=1e-8)


# ------------------------------------------------------------------------ 002 sigmoid neuron
# f(w, x) = σ(w0 x0 + w1 x1 + w2), with the lecture's classic values w = (2, -3, -3),
# x = (-1, -2):  s = -2 + 6 - 3 = 1,  f = σ(1) = 0.7310585786300049,
#   df/ds = f (1 - f) = 0.19661193324148185
#   df/dw = df/ds * (x0, x1, 1) = (-0.19661, -0.39322, 0.19661)
#   df/dx = df/ds * (w0, w1)    = (0.39322, -0.58984)
SIG_W = np.array([[2.0, -3.0]])
SIG_B = np.array([-3.0])
SIG_X = np.array([[-1.0, -2.0]])
SIG_F = 1.0 / (1.0 + math.exp(-1.0))
SIG_DS = SIG_F * (1.0 - SIG_F)


def test_002_sigmoid_neuron_kernels(dtype):
    Z, A = K.dense_forward(SIG_X.astype(dtype), SIG_W.astype(dtype), SIG_B.astype(dtype), "sigmoid")
    assert Z[0, 0] == 1.0
    assert A[0, 0] == pytest.approx(0.7310585786300049, rel=1e-6)
    dZ = K.activation_backward("sigmoid", Z, A, np.ones((1, 1), dtype=dtype))
    assert dZ[0, 0] == pytest.approx(0.19661193324148185, rel=1e-5)
    dX, dW, db = K.dense_backward(SIG_X.astype(dtype), SIG_W.astype(dtype), dZ)
    np.testing.assert_allclose(dW, [[-SIG_DS, -2 * SIG_DS]], rtol=1e-5)
    np.testing.assert_allclose(db, [SIG_DS], rtol=1e-5)
    np.testing.assert_allclose(dX, [[2 * SIG_DS, -3 * SIG_DS]], rtol=1e-5)


def test_002_sigmoid_neuron_mlp_gradient():
    # [2, 1, 1] net: sigmoid hidden neuron, then an identity output with weight 1, bias 0.
    # With mse and y = f - 1 the gradient of the first layer is df/dw.
    net = dp.MLP([2, 1, 1], activation="sigmoid", loss="mse", dtype="float64", seed=0)
    set_weights(net, [SIG_W, np.array([[1.0]])], [SIG_B, np.array([0.0])])
    assert net.predict(SIG_X)[0, 0] == pytest.approx(SIG_F, rel=1e-12)
    loss, grad = net.loss_and_grad(SIG_X, np.array([[SIG_F - 1.0]]))
    assert loss == pytest.approx(0.5, rel=1e-12)
    np.testing.assert_allclose(grad[:3], [-SIG_DS, -2 * SIG_DS, SIG_DS], rtol=1e-10)
    # second layer: dL/dW2 = a1 = f, dL/db2 = 1
    np.testing.assert_allclose(grad[3:], [SIG_F, 1.0], rtol=1e-10)


def test_002_sigmoid_neuron_finite_differences():
    def f(w):
        _, A = K.dense_forward(SIG_X, w[None, :2], w[2:], "sigmoid")
        return A[0, 0]

    w = np.array([2.0, -3.0, -3.0])
    eps = 1e-6
    num = np.array([(f(w + eps * e) - f(w - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(num, [-0.19661193324148185, -0.3932238664829637, 0.19661193324148185],
                               rtol=1e-7)
