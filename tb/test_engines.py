"""Engines alone on one layer (issue 22, item 4): the depthwise engine on a dw layer,
bit-exact against golden's output of the layer and cycle-exact against
``DepthwiseEngine.layer_cycles`` (tb.engine_harness, tb.cocotb_dw_engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .build import build_design, run_cocotb
from .conftest import record_timing, simulator
from .engine_harness import dw_case, harness_block, harness_verilog
from .specs import tiny

CASES = {
    # the tiny preset's first dw layer: 16x16x8, stride 1, one group, P = D = 2
    "tiny-dsc2": (dict(), "dsc2.dw"),
    # stride 2, 8x8 -> 4x4 with P = 3 (64 input and 16 output pixels: a partial block each),
    # 32 channels in 7 lanes (5 groups, the last one of 4 channels) on D = 2 DW PEs (3 rows
    # of groups, the last with one group)
    "odd-dsc5": (dict(pe_count=3, lanes=7, dw_pe_count=2), "dsc5.dw"),
    # layer_cycles' two other terms: ``held`` (64 outputs on P = 3, the last partial block
    # one position after the one before it, D = 3 writes to wait for: 2 cycles) ...
    "held-dsc4": (dict(pe_count=3, dw_pe_count=3), "dsc4.dw"),
    # ... and ``late`` (stride 2 on 16x16 with D = 1: two rows of groups, the padding walked
    # after the last window outlasts a row's overhead by 3 cycles)
    "late-dsc3": (dict(pe_count=3, dw_pe_count=1), "dsc3.dw"),
    # dw_pairs: stride 2 walked a pixel pair per cycle. 16x16 -> 8x8 with P = 6 (256 input
    # and 64 output pixels: a partial block each, ``held`` on the pair walk), 16 channels in
    # 7 lanes (3 groups) on D = 3 DW PEs, the most that P = 6 allows
    "pairs-dsc3": (dict(pe_count=6, lanes=7, dw_pe_count=3, dw_pairs=True), "dsc3.dw"),
    # ... 8x8 -> 4x4 with P = 2 and D = 1 (a buffer is one pair: the reader refills it in
    # time at the limit) over 8 rows of groups
    "pairs-2pe-dsc5": (dict(pe_count=2, lanes=4, dw_pe_count=1, dw_pairs=True), "dsc5.dw"),
    # ... and with dw_pairs the layers that keep the one-pixel walk, through the pair select:
    # stride 1, and stride 2 on a map 2 wide
    "pairs-stride1-dsc4": (dict(pe_count=6, lanes=7, dw_pe_count=3, dw_pairs=True), "dsc4.dw"),
    "pairs-narrow-dsc13": (dict(pe_count=4, lanes=8, dw_pe_count=2, dw_pairs=True), "dsc13.dw"),
}


#: Cases that repeat what the whole accelerator's tests run on tiny: `pytest -m slow` runs them.
SLOW = {'tiny-dsc2'}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
                                  for name in CASES])
def test_dw_engine_layer(request, tmp_path, name):
    levers, layer = CASES[name]
    spec = tiny(**levers)
    seed = 1
    block = harness_block(layer)
    design = build_design(block, spec, simulator(), verilog_text=harness_verilog(dw_case(spec, layer, seed), block))
    test_dir = Path(tmp_path) / "sim"
    seconds = run_cocotb(design, "tb.cocotb_dw_engine", test_dir, {"layer": layer, "seed": seed})
    record_timing(block, request.node.nodeid, design, seconds)
    result = json.loads((test_dir / "result.json").read_text())
    assert result["cycles"] == result["layer_cycles"]
