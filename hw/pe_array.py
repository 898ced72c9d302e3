"""A PE array: ``count`` identical PEs in lock step behind one stream handshake."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .checks import check_int


class PEArray(wiring.Component):
    """``count`` copies of a PE that share one handshake (the paper's PE array).

    PE ``p`` gets ``i.payload[p]`` and drives ``o.payload[p]``. Every PE is a
    stall-all pipeline driven by the same ``valid``/``ready``, so all stay in
    the same state and PE 0's ``i.ready``/``o.valid`` stand for all of them.

    Latency: that of one PE (``self.latency``).
    Throughput: that of one PE, for all ``count`` PEs at once (``count`` times the MACs).

    Parameters
    ----------
    make_pe : callable
        Returns a new PE component (with ``i``/``o`` streams, ``latency``).
    count : int
        PEs in the array (1..64).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(pe.in_layout, count)))
        One PE input per PE.
    o : Out(stream.Signature(ArrayLayout(pe.out_layout, count)))
        One PE output per PE.
    """

    def __init__(self, make_pe, count: int):
        self.count = check_int("count", count, 1, 64)
        self.pes = [make_pe() for _ in range(count)]
        first = self.pes[0]
        self.latency = first.latency
        self.pe_in_layout, self.pe_out_layout = first.in_layout, first.out_layout
        self.in_layout = data.ArrayLayout(first.in_layout, count)
        self.out_layout = data.ArrayLayout(first.out_layout, count)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        for index, pe in enumerate(self.pes):
            m.submodules[f"pe{index}"] = pe
            m.d.comb += [
                pe.i.payload.eq(self.i.payload[index]),
                pe.i.valid.eq(self.i.valid),
                pe.o.ready.eq(self.o.ready),
                self.o.payload[index].eq(pe.o.payload),
            ]
        m.d.comb += [self.i.ready.eq(self.pes[0].i.ready), self.o.valid.eq(self.pes[0].o.valid)]
        return m


def depthwise_pe_array(*, pe_count: int, **pe_parameters) -> PEArray:
    """The DW module: ``pe_count`` :class:`~hw.dw_pe.DepthwisePE` in lock step."""
    from .dw_pe import DepthwisePE
    return PEArray(lambda: DepthwisePE(**pe_parameters), pe_count)


def conv_pe_array(*, pe_count: int, **pe_parameters) -> PEArray:
    """The Conv module: ``pe_count`` :class:`~hw.conv_pe.ConvPE` in lock step."""
    from .conv_pe import ConvPE
    return PEArray(lambda: ConvPE(**pe_parameters), pe_count)
