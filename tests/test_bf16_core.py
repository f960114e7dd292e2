"""The core network's bf16 precision: forward, gradients and training steps against a numpy
reference that rounds every product's operands to bfloat16 (and keeps bias, activations, loss
and update in float32/float64), the inference cache of packed weights (refreshed when the weights
change, also through views written from Python), bitwise equality across thread counts, and
the float32 path left as it was."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core, vocabulary
from test_bf16_gemm import bf16_round as r

LEVELS = list(_core.bf16_levels())
SIZES = [37, 45, 29, 7]  # edge tiles everywhere, K odd and off the 32-chunk


@pytest.fixture(params=LEVELS)
def level(request):
    before = _core.bf16_level()
    _core.set_bf16_level(request.param)
    yield request.param
    _core.set_bf16_level(before)


# g(z) and g'(z) from a = g(z), in float64, for the reference.
ACTS = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0).astype(float)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda a: np.where(a > 0, 1.0, 0.01)),
    "identity": (lambda z: z, lambda a: np.ones_like(a)),
    "tanh": (np.tanh, lambda a: 1.0 - a * a),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda a: a * (1.0 - a)),
}


def make_core(seed=0, dtype="float32", loss="cross_entropy", sizes=SIZES, act="relu"):
    acts = [int(vocabulary.activation(act))] * (len(sizes) - 2)
    return getattr(_core, f"Network_{dtype}")(sizes, acts, int(vocabulary.loss(loss)), seed)


def layers(core):
    return [(core.weight(i).astype(np.float64), core.bias(i).astype(np.float64)) for i in range(len(SIZES) - 1)]


def product(a, b):
    """a @ b with both operands rounded to bf16, summed in float64."""
    return r(a).astype(np.float64) @ r(b).astype(np.float64)


def reference_forward(core, X, act="relu"):
    acts, a = [], X.astype(np.float64)
    params = layers(core)
    for i, (W, b) in enumerate(params):
        z = product(a.astype(np.float32), W.T.astype(np.float32)) + b
        a = ACTS[act][0](z) if i + 1 < len(params) else z
        acts.append(a)
    return acts


def reference_gradient(core, X, labels, act="relu"):
    """Backprop for softmax cross-entropy with every product in bf16."""
    n = X.shape[0]
    acts = reference_forward(core, X, act)
    logits = acts[-1]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = p.copy()
    delta[np.arange(n), labels] -= 1.0
    delta /= n
    grads = []
    params = layers(core)
    for i in reversed(range(len(params))):
        a_in = X if i == 0 else acts[i - 1]
        f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731  (the core keeps float32 values)
        grads.append((product(f32(delta).T, f32(a_in)), delta.sum(axis=0)))
        if i:
            delta = product(f32(delta), f32(params[i][0])) * ACTS[act][1](acts[i - 1])
    flat = []
    for dW, db in reversed(grads):
        flat += [dW.ravel(), db]
    return np.concatenate(flat)


def data(n=50, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, SIZES[0])).astype(np.float32), rng.integers(0, SIZES[-1], n)


def test_precision_property_and_its_checks():
    core = make_core()
    assert core.precision == "fp32"
    core.precision = "bf16"
    assert core.precision == "bf16"
    with pytest.raises(ValueError, match=r"precision: expected one of 'fp32', 'bf16', got 'fp16'"):
        core.precision = "fp16"
    assert core.precision == "bf16"
    wide = make_core(dtype="float64")
    with pytest.raises(ValueError, match="precision: 'bf16' applies to float32 models, this one is float64"):
        wide.precision = "bf16"
    X = np.zeros((2, SIZES[0]))
    with pytest.raises(ValueError, match="precision: 'bf16' applies to float32 models"):
        wide.forward(X, "bf16")
    with pytest.raises(ValueError, match="precision: expected one of 'fp32', 'bf16', got 'tf32'"):
        core.output(X.astype(np.float32), "tf32")


def test_forward_matches_the_bf16_reference(level):
    core = make_core()
    X, _ = data()
    want = reference_forward(core, X)
    got = core.forward(X, "bf16")
    np.testing.assert_allclose(got, want[-1], rtol=2e-3, atol=2e-3)
    fp32 = core.forward(X)
    assert np.abs(got - fp32).max() > 1e-5  # the products did round
    acts = core.activations(X, "bf16")
    for a, w in zip(acts[:-1], want[:-1]):
        np.testing.assert_allclose(a, w, rtol=2e-3, atol=2e-3)


def test_one_sample_runs_its_own_path_in_bf16(level):
    """One sample goes through every layer in one team of threads, each rounding its share of the
    weights as it streams them: the bf16 reference's values, the rows of a few-row call bit for bit
    (the same dot kernel), and the same bits for 1 and 2 threads (a net worth two)."""
    sizes = [300, 517, 263, 10]
    core = make_core(seed=5, sizes=sizes)
    _check_one_sample_bf16(core, sizes)


def test_one_sample_bf16_with_layers_narrower_than_a_thread_share(level):
    """Two threads (the first layer is worth them) through layers of 3 and 1 outputs: a thread may
    get no columns of a layer, and must still meet the other at the barrier."""
    sizes = [600, 500, 3, 1]
    _check_one_sample_bf16(make_core(seed=7, sizes=sizes, loss="mse"), sizes)


def _check_one_sample_bf16(core, sizes):
    X = np.random.default_rng(6).standard_normal((3, sizes[0])).astype(np.float32)
    acts, a = [], X[:1].astype(np.float64)
    for i in range(len(sizes) - 1):
        W, b = core.weight(i).astype(np.float32), core.bias(i).astype(np.float64)
        z = product(a.astype(np.float32), W.T) + b
        a = np.maximum(z, 0.0) if i + 2 < len(sizes) else z
    old = dp.get_num_threads()
    try:
        outputs = []
        for threads in (1, 2):
            dp.set_num_threads(threads)
            outputs.append(core.forward(X[:1], "bf16"))
        few_rows = core.forward(X, "bf16")
    finally:
        dp.set_num_threads(old)
    np.testing.assert_allclose(outputs[0], a, rtol=2e-3, atol=2e-3)
    assert np.abs(outputs[0] - core.forward(X[:1])).max() > 1e-5  # the products did round
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0][0], few_rows[0])
    with pytest.raises(ValueError, match="precision: 'bf16' applies to float32 models"):
        make_core(dtype="float64", sizes=sizes).forward(X[:1].astype(np.float64), "bf16")


@pytest.mark.parametrize("act", list(ACTS))
def test_gradient_matches_the_bf16_reference(level, act):
    core = make_core(seed=3, act=act)
    core.precision = "bf16"
    X, labels = data(n=64)
    loss, grad = core.gradient(X, labels.astype(np.int64), None, 0.0)
    want = reference_gradient(core, X, labels, act)
    np.testing.assert_allclose(grad, want, rtol=1e-2, atol=2e-4)
    np.testing.assert_allclose(core.forward(X), reference_forward(core, X, act)[-1], rtol=2e-3, atol=2e-3)
    core.precision = "fp32"
    _, grad32 = core.gradient(X, labels.astype(np.int64), None, 0.0)
    assert np.abs(grad - grad32).max() > 1e-6


def test_fused_sgd_step_updates_float32_master_weights(level):
    core = make_core(seed=4)
    core.precision = "bf16"
    X, labels = data(n=40)
    before = core.params().copy()
    want = reference_gradient(core, X, labels)
    core.train_step_sgd(X, labels.astype(np.int64), None, 0.5, 0.0)
    step = (before.astype(np.float64) - core.params()) / 0.5
    np.testing.assert_allclose(step, want, rtol=1e-2, atol=2e-4)
    # updates far below bf16's resolution still move the float32 weights
    tiny = core.params().copy()
    core.train_step_sgd(X, labels.astype(np.int64), None, 1e-6, 0.0)
    moved = core.params() != tiny
    assert moved.mean() > 0.5 and (r(core.params()) == r(tiny)).mean() > 0.9


@pytest.mark.parametrize("n", [1, 8, 40])
def test_fused_sgd_step_is_a_bf16_step_at_every_batch_size(level, n):
    """Small batches have a float32 fused backward + SGD kernel; in bf16 the step stays bf16."""
    X, labels = data(n=n, seed=n)
    labels = labels.astype(np.int64)
    core = make_core(seed=11)
    core.precision = "bf16"
    _, g16 = core.gradient(X, labels, None, 0.0)
    core.precision = "fp32"
    _, g32 = core.gradient(X, labels, None, 0.0)
    core.precision = "bf16"
    before = core.params().copy()
    lr = 0.25
    core.train_step_sgd(X, labels, None, lr, 0.0)
    step = (before.astype(np.float64) - core.params()) / lr
    assert np.abs(step - g16).max() < 0.05 * np.abs(g16 - g32).max()


def test_inference_cache_follows_writes_through_views(level):
    core = make_core(seed=5)
    X, _ = data(n=10)
    first = core.output(X, "bf16")
    np.testing.assert_array_equal(core.output(X, "bf16"), first)  # cached panels: same result
    core.weight(1)[3, 4] += 1.0  # a write the core cannot see: the fingerprint does
    second = core.output(X, "bf16")
    assert not np.array_equal(first, second)
    np.testing.assert_allclose(core.forward(X, "bf16"), reference_forward(core, X)[-1], rtol=2e-3, atol=2e-3)
    core.params()[:] = 0.0  # every weight zero: uniform probabilities
    np.testing.assert_allclose(core.output(X, "bf16"), np.full((10, SIZES[-1]), 1.0 / SIZES[-1]), rtol=1e-6)


def test_inference_cache_follows_the_level():
    if len(LEVELS) < 2:
        pytest.skip("one bf16 level on this CPU")
    core = make_core(seed=6)
    X, _ = data(n=30)
    before = _core.bf16_level()
    try:
        outs = []
        for name in LEVELS:
            _core.set_bf16_level(name)
            outs.append(core.forward(X, "bf16"))
    finally:
        _core.set_bf16_level(before)
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], rtol=1e-4, atol=1e-4)


def test_training_is_bitwise_equal_for_one_and_two_threads(level):
    X, labels = data(n=300, seed=7)
    before = dp.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            dp.set_num_threads(threads)
            core = make_core(seed=8, sizes=[37, 300, 200, 7])
            core.precision = "bf16"
            cfg = _core.OptimizerConfig()
            cfg.lr = 0.05
            core.train_epoch(X, labels.astype(np.int64), None, None, None, 64, cfg)
            cfg.kind = int(vocabulary.optimizer_kind("adam"))
            cfg.lr = 1e-3
            core.train_epoch(X, labels.astype(np.int64), None, None, None, 100, cfg)
            results.append(core.params().copy())
    finally:
        dp.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


def test_float32_path_is_untouched_by_a_bf16_episode():
    X, labels = data(n=120, seed=9)
    cfg = _core.OptimizerConfig()
    cfg.lr = 0.1
    plain, toggled = make_core(seed=10), make_core(seed=10)
    toggled.precision = "bf16"
    toggled.forward(X)  # builds the bf16 inference panels
    toggled.precision = "fp32"
    for core in (plain, toggled):
        core.train_epoch(X, labels.astype(np.int64), None, None, None, 32, cfg)
    np.testing.assert_array_equal(plain.params(), toggled.params())
    np.testing.assert_array_equal(plain.forward(X), toggled.forward(X, "fp32"))
