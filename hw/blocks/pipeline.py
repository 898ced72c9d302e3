"""The flow control every compute block shares: a stall-all pipeline in front of a stream."""

from __future__ import annotations

from amaranth.hdl import Module, Signal


def stall_all_advance(m: Module, o) -> Signal:
    """The enable of a stall-all pipeline whose last register drives stream ``o``.

    Every stage (and the input's ``ready``) moves together when ``o`` is empty
    or being read this cycle: no bubbles while nothing stalls, everything holds
    when the consumer does. Combinational, so ``ready`` upstream follows
    ``o.ready`` in the same cycle.
    """
    advance = Signal()
    m.d.comb += advance.eq(~o.valid | o.ready)
    return advance
