"""Training settings: :class:`TrainConfig` and the named :class:`Recipe` it starts from.

Kept free of torch so the CLI can read its defaults cheaply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rrm.errors import UserError
from rrm.prune_plan import ORDERS


@dataclass(frozen=True)
class Recipe:
    """How a run optimizes, chosen by name (``--recipe``) and written into the report.

    ``defaults`` are the :class:`TrainConfig` values the recipe starts from
    (command-line options still override them); ``digits`` has none, so it is
    :class:`TrainConfig`'s own defaults.
    """

    name: str
    optimizer: str = "adamw"           #: "adamw" or "sgd"
    momentum: float = 0.0              #: SGD momentum
    nesterov: bool = False
    warmup_epochs: float = 0.0         #: linear warm-up at the start of the float phase ...
    qat_warmup_epochs: float = 0.0     #: ... and of the QAT and of every pruning phase
    lr_floor: float = 0.01             #: the cosine ends at lr * lr_floor
    label_smoothing: float = 0.0
    decay_norm_and_bias: bool = True   #: False: weight decay on conv and FC weights only, not BN or biases
    reference_batch: int | None = None  #: lr is for this global batch; scaled by batch_size * processes / it
    amp: bool = False                  #: autocast on CUDA (bf16, or fp16 with loss scaling)
    defaults: tuple = ()               #: (TrainConfig field, value) pairs

    def describe(self) -> str:
        """One line for the report."""
        parts = [self.optimizer.upper() if self.optimizer == "sgd" else "AdamW"]
        if self.optimizer == "sgd":
            parts[0] += f" (momentum {self.momentum}{', Nesterov' if self.nesterov else ''})"
        warm = (f", linear warm-up {self.warmup_epochs:g} epoch(s) (float), {self.qat_warmup_epochs:g} (QAT/prune)"
                if self.warmup_epochs or self.qat_warmup_epochs else "")
        parts.append(f"cosine to {self.lr_floor:g} x lr per phase{warm}")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        parts.append("weight decay on all parameters" if self.decay_norm_and_bias
                     else "weight decay on conv/FC weights only (not BN, not biases)")
        if self.reference_batch:
            parts.append(f"lr per {self.reference_batch} images of global batch (batch x processes)")
        if self.amp:
            parts.append("mixed precision on CUDA")
        return "; ".join(parts)


#: ``--data-backend``: ImageFolder transforms from torchvision if it imports, else PIL (sw/data.py).
DATA_BACKENDS = ("auto", "torchvision", "pil")

#: The named recipes. ``imagenet``: the usual MobileNet-v1 ImageNet recipe (SGD
#: with Nesterov momentum, lr 0.1 per 256 images scaled linearly with the global
#: batch, 5 warm-up epochs then cosine, label smoothing 0.1, weight decay 4e-5
#: without BN and biases, mixed precision); QAT and pruning fine-tune at lr/10.
RECIPES = {
    "digits": Recipe("digits"),
    "imagenet": Recipe("imagenet", optimizer="sgd", momentum=0.9, nesterov=True, warmup_epochs=5.0,
                       qat_warmup_epochs=0.5, lr_floor=0.0, label_smoothing=0.1, decay_norm_and_bias=False,
                       reference_batch=256, amp=True,
                       defaults=(("epochs", 150), ("qat_epochs", 10), ("prune_steps", 3), ("prune_epochs", 5),
                                 ("batch_size", 256), ("lr", 0.1), ("qat_lr_scale", 0.1), ("weight_decay", 4e-5),
                                 ("bn_batches", 50), ("workers", 8), ("finetune_epochs", 0), ("threads", None))),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the spec and the data.

    Defaults are tuned for the ``tiny`` preset on the embedded digits (a few
    minutes on 2 CPU cores). ``batch_size`` is per process.
    """

    epochs: int = 60
    qat_epochs: int = 15
    prune_steps: int = 3
    prune_epochs: int = 10
    finetune_epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    qat_lr_scale: float = 0.3
    weight_decay: float = 1e-4
    bn_batches: int = 10
    seed: int = 0
    max_batches: int | None = None
    int_eval_images: int | None = None
    workers: int = 0
    distill: float = 0.0
    distill_temperature: float = 2.0
    threads: int | None = 1
    recipe: str = "digits"
    init: str | None = None
    init_imagenet_norm: bool = False
    data_backend: str = "auto"
    prune_order: str = "all"              #: rrm.prune_plan.ORDERS: when each layer is pruned
    fine_keep: float | None = None        #: fine-grained pruning keeps this fraction of the pw/FC weights
    fine_keep_layers: dict = field(default_factory=dict)  #: per-layer keep fractions (override fine_keep)

    def __post_init__(self):
        if self.prune_order not in ORDERS:
            raise UserError(f"--prune-order must be one of {', '.join(ORDERS)}, got {self.prune_order!r}")
        if self.fine_keep is not None and not (isinstance(self.fine_keep, (int, float))
                                               and 0.0 < self.fine_keep <= 1.0):
            raise UserError(f"--fine-keep must be a fraction in (0, 1], got {self.fine_keep!r}")
        for name, keep in dict(self.fine_keep_layers).items():
            if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < keep <= 1.0:
                raise UserError(f"--fine-keep-layer {name}={keep!r}: the fraction must be in (0, 1]")
        if self.recipe not in RECIPES:
            raise UserError(f"--recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}")
        if self.data_backend not in DATA_BACKENDS:
            raise UserError(f"--data-backend must be one of {', '.join(DATA_BACKENDS)}, got {self.data_backend!r}")
        for name in ("epochs", "qat_epochs", "prune_epochs", "finetune_epochs"):
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
        if not 0.0 <= self.distill <= 1.0:
            raise UserError(f"--distill must be in [0, 1], got {self.distill}")
        if not (self.distill_temperature > 0 and math.isfinite(self.distill_temperature)):
            raise UserError(f"--distill-temperature must be a positive number, got {self.distill_temperature}")
        if self.threads is not None and self.threads < 1:
            raise UserError(f"--threads must be >= 1, got {self.threads}")
        if self.seed < 0:
            raise UserError(f"--seed must be >= 0, got {self.seed}")

    @classmethod
    def for_recipe(cls, recipe: str = "digits", **overrides) -> "TrainConfig":
        """The named recipe's defaults, then every override that is not None."""
        if recipe not in RECIPES:
            raise UserError(f"--recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
        values = dict(RECIPES[recipe].defaults)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(recipe=recipe, **values)

    @property
    def recipe_spec(self) -> Recipe:
        return RECIPES[self.recipe]

    def lr_for(self, processes: int) -> float:
        """The float phase's peak learning rate for ``processes`` processes (linear scaling rule)."""
        reference = self.recipe_spec.reference_batch
        return self.lr * (self.batch_size * processes / reference if reference else 1.0)

    def phases(self) -> list[tuple[str, int]]:
        """(name, epochs) of every phase, in order."""
        out = [("float", self.epochs), ("qat", self.qat_epochs)]
        out += [(f"prune{k}", self.prune_epochs) for k in range(1, self.prune_steps + 1)]
        if self.finetune_epochs:
            out.append(("finetune", self.finetune_epochs))
        return out
