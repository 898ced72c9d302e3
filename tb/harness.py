"""Shared pieces of the cocotb test modules: the design under test's config, a stream run, timing checks."""

from __future__ import annotations

import json
import os

from cocotb.triggers import ReadOnly, RisingEdge

from rrm.spec import Spec

from .streams import StreamSink, StreamSource, random_pauses, start_clock_and_reset


def load_config():
    """(component, spec, config) of the design under test, from RRM_TB_CONFIG.

    The component is rebuilt from the block name and spec exactly as it was
    for the Verilog, so the test reads layouts and latency from the same object.
    """
    from hw.top.catalog import build_block
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    spec = Spec.from_dict(config["spec"])
    return build_block(config["block"], spec), spec, config


#: Stall modes every stream testbench runs over, for valid gaps and for
#: backpressure each (four combinations, as cocotbext-axi's tests do).
STALLS = ("none", "random")


def pause_pattern(kind: str, seed: int):
    """A pause generator: ``"none"``: None (never pause); ``"random"``: pause 30% of cycles (seeded)."""
    return None if kind == "none" else random_pauses(seed)


async def run_streams(dut, inputs: dict, out_prefix: str, out_layout, out_count: int,
                      gaps: str = "none", backpressure: str = "none", timeout_cycles: int = 100000,
                      reset: bool = True):
    """Send ``inputs`` ({prefix: (layout, beats)}) and collect ``out_count`` beats of ``out_prefix``.

    ``gaps`` pauses the sources, ``backpressure`` the sink (see :func:`pause_pattern`).
    Returns (sources by prefix, sink) with their handshake cycles recorded.
    """
    if reset:
        await start_clock_and_reset(dut)
    sources = {}
    for index, (prefix, (layout, beats)) in enumerate(inputs.items()):
        source = StreamSource(dut, prefix, layout, pause_pattern(gaps, 100 + index))
        source.send_values(beats)
        sources[prefix] = source
    sink = StreamSink(dut, out_prefix, out_layout, pause_pattern(backpressure, 7))
    await sink.wait_for(out_count, timeout_cycles)
    await RisingEdge(dut.clk)
    return sources, sink


def check_values(got: list, want: list, describe=lambda index: f"beat {index}") -> None:
    """Every output equals the golden one; a mismatch names it with ``describe(index)``."""
    assert len(got) == len(want), f"{len(got)} outputs, golden has {len(want)}"
    for index, (value, golden) in enumerate(zip(got, want)):
        assert value == golden, f"{describe(index)}: got {value}, golden {golden}"


def check_latency(in_cycles: list[int], out_cycles: list[int], latency: int,
                  completing: list[int] | None = None) -> None:
    """Output k leaves ``latency`` cycles after the handshake of input beat
    ``completing[k]`` (default: beat k), the one that completes it.

    Valid only for runs without backpressure (the sink always ready).
    """
    for k, out_cycle in enumerate(out_cycles):
        measured = out_cycle - in_cycles[completing[k] if completing is not None else k]
        assert measured == latency, f"output {k}: latency {measured} cycles, documented {latency}"


def check_back_to_back(cycles: list[int], what: str) -> None:
    """Handshakes on consecutive cycles: throughput one beat per cycle."""
    span = cycles[-1] - cycles[0] + 1
    assert span == len(cycles), f"{what}: {len(cycles)} beats took {span} cycles, expected one per cycle"


#: Cycles after an engine harness's ``finished`` in which no FM write may come.
QUIET_AFTER_DONE = 8


async def record_engine_writes(dut, limit: int, each_cycle=None) -> tuple[list, int]:
    """Run an engine harness until ``finished``: every FM write as (edge, buffer, addr, word,
    slots), edges counted from the call; ``each_cycle(edge)`` is called on every edge (in the
    read-only phase). Fails after ``limit`` edges, or on a write in the
    :data:`QUIET_AFTER_DONE` cycles after ``finished``. Returns (writes, finishing edge)."""
    writes, edge = [], 0
    while True:
        await ReadOnly()
        if dut.write_en.value:
            writes.append((edge, int(dut.write_buffer.value), int(dut.write_addr.value),
                           int(dut.write_data.value), int(dut.write_slots.value)))
        if each_cycle is not None:
            each_cycle(edge)
        if dut.finished.value:
            break
        assert edge < limit, f"no done after {edge} cycles"
        await RisingEdge(dut.clk)
        edge += 1
    for _ in range(QUIET_AFTER_DONE):
        await RisingEdge(dut.clk)
        await ReadOnly()
        assert not dut.write_en.value, "FM write after done"
    return writes, edge
