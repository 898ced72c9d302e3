"""Iterative kernel-level pruning (paper §2): drop whole output kernels by their L1 norm.

A pointwise layer's output kernel m is its weight row w[m, :] (over the input
channels still alive). In each step every pruned block's mask is cut down to
that step's target by removing the kept kernels with the smallest sum of |w|
(the criterion of ``torch.nn.utils.prune.ln_structured(..., n=1, dim=0)``);
training then continues before the next step. Targets go linearly from the full
width to ``spec.network.pruned_channels`` over the steps.
"""

from __future__ import annotations

import torch

from rrm.spec import Spec


def step_targets(full: int, kept: int, steps: int, step: int) -> int:
    """Channels a block keeps after pruning step ``step`` (1-based) of ``steps``."""
    if not 1 <= step <= steps:
        raise ValueError(f"step {step} is out of range (1..{steps})")
    return full - round((full - kept) * step / steps)


def kernel_l1(model, name: str) -> torch.Tensor:
    """Sum of |w| of each output kernel of pointwise layer ``name`` over its live inputs."""
    index = model.by_name[name]
    conv = model.convs[index]
    weight = conv.conv.weight.detach().flatten(1).abs()
    previous = model.convs[index - 2] if index >= 2 else None  # the previous block's pointwise
    if previous is not None and previous.kind == "pw":
        weight = weight * previous.mask.view(1, -1)
    return weight.sum(dim=1)


@torch.no_grad()
def prune_step(model, spec: Spec, step: int, steps: int) -> dict[str, int]:
    """Cut every pruned block's mask to its target for ``step``; return channels kept per block."""
    kept = {}
    for conv in model.pointwise_layers():
        block = conv.name.split(".")[0]
        full = conv.conv.out_channels
        target = step_targets(full, spec.network.pruned_channels.get(block, full), steps, step)
        alive = conv.mask > 0
        if int(alive.sum()) > target:
            score = kernel_l1(model, conv.name)
            score = torch.where(alive, score, torch.full_like(score, float("inf")))
            # Among the live kernels, drop the (alive - target) smallest ones.
            drop = torch.argsort(score, stable=True)[: int(alive.sum()) - target]
            conv.mask[drop] = 0.0
        kept[block] = int(conv.mask.sum())
    return kept


def pruning_done(model, spec: Spec) -> bool:
    """True when every block's mask keeps exactly the spec's channel count."""
    for conv in model.pointwise_layers():
        block = conv.name.split(".")[0]
        want = spec.network.pruned_channels.get(block, conv.conv.out_channels)
        if int(conv.mask.sum()) != want:
            return False
    return True
