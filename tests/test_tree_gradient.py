"""The core's tree_gradient and apply_gradient_sum (what a data-parallel step runs): against
the reference they replace — one gradient call per micro-batch, times its mass, added in the tree
of deltaprop.distributed.tree with numpy; and apply_gradient of the divided sum — bitwise."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import _core
from deltaprop.distributed.tree import cover, subtree_sum

SIZES = [7, 11, 6, 4]


def _net(dtype, loss="cross_entropy", seed=2):
    core = _core.Network_float64 if dtype == np.float64 else _core.Network_float32
    return core(SIZES, [_core.Activation["tanh"]] * (len(SIZES) - 2), _core.Loss[loss], seed)


def _rows(rng, n, dtype, loss="cross_entropy", weighted=False):
    X = rng.standard_normal((n, SIZES[0])).astype(dtype)
    labels = rng.integers(0, SIZES[-1], n) if loss == "cross_entropy" else None
    values = None if labels is not None else rng.standard_normal((n, SIZES[-1])).astype(dtype)
    # Weights over seven decades: their float64 sums round, so the masses' bits matter.
    weights = (rng.uniform(0.1, 3.0, n) * 10.0 ** rng.integers(-3, 4, n)).astype(dtype) if weighted else None
    return X, labels, values, weights


def _masses(n, micro, weights):
    starts = range(0, n, micro)
    if weights is None:
        return np.array([float(min(micro, n - i)) for i in starts])
    return np.array([float(np.sum(weights[i:i + micro], dtype=np.float64)) for i in starts])


def _reference(net, X, labels, values, weights, masses, micro, first, total):
    """The node sums and (loss sum, mass) rows, the way the data-parallel step computed them:
    a gradient call per micro-batch, scaled by its mass, added in the tree with numpy."""
    n, stats = X.shape[0], {}

    def leaf(j):
        i = j - first
        rows = slice(i * micro, min((i + 1) * micro, n))
        if masses[i] <= 0:
            stats[j] = (0.0, 0.0)
            return np.zeros(net.num_params, X.dtype)
        loss, grad = net.gradient(X[rows], None if labels is None else labels[rows],
                                  None if values is None else values[rows], 0.0,
                                  None if weights is None else weights[rows])
        grad *= grad.dtype.type(masses[i])
        stats[j] = (loss * masses[i], masses[i])
        return grad

    leaves = -(-n // micro)
    nodes = cover(first, first + leaves, total)
    sums = [subtree_sum(node, leaf) for node in nodes]
    return sums, np.array([stats[j] for j in range(first, first + leaves)])


# (rows, micro-batch rows, first micro-batch, micro-batches in the tree): one whole tree, a
# rank's share cut into several subtrees, a short last micro-batch, one row.
CASES = [(256, 64, 0, 4), (200, 64, 1, 5), (37, 8, 3, 11), (130, 7, 2, 40), (5, 64, 0, 1), (1, 1, 0, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("weighted", [False, True], ids=["rows", "weights"])
@pytest.mark.parametrize("n,micro,first,total", CASES)
def test_tree_gradient_is_the_per_micro_batch_reference_bitwise(rng, dtype, loss, weighted, n, micro, first, total):
    net = _net(dtype, loss)
    X, labels, values, weights = _rows(rng, n, dtype, loss, weighted)
    if weighted and n > micro:
        weights[:micro] = 0  # a micro-batch that weighs nothing: zero sum, (0, 0) stats
    masses = _masses(n, micro, weights)
    sums, stats = _reference(net, X, labels, values, weights, masses, micro, first, total)
    before = net.params().copy()
    out = np.full((len(sums), net.num_params), np.nan, dtype)
    got = np.full((len(masses), 2), np.nan)
    net.tree_gradient(X, labels, values, weights, masses, micro, first, total, out, got)
    np.testing.assert_array_equal(out, np.array(sums))
    np.testing.assert_array_equal(got, stats)
    np.testing.assert_array_equal(net.params(), before)  # no update


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True], ids=["rows", "weights"])
@pytest.mark.parametrize("n,micro,first,total", CASES)
def test_masses_folded_into_backprop_agree_to_rounding(rng, dtype, weighted, n, micro, first, total):
    """mass_in_backprop (the fast mode's sum): the same sums up to rounding, the same stats."""
    net = _net(dtype)
    X, labels, values, weights = _rows(rng, n, dtype, weighted=weighted)
    masses = _masses(n, micro, weights)
    sums, stats = _reference(net, X, labels, values, weights, masses, micro, first, total)
    out = np.full((len(sums), net.num_params), np.nan, dtype)
    got = np.full((len(masses), 2), np.nan)
    net.tree_gradient(X, labels, values, weights, masses, micro, first, total, out, got, mass_in_backprop=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, np.array(sums), rtol=tol, atol=tol * np.abs(np.array(sums)).max())
    np.testing.assert_array_equal(got, stats)


@pytest.mark.parametrize("n,micro,first,total", CASES)
def test_tree_gradient_places_segments_as_an_all_to_all_sends_them(rng, n, micro, first, total):
    """bounds/places: segment s of node j at places[s] + j * len(s); values between the groups
    (where the caller puts its own data) are left as they were."""
    net = _net(np.float32)
    X, labels, values, weights = _rows(rng, n, np.float32, weighted=True)
    masses = _masses(n, micro, weights)
    sums, _ = _reference(net, X, labels, values, weights, masses, micro, first, total)
    k, p = len(sums), net.num_params
    bounds = np.array([0, p // 3, p // 3, p], np.int64)  # an empty segment too
    seg = np.diff(bounds)
    places = np.concatenate([[0], np.cumsum(k * seg + 3)[:-1]]).astype(np.int64)
    out = np.full(int(places[-1] + k * seg[-1] + 3), np.nan, np.float32)
    net.tree_gradient(X, labels, values, weights, masses, micro, first, total, out, np.empty((len(masses), 2)),
                      bounds, places)
    expected = np.full_like(out, np.nan)
    for s in range(len(seg)):
        for j in range(k):
            expected[places[s] + j * seg[s]:places[s] + (j + 1) * seg[s]] = sums[j][bounds[s]:bounds[s + 1]]
    np.testing.assert_array_equal(out, expected)


def test_tree_gradient_does_not_depend_on_the_thread_count(rng):
    net = _net(np.float32)
    X, labels, values, weights = _rows(rng, 300, np.float32)
    masses = _masses(300, 64, None)
    outs = []
    before = dp.get_num_threads()
    try:
        for threads in (1, 2):
            dp.set_num_threads(threads)
            out = np.empty((1, net.num_params), np.float32)
            net.tree_gradient(X, labels, values, weights, masses, 64, 0, 5, out, np.empty((5, 2)))
            outs.append(out)
    finally:
        dp.set_num_threads(before)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_tree_gradient_of_no_rows_writes_nothing():
    net = _net(np.float64)
    out = np.full(3, 7.0)
    net.tree_gradient(np.zeros((0, SIZES[0])), np.zeros(0, np.int64), None, None, np.zeros(0), 64, 2, 4, out,
                      np.empty((0, 2)))
    np.testing.assert_array_equal(out, 7.0)


def test_tree_gradient_checks_its_arguments(rng):
    net = _net(np.float32)
    X, labels, _, _ = _rows(rng, 100, np.float32)
    masses = _masses(100, 64, None)
    out, stats = np.empty(net.num_params, np.float32), np.empty((2, 2))

    def call(**change):
        args = dict(X=X, labels=labels, values=None, weights=None, masses=masses, micro_batch=64, first=0,
                    total=2, out=out, stats=stats, bounds=None, places=None)
        args.update(change)
        net.tree_gradient(*args.values())

    with pytest.raises(TypeError, match="out: expected dtype float32, got float64"):
        call(out=np.empty(net.num_params))
    with pytest.raises(ValueError, match="out: expected a C-contiguous"):
        call(out=np.empty(2 * net.num_params, np.float32)[::2])
    with pytest.raises(ValueError, match="out: segment 0 of 1 node"):
        call(out=np.empty(net.num_params - 1, np.float32))
    with pytest.raises(ValueError, match="out: expected a writeable"):
        frozen = out.copy()
        frozen.flags.writeable = False
        call(out=frozen)
    with pytest.raises(ValueError, match="masses: expected shape \\(2,\\)"):
        call(masses=masses[:1])
    with pytest.raises(ValueError, match="stats: expected shape \\(2, 2\\)"):
        call(stats=np.empty((1, 2)))
    with pytest.raises(ValueError, match="micro_batch: expected rows >= 1, got 0"):
        call(micro_batch=0)
    with pytest.raises(ValueError, match="first, total: the 2 micro-batch"):
        call(first=1)
    with pytest.raises(ValueError, match="bounds, places: give both"):
        call(bounds=np.array([0, net.num_params], np.int64))
    with pytest.raises(ValueError, match="bounds: expected 0 first and num_params"):
        call(bounds=np.array([0, 5], np.int64), places=np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="bounds: expected non-decreasing"):
        call(bounds=np.array([0, 9, 5, net.num_params], np.int64), places=np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="X: expected shape"):
        call(X=X[:, :3].copy())


# --------------------------------------------------------------------------- apply_gradient_sum
CONFIGS = {
    "sgd": dict(lr=0.1),
    "sgd_l2": dict(lr=0.1, l2=0.05),
    "sgd_l2_per_sample": dict(lr=0.1, l2=0.5, l2_per_sample=True),
    "momentum_clip": dict(lr=0.05, momentum=0.9, clip_norm=0.05),
    "adamw": dict(kind="adam", lr=0.01, weight_decay=0.3),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_apply_gradient_sum_is_apply_gradient_of_the_mean_bitwise(rng, name, dtype):
    cfg = _core.OptimizerConfig()
    for field, value in CONFIGS[name].items():
        setattr(cfg, field, _core.OptimizerKind[value] if field == "kind" else value)
    a, b = _net(dtype), _net(dtype)
    X, labels, _, weights = _rows(rng, 48, dtype, weighted=True)
    for step in range(3):
        rows = slice(16 * step, 16 * step + 16)
        mass = float(np.sum(weights[rows], dtype=np.float64))
        _, grad = a.gradient(X[rows], labels[rows], None, 0.0, weights[rows])
        grad *= dtype(mass)
        mean = grad / dtype(mass)
        a.apply_gradient(mean, cfg, mass)
        b.apply_gradient_sum(grad, cfg, mass)  # grad: scratch from here on
        np.testing.assert_array_equal(b.params(), a.params())
    assert a.optimizer_state()["steps"] == b.optimizer_state()["steps"] == 3
    for key in ("velocity", "adam_m", "adam_v"):
        np.testing.assert_array_equal(a.optimizer_state()[key], b.optimizer_state()[key])


def test_apply_gradient_sum_checks_its_arguments():
    net = _net(np.float32)
    cfg = _core.OptimizerConfig()
    with pytest.raises(ValueError, match="mass: expected a finite number > 0, got 0"):
        net.apply_gradient_sum(np.zeros(net.num_params, np.float32), cfg, 0.0)
    with pytest.raises(ValueError, match="mass: expected a finite number > 0"):
        net.apply_gradient_sum(np.zeros(net.num_params, np.float32), cfg, float("nan"))
    with pytest.raises(TypeError, match="grad_sum: expected dtype float32"):
        net.apply_gradient_sum(np.zeros(net.num_params), cfg, 1.0)
    with pytest.raises(ValueError, match="grad_sum: expected shape"):
        net.apply_gradient_sum(np.zeros(3, np.float32), cfg, 1.0)


def test_the_network_wrapper_passes_them_through(rng):
    """deltaprop.Network.tree_gradient / apply_gradient_sum (what DataParallelEpoch calls)."""
    model = dp.MLP([SIZES[0], 9, SIZES[-1]], seed=1)
    net = model.network
    X, labels, _, _ = _rows(rng, 70, np.float32)
    masses = _masses(70, 64, None)
    out, stats = np.empty(net.num_params, np.float32), np.empty((2, 2))
    net.tree_gradient(X, labels, None, None, masses, 64, 0, 2, out, stats)
    loss, grad = net.loss_and_grad(X[:64], labels[:64], None)
    loss6, grad6 = net.loss_and_grad(X[64:], labels[64:], None)
    np.testing.assert_array_equal(out, grad * np.float32(64) + grad6 * np.float32(6))
    np.testing.assert_array_equal(stats, [[loss * 64, 64], [loss6 * 6, 6]])
    before = net.get_params()
    cfg = _core.OptimizerConfig()
    cfg.lr = 0.5
    net.apply_gradient_sum(out, cfg, 70.0)
    np.testing.assert_array_equal(net.get_params(), before - np.float32(0.5) * ((grad * np.float32(64) + grad6 * np.float32(6)) / np.float32(70)))


# --------------------------------------------------------------------------- apply_gradient_sum_part
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_updating_parts_gives_the_bits_of_the_whole_update(rng, dtype):
    """Plain SGD: parts of the parameters updated apart (some from a sum given as two terms)
    end bitwise where apply_gradient_sum puts them, and each part's call counts the step."""
    cfg = _core.OptimizerConfig()
    cfg.lr = 0.1
    whole, parts = _net(dtype), _net(dtype)
    n = whole.num_params
    for step in range(3):
        a = rng.standard_normal(n).astype(dtype)
        b = (rng.standard_normal(n) * 10.0 ** rng.integers(-4, 4, n)).astype(dtype)
        mass = float(rng.uniform(1.0, 100.0))
        whole.apply_gradient_sum(a + b, cfg, mass)  # the sum rounded, then the update
        cuts = [0, n // 3, n // 3, n]  # an empty part too
        for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:])):
            addend = b[lo:hi] if i % 2 else None
            term = a[lo:hi] if i % 2 else a[lo:hi] + b[lo:hi]
            assert parts.apply_gradient_sum_part(term, lo, cfg, mass, addend)
        np.testing.assert_array_equal(parts.params(), whole.params())
    assert parts.optimizer_state()["steps"] == 3 * 3 and whole.optimizer_state()["steps"] == 3


@pytest.mark.parametrize("name", ["sgd_l2", "sgd_l2_per_sample", "momentum_clip", "adamw"])
def test_updating_a_part_is_refused_where_the_update_needs_the_whole_gradient(name):
    cfg = _core.OptimizerConfig()
    for field, value in CONFIGS[name].items():
        setattr(cfg, field, _core.OptimizerKind[value] if field == "kind" else value)
    net = _net(np.float32)
    before = net.params().copy()
    assert not net.apply_gradient_sum_part(np.ones(5, np.float32), 0, cfg, 4.0)
    np.testing.assert_array_equal(net.params(), before)
    assert net.optimizer_state()["steps"] == 0


def test_apply_gradient_sum_part_checks_its_arguments():
    net = _net(np.float32)
    cfg = _core.OptimizerConfig()
    n = net.num_params
    with pytest.raises(ValueError, match="start: expected the part's 5 parameters to lie in"):
        net.apply_gradient_sum_part(np.zeros(5, np.float32), n - 4, cfg, 1.0)
    with pytest.raises(ValueError, match="start: expected"):
        net.apply_gradient_sum_part(np.zeros(5, np.float32), -1, cfg, 1.0)
    with pytest.raises(ValueError, match="mass: expected a finite number > 0, got 0"):
        net.apply_gradient_sum_part(np.zeros(5, np.float32), 0, cfg, 0.0)
    with pytest.raises(ValueError, match="addend: expected shape"):
        net.apply_gradient_sum_part(np.zeros(5, np.float32), 0, cfg, 1.0, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="grad_part: expected a 1-D array"):
        net.apply_gradient_sum_part(np.zeros((5, 1), np.float32), 0, cfg, 1.0)
