"""One port shared by several requesters, the one named by ``select`` driving it.

:class:`PortSelect` is a multiplexer of whole interfaces: for a signature written from the
requester's side (a RAM read: address out, data in), every ``Out`` member of the shared
port comes from requester ``select`` and every ``In`` member goes back to all of them.
The top uses it where engines take turns on one RAM port (the FM read, the PW and BN
RAMs, the FM write): the sequencer's current layer kind says whose turn it is.
Combinational: no latency.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .checks import check_int


class PortSelect(wiring.Component):
    """Members: ``requests``: In(signature) x count; ``select``: In(range(count));
    ``port``: Out(signature), driven by ``requests[select]``."""

    def __init__(self, signature: wiring.Signature, count: int):
        if not isinstance(signature, wiring.Signature):
            raise TypeError(f"signature must be a wiring.Signature, not {signature!r}")
        self.count = check_int("count", count, 1)
        self.port_signature = signature
        super().__init__({
            "requests": In(signature).array(count),
            "select": In(range(count)),
            "port": Out(signature),
        })

    def elaborate(self, platform):
        m = Module()
        for path, member, port_value in self.port_signature.flatten(self.port):
            requests = [request for request in self._values(path)]
            if member.flow == Out:       # driven by the requester: take the selected one's
                with m.Switch(self.select):
                    for index, value in enumerate(requests):
                        with m.Case(index):
                            m.d.comb += port_value.eq(value)
            else:                        # a response: every requester sees it
                for value in requests:
                    m.d.comb += value.eq(port_value)
        return m

    def _values(self, path):
        for request in self.requests:
            value = request
            for name in path:
                value = getattr(value, name) if isinstance(name, str) else value[name]
            yield value
