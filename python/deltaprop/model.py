"""`deltaprop.MLP`: the user's facade over a `Network` whose parameters live in the C++ core.

The network is z(l) = W(l) a(l-1) + b(l), a(l) = g(z(l)) (row-major batches: Z = X Wᵀ + b); the
output activation follows from the loss (softmax for cross_entropy, sigmoid for
binary_cross_entropy, identity for mse: the core's vocabulary says so).

MLP sits at the top of the package (see network.py for the layers): it checks the user's
arguments, then calls down — inference and gradients to its `network`, `fit` to training,
`save`/`load` to io, `to_onnx` to onnx_export — in one line each. Nothing below imports it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import vocabulary
from ._validation import finite_float
from .backends import PRECISIONS
from .history import History
from .io import ModelFormatError, SavedModel, read_model, write_model
from .network import Layer, Network, hidden_activation_names, layer_sizes
from .onnx_export import to_onnx
from .optimizers import plain_sgd_config
from .training import TrainingState, fit

__all__ = ["MLP", "Layer", "LOSSES", "load"]

#: Loss names and their ids in the core (read from the core's vocabulary).
LOSSES = {name: int(vocabulary.loss(name)) for name in vocabulary.LOSSES}


class MLP:
    """A fully-connected network trained by backpropagation.

    Parameters
    ----------
    sizes : widths of every layer, input first, e.g. ``[784, 256, 10]`` (at least two, each >= 1).
    activation : hidden-layer activation, one of identity, sigmoid, tanh, relu, leaky_relu, or a
        list with one name per hidden layer.
    loss : ``cross_entropy`` (labels: integer class indices 0..C-1, or probability rows),
        ``mse`` (0.5 · mean squared error), ``binary_cross_entropy`` (targets 0/1, on logits) or
        ``poisson`` (counts >= 0; the output is the rate exp(logits), the loss exp(z) - y·z).
    dtype : ``float32`` (default) or ``float64``.
    seed : weight initialisation seed (He for the ReLU family, Glorot for the others); the same
        seed gives the same initial weights on every device.
    device : ``"cpu"`` (default), ``"cuda"`` or ``"cuda:N"`` (needs the CUDA backend and a GPU:
        see ``deltaprop.cuda.is_available()``). On a GPU, ``fit``, ``forward``, ``predict`` and
        ``predict_proba`` also take GPU arrays (PyTorch, CuPy: ``__cuda_array_interface__``) and
        read them in place; forward/predict_proba then return a GPU array (DLPack and
        ``__cuda_array_interface__``). ``layers[i].W``/``.b`` are read-only copies there.
    precision : ``"fp32"`` (default, strict IEEE products in the model's dtype); on the CPU
        ``"bf16"`` (float32 models: the matrix products of training and inference take bfloat16
        operands, rounded to nearest even, and sum in float32 — on AMX tiles, AVX512-BF16 or
        portable code, see ``deltaprop.build_info()["bf16"]`` — while the parameters ("master
        weights"), gradients, optimizer state, bias, activations, loss and updates stay float32;
        about 4e-3 relative error per operand); on a GPU ``"tf32"`` (float32 products on tensor
        cores: faster, about 1e-3 relative error per product). ``fit(precision=...)`` switches
        it, and inference can pick one per call (``predict_proba(X, precision="bf16")``).

    Attributes: ``network`` (the Network: core, lock, parameters), ``training_state`` (what a
    warm-started or resumed fit continues from), ``layers`` (views of W and b per layer),
    ``classes`` (None, or one name per output when the labels were names: saved with the model).
    """

    def __init__(self, sizes: Sequence[int], activation: Union[str, Sequence[str]] = "relu",
                 loss: str = "cross_entropy", dtype: Any = "float32", seed: int = 0, device: Any = "cpu",
                 precision: str = "fp32"):
        sizes = layer_sizes(sizes)
        hidden = hidden_activation_names(activation, len(sizes) - 2)
        self._adopt(Network(sizes, hidden, loss, dtype, seed, device, precision),
                    activation if isinstance(activation, str) else list(hidden), TrainingState())

    def _adopt(self, network: Network, activation: Union[str, List[str]], state: TrainingState,
               classes: Optional[np.ndarray] = None) -> None:
        self.network = network
        self.activation = activation
        self.training_state = state
        self.classes = classes

    @classmethod
    def _from_saved(cls, saved: SavedModel) -> "MLP":
        net = cls.__new__(cls)
        acts = saved.network.hidden_activations
        classes = saved.extra.get("classes")
        if classes is not None:  # optional: written for models trained on class names
            classes = _checked_classes(classes, saved.network.sizes[-1], ModelFormatError, "field 'classes'")
        net._adopt(saved.network, list(acts) if acts else "relu", TrainingState(saved.training), classes)
        return net

    # ----------------------------------------------------------------- architecture
    sizes = property(lambda self: self.network.sizes, doc="Widths of every layer, input first.")
    hidden_activations = property(lambda self: self.network.hidden_activations,
                                  doc="One activation name per hidden layer.")
    loss = property(lambda self: self.network.loss, doc="The loss (it fixes the output activation).")
    dtype = property(lambda self: self.network.dtype, doc="float32 or float64.")
    seed = property(lambda self: self.network.seed, doc="The weight initialisation seed.")
    layers = property(lambda self: self.network.layers, doc="Layer objects with views W, b.")

    @property
    def device(self) -> str:
        """Where the parameters live and the model computes: "cpu" or "cuda:N"."""
        return self.network.device

    @property
    def precision(self) -> str:
        """The precision of the matrix products: "fp32", (CPU) "bf16" or (GPU) "tf32"."""
        return self.network.precision

    @precision.setter
    def precision(self, value: str) -> None:
        self.network.set_precision(value)

    def to(self, device: Any, precision: Optional[str] = None) -> "MLP":
        """Move the model (parameters and optimizer state) to "cpu", "cuda" or "cuda:N";
        returns the model itself."""
        self.network.to(device, precision)
        return self

    def cuda_options(self, use_graphs: Optional[bool] = None, epilogues: Optional[bool] = None,
                     stream_data: Optional[bool] = None) -> Dict[str, bool]:
        """Diagnostics of a GPU model: replay training steps from CUDA graphs (default True), fuse
        bias/ReLU/bias gradients into cuBLASLt's epilogues (default True), and keep the training
        set on the host, streaming each batch in (default False: only when the set does not fit
        in GPU memory). The results are the same bit for bit either way. Returns the settings."""
        if not self.network.on_device:
            raise ValueError(f"cuda_options: the model is on {self.device}, not on a GPU")
        core = self.network.core_for_options()
        if use_graphs is not None:
            core.use_graphs = bool(use_graphs)
        if epilogues is not None:
            core.epilogues = bool(epilogues)
        if stream_data is not None:
            core.stream_data = bool(stream_data)
        return {"use_graphs": core.use_graphs, "epilogues": core.epilogues, "stream_data": core.stream_data}

    @property
    def history_(self) -> Optional[History]:
        """The History of the latest fit (also when Ctrl-C stopped it); None before any."""
        return self.training_state.history

    # ----------------------------------------------------------------- inference
    # precision: None (the model's own) or, on the CPU, "fp32" / "bf16" for this call only (a
    # float32 model trained in either can be served in either); bf16 inference converts the
    # weights once and reuses them until they change.
    def forward(self, X: Any, precision: Optional[str] = None) -> np.ndarray:
        """Output of the last layer before its activation (the logits), shape (n, sizes[-1])."""
        precision = self.network.inference_precision(precision)
        return self.network.forward(self.network.check_inputs(X), precision)

    def activations(self, X: Any, precision: Optional[str] = None) -> List[np.ndarray]:
        """Every layer's output a(1) … a(L) for inspecting the learned representation; a(l) has
        shape (n, sizes[l]); the last is the network's output (after softmax/sigmoid)."""
        precision = self.network.inference_precision(precision)
        return self.network.activations(self.network.check_inputs(X), precision)

    def predict_proba(self, X: Any, precision: Optional[str] = None) -> np.ndarray:
        """Class probabilities (softmax rows for cross_entropy, sigmoid per output for
        binary_cross_entropy); for mse and poisson, the predicted values. Shape (n, sizes[-1])."""
        precision = self.network.inference_precision(precision)
        return self.network.output(self.network.check_inputs(X), precision)

    def predict(self, X: Any, precision: Optional[str] = None) -> np.ndarray:
        """cross_entropy: int64 labels (n,); binary_cross_entropy: int64 0/1 (n, out);
        mse and poisson: predicted values (rates for poisson), (n, out)."""
        if self.loss == "cross_entropy":
            return np.argmax(np.asarray(self.forward(X, precision)), axis=1).astype(np.int64)
        if self.loss == "binary_cross_entropy":
            return (np.asarray(self.forward(X, precision)) > 0).astype(np.int64)
        return self.predict_proba(X, precision)

    def evaluate(self, X: Any, y: Any, precision: Optional[str] = None) -> Dict[str, float]:
        """{"loss": mean loss (without L2)} plus "accuracy" for the classification losses."""
        precision = self.network.inference_precision(precision)
        return self.network.evaluate(*self.network.check_data(X, y), precision=precision)

    # ----------------------------------------------------------------- training
    def loss_and_grad(self, X: Any, y: Any, l2: float = 0.0) -> Tuple[float, np.ndarray]:
        """Mean loss + l2/2 · Σ‖W‖² and its gradient as one flat vector in get_params() order."""
        X, labels, values = self.network.check_data(X, y)
        return self.network.loss_and_grad(X, labels, values, finite_float(l2, "l2", nonnegative=True))

    def train_step(self, X: Any, y: Any, lr: float = 0.01, l2: float = 0.0) -> float:
        """One fused minibatch SGD step (forward, loss, backward, W -= lr·(dW + l2·W),
        b -= lr·db). Returns the batch loss before the update."""
        fast = self.network.fast_sgd_step(X, y, lr, l2)
        if fast is not None:
            return fast
        X, labels, values = self.network.check_data(X, y)
        config = plain_sgd_config(finite_float(lr, "lr", positive=True), finite_float(l2, "l2", nonnegative=True))
        return self.network.train_step(X, labels, values, None, config)

    def fit(self, X: Any, y: Any, epochs: int = 10, batch_size: int = 32, optimizer: str = "sgd",
            lr: float = 0.01, l2: float = 0.0, validation_data: Optional[Tuple[Any, Any]] = None,
            shuffle: bool = True, seed: Optional[int] = None, verbose: bool = False, **options: Any) -> History:
        """Minibatch training; see `deltaprop.training.fit` (options: validation_split,
        lr_schedule, early_stopping, callbacks, sample_weight, class_weight, warm_start,
        checkpoint, checkpoint_every, resume, on_divergence, comm, deterministic, precision —
        which switches the model's precision from this fit on)."""
        return fit(self.network, X, y, state=self.training_state, save=self.save, epochs=epochs,
                   batch_size=batch_size, optimizer=optimizer, lr=lr, l2=l2, validation_data=validation_data,
                   shuffle=shuffle, seed=seed, verbose=verbose, **options)

    def partial_fit(self, X: Any, y: Any, **options: Any) -> History:
        """One more epoch over (X, y), continuing the optimizer state of the previous fit."""
        return self.fit(X, y, **{"epochs": 1, **options, "warm_start": True})

    # ----------------------------------------------------------------- parameters
    @property
    def num_params(self) -> int:
        return self.network.num_params

    def get_params(self) -> np.ndarray:
        """A copy of all parameters as one flat vector: layer by layer, W row-major, then b."""
        return self.network.get_params()

    def set_params(self, theta: Any) -> None:
        """Overwrite all parameters from a flat vector in get_params() order."""
        self.network.set_params(theta)

    def copy(self, dtype: Any = None) -> "MLP":
        """An independent copy (optionally converted to another dtype)."""
        twin = MLP.__new__(MLP)
        twin._adopt(self.network.copy(dtype), self.activation, TrainingState(),
                    None if self.classes is None else self.classes.copy())
        return twin

    # ----------------------------------------------------------------- files
    def save(self, path: Any) -> None:
        """Write the model to `path` (an .npz file, no pickle), atomically, with its optimizer
        and training state."""
        extra = {}
        if self.classes is not None:  # class names: a plain unicode array, no pickle
            extra["classes"] = _checked_classes(np.asarray(self.classes, dtype=str), self.sizes[-1], ValueError,
                                                "classes")
        write_model(self.network, path, training=self.training_state.as_dict(), extra=extra)

    @classmethod
    def load(cls, path: Any) -> "MLP":
        """Read a model written by `save` (deltaprop.load does the same)."""
        return cls._from_saved(read_model(path))

    def to_onnx(self, path: Any = None) -> Any:
        """Export as an ONNX graph (Gemm + activations; output as predict_proba) and write it to
        `path` when given; returns the onnx ModelProto. Needs the `onnx` extra."""
        return to_onnx(self.network, path)

    # ----------------------------------------------------------------- pickling
    def __getstate__(self) -> dict:
        """Plain values and flat arrays (no core object): the parameters, the optimizer state and
        the training state, so that a pickled model continues training as it would have (dask-ml's
        Incremental pickles the model between partial_fit calls)."""
        return {"sizes": self.sizes, "activation": self.activation, "loss": self.loss,
                "dtype": self.dtype.name, "seed": self.seed, "precision": self.precision,
                "params": self.get_params(), "classes": self.classes,
                "optimizer_state": self.network.optimizer_state(), "training": self.training_state.as_dict()}

    def __setstate__(self, state: dict) -> None:
        precision = state.get("precision", "fp32")  # a GPU's tf32 does not apply on the CPU
        self.__init__(state["sizes"], state["activation"], state["loss"], state["dtype"], state["seed"],
                      precision=precision if precision in PRECISIONS["cpu"] else "fp32")
        self.network.set_params(state["params"])
        self.classes = state.get("classes")
        if "optimizer_state" in state:  # absent from pickles of older versions
            self.network.set_optimizer_state(state["optimizer_state"])
            self.training_state = TrainingState(state["training"])

    def __repr__(self) -> str:
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, loss={self.loss!r}, "
                f"dtype={self.dtype.name!r}, params={self.num_params}"
                + ("" if self.device == "cpu" else f", device={self.device!r}")
                + ("" if self.device == "cpu" and self.precision == "fp32" else f", precision={self.precision!r}") + ")")


def _checked_classes(classes: np.ndarray, outputs: int, error: type, where: str) -> np.ndarray:
    if classes.dtype.kind != "U" or classes.shape != (outputs,) or len(set(classes.tolist())) != outputs:
        raise error(f"{where}: expected {outputs} distinct class names (one per output), got {classes.tolist()[:10]}")
    return classes


def load(path: Any) -> MLP:
    """Read a model written by `MLP.save`. Raises FileNotFoundError for a missing file and
    deltaprop.ModelFormatError (a ValueError) for anything that is not a valid model file."""
    return MLP.load(path)
