"""ONNX export: the graph run by onnxruntime gives predict_proba's outputs."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ACTIVATIONS = ["relu", "sigmoid", "tanh", "leaky_relu", "identity"]


def run_onnx(model, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": X})[0]


@pytest.mark.parametrize("loss, outputs", [("cross_entropy", 4), ("binary_cross_entropy", 3), ("mse", 2),
                                           ("poisson", 2)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_outputs_match_predict_proba(loss, outputs, activation, dtype, rng):
    net = dp.MLP([5, 16, 7, outputs], activation=activation, loss=loss, dtype=dtype, seed=3)
    X = (3 * rng.standard_normal((33, 5))).astype(dtype)
    got = run_onnx(net.to_onnx(), X)
    assert got.dtype == dtype and got.shape == (33, outputs)
    np.testing.assert_allclose(got, net.predict_proba(X), rtol=1e-5, atol=1e-5)


def test_graph_is_gemm_with_weights_as_stored(rng):
    net = dp.MLP([3, 4, 2], activation="leaky_relu", seed=0)
    graph = net.to_onnx().graph
    assert [n.op_type for n in graph.node] == ["Gemm", "LeakyRelu", "Gemm", "Softmax", "Identity"]
    gemm = graph.node[0]
    assert {a.name: a.i for a in gemm.attribute} == {"transB": 1}
    alpha = [a.f for a in graph.node[1].attribute if a.name == "alpha"]
    assert alpha == [pytest.approx(0.01)]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    np.testing.assert_array_equal(weights["W0"], net.layers[0].W)  # (out, in), no transpose
    np.testing.assert_array_equal(weights["b1"], net.layers[1].b)


def test_per_layer_activations_and_trained_weights(tmp_path, rng):
    X = rng.standard_normal((200, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    net = dp.MLP([2, 12, 8, 2], activation=["tanh", "relu"], seed=1)
    net.fit(X, y, epochs=5, lr=0.1)
    path = tmp_path / "net.onnx"
    net.to_onnx(path)
    loaded = onnx.load(str(path))
    assert [n.op_type for n in loaded.graph.node][:4] == ["Gemm", "Tanh", "Gemm", "Relu"]
    np.testing.assert_allclose(run_onnx(loaded, X), net.predict_proba(X), rtol=1e-5, atol=1e-5)


def test_batch_dimension_is_symbolic(rng):
    model = dp.MLP([4, 3]).to_onnx()
    for n in (1, 50):
        assert run_onnx(model, rng.standard_normal((n, 4)).astype(np.float32)).shape == (n, 3)
