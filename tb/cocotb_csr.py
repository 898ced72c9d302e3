"""cocotb side of the register block test (tb/test_system.py): every register of
:mod:`rrm.csr_map` read and written over AXI4-Lite on the whole system (``rrm_system``).

The config (RRM_TB_CONFIG) names ``params`` (the uint32 parameter stream, .npy), ``image``
(one uint8 image), ``golden`` (its logits) and ``results`` (a JSON file this writes).
"""

from __future__ import annotations

import json
import logging

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp, AxiStreamBus, AxiStreamFrame, \
    AxiStreamSink, AxiStreamSource

from rrm import csr_map
from rrm.csr_map import register

from .harness import load_config
from .streams import PERIOD_NS

IMAGE_TIMEOUT_CYCLES = 200_000


class System:
    """Clock, reset, the AXI4-Lite master and the three stream models of ``rrm_system``."""

    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.aclk, PERIOD_NS, unit="ns").start())
        for name in ("s_axis_tvalid", "s_axis_param_tvalid", "m_axis_tready", "s_axi_ctrl_awvalid",
                     "s_axi_ctrl_wvalid", "s_axi_ctrl_arvalid", "s_axi_ctrl_bready", "s_axi_ctrl_rready"):
            getattr(dut, name).value = 0
        dut.aresetn.value = 0

    async def start(self) -> None:
        dut = self.dut
        await ClockCycles(dut.aclk, 4)
        dut.aresetn.value = 1
        await RisingEdge(dut.aclk)
        stream = lambda prefix: AxiStreamBus.from_prefix(dut, prefix)  # noqa: E731
        self.ctrl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_ctrl"), dut.aclk, dut.aresetn,
                                  reset_active_level=False)
        self.image = AxiStreamSource(stream("s_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
        self.param = AxiStreamSource(stream("s_axis_param"), dut.aclk, dut.aresetn, reset_active_level=False)
        self.result = AxiStreamSink(stream("m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
        for model in (self.ctrl.write_if, self.ctrl.read_if, self.image, self.param, self.result):
            model.log.setLevel(logging.WARNING)

    async def read(self, name: str, index: int = 0) -> int:
        return await self.ctrl.read_dword(register(name).address(index))

    async def write(self, name: str, value: int) -> None:
        await self.ctrl.write_dword(register(name).offset, value)


def bits(name: str, *fields: str) -> int:
    reg = register(name)
    return sum(reg.field(field).mask for field in fields)


@cocotb.test()
async def registers(dut):
    """Identity, constants, status, interrupts, counters and the soft reset, each checked."""
    _, spec, config = load_config()
    system = System(dut)
    await system.start()
    from rrm.memory_map import memory_map
    mmap = memory_map(spec)
    record = {}

    # identity and the build's constants
    assert await system.read("ID") == csr_map.IDENTITY
    version = await system.read("VERSION")
    assert register("VERSION").field("major").get(version) == csr_map.VERSION_MAJOR
    assert await system.read("SPEC_HASH") == mmap.spec_hash
    shape = register("SHAPE")
    value = await system.read("SHAPE")
    assert shape.field("input_size").get(value) == spec.network.input_size
    assert shape.field("input_channels").get(value) == spec.network.input_channels
    assert shape.field("result_bytes").get(value) * 8 == len(dut.m_axis_tdata.value)
    layout = await system.read("LAYOUT")
    assert register("LAYOUT").field("classes").get(layout) == spec.network.num_classes
    assert register("LAYOUT").field("layers").get(layout) == len(mmap.layers)
    assert register("LAYOUT").field("param_beat_bytes").get(layout) * 8 == len(dut.s_axis_param_tdata.value)

    # nothing loaded yet; read-only registers ignore writes; unmapped addresses answer SLVERR
    assert await system.read("STATUS") == 0
    await system.write("SPEC_HASH", 0)
    assert await system.read("SPEC_HASH") == mmap.spec_hash
    unmapped = await system.ctrl.read(0x0FC, 4)
    assert unmapped.resp == AxiResp.SLVERR and bytes(unmapped.data) == bytes(4)
    written = await system.ctrl.write(0x0FC, b"\xff" * 4)
    assert written.resp == AxiResp.SLVERR
    # IRQ_ENABLE reads back; a byte strobe writes only its byte
    await system.write("IRQ_ENABLE", 0xF)
    assert await system.read("IRQ_ENABLE") == 0xF
    await system.ctrl.write(register("IRQ_ENABLE").offset, b"\x00")   # byte 0 only
    assert await system.read("IRQ_ENABLE") == 0

    # a parameter stream for another spec: param_error, its event, the interrupt when enabled
    beats = np.load(config["params"])   # uint32, (beats, words per beat)
    assert beats.shape[1] * 32 == len(dut.s_axis_param_tdata.value)
    wrong = beats.copy()
    wrong[1, 0] ^= 1                      # the spec hash
    await system.param.send(AxiStreamFrame(wrong.astype("<u4").tobytes()))
    await system.param.wait()
    await ClockCycles(dut.aclk, 4)
    assert await system.read("STATUS") == bits("STATUS", "param_error")
    assert await system.read("IRQ_STATUS") == bits("IRQ_STATUS", "param_error")
    assert dut.irq.value == 0, "the interrupt rose while no event was enabled"
    await system.write("IRQ_ENABLE", bits("IRQ_ENABLE", "param_error"))
    await RisingEdge(dut.aclk)
    assert dut.irq.value == 1
    await system.write("IRQ_STATUS", bits("IRQ_STATUS", "param_error"))   # write 1 to clear
    assert await system.read("IRQ_STATUS") == 0
    assert dut.irq.value == 0

    # the right stream: params_loaded, params_done, one beat per cycle
    start = get_sim_time(unit="ns")
    await system.param.send(AxiStreamFrame(beats.astype("<u4").tobytes()))
    await system.param.wait()            # every beat taken
    record["load_cycles"] = round((get_sim_time(unit="ns") - start) / PERIOD_NS)
    await ClockCycles(dut.aclk, 4)
    assert await system.read("STATUS") == bits("STATUS", "params_loaded")
    assert await system.read("IRQ_STATUS") == bits("IRQ_STATUS", "params_done")
    await system.write("IRQ_STATUS", 0xF)

    # one image: the interrupt on its end, the counters, the logits bit for bit
    await system.write("IRQ_ENABLE", bits("IRQ_ENABLE", "image_done"))
    image = np.load(config["image"])
    system.image.send_nowait(AxiStreamFrame(image.tobytes()))
    await ClockCycles(dut.aclk, 20)
    assert register("STATUS").field("busy").get(await system.read("STATUS")) == 1
    await with_timeout(RisingEdge(dut.irq), IMAGE_TIMEOUT_CYCLES * PERIOD_NS, "ns")
    assert await system.read("IRQ_STATUS") == bits("IRQ_STATUS", "image_done")
    assert await system.read("IMAGES") == 1
    frame = system.result.recv_nowait()
    words = np.frombuffer(bytes(frame.tdata), dtype=f"<i{len(dut.m_axis_tdata.value) // 8}")
    golden = np.load(config["golden"])
    assert words[:-1].tolist() == golden.tolist(), (words.tolist(), golden.tolist())
    assert words[-1] == int(np.argmax(golden))
    record["image_cycles"] = await system.read("IMAGE_CYCLES")
    record["layer_cycles"] = [await system.read("LAYER_CYCLES", i) for i in range(len(mmap.layers))]
    record["beyond_layers"] = await system.read("LAYER_CYCLES", len(mmap.layers))
    await system.write("IRQ_STATUS", 0xF)
    assert dut.irq.value == 0

    # a soft reset mid-image: in_reset for SOFT_RESET_CYCLES, RESETS counts it, no result,
    # the parameters stay loaded and the next image runs
    system.image.send_nowait(AxiStreamFrame(image.tobytes()))
    await system.image.wait()   # every pixel taken (a reset mid-frame would misframe the rest)
    await ClockCycles(dut.aclk, 100)
    assert register("STATUS").field("busy").get(await system.read("STATUS")) == 1
    await system.write("CONTROL", bits("CONTROL", "soft_reset"))
    status = await system.read("STATUS")
    assert register("STATUS").field("in_reset").get(status) == 1
    await ClockCycles(dut.aclk, csr_map.SOFT_RESET_CYCLES + 2)
    assert await system.read("STATUS") == bits("STATUS", "params_loaded")
    assert await system.read("RESETS") == 1
    assert await system.read("IMAGES") == 1
    assert system.result.empty()
    system.image.send_nowait(AxiStreamFrame(image.tobytes()))
    await with_timeout(RisingEdge(dut.irq), IMAGE_TIMEOUT_CYCLES * PERIOD_NS, "ns")
    frame = system.result.recv_nowait()
    words = np.frombuffer(bytes(frame.tdata), dtype=f"<i{len(dut.m_axis_tdata.value) // 8}")
    assert words[:-1].tolist() == golden.tolist()
    assert await system.read("IMAGES") == 2
    assert await system.read("IMAGE_CYCLES") == record["image_cycles"]
    with open(config["results"], "w") as out:
        json.dump(record, out)
