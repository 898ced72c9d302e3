"""A hardware unit's resources: LUT, FF, DSP48E2 and BRAM18K, added up unit by unit.

Each block and engine reports its own :class:`Cost`; the resource model
(:mod:`hw.cost.resource_model`) only sums them. DSP48E2 and BRAM18K are exact counts of
what the RTL asks for; LUT and FF are estimates from unit costs calibrated on Yosys runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from rrm.analysis import LUTRAM_MAX_DEPTH
from rrm.devices import bram18k_blocks
from rrm.memory_map import ceil_div


@dataclass(frozen=True)
class Cost:
    """Resources of one hardware unit (LUT and FF may be fractional estimates)."""

    lut: float = 0.0
    ff: float = 0.0
    dsp: int = 0
    bram18k: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.lut + other.lut, self.ff + other.ff, self.dsp + other.dsp,
                    self.bram18k + other.bram18k)

    def __mul__(self, count) -> "Cost":
        """``count`` units of this cost (LUT and FF may be per-bit estimates, so any count)."""
        return Cost(self.lut * count, self.ff * count, int(round(self.dsp * count)),
                    int(round(self.bram18k * count)))

    __rmul__ = __mul__


def per_unit(lut: float, ff: float) -> Cost:
    """A LUT/FF estimate per unit (lane, bit, channel) without DSP or BRAM."""
    return Cost(lut, ff)


def total(costs) -> Cost:
    """The sum of ``costs``."""
    result = Cost()
    for cost in costs:
        result = result + cost
    return result


def lutram_luts(width: int, depth: int) -> int:
    """LUTs of a RAM of at most 64 words built from LUT RAM (``RAM64M8``: 7 bits x 64 words
    in 8 LUTs, as Yosys maps it); 0 for a RAM that goes to block RAM."""
    if depth > LUTRAM_MAX_DEPTH:
        return 0
    return ceil_div(width, 7) * 8


def memory_cost(width: int, depth: int) -> Cost:
    """A ``width``-bit x ``depth``-word RAM: LUT RAM up to 64 words, else BRAM18K."""
    if depth <= LUTRAM_MAX_DEPTH:
        return Cost(lut=lutram_luts(width, depth))
    return Cost(bram18k=bram18k_blocks(width, depth))
