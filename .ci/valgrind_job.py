"""A small end-to-end job for valgrind memcheck: every layer of the core is exercised (kernels,
training with each loss and dtype, inference, gradients, save/load) on small shapes."""
import os
import sys
import tempfile

import numpy as np

import deltaprop as dp
from deltaprop import kernels as K

rng = np.random.default_rng(0)
dp.set_num_threads(2)
for dtype in ("float32", "float64"):
    X = rng.standard_normal((67, 9)).astype(dtype)
    labels = rng.integers(0, 3, 67)
    targets = {"cross_entropy": labels, "mse": rng.standard_normal((67, 3)),
               "binary_cross_entropy": (rng.random((67, 3)) > 0.5).astype(dtype)}
    for loss, y in targets.items():
        net = dp.MLP([9, 17, 5, 3], activation=["relu", "tanh"], loss=loss, dtype=dtype, seed=1)
        net.fit(X, y, epochs=2, batch_size=16, lr=0.05, validation_data=(X[:10], y[:10]))
        net.train_step(X[:7], y[:7], lr=0.05)
        net.predict(X); net.predict_proba(X); net.activations(X); net.evaluate(X, y)
        net.loss_and_grad(X[:5], y[:5], l2=0.01)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.npz")
            net.save(path)
            assert np.array_equal(dp.load(path).predict_proba(X), net.predict_proba(X))
    A, B = rng.standard_normal((37, 29)).astype(dtype), rng.standard_normal((23, 29)).astype(dtype)
    K.gemm(A, B, trans_b=True); K.gemm(A[:, 3:20], B[:, :17].T.copy()); K.gemv(A, A[0])
    Z, Act = K.dense_forward(A, B, np.zeros(23, dtype), activation="sigmoid")
    K.dense_backward(A, B, Z)
    K.softmax_cross_entropy(Z, rng.integers(0, 23, 37))
    K.mse(A, A * 2); K.sigmoid_binary_cross_entropy(A, (A > 0).astype(dtype))
print("valgrind job done", file=sys.stderr)
