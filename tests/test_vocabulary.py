"""One vocabulary: the names of activations, losses and optimizers, and each loss's output
activation, come from the core and are what the model, the kernels, ONNX export and the
scikit-learn estimators use."""
from __future__ import annotations

import pytest

import deltaprop as dp
from deltaprop import _core, kernels, vocabulary

import npref


def test_names_are_the_cores():
    assert vocabulary.ACTIVATIONS == tuple(_core.Activation.__members__)
    assert vocabulary.LOSSES == tuple(_core.Loss.__members__)
    assert vocabulary.OPTIMIZER_KINDS == tuple(_core.OptimizerKind.__members__)
    assert set(npref.ACTIVATIONS) <= set(vocabulary.ACTIVATIONS)   # everything the reference implements
    assert set(npref.LOSSES) <= set(vocabulary.LOSSES)


def test_output_activation_of_each_loss():
    assert vocabulary.OUTPUT_ACTIVATIONS == {"cross_entropy": "softmax", "mse": "identity",
                                             "binary_cross_entropy": "sigmoid", "poisson": "exp"}


@pytest.mark.parametrize("loss", list(npref.LOSSES))
def test_the_model_uses_the_output_activation_of_its_loss(loss):
    net = dp.MLP([3, 4, 2], activation="tanh", loss=loss)
    assert [layer.activation for layer in net.layers] == ["tanh", vocabulary.output_activation(loss)]


def test_kernel_ids_are_the_cores():
    assert kernels.ACTIVATIONS == {name: int(member) for name, member in _core.Activation.__members__.items()}


def test_unknown_names_name_the_argument():
    with pytest.raises(ValueError, match="activation"):
        vocabulary.activation("nope")
    with pytest.raises(ValueError, match="loss"):
        vocabulary.output_activation("hinge")
    with pytest.raises(ValueError, match="loss"):
        dp.MLP([3, 2], loss="hinge")
