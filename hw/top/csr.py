"""The control/status register block on AXI4-Lite (docs/host.md), built from :mod:`rrm.csr_map`.

:class:`CsrBlock` is an AXI4-Lite slave (one outstanding read and one outstanding write;
32-bit registers of :data:`rrm.csr_map.REGISTERS`, 12 address bits) over the
accelerator core's status and counters. It keeps the sticky interrupt events
(``IRQ_STATUS``), the image and soft-reset counters, and drives ``irq`` and the core's
soft reset (``core_reset``, :data:`~rrm.csr_map.SOFT_RESET_CYCLES` cycles long).

Latency: a read answers (``rvalid``) the cycle after its address is taken; a write is
taken when its address and data are both valid, applied on that edge, and answered the
cycle after. ``image_done`` events reach ``IRQ_STATUS`` and ``irq`` one cycle after the
core's class beat, when the core's counters of that image are already up to date.
Unmapped addresses read 0 and answer SLVERR; writes to read-only registers are ignored.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rrm import csr_map
from rrm.csr_map import REGISTERS, SOFT_RESET_CYCLES

#: The AXI4-Lite slave's ports (name, direction for the slave, width); 0 means ADDRESS_BITS.
AXI_LITE_PORTS = (
    ("awaddr", In, 0), ("awprot", In, 3), ("awvalid", In, 1), ("awready", Out, 1),
    ("wdata", In, 32), ("wstrb", In, 4), ("wvalid", In, 1), ("wready", Out, 1),
    ("bresp", Out, 2), ("bvalid", Out, 1), ("bready", In, 1),
    ("araddr", In, 0), ("arprot", In, 3), ("arvalid", In, 1), ("arready", Out, 1),
    ("rdata", Out, 32), ("rresp", Out, 2), ("rvalid", Out, 1), ("rready", In, 1),
)
OKAY, SLVERR = 0b00, 0b10


def axi_lite_members(prefix: str = "") -> dict:
    """Signature members of an AXI4-Lite slave, each called ``<prefix><port>``."""
    return {f"{prefix}{name}": direction(width or csr_map.ADDRESS_BITS)
            for name, direction, width in AXI_LITE_PORTS}


def _field_value(name: str, **values) -> int:
    """The constant value of register ``name`` with its fields set from ``values``."""
    reg, word = csr_map.register(name), 0
    for key, value in values.items():
        field = reg.field(key)
        if not 0 <= value < (1 << field.width):
            raise ValueError(f"{name}.{key} = {value} does not fit its {field.width} bits")
        word |= value << field.lsb
    return word


class CsrBlock(wiring.Component):
    """Members: the AXI4-Lite slave ports (:data:`AXI_LITE_PORTS`, no prefix); from the core
    ``busy``, ``params_loaded``, ``param_error``, ``image_error``, ``image_cycles``,
    ``layer_cycles`` (32 bits per layer) and ``image_done`` (the class beat's handshake); out
    ``core_reset`` (hold the core in reset) and ``irq``.

    Parameters: ``spec_hash`` (32 bits), ``input_size``, ``input_channels``,
    ``result_bytes``, ``classes``, ``layers`` and ``param_beat_bytes``: the constants of
    ``SPEC_HASH``, ``SHAPE`` and ``LAYOUT``.
    """

    def __init__(self, *, spec_hash: int, input_size: int, input_channels: int, result_bytes: int,
                 classes: int, layers: int, param_beat_bytes: int):
        cycles = csr_map.register("LAYER_CYCLES")
        if not 1 <= layers <= cycles.count:
            raise ValueError(f"layers = {layers}: LAYER_CYCLES has room for 1 to {cycles.count}")
        if not 0 <= spec_hash < 1 << 32:
            raise ValueError(f"spec_hash = {spec_hash:#x} is not a 32-bit value")
        self.layers = layers
        self.constants = {
            "ID": csr_map.IDENTITY,
            "VERSION": _field_value("VERSION", major=csr_map.VERSION_MAJOR, minor=csr_map.VERSION_MINOR),
            "SPEC_HASH": spec_hash,
            "SHAPE": _field_value("SHAPE", input_size=input_size, input_channels=input_channels,
                                  result_bytes=result_bytes),
            "LAYOUT": _field_value("LAYOUT", classes=classes, layers=layers,
                                   param_beat_bytes=param_beat_bytes),
        }
        super().__init__({
            **axi_lite_members(),
            "busy": In(1), "params_loaded": In(1), "param_error": In(1), "image_error": In(1),
            "image_cycles": In(32), "layer_cycles": In(32 * layers), "image_done": In(1),
            "core_reset": Out(1), "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        reg = csr_map.register
        status_bits = reg("IRQ_STATUS")
        enable = Signal(len(status_bits.fields))
        events = Signal(len(status_bits.fields))
        images = Signal(32)
        resets = Signal(32)
        reset_count = Signal(range(SOFT_RESET_CYCLES + 1))
        in_reset = Signal()
        m.d.comb += [in_reset.eq(reset_count != 0), self.core_reset.eq(in_reset),
                     self.irq.eq((events & enable).any())]

        # events: an image is done the cycle after its class beat (the counters are updated then)
        done_pending = Signal()
        loaded_before = Signal()
        error_before = Signal()
        m.d.sync += [done_pending.eq(self.image_done), loaded_before.eq(self.params_loaded),
                     error_before.eq(self.param_error)]
        new_events = Signal.like(events)
        bit = lambda name: status_bits.field(name).lsb  # noqa: E731
        m.d.comb += [
            new_events[bit("image_done")].eq(done_pending),
            new_events[bit("image_error")].eq(done_pending & self.image_error),
            new_events[bit("params_done")].eq(self.params_loaded & ~loaded_before),
            new_events[bit("param_error")].eq(self.param_error & ~error_before),
        ]
        with m.If(done_pending):
            m.d.sync += images.eq(images + 1)

        status = Signal(32)
        status_reg = reg("STATUS")
        for name in ("busy", "params_loaded", "param_error", "image_error"):
            m.d.comb += status[status_reg.field(name).lsb].eq(getattr(self, name))
        m.d.comb += status[status_reg.field("in_reset").lsb].eq(in_reset)

        # the read side: address taken when no response is pending; data the cycle after
        with m.If(self.rvalid & self.rready):
            m.d.sync += self.rvalid.eq(0)
        m.d.comb += self.arready.eq(~self.rvalid)
        word = self.araddr[2:]
        with m.If(self.arvalid & self.arready):
            m.d.sync += [self.rvalid.eq(1), self.rdata.eq(0), self.rresp.eq(SLVERR)]
            with m.Switch(word):
                readable = {**{name: Const(value, 32) for name, value in self.constants.items()},
                            "STATUS": status, "IRQ_ENABLE": enable, "IRQ_STATUS": events,
                            "IMAGES": images, "RESETS": resets, "IMAGE_CYCLES": self.image_cycles,
                            "CONTROL": Const(0, 32)}
                for name, value in readable.items():
                    with m.Case(reg(name).offset // 4):
                        m.d.sync += [self.rdata.eq(value), self.rresp.eq(OKAY)]
                cycles = reg("LAYER_CYCLES")
                for index in range(cycles.count):
                    with m.Case(cycles.address(index) // 4):
                        value = self.layer_cycles.word_select(index, 32) if index < self.layers else 0
                        m.d.sync += [self.rdata.eq(value), self.rresp.eq(OKAY)]

        # the write side: address and data taken together when no response is pending
        with m.If(self.bvalid & self.bready):
            m.d.sync += self.bvalid.eq(0)
        take = self.awvalid & self.wvalid & ~self.bvalid
        m.d.comb += [self.awready.eq(take), self.wready.eq(take)]
        strobe = Cat(*(self.wstrb[byte].replicate(8) for byte in range(4)))
        written = self.wdata & strobe
        write_word = self.awaddr[2:]
        clear = Signal.like(events)
        soft_reset = Signal()
        with m.If(take):
            m.d.sync += [self.bvalid.eq(1), self.bresp.eq(SLVERR)]
            with m.Switch(write_word):
                for name in ("ID", "VERSION", "SPEC_HASH", "SHAPE", "LAYOUT", "STATUS", "IMAGES",
                             "RESETS", "IMAGE_CYCLES"):
                    with m.Case(reg(name).offset // 4):   # read-only: ignored, answered OKAY
                        m.d.sync += self.bresp.eq(OKAY)
                cycles = reg("LAYER_CYCLES")
                with m.Case(*(cycles.address(i) // 4 for i in range(cycles.count))):
                    m.d.sync += self.bresp.eq(OKAY)
                with m.Case(reg("CONTROL").offset // 4):
                    m.d.sync += self.bresp.eq(OKAY)
                    m.d.comb += soft_reset.eq(written[reg("CONTROL").field("soft_reset").lsb])
                with m.Case(reg("IRQ_ENABLE").offset // 4):
                    m.d.sync += [self.bresp.eq(OKAY), enable.eq(written[:len(enable)])]
                with m.Case(reg("IRQ_STATUS").offset // 4):
                    m.d.sync += self.bresp.eq(OKAY)
                    m.d.comb += clear.eq(written[:len(events)])
        # a new event wins over a clear of the same bit on the same edge
        m.d.sync += events.eq((events & ~clear) | new_events)

        with m.If(soft_reset):
            m.d.sync += [reset_count.eq(SOFT_RESET_CYCLES), resets.eq(resets + 1)]
        with m.Elif(in_reset):
            m.d.sync += reset_count.eq(reset_count - 1)
        return m
