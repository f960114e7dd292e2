"""A training loop written with the core's kernels (deltaprop.kernels) and numpy: forward with
dense_forward, loss with softmax_cross_entropy, backward with dense_backward and
activation_backward, plain SGD in numpy. Checks itself against deltaprop.MLP.fit, which runs the
same maths fused in the core.

    python examples/custom_training_loop.py
"""
import numpy as np

import deltaprop as dp
from deltaprop import kernels as K
from deltaprop.datasets import blobs

X, y = blobs(n=512, centers=3, features=4, seed=1)            # X (512, 4) float32, y (512,) int64
sizes, lr, batch = [4, 32, 3], 0.05, 64
reference = dp.MLP(sizes, activation="relu", seed=0)          # same initial weights as below
W1, b1 = reference.layers[0].W.copy(), reference.layers[0].b.copy()   # (32, 4), (32,)
W2, b2 = reference.layers[1].W.copy(), reference.layers[1].b.copy()   # (3, 32), (3,)

for epoch in range(5):
    total = 0.0
    for start in range(0, len(X), batch):                     # rows in order, no shuffling
        xb, yb = X[start:start + batch], y[start:start + batch]
        Z1, A1 = K.dense_forward(xb, W1, b1, activation="relu")       # (m, 32)
        logits, _ = K.dense_forward(A1, W2, b2)                       # (m, 3)
        loss, dlogits = K.softmax_cross_entropy(logits, yb)           # mean loss, (m, 3)
        dA1, dW2, db2 = K.dense_backward(A1, W2, dlogits)             # delta into the hidden layer
        dZ1 = K.activation_backward("relu", Z1, A1, dA1)              # through ReLU′
        _, dW1, db1 = K.dense_backward(xb, W1, dZ1)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            p -= lr * g                                               # SGD, in place
        total += loss * len(xb)
    print(f"epoch {epoch + 1}: mean loss {total / len(X):.4f}")

reference.fit(X, y, epochs=5, batch_size=batch, lr=lr, shuffle=False)
ours = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
print("max |difference| from MLP.fit's weights:", float(np.max(np.abs(ours - reference.get_params()))))
assert np.allclose(ours, reference.get_params(), atol=1e-4)
