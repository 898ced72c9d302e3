"""What the top's RAMs and the glue between the engines cost: the memories in BRAM18K
(:func:`rrm.analysis.rtl_memories`, Eq. 11) or LUT RAM, the read multiplexers of RAMs
stacked more than one block deep, and the core's multiplexers and registers of
feature-map words (the port selects, the write request, the engines' FM word registers).
"""

from __future__ import annotations

from rrm.analysis import LUTRAM_MAX_DEPTH, rtl_memories
from rrm.devices import bram18k_layout, get_device
from rrm.sizing import sizing
from rrm.spec import Spec

from ..blocks.cost import Cost, lutram_luts, per_unit

#: LUT and FF per bit of a feature-map word: the core's multiplexers and registers of FM
#: words, calibrated on the core blocks of ``rrm synth --mode blocks`` of rr-mobilenet-fit
#: (1,536-bit words) and rr-mobilenet-fast (4,096) with Yosys 0.23 (an estimate).
FM_WORD_BIT_LUT_FF = (7.56, 14.2)
#: The patch buffers' and FIFOs' fixed parts: LUT, FF and BRAM18K.
SMALL_BLOCKS = Cost(lut=202.0, ff=305.0, bram18k=12)


def ram_mux_luts(width: int, depth: int) -> int:
    """LUTs of the read multiplexer of a block RAM stacked ``rows`` deep
    (:func:`rrm.devices.bram18k_layout`): without the BRAM cascade Yosys selects the row's
    output in LUTs, about one LUT per bit per extra row."""
    if depth <= LUTRAM_MAX_DEPTH:
        return 0
    return width * (bram18k_layout(width, depth)[1] - 1)


def memory_resources(spec: Spec) -> tuple[Cost, bool]:
    """The RAMs and the core's FM-word glue, and whether the RAMs can be built on the
    spec's device (:func:`rrm.analysis.rtl_memories`)."""
    size = sizing(spec)
    rams = rtl_memories(spec, get_device(spec.hardware.device))
    ram_luts = sum(lutram_luts(ram.width, ram.depth) + ram_mux_luts(ram.width, ram.depth)
                   for ram in size.memories.rams.values())
    word_bits = spec.hardware.pe_count * spec.hardware.lanes * spec.quant.act_bits
    cost = (SMALL_BLOCKS + Cost(lut=ram_luts, bram18k=rams["bram18k"])
            + word_bits * per_unit(*FM_WORD_BIT_LUT_FF))
    return cost, bool(rams["buildable"])
