"""Regression with the mse loss: learn y = sin(3x₁) · x₂ + noise from 2 000 samples.

    python examples/regression.py
"""
import numpy as np

import deltaprop as dp

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, size=(2000, 2)).astype(np.float32)            # (n, 2)
y = (np.sin(3 * X[:, 0]) * X[:, 1] + 0.05 * rng.standard_normal(2000)).astype(np.float32)
y = y.reshape(-1, 1)                                                  # (n, 1): one output unit
X_train, y_train, X_test, y_test = X[:1600], y[:1600], X[1600:], y[1600:]

net = dp.MLP([2, 64, 64, 1], activation="tanh", loss="mse", seed=0)
history = net.fit(X_train, y_train, epochs=200, batch_size=32, lr=0.05,
                  validation_data=(X_test, y_test))
pred = net.predict(X_test)                                            # (400, 1) values
rmse = float(np.sqrt(np.mean((pred - y_test) ** 2)))
baseline = float(np.std(y_test))
print(f"loss (0.5·MSE) {history.val_loss[-1]:.5f}; test RMSE {rmse:.4f} "
      f"vs {baseline:.4f} for predicting the mean")
for x, truth, guess in zip(X_test[:5], y_test[:5, 0], pred[:5, 0]):
    print(f"x = ({x[0]:+.2f}, {x[1]:+.2f})   y = {truth:+.3f}   predicted {guess:+.3f}")
