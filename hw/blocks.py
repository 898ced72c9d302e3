"""The hardware blocks by name, each built from a spec with widths from the golden bounds.

:data:`BLOCKS` maps a block name to a function ``spec -> Component``; ``rrm
verilog`` and the testbenches build blocks only through :func:`build_block`, so
the Verilog that is linted, simulated and shipped is the same. Widths come from
``golden.bounds`` (accumulators that cannot overflow for any input and any
in-range weights), map sizes and channel counts from the spec's layers.
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned

from golden import bounds
from rrm.errors import UserError
from rrm.spec import Spec

from .bn_requant import BnRequant
from .conv_pe import ConvPE
from .dw_pe import DepthwisePE
from .fc import FullyConnected
from .patch_broadcast import ConvPatchBuffer
from .patch_buffer import PatchBuffer
from .pe_array import conv_pe_array, depthwise_pe_array


def _layers(spec: Spec, *kinds: str):
    return [layer for layer in spec.layers() if layer.kind in kinds]


def conv_value_shape(spec: Spec):
    """Values the Conv PE broadcasts: the signed image input or unsigned activations."""
    return signed(max(spec.quant.input_bits, spec.quant.act_bits + 1))


def dw_parameters(spec: Spec) -> dict:
    """DepthwisePE parameters: accumulators for the widest dw layer."""
    return dict(lanes=spec.hardware.lanes, kernel=spec.hardware.kernel,
                value_shape=unsigned(spec.quant.act_bits), weight_width=spec.quant.weight_bits,
                acc_width=max(bounds.accumulator_bits(spec, l.name) for l in _layers(spec, "dw")))


def conv_parameters(spec: Spec) -> dict:
    """ConvPE parameters: accumulators for the widest conv/pw layer."""
    return dict(lanes=spec.hardware.lanes, value_shape=conv_value_shape(spec),
                weight_width=spec.quant.weight_bits,
                acc_width=max(bounds.accumulator_bits(spec, l.name) for l in _layers(spec, "conv", "pw")))


def bn_parameters(spec: Spec) -> dict:
    """BnRequant parameters covering every conv/dw/pw layer.

    Shifts are clamped to the largest useful shift P over the layers (larger
    shifts give 0 anyway); the sum is sized for r = 2**(P-1) on every layer.
    """
    names = [l.name for l in _layers(spec, "conv", "dw", "pw")]
    max_shift = max(bounds.max_useful_shift(spec, name) for name in names)
    return dict(lanes=spec.hardware.lanes,
                acc_width=max(bounds.accumulator_bits(spec, name) for name in names),
                mult_width=spec.quant.bn_mult_bits, bias_width=spec.quant.bn_bias_bits,
                sum_width=max(bounds.bn_product_bits(spec, name, max_shift) for name in names),
                act_bits=spec.quant.act_bits, max_shift=max_shift)


def patch_parameters(spec: Spec, kind: str) -> dict:
    """PatchBuffer parameters for the dw layers (``"dw"``: ``lanes`` channels per pixel)
    or conv1 (``"conv"``: the image's channels per pixel)."""
    layers = _layers(spec, kind)
    if kind == "dw":
        value_shape, channels = unsigned(spec.quant.act_bits), spec.hardware.lanes
    else:
        value_shape, channels = conv_value_shape(spec), max(l.in_channels for l in layers)
    return dict(channels=channels, kernel=spec.hardware.kernel, value_shape=value_shape,
                max_height=max(l.in_h for l in layers), max_width=max(l.in_w for l in layers))


def fc_parameters(spec: Spec) -> dict:
    """FullyConnected parameters: pool sums of the pooled map, logits from the fc bound."""
    layer = spec.layer("fc")
    return dict(channels=layer.in_channels, classes=layer.out_channels, lanes=spec.hardware.lanes,
                act_bits=spec.quant.act_bits, pool_width=bounds.pool_range(spec)[1].bit_length(),
                weight_width=spec.quant.weight_bits, bias_width=spec.quant.fc_bias_bits,
                logit_width=bounds.accumulator_bits(spec, "fc"))


BLOCKS = {
    "bn_requant": lambda spec: BnRequant(**bn_parameters(spec)),
    "conv_patch_buffer": lambda spec: ConvPatchBuffer(**patch_parameters(spec, "conv")),
    "conv_pe": lambda spec: ConvPE(**conv_parameters(spec)),
    "conv_pe_array": lambda spec: conv_pe_array(pe_count=spec.hardware.pe_count, **conv_parameters(spec)),
    "dw_pe": lambda spec: DepthwisePE(**dw_parameters(spec)),
    "dw_pe_array": lambda spec: depthwise_pe_array(pe_count=spec.hardware.pe_count, **dw_parameters(spec)),
    "fc": lambda spec: FullyConnected(**fc_parameters(spec)),
    "patch_buffer": lambda spec: PatchBuffer(**patch_parameters(spec, "dw")),
}


def build_block(name: str, spec: Spec):
    """The component of block ``name`` for ``spec``; UserError for an unknown name."""
    try:
        make = BLOCKS[name]
    except KeyError:
        raise UserError(f"unknown block {name!r} (allowed: {', '.join(BLOCKS)})") from None
    return make(spec)
