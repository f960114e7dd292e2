"""The core's vocabulary as Python enums: names and ids are the saved formats' (written out here,
independently of the core), the output activation of each loss, and ids accepted as enum
members or plain ints."""
from __future__ import annotations

import enum

import numpy as np
import pytest

from deltaprop import _core

# The ids stored in model files and checkpoints: changing one breaks every saved file.
SAVED_ACTIVATIONS = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "leaky_relu": 4}
SAVED_LOSSES = {"cross_entropy": 0, "mse": 1, "binary_cross_entropy": 2, "poisson": 3}
SAVED_OPTIMIZERS = {"sgd": 0, "adam": 1}


@pytest.mark.parametrize("enum_type, saved", [
    (_core.Activation, SAVED_ACTIVATIONS), (_core.Loss, SAVED_LOSSES),
    (_core.OptimizerKind, SAVED_OPTIMIZERS),
], ids=["Activation", "Loss", "OptimizerKind"])
def test_enum_members_are_the_saved_ids(enum_type, saved):
    assert issubclass(enum_type, enum.IntEnum)
    assert {name: int(member) for name, member in enum_type.__members__.items()} == saved
    for name, value in saved.items():
        assert enum_type[name] == value and enum_type(value).name == name


@pytest.mark.parametrize("loss, expected", [
    ("cross_entropy", "softmax"), ("mse", "identity"), ("binary_cross_entropy", "sigmoid"), ("poisson", "exp"),
])
def test_output_activation_of_each_loss(loss, expected):
    assert _core.output_activation(_core.Loss[loss]) == expected
    assert _core.output_activation(SAVED_LOSSES[loss]) == expected


def test_output_activation_is_what_the_network_outputs():
    """The name the table gives is the transform output() applies to the logits."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4))
    transforms = {
        "softmax": lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True),
        "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
        "identity": lambda z: z,
        "exp": np.exp,
    }
    for loss in _core.Loss:
        net = _core.Network_float64([4, 5, 3], [_core.Activation.tanh], loss, 1)
        expected = transforms[_core.output_activation(loss)](net.forward(X))
        np.testing.assert_allclose(net.output(X), expected, rtol=1e-12, atol=1e-15)


def test_unknown_loss_id_is_a_value_error():
    with pytest.raises(ValueError, match=r"loss: expected a loss id in \[0, 3\], got 4"):
        _core.output_activation(4)


def test_constructor_accepts_enum_members_and_ints_alike():
    a = _core.Network_float64([4, 6, 5, 3], [_core.Activation.relu, _core.Activation.leaky_relu],
                              _core.Loss.binary_cross_entropy, 7)
    b = _core.Network_float64([4, 6, 5, 3], [3, 4], 2, 7)
    np.testing.assert_array_equal(a.params(), b.params())
    X = np.random.default_rng(1).standard_normal((3, 4))
    np.testing.assert_array_equal(a.output(X), b.output(X))


@pytest.mark.parametrize("acts, loss, match", [
    ([5], 0, "activation"), ([-1], 0, "activation"), ([0], 4, "loss"), ([0], -1, "loss"),
])
def test_constructor_rejects_unknown_ids(acts, loss, match):
    with pytest.raises(ValueError, match=match):
        _core.Network_float32([3, 4, 2], acts, loss, 0)


def test_optimizer_kind_is_an_enum_and_accepts_ints():
    cfg = _core.OptimizerConfig()
    assert cfg.kind is _core.OptimizerKind.sgd
    cfg.kind = _core.OptimizerKind.adam
    assert cfg.kind is _core.OptimizerKind.adam and cfg.kind == 1
    cfg.kind = 0
    assert cfg.kind is _core.OptimizerKind.sgd
    with pytest.raises(ValueError, match=r"kind: expected an optimizer id in \[0, 1\]"):
        cfg.kind = 2
