"""Skid buffer: a two-entry stream register that cuts every combinational path through it."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import shape_of


class SkidBuffer(wiring.Component):
    """A stream register slice with registered ``o.valid``/``o.payload`` and registered ``i.ready``.

    The output register holds the beat on ``o``; a second (skid) register
    catches the beat that was accepted in the cycle ``o`` stalled, because
    ``i.ready`` is a register and so cannot drop in that same cycle. ``i.ready``
    is high exactly while the skid register is empty. Nothing on ``o`` depends
    combinationally on ``i`` and nothing on ``i`` on ``o``, so a skid buffer
    between two stall-all pipelines breaks both the ``valid``/``payload`` path
    and the ``ready`` path without losing throughput.

    Latency: 1 cycle from the input handshake to ``o.valid`` (when the skid
    register is empty).
    Throughput: one beat per cycle while ``o.ready`` is high; after a stall the
    skid beat leaves first, then input flows again.

    Parameters
    ----------
    shape : shape-like
        Payload shape or layout.

    Members
    -------
    i : In(stream.Signature(shape))
        Input beats.
    o : Out(stream.Signature(shape))
        The same beats in the same order.
    """

    latency = 1

    def __init__(self, shape):
        try:
            self.shape = shape_of(shape)
        except TypeError:
            raise TypeError(f"shape must be a shape or layout, not {shape!r}") from None
        super().__init__({
            "i": In(stream.Signature(self.shape)),
            "o": Out(stream.Signature(self.shape)),
        })

    def elaborate(self, platform):
        m = Module()
        skid = Signal(self.shape)
        skid_valid = Signal()
        m.d.comb += self.i.ready.eq(~skid_valid)
        take = self.i.valid & self.i.ready
        with m.If(~self.o.valid | self.o.ready):
            # The output register is free this cycle: refill it, oldest beat first.
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += self.o.valid.eq(self.i.valid)
                with m.If(take):
                    m.d.sync += self.o.payload.eq(self.i.payload)
        with m.Elif(take):
            # The output stalls: the beat accepted this cycle waits in the skid register.
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
