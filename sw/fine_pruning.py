"""Iterative fine-grained (element-wise) magnitude pruning, beside kernel pruning.

Each pruned layer keeps a target number of weights (:func:`plan`, from
``TrainConfig.fine_keep``, ``fine_keep_layers`` and the pruning order, through
:func:`rrm.prune_plan.fine_targets`), counted in the layer's final shape (after
kernel pruning). At the start of pruning step k (after that step's kernel pruning)
every layer's element mask becomes the largest-|w| weights of its live region (the
weights in channels kernel pruning has kept), as many as the layer keeps at step k
(:func:`rrm.prune_plan.count_at` on the order's schedule, scaled to the live region);
the pruned weights are zeroed and stay zero
(:meth:`sw.model.MobileNet.apply_weight_masks_` after every optimizer step). Pruned
weights are exactly zero and kept ones are not, so a step only removes weights and
after the last step every layer keeps exactly its target: with one exception. When a
later kernel-pruning step removes channels, the weights a layer kept there go with
them, and the layer may hold fewer than its count in what survives; the mask is then
filled up with pruned weights, which restart from zero and learn again in the
retraining that follows.

By default the pointwise and FC layers are pruned
(:data:`rrm.weight_layers.MOBILENET_FINE_KINDS`); ``fine_keep_layers`` may name
conv1 or a depthwise layer too.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import torch

from rrm.errors import UserError
from rrm.prune_plan import check_order, count_at, fine_targets, progress, stages
from rrm.spec import Spec
from rrm.weight_layers import prunable_sizes, spec_weight_layers


@dataclass(frozen=True)
class FinePlan:
    """What fine-grained pruning does: per layer (input to output) its final size and target, and the order."""

    sizes: dict[str, int]     #: weights in the layer's final (kernel-pruned) shape
    targets: dict[str, int]   #: weights it keeps after the last step
    order: str

    def stage(self, steps: int) -> dict[str, int]:
        """The step at which each layer reaches its target."""
        return stages(self.sizes, self.order, steps)


def plan(spec: Spec, keep: float | None, overrides: dict[str, float] | None, order: str) -> FinePlan:
    """The fine-grained pruning of ``spec``'s layers (empty when ``keep`` is None and nothing is overridden)."""
    check_order(order)
    overrides = dict(overrides or {})
    if keep is None and not overrides:
        return FinePlan({}, {}, order)
    layers = spec_weight_layers(spec)
    names = {layer.name: layer.weights for layer in layers}
    sizes = prunable_sizes(layers)
    for name in overrides:
        if name not in names:
            raise UserError(f"--fine-keep-layer {name}: no such layer (layers: {', '.join(names)})")
        sizes[name] = names[name]
    sizes = {name: sizes[name] for name in names if name in sizes}   # input to output
    try:
        targets = fine_targets(sizes, keep, order, overrides)
    except ValueError as exc:
        raise UserError(f"fine-grained pruning: {exc}") from None
    return FinePlan({name: sizes[name] for name in targets}, targets, order)


def live_region(model, name: str) -> torch.Tensor:
    """Bool tensor shaped like layer ``name``'s weight: True where kernel pruning keeps the weight."""
    weight, _ = model.weight_and_mask(name)
    live = torch.ones_like(weight, dtype=torch.bool)
    if name == "fc":
        return live & (model.pointwise_layers()[-1].mask > 0).view(1, -1)
    index = model.by_name[name]
    conv = model.convs[index]
    if conv.kind == "pw":
        live &= (conv.mask > 0).view(-1, 1, 1, 1)
        if index >= 2 and model.convs[index - 2].kind == "pw":
            live &= (model.convs[index - 2].mask > 0).view(1, -1, 1, 1)
    elif conv.kind == "dw" and index > 1:
        live &= (model.convs[index - 1].mask > 0).view(-1, 1, 1, 1)
    return live


def kept_weights(model, fine: FinePlan) -> dict[str, int]:
    """Weights each layer of the plan keeps now, in its live region."""
    out = {}
    for name in fine.targets:
        _, mask = model.weight_and_mask(name)
        out[name] = int(((mask > 0) & live_region(model, name)).sum())
    return out


@torch.no_grad()
def prune_step(model, fine: FinePlan, step: int, steps: int) -> dict[str, int]:
    """Cut every layer of the plan to what it keeps at ``step``; return the weights kept per layer."""
    if not fine.targets:
        return {}
    stage = fine.stage(steps)
    for name, final in fine.targets.items():
        weight, mask = model.weight_and_mask(name)
        live = live_region(model, name)
        region, size = int(live.sum()), fine.sizes[name]
        wanted = count_at(size, final, progress(fine.order, stage[name], step, steps))
        count = min(region, round(Fraction(wanted * region, size)))
        # live and kept: |w| (> 0); live and pruned: 0 (chosen only to fill up); outside: never
        score = torch.where(mask > 0, weight.abs(), torch.zeros_like(weight))
        score = torch.where(live, score, torch.full_like(score, -1.0)).flatten()
        chosen = torch.argsort(score, descending=True, stable=True)[:count]
        new = torch.zeros(score.numel(), dtype=mask.dtype, device=mask.device)
        new[chosen] = 1.0
        mask.copy_(new.view_as(mask))
    model.apply_weight_masks_()
    return kept_weights(model, fine)


def fine_done(model, fine: FinePlan) -> bool:
    """True when every layer of the plan keeps exactly its target."""
    return kept_weights(model, fine) == dict(fine.targets)


def sparsity(model, fine: FinePlan) -> float:
    """Fraction of the plan's live weights (not removed by kernel pruning) that are pruned now."""
    total = sum(int(live_region(model, name).sum()) for name in fine.targets)
    return 1.0 - sum(kept_weights(model, fine).values()) / total if total else 0.0
