"""Early stopping on a validation score, shared by the recall and the ranking trainers."""
from __future__ import annotations

import copy

from torch import nn


class BestEpoch:
    """Keeps the weights of the epoch with the best (highest) validation score; `update` says when `patience`
    epochs in a row have not beaten it, and `restore` puts the best weights back."""

    def __init__(self, patience: int) -> None:
        self.patience, self.best, self.state, self.bad = int(patience), -1.0, None, 0

    def update(self, model: nn.Module, score: float) -> bool:
        """Record this epoch's score; True when training should stop."""
        if score > self.best:
            self.best, self.state, self.bad = score, copy.deepcopy(model.state_dict()), 0
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self, model: nn.Module) -> None:
        """The best epoch's weights (if any epoch ran), in eval mode."""
        if self.state is not None:
            model.load_state_dict(self.state)
        model.eval()
