"""A small tour of every GPU code path (each loss, activation, optimizer, graphs on and off,
epilogues on and off, float32 and float64, inference, gradients), short enough to run under
compute-sanitizer: `compute-sanitizer --tool memcheck python bench/gpu_sanitize.py`."""
import numpy as np

import deltaprop as dp

rng = np.random.default_rng(0)
X = rng.standard_normal((37, 5))
targets = {
    "cross_entropy": rng.integers(0, 3, 37),
    "mse": rng.standard_normal((37, 3)),
    "binary_cross_entropy": (rng.random((37, 3)) > 0.5).astype(float),
    "poisson": rng.poisson(1.5, (37, 3)).astype(float),
}
for dtype in ("float32", "float64"):
    for loss, y in targets.items():
        for act, graphs, epilogues in [("relu", True, True), ("tanh", False, True), ("leaky_relu", True, False),
                                       ("sigmoid", True, True), ("identity", False, False)]:
            net = dp.MLP([5, 8, 6, 3], activation=act, loss=loss, dtype=dtype, device="cuda")
            net.cuda_options(use_graphs=graphs, epilogues=epilogues)
            for opt in ("sgd", dp.SGD(lr=0.05, momentum=0.9, nesterov=True, clip_norm=1.0), dp.AdamW(lr=0.01)):
                net.fit(X, y, epochs=3, batch_size=8, optimizer=opt, l2=0.01,
                        sample_weight=rng.random(37) + 0.1 if loss == "cross_entropy" else None)
            net.predict_proba(X), net.activations(X), net.loss_and_grad(X, y, l2=0.1), net.evaluate(X, y)
            net.train_step(X[:4], y[:4])
print("gpu_sanitize: all paths ran")
