"""The hardware sizing: one function of the spec gives every block's widths and sizes.

:func:`sizing` computes, from the spec alone, every number the hardware blocks
are built with beyond the spec's own fields: accumulator widths that cannot
overflow for any input and any in-range weights (:mod:`rrm.bounds`), the BN
sum width and largest useful shift, the pool and logit widths, the patch
buffers' largest maps. :mod:`hw.top.catalog` turns these plain integers into
Amaranth shapes and components; nothing here imports Amaranth.

The accelerator's memory geometry (every RAM's word width and depth, the layer
table) is the field ``memories``, computed by :func:`rrm.memory_map.memory_map`,
so ``hw/``, the analysis's BRAM18K count and a cycle model read the same numbers.
Add fields with a comment naming the block that uses them; keep them plain
integers, booleans or frozen dataclasses of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import bounds
from .memory_map import MemoryMap, memory_map
from .spec import Spec


@dataclass(frozen=True)
class Sizing:
    """Every block's widths and sizes for one spec (all widths in bits).

    Members
    -------
    dw_acc_width : int
        Signed accumulator of the depthwise PE: the widest dw layer's bound.
    conv_value_bits : int
        Signed width of the value the Conv PE broadcasts: the signed image input
        (conv1) or an unsigned activation, ``max(input_bits, act_bits + 1)``.
    conv_acc_width : int
        Signed accumulator of the Conv PE: the widest conv/pw layer's bound.
    pw_acc_width : int
        Signed accumulator of the widest pw layer alone (the packed PE's field is
        ``conv_acc_width``, since conv1 runs on it in single mode).
    bn_acc_width : int
        Signed accumulator entering BN/requant: the widest conv/dw/pw layer's bound.
    max_shift : int
        Largest useful requantization shift P over the conv/dw/pw layers; every
        larger shift gives 0 for every input, so hardware clamps shifts to it.
    bn_sum_width : int
        Signed width of ``acc*m + b`` (``rrm.bounds.bn_sum_range``), every layer; the BN
        unit rounds without adding r to it (hw/blocks/bn_requant.py).
    pool_width : int
        Unsigned width of a pool sum (act_max * H * W of the pooled map).
    logit_width : int
        Signed width of an FC logit (bias included).
    dw_patch_max_height, dw_patch_max_width : int
        Largest input map of the dw layers (the dw patch buffer's line memory).
    conv_patch_channels : int
        Channels per pixel of the conv1 patch buffer (the image's channels).
    conv_patch_max_height, conv_patch_max_width : int
        Largest input map of the conv layers (conv1: the image).
    conv1_window_fifo_depth : int
        Windows the FIFO between conv1's patch buffer and its serializer holds: one
        output row of conv1, rounded up to a power of two (at least 4).
    memories : rrm.memory_map.MemoryMap
        The accelerator's RAMs (bank, word width, depth) and layer table: what
        ``hw.top.accelerator`` builds and what ``rrm analyze`` counts in BRAM18K.
    """

    dw_acc_width: int
    conv_value_bits: int
    conv_acc_width: int
    pw_acc_width: int
    bn_acc_width: int
    max_shift: int
    bn_sum_width: int
    pool_width: int
    logit_width: int
    dw_patch_max_height: int
    dw_patch_max_width: int
    conv_patch_channels: int
    conv_patch_max_height: int
    conv_patch_max_width: int
    conv1_window_fifo_depth: int
    memories: MemoryMap


def sizing(spec: Spec) -> Sizing:
    """The :class:`Sizing` of ``spec``, computed once per spec (a spec is frozen: the result
    is kept on it, as its layers are; every block, engine and cost model asks for it)."""
    cached = spec.__dict__.get("_sizing")
    if cached is None:
        cached = _sizing(spec)
        object.__setattr__(spec, "_sizing", cached)
    return cached


def _sizing(spec: Spec) -> Sizing:
    quant = spec.quant
    layers = spec.layers()

    def of(*kinds: str):
        return [layer for layer in layers if layer.kind in kinds]

    def acc_width(*kinds: str) -> int:
        return max(bounds.accumulator_bits(spec, layer.name) for layer in of(*kinds))

    bn_names = [layer.name for layer in of("conv", "dw", "pw")]
    max_shift = max(bounds.max_useful_shift(spec, name) for name in bn_names)
    dw, conv = of("dw"), of("conv")
    memories = memory_map(spec)
    # conv1's window FIFO (between its patch buffer and the serializer) holds one output
    # row of conv1, rounded up to a power of two (at least 4): the patch buffer walks on
    # through the rows a stride-2 layer skips while the serializer works
    conv1_out_w = memories.layers[0].out_w
    return Sizing(
        dw_acc_width=acc_width("dw"),
        conv_value_bits=max(quant.input_bits, quant.act_bits + 1),
        conv_acc_width=acc_width("conv", "pw"),
        pw_acc_width=acc_width("pw"),
        bn_acc_width=acc_width("conv", "dw", "pw"),
        max_shift=max_shift,
        bn_sum_width=max(bounds.signed_bits(*bounds.bn_sum_range(spec, name)) for name in bn_names),
        pool_width=bounds.pool_range(spec)[1].bit_length(),
        logit_width=bounds.accumulator_bits(spec, "fc"),
        dw_patch_max_height=max(layer.in_h for layer in dw),
        dw_patch_max_width=max(layer.in_w for layer in dw),
        conv_patch_channels=max(layer.in_channels for layer in conv),
        conv_patch_max_height=max(layer.in_h for layer in conv),
        conv_patch_max_width=max(layer.in_w for layer in conv),
        conv1_window_fifo_depth=max(4, 1 << (conv1_out_w - 1).bit_length()),
        memories=memories,
    )
