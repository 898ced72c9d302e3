"""cocotb tests of the RAM join: read requests against the RAM's known contents.

The block owns a RAM initialised with known words (``block.memory.init``, the
pattern of ``hw.top.catalog.ram_join_block``). Requests are random addresses (every
address, repeats and runs of one address included) with random tags; the model
is ``{data: init[addr], tag}`` per request, in order. Without stalls: latency 1
and one request per cycle in and out.
"""

from __future__ import annotations

import random

import cocotb

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams
from .payload import random_value


def requests(block, rng):
    """Every address once in order, then random addresses, then runs of one address."""
    depth = block.depth
    addrs = list(range(depth)) + [rng.randrange(depth) for _ in range(300)]
    for _ in range(5):
        addrs += [rng.randrange(depth)] * rng.randint(2, 6)
    return [{"addr": addr, "tag": random_value(block.tag_shape, rng)} for addr in addrs]


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def streaming(dut, gaps, backpressure):
    """Requests with and without stalls: each result is the RAM word and the request's tag;
    without stalls also the documented latency and one request per cycle."""
    block, _, _ = load_config()
    rng = random.Random(1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
    beats = requests(block, rng)
    init = [list(block.memory.init[addr]) for addr in range(block.depth)]
    want = [{"data": init[beat["addr"]], "tag": beat["tag"]} for beat in beats]
    sources, sink = await run_streams(dut, {"i": (block.in_layout, beats)}, "o", block.out_layout,
                                      len(beats), gaps, backpressure)
    check_values(sink.values, want, lambda index: f"request {index} (addr {beats[index]['addr']})")
    if gaps == "none" and backpressure == "none":
        check_latency(sources["i"].cycles, sink.cycles, block.latency)
        check_back_to_back(sources["i"].cycles, "requests in")
        check_back_to_back(sink.cycles, "results out")
