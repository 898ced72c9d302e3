"""The hardware blocks by name, each built from a spec with widths from the hardware sizing.

:data:`BLOCKS` maps a block name to a function ``spec -> Component``; ``rrm
verilog`` and the testbenches build blocks only through :func:`build_block`, so
the Verilog that is linted, simulated and shipped is the same. Every width and
size beyond the spec's own fields comes from :func:`rrm.sizing.sizing`
(accumulators that cannot overflow for any input and any in-range weights, map
sizes, channel counts); this module only turns its integers into Amaranth shapes.
"""

from __future__ import annotations

import random

from amaranth.hdl import signed, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory

from rrm.errors import UserError
from rrm.sizing import sizing
from rrm.spec import Spec

from ..engines.classifier import Classifier
from ..engines.conv import ConvEngine
from ..engines.depthwise import DepthwiseEngine, dw_pair_patch_parameters
from ..engines.image_loader import ImageLoader
from ..engines.param_loader import ParamLoader
from ..engines.sequencer import Sequencer
from .accelerator import ENGINES, Accelerator
from .system import AcceleratorSystem
from ..blocks.bn_requant import BnRequant
from ..blocks.conv_pe import ConvPE
from ..blocks.dw_pe import DepthwisePE
from ..blocks.fc import FullyConnected
from ..blocks.layouts import conv_layout, weights_layout
from ..blocks.packed_pe import PackedConvPE
from ..blocks.parameters import (bn_parameters, conv_parameters, conv_value_shape, dw_parameters, fc_parameters,
                         packed_parameters, pair_patch_parameters, patch_parameters)
from ..blocks.patch_broadcast import ConvPatchBuffer
from ..blocks.pair_patch_buffer import PairPatchBuffer
from ..blocks.patch_buffer import PatchBuffer
from ..blocks.pe_array import PackedSharedWeightArray, conv_pe_array, depthwise_pe_array
from ..blocks.ram_join import RamJoin
from ..blocks.skid_buffer import SkidBuffer


def skid_buffer_block(spec: Spec) -> SkidBuffer:
    """A skid buffer for the Conv PE's input beats (e.g. between a weight read and the PE)."""
    parameters = conv_parameters(spec)
    return SkidBuffer(conv_layout(parameters["value_shape"], parameters["weight_width"],
                                  parameters["lanes"]))


def dw_pair_patch_buffer_block(spec: Spec) -> PairPatchBuffer:
    """The DW engine's pair patch buffer as ``dw_pairs`` would build it (whether or not the
    spec turns it on); UserError for a network without a stride-2 dw layer the pair walk takes."""
    parameters = dw_pair_patch_parameters(spec, enabled=False)
    if parameters is None:
        raise UserError("dw_pair_patch_buffer: this network has no dw layer the pair walk takes "
                        "(stride 2 on an even map at least 4 wide)")
    return PairPatchBuffer(**parameters)


def ram_join_block(spec: Spec) -> RamJoin:
    """conv1's weight read: a RAM of K*K*C_in words of ``lanes`` weights (address = the Conv
    patch buffer's ``tap``) joined with the broadcast ``{value, last}`` as the tag.

    The stand-alone block owns its RAM, initialised with a fixed pseudo-random pattern
    (``random.Random(depth)``, weights in the spec's range) so that it simulates on its own;
    an accelerator passes a read port of its own RAM instead.
    """
    parameters = conv_parameters(spec)
    depth = spec.hardware.kernel ** 2 * spec.layer("conv1").in_channels
    lo, hi = spec.quant.weight_int_range
    rng = random.Random(depth)
    memory = Memory(shape=weights_layout(parameters["weight_width"], parameters["lanes"]), depth=depth,
                    init=[[rng.randint(lo, hi) for _ in range(parameters["lanes"])] for _ in range(depth)])
    return RamJoin(memory, tag_shape=data.StructLayout({"value": parameters["value_shape"], "last": 1}))


BLOCKS = {
    "bn_requant": lambda spec: BnRequant(**bn_parameters(spec)),
    "conv_patch_buffer": lambda spec: ConvPatchBuffer(**patch_parameters(spec, "conv")),
    "conv_pair_patch_buffer": lambda spec: PairPatchBuffer(**pair_patch_parameters(spec)),
    "conv_pe": lambda spec: ConvPE(**conv_parameters(spec)),
    "conv_pe_array": lambda spec: conv_pe_array(pe_count=spec.hardware.pe_count, **conv_parameters(spec)),
    "conv_pe_array_shared": lambda spec: conv_pe_array(pe_count=spec.hardware.pe_count, shared_weight=True,
                                                       **conv_parameters(spec)),
    "conv_pe_packed": lambda spec: PackedConvPE(**packed_parameters(spec)),
    "conv_pe_array_packed": lambda spec: PackedSharedWeightArray(pe_count=spec.hardware.pe_count,
                                                                 **packed_parameters(spec)),
    "dw_pair_patch_buffer": dw_pair_patch_buffer_block,
    "dw_pe": lambda spec: DepthwisePE(**dw_parameters(spec)),
    "dw_pe_array": lambda spec: depthwise_pe_array(pe_count=spec.hardware.dw_pes, **dw_parameters(spec)),
    "fc": lambda spec: FullyConnected(**fc_parameters(spec)),
    "patch_buffer": lambda spec: PatchBuffer(**patch_parameters(spec, "dw")),
    "ram_join": ram_join_block,
    "skid_buffer": skid_buffer_block,
    # the engines, each alone (docs/design.md §3)
    "param_loader": ParamLoader,
    "image_loader": ImageLoader,
    "sequencer": lambda spec: Sequencer(spec, {name: engine.KINDS for name, engine in ENGINES.items()}),
    "conv_engine": ConvEngine,
    "dw_engine": DepthwiseEngine,
    "classifier": Classifier,
    "accelerator": Accelerator,
    # the accelerator with its AXI4-Lite register block and interrupt (docs/host.md)
    "system": AcceleratorSystem,
}


def build_block(name: str, spec: Spec):
    """The component of block ``name`` for ``spec``; UserError for an unknown name."""
    try:
        make = BLOCKS[name]
    except KeyError:
        raise UserError(f"unknown block {name!r} (allowed: {', '.join(BLOCKS)})") from None
    return make(spec)
