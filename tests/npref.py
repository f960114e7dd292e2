"""An independent float64 numpy reference for everything the tests compare deltaprop against.

Conventions (from the design): a dense layer is Z = X Wᵀ + b with W of shape (out, in); the hidden
activation is the user's, the output activation follows from the loss (cross_entropy -> softmax,
binary_cross_entropy -> sigmoid, mse -> identity). Losses are means: CE over rows, mse as
0.5 · mean over all elements of (p - y)², bce on logits over all elements. L2 is l2/2 · Σ‖W‖².
The flat parameter order is layer by layer, W row-major, then b.

Nothing here may emit a numpy warning (the suite runs with warnings as errors).
"""
from __future__ import annotations

import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
LOSSES = ("cross_entropy", "mse", "binary_cross_entropy")
LEAKY_SLOPE = 0.01
OUTPUT_ACTIVATION = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "identity"}


# ----------------------------------------------------------------------------- activations
def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def act(name, z):
    z = np.asarray(z, dtype=np.float64)
    if name == "identity":
        return z.copy()
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    raise ValueError(name)


def act_grad(name, z):
    """g'(z); relu'(0) = 0 (as PyTorch)."""
    z = np.asarray(z, dtype=np.float64)
    if name == "identity":
        return np.ones_like(z)
    if name == "sigmoid":
        s = sigmoid(z)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, LEAKY_SLOPE)
    raise ValueError(name)


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def output_act(loss, z):
    kind = OUTPUT_ACTIVATION[loss]
    if kind == "softmax":
        return softmax(z)
    return act(kind, z)


# ----------------------------------------------------------------------------- losses
def one_hot(labels, classes):
    labels = np.asarray(labels).astype(np.int64)
    out = np.zeros((labels.shape[0], classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def softmax_cross_entropy(logits, labels):
    """(mean loss, dlogits). labels: int (n,) or probability rows (n, C)."""
    logits = np.asarray(logits, dtype=np.float64)
    n, c = logits.shape
    labels = np.asarray(labels)
    target = one_hot(labels, c) if labels.ndim == 1 else labels.astype(np.float64)
    logp = log_softmax(logits)
    loss = -(target * logp).sum() / n
    grad = (softmax(logits) * target.sum(axis=1, keepdims=True) - target) / n
    return float(loss), grad


def mse(pred, target):
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    d = pred - target
    return float(0.5 * np.mean(d * d)), d / d.size


def sigmoid_bce(logits, target):
    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    per = np.maximum(z, 0.0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return float(per.mean()), (sigmoid(z) - t) / z.size


def loss_fn(loss, logits, y):
    """(mean loss, dlogits) of ``loss`` applied to the last layer's logits."""
    logits = np.asarray(logits, dtype=np.float64)
    if loss == "cross_entropy":
        return softmax_cross_entropy(logits, y)
    y = np.asarray(y, dtype=np.float64).reshape(logits.shape)
    if loss == "mse":
        return mse(logits, y)
    if loss == "binary_cross_entropy":
        return sigmoid_bce(logits, y)
    raise ValueError(loss)


# ----------------------------------------------------------------------------- MLP
def hidden_acts(activation, n_layers):
    """Per-layer hidden activation names for a net with ``n_layers`` dense layers."""
    if isinstance(activation, str):
        return [activation] * (n_layers - 1)
    assert len(activation) == n_layers - 1
    return list(activation)


def forward(Ws, bs, activation, loss, X):
    """Returns (Zs, As): pre-activations and activations of every layer, float64."""
    acts = hidden_acts(activation, len(Ws))
    a = np.asarray(X, dtype=np.float64)
    Zs, As = [], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
        a = act(acts[i], z) if i < len(Ws) - 1 else output_act(loss, z)
        Zs.append(z)
        As.append(a)
    return Zs, As


def flatten(Ws, bs):
    parts = []
    for W, b in zip(Ws, bs):
        parts.append(np.asarray(W, dtype=np.float64).ravel())
        parts.append(np.asarray(b, dtype=np.float64).ravel())
    return np.concatenate(parts)


def unflatten(theta, sizes):
    theta = np.asarray(theta, dtype=np.float64)
    Ws, bs, k = [], [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        Ws.append(theta[k:k + fan_in * fan_out].reshape(fan_out, fan_in))
        k += fan_in * fan_out
        bs.append(theta[k:k + fan_out].copy())
        k += fan_out
    assert k == theta.size
    return Ws, bs


def weight_mask(sizes):
    """1 at the flat positions of weights, 0 at biases."""
    parts = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        parts.append(np.ones(fan_in * fan_out))
        parts.append(np.zeros(fan_out))
    return np.concatenate(parts)


def num_params(sizes):
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


def loss_and_grad(Ws, bs, activation, loss, X, y, l2=0.0):
    """Backpropagation in numpy: (loss incl. l2/2 Σ W², flat grad incl. l2 W)."""
    acts = hidden_acts(activation, len(Ws))
    X = np.asarray(X, dtype=np.float64)
    Zs, As = forward(Ws, bs, activation, loss, X)
    value, delta = loss_fn(loss, Zs[-1], y)
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        a_prev = X if i == 0 else As[i - 1]
        W = np.asarray(Ws[i], dtype=np.float64)
        dWs[i] = delta.T @ a_prev + l2 * W
        dbs[i] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ W) * act_grad(acts[i - 1], Zs[i - 1])
    value += 0.5 * l2 * sum(float((np.asarray(W, dtype=np.float64) ** 2).sum()) for W in Ws)
    return value, flatten(dWs, dbs)


def mean_loss(Ws, bs, activation, loss, X, y):
    Zs, _ = forward(Ws, bs, activation, loss, X)
    return loss_fn(loss, Zs[-1], y)[0]


def numerical_grad(f, theta, eps=1e-6):
    """Central differences of a scalar function of a flat float64 vector."""
    theta = np.array(theta, dtype=np.float64)
    g = np.empty_like(theta)
    for i in range(theta.size):
        old = theta[i]
        theta[i] = old + eps
        fp = f(theta)
        theta[i] = old - eps
        fm = f(theta)
        theta[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a, b):
    """Norm-wise relative error ||a - b|| / (||a|| + ||b||): robust where single components are ~0
    (an element-wise ratio there only measures the finite-difference round-off)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0
