"""FPGA devices the spec may name and the analysis fits to, and how BRAM18K maps a memory.

:data:`DEVICES` is the one table of known devices: ``hardware.device`` must be
one of its keys (:class:`rrm.spec.HardwareSpec`).

Block RAM counts are from the Zynq UltraScale+ product tables (BRAM36 x 2 =
BRAM18K); UltraRAM is listed but not counted by the fit (the paper uses BRAM
only, and XCZU9EG has none).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError

#: Bits in one BRAM18K block (16 Kbit data + 2 Kbit parity, usable at widths 9/18/36).
BRAM18K_BITS = 18 * 1024

#: Simple-dual-port aspect ratios of one BRAM18K as (depth, width). Widths 9, 18
#: and 36 use the parity bits; 1, 2 and 4 do not.
BRAM18K_SHAPES: tuple[tuple[int, int], ...] = (
    (16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36),
)


@dataclass(frozen=True)
class Device:
    """One FPGA: its name, on-chip resources, the Vivado part (package and speed grade) of
    the board it is usually found on, and that board."""

    name: str
    bram18k: int
    uram: int
    dsp: int
    lut: int
    ff: int
    part: str
    board: str

    @property
    def bram_bits(self) -> int:
        return self.bram18k * BRAM18K_BITS


DEVICES = {
    "xczu3eg": Device("xczu3eg", bram18k=432, uram=0, dsp=360, lut=70_560, ff=141_120,
                      part="xczu3eg-sbva484-1-e", board="Ultra96"),
    "xczu7ev": Device("xczu7ev", bram18k=624, uram=96, dsp=1_728, lut=230_400, ff=460_800,
                      part="xczu7ev-ffvc1156-2-e", board="ZCU104"),
    "xczu9eg": Device("xczu9eg", bram18k=1_824, uram=0, dsp=2_520, lut=274_080, ff=548_160,
                      part="xczu9eg-ffvb1156-2-e", board="ZCU102"),
}


def get_device(name: str) -> Device:
    """The Device called ``name``; SpecError lists the known ones otherwise."""
    try:
        return DEVICES[name.lower()]
    except KeyError:
        raise SpecError("device", f"unknown device {name!r} (allowed: {', '.join(DEVICES)})") from None


def bram18k_layout(width: int, depth: int) -> tuple[int, int]:
    """(blocks, rows): how a ``width``-bit x ``depth``-word memory is built from BRAM18K.

    Vivado (and Yosys) build a wide or deep memory from blocks of one aspect ratio;
    the count is ceil(width / w) * ceil(depth / d) for the best (d, w) shape, the one
    with the fewest rows (ceil(depth / d)) among equals. A zero-sized memory takes no
    block.
    """
    if width < 0 or depth < 0:
        raise ValueError(f"memory size must be non-negative, got {width} x {depth}")
    if width == 0 or depth == 0:
        return 0, 0
    return min((-(-width // w) * -(-depth // d), -(-depth // d)) for d, w in BRAM18K_SHAPES)


def bram18k_blocks(width: int, depth: int) -> int:
    """BRAM18K blocks for a ``width``-bit x ``depth``-word memory (:func:`bram18k_layout`)."""
    return bram18k_layout(width, depth)[0]
