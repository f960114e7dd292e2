"""Training: `fit` and everything it keeps between epochs and between fits.

- driver.py — `EpochDriver`, the one epoch loop (row order, steps, divergence, validation,
  callbacks, stop rules, state, checkpoints), used by `MLP.fit` and the scikit-learn estimators.
- fit.py — `fit`: `MLP.fit`'s arguments checked and turned into a driver run.
- state.py — `TrainingState`: what decides the next epoch; saved with the model; resume.
- stopping.py — `NoImprovement`, scikit-learn's stopping rule (EarlyStopping is in callbacks.py).
- data.py — sample weights and the validation split.

Training works on a `Network` (network.py) and saves through io.py; it never imports the `MLP`
facade, which calls down into `fit` with its network, its TrainingState and its `save`.
"""
from .driver import BatchwiseEpoch, Checkpoint, EpochDriver, ShuffledOrder, TrainingData, in_core_epoch
from .fit import OPTIMIZERS, fit
from .state import TrainingState
from .stopping import NoImprovement

__all__ = ["fit", "OPTIMIZERS", "EpochDriver", "TrainingData", "Checkpoint", "ShuffledOrder", "in_core_epoch",
           "BatchwiseEpoch", "TrainingState", "NoImprovement"]
