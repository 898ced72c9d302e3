"""The parameter loader and the image loader alone (tb.loader_harness, tb.cocotb_param_loader,
tb.cocotb_image_loader): every RAM word after a real parameter stream, the refused streams,
one beat per cycle; the image ring's words, its flow control and ``error``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .build import build_design, run_cocotb
from .conftest import record_timing, simulator
from .loader_harness import param_loader_block, param_loader_verilog
from .specs import tiny
from hw.engines.param_loader import ParamLoader


def test_param_loader(request, tmp_path):
    spec = tiny()
    block = param_loader_block()
    design = build_design(block, spec, simulator(), verilog_text=param_loader_verilog(spec, block))
    test_dir = Path(tmp_path) / "sim"
    seconds = run_cocotb(design, "tb.cocotb_param_loader", test_dir, {"seed": 1})
    record_timing(block, request.node.nodeid, design, seconds)
    rate = json.loads((test_dir / "result_rate.json").read_text())
    assert rate["beats"] == rate["span"] == ParamLoader.beats(spec)


IMAGE_SPECS = {
    # 2 pixels a word, 512 words through a ring of 128
    "tiny": lambda: tiny(),
    # 3 pixels a word: 342 words (the last one of a single pixel) through a ring of 172
    "tiny-3x7": lambda: tiny(pe_count=3, lanes=7),
    # pixel pairs (image_pixels 2), 3 a word: 171 words (the last one of 2 pairs)
    "tiny-6-pairs": lambda: tiny(pe_count=6, image_pixels=2),
}


@pytest.mark.parametrize("name", list(IMAGE_SPECS))
def test_image_loader(run_block, name):
    run_block("image_loader", IMAGE_SPECS[name](), "tb.cocotb_image_loader", {"seed": 1})
