"""cocotb side of a host-driver run (tb.host_sim): :class:`host.driver.Driver` on ``rrm_system``.

The plan (JSON, named by the run's config) lists steps; each runs through the driver, and
its result or the driver's exception (type and message) is recorded:

``{"op": "load", "artifact": DIR}``
    ``Driver.load`` of the artifact in DIR (its spec hash is checked first).
``{"op": "load_stream", "file": F}``
    ``Driver.load_stream`` of the uint32 beats in F, unchecked.
``{"op": "classify", "file": F, "timeout_s": t}``
    ``Driver.classify`` of the uint8 images in F: logits, classes, cycles.

Each step also records ``interrupts``: how many of the driver's waits the ``irq`` line ended.
``{"op": "classify_reset", "file": F, "after_cycles": c}``
    ``Driver.classify`` of the first image of F while another AXI4-Lite writer pulses
    CONTROL.soft_reset ``c`` cycles after the image's last pixel was taken.
``{"op": "frames", "file": F, "lengths": [...], "timeout_s": t}``
    ``Driver.run_frames`` with the pixels of F cut into frames of those lengths.
``{"op": "recover"}``
    ``Driver.recover``: the soft reset and empty streams; records STATUS.
"""

from __future__ import annotations

import json

import numpy as np

import cocotb
from cocotb.task import bridge
from cocotb.triggers import ClockCycles

from host.driver import Driver
from rrm.artifact import load_artifact
from rrm.csr_map import register

from .cocotb_csr import System
from .host_transport import SimTransport


def _error(exc: Exception) -> dict:
    return {"error": type(exc).__name__, "message": str(exc)}


async def _reset_later(system: System, after_cycles: int) -> None:
    """Another writer on the register block: a soft reset ``after_cycles`` after the image's
    last pixel was taken."""
    while system.image.idle():   # the frame has not been queued yet
        await ClockCycles(system.dut.aclk, 1)
    await system.image.wait()
    await ClockCycles(system.dut.aclk, after_cycles)
    await system.ctrl.write_dword(register("CONTROL").offset, register("CONTROL").field("soft_reset").mask)


def run_step(driver: Driver, step: dict) -> dict:
    """One plan step through the driver (blocking: runs in the bridge thread)."""
    op = step["op"]
    try:
        if op == "load":
            driver.load(load_artifact(step["artifact"]))
            return {"status": driver.status()}
        if op == "load_stream":
            driver.load_stream(np.load(step["file"], allow_pickle=False))
            return {"status": driver.status()}
        if op in ("classify", "classify_reset"):
            images = np.load(step["file"], allow_pickle=False)
            if op == "classify_reset":
                images = images[:1]
            result = driver.classify(images, timeout_s=step.get("timeout_s", 1.0))
            return {"logits": result.logits.tolist(), "classes": result.classes.tolist(),
                    "cycles": result.image_cycles, "layer_cycles": result.layer_cycles}
        if op == "frames":
            pixels = np.load(step["file"], allow_pickle=False).reshape(-1, driver.input_channels)
            frames, offset = [], 0
            for length in step["lengths"]:
                frames.append(pixels[offset:offset + length].tobytes())
                offset += length
            logits, cls, cycles, _ = driver.run_frames(frames, timeout_s=step.get("timeout_s", 1.0))
            return {"logits": logits, "class": cls, "cycles": cycles}
        if op == "recover":
            return {"status": driver.recover(), "resets": driver.read("RESETS")}
        raise ValueError(f"unknown plan step {op!r}")
    except Exception as exc:   # the driver's errors are results of the plan
        return _error(exc)


@cocotb.test()
async def run_plan(dut):
    """Open the driver on the simulated system, run the plan of RRM_TB_CONFIG, write its results."""
    import os
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    with open(config["plan"]) as plan_file:
        plan = json.load(plan_file)
    system = System(dut)
    await system.start()
    transport = SimTransport(system)
    driver = await bridge(Driver)(transport)
    results = {"opened": {"spec_hash": driver.spec_hash, "classes": driver.classes, "layers": driver.layers,
                          "use_interrupt": driver.use_interrupt},
               "steps": []}
    for step in plan["steps"]:
        if step["op"] == "classify_reset":
            cocotb.start_soon(_reset_later(system, step["after_cycles"]))
        interrupts = transport.interrupts
        outcome = await bridge(run_step)(driver, step)
        results["steps"].append({"op": step["op"], **outcome, "interrupts": transport.interrupts - interrupts})
        if plan.get("progress"):
            with open(plan["progress"], "a") as progress:
                progress.write(f"{step['op']}\n")
    with open(config["results"], "w") as out:
        json.dump(results, out)
