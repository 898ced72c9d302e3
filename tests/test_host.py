"""The host driver's checks and the PYNQ transport without hardware: a register file stands in
for the system (the driver on the RTL is tb/test_host_driver.py), a fake ``pynq`` module for
PYNQ (which is not installed here: host.board imports it only when a board is opened)."""

from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import pytest

from host.driver import Driver
from host.errors import (DeviceTimeout, ImageShapeError, NotAnAcceleratorError, ParamStreamError,
                         VersionError)
from host.transport import Transport
from rrm import csr_map
from rrm.csr_map import register


class RegisterFile(Transport):
    """Registers in a dict, streams that take everything, a clock that moves only in sleep()."""

    def __init__(self, **overrides):
        shape, layout = register("SHAPE"), register("LAYOUT")
        self.registers = {
            "ID": csr_map.IDENTITY, "VERSION": csr_map.VERSION_MAJOR << 16, "SPEC_HASH": 0x1234,
            "SHAPE": (8 << shape.field("input_size").lsb) | (1 << shape.field("input_channels").lsb)
                     | (4 << shape.field("result_bytes").lsb),
            "LAYOUT": (3 << layout.field("classes").lsb) | (2 << layout.field("layers").lsb)
                      | (16 << layout.field("param_beat_bytes").lsb),
            "STATUS": 0, "IMAGES": 0, "RESETS": 0, "IRQ_STATUS": 0, **overrides}
        self.time, self.sent = 0.0, []

    def read(self, offset):
        for reg in csr_map.REGISTERS:
            if reg.offset == offset:
                return self.registers.get(reg.name, 0)
        return 0

    def write(self, offset, value):
        self.sent.append(("write", offset, value))

    def send_params(self, beats, timeout_s):
        self.sent.append(("params", beats.shape))

    def send_image(self, pixels):
        self.sent.append(("image", len(pixels)))

    def start_results(self, beats, beat_bytes):
        pass

    def finish_results(self, timeout_s):
        raise TimeoutError("no results")

    def reset_streams(self):
        pass

    def now(self):
        return self.time

    def sleep(self, seconds):
        self.time += seconds


def test_opening_reads_the_builds_constants():
    driver = Driver(RegisterFile())
    assert (driver.spec_hash, driver.input_size, driver.input_channels, driver.classes, driver.layers,
            driver.result_bytes, driver.param_beat_bytes) == (0x1234, 8, 1, 3, 2, 4, 16)


def test_the_interrupt_is_used_only_where_the_transport_can_wait_on_it():
    transport = RegisterFile()
    assert Driver(transport).use_interrupt is False
    assert ("write", register("IRQ_ENABLE").offset, 0) in transport.sent
    with pytest.raises(ValueError, match="use_interrupt: RegisterFile cannot wait on the interrupt"):
        Driver(RegisterFile(), use_interrupt=True)


def test_another_device_or_map_version_is_refused():
    with pytest.raises(NotAnAcceleratorError, match="ID reads 0xdeadbeef"):
        Driver(RegisterFile(ID=0xDEADBEEF))
    with pytest.raises(VersionError, match="VERSION.major is 2"):
        Driver(RegisterFile(VERSION=2 << 16))


def test_an_image_that_never_finishes_times_out_in_device_time():
    transport = RegisterFile(STATUS=register("STATUS").field("params_loaded").mask
                             | register("STATUS").field("busy").mask)
    driver = Driver(transport)
    with pytest.raises(DeviceTimeout, match=r"timed out after 0.001 s waiting for image 0 to finish.*busy=1"):
        driver.classify(np.zeros((1, 8, 8, 1), dtype=np.uint8), timeout_s=1e-3)
    assert 1e-3 <= transport.time < 1e-3 + 2 * driver.poll_s
    assert ("image", 64) in transport.sent


def test_images_of_another_shape_are_refused_before_anything_is_sent():
    transport = RegisterFile(STATUS=register("STATUS").field("params_loaded").mask)
    with pytest.raises(ImageShapeError, match=r"uint8 N x 8 x 8 x 1 \(SHAPE\), not uint8 of shape \(1, 8, 8, 3\)"):
        Driver(transport).classify(np.zeros((1, 8, 8, 3), dtype=np.uint8))
    assert not [item for item in transport.sent if item[0] == "image"]


def test_a_refused_stream_names_the_bit():
    transport = RegisterFile(STATUS=register("STATUS").field("param_error").mask)
    with pytest.raises(ParamStreamError, match=r"^STATUS.param_error is set: The last parameter stream was refused"):
        Driver(transport).load_stream(np.zeros((4, 4), dtype=np.uint32))
    with pytest.raises(ValueError, match=r"16 bytes \(LAYOUT.param_beat_bytes\): a uint32 array of shape \(n, 4\)"):
        Driver(transport).load_stream(np.zeros(8, dtype=np.uint32))


# ----------------------------------------------------------------------------- the PYNQ transport
class FakeBuffer(np.ndarray):
    freed = flushed = invalidated = 0

    def flush(self):
        type(self).flushed += 1

    def invalidate(self):
        type(self).invalidated += 1

    def freebuffer(self):
        type(self).freed += 1


class FakeChannel:
    def __init__(self, idle_after=0):
        self.transfers, self.idle_after, self.calls = [], idle_after, []

    def transfer(self, buffer):
        self.transfers.append(np.array(buffer))
        self.buffer = buffer

    @property
    def idle(self):
        self.idle_after -= 1
        return self.idle_after < 0

    def stop(self):
        self.calls.append("stop")

    def start(self):
        self.calls.append("start")


@pytest.fixture
def fake_pynq(monkeypatch):
    module = types.ModuleType("pynq")

    class DefaultIP:
        pass

    module.DefaultIP = DefaultIP
    module.allocate = lambda shape, dtype: np.zeros(shape, dtype=dtype).view(FakeBuffer)
    monkeypatch.setitem(sys.modules, "pynq", module)
    FakeBuffer.freed = FakeBuffer.flushed = FakeBuffer.invalidated = 0
    return module


def test_host_board_imports_without_pynq():
    sys.modules.pop("host.board", None)
    board = importlib.import_module("host.board")
    assert board.VLNV == csr_map.IP_VLNV
    if importlib.util.find_spec("pynq") is None:
        with pytest.raises(ImportError, match="'pynq' package is not installed"):
            board.accelerator_ip_class()


def test_the_ip_class_binds_to_the_vlnv(fake_pynq):
    from host.board import accelerator_ip_class
    ip_class = accelerator_ip_class()
    assert issubclass(ip_class, fake_pynq.DefaultIP) and ip_class.bindto == [csr_map.IP_VLNV]


def test_pynq_transport_moves_the_bytes(fake_pynq):
    from host.board import PynqTransport
    image_dma = types.SimpleNamespace(sendchannel=FakeChannel(), recvchannel=FakeChannel(idle_after=2))
    param_dma = types.SimpleNamespace(sendchannel=FakeChannel(idle_after=1))
    transport = PynqTransport(types.SimpleNamespace(read=lambda offset: offset + 1, write=None), image_dma,
                              param_dma, poll_s=0)
    assert transport.read(0x24) == 0x25
    beats = np.arange(8, dtype=np.uint32).reshape(2, 4)
    transport.send_params(beats, timeout_s=1)
    assert np.array_equal(param_dma.sendchannel.transfers[0], beats)
    transport.send_image(bytes(range(4)))
    assert image_dma.sendchannel.transfers[0].tolist() == [0, 1, 2, 3]
    transport.start_results(3, 4)
    image_dma.recvchannel.buffer[:] = np.arange(12, dtype=np.uint8)
    assert transport.finish_results(timeout_s=1) == bytes(range(12))
    assert FakeBuffer.freed == 3 and FakeBuffer.invalidated == 1   # params, image, results
    transport.reset_streams()
    assert image_dma.sendchannel.calls == image_dma.recvchannel.calls == ["stop", "start"]


def test_pynq_transport_times_out_on_a_stuck_dma(fake_pynq):
    from host.board import PynqTransport
    stuck = types.SimpleNamespace(sendchannel=FakeChannel(idle_after=10**9))
    transport = PynqTransport(None, stuck, stuck, poll_s=0)
    with pytest.raises(TimeoutError, match="the parameter stream: the DMA channel is not idle after 0.01 s"):
        transport.send_params(np.zeros(4, dtype=np.uint32), timeout_s=0.01)
    assert FakeBuffer.freed == 1
