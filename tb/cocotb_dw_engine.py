"""cocotb test of the depthwise engine alone on one dw layer (tb.engine_harness).

After reset, one ``go`` pulse: the harness gives the engine ``start``, then ``run`` until its
``done``, and counts the cycles as the sequencer does. Every FM write request is recorded
(sampled in the read-only phase after each rising edge). Checks:

- every write goes to buffer ``~src`` with every slot enabled, at an address of the output
  map (``out_blocks * out_groups`` words), each word written exactly once;
- the decoded output map equals golden's output of the layer (bit-exact);
- ``cycles`` (first cycle after ``start`` to the cycle ``done`` is high, inclusive) equals
  ``DepthwiseEngine.layer_cycles(spec, entry)``;
- no write after ``done``.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hw.engines.depthwise import DepthwiseEngine
from rrm.spec import Spec

from .engine_harness import dw_case
from .harness import record_engine_writes
from .fm_maps import decode_map, map_difference
from .streams import PERIOD_NS


@cocotb.test()
async def dw_layer(dut):
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    spec = Spec.from_dict(config["spec"])
    case = dw_case(spec, config["layer"], config["seed"])
    entry = case.entry
    want_cycles = DepthwiseEngine.layer_cycles(spec, entry)

    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.go.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    dut.go.value = 1
    await RisingEdge(dut.clk)   # edge 0: the harness enters START
    dut.go.value = 0
    writes, finished_edge = await record_engine_writes(dut, limit=20 * want_cycles + 1000)
    cycles = int(dut.cycles.value)

    P = spec.hardware.pe_count
    words = {}
    for _, buffer, addr, word, slots in writes:
        assert buffer == 1 - entry.src, f"write to buffer {buffer}, layer reads {entry.src}"
        assert slots == (1 << P) - 1, f"write at {addr} enables slots {slots:b}"
        assert addr < entry.out_blocks * entry.out_groups, f"write at {addr} outside the map"
        assert addr not in words, f"word {addr} written twice"
        words[addr] = word
    assert len(words) == entry.writes, f"{len(words)} words written, the layer table says {entry.writes}"
    difference = map_difference(entry.name, decode_map(spec, entry, words), case.output_map)
    assert difference is None, difference
    dut._log.info("%s: %d writes, last on edge %d, finished on edge %d; cycles %d, layer_cycles %d",
                  entry.name, len(writes), writes[-1][0], finished_edge, cycles, want_cycles)
    with open("result.json", "w") as out:
        json.dump({"layer": entry.name, "cycles": cycles, "layer_cycles": want_cycles,
                   "writes": len(writes)}, out)
    assert cycles == want_cycles, f"{entry.name}: the engine took {cycles} cycles, layer_cycles says {want_cycles}"
