"""Block parameters from the spec: :func:`rrm.sizing.sizing`'s integers as Amaranth shapes.

Every component of ``hw/`` that is built from a spec (the blocks of
:mod:`hw.top.catalog` and the whole :class:`hw.top.accelerator.Accelerator`) takes its
constructor arguments from these functions, so a block simulated alone and the
same block inside the accelerator are the same hardware.
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned

from rrm.sizing import sizing
from rrm.spec import Spec


def conv_value_shape(spec: Spec):
    """Values the Conv PE broadcasts: the signed image input or unsigned activations."""
    return signed(sizing(spec).conv_value_bits)


def dw_parameters(spec: Spec) -> dict:
    """DepthwisePE parameters: accumulators for the widest dw layer."""
    return dict(lanes=spec.hardware.lanes, kernel=spec.hardware.kernel,
                value_shape=unsigned(spec.quant.act_bits), weight_width=spec.quant.weight_bits,
                acc_width=sizing(spec).dw_acc_width, lut_taps=spec.hardware.dw_lut_taps)


def conv_parameters(spec: Spec) -> dict:
    """ConvPE parameters: accumulators for the widest conv/pw layer."""
    size = sizing(spec)
    return dict(lanes=spec.hardware.lanes, value_shape=signed(size.conv_value_bits),
                weight_width=spec.quant.weight_bits, acc_width=size.conv_acc_width)


def packed_parameters(spec: Spec) -> dict:
    """PackedConvPE parameters as the Conv engine builds them with ``packed_pw``: two
    pointwise pixels per product, conv1 in single mode (its values, ``conv_value_bits``
    signed, do not pack); each pixel's sum and the packing field sized for the widest
    conv/pw layer, so conv1's single-mode sums fit the field too; the accumulators in the
    DSP48E2 with ``dsp_macc``."""
    size = sizing(spec)
    return dict(lanes=spec.hardware.lanes, act_bits=spec.quant.act_bits,
                weight_width=spec.quant.weight_bits, acc_width=size.conv_acc_width,
                single_bits=size.conv_value_bits, dsp_macc=spec.hardware.dsp_macc)


def bn_parameters(spec: Spec) -> dict:
    """BnRequant parameters covering every conv/dw/pw layer.

    Shifts are clamped to the largest useful shift P over the layers (larger
    shifts give 0 anyway); the sum is sized for r = 2**(P-1) on every layer.
    """
    size = sizing(spec)
    return dict(lanes=spec.hardware.lanes, acc_width=size.bn_acc_width,
                mult_width=spec.quant.bn_mult_bits, bias_width=spec.quant.bn_bias_bits,
                sum_width=size.bn_sum_width, act_bits=spec.quant.act_bits, max_shift=size.max_shift)


def patch_parameters(spec: Spec, kind: str) -> dict:
    """PatchBuffer parameters for the dw layers (``"dw"``: ``lanes`` channels per pixel)
    or conv1 (``"conv"``: the image's channels per pixel)."""
    size = sizing(spec)
    if kind == "dw":
        return dict(channels=spec.hardware.lanes, kernel=spec.hardware.kernel,
                    value_shape=unsigned(spec.quant.act_bits),
                    max_height=size.dw_patch_max_height, max_width=size.dw_patch_max_width)
    return dict(channels=size.conv_patch_channels, kernel=spec.hardware.kernel,
                value_shape=signed(size.conv_value_bits),
                max_height=size.conv_patch_max_height, max_width=size.conv_patch_max_width)


def pair_patch_parameters(spec: Spec) -> dict:
    """PairPatchBuffer parameters for conv1 with ``image_pixels`` 2: the image's channels
    per pixel, the conv1 value shape, the image's size."""
    parameters = patch_parameters(spec, "conv")
    del parameters["kernel"]   # 3 x 3 (rrm.memory_map.MemoryMap.check_image_fits)
    return parameters


def fc_parameters(spec: Spec) -> dict:
    """FullyConnected parameters: pool sums of the pooled map, logits from the fc bound."""
    layer = spec.layer("fc")
    size = sizing(spec)
    return dict(channels=layer.in_channels, classes=layer.out_channels, lanes=spec.hardware.lanes,
                parallel=spec.hardware.fc_classes, act_bits=spec.quant.act_bits, pool_width=size.pool_width,
                weight_width=spec.quant.weight_bits, bias_width=spec.quant.fc_bias_bits,
                logit_width=size.logit_width)
