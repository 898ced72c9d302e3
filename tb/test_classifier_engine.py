"""The classifier alone on pool then fc (tb.classifier_harness, tb.cocotb_classifier): the
logits and class on ``result`` bit-exact against golden, with and without backpressure,
the class beat only under ``emit``, and both layers cycle-exact against
``Classifier.layer_cycles``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .build import build_design, run_cocotb
from .classifier_harness import classifier_case, harness_block, harness_verilog
from .conftest import record_timing, simulator
from .specs import last_map_5x5, tiny

CASES = {
    # tiny as built: P = Q = 2, 8 lanes, 192 channels in 24 groups on a 1x1 map, 10 classes
    "tiny": lambda: tiny(),
    # one class at a time (fc_parallel = 1): 10 rows of one class, each 24 groups apart
    "tiny-fc1": lambda: tiny(fc_parallel=1),
    # P = Q = 3 on 7 lanes: 28 groups (the last of 3 channels), rows of 3 classes (the last of 1)
    "tiny-3x7": lambda: tiny(pe_count=3, lanes=7),
    # a last map of 5x5 pixels in 13 FM words (the pool walks words, slots and blocks)
    "last-map-5x5": last_map_5x5,
}


#: Cases that repeat what the whole accelerator's tests run on tiny: `pytest -m slow` runs them.
SLOW = {'tiny'}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
                                  for name in CASES])
def test_classifier_engine(request, tmp_path, name):
    spec = CASES[name]()
    seed = 1
    block = harness_block(name)
    design = build_design(block, spec, simulator(), verilog_text=harness_verilog(classifier_case(spec, seed), block))
    test_dir = Path(tmp_path) / "sim"
    seconds = run_cocotb(design, "tb.cocotb_classifier", test_dir, {"seed": seed})
    record_timing(block, request.node.nodeid, design, seconds)
    for mode in ("sequencer", "backpressure"):
        result = json.loads((test_dir / f"result_{mode}.json").read_text())
        for figures in result["figures"]:
            assert figures["pool_cycles"] == result["pool_layer_cycles"]
            assert figures["fc_cycles"] == result["fc_layer_cycles"]
