"""Resource model of :class:`hw.top.accelerator.Accelerator` for design-space sweeps: LUT, FF,
DSP48E2 and BRAM18K of a spec in microseconds, where ``rrm synth`` takes minutes.

Each block's cost is a count (lanes, PEs, word bits) times a unit cost calibrated on
``rrm synth --mode blocks`` runs (Yosys 0.23 ``synth_xilinx -family xcup``) of
``rr-mobilenet-fast`` (16 PEs x 64 lanes, 1 DW PE, 4 FC classes, 1 + 1 BN units) and
``rr-mobilenet-max`` (25 x 64, 1 DW PE, 1 FC class, 1 + 1 BN units), and the core block
of ``rr-mobilenet-fit`` (12 x 32, 2 DW PEs):

===============  ============================  ===============================================
block            LUT / FF / DSP (fast)         unit
===============  ============================  ===============================================
BN unit          15,862 / 7,055 / 64           per lane: 244 LUT, 110 FF, 1 DSP
DW PE            6,593 / 16,261 / 576          per lane: 103 LUT, 254 FF, K*K DSP
Conv PE          1,345 / 3,716 / 64            per lane: 21 LUT, 58 FF, 1 DSP
FC               15,477 / 18,800 / 256 (Q=4)   pool: 1.0 LUT, 0.75 FF per pool-sum bit; per
                 (max: 11,576 / 10,491 / 64,   class lane: 20.3 LUT, 43.3 FF, 1 DSP
                 Q=1)
core             51,503 / 89,267 / 0           7.56 LUT, 14.2 FF per FM word bit, plus 0.61 LUT,
                 (fit: 48,357 / 47,610 / 0)    1.29 FF per bit of the DW engine's registers, plus
                                               the LUT RAMs (:func:`lutram_luts`) and the read
                                               multiplexers of deep RAMs (:func:`ram_mux_luts`)
DW patch buffer  341 / 2,336                   per DW channel: 5.3 LUT, 36.5 FF
===============  ============================  ===============================================

DSP48E2 counts are exact for Yosys (it maps each product to one DSP). BRAM18K is the
analytic count of the RTL's RAMs (:func:`rrm.analysis.rtl_memories`, Eq. 11) plus the DW
patch buffer's line buffers and the small FIFOs; Yosys's own mapping of the same RAMs came
out 0.5 % higher on ``-fast`` (1,489) and ``-max`` (1,545). LUT and FF are estimates
(against those Yosys runs: -2.1 % / -1.1 % on ``-fast``, -4.9 % / +2.4 % on ``-max``;
-11 % / -15 % on ``tiny``, which is outside the calibration): confirm a chosen
configuration with ``rrm synth``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rrm.analysis import LUTRAM_MAX_DEPTH, rtl_memories
from rrm.devices import bram18k_blocks, bram18k_layout, get_device
from rrm.memory_map import ceil_div
from rrm.sizing import sizing
from rrm.spec import Spec

#: Unit costs (LUT, FF) of the blocks, from the Yosys runs in the module docstring.
BN_LANE = (244.0, 110.0)
DW_LANE = (103.0, 254.0)
CONV_LANE = (21.0, 58.0)
FC_POOL_BIT = (1.0, 0.75)
FC_CLASS_LANE = (20.3, 43.3)
CORE_WORD_BIT = (7.56, 14.2)
CORE_DW_BIT = (0.61, 1.29)
DW_PATCH_CHANNEL = (5.3, 36.5)
#: The patch buffers' and FIFOs' fixed parts: (LUT, FF, BRAM18K).
SMALL_BLOCKS = (202.0, 305.0, 12)


@dataclass(frozen=True)
class ResourceEstimate:
    """LUT, FF, DSP48E2 and BRAM18K of one accelerator, and whether they fit its device."""

    lut: int
    ff: int
    dsp: int
    bram18k: int
    device: str
    fits: bool
    limits: dict

    def usage(self) -> dict:
        """Each resource as a fraction of the device's."""
        return {name: getattr(self, name) / self.limits[name] for name in ("lut", "ff", "dsp", "bram18k")}


def lutram_luts(width: int, depth: int) -> int:
    """LUTs of a RAM of at most 64 words built from LUT RAM (``RAM64M8``: 7 bits x 64 words
    in 8 LUTs, as Yosys maps it); 0 for a RAM that goes to block RAM."""
    if depth > LUTRAM_MAX_DEPTH:
        return 0
    return ceil_div(width, 7) * 8


def ram_mux_luts(width: int, depth: int) -> int:
    """LUTs of the read multiplexer of a block RAM stacked ``rows`` deep
    (:func:`rrm.devices.bram18k_layout`): without the BRAM cascade Yosys selects the row's
    output in LUTs, about one LUT per bit per extra row."""
    if depth <= LUTRAM_MAX_DEPTH:
        return 0
    return width * (bram18k_layout(width, depth)[1] - 1)


def dw_engine_bits(spec: Spec) -> int:
    """Register bits of the DW engine in the core: two wide-reader buffers, the gather and
    the write queue (D x P pixels of ``lanes`` activations each), the D kernels and BN words."""
    hw, quant = spec.hardware, spec.quant
    P, L, K, D = hw.pe_count, hw.lanes, hw.kernel, hw.dw_pes
    return 4 * D * P * L * quant.act_bits + D * (K * K * L * quant.weight_bits
                                                  + L * (quant.bn_mult_bits + quant.bn_bias_bits))


def estimate_resources(spec: Spec) -> ResourceEstimate:
    """The resource model of the module docstring for ``spec`` on its device."""
    if not isinstance(spec, Spec):
        raise TypeError(f"spec must be a Spec, not {spec!r}")
    hw, quant = spec.hardware, spec.quant
    P, L, K, D, Q = hw.pe_count, hw.lanes, hw.kernel, hw.dw_pes, hw.fc_classes
    size = sizing(spec)
    bn_units = (1 if hw.serial_bn else P) + D
    word_bits = P * L * quant.act_bits
    dw_bits = dw_engine_bits(spec)
    ram_luts = sum(lutram_luts(ram.width, ram.depth) + ram_mux_luts(ram.width, ram.depth)
                   for ram in size.memories.rams.values())
    fc = spec.layer("fc")
    pool_bits = fc.in_channels * size.pool_width
    parts = [
        (bn_units * L, BN_LANE),
        (D * L, DW_LANE),
        (P * L, CONV_LANE),
        (pool_bits, FC_POOL_BIT),
        (Q * L, FC_CLASS_LANE),
        (word_bits, CORE_WORD_BIT),
        (dw_bits, CORE_DW_BIT),
        (D * L, DW_PATCH_CHANNEL),
    ]
    lut = SMALL_BLOCKS[0] + ram_luts + sum(count * unit[0] for count, unit in parts)
    ff = SMALL_BLOCKS[1] + sum(count * unit[1] for count, unit in parts)
    dsp = bn_units * L + D * L * K * K + P * L + Q * L
    device = get_device(hw.device)
    rams = rtl_memories(spec, device)
    line_buffers = (K - 1) * bram18k_blocks(D * L * quant.act_bits, size.dw_patch_max_width + K - 1)
    bram = rams["bram18k"] + line_buffers + SMALL_BLOCKS[2]
    limits = {"lut": device.lut, "ff": device.ff, "dsp": device.dsp, "bram18k": device.bram18k}
    fits = rams["buildable"] and lut <= device.lut and ff <= device.ff and dsp <= device.dsp \
        and bram <= device.bram18k
    return ResourceEstimate(round(lut), round(ff), dsp, bram, device.name, bool(fits), limits)
