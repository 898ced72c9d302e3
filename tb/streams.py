"""cocotb models of ``amaranth.lib.stream`` ports: a source and a sink with pause patterns.

Amaranth flattens a stream ``i`` to ``i__payload``, ``i__valid`` and ``i__ready``.
Both models drive their outputs just after a rising clock edge and sample in the
read-only phase before the next one, so a handshake they record happens at the
next edge whatever the simulator's scheduling. They record the cycle (edge
number) of every handshake, which the tests use to check latency and throughput.
Pause patterns play the role of cocotbext-axi's ``set_pause_generator``: an
iterator of booleans, one per cycle; True holds ``valid`` low (source, only
between beats: a beat once offered stays offered until taken) or ``ready`` low
(sink).
"""

from __future__ import annotations

import itertools
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotb.utils import get_sim_time

from .payload import pack, unpack

#: Clock period of every testbench, in ns.
PERIOD_NS = 10


def never():
    """A pause pattern that never pauses."""
    return itertools.repeat(False)


def random_pauses(seed: int, probability: float = 0.3):
    """A pause pattern that pauses each cycle with ``probability``."""
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


class StreamSource:
    """Drives ``<prefix>__payload``/``__valid`` from a queue, honouring ``__ready``."""

    def __init__(self, dut, prefix: str, layout, pause=None):
        self.clock = dut.clk
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.layout = layout
        self.pause = pause if pause is not None else never()
        self.queue: deque = deque()
        self.cycles: list[int] = []  # handshake edge of every beat sent
        self._busy = False
        self.valid.value = 0
        self._task = cocotb.start_soon(self._run())

    def send(self, values) -> None:
        """Queue beats (each a nested Python value of the layout)."""
        self.queue.extend(pack(self.layout, value) for value in values)

    @property
    def idle(self) -> bool:
        return not self.queue and not self._busy

    async def _run(self):
        taken = False
        while True:
            await RisingEdge(self.clock)
            if taken:
                self.cycles.append(current_cycle())
                self._busy = False
            if not self._busy:
                if self.queue and not next(self.pause):
                    self.payload.value = self.queue.popleft()
                    self.valid.value = 1
                    self._busy = True
                else:
                    self.valid.value = 0
            await ReadOnly()
            taken = self._busy and bool(self.ready.value)


class StreamSink:
    """Takes beats from ``<prefix>__payload``/``__valid``, driving ``__ready`` by a pause pattern."""

    def __init__(self, dut, prefix: str, layout, pause=None):
        self.clock = dut.clk
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.layout = layout
        self.pause = pause if pause is not None else never()
        self.values: list = []
        self.cycles: list[int] = []  # handshake edge of every beat taken
        self.ready.value = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.clock)
            ready = not next(self.pause)
            self.ready.value = int(ready)
            await ReadOnly()
            if ready and self.valid.value:
                self.values.append(unpack(self.layout, int(self.payload.value)))
                self.cycles.append(current_cycle() + 1)

    async def wait_for(self, count: int, timeout_cycles: int) -> list:
        """Wait until ``count`` beats were taken; fail after ``timeout_cycles`` edges."""
        for _ in range(timeout_cycles):
            if len(self.values) >= count:
                break
            await RisingEdge(self.clock)
        assert len(self.values) >= count, \
            f"timeout: {len(self.values)} of {count} beats after {timeout_cycles} cycles"
        return self.values[:count]
