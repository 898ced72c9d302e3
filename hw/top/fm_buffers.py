"""The feature-map buffers P and Q (docs/design.md §2.2): two block RAMs of ``pe_count``
pixel slots per word, one read port and one write port each.

A layer reads buffer ``src`` and writes the other; the read address goes to both buffers
and ``src`` picks the data. The engines' write request (one enable per slot) goes to the
buffer it names; the image loader's writes into Q take Q's port first (conv1 writes P
meanwhile, so the two never meet on one buffer).

Latency: a read's data is on ``read.data`` the cycle after its address; a write lands at
the clock edge of its request.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from rrm.sizing import sizing
from rrm.spec import Spec

from ..engines.interfaces import FmWrite, ImageWrite, ram_shapes


class FmBuffers(wiring.Component):
    """Members: ``read`` In(RAM read of the FM word), ``src`` In(1), ``write`` In(FmWrite),
    ``image_write`` In(ImageWrite)."""

    def __init__(self, spec: Spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.shapes = shapes = ram_shapes(spec)
        self.mmap = sizing(spec).memories
        super().__init__({
            "read": In(shapes.read("fm_p")),
            "src": In(1),
            "write": In(FmWrite(shapes)),
            "image_write": In(ImageWrite(shapes)),
        })

    def elaborate(self, platform):
        m = Module()
        shapes = self.shapes
        slots = shapes.fm.length
        buffers = []
        for name in ("fm_p", "fm_q"):
            memory = Memory(shape=shapes.fm, depth=shapes.depth[name], init=[])
            m.submodules[f"ram_{name}"] = memory
            buffers.append(memory)
        reads = [memory.read_port() for memory in buffers]
        writes = [memory.write_port(granularity=1) for memory in buffers]  # one enable per slot
        for port in reads:
            m.d.comb += port.addr.eq(self.read.addr)
        m.d.comb += self.read.data.eq(Mux(self.src, reads[1].data, reads[0].data))
        wr, image = self.write, self.image_write
        for index, port in enumerate(writes):
            engine_en = Mux(wr.en & (wr.buffer == index), wr.slots, 0)
            if index == 1:
                m.d.comb += [port.addr.eq(Mux(image.en, image.addr, wr.addr)),
                             port.data.eq(Mux(image.en, image.data, wr.data)),
                             port.en.eq(Mux(image.en, (1 << slots) - 1, engine_en))]
            else:
                m.d.comb += [port.addr.eq(wr.addr), port.data.eq(wr.data), port.en.eq(engine_en)]
        return m
