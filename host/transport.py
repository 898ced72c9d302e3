"""What the driver needs from a system: register access, three streams, device time.

A :class:`Transport` moves bytes; :class:`host.driver.Driver` decides what they mean. The
board's is :class:`host.board.PynqTransport` (PYNQ's MMIO and AXI DMA), the simulation's
``tb.host_transport.SimTransport`` (cocotbext-axi's models on the RTL).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Transport(ABC):
    """Register access and the image, parameter and result streams of one accelerator system;
    ``supports_interrupt``: :meth:`wait_interrupt` can sleep on the system's ``irq``."""

    supports_interrupt = False

    def wait_interrupt(self, timeout_s: float) -> bool:
        """Return when ``irq`` is high (True) or after ``timeout_s`` device seconds (False)."""
        raise NotImplementedError(f"{type(self).__name__} cannot wait on the interrupt")

    @abstractmethod
    def read(self, offset: int) -> int:
        """The 32-bit register at byte ``offset`` of the register window."""

    @abstractmethod
    def write(self, offset: int, value: int) -> None:
        """Write the 32-bit register at byte ``offset``."""

    @abstractmethod
    def send_params(self, beats: np.ndarray, timeout_s: float) -> None:
        """Stream ``beats`` (uint32, one parameter beat each, ``tlast`` on the final one); return
        when all are taken, TimeoutError after ``timeout_s`` seconds."""

    @abstractmethod
    def send_image(self, pixels: bytes) -> None:
        """Start streaming one frame of pixel bytes (``tlast`` on its final byte); do not wait."""

    @abstractmethod
    def start_results(self, beats: int, beat_bytes: int) -> None:
        """Be ready to take one result frame of ``beats`` beats of ``beat_bytes`` bytes."""

    @abstractmethod
    def finish_results(self, timeout_s: float) -> bytes:
        """The result frame of :meth:`start_results`; TimeoutError after ``timeout_s`` seconds."""

    @abstractmethod
    def reset_streams(self) -> None:
        """Drop whatever the streams still hold (after a soft reset)."""

    @abstractmethod
    def now(self) -> float:
        """Device time in seconds (simulated time in a simulation)."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of device time pass."""
