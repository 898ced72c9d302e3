"""MobileNet-v1 in PyTorch, built from the spec, with QAT and kernel-pruning masks.

The network follows ``spec.layers()``: conv1 (3x3, stride 2), then for every
depthwise-separable block a 3x3 depthwise and a 1x1 pointwise convolution, each
followed by BatchNorm and ReLU; average pool; a fully connected classifier. No
convolution has a bias (BN follows it). Padding is K//2 on every side.

``quantized`` switches the forward pass between float (ReLU) and QAT (weights,
input and activations fake-quantized, :mod:`sw.quant`).

Pruning is kept as a per-block channel mask (buffer ``mask``, 1 = kept) on each
pointwise layer: masked channels output 0 after the pointwise layer *and* after
the next block's depthwise layer, so removing them physically (:func:`shrink`)
does not change the network's function.

Fine-grained (element-wise) pruning is kept as a mask of each weight tensor
(buffers ``convs.<i>.weight_mask`` and ``fc_weight_mask``, 1 = kept):
:meth:`MobileNet.apply_weight_masks_` zeroes the pruned weights, after every
optimizer step, so the forward pass and the export only ever see zeros there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rrm.spec import Spec

from .quant import image_to_input, quantize_activation, quantize_input, quantize_weight


class ConvBN(nn.Module):
    """Convolution (conv/dw/pw) + BatchNorm + ReLU (float) or activation quantization (QAT)."""

    def __init__(self, layer, quant):
        super().__init__()
        self.name = layer.name
        self.kind = layer.kind
        self.quant = quant
        groups = layer.in_channels if layer.kind == "dw" else 1
        self.conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, layer.stride,
                              layer.kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(layer.out_channels)
        self.register_buffer("mask", torch.ones(layer.out_channels))
        self.register_buffer("weight_mask", torch.ones_like(self.conv.weight))

    def forward(self, x: torch.Tensor, quantized: bool) -> torch.Tensor:
        weight = self.conv.weight
        if quantized:
            weight = quantize_weight(weight, self.quant)
        x = F.conv2d(x, weight, None, self.conv.stride, self.conv.padding, 1, self.conv.groups)
        x = self.bn(x)
        x = quantize_activation(x, self.quant) if quantized else F.relu(x)
        return x * self.mask.view(1, -1, 1, 1)


class MobileNet(nn.Module):
    """MobileNet-v1 of ``spec`` (its pruned channel counts; see :func:`rrm.spec.unpruned`).

    Input: uint8 images (N, H, W, C). Output: float logits (N, classes).
    """

    def __init__(self, spec: Spec):
        super().__init__()
        self.spec = spec
        self.quantized = False
        layers = spec.layers()
        self.convs = nn.ModuleList(ConvBN(l, spec.quant) for l in layers if l.kind in ("conv", "dw", "pw"))
        fc = next(l for l in layers if l.kind == "fc")
        self.fc = nn.Linear(fc.in_channels, fc.out_channels)
        self.register_buffer("fc_weight_mask", torch.ones_like(self.fc.weight))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)
        self.by_name = {c.name: i for i, c in enumerate(self.convs)}

    def layer(self, name: str) -> ConvBN:
        return self.convs[self.by_name[name]]

    def pointwise_layers(self) -> list[ConvBN]:
        return [c for c in self.convs if c.kind == "pw"]

    def weighted_modules(self) -> list[nn.Module]:
        """Modules whose ``weight`` is clipped and quantized: every conv and the FC."""
        return [c.conv for c in self.convs] + [self.fc]

    def weight_and_mask(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The weight parameter of layer ``name`` (a conv's or ``fc``) and its element mask."""
        if name == "fc":
            return self.fc.weight, self.fc_weight_mask
        conv = self.layer(name)
        return conv.conv.weight, conv.weight_mask

    @torch.no_grad()
    def apply_weight_masks_(self) -> None:
        """Zero every weight that fine-grained pruning removed."""
        for conv in self.convs:
            conv.conv.weight.mul_(conv.weight_mask)
        self.fc.weight.mul_(self.fc_weight_mask)

    def fc_weight(self) -> torch.Tensor:
        return quantize_weight(self.fc.weight, self.spec.quant) if self.quantized else self.fc.weight

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Activations after the last block, (N, C, H, W)."""
        x = image_to_input(images, self.spec.quant)
        if self.quantized:
            x = quantize_input(x, self.spec.quant)
        for index, conv in enumerate(self.convs):
            x = conv(x, self.quantized)
            if conv.kind == "dw" and index > 1:
                # The block before masked its pointwise outputs; this depthwise's
                # channel c reads only that channel, so it goes with it.
                x = x * self.convs[index - 1].mask.view(1, -1, 1, 1)
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled = self.features(images).mean(dim=(2, 3))
        return F.linear(pooled, self.fc_weight(), self.fc.bias)

    def kept_channels(self) -> dict[str, int]:
        """Channels each block keeps under its current mask, by block name."""
        return {c.name.split(".")[0]: int(c.mask.sum().item()) for c in self.pointwise_layers()}


@torch.no_grad()
def shrink(model: MobileNet, spec: Spec) -> MobileNet:
    """A physically smaller copy of the masked ``model`` with ``spec``'s channel counts.

    Every block keeps the channels its mask keeps (in their original order); the
    next depthwise layer and the next pointwise layer's inputs (or the FC's) shrink
    with it. Raises ValueError if a mask does not match the spec's count.
    """
    small = MobileNet(spec).to(next(model.parameters()).device)
    small.quantized = model.quantized
    kept_in = None  # indices of the channels the previous block kept
    for big, little in zip(model.convs, small.convs):
        out_idx = torch.arange(big.conv.out_channels, device=big.mask.device)
        if big.kind == "pw":
            out_idx = torch.nonzero(big.mask > 0).flatten()
            if len(out_idx) != little.conv.out_channels:
                raise ValueError(f"{big.name}: mask keeps {len(out_idx)} channels, "
                                 f"spec wants {little.conv.out_channels}")
        elif big.kind == "dw" and kept_in is not None:
            out_idx = kept_in
        weight = big.conv.weight[out_idx]
        if big.kind == "pw" and kept_in is not None:
            weight = weight[:, kept_in]
        little.conv.weight.copy_(weight)
        mask = big.weight_mask[out_idx]
        little.weight_mask.copy_(mask[:, kept_in] if big.kind == "pw" and kept_in is not None else mask)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(little.bn, name).copy_(getattr(big.bn, name)[out_idx])
        little.bn.num_batches_tracked.copy_(big.bn.num_batches_tracked)
        little.bn.eps = big.bn.eps
        little.mask.fill_(1.0)
        if big.kind in ("pw", "dw"):
            kept_in = out_idx
        else:
            kept_in = None
    small.fc.weight.copy_(model.fc.weight[:, kept_in] if kept_in is not None else model.fc.weight)
    small.fc_weight_mask.copy_(model.fc_weight_mask[:, kept_in] if kept_in is not None else model.fc_weight_mask)
    small.fc.bias.copy_(model.fc.bias)
    return small
