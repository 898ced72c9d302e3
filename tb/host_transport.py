"""The simulation's transport: the host driver on the RTL through cocotbext-axi (docs/host.md).

:class:`SimTransport` gives :class:`host.driver.Driver` the system of ``rrm_system``
(tb.cocotb_csr.System: an AXI4-Lite master on ``s_axi_ctrl``, AXI4-Stream sources on
``s_axis`` and ``s_axis_param``, a sink on ``m_axis``). The driver is ordinary blocking code:
it runs in a thread started with cocotb's :func:`cocotb.task.bridge`, and each transport
method runs its coroutine in the simulation with :func:`cocotb.task.resume`, so simulated
time passes only while the driver waits on the system. Device time is simulated time.
"""

from __future__ import annotations

import math

import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.task import resume
from cocotb.triggers import ClockCycles, First, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamFrame

from host.transport import Transport

from .streams import PERIOD_NS


class SimTransport(Transport):
    """``system``: a started tb.cocotb_csr.System. The driver can sleep on ``irq``."""

    supports_interrupt = True

    def __init__(self, system):
        self.system = system
        self._beats = 0
        self.interrupts = 0   # wait_interrupt calls that returned with irq high

    # the Transport methods: each runs its coroutine in the simulation and blocks until it ends
    def read(self, offset: int) -> int:
        return resume(self._read)(offset)

    def write(self, offset: int, value: int) -> None:
        resume(self._write)(offset, value)

    def send_params(self, beats: np.ndarray, timeout_s: float) -> None:
        resume(self._send_params)(beats, timeout_s)

    def send_image(self, pixels: bytes) -> None:
        resume(self._send_image)(pixels)

    def finish_results(self, timeout_s: float) -> bytes:
        return resume(self._finish_results)(timeout_s)

    def reset_streams(self) -> None:
        resume(self._reset_streams)()

    def now(self) -> float:
        return resume(self._now)()

    def sleep(self, seconds: float) -> None:
        resume(self._sleep)(seconds)

    def wait_interrupt(self, timeout_s: float) -> bool:
        return resume(self._wait_interrupt)(timeout_s)

    async def _read(self, offset: int) -> int:
        return await self.system.ctrl.read_dword(offset)

    async def _write(self, offset: int, value: int) -> None:
        await self.system.ctrl.write_dword(offset, value)

    async def _send_params(self, beats: np.ndarray, timeout_s: float) -> None:
        source = self.system.param
        source.send_nowait(AxiStreamFrame(np.asarray(beats, dtype="<u4").tobytes()))
        try:
            await with_timeout(source.wait(), _ns(timeout_s), "ns")
        except SimTimeoutError:
            raise TimeoutError(f"the parameter stream was not taken within {timeout_s:g} s") from None

    async def _send_image(self, pixels: bytes) -> None:
        self.system.image.send_nowait(AxiStreamFrame(pixels))

    def start_results(self, beats: int, beat_bytes: int) -> None:
        self._beats = beats   # the sink always takes beats; the frame is collected by finish_results

    async def _finish_results(self, timeout_s: float) -> bytes:
        try:
            frame = await with_timeout(self.system.result.recv(), _ns(timeout_s), "ns")
        except SimTimeoutError:
            raise TimeoutError(f"no result frame within {timeout_s:g} s") from None
        return bytes(frame.tdata)

    async def _reset_streams(self) -> None:
        for model in (self.system.image, self.system.param, self.system.result):
            model.clear()

    async def _wait_interrupt(self, timeout_s: float) -> bool:
        irq = self.system.dut.irq
        if not irq.value:
            await First(RisingEdge(irq), ClockCycles(self.system.dut.aclk, _ns(timeout_s) // PERIOD_NS))
        self.interrupts += bool(irq.value)
        return bool(irq.value)

    async def _now(self) -> float:
        return get_sim_time(unit="ns") * 1e-9

    async def _sleep(self, seconds: float) -> None:
        await ClockCycles(self.system.dut.aclk, max(1, math.ceil(seconds * 1e9 / PERIOD_NS)))


def _ns(seconds: float) -> int:
    """``seconds`` in whole clock periods, in ns (with_timeout needs a multiple of the precision)."""
    return max(1, math.ceil(seconds * 1e9 / PERIOD_NS)) * PERIOD_NS
