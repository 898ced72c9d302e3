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
BN unit          15,862 / 7,055 / 64           per lane: 143 LUT, 110 FF, 1 DSP (the
                 (before the barrel shifter    unit alone at rr-mobilenet's widths, 32
                 went: 244 LUT per lane)       lanes: :attr:`BnRequant.LANE_LUT_FF`)
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

(:func:`lutram_luts` and :func:`ram_mux_luts` are in :mod:`hw.top.ram_cost`.)

Each unit owns its figures: the engines' ``resources`` (:class:`hw.engines.conv.ConvEngine`,
:class:`hw.engines.depthwise.DepthwiseEngine`, :class:`hw.engines.classifier.Classifier`)
from their blocks' unit costs (``LANE_LUT_FF`` and the like on each block) and DSP48E2
counts, and the top's RAMs and glue (:mod:`hw.top.ram_cost`); this module only sums them.

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

from rrm.devices import get_device
from rrm.spec import Spec

from ..blocks.cost import total
from ..top.accelerator import ENGINES
from ..top.ram_cost import memory_resources


#: The presets whose Yosys block runs the unit costs were fitted on; its error on any other
#: preset is out of sample (``rrm results`` reports both kinds apart).
CALIBRATED_ON = ("rr-mobilenet-fit", "rr-mobilenet-fast", "rr-mobilenet-max")


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


def estimate_resources(spec: Spec) -> ResourceEstimate:
    """The sum of every engine's and the top's resources for ``spec`` on its device."""
    if not isinstance(spec, Spec):
        raise TypeError(f"spec must be a Spec, not {spec!r}")
    memories, buildable = memory_resources(spec)
    cost = total([memories, *(engine.resources(spec) for engine in ENGINES.values())])
    device = get_device(spec.hardware.device)
    limits = {"lut": device.lut, "ff": device.ff, "dsp": device.dsp, "bram18k": device.bram18k}
    lut, ff = round(cost.lut), round(cost.ff)
    fits = buildable and lut <= device.lut and ff <= device.ff and cost.dsp <= device.dsp \
        and cost.bram18k <= device.bram18k
    return ResourceEstimate(lut, ff, cost.dsp, cost.bram18k, device.name, bool(fits), limits)
