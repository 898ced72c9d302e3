"""Run an export artifact with torch integer arithmetic (independent of ``golden/``).

The semantics are docs/design.md §6: x = p - 2**(Bi-1); conv/dw/pw as exact integer sums
with K//2 zero padding; ``y = clamp((acc*m + b + r) >> s, 0, act_max)`` with an
arithmetic shift and r = 2**(s-1) (0 for s = 0); pool = integer sum over H x W;
``logit = pool @ w.T + b``. Convolutions run in float64 (exact: every sum is far
below 2**53, checked per layer against the spec's worst case) and are rounded
back to int64; everything after them is int64.

The golden model must equal this on every layer; the training flow uses it to
measure the accuracy of the exported integer network.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rrm.artifact import Artifact
from rrm.errors import UserError

#: float64 represents every integer below this exactly.
_EXACT = 2 ** 53


def _check_images(images: np.ndarray, artifact: Artifact) -> None:
    network = artifact.spec.network
    want = (network.input_size, network.input_size, network.input_channels)
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise UserError(f"images must be uint8, got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[1:] != want:
        raise UserError(f"images must have shape (N, {want[0]}, {want[1]}, {want[2]}), got {images.shape}")


def _worst_accumulator(artifact: Artifact, layer, in_max: int) -> int:
    """Largest |acc| this layer's weights can produce from inputs bounded by ``in_max``."""
    weight = np.abs(artifact.params[f"{layer.name}.weight"])
    per_output = weight.reshape(weight.shape[0], -1).sum(axis=1)
    return int(per_output.max()) * in_max


def requantize(acc: torch.Tensor, mult: torch.Tensor, bias: torch.Tensor, shift: int, act_max: int) -> torch.Tensor:
    """BN + ReLU + requantize on int64 (N, C, H, W) accumulators, per-channel mult/bias."""
    rounding = (1 << (shift - 1)) if shift > 0 else 0
    y = (acc * mult.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1) + rounding) >> shift
    return y.clamp(0, act_max)


def run(artifact: Artifact, images_uint8: np.ndarray, trace: bool = False):
    """Integer logits (N, classes) as int64 numpy; with ``trace`` also every layer's output.

    The trace maps layer names to int64 numpy arrays: conv/dw/pw outputs after
    requantization (N, H, W, C), ``pool`` (N, C) and ``fc`` (N, classes).
    """
    _check_images(images_uint8, artifact)
    spec = artifact.spec
    quant = spec.quant
    half = 1 << (quant.input_bits - 1)
    x = torch.from_numpy(np.ascontiguousarray(images_uint8)).to(torch.int64) - half
    x = x.permute(0, 3, 1, 2).contiguous()  # NCHW
    in_max = half
    layers_out: dict[str, np.ndarray] = {}
    logits = None
    with torch.no_grad():
        for layer in spec.layers():
            if layer.kind in ("conv", "dw", "pw"):
                p = artifact.layer(layer.name)
                if _worst_accumulator(artifact, layer, in_max) >= _EXACT:
                    raise UserError(f"layer {layer.name}: accumulator may exceed 2**53; float64 is not exact")
                weight = torch.from_numpy(p["weight"]).to(torch.float64)
                if layer.kind == "dw":
                    weight = weight.unsqueeze(1)
                elif layer.kind == "pw":
                    weight = weight[:, :, None, None]
                groups = layer.in_channels if layer.kind == "dw" else 1
                acc = F.conv2d(x.to(torch.float64), weight, None, layer.stride, layer.kernel // 2, 1, groups)
                acc = torch.round(acc).to(torch.int64)
                x = requantize(acc, torch.from_numpy(p["bn_mult"]), torch.from_numpy(p["bn_bias"]),
                               p["shift"], quant.act_max)
                in_max = quant.act_max
                if trace:
                    layers_out[layer.name] = x.permute(0, 2, 3, 1).numpy().copy()
            elif layer.kind == "pool":
                x = x.sum(dim=(2, 3))
                if trace:
                    layers_out["pool"] = x.numpy().copy()
            elif layer.kind == "fc":
                p = artifact.layer("fc")
                logits = torch.matmul(x, torch.from_numpy(p["weight"]).T) + torch.from_numpy(p["bias"])
                if trace:
                    layers_out["fc"] = logits.numpy().copy()
    result = logits.numpy().copy()
    return (result, layers_out) if trace else result


def predict(artifact: Artifact, images_uint8: np.ndarray, batch: int = 256) -> np.ndarray:
    """Predicted classes (argmax, ties to the lowest index), in batches."""
    out = []
    for start in range(0, len(images_uint8), batch):
        out.append(np.argmax(run(artifact, images_uint8[start:start + batch]), axis=1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
