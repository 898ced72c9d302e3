"""The board's transport: PYNQ's MMIO for the registers and AXI DMA for the streams (docs/host.md).

PYNQ is an optional extra (``pip install rr-mobilenet[board]`` on the board's PYNQ image); it is
imported only when a board is opened, so the project works without it.

:func:`open_board` loads the bitstream ``rrm vivado --system`` builds (its ``.hwh`` beside it),
finds the accelerator IP by its VLNV (:data:`VLNV`, PYNQ binds :class:`AcceleratorIP` to it)
and the DMA engines by their block-design names (``dma_image``: image out of memory, results
into memory; ``dma_param``: the parameter stream), and returns a :class:`host.driver.Driver`.
"""

from __future__ import annotations

import time

import numpy as np

from rrm import csr_map

from .transport import Transport

#: The accelerator IP's VLNV and the block-design cell names (hw/flow/system.py uses the same).
VLNV = csr_map.IP_VLNV
IP_CELL, IMAGE_DMA, PARAM_DMA = csr_map.IP_CELL, csr_map.IMAGE_DMA, csr_map.PARAM_DMA


def _pynq():
    try:
        import pynq
    except ImportError:
        raise ImportError("--board needs PYNQ (the ZCU102's PYNQ image; pip install "
                          "'rr-mobilenet[board]' there): the 'pynq' package is not installed") from None
    return pynq


def accelerator_ip_class():
    """A ``pynq.DefaultIP`` subclass bound to :data:`VLNV` (defined when PYNQ is imported)."""
    pynq = _pynq()

    class AcceleratorIP(pynq.DefaultIP):
        """PYNQ's driver of the rr-mobilenet register block: ``read``/``write`` of its MMIO."""

        bindto = [VLNV]

    return AcceleratorIP


class PynqTransport(Transport):
    """The registers through ``ip`` (a pynq DefaultIP), the streams through the DMA engines
    ``image_dma`` (send: images, receive: results) and ``param_dma`` (send: parameters)."""

    def __init__(self, ip, image_dma, param_dma, *, poll_s: float = 20e-6):
        self.ip, self.image_dma, self.param_dma, self.poll_s = ip, image_dma, param_dma, poll_s
        self._pynq = _pynq()
        self._buffers: list = []
        self._result = None

    def read(self, offset: int) -> int:
        return int(self.ip.read(offset))

    def write(self, offset: int, value: int) -> None:
        self.ip.write(offset, int(value))

    def _buffer(self, data: np.ndarray):
        buffer = self._pynq.allocate(shape=data.shape, dtype=data.dtype)
        buffer[:] = data
        buffer.flush()
        return buffer

    def _wait_idle(self, channel, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not channel.idle:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what}: the DMA channel is not idle after {timeout_s:g} s")
            time.sleep(self.poll_s)

    def send_params(self, beats: np.ndarray, timeout_s: float) -> None:
        buffer = self._buffer(np.asarray(beats, dtype=np.uint32))
        try:
            self.param_dma.sendchannel.transfer(buffer)
            self._wait_idle(self.param_dma.sendchannel, timeout_s, "the parameter stream")
        finally:
            buffer.freebuffer()

    def send_image(self, pixels: bytes) -> None:
        buffer = self._buffer(np.frombuffer(pixels, dtype=np.uint8))
        self._buffers.append(buffer)
        self.image_dma.sendchannel.transfer(buffer)

    def start_results(self, beats: int, beat_bytes: int) -> None:
        self._result = self._pynq.allocate(shape=(beats * beat_bytes,), dtype=np.uint8)
        self.image_dma.recvchannel.transfer(self._result)

    def finish_results(self, timeout_s: float) -> bytes:
        try:
            self._wait_idle(self.image_dma.recvchannel, timeout_s, "the result frame")
            self._result.invalidate()
            return bytes(self._result)
        finally:
            self._free()

    def _free(self) -> None:
        for buffer in [*self._buffers, *([self._result] if self._result is not None else [])]:
            buffer.freebuffer()
        self._buffers, self._result = [], None

    def reset_streams(self) -> None:
        for dma in (self.image_dma, self.param_dma):
            for name in ("sendchannel", "recvchannel"):
                channel = getattr(dma, name, None)
                if channel is not None:
                    channel.stop()
                    channel.start()
        self._free()

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def open_board(bitfile, **driver_options):
    """Load ``bitfile`` (``.bit`` with its ``.hwh``) and return a Driver for its accelerator."""
    from .driver import Driver
    pynq = _pynq()
    accelerator_ip_class()   # registers the driver class for VLNV before the overlay is parsed
    overlay = pynq.Overlay(str(bitfile))
    transport = PynqTransport(getattr(overlay, IP_CELL), getattr(overlay, IMAGE_DMA),
                              getattr(overlay, PARAM_DMA))
    return Driver(transport, **driver_options)
