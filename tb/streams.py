"""cocotbext-axi's AXI stream source and sink on ``amaranth.lib.stream`` ports.

Amaranth flattens a stream ``i`` to ``i__payload``, ``i__valid`` and ``i__ready``;
:class:`StreamBus` maps them to ``tdata``/``tvalid``/``tready`` (no ``tlast``,
``tkeep``...). Both ends use one "byte" lane as wide as the payload
(``byte_lanes=1``), so a payload of any width (not only multiples of 8 bits) is
one word of ``tdata``: the source sends a frame's words as consecutive beats, and
the sink, seeing no ``tlast``, ends a frame after every beat. Random valid gaps
and backpressure are cocotbext-axi's pause generators (``set_pause_generator``;
the source pauses only between beats).

The one thing written here is the record of handshake cycles the tests check
latency and throughput on: :func:`record_handshakes` samples ``valid & ready``
in the read-only phase after each rising edge, i.e. the values the next edge
takes, so the cycle it records is the handshake edge whatever the simulator's
scheduling.
"""

from __future__ import annotations

import logging
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from .payload import pack, unpack

#: Clock period of every testbench, in ns.
PERIOD_NS = 10


class StreamBus(AxiStreamBus):
    """The ports of an Amaranth stream under cocotbext-axi's AXI stream names."""

    _signals = {"tdata": "payload"}
    _optional_signals = {"tvalid": "valid", "tready": "ready"}

    @classmethod
    def of(cls, dut, prefix: str) -> "StreamBus":
        return cls.from_prefix(dut, prefix, bus_separator="__")


def random_pauses(seed: int, probability: float = 0.3):
    """A pause generator that pauses each cycle with ``probability``."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def current_cycle() -> int:
    """Number of the last rising edge (edges at 0, PERIOD, 2*PERIOD, ... ns)."""
    return int(get_sim_time(unit="ns")) // PERIOD_NS


async def start_clock_and_reset(dut, cycles: int = 2) -> None:
    """Start ``dut.clk`` and hold ``dut.rst`` for ``cycles`` edges."""
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


def record_handshakes(bus: StreamBus, clock) -> list[int]:
    """A list that gets the edge number of every handshake (valid & ready) on ``bus``."""
    cycles: list[int] = []

    async def run():
        while True:
            await ReadOnly()
            if bus.tvalid.value and bus.tready.value:
                cycles.append(current_cycle() + 1)
            await RisingEdge(clock)

    cocotb.start_soon(run())
    return cycles


class _OnAmaranthStream:
    """What source and sink share: cocotbext-axi's model on ``<prefix>__*`` with one
    full-width byte lane, quiet logs, a pause generator and the handshake record."""

    def __init__(self, dut, prefix: str, layout, pause=None):
        bus = StreamBus.of(dut, prefix)
        super().__init__(bus, dut.clk, dut.rst, byte_lanes=1)
        self.log.setLevel(logging.WARNING)  # not one line per beat
        self.layout = layout
        self.cycles = record_handshakes(bus, dut.clk)
        self.set_pause_generator(pause)


class StreamSource(_OnAmaranthStream, AxiStreamSource):
    """AxiStreamSource sending values of ``layout``; ``cycles``: handshake edges."""

    def send_values(self, values) -> None:
        """Queue beats (each a nested Python value of the layout) as one frame."""
        self.send_nowait(AxiStreamFrame([pack(self.layout, value) for value in values]))


class StreamSink(_OnAmaranthStream, AxiStreamSink):
    """AxiStreamSink; ``values``: beats taken (unpacked), ``cycles``: their edges."""

    def __init__(self, dut, prefix: str, layout, pause=None):
        super().__init__(dut, prefix, layout, pause)
        self.values: list = []

    async def wait_for(self, count: int, timeout_cycles: int) -> list:
        """Wait until ``count`` beats were taken; fail after ``timeout_cycles`` edges."""
        for _ in range(timeout_cycles + 1):
            while not self.empty():
                self.values += [unpack(self.layout, int(word)) for word in self.recv_nowait().tdata]
            if len(self.values) >= count:
                break
            await RisingEdge(self.clock)
        assert len(self.values) >= count, \
            f"timeout: {len(self.values)} of {count} beats after {timeout_cycles} cycles"
        return self.values[:count]
