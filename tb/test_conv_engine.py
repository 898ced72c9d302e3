"""The Conv engine alone on one layer (issue 22, item 4): pw layers in pixel mode, group mode
and with ``serial_bn``, and conv1 fed through the image ring by the image loader, bit-exact
against golden's output of the layer and cycle-exact against ``ConvEngine.layer_cycles``
(tb.conv_engine_harness, tb.cocotb_conv_engine).

conv1 is cycle-exact when the image streams without gaps; with random gaps on the image
stream it is bit-exact and takes at least ``layer_cycles``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rrm.sizing import sizing

from .build import build_design, run_cocotb
from .conftest import record_timing, simulator
from .conv_engine_harness import conv_case, harness_block, harness_verilog
from .specs import tiny

#: name -> (tiny's levers, layer, testbench config)
CASES = {
    # pixel mode, tiny's first pw layer: 16x16, 8 -> 16 channels (2 groups), P = 2
    "tiny-dsc2-pw": (dict(), "dsc2.pw", {}),
    # pixel mode on an odd shape: P = 3, 7 lanes; 8x8 = 64 pixels (22 blocks, the last with
    # one pixel), 16 -> 32 channels (3 input groups, the last of 2 channels; 5 output groups,
    # the last of 4)
    "odd-dsc3-pw": (dict(pe_count=3, lanes=7), "dsc3.pw", {}),
    # group mode (the layer table's group_mode): tiny's 1x1 map, 72 -> 144 channels, 18 groups
    # in 9 rows of P = 2
    "group-dsc13-pw": (dict(), "dsc13.pw", {}),
    # group mode on an odd shape: P = 3, 7 lanes; 2x2 map (two blocks, the last with one
    # pixel), 64 -> 72 channels in 11 groups (4 rows of 3, the last with 2; the last group of 2
    # channels)
    "odd-group-dsc7-pw": (dict(pe_count=3, lanes=7), "dsc7.pw", {}),
    # serial_bn: a pixel-mode result's P sums through one BN unit
    "serial-dsc2-pw": (dict(serial_bn=True), "dsc2.pw", {}),
    # serial_bn on the odd shape (a partial last block)
    "serial-odd-dsc3-pw": (dict(pe_count=3, lanes=7, serial_bn=True), "dsc3.pw", {}),
    # packed_pw: two pixels per product on pw (tiny's P = 2: one packed PE) ...
    "packed-dsc2-pw": (dict(packed_pw=True), "dsc2.pw", {}),
    # ... on 4 PEs x 7 lanes, a partial last block (64 pixels in 16 blocks, 5 output groups)
    "packed-4pe-dsc3-pw": (dict(pe_count=4, lanes=7, packed_pw=True), "dsc3.pw", {}),
    # ... in pixel mode where it would otherwise be group mode (tiny's 1x1 map, 18 groups)
    "packed-dsc13-pw": (dict(packed_pw=True), "dsc13.pw", {}),
    # ... with serial_bn
    "packed-serial-dsc3-pw": (dict(pe_count=4, lanes=7, packed_pw=True, serial_bn=True), "dsc3.pw", {}),
    # ... and conv1 in two passes of single-mode windows, with the image loader
    "packed-conv1": (dict(packed_pw=True), "conv1", {}),
    "packed-conv1-4pe": (dict(pe_count=4, lanes=7, packed_pw=True), "conv1", {}),
    "packed-serial-conv1-4pe": (dict(pe_count=4, lanes=7, packed_pw=True, serial_bn=True), "conv1", {}),
    # serial_bn_units: 2 and 3 BN units share the drain (6 PEs: 3 and 2 steps), PW rows of
    # 2 slices; packed and not, pw and conv1 (a partial last block)
    "packed-2units-6pe-dsc3-pw": (dict(pe_count=6, lanes=7, packed_pw=True, serial_bn=True, serial_bn_units=2,
                                       pw_slices=2, fc_parallel=2), "dsc3.pw", {}),
    "packed-3units-6pe-conv1": (dict(pe_count=6, lanes=7, packed_pw=True, serial_bn=True, serial_bn_units=3,
                                     pw_slices=3, fc_parallel=3), "conv1", {}),
    "packed-2units-6pe-conv1": (dict(pe_count=6, lanes=7, packed_pw=True, serial_bn=True, serial_bn_units=2),
                                "conv1", {}),
    # 3 units on 4 PEs: a partial last drain step (slots 3, 4, 5 of which only 3 exists),
    # odd B on packed conv1 (each unit its own select of the even slot below)
    "packed-3units-4pe-conv1": (dict(pe_count=4, lanes=7, packed_pw=True, serial_bn=True, serial_bn_units=3),
                                "conv1", {}),
    "packed-3units-4pe-dsc3-pw": (dict(pe_count=4, lanes=7, packed_pw=True, serial_bn=True, serial_bn_units=3),
                                  "dsc3.pw", {}),
    "3units-6pe-dsc3-pw": (dict(pe_count=6, lanes=7, serial_bn=True, serial_bn_units=3, pw_slices=4,
                                fc_parallel=2), "dsc3.pw", {}),
    # conv1 with the image loader: tiny (a ring of 128 words of the image's 512), no gaps ...
    "conv1-tiny": (dict(), "conv1", {}),
    # ... and random gaps on the image stream (cycles only >= layer_cycles)
    "conv1-tiny-gaps": (dict(), "conv1", {"pause": 0.3, "exact": False}),
    # conv1 on P = 3, 7 lanes: 256 outputs in 86 blocks (the last with one window), 2 groups
    "conv1-odd": (dict(pe_count=3, lanes=7), "conv1", {}),
    # tb/test_levers.py's '2pe-4lanes-ring': conv1 (2 output groups) reads slower than the
    # image arrives and the ring (256 words) is half the image: the loader waits
    "conv1-ring": (dict(pe_count=2, lanes=4), "conv1", {}),
    # ... with random gaps (30 %) in the image's first 200 cycles only, so that the loader
    # still waits for the ring later (with gaps throughout, even 10 %, it never does)
    "conv1-ring-gaps": (dict(pe_count=2, lanes=4), "conv1",
                        {"pause": 0.3, "pause_cycles": 200, "exact": False}),
    # the image as pixel pairs (image_pixels 2): conv1's pair walk, the ring half the image ...
    "conv1-ring-pairs": (dict(pe_count=2, lanes=4, image_pixels=2), "conv1", {}),
    # ... with random gaps on the image stream
    "conv1-pairs-gaps": (dict(pe_count=2, lanes=4, image_pixels=2), "conv1", {"pause": 0.3, "exact": False}),
    # ... on 6 PEs x 7 lanes, 3 pairs a word (the last word of 2), packed: the gather of 6
    "packed-6pe-conv1-pairs": (dict(pe_count=6, lanes=7, packed_pw=True, image_pixels=2), "conv1", {}),
    # ... on 14 PEs, 7 pairs a word: bound by the pair walk and the image's arrival, not by
    # the serializer, as rr-mobilenet-packed's conv1 is
    "conv1-14pe-pairs": (dict(pe_count=14, image_pixels=2), "conv1", {}),
}


#: Cases on tiny itself, which the whole accelerator's tests run too (the odd shapes and the ring
#: cases cover the same paths): `pytest -m slow` runs them.
SLOW = {'conv1-tiny-gaps', 'tiny-dsc2-pw', 'serial-dsc2-pw', 'conv1-tiny', 'group-dsc13-pw',
        # packed cases that tb/test_levers.py's packed variants and the four kept here cover
        'packed-dsc2-pw', 'packed-4pe-dsc3-pw', 'packed-dsc13-pw', 'packed-serial-dsc3-pw', 'packed-conv1',
        'packed-serial-conv1-4pe', 'packed-3units-6pe-conv1', 'packed-2units-6pe-conv1',
        'packed-3units-4pe-dsc3-pw',
        # the pair walk with gaps (conv1-tiny-gaps runs the gaps' path one pixel at a time)
        'conv1-pairs-gaps'}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
                                  for name in CASES])
def test_conv_engine_layer(request, tmp_path, name):
    levers, layer, config = CASES[name]
    spec = tiny(**levers)
    entry = sizing(spec).memories.layer(layer)
    if name.startswith(("group", "odd-group")):
        assert entry.group_mode, f"{layer} of {levers} is not in group mode"
    elif entry.kind == "pw":
        assert not entry.group_mode, f"{layer} of {levers} is in group mode"
    seed = 1
    block = harness_block(layer)
    design = build_design(block, spec, simulator(),
                          verilog_text=harness_verilog(conv_case(spec, layer, seed), block))
    test_dir = Path(tmp_path) / "sim"
    seconds = run_cocotb(design, "tb.cocotb_conv_engine", test_dir, {"layer": layer, "seed": seed, **config})
    record_timing(block, request.node.nodeid, design, seconds)
    result = json.loads((test_dir / "result.json").read_text())
    print(f"{name}: cycles {result['cycles']}, layer_cycles {result['layer_cycles']}, "
          f"ring waits {result['ring_waits']}, image gaps {result['gaps']}, run {seconds:.1f} s, "
          f"build {design.build_seconds:.1f} s")
    if config.get("exact", True):
        assert result["cycles"] == result["layer_cycles"]
    else:
        assert result["cycles"] >= result["layer_cycles"]
    if name.startswith("conv1-ring"):
        assert result["ring_waits"] > 0, "the loader never waited for the ring"
    if config.get("pause"):
        assert result["gaps"] > 0, "the image came without gaps"
