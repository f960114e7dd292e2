"""Export an MLP as an ONNX graph (needs onnx: ``pip install "deltaprop[onnx]"``).

Each layer becomes Gemm(a, W, b) with transB=1, W used as stored (fan_out, fan_in), followed by
its activation: Relu, Sigmoid, Tanh, LeakyRelu(alpha=0.01), nothing for identity (in float64,
leaky ReLU is written Max(z, 0.01·z): onnxruntime has no double LeakyRelu). The output is what
`predict_proba` returns: Softmax(axis=1) for cross_entropy, Sigmoid for binary_cross_entropy,
Exp for poisson, the raw values for mse. Input "input" (batch, sizes[0]) and output "output" (batch, sizes[-1]),
both of the network's dtype, the batch dimension symbolic.

Works on a `Network` (`MLP.to_onnx` calls it with its own); the output layer's activation comes
from the core's vocabulary (vocabulary.output_activation), like every other layer's.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, List, Optional

import numpy as np

if TYPE_CHECKING:
    from .network import Network

__all__ = ["to_onnx", "OPSET"]

#: ONNX operator set the graph is written for (Softmax with an explicit axis since opset 13).
OPSET = 13

# The ONNX operator of each activation the core has (hidden layers and output layer alike).
_ACTIVATION_NODES = {"relu": ("Relu", {}), "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}),
                     "leaky_relu": ("LeakyRelu", {"alpha": 0.01}), "softmax": ("Softmax", {"axis": 1}),
                     "exp": ("Exp", {}), "identity": None}


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'deltaprop[onnx]' "
                          "(or pip install onnx onnxruntime)") from None
    return onnx


def to_onnx(net: "Network", path: Optional[Any] = None, *, model_name: str = "deltaprop_mlp") -> Any:
    """Build the ONNX ModelProto of `net`; write it to `path` (str or os.PathLike) when given.

    The weights are copied into the graph as initializers of the network's dtype
    (float32 -> tensor(float), float64 -> tensor(double)). Returns the ModelProto.
    """
    onnx = _require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if net.dtype == np.float32 else TensorProto.DOUBLE
    initializers: List[Any] = []
    nodes: List[Any] = []
    current = "input"
    for i, layer in enumerate(net.layers):
        w_name, b_name, z_name = f"W{i}", f"b{i}", f"z{i}"
        initializers.append(numpy_helper.from_array(np.array(layer.W, dtype=net.dtype), w_name))
        initializers.append(numpy_helper.from_array(np.array(layer.b, dtype=net.dtype), b_name))
        nodes.append(helper.make_node("Gemm", [current, w_name, b_name], [z_name], name=f"dense{i}", transB=1))
        current = z_name
        spec = _ACTIVATION_NODES[layer.activation]
        if spec is not None and spec[0] == "LeakyRelu" and elem == TensorProto.DOUBLE:
            # onnxruntime has no double LeakyRelu: max(z, 0.01 z) is the same function.
            slope = f"leaky_slope{i}"
            initializers.append(numpy_helper.from_array(np.array(spec[1]["alpha"], dtype=net.dtype), slope))
            nodes.append(helper.make_node("Mul", [current, slope], [f"scaled{i}"], name=f"leaky_scale{i}"))
            nodes.append(helper.make_node("Max", [current, f"scaled{i}"], [f"a{i}"], name=f"leaky_max{i}"))
            current = f"a{i}"
        elif spec is not None:
            op, attrs = spec
            out_name = f"a{i}"
            nodes.append(helper.make_node(op, [current], [out_name], name=f"{op.lower()}{i}", **attrs))
            current = out_name
    nodes.append(helper.make_node("Identity", [current], ["output"], name="output"))
    graph = helper.make_graph(
        nodes, model_name,
        inputs=[helper.make_tensor_value_info("input", elem, ["batch", net.sizes[0]])],
        outputs=[helper.make_tensor_value_info("output", elem, ["batch", net.sizes[-1]])],
        initializer=initializers)
    model = helper.make_model(graph, producer_name="deltaprop",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime releases of the last years
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model
