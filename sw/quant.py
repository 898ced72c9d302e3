"""Fixed-point fake quantization for QAT (the paper's Algorithm 1).

Every value in the forward pass is rounded to the nearest point of its fixed-point
grid: weights Q(Bw-Fw).Fw clipped to the spec's [clip_min, clip_max], activations
unsigned Q(Ba-Fa).Fa after ReLU (which also clips at the top of the range), the
image input signed Q(Bi-Fi).Fi. ``torch.fake_quantize_per_tensor_affine`` gives
the straight-through gradient (1 inside the range, 0 outside), so the optimizer
updates the real-valued weights, which :func:`clip_weights_` keeps in range.
"""

from __future__ import annotations

import torch

from rrm.spec import QuantSpec


def quantize_weight(weight: torch.Tensor, quant: QuantSpec) -> torch.Tensor:
    """Weights on the Q grid, clipped to the integer range of [clip_min, clip_max]."""
    lo, hi = quant.weight_int_range
    return torch.fake_quantize_per_tensor_affine(weight, 2.0 ** -quant.weight_frac, 0, lo, hi)


def quantize_activation(x: torch.Tensor, quant: QuantSpec) -> torch.Tensor:
    """ReLU + clip + round to the unsigned activation grid: 0 .. act_max * 2**-act_frac.

    Computed in float32 (a no-op for float32 input; under mixed precision the
    grid values are exact in bf16/fp16 again for the next convolution).
    """
    return torch.fake_quantize_per_tensor_affine(x.float(), 2.0 ** -quant.act_frac, 0, 0, quant.act_max)


def quantize_input(x: torch.Tensor, quant: QuantSpec) -> torch.Tensor:
    """The shifted image on the signed input grid (exact for 8-bit pixels and Q1.7)."""
    half = 1 << (quant.input_bits - 1)
    return torch.fake_quantize_per_tensor_affine(x.float(), 2.0 ** -quant.input_frac, 0, -half, half - 1)


def image_to_input(pixels: torch.Tensor, quant: QuantSpec) -> torch.Tensor:
    """uint8 images (N, H, W, C) to real-valued network input (N, C, H, W): (p - 2**(B-1)) * 2**-F."""
    if pixels.dim() != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {tuple(pixels.shape)}")
    half = 1 << (quant.input_bits - 1)
    x = (pixels.to(torch.float32) - half) * 2.0 ** -quant.input_frac
    return x.permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def clip_weights_(modules, quant: QuantSpec) -> None:
    """Clamp every weight tensor to [clip_min, clip_max] in place (after each optimizer step)."""
    for module in modules:
        module.weight.clamp_(quant.clip_min, quant.clip_max)
