"""RAM join: a stream of read requests joined with a synchronous RAM read port, under backpressure."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory, ReadPort
from amaranth.lib.wiring import In, Out

from .layouts import address_layout, read_layout, shape_of
from .pipeline import stall_all_advance


class RamJoin(wiring.Component):
    """Reads a RAM word for every request beat and sends it on with the request's tag.

    A request ``{addr, tag}`` taken on ``i`` leaves on ``o`` one cycle later as
    ``{data: ram[addr], tag}``, in order. The read port is synchronous: its
    address is taken at the clock edge of the handshake and its ``data`` register
    is the output payload's ``data``. The read port's ``en`` is the stall-all
    pipeline's advance, so while ``o`` stalls the port holds the word of the beat
    on ``o``, the tag register holds its tag, and nothing is read twice or lost.
    Like the compute blocks, ``i.ready`` follows ``o.ready`` combinationally; put a
    :class:`~hw.blocks.skid_buffer.SkidBuffer` before or after to cut that path.

    Writes to the RAM (through the owner's write ports) are seen by a request
    taken after the write's clock edge; a write in the same cycle as the read
    gives the old word unless the owner made the read port transparent for it.

    Latency: 1 cycle from the request's handshake to ``o.valid``.
    Throughput: one request per cycle when ``o`` does not stall.

    Parameters
    ----------
    ram : ReadPort or Memory
        Where to read. A :class:`~amaranth.lib.memory.ReadPort` of a memory the
        caller owns (``memory.read_port()``, synchronous domain; the caller adds the
        memory to its module and may add write ports), so an accelerator can join a
        stream with one of its RAMs; the join drives the port's ``addr`` and ``en``.
        Or a :class:`~amaranth.lib.memory.Memory` not added anywhere else: the join
        makes a read port and adds the memory as its own submodule.
    tag_shape : shape-like
        The payload passed from request to result (e.g. the value and ``last`` a
        Conv PE needs with its weights).

    Members
    -------
    i : In(stream.Signature(address_layout(addr_width, tag_shape)))
        ``addr`` (the port's address width), ``tag``.
    o : Out(stream.Signature(read_layout(ram shape, tag_shape)))
        ``data``: the RAM word at ``addr``; ``tag``: the request's tag.

    Attributes
    ----------
    port : ReadPort
        The read port the join drives.
    memory : Memory or None
        The memory the join owns (``None`` when given a port).
    depth : int or None
        Words in the RAM (``None`` for a port without a memory).
    """

    latency = 1

    def __init__(self, ram, *, tag_shape):
        if isinstance(ram, Memory):
            self.memory, self.port = ram, ram.read_port(domain="sync")
        elif isinstance(ram, ReadPort):
            self.memory, self.port = None, ram
        else:
            raise TypeError(f"ram must be an amaranth.lib.memory ReadPort or Memory, not {ram!r}")
        if self.port.domain == "comb":
            raise ValueError(f"ram must be a synchronous read port, not one in domain {self.port.domain!r}")
        try:
            self.tag_shape = shape_of(tag_shape)
        except TypeError:
            raise TypeError(f"tag_shape must be a shape or layout, not {tag_shape!r}") from None
        self.data_shape = self.port.signature.shape
        self.addr_width = self.port.signature.addr_width
        self.depth = self.port.memory.depth if self.port.memory is not None else None
        self.in_layout = address_layout(self.addr_width, self.tag_shape)
        self.out_layout = read_layout(self.data_shape, self.tag_shape)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        if self.memory is not None:
            m.submodules.memory = self.memory
        advance = stall_all_advance(m, self.o)
        port = self.port
        tag = Signal(self.tag_shape)
        m.d.comb += [
            self.i.ready.eq(advance),
            port.en.eq(advance),
            port.addr.eq(self.i.payload.addr),
            self.o.payload.data.eq(port.data),
            self.o.payload.tag.eq(tag),
        ]
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(self.i.valid), tag.eq(self.i.payload.tag)]
        return m
