"""`fit`: the arguments of `MLP.fit` checked and turned into one run of the epoch driver.

Epochs of shuffled minibatches run inside the core (one call per epoch, the GIL released,
Ctrl-C honoured at batch boundaries), validation after each epoch, a progress bar when verbose
(see progress.py). The model's `TrainingState` carries warm starts and resumes; `save` (the
model's own) writes checkpoints.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from .._validation import choice, finite_float, positive_int
from ..callbacks import EarlyStopping
from ..device import is_device_array
from ..history import History
from ..network import Network
from ..optimizers import make_optimizer, make_schedule
from ..progress import EpochProgress
from .data import sample_weights, split_validation
from .driver import Checkpoint, EpochDriver, ShuffledOrder, TrainingData, in_core_epoch
from .state import TrainingState

__all__ = ["fit", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")  # or a deltaprop.SGD/Adam/AdamW object

Callback = Callable[[History], Any]


def fit(net: Network, X: Any, y: Any, *, state: TrainingState, save: Callable[[Any], None],
        epochs: int = 10, batch_size: int = 32, optimizer: str = "sgd",
        lr: float = 0.01, l2: float = 0.0, validation_data: Optional[Tuple[Any, Any]] = None,
        shuffle: bool = True, seed: Optional[int] = None, verbose: bool = False,
        validation_split: float = 0.0, lr_schedule: Any = None, early_stopping: Any = None,
        callbacks: Any = None, sample_weight: Any = None, class_weight: Any = None,
        warm_start: bool = False, checkpoint: Any = None, checkpoint_every: int = 1,
        resume: Any = None, on_divergence: str = "raise", comm: Any = None,
        deterministic: bool = True, precision: Any = None) -> History:
    """Train `net` and return its History. state: the model's TrainingState (continued by
    warm_start, replaced by resume, updated after every epoch); save(path): writes the model
    with that state (checkpoints).

    X: (n, sizes[0]); y: targets as for the model's loss. Each epoch visits every row once, in
    a fresh random order when shuffle (seeded by `seed`, default the model's seed) or in row
    order otherwise; the last batch of an epoch may be smaller. l2 adds l2/2 · Σ‖W‖² to the loss.

    optimizer: 'sgd' (plain SGD, fused into the backward pass), 'momentum', 'nesterov', 'adam',
    'adamw' (all at `lr`) or a deltaprop.SGD / Adam / AdamW object (its own lr). lr_schedule:
    'constant', 'invscaling', 'adaptive', 'step', 'cosine' or a deltaprop.optimizers.Schedule.
    validation_split: a seeded random fraction of the rows held out as validation data.
    early_stopping: True or a deltaprop.EarlyStopping(patience, min_delta, restore_best_weights).
    callbacks: callables taking the History after each epoch; True or StopIteration stops.
    sample_weight (n,) / class_weight ({class: weight} or 'balanced'): weighted mean loss.
    warm_start: keep the optimizer state, RNG and epoch count of the previous fit (the weights
    are always kept). checkpoint: save the model with its optimizer and training state there
    every `checkpoint_every` epochs (and at the end); resume: continue the run saved at that path
    until `epochs` epochs in all, exactly as if it had not stopped. KeyboardInterrupt (Ctrl-C)
    stops at a batch boundary, leaves the model usable and propagates; `net.history_` then
    holds the History so far (`state.history`). When the loss or the weights become NaN or inf, the weights of the
    last finite epoch are restored and training stops: on_divergence='raise' (default) raises
    FloatingPointError, 'warn' issues a RuntimeWarning and returns the History so far.

    comm: an mpi4py communicator for synchronous data-parallel training (deltaprop.distributed):
    each rank passes its own rows (and validation rows), batch_size is the global batch, and
    every rank ends with the same weights; deterministic=True (default) gives bitwise the same
    weights for any number of ranks, False sums each rank's gradient in one piece (faster,
    equal to float rounding). An exception on one rank then aborts the whole job.

    precision: None (keep the model's) or the precision the model computes in from this fit on:
    "fp32", "bf16" (float32 models on the CPU: bf16 products, float32 master weights, gradients,
    optimizer state and updates) or "tf32" (on a GPU). The validation passes use it too.
    """
    if precision is not None:
        net.set_precision(precision)  # checked first: a bad value changes nothing
    options = dict(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, l2=l2,
                   validation_data=validation_data, shuffle=shuffle, seed=seed, verbose=verbose,
                   validation_split=validation_split, lr_schedule=lr_schedule, early_stopping=early_stopping,
                   callbacks=callbacks, sample_weight=sample_weight, class_weight=class_weight,
                   warm_start=warm_start, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                   on_divergence=on_divergence)
    if comm is None:
        if deterministic is not True:
            raise ValueError("deterministic: only for data-parallel training (give comm= as well)")
        return _fit(net, X, y, state=state, save=save, parallel=None, **options)
    from ..distributed import DataParallel, abort_on_error  # mpi4py is imported only here
    parallel = DataParallel(comm, deterministic)
    with abort_on_error(parallel.comm):
        return _fit(net, X, y, state=state, save=save, parallel=parallel, **options)


def _fit(net: Network, X: Any, y: Any, *, state: TrainingState, save: Callable[[Any], None], parallel: Any,
         epochs: int, batch_size: int, optimizer: Any, lr: float, l2: float, validation_data: Any, shuffle: bool,
         seed: Any, verbose: bool, validation_split: float, lr_schedule: Any, early_stopping: Any, callbacks: Any,
         sample_weight: Any, class_weight: Any, warm_start: bool, checkpoint: Any, checkpoint_every: int, resume: Any,
         on_divergence: str) -> History:
    """fit's body; parallel: a deltaprop.distributed.DataParallel, or None for one process."""
    check_data = net.check_data if parallel is None else (lambda *a, **k: parallel.check_data(net, *a, **k))
    X, labels, values = check_data(X, y)
    if is_device_array(X) and (validation_split or sample_weight is not None or class_weight is not None):
        raise TypeError("X: with GPU arrays, fit takes no validation_split, sample_weight or class_weight "
                        "(give numpy arrays, or validation_data)")
    epochs = positive_int(epochs, "epochs", minimum=0)
    batch_size = positive_int(batch_size, "batch_size")
    lr = finite_float(lr, "lr", positive=True)
    l2 = finite_float(l2, "l2", nonnegative=True)
    on_divergence = choice(on_divergence, "on_divergence", ("raise", "warn"))
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, y_val)")
        val = check_data(*validation_data, names=("validation_data[0]", "validation_data[1]"))
    seed = net.seed if seed is None else positive_int(seed, "seed", minimum=0)
    if parallel is not None:
        parallel.agree(val is not None, "validation_data")
        if validation_split:
            raise ValueError("validation_split: not with comm= (each rank would hold out different rows); "
                             "give each rank its validation rows as validation_data")
        if isinstance(class_weight, str) and class_weight == "balanced":
            class_weight = parallel.balanced_class_weight(labels, net.sizes[-1])
    weights = sample_weights(net, labels, X.shape[0], sample_weight, class_weight) if X.shape[0] else None
    if parallel is not None:
        weights = parallel.common_weights(weights, X.shape[0], net.dtype)
    if validation_split:
        if val is not None:
            raise ValueError("validation_split: give validation_data or validation_split, not both")
        train_rows, val_rows = split_validation(X.shape[0], validation_split, seed)
        val = (X[val_rows], None if labels is None else labels[val_rows], None if values is None else values[val_rows])
        X = np.ascontiguousarray(X[train_rows])
        labels = None if labels is None else np.ascontiguousarray(labels[train_rows])
        values = None if values is None else np.ascontiguousarray(values[train_rows])
        weights = None if weights is None else np.ascontiguousarray(weights[train_rows])
    optimizer = make_optimizer(optimizer, lr)
    early = _early_stopping(early_stopping)
    if not isinstance(warm_start, bool):
        raise TypeError(f"warm_start: expected True or False, got {warm_start!r}")
    checkpoint_every = positive_int(checkpoint_every, "checkpoint_every")
    data: Any = TrainingData(X, labels, values, weights)
    validation = None if val is None else (lambda: net.evaluate(*val))
    run_epoch: Any = in_core_epoch
    save_checkpoint = lambda: save(checkpoint)  # noqa: E731
    callback_list = _callbacks(callbacks)
    if parallel is not None:
        run_epoch, data = parallel.run_epoch(data)
        validation = None if val is None else parallel.validation(net, val)
        save_checkpoint = parallel.save(save, checkpoint)
        callback_list = parallel.callbacks(callback_list)
        verbose = verbose and parallel.rank == 0
    driver = EpochDriver(
        net, data, optimizer=optimizer, batch_size=batch_size,
        schedule=optimizer.schedule if lr_schedule is None else make_schedule(lr_schedule), l2=l2,
        order=ShuffledOrder(data.n, seed) if shuffle else None, run_epoch=run_epoch, validation=validation,
        stop_rules=[] if early is None else [early], callbacks=callback_list,
        checkpoint=None if checkpoint is None else Checkpoint(save_checkpoint, checkpoint_every),
        on_divergence=on_divergence, state=state, progress=EpochProgress(epochs, enabled=verbose))
    if resume is not None:
        state.resume(net, resume)
        state.apply(driver, with_history=True)
        end_epoch = max(epochs, driver.epoch)  # `epochs` counts the whole run
    else:
        if warm_start and state:
            state.apply(driver, with_history=False)
        else:
            net.reset_optimizer_state()
            if early is not None:
                early.reset()
        end_epoch = driver.epoch + epochs
    if parallel is not None:
        parallel.broadcast(net)  # rank 0's weights (a fresh model's initial ones) everywhere
    state.history = driver.history
    return driver.run(end_epoch)


def _early_stopping(value: Any) -> Optional[EarlyStopping]:
    if value is None or value is False:
        return None
    if value is True:
        return EarlyStopping()
    if isinstance(value, EarlyStopping):
        return value
    raise TypeError(f"early_stopping: expected True, False or a deltaprop.EarlyStopping, got {value!r}")


def _callbacks(value: Optional[Sequence[Callback]]) -> List[Callback]:
    if value is None:
        return []
    items = [value] if callable(value) else list(value)
    for i, cb in enumerate(items):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}]: expected a callable taking the History, got {cb!r}")
    return items
