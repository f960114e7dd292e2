"""What the hidden layers learn: a feature map in which the classes become linearly separable.

Two interleaved spirals cannot be split by a line in the input plane. A network whose last
hidden layer has two units maps them to a plane where the output layer's straight boundary
separates them. The figure shows the input space with the decision boundary, the first hidden
layer (64 units) projected with PCA, and the 2-unit layer as it is, with the output boundary.

    python examples/hidden_representation.py [out.png]
"""
import sys

import deltaprop as dp
from deltaprop.datasets import two_spirals

try:
    from matplotlib.figure import Figure
except ImportError:
    sys.exit("this example needs matplotlib: pip install 'deltaprop[plot]'")
from deltaprop import plot  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "hidden_representation.png"
X, y = two_spirals(n=2000, seed=0)
net = dp.MLP([2, 64, 64, 2, 2], activation=["relu", "relu", "tanh"], seed=0)
history = net.fit(X, y, epochs=150, batch_size=32, lr=0.05, validation_data=(X, y))
print(f"accuracy {net.evaluate(X, y)['accuracy']:.4f} after {history.epochs} epochs")

representation = net.activations(X)          # [a1 (n, 64), a2 (n, 64), a3 (n, 2), output (n, 2)]
print("hidden widths:", [a.shape[1] for a in representation[:-1]])

fig = Figure(figsize=(13.5, 4.2), layout="constrained")  # no pyplot: no display needed
axes = fig.subplots(1, 3)
plot.decision_boundary(net, X, y, ax=axes[0])
plot.hidden_representation(net, X, y, layer=0, ax=axes[1])
plot.hidden_representation(net, X, y, layer=-1, ax=axes[2])
fig.suptitle("Hidden layers learn a feature map in which the spirals are linearly separable")
plot.save_figure(fig, out)
print(f"figure saved to {out}")
