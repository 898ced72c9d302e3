"""Iterative kernel-level pruning (paper §2): drop whole output kernels by their L1 norm.

A pointwise layer's output kernel m is its weight row w[m, :] (over the input
channels still alive). In each step every pruned block's mask is cut down to
that step's target by removing the kept kernels with the smallest sum of |w|
(the criterion of ``torch.nn.utils.prune.ln_structured(..., n=1, dim=0)``);
training then continues before the next step. How the targets go from the full
width to ``spec.network.pruned_channels`` over the steps is the pruning order
(:mod:`rrm.prune_plan`): ``all`` (default) moves every block linearly, step by
step; ``forward``, ``reversed`` and ``peak`` cut the blocks in groups, one group
per step, in their order (``peak``: the blocks whose pointwise layers hold the
most weights first).
"""

from __future__ import annotations

import torch

from rrm.prune_plan import count_at, progress, stages
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


def kernel_stages(model, spec: Spec, order: str, steps: int) -> dict[str, int]:
    """The step at which each pruned block reaches its channel target under ``order``."""
    sizes = {conv.name.split(".")[0]: conv.conv.weight[0].numel() * conv.conv.out_channels
             for conv in model.pointwise_layers() if conv.name.split(".")[0] in spec.network.pruned_channels}
    return stages(sizes, order, steps) if sizes else {}


@torch.no_grad()
def prune_step(model, spec: Spec, step: int, steps: int, order: str = "all") -> dict[str, int]:
    """Cut every pruned block's mask to its target for ``step`` under ``order``; return channels kept per block."""
    kept = {}
    stage = kernel_stages(model, spec, order, steps)
    for conv in model.pointwise_layers():
        block = conv.name.split(".")[0]
        full = conv.conv.out_channels
        final = spec.network.pruned_channels.get(block, full)
        target = count_at(full, final, progress(order, stage[block], step, steps)) if block in stage else full
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
