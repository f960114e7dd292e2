"""The CUDA backend: availability and error paths everywhere; on a GPU (the `cuda` mark, skipped
with the reason when there is none), parity with the CPU core for every activation, loss,
dtype and optimizer, graph replay against eager execution, determinism, device arrays in and
out, save/load/checkpoints, and out-of-memory handling."""
from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import cuda as dpcuda

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
LOSSES = ["cross_entropy", "cross_entropy_probs", "mse", "binary_cross_entropy", "poisson"]
SIZES = [6, 9, 7, 4]


def rel(a, b):
    """Norm-wise relative difference ‖a - b‖ / ‖b‖ (elements near zero do not dominate)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def tolerance(dtype):
    return 1e-12 if np.dtype(dtype) == np.float64 else 1e-5


def problem(loss, n=70, sizes=SIZES, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]))
    out = sizes[-1]
    if loss == "cross_entropy":
        return X, rng.integers(0, out, n)
    if loss == "cross_entropy_probs":
        p = rng.random((n, out))
        return X, p / p.sum(axis=1, keepdims=True)
    if loss == "mse":
        return X, rng.standard_normal((n, out))
    if loss == "poisson":
        return X, rng.poisson(1.5, (n, out)).astype(np.float64)
    return X, (rng.random((n, out)) > 0.5).astype(np.float64)


def pair(activation="tanh", loss="cross_entropy", dtype="float32", sizes=SIZES, **kw):
    """The same network (same initial weights) on the CPU and on the GPU."""
    loss = "cross_entropy" if loss == "cross_entropy_probs" else loss
    cpu = dp.MLP(sizes, activation=activation, loss=loss, dtype=dtype, seed=7)
    gpu = dp.MLP(sizes, activation=activation, loss=loss, dtype=dtype, seed=7, device="cuda", **kw)
    return cpu, gpu


# ----------------------------------------------------------------------------- everywhere
def test_availability_is_consistent():
    available = dpcuda.is_available()
    assert available == (dpcuda.device_count() > 0)
    assert (dpcuda.why_unavailable() == "") == available
    assert dp.build_info()["cuda"] == dpcuda.is_built()
    if available:
        assert len(dpcuda.devices()) == dpcuda.device_count()


def test_cuda_request_without_a_gpu_says_why():
    if dpcuda.is_available():
        pytest.skip("a GPU is available here")
    with pytest.raises(RuntimeError, match="device: 'cuda' requested but"):
        dp.MLP([4, 3], device="cuda")
    net = dp.MLP([4, 3])
    with pytest.raises(RuntimeError, match="cuda"):
        net.to("cuda")
    assert net.device == "cpu"  # untouched by the failed move


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:1", "cuda:-1", ""])
def test_bad_device_names(bad):
    with pytest.raises(ValueError, match="device"):
        dp.MLP([4, 3], device=bad)


def test_device_of_wrong_type():
    with pytest.raises(TypeError, match="device"):
        dp.MLP([4, 3], device=3)


def test_tf32_is_a_gpu_precision():
    with pytest.raises(ValueError, match="precision"):
        dp.MLP([4, 3], precision="tf32")
    with pytest.raises(ValueError, match="precision"):
        dp.MLP([4, 3], precision="fp16")


def test_cpu_model_reports_its_device():
    net = dp.MLP([4, 3])
    assert net.device == "cpu"
    assert net.to("cpu") is net


# ----------------------------------------------------------------------------- on a GPU
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_loss_and_gradient_match_the_cpu(activation, loss, dtype):
    X, y = problem(loss)
    cpu, gpu = pair(activation, loss, dtype)
    tol = tolerance(dtype)
    assert rel(gpu.forward(X), cpu.forward(X)) <= tol
    assert rel(gpu.predict_proba(X), cpu.predict_proba(X)) <= tol
    for a, b in zip(gpu.activations(X), cpu.activations(X)):
        assert rel(a, b) <= tol
    lg, gg = gpu.loss_and_grad(X, y, l2=0.01)
    lc, gc = cpu.loss_and_grad(X, y, l2=0.01)
    assert abs(lg - lc) <= tol * abs(lc)
    assert rel(gg, gc) <= tol
    assert abs(gpu.evaluate(X, y)["loss"] - cpu.evaluate(X, y)["loss"]) <= tol * abs(cpu.evaluate(X, y)["loss"])


OPTIMIZERS = {
    "sgd": dict(optimizer="sgd", lr=0.05),
    "sgd_l2": dict(optimizer="sgd", lr=0.05, l2=0.01),
    "momentum": dict(optimizer=lambda: dp.SGD(lr=0.05, momentum=0.9)),
    "nesterov": dict(optimizer=lambda: dp.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adam": dict(optimizer=lambda: dp.Adam(lr=0.003)),
    "adamw_clip": dict(optimizer=lambda: dp.AdamW(lr=0.003, clip_norm=0.5)),
    "sgd_weighted": dict(optimizer="sgd", lr=0.05, sample_weight=True),
}


def fit_kwargs(spec, n):
    kw = dict(spec)
    if callable(kw.get("optimizer")):
        kw["optimizer"] = kw["optimizer"]()
    if kw.pop("sample_weight", False):
        kw["sample_weight"] = np.random.default_rng(5).random(n) + 0.1
    return kw


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_twenty_steps_match_the_cpu(name, dtype):
    # 70 rows in batches of 16: 4 full batches and one of 6 per epoch, 4 epochs = 20 steps,
    # the full-batch step replayed from its CUDA graph, the last one captured separately.
    X, y = problem("cross_entropy")
    cpu, gpu = pair("relu", "cross_entropy", dtype)
    hc = cpu.fit(X, y, epochs=4, batch_size=16, seed=1, **fit_kwargs(OPTIMIZERS[name], len(X)))
    hg = gpu.fit(X, y, epochs=4, batch_size=16, seed=1, **fit_kwargs(OPTIMIZERS[name], len(X)))
    tol = tolerance(dtype) * (10 if dtype == "float32" else 100)  # 20 steps of accumulated rounding
    assert rel(gpu.get_params(), cpu.get_params()) <= tol
    np.testing.assert_allclose(hg.train_loss, hc.train_loss, rtol=tol)


@pytest.mark.cuda
@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
def test_train_step_matches_the_cpu(loss):
    X, y = problem(loss, n=32)
    cpu, gpu = pair("sigmoid", loss, "float64")
    for _ in range(3):
        assert abs(gpu.train_step(X, y, lr=0.1, l2=0.01) - cpu.train_step(X, y, lr=0.1, l2=0.01)) < 1e-12
    assert rel(gpu.get_params(), cpu.get_params()) <= 1e-12


def _trained(use_graphs, epilogues=True, seed=0):
    X, y = problem("cross_entropy", n=200, sizes=[20, 64, 32, 5])
    net = dp.MLP([20, 64, 32, 5], activation="relu", device="cuda", seed=seed)
    net.cuda_options(use_graphs=use_graphs, epilogues=epilogues)
    net.fit(X, y, epochs=3, batch_size=32, optimizer=dp.Adam(lr=0.01), seed=2)
    return net.get_params()


@pytest.mark.cuda
def test_graph_replay_equals_eager_bitwise():
    np.testing.assert_array_equal(_trained(use_graphs=True), _trained(use_graphs=False))


@pytest.mark.cuda
def test_two_runs_are_bitwise_equal():
    np.testing.assert_array_equal(_trained(True), _trained(True))


@pytest.mark.cuda
def test_fused_epilogues_agree_with_own_kernels():
    assert rel(_trained(True, epilogues=True), _trained(True, epilogues=False)) <= 1e-5


@pytest.mark.cuda
def test_moving_between_devices_keeps_the_model():
    X, y = problem("cross_entropy")
    net = dp.MLP(SIZES, seed=1)
    before = net.predict_proba(X)
    assert net.to("cuda") is net and net.device == "cuda:0"
    assert rel(net.predict_proba(X), before) <= 1e-5
    net.fit(X, y, epochs=2, batch_size=16, optimizer=dp.SGD(lr=0.05, momentum=0.9))
    on_gpu = net.get_params()
    state = net.network.optimizer_state()
    net.to("cpu")
    assert net.device == "cpu"
    np.testing.assert_array_equal(net.get_params(), on_gpu)
    np.testing.assert_array_equal(net.network.optimizer_state()["velocity"], state["velocity"])


@pytest.mark.cuda
def test_layer_views_on_the_gpu_are_read_only_copies():
    net = dp.MLP(SIZES, device="cuda", seed=1)
    W = net.layers[0].W
    np.testing.assert_array_equal(W, net.get_params()[:SIZES[0] * SIZES[1]].reshape(SIZES[1], SIZES[0]))
    with pytest.raises(ValueError):
        W[0, 0] = 1.0
    theta = net.get_params() * 0.5
    net.set_params(theta)
    np.testing.assert_array_equal(net.get_params(), theta)


@pytest.mark.cuda
def test_save_load_and_resume_on_the_gpu(tmp_path):
    X, y = problem("cross_entropy")
    net = dp.MLP(SIZES, device="cuda", seed=4)
    net.fit(X, y, epochs=4, batch_size=16, optimizer="adam", checkpoint=tmp_path / "run.npz", checkpoint_every=1)
    whole = net.get_params()
    path = tmp_path / "m.npz"
    net.save(path)
    loaded = dp.load(path)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.get_params(), whole)
    # interrupted after 2 epochs, resumed on the GPU: the same weights as the whole run
    half = dp.MLP(SIZES, device="cuda", seed=4)
    half.fit(X, y, epochs=2, batch_size=16, optimizer="adam", checkpoint=tmp_path / "half.npz")
    resumed = dp.MLP(SIZES, device="cuda", seed=4)
    resumed.fit(X, y, epochs=4, batch_size=16, optimizer="adam", resume=tmp_path / "half.npz")
    np.testing.assert_array_equal(resumed.get_params(), whole)


@pytest.mark.cuda
def test_early_stopping_and_callbacks_on_the_gpu():
    X, y = problem("cross_entropy", n=200)
    seen = []
    net = dp.MLP(SIZES, device="cuda", seed=0)
    hist = net.fit(X, y, epochs=50, batch_size=16, lr=0.5, validation_split=0.2, early_stopping=dp.EarlyStopping(patience=2),
                   callbacks=[lambda h: seen.append(h.epochs)])
    assert seen == list(range(1, hist.epochs + 1))
    assert len(hist.val_loss) == hist.epochs


@pytest.mark.cuda
def test_divergence_is_caught_on_the_gpu():
    X, y = problem("mse")
    net = dp.MLP(SIZES, loss="mse", device="cuda", seed=0)
    before = net.get_params()
    with pytest.raises(FloatingPointError):
        net.fit(X * 1e6, y * 1e6, epochs=3, batch_size=16, lr=10.0)
    assert np.isfinite(net.get_params()).all()
    np.testing.assert_array_equal(net.get_params(), before)


@pytest.mark.cuda
def test_device_arrays_in_and_out():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    X, y = problem("cross_entropy", n=300)
    net = dp.MLP(SIZES, seed=2, device="cuda")
    Xt = torch.from_numpy(X.astype(np.float32)).cuda()
    out = net.predict_proba(Xt)
    assert hasattr(out, "__cuda_array_interface__") and hasattr(out, "__dlpack__")
    back = torch.from_dlpack(out)
    assert back.is_cuda and tuple(back.shape) == (300, SIZES[-1])
    assert rel(back.cpu().numpy(), net.predict_proba(X)) <= 1e-6
    assert rel(torch.as_tensor(net.forward(Xt), device="cuda").cpu().numpy(), net.forward(X)) <= 1e-6
    # training straight from GPU tensors: the same result as from numpy
    yt = torch.from_numpy(y).cuda()
    a = dp.MLP(SIZES, seed=2, device="cuda")
    b = dp.MLP(SIZES, seed=2, device="cuda")
    a.fit(Xt, yt, epochs=2, batch_size=32, seed=0)
    b.fit(X.astype(np.float32), y, epochs=2, batch_size=32, seed=0)
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    with pytest.raises(TypeError, match="float32"):
        net.predict_proba(Xt.double())
    with pytest.raises(ValueError, match="features|shape"):
        net.predict_proba(Xt[:, :3].contiguous())


@pytest.mark.cuda
def test_out_of_memory_is_a_memory_error_naming_what():
    with pytest.raises(MemoryError, match="GPU memory"):
        dp.MLP([300_000, 300_000], device="cuda")  # 360 GB of float32 weights
    net = dp.MLP(SIZES, device="cuda")  # the device still works afterwards
    assert net.predict(np.zeros((2, SIZES[0]))).shape == (2,)


@pytest.mark.cuda
def test_tf32_trains_close_to_fp32():
    X, y = problem("cross_entropy", n=256, sizes=[64, 128, 10])
    a = dp.MLP([64, 128, 10], device="cuda", seed=0)
    b = dp.MLP([64, 128, 10], device="cuda", seed=0, precision="tf32")
    a.fit(X, y, epochs=2, batch_size=64)
    b.fit(X, y, epochs=2, batch_size=64)
    assert rel(b.get_params(), a.get_params()) <= 1e-2


@pytest.mark.cuda
def test_device_out_of_memory_mid_fit_keeps_the_model_usable():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    net = dp.MLP([64, 4096, 10], device="cuda", seed=0)
    X = np.random.default_rng(0).standard_normal((100_000, 64)).astype(np.float32)
    y = np.zeros(100_000, np.int64)
    before = net.get_params()
    free, _ = torch.cuda.mem_get_info()
    hog = torch.empty(max(free - (256 << 20), 0), dtype=torch.uint8, device="cuda")  # leave 256 MiB
    try:
        # the batch's activations alone need 100,000 x 4096 x 4 B = 1.6 GB
        with pytest.raises(MemoryError, match="GPU memory"):
            net.fit(X, y, epochs=1, batch_size=100_000)
    finally:
        del hog
        torch.cuda.empty_cache()
    np.testing.assert_array_equal(net.get_params(), before)
    net.fit(X[:512], y[:512], epochs=1, batch_size=128)
    assert np.isfinite(net.get_params()).all()


def test_estimators_and_cli_refuse_cuda_without_a_gpu(tmp_path):
    if dpcuda.is_available():
        pytest.skip("a GPU is available here")
    pytest.importorskip("sklearn")
    from deltaprop.sklearn import MLPClassifier
    X, y = problem("cross_entropy")
    with pytest.raises(RuntimeError, match="device: 'cuda' requested"):
        MLPClassifier(hidden_layer_sizes=(8,), device="cuda").fit(X, y)
    from deltaprop.cli import main
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with pytest.raises((SystemExit, RuntimeError)) as info:
        main(["train", str(tmp_path / "d.npz"), "--device", "cuda", "--out", str(tmp_path / "m.npz")])
    assert "cuda" in str(info.value) or info.value.code != 0


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_on_the_gpu_matches_the_cpu():
    pytest.importorskip("sklearn")
    from deltaprop.sklearn import MLPClassifier
    X, y = problem("cross_entropy", n=200)
    kw = dict(hidden_layer_sizes=(16,), solver="sgd", max_iter=5, random_state=0, dtype="float64")
    cpu = MLPClassifier(**kw).fit(X, y)
    gpu = MLPClassifier(device="cuda", **kw).fit(X, y)
    for a, b in zip(gpu.coefs_, cpu.coefs_):
        assert rel(a, b) <= 1e-10
    np.testing.assert_array_equal(gpu.predict(X), cpu.predict(X))


@pytest.mark.cuda
def test_gpu_benchmark_runs_beside_torch(tmp_path):
    # `deltaprop bench gpu` imports torch after deltaprop in its own process; in a relaunched
    # process without the OpenMP variables that import once crashed.
    import json
    import subprocess
    import sys
    pytest.importorskip("torch")
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, "-m", "deltaprop.bench.gpu", "--tiny", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert results and all(r["deltaprop"] > 0 for r in results)


@pytest.mark.cuda
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_streamed_training_set_gives_the_same_model(loss):
    # A training set that stays on the host (as one too large for the GPU does) is streamed
    # batch by batch; the steps are the same, so the weights are the same bit for bit.
    X, y = problem(loss, n=300)
    weights = np.random.default_rng(9).random(300) + 0.1
    nets = []
    for stream in (False, True):
        net = dp.MLP(SIZES, loss=loss, device="cuda", seed=5)
        net.cuda_options(stream_data=stream)
        net.fit(X, y, epochs=3, batch_size=64, optimizer=dp.Adam(lr=0.01), sample_weight=weights, seed=3)
        nets.append(net.get_params())
    np.testing.assert_array_equal(nets[0], nets[1])


def test_dlpack_capsules_are_read_without_being_consumed():
    if not dpcuda.is_built():
        pytest.skip("built without the CUDA backend")
    backend = dpcuda._load()
    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, 1:]
    capsule = a.__dlpack__()
    info = backend.describe_dlpack(capsule)
    assert info["shape"] == (3, 3) and info["strides"] == (4, 1) and info["typestr"] == "<f4"
    assert info["device_type"] == 1 and info["ptr"] == a.__array_interface__["data"][0]
    assert backend.describe_dlpack(np.arange(5).__dlpack__())["typestr"] == "<i8"
    backend.describe_dlpack(capsule)  # still unconsumed: readable again
    with pytest.raises(TypeError, match="capsule"):
        backend.describe_dlpack(object())


@pytest.mark.cuda
def test_arrays_that_only_speak_dlpack():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")

    class OnlyDLPack:  # as JAX arrays are: no __cuda_array_interface__
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, **kwargs):
            return self.t.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    X, y = problem("cross_entropy", n=64)
    net = dp.MLP(SIZES, seed=1, device="cuda")
    out = net.predict_proba(OnlyDLPack(torch.from_numpy(X.astype(np.float32)).cuda()))
    assert rel(np.asarray(out), net.predict_proba(X)) <= 1e-6
