"""The sequencer alone, cocotb playing the engines (tb.sequencer_harness, tb.cocotb_sequencer):
layer_cycles equal the counts the engines answer with, LAYER_STEPS cycles between layers,
the rows and shifts each layer's engines see, begin's conditions, emit and image_cycles."""

from __future__ import annotations

import json
from pathlib import Path

from .build import build_design, run_cocotb
from .conftest import record_timing, simulator
from .sequencer_harness import sequencer_block, sequencer_verilog
from .specs import tiny


def test_sequencer(request, tmp_path):
    spec = tiny()
    seed = 1
    block = sequencer_block()
    design = build_design(block, spec, simulator(), verilog_text=sequencer_verilog(spec, block, seed))
    test_dir = Path(tmp_path) / "sim"
    seconds = run_cocotb(design, "tb.cocotb_sequencer", test_dir, {"seed": seed})
    record_timing(block, request.node.nodeid, design, seconds)
    results = json.loads((test_dir / "result.json").read_text())
    assert set(results) == {"A", "B", "C"}
