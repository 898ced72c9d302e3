"""cocotb tests of the skid buffer: every beat through in order under gaps and backpressure,
and no combinational path from ``o`` to ``i.ready`` or from ``i`` to ``o``.

The model is the identity: random payloads of the block's layout (the Conv PE's
input beat) leave in the order they came. Without stalls: latency 1 and one beat
per cycle in and out. The path test drives the ports by hand and changes
``o.ready``/``i.valid`` between clock edges: ``i.ready``, ``o.valid`` and
``o.payload`` must not move until the next edge.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.triggers import RisingEdge, Timer

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams
from .payload import pack, random_value, unpack
from .streams import PERIOD_NS, start_clock_and_reset


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def streaming(dut, gaps, backpressure):
    """Random beats with and without stalls: the same beats out, in order; without stalls
    also the documented latency and one beat per cycle."""
    block, _, _ = load_config()
    rng = random.Random(1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
    beats = [random_value(block.shape, rng) for _ in range(300)]
    sources, sink = await run_streams(dut, {"i": (block.shape, beats)}, "o", block.shape, len(beats),
                                      gaps, backpressure)
    check_values(sink.values, beats)
    if gaps == "none" and backpressure == "none":
        check_latency(sources["i"].cycles, sink.cycles, block.latency)
        check_back_to_back(sources["i"].cycles, "beats in")
        check_back_to_back(sink.cycles, "beats out")


@cocotb.test()
async def paths_are_registered(dut):
    """Between edges, ``i.ready`` ignores ``o.ready`` and ``o.valid``/``o.payload`` ignore ``i``;
    a beat taken while ``o`` stalls waits in the skid register and leaves next."""
    block, _, _ = load_config()
    rng = random.Random(5)
    first, second = (random_value(block.shape, rng) for _ in range(2))
    dut.i__valid.value, dut.o__ready.value = 0, 0
    await start_clock_and_reset(dut)

    async def mid_cycle():
        await RisingEdge(dut.clk)
        await Timer(PERIOD_NS // 2, unit="ns")

    async def settle():
        await Timer(1, unit="ns")

    def state():
        return int(dut.i__ready.value), int(dut.o__valid.value), unpack(block.shape, int(dut.o__payload.value))

    await mid_cycle()
    assert state()[:2] == (1, 0), "empty after reset: i.ready 1, o.valid 0"
    dut.i__payload.value, dut.i__valid.value = pack(block.shape, first), 1
    await settle()
    assert state()[:2] == (1, 0), "o.valid followed i.valid within the cycle"
    await mid_cycle()  # first taken into the output register
    assert state() == (1, 1, first)
    dut.i__payload.value = pack(block.shape, second)
    await mid_cycle()  # o stalled: second taken into the skid register
    assert state() == (0, 1, first), "a beat taken while o stalls must drop i.ready, not o's beat"
    dut.i__valid.value, dut.o__ready.value = 0, 1
    await settle()
    assert state()[0] == 0, "i.ready followed o.ready within the cycle"
    await mid_cycle()  # first leaves, second moves from the skid to the output
    assert state() == (1, 1, second)
    dut.o__ready.value = 0
    await settle()
    assert state() == (1, 1, second), "i.ready followed o.ready within the cycle"
    dut.o__ready.value = 1
    await mid_cycle()  # second leaves
    assert state()[:2] == (1, 0)
