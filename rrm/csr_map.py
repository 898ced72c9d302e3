"""The control/status register map of the accelerator system (docs/host.md), in one place.

The RTL register block (:mod:`hw.top.csr`), the host driver (:mod:`host.driver`) and the
register table of docs/host.md (:func:`markdown_table`) all come from :data:`REGISTERS`.
Registers are 32 bits wide on AXI4-Lite, at word-aligned byte offsets in a 4 KiB window.

Access kinds: ``ro`` read only; ``rw`` read/write; ``w1c`` read, write 1 to clear a bit;
``wo`` write only (reads 0; a 1 written to a field is a one-cycle command).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``ID``'s value: "RRMN" in ASCII.
IDENTITY = 0x52524D4E
#: The register map's version (``VERSION``: major in bits 31..16, minor in 15..0). A driver
#: refuses another major version; a new minor version only adds registers or fields.
VERSION_MAJOR, VERSION_MINOR = 1, 0
#: Bytes of the register window (the address decoder looks at this many address bits).
WINDOW_BYTES = 0x1000
ADDRESS_BITS = 12
#: Cycles the soft reset holds the accelerator core in reset.
SOFT_RESET_CYCLES = 16
ACCESS_KINDS = ("ro", "rw", "w1c", "wo")
#: The packaged IP's vendor:library:name:version (hw/flow/system.py packages it, host/board.py
#: binds its PYNQ driver to it) and the block design's cell names of the IP and its DMA engines.
IP_VLNV = "rr-mobilenet.org:rrm:rrm_system:1.0"
IP_CELL, IMAGE_DMA, PARAM_DMA = "rrm_system_0", "dma_image", "dma_param"


@dataclass(frozen=True)
class Field:
    """A bit field of a register: bits ``lsb .. lsb + width - 1``."""

    name: str
    lsb: int
    width: int
    doc: str

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def get(self, value: int) -> int:
        """This field of a register value."""
        return (int(value) & self.mask) >> self.lsb


@dataclass(frozen=True)
class Register:
    """A 32-bit register at byte ``offset``; ``count`` > 1: an array of registers 4 bytes apart."""

    name: str
    offset: int
    access: str
    doc: str
    fields: tuple = ()
    count: int = 1

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"register {self.name} has no field {name!r} "
                       f"(fields: {', '.join(f.name for f in self.fields) or 'none'})")

    def address(self, index: int = 0) -> int:
        """Byte offset of element ``index`` (0 for a single register)."""
        if not 0 <= index < self.count:
            raise IndexError(f"{self.name}[{index}]: the register has {self.count} element(s)")
        return self.offset + 4 * index


def _bit(name: str, lsb: int, doc: str) -> Field:
    return Field(name, lsb, 1, doc)


REGISTERS = (
    Register("ID", 0x000, "ro", f'Identity: 0x{IDENTITY:08X} ("RRMN").'),
    Register("VERSION", 0x004, "ro", "Version of this register map.", (
        Field("minor", 0, 16, "Minor version: registers or fields were added."),
        Field("major", 16, 16, "Major version: a driver refuses another one."))),
    Register("SPEC_HASH", 0x008, "ro",
             "The build's spec hash (rrm.memory_map.spec_hash): a parameter stream must carry it."),
    Register("SHAPE", 0x00C, "ro", "The image the build takes and the result beats it gives.", (
        Field("input_size", 0, 12, "Image height and width in pixels."),
        Field("input_channels", 12, 8, "Bytes per pixel (channels, channel 0 lowest)."),
        Field("result_bytes", 20, 4, "Bytes per result beat (a sign-extended logit or the class)."))),
    Register("LAYOUT", 0x010, "ro", "Classes, layers and the parameter beat width of the build.", (
        Field("classes", 0, 16, "Logits per image (then one class beat)."),
        Field("layers", 16, 8, "Layers, i.e. valid elements of LAYER_CYCLES."),
        Field("param_beat_bytes", 24, 8, "Bytes per beat of the parameter stream."))),
    Register("CONTROL", 0x020, "wo", "Commands.", (
        _bit("soft_reset", 0, f"Write 1: hold the accelerator core in reset for {SOFT_RESET_CYCLES} "
                              "cycles (an image in flight is dropped; loaded parameters stay loaded)."),)),
    Register("STATUS", 0x024, "ro", "The core's live status.", (
        _bit("busy", 0, "An image is being computed."),
        _bit("params_loaded", 1, "A complete, matching parameter stream is loaded."),
        _bit("param_error", 2, "The last parameter stream was refused (wrong magic or spec hash, "
                               "cut short or too long)."),
        _bit("image_error", 3, "The last image's tlast came on the wrong pixel."),
        _bit("in_reset", 4, "The soft reset is holding the core in reset."))),
    Register("IRQ_ENABLE", 0x028, "rw", "Which IRQ_STATUS bits raise the interrupt line.", (
        _bit("image_done", 0, "Enable the interrupt on a finished image."),
        _bit("image_error", 1, "Enable the interrupt on an image with image_error."),
        _bit("params_done", 2, "Enable the interrupt on a loaded parameter stream."),
        _bit("param_error", 3, "Enable the interrupt on a refused parameter stream."))),
    Register("IRQ_STATUS", 0x02C, "w1c", "Sticky events; the interrupt is high while an enabled one is set.", (
        _bit("image_done", 0, "An image's class beat was taken (its counters are in IMAGE_CYCLES, "
                              "LAYER_CYCLES)."),
        _bit("image_error", 1, "An image finished with STATUS.image_error."),
        _bit("params_done", 2, "STATUS.params_loaded rose."),
        _bit("param_error", 3, "STATUS.param_error rose."))),
    Register("IMAGES", 0x030, "ro", "Images finished since the last aresetn (wraps at 2**32)."),
    Register("RESETS", 0x034, "ro", "Soft resets since the last aresetn (wraps at 2**32)."),
    Register("IMAGE_CYCLES", 0x038, "ro", "Cycles of the last image, first pixel to class beat."),
    Register("LAYER_CYCLES", 0x100, "ro", "Cycles of each layer of the last image (element i: layer i).",
             count=64),
)

_BY_NAME = {register.name: register for register in REGISTERS}


def register(name: str) -> Register:
    """The register called ``name``; KeyError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no register {name!r} (registers: {', '.join(_BY_NAME)})") from None


def check_map(registers=REGISTERS) -> None:
    """ValueError naming the first problem: overlapping or unaligned registers, fields that
    overlap or leave 32 bits, an unknown access kind."""
    taken: dict = {}
    for reg in registers:
        if reg.access not in ACCESS_KINDS:
            raise ValueError(f"{reg.name}: access {reg.access!r} is not one of {ACCESS_KINDS}")
        if reg.offset % 4 or reg.offset + 4 * reg.count > WINDOW_BYTES:
            raise ValueError(f"{reg.name}: offset 0x{reg.offset:03x} x {reg.count} is unaligned or "
                             f"outside the 0x{WINDOW_BYTES:x}-byte window")
        for index in range(reg.count):
            address = reg.offset + 4 * index
            if address in taken:
                raise ValueError(f"{reg.name} overlaps {taken[address]} at 0x{address:03x}")
            taken[address] = reg.name
        used = 0
        for field in reg.fields:
            if field.width < 1 or field.lsb < 0 or field.lsb + field.width > 32:
                raise ValueError(f"{reg.name}.{field.name}: bits {field.lsb}+{field.width} leave 32 bits")
            if used & field.mask:
                raise ValueError(f"{reg.name}.{field.name} overlaps another field")
            used |= field.mask


def markdown_table(registers=REGISTERS) -> str:
    """The register map as the Markdown table of docs/host.md."""
    lines = ["| Offset | Register | Access | Bits | Meaning |", "|---|---|---|---|---|"]
    for reg in registers:
        offset = (f"0x{reg.offset:03X}" if reg.count == 1
                  else f"0x{reg.offset:03X} + 4i (i < {reg.count})")
        name = reg.name if reg.count == 1 else f"{reg.name}[i]"
        lines.append(f"| {offset} | {name} | {reg.access} | 31..0 | {reg.doc} |" if not reg.fields
                     else f"| {offset} | {name} | {reg.access} | | {reg.doc} |")
        for field in reg.fields:
            bits = str(field.lsb) if field.width == 1 else f"{field.lsb + field.width - 1}..{field.lsb}"
            lines.append(f"| | .{field.name} | | {bits} | {field.doc} |")
    return "\n".join(lines) + "\n"


check_map()
