"""cocotb side of a whole-accelerator run: drive the AXI streams as a plan says, record results.

The plan (a JSON file named by the run's config, written by :mod:`tb.accelerator_sim`)
lists steps; the testbench only streams data in and reads results out, the
accelerator runs every layer by itself. Steps:

``{"op": "params", "file": F, "beats": n, "when_busy": b}``
    Send the first ``n`` beats (default all) of the uint32 parameter stream in
    ``F`` (``.npy``) as one frame; record ``params_loaded`` and ``param_error``. With
    ``when_busy`` true, first wait until the accelerator is ``busy`` (an image queued by
    a ``queue`` step is computing): the stream is offered mid-image.
``{"op": "images", "file": F}``
    Queue every image of ``F`` (uint8 N x H x W x C) back to back; record, per
    image, the logits, the class, ``image_cycles``, ``layer_cycles`` and ``beat_cycle``
    (the clock cycle, counted from time 0, on which the testbench took the class beat: the
    difference of two images' is their interval).
``{"op": "queue", "file": F}`` and ``{"op": "results", "count": r}``
    ``images`` in two halves: queue the images of ``F`` and record none; later collect
    ``r`` results of images queued before, recorded as ``images`` records them.
``{"op": "frames", "file": F, "lengths": [n0, n1, ...], "results": r}``
    Send the pixels of ``F`` (uint8, one row of ``input_channels`` bytes per pixel) as
    frames of ``n0``, ``n1``, ... pixels back to back, ``tlast`` on each frame's final
    pixel (a frame of other than H x W pixels is malformed: the accelerator ends an
    image by its pixel count); record ``r`` image results as ``images`` does.
``{"op": "reset", "file": F, "after_cycles": c}``
    Start sending the first image of ``F``, pull ``aresetn`` low ``c`` cycles
    later (mid-image), release it; record that no result came out.

``gaps``/``backpressure`` pause the sources/the sink on random cycles (``tb.streams.random_pauses``; the image
source on ``image_pause`` of them where the plan gives it); with
``monitor`` every FM write (layer, buffer, address, word, slot enables) is recorded, for
naming the first layer that differs from the golden trace. With ``mutant_select`` (and
``selector``, the input's name) the testbench drives that value on the selector input of
a design with selectable mutations (``rrm mutate``) at time 0, before the clock, the reset
and anything else (0: the original design).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from .streams import PERIOD_NS, current_cycle, random_pauses

#: Cycles an image may take before the testbench gives up (tiny needs ~40k).
IMAGE_TIMEOUT_CYCLES = 20_000_000


class TB:
    """Clock, reset and the three AXI stream models of one accelerator."""

    def __init__(self, dut, gaps: bool, backpressure: bool, image_pause: float | None = None):
        """The bus models; create them once the first reset has settled every register
        (a simulator that starts registers at X, such as Icarus, then never shows one)."""
        self.dut = dut
        bus = lambda prefix: AxiStreamBus.from_prefix(dut, prefix)  # noqa: E731
        self.image = AxiStreamSource(bus("s_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
        self.param = AxiStreamSource(bus("s_axis_param"), dut.aclk, dut.aresetn,
                                     reset_active_level=False)
        self.result = AxiStreamSink(bus("m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
        for model in (self.image, self.param, self.result):
            model.log.setLevel(logging.WARNING)
        if gaps:
            self.image.set_pause_generator(random_pauses(11) if image_pause is None
                                           else random_pauses(11, image_pause))
            self.param.set_pause_generator(random_pauses(12))
        if backpressure:
            self.result.set_pause_generator(random_pauses(13))
        self.writes: list = []

    async def reset(self, cycles: int = 4) -> None:
        self.dut.aresetn.value = 0
        await ClockCycles(self.dut.aclk, cycles)
        self.dut.aresetn.value = 1
        await RisingEdge(self.dut.aclk)

    async def monitor_writes(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.aclk)
            await ReadOnly()
            if dut.debug_write_en.value:
                self.writes.append([int(dut.layer_index.value), int(dut.debug_write_buffer.value),
                                    int(dut.debug_write_addr.value), str(dut.debug_write_data.value),
                                    int(dut.debug_write_slots.value)])

    async def report_layer(self, path: str, every: int = 4096) -> None:
        """Write the layer the sequencer is on into ``path`` every ``every`` cycles (progress
        for long runs; one Python wake-up per ``every`` cycles)."""
        while True:
            await ClockCycles(self.dut.aclk, every)
            with open(path, "w") as out:
                out.write(f"{int(self.dut.layer_index.value)}\n")

    async def load_params(self, beats: np.ndarray) -> dict:
        await self.param.send(AxiStreamFrame(beats.astype("<u4").tobytes()))
        await self.param.wait()
        await ClockCycles(self.dut.aclk, 4)
        return {"loaded": int(self.dut.params_loaded.value), "error": int(self.dut.param_error.value)}

    async def run_images(self, images: np.ndarray, progress: str | None = None) -> list:
        for image in images:
            self.image.send_nowait(AxiStreamFrame(image.tobytes()))
        return await self.results(len(images), progress)

    async def run_frames(self, pixels: np.ndarray, lengths: list, count: int,
                         progress: str | None = None) -> list:
        """Send ``pixels`` as frames of ``lengths`` pixels; collect ``count`` image results."""
        assert sum(lengths) == len(pixels), f"frames of {sum(lengths)} pixels, {len(pixels)} given"
        offset = 0
        for length in lengths:
            self.image.send_nowait(AxiStreamFrame(pixels[offset:offset + length].tobytes()))
            offset += length
        return await self.results(count, progress)

    async def results(self, count: int, progress: str | None = None) -> list:
        """The next ``count`` image results from the result stream, with the status ports."""
        layers = len(self.dut.layer_cycles.value) // 32
        out = []
        for _ in range(count):
            frame = await with_timeout(self.result.recv(), IMAGE_TIMEOUT_CYCLES * PERIOD_NS, "ns")
            await RisingEdge(self.dut.aclk)
            words = np.frombuffer(bytes(frame.tdata), dtype=f"<i{len(self.dut.m_axis_tdata.value) // 8}")
            flat = int(self.dut.layer_cycles.value)
            out.append({
                "logits": [int(v) for v in words[:-1]], "class": int(words[-1]),
                "cycles": int(self.dut.image_cycles.value),
                "layer_cycles": [(flat >> (32 * i)) & 0xFFFFFFFF for i in range(layers)],
                "image_error": int(self.dut.image_error.value),
                "beat_cycle": current_cycle(),
            })
            if progress:
                with open(progress, "a") as done:
                    done.write(f"{out[-1]['cycles']}\n")
        return out


@cocotb.test()
async def run_plan(dut):
    """Execute the plan of RRM_TB_CONFIG and write its results file."""
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    with open(config["plan"]) as plan_file:
        plan = json.load(plan_file)
    if plan.get("mutant_select") is not None:   # a design with selectable mutations: pick one first
        getattr(dut, plan["selector"]).value = plan["mutant_select"]
    cocotb.start_soon(Clock(dut.aclk, PERIOD_NS, unit="ns").start())
    for name in ("s_axis_tvalid", "s_axis_param_tvalid", "m_axis_tready"):
        getattr(dut, name).value = 0
    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, 4)
    dut.aresetn.value = 1
    await RisingEdge(dut.aclk)
    tb = TB(dut, plan.get("gaps", False), plan.get("backpressure", False), plan.get("image_pause"))
    if plan.get("monitor"):
        cocotb.start_soon(tb.monitor_writes())
    if plan.get("layer_file"):
        cocotb.start_soon(tb.report_layer(plan["layer_file"]))
    results = {"steps": []}
    for step in plan["steps"]:
        data = np.load(step["file"], allow_pickle=False) if "file" in step else None
        if step["op"] == "params":
            beats = data[:step.get("beats", len(data))]
            if step.get("when_busy") and not int(dut.busy.value):
                await with_timeout(RisingEdge(dut.busy), IMAGE_TIMEOUT_CYCLES * PERIOD_NS, "ns")
            results["steps"].append({"op": "params", **(await tb.load_params(beats))})
        elif step["op"] == "images":
            results["steps"].append({"op": "images", "images": await tb.run_images(data, plan.get("progress"))})
        elif step["op"] == "queue":
            for image in data:
                tb.image.send_nowait(AxiStreamFrame(image.tobytes()))
            results["steps"].append({"op": "queue", "images": []})
        elif step["op"] == "results":
            results["steps"].append({"op": "images", "images": await tb.results(step["count"], plan.get("progress"))})
        elif step["op"] == "frames":
            results["steps"].append({"op": "frames", "images": await tb.run_frames(
                data, step["lengths"], step["results"], plan.get("progress"))})
        elif step["op"] == "reset":
            tb.image.send_nowait(AxiStreamFrame(data[0].tobytes()))
            await ClockCycles(dut.aclk, step["after_cycles"])
            busy = int(dut.busy.value)
            await tb.reset()
            await ClockCycles(dut.aclk, 10)
            results["steps"].append({"op": "reset", "busy_before": busy,
                                     "results_after": int(not tb.result.empty()),
                                     "loaded_after": int(dut.params_loaded.value)})
        else:
            raise ValueError(f"unknown plan step {step['op']!r}")
    results["writes"] = tb.writes
    with open(config["results"], "w") as out:
        json.dump(results, out)
