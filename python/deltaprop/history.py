"""What `MLP.fit` returns: per-epoch metrics of a training run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List


@dataclass
class History:
    """Per-epoch training record.

    train_loss: mean training loss of each epoch (each batch's loss before its update, weighted by
    batch size, with the L2 term). val_loss / val_accuracy: on validation_data after each epoch
    (empty without validation data; val_accuracy stays empty for regression).
    """

    train_loss: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    val_accuracy: List[float] = field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0
    samples_per_sec: float = 0.0

    @property
    def history(self) -> dict:
        """The same record as a dict of lists (Keras-style access)."""
        return {"loss": list(self.train_loss), "val_loss": list(self.val_loss),
                "val_accuracy": list(self.val_accuracy)}
