"""cocotb tests of the parameter loader alone (tb.loader_harness.ParamLoaderHarness).

Streams are :func:`rrm.param_stream.pack_parameters` of random artifacts of the spec, sent
with cocotbext-axi's source (``last`` on the final beat unless a test says otherwise). The
RAMs are read back through the harness's read ports, one address per cycle. Checks:

- ``load_with_gaps``: while ``busy`` is high the loader takes nothing; then a complete stream
  with random gaps (30% of cycles): every RAM equals ``ram_words``, ``loaded`` set, ``error``
  clear, ``idle`` high; ``loaded`` rises two cycles after the final beat's handshake;
- ``load_back_to_back``: ``loaded`` kept over the reset; a stream of another artifact without gaps: ``ParamLoader.beats(spec)``
  handshakes on consecutive cycles (one beat per cycle), every RAM equals the new words;
- ``refused_streams``: cut short (``last`` half way), too long (no ``last`` on the final
  beat: ``error`` already set after it; then one more beat with ``last``), a wrong spec hash,
  a wrong magic: each sets ``error`` and clears ``loaded``; after each, a complete stream loads again (``loaded`` set, ``error`` clear).
"""

from __future__ import annotations

import json
import os

import cocotb
from amaranth.hdl import unsigned
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from golden.random_weights import random_artifact
from hw.engines.param_loader import ParamLoader
from rrm.param_stream import pack_parameters, ram_words
from rrm.sizing import sizing
from rrm.spec import Spec

from .streams import PERIOD_NS, StreamSource, current_cycle, random_pauses

LAYOUT = data.StructLayout({"data": unsigned(32), "last": 1})


def setup():
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    return Spec.from_dict(config["spec"]), config


async def reset(dut):
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.busy.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def beats_of(stream, last_at=None):
    """Stream values: ``last`` on beat ``last_at`` (default: the final one; -1: on none)."""
    last_at = len(stream) - 1 if last_at is None else last_at
    return [{"data": int(b), "last": int(i == last_at)} for i, b in enumerate(stream)]


async def send(dut, source, values, timeout=200000, queued=False):
    """Send ``values`` (unless ``queued``: already sent, none taken yet) and wait until all
    were taken, then 4 more cycles; returns the handshake edges."""
    first = len(source.cycles)
    if not queued:
        source.send_values(values)
    for _ in range(timeout):
        await RisingEdge(dut.clk)
        if len(source.cycles) - first >= len(values):
            break
    assert len(source.cycles) - first == len(values), \
        f"{len(source.cycles) - first} of {len(values)} beats taken"
    for _ in range(4):
        await RisingEdge(dut.clk)
    await ReadOnly()
    return source.cycles[first:]


async def read_back(dut, spec):
    """Every parameter RAM's words through the harness's read ports, one address per cycle
    (address a presented before an edge, its word sampled after that edge)."""
    regions = sizing(spec).memories.param_rams
    out = {r.name: [] for r in regions}
    for addr in range(max(r.depth for r in regions)):
        for r in regions:
            getattr(dut, f"rd_{r.name}_addr").value = min(addr, r.depth - 1)
        await RisingEdge(dut.clk)
        await ReadOnly()
        for r in regions:
            if addr < r.depth:
                out[r.name].append(int(getattr(dut, f"rd_{r.name}_data").value))
        await _leave_read_only(dut)
    return out


async def _leave_read_only(dut):
    """Out of the read-only phase, so that inputs may be written (1 ns after it)."""
    await Timer(1, unit="ns")


def check_rams(got, want):
    for name, words in want.items():
        assert len(got[name]) == len(words), f"{name}: read {len(got[name])} words, ram_words has {len(words)}"
        for addr, (value, golden) in enumerate(zip(got[name], words)):
            assert value == golden, f"{name}[{addr}]: RAM {value:#x}, ram_words {golden:#x}"


def status(dut):
    return {"loaded": int(dut.loaded.value), "error": int(dut.error.value), "idle": int(dut.idle.value)}


@cocotb.test()
async def load_with_gaps(dut):
    spec, config = setup()
    artifact = random_artifact(spec, config["seed"])
    stream = pack_parameters(artifact)
    assert len(stream) == ParamLoader.beats(spec)
    await reset(dut)
    source = StreamSource(dut, "param", LAYOUT, random_pauses(21))
    await ReadOnly()
    assert status(dut) == {"loaded": 0, "error": 0, "idle": 1}, status(dut)
    await RisingEdge(dut.clk)
    # busy: nothing is taken
    dut.busy.value = 1
    source.send_values(beats_of(stream))
    for _ in range(30):
        await RisingEdge(dut.clk)
    assert not source.cycles, f"{len(source.cycles)} beats taken while busy"
    dut.busy.value = 0
    await send(dut, source, beats_of(stream), timeout=10 * len(stream), queued=True)
    assert status(dut) == {"loaded": 1, "error": 0, "idle": 1}, status(dut)
    await _leave_read_only(dut)
    check_rams(await read_back(dut, spec), ram_words(artifact))
    dut._log.info("load_with_gaps: %d beats over %d cycles", len(source.cycles),
                  source.cycles[-1] - source.cycles[0] + 1)
    with open("result_gaps.json", "w") as out:
        json.dump({"beats": len(source.cycles), "span": source.cycles[-1] - source.cycles[0] + 1}, out)


@cocotb.test()
async def load_back_to_back(dut):
    spec, config = setup()
    artifact = random_artifact(spec, config["seed"] + 1)
    stream = pack_parameters(artifact)
    await reset(dut)
    source = StreamSource(dut, "param", LAYOUT, None)
    # watch loaded rise: the edge after which it reads 1
    rises = []

    async def watch():
        before = int(dut.loaded.value)
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            now = int(dut.loaded.value)
            if now and not before:
                rises.append(current_cycle())
            before = now

    # load_with_gaps ran first: its loaded survives the reset (a reset keeps the loaded
    # parameters); the first beat of a new stream clears it
    await ReadOnly()
    assert status(dut) == {"loaded": 1, "error": 0, "idle": 1}, f"after reset: {status(dut)}"
    await _leave_read_only(dut)
    cocotb.start_soon(watch())
    edges = await send(dut, source, beats_of(stream), timeout=2 * len(stream))
    span = edges[-1] - edges[0] + 1
    assert len(edges) == ParamLoader.beats(spec)
    assert span == len(edges), f"{len(edges)} beats took {span} cycles"
    assert status(dut) == {"loaded": 1, "error": 0, "idle": 1}, status(dut)
    assert rises, "loaded never rose"
    # edges record the edge that takes a beat (current_cycle() + 1 of the cycle it is valid in);
    # rises the edge after which loaded reads 1
    loaded_after = rises[-1] - edges[-1]
    # the final beat is valid in cycle E-1 and taken on edge E; loaded reads 1 from cycle E+1,
    # two cycles after the beat's (the module docstring of hw.engines.param_loader)
    assert loaded_after == 1, f"loaded rose {loaded_after} edge(s) after the final beat's handshake edge"
    await _leave_read_only(dut)
    check_rams(await read_back(dut, spec), ram_words(artifact))
    dut._log.info("back to back: %d beats in %d cycles; loaded %d edge(s) after the final beat's",
                  len(edges), span, loaded_after)
    with open("result_rate.json", "w") as out:
        json.dump({"beats": len(edges), "span": span, "loaded_after_final_beat": loaded_after}, out)


@cocotb.test()
async def refused_streams(dut):
    spec, config = setup()
    artifact = random_artifact(spec, config["seed"])
    stream = [int(b) for b in pack_parameters(artifact)]
    await reset(dut)
    source = StreamSource(dut, "param", LAYOUT, random_pauses(5, 0.1))
    good = beats_of(stream)
    # (beats, beats sent after the first check): "too long" has no last on the final beat, so
    # error must be set right after it, before the extra beat that carries last
    extra = [{"data": 0x12345678, "last": 1}]
    cases = {
        "cut short": (beats_of(stream[:len(stream) // 2]), []),
        "too long": (beats_of(stream, last_at=-1), extra),
        "wrong hash": (beats_of(stream[:1] + [stream[1] ^ 1] + stream[2:]), []),
        "wrong magic": (beats_of([stream[0] ^ 0x80000000] + stream[1:]), []),
    }
    figures = {}
    for name, (values, tail) in cases.items():
        await _leave_read_only(dut)
        await send(dut, source, good, timeout=3 * len(good))
        assert status(dut) == {"loaded": 1, "error": 0, "idle": 1}, f"good stream before {name}: {status(dut)}"
        await _leave_read_only(dut)
        await send(dut, source, values, timeout=3 * len(values))
        figures[name] = status(dut)
        assert figures[name]["error"] == 1 and figures[name]["loaded"] == 0, f"{name}: {figures[name]}"
        if tail:
            await _leave_read_only(dut)
            await send(dut, source, tail, timeout=100)
            figures[name + ", then the extra beat"] = status(dut)
            assert status(dut)["error"] == 1 and status(dut)["loaded"] == 0, f"{name} + extra beat: {status(dut)}"
    await _leave_read_only(dut)
    await send(dut, source, good, timeout=3 * len(good))
    assert status(dut) == {"loaded": 1, "error": 0, "idle": 1}, f"good stream at the end: {status(dut)}"
    dut._log.info("refused: %s", figures)
    with open("result_refused.json", "w") as out:
        json.dump(figures, out)
