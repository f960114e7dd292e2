"""scikit-learn estimators on deltaprop's core: `MLPClassifier` and `MLPRegressor` take the
constructor parameters of `sklearn.neural_network`'s estimators (same names, same defaults,
same meanings) and expose the same fitted attributes; the training runs in the C++ core.

    from deltaprop.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), solver="sgd", random_state=0).fit(X, y)

The weights are initialised, the validation split drawn and the rows shuffled with the same
random draws as scikit-learn's for the same random_state. Differences: Adam puts epsilon as
torch.optim does, momentum is kept in gradient units (identical steps at a constant learning
rate). As scikit-learn's, the parameters (coefs_, intercepts_) and the arithmetic take X's dtype
(float32 stays float32, any other input is float64) unless the extra parameter ``dtype`` names
one, and coefs_ / intercepts_ assigned by hand are what warm_start / partial_fit continue from.
The network runs on the CPU unless ``device="cuda"`` (another extra: needs the CUDA backend and a
GPU). ``precision`` (another extra parameter) is the products' precision for fit and predict:
"fp32" (default), "bf16" on the CPU (bfloat16 products, float32 parameters: the network is float32
unless ``dtype`` says otherwise, which bf16 refuses) or "tf32" on a GPU. Needs the ``sklearn``
extra.

The estimators train with deltaprop's own epoch driver (training/driver.py): scikit-learn's
learning_rate options are optimizers.py's Constant / InvScaling (restarted per fit, as scikit-learn's
optimizer is) / Adaptive schedules, its tol /
n_iter_no_change rule is training's NoImprovement stop rule (which lowers an 'adaptive' rate on
a plateau before it stops), and its reshuffling of the previous epoch's order is the driver's row
order. The core network is reached through `MLP.network` only.
"""
from __future__ import annotations

import warnings
from typing import Any, List, Optional, Tuple

import numpy as np

try:
    import scipy.optimize
    from scipy.special import xlogy
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("deltaprop.sklearn needs scikit-learn >= 1.6 and scipy: "
                      "pip install 'deltaprop[sklearn]'") from exc

from . import vocabulary
from .model import MLP
from .optimizers import SGD, Adam, Adaptive, Constant, InvScaling, Optimizer, Schedule
from .training import BatchwiseEpoch, EpochDriver, NoImprovement, TrainingData, in_core_epoch

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names -> the core's, and back (the output layer's included).
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_SKLEARN_NAMES = {core: name for name, core in _ACTIVATIONS.items()}
_SOLVERS = ("lbfgs", "sgd", "adam")
_SCHEDULES = ("constant", "invscaling", "adaptive")
_STOCHASTIC = ("sgd", "adam")
# MLPRegressor's loss names -> the core's.
_REGRESSION_LOSSES = {"squared_error": "mse", "poisson": "poisson"}


class _OptimizerInvScaling(InvScaling):
    """'invscaling' as scikit-learn's SGD optimizer applies it: a new optimizer (every fit, warm
    starts included) takes its first epoch at learning_rate_init; after that each epoch's rate is
    learning_rate_init / (t_ + 1) ** power_t, t_ counting every row the estimator has seen (it
    is not reset by a warm start). partial_fit keeps the optimizer, so it keeps decaying."""

    def __init__(self, power_t: float = 0.5):
        super().__init__(power_t)
        self._first_epoch_done = False

    def lr(self, base_lr: float, epoch: int, samples_seen: int) -> float:
        if not self._first_epoch_done:
            self._first_epoch_done = True
            return base_lr
        return super().lr(base_lr, epoch, samples_seen)


def _check_stochastic(est: "_BaseMLP") -> bool:
    if est.solver not in _STOCHASTIC:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {est.solver} is not stochastic.")
    return True


class _BaseMLP(BaseEstimator):
    """The training logic shared by the classifier and the regressor."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, device="cpu", precision="fp32"):
        self.device = device
        self.precision = precision
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> List[int]:
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        checks = [
            (self.activation in _ACTIVATIONS, "activation", f"one of {sorted(_ACTIVATIONS)}", self.activation),
            (self.solver in _SOLVERS, "solver", f"one of {list(_SOLVERS)}", self.solver),
            (self.learning_rate in _SCHEDULES, "learning_rate", f"one of {list(_SCHEDULES)}", self.learning_rate),
            (self.batch_size == "auto" or (isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1),
             "batch_size", "'auto' or an int >= 1", self.batch_size),
            (_number(self.alpha) and self.alpha >= 0, "alpha", "a float >= 0", self.alpha),
            (_number(self.learning_rate_init) and self.learning_rate_init > 0, "learning_rate_init",
             "a float > 0", self.learning_rate_init),
            (_number(self.power_t) and self.power_t >= 0, "power_t", "a float >= 0", self.power_t),
            (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1, "max_iter", "an int >= 1",
             self.max_iter),
            (_number(self.tol) and self.tol >= 0, "tol", "a float >= 0", self.tol),
            (_number(self.momentum) and 0 <= self.momentum <= 1, "momentum", "a float in [0, 1]", self.momentum),
            (_number(self.validation_fraction) and 0 < self.validation_fraction < 1, "validation_fraction",
             "a float in (0, 1)", self.validation_fraction),
            (_number(self.beta_1) and 0 <= self.beta_1 < 1, "beta_1", "a float in [0, 1)", self.beta_1),
            (_number(self.beta_2) and 0 <= self.beta_2 < 1, "beta_2", "a float in [0, 1)", self.beta_2),
            (_number(self.epsilon) and self.epsilon > 0, "epsilon", "a float > 0", self.epsilon),
            ((isinstance(self.n_iter_no_change, (int, np.integer)) and self.n_iter_no_change >= 1)
             or (_number(self.n_iter_no_change, finite=False) and self.n_iter_no_change == np.inf),
             "n_iter_no_change", "an int >= 1 or np.inf", self.n_iter_no_change),
            (isinstance(self.max_fun, (int, np.integer)) and self.max_fun >= 1, "max_fun", "an int >= 1",
             self.max_fun),
            (self.dtype is None or (str(np.dtype(self.dtype)) in ("float32", "float64")
                                    if isinstance(self.dtype, (str, type, np.dtype)) else False),
             "dtype", "None (X's dtype), 'float32' or 'float64'", self.dtype),
            (self.precision in ("fp32", "bf16", "tf32"), "precision",
             "'fp32', 'bf16' (CPU, float32) or 'tf32' (GPU, float32)", self.precision),
            (not (self.precision == "bf16" and self.dtype is not None and str(np.dtype(self.dtype)) == "float64"),
             "precision", "'fp32' with dtype='float64' (bf16 products keep float32 master weights)", self.precision),
        ]
        for ok, name, expected, got in checks:
            if not ok:
                raise ValueError(f"The '{name}' parameter of {type(self).__name__} must be {expected}. Got {got!r} instead.")
        return [int(h) for h in hidden]

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental: bool):
        hidden = self._check_params()
        # as scikit-learn: coefs_ (fitted, or assigned by hand) are continued by warm_start / partial_fit
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        self.n_outputs_ = Y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize([X.shape[1]] + hidden + [self.n_outputs_], X.dtype)
        else:
            self._adopt_assigned_weights()
            if self._mlp.sizes[1:-1] != hidden or self._mlp.sizes[-1] != self.n_outputs_:
                raise ValueError("warm_start/partial_fit: the network's shape changed since the last fit "
                                 f"(layers {self._mlp.sizes}); fit anew with warm_start=False")
        X = np.ascontiguousarray(X, dtype=self._mlp.dtype)
        # The estimator's attributes (coefs_, intercepts_) are views of host memory: the network
        # lives on the CPU between calls and visits `device` for the training only.
        self._mlp.to(self.device, self.precision)
        try:
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, Y, sample_weight)
            else:
                self._fit_stochastic(X, Y, sample_weight, incremental)
        finally:
            self._mlp.to("cpu")
            self._bind_attributes()
        if not self._mlp.network.params_finite():
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain "
                             "large values and need to be preprocessed.")
        return self

    def _network_dtype(self, X_dtype: Any) -> str:
        """scikit-learn's rule: the parameters take X's dtype (float32 stays float32, anything
        else was validated to float64), unless the `dtype` parameter names one; bf16 products
        keep float32 master weights, so precision='bf16' makes them float32."""
        if self.dtype is None and self.precision == "bf16":
            return "float32"
        return str(np.dtype(self.dtype if self.dtype is not None else X_dtype))

    def _core_loss(self) -> str:
        if not is_classifier(self):
            return _REGRESSION_LOSSES[self.loss]
        binarizer = getattr(self, "_label_binarizer", None)
        if binarizer is not None:
            return "cross_entropy" if binarizer.y_type_ == "multiclass" else "binary_cross_entropy"
        return "cross_entropy" if getattr(self, "out_activation_", None) == "softmax" else "binary_cross_entropy"

    def _initialize(self, sizes: List[int], X_dtype: Any) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self._new_network(sizes, self._network_dtype(X_dtype))
        # scikit-learn's initialisation, drawn in its order: U(-bound, bound) for coefs and
        # intercepts, bound = sqrt(6 / (fan_in + fan_out)) (2 instead of 6 for logistic).
        factor = 2.0 if self.activation == "logistic" else 6.0
        for coef, intercept in zip(self.coefs_, self.intercepts_):
            bound = np.sqrt(factor / (coef.shape[0] + coef.shape[1]))
            coef[...] = self._random_state.uniform(-bound, bound, coef.shape)
            intercept[...] = self._random_state.uniform(-bound, bound, intercept.shape)
        self._best_params = None
        if self.solver in _STOCHASTIC:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _new_network(self, sizes: List[int], dtype: str) -> None:
        loss = self._core_loss()
        out = vocabulary.output_activation(loss)
        self.n_layers_ = len(sizes)
        self.out_activation_ = _SKLEARN_NAMES.get(out, out)
        self._mlp = MLP(sizes, _ACTIVATIONS[self.activation], loss, dtype)
        self._bind_attributes()

    def _bind_attributes(self) -> None:
        """coefs_ (fan_in, fan_out) and intercepts_ as views of the core's parameters."""
        self.coefs_ = [layer.W.T for layer in self._mlp.layers]
        self.intercepts_ = [layer.b for layer in self._mlp.layers]
        self._views = (list(self.coefs_), list(self.intercepts_))

    def _assigned_by_hand(self) -> bool:
        """True when coefs_ / intercepts_ (or an entry of them) are no longer the network's views."""
        views = self.__dict__.get("_views")
        if "_mlp" not in self.__dict__ or views is None:
            return True
        current = (list(self.coefs_), list(self.intercepts_))
        return any(len(a) != len(b) or any(x is not v for x, v in zip(a, b)) for a, b in zip(current, views))

    def _adopt_assigned_weights(self) -> None:
        """Weights assigned to coefs_ / intercepts_ by hand become the network's parameters (a new
        network, in their dtype, when there is none of their shape), as scikit-learn trains the
        arrays it finds there."""
        if not self._assigned_by_hand():
            return
        coefs = [np.asarray(c) for c in self.coefs_]
        intercepts = [np.asarray(b).reshape(-1) for b in self.intercepts_]
        if not coefs or len(coefs) != len(intercepts) or any(c.ndim != 2 for c in coefs):
            raise ValueError("coefs_ / intercepts_: expected one 2-D array (fan_in, fan_out) and one 1-D array "
                             f"(fan_out,) per layer, got {len(coefs)} coefs_ and {len(intercepts)} intercepts_")
        sizes = [int(coefs[0].shape[0])] + [int(c.shape[1]) for c in coefs]
        for i, (c, b) in enumerate(zip(coefs, intercepts)):
            if c.shape != (sizes[i], sizes[i + 1]) or b.shape != (sizes[i + 1],):
                raise ValueError(f"coefs_[{i}] / intercepts_[{i}]: expected shapes ({sizes[i]}, {sizes[i + 1]}) and "
                                 f"({sizes[i + 1]},), got {c.shape} and {b.shape}")
        if "_mlp" not in self.__dict__ or self._mlp.sizes != sizes:
            kind = np.result_type(*coefs, *intercepts)
            self._new_network(sizes, self._network_dtype(kind if kind == np.float32 else np.float64))
            for name, value in (("n_iter_", 0), ("t_", 0), ("_best_params", None), ("_no_improvement_count", 0),
                                ("loss_curve_", []), ("best_loss_", None if self.early_stopping else np.inf),
                                ("validation_scores_", [] if self.early_stopping else None),
                                ("best_validation_score_", -np.inf if self.early_stopping else None)):
                if not hasattr(self, name):
                    setattr(self, name, value)
        for layer, c, b in zip(self._mlp.layers, coefs, intercepts):
            layer.W[...] = c.T
            layer.b[...] = b
        self._bind_attributes()

    @property
    def _loss_scale(self) -> int:
        """scikit-learn's gradients sum over the outputs where deltaprop's losses average."""
        return 1 if self._mlp.loss == "cross_entropy" else self.n_outputs_

    @property
    def _l2_left_out(self) -> float:
        """The share of scikit-learn's L2 term that the core's loss value leaves out. Its squared
        error averages over the outputs while its gradient sums over them: the core, on
        l2 = alpha / n_outputs to take scikit-learn's steps, reports the squared error as
        scikit-learn does but only 1 / n_outputs of the L2 term. Elsewhere the loss times
        _loss_scale is scikit-learn's, L2 term included."""
        scale = self._loss_scale
        return 1.0 - 1.0 / scale if self._mlp.loss == "mse" and scale > 1 and self.alpha > 0 else 0.0

    @property
    def _report_scale(self) -> int:
        """What the core's loss value is multiplied by to be scikit-learn's (see _l2_left_out)."""
        return 1 if self._mlp.loss == "mse" else self._loss_scale

    def _l2_term_left_out(self, mass: float) -> float:
        """The left-out share (_l2_left_out) of scikit-learn's L2 term alpha/2 Σ‖W‖² / mass at the
        weights as they are now (weights only, not the biases)."""
        if mass <= 0:
            return 0.0
        squares = sum(np.sum(np.square(np.asarray(layer.W, dtype=np.float64))) for layer in self._mlp.network.layers)
        return self._l2_left_out * 0.5 * self.alpha * float(squares) / mass

    def _core_targets(self, Y: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        if self._mlp.loss == "cross_entropy":
            return np.ascontiguousarray(np.argmax(Y, axis=1), dtype=np.int64), None
        return None, np.ascontiguousarray(Y, dtype=self._mlp.dtype)

    def _loss_offset(self, Y: np.ndarray, sample_weight: Optional[np.ndarray]) -> float:
        """What scikit-learn's loss_ adds to the core's: the poisson deviance's constant term
        Σ_outputs mean_rows(y log y - y) (the core minimises exp(z) - y z, as torch does)."""
        if self._mlp.loss != "poisson":
            return 0.0
        return float(np.sum(np.average(xlogy(Y, Y) - Y, weights=sample_weight, axis=0)))

    def _weights(self, sample_weight: Optional[np.ndarray]) -> Optional[np.ndarray]:
        return None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=self._mlp.dtype)

    def _fit_lbfgs(self, X: np.ndarray, Y: np.ndarray, sample_weight: Optional[np.ndarray]) -> None:
        labels, values = self._core_targets(Y)
        weights = self._weights(sample_weight)
        scale = self._loss_scale
        mass = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        l2 = self.alpha / (mass * scale) if mass > 0 else 0.0
        net = self._mlp.network

        report, left_out = self._report_scale, self._l2_left_out

        def loss_and_grad(theta: np.ndarray) -> Tuple[float, np.ndarray]:
            net.set_params(theta, allow_nonfinite=True)
            loss, grad = net.loss_and_grad(X, labels, values, l2, weights)
            value = report * loss + (self._l2_term_left_out(mass) if left_out else 0.0)
            return value, scale * grad.astype(np.float64)

        result = scipy.optimize.minimize(
            loss_and_grad, net.get_params().astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        if result.status != 0:
            warnings.warn(f"lbfgs failed to converge after {result.nit} iteration(s) (status={result.status}): "
                          f"{result.message}. Increase the number of iterations (max_iter) or scale the data.",
                          ConvergenceWarning)
        self.n_iter_ = int(result.nit)
        self.loss_ = float(result.fun) + self._loss_offset(Y, sample_weight)
        net.set_params(result.x, allow_nonfinite=True)

    def _fit_stochastic(self, X: np.ndarray, Y: np.ndarray, sample_weight: Optional[np.ndarray],
                        incremental: bool) -> None:
        net = self._mlp.network
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer()
            net.reset_optimizer_state()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_val = Y_val = w_val = None
        if self.early_stopping:
            # scikit-learn stratifies on its boolean indicator column (its messages name 'True')
            stratify = Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 else None
            parts = [X, Y] + ([] if sample_weight is None else [sample_weight])
            split = train_test_split(*parts, random_state=self._random_state, test_size=self.validation_fraction,
                                     stratify=stratify)
            X, X_val, Y, Y_val = split[:4]
            if sample_weight is not None:
                sample_weight, w_val = split[4], split[5]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                                 "of your dataset.")
            if is_classifier(self):
                Y_val = self._label_binarizer.inverse_transform(Y_val)
            X = np.ascontiguousarray(X)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch = int(np.clip(self.batch_size, 1, n))
        labels, values = self._core_targets(Y)
        scale = self._loss_scale
        offset = self._loss_offset(Y, sample_weight)
        rule = self._stopping_rule(X_val, Y_val, w_val)
        report = self._report_scale
        driver = EpochDriver(
            net, TrainingData(X, labels, values, self._weights(sample_weight)), optimizer=self._optimizer,
            schedule=self._optimizer.schedule, batch_size=batch, l2=self.alpha / scale, l2_per_sample=True,
            order=self._row_order(n) if self.shuffle else None, stop_rules=[rule],
            callbacks=[lambda history: self._epoch_done(report * history.train_loss[-1] + offset, n)],
            run_epoch=self._run_epoch(weighted=sample_weight is not None),
            on_divergence=None, samples_seen=self.t_)
        self.n_iter_ = 0   # as scikit-learn: each fit (and partial_fit) counts its own epochs
        driver.run(1 if incremental else self.max_iter)
        self._no_improvement_count = rule.count
        if self.early_stopping:
            self.best_validation_score_, self._best_params = rule.best, rule.best_params
        else:
            self.best_loss_ = rule.best
        if rule.stopped and self.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(f"{what} did not improve more than tol={self.tol} for {self.n_iter_no_change} "
                  "consecutive epochs. Stopping.")
        # as scikit-learn: a fit that ran all max_iter epochs without meeting its stop rule warns
        if not incremental and self.n_iter_ == self.max_iter and not rule.stopped:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)

    def _make_optimizer(self) -> Optimizer:
        """scikit-learn's solver and learning_rate as deltaprop's optimizer and schedule, scaled so
        that the steps are scikit-learn's (its loss sums over the outputs where ours averages)."""
        scale = self._loss_scale
        if self.solver == "adam":
            return Adam(lr=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon / scale)
        schedule: Schedule = Constant()
        if self.learning_rate == "invscaling":
            schedule = _OptimizerInvScaling(power_t=self.power_t)
        elif self.learning_rate == "adaptive":  # lowered by the stopping rule below, down to 1e-6
            schedule = Adaptive(patience=None, min_lr=1e-6 * scale)
        momentum = float(self.momentum)
        sgd = SGD(lr=self.learning_rate_init * scale, momentum=min(momentum, 0.5),
                  nesterov=bool(self.nesterovs_momentum) and momentum > 0, schedule=schedule)
        sgd.momentum = momentum  # scikit-learn allows momentum up to 1 (deltaprop.SGD: below 1)
        return sgd

    def _row_order(self, n: int):
        """As scikit-learn: each epoch reshuffles the previous epoch's order. The draws are
        sklearn.utils.shuffle's (a permutation of arange(n) by random_state.shuffle, then
        applied), taken directly: its argument checks cost more than the epoch at small n."""
        order = np.arange(n, dtype=np.int64)
        random_state = self._random_state

        def next_order(epoch: int) -> np.ndarray:
            nonlocal order
            permutation = np.arange(n)
            random_state.shuffle(permutation)
            order = order[permutation]
            return order
        return next_order

    def _stopping_rule(self, X_val, Y_val, w_val) -> NoImprovement:
        """scikit-learn's tol / n_iter_no_change on the training loss or, with early_stopping, the
        validation score; on a plateau the 'adaptive' schedule is lowered before it stops."""
        on_plateau = self._lower_rate if isinstance(self._optimizer.schedule, Adaptive) else None
        if self.early_stopping:
            def score(history) -> float:
                value = self._score(X_val, Y_val, w_val)
                self.validation_scores_.append(value)
                return value
            return NoImprovement(score, self.tol, self.n_iter_no_change, maximize=True, on_plateau=on_plateau,
                                 keep_best=True, best=self.best_validation_score_, count=self._no_improvement_count,
                                 best_params=self._best_params)
        return NoImprovement(lambda history: self.loss_curve_[-1], self.tol, self.n_iter_no_change,
                             on_plateau=on_plateau, best=self.best_loss_, count=self._no_improvement_count)

    def _lower_rate(self) -> bool:
        """'adaptive' on a plateau: the rate divided by 5, unless it is down to 1e-6 (then stop)."""
        schedule = self._optimizer.schedule
        lowered = schedule.decay()
        if lowered and self.verbose:
            print(f"Setting learning rate to {schedule.lr(self._optimizer.lr, 0, 0) / self._loss_scale:f}")
        return lowered

    def _run_epoch(self, weighted: bool) -> Any:
        """How the driver takes an epoch's steps: inside the core, unless scikit-learn's loss_curve_
        needs the batches one by one. With sample weights it weighs each batch's loss by its rows
        (the core, by its weight sum); where the core's loss leaves out part of the L2 term
        (_l2_left_out), each batch's loss gets that share of alpha/2 Σ‖W‖² / batch mass at the
        weights the batch starts from, as scikit-learn adds it. The steps are the core's either way."""
        left_out = self._l2_left_out
        if not weighted and not left_out:
            return in_core_epoch
        core_step = BatchwiseEpoch().step

        def step(network, batch, config) -> float:
            extra = 0.0
            if left_out:  # at the weights before the step
                mass = float(batch.n) if batch.weights is None else float(np.sum(batch.weights, dtype=np.float64))
                extra = self._l2_term_left_out(mass)
            return core_step(network, batch, config) + extra
        return BatchwiseEpoch(step, by_rows=True)

    def _epoch_done(self, loss: float, n: int) -> None:
        self.n_iter_ += 1
        self.t_ += n
        self.loss_ = loss
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")

    # ------------------------------------------------------------------ prediction
    def _forward(self, X, check_input: bool = True) -> np.ndarray:
        """The network's output (after softmax / sigmoid / identity / exp) in the parameters' dtype,
        (n, n_outputs_), as scikit-learn's."""
        check_is_fitted(self, "coefs_")
        self._adopt_assigned_weights()
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32))
        X = _dense(X)
        return self._mlp.network.output(np.ascontiguousarray(X, dtype=self._mlp.dtype))

    def _score(self, X, y, sample_weight=None) -> float:
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        metric = accuracy_score if is_classifier(self) else r2_score
        return float(metric(y, y_pred, sample_weight=sample_weight))

    def _validate_xy(self, X, y, reset: bool, y_numeric: bool):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=y_numeric,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return _dense(X), y

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state = dict(state)
        if "_mlp" in state and not self._assigned_by_hand():
            state.pop("coefs_", None)       # views of _mlp's memory: rebound on load
            state.pop("intercepts_", None)
        state.pop("_views", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "_mlp" in self.__dict__ and "coefs_" not in self.__dict__:
            self._bind_attributes()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's `MLPClassifier` interface: softmax
    output for multiclass, logistic for binary and multilabel (label-indicator y) targets."""

    def _validate_input(self, X, y, incremental: bool, reset: bool):
        X, y = self._validate_xy(X, y, reset, y_numeric=False)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(np.float64)

    @available_if(_check_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); `classes` is required on the first call."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(np.sort(np.asarray(classes)), np.sort(self.classes_)):
            raise ValueError(f"`classes={list(classes)}` is not the same as on the last call to partial_fit, "
                             f"was: {self.classes_}")
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Class labels (or a label-indicator matrix for multilabel targets)."""
        return self._predict(X)

    def _predict(self, X, check_input: bool = True):
        proba = self._forward(X, check_input)
        if self.n_outputs_ == 1:
            proba = proba.ravel()
        if len(self.classes_) == 1:
            return np.full(proba.shape[0], self.classes_[0])
        return self._label_binarizer.inverse_transform(proba)

    def predict_proba(self, X):
        """Class probabilities, (n, n_classes) (binary: [1 - p, p])."""
        proba = self._forward(X)
        if self.n_outputs_ == 1:
            p = proba.ravel()
            return np.vstack([1 - p, p]).T
        return proba

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's `MLPRegressor` interface: loss
    'squared_error' (identity output) or 'poisson' (output exp(z), y >= 0); y may have several
    columns."""

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dtype=None, device="cpu", precision="fp32"):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         dtype=dtype, device=device, precision=precision)
        self.loss = loss

    def _check_params(self) -> List[int]:
        if not isinstance(self.loss, str) or self.loss not in _REGRESSION_LOSSES:
            raise ValueError(f"The 'loss' parameter of MLPRegressor must be a str among "
                             f"{set(_REGRESSION_LOSSES)}. Got {self.loss!r} instead.")
        return super()._check_params()

    def _validate_input(self, X, y, incremental: bool, reset: bool):
        X, y = self._validate_xy(X, y, reset, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(f"y: MLPRegressor(loss='poisson') expects counts or rates >= 0, got values down to "
                             f"{y.min()}")
        return X, y

    @available_if(_check_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the previous state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted values, (n,) for a single target, (n, n_outputs_) otherwise."""
        return self._predict(X)

    def _predict(self, X, check_input: bool = True):
        out = self._forward(X, check_input)
        return out.ravel() if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _number(value: Any, finite: bool = True) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and (not finite or bool(np.isfinite(value)))


def _dense(X: Any) -> np.ndarray:
    """Sparse input is densified: the core multiplies dense matrices."""
    return X.toarray() if hasattr(X, "toarray") else X
