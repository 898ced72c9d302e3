"""Training settings (:class:`TrainConfig`), kept free of torch so the CLI can read its defaults cheaply."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rrm.errors import UserError


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the spec and the data.

    Defaults are tuned for the ``tiny`` preset on the embedded digits (a few
    minutes on 2 CPU cores). ``batch_size`` is per process.
    """

    epochs: int = 40
    qat_epochs: int = 10
    prune_steps: int = 3
    prune_epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    qat_lr_scale: float = 0.3
    weight_decay: float = 1e-4
    bn_batches: int = 10
    seed: int = 0
    max_batches: int | None = None
    int_eval_images: int | None = None
    workers: int = 0

    def __post_init__(self):
        for name in ("epochs", "qat_epochs", "prune_epochs"):
            if getattr(self, name) < 0:
                raise UserError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.prune_steps < 1:
            raise UserError(f"--prune-steps must be >= 1, got {self.prune_steps}")
        if self.batch_size < 1:
            raise UserError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"--lr must be a positive number, got {self.lr}")
        if self.max_batches is not None and self.max_batches < 1:
            raise UserError(f"--max-batches must be >= 1, got {self.max_batches}")
        if self.bn_batches < 0:
            raise UserError(f"--bn-batches must be >= 0, got {self.bn_batches}")
        if self.int_eval_images is not None and self.int_eval_images < 1:
            raise UserError(f"--int-eval-images must be >= 1, got {self.int_eval_images}")
        if self.workers < 0:
            raise UserError(f"--workers must be >= 0, got {self.workers}")
        if self.seed < 0:
            raise UserError(f"--seed must be >= 0, got {self.seed}")

    def phases(self) -> list[tuple[str, int]]:
        """(name, epochs) of every phase, in order."""
        out = [("float", self.epochs), ("qat", self.qat_epochs)]
        out += [(f"prune{k}", self.prune_epochs) for k in range(1, self.prune_steps + 1)]
        return out
