"""Classify scikit-learn's bundled 8x8 handwritten digits (no download) with a deltaprop MLP,
then save, reload and export the model.

    python examples/digits_classification.py
"""
import numpy as np

import deltaprop as dp

try:
    from sklearn.datasets import load_digits
except ImportError:
    raise SystemExit("this example needs scikit-learn: pip install scikit-learn")

digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)         # (1797, 64) pixel intensities in [0, 1]
y = digits.target.astype(np.int64)                  # (1797,) class indices 0..9
order = np.random.default_rng(0).permutation(len(X))
X, y = X[order], y[order]
X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]

net = dp.MLP([64, 128, 64, 10], activation="relu", loss="cross_entropy", seed=0)
history = net.fit(X_train, y_train, epochs=40, batch_size=32, lr=0.1,
                  validation_data=(X_test, y_test), verbose=True)
print(f"{history.epochs} epochs, {history.samples_per_sec:,.0f} samples/s")
print("test:", net.evaluate(X_test, y_test))

confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (y_test, net.predict(X_test)), 1)
print("confusion matrix (rows: true digit, columns: predicted):")
print(confusion)

net.save("digits_model.npz")                        # plain arrays, no pickle
again = dp.load("digits_model.npz")
assert (again.predict(X_test) == net.predict(X_test)).all()
print("saved and reloaded digits_model.npz")
