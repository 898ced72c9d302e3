"""The hardware levers of the faster configurations on tiny, bit for bit against golden and
cycle for cycle against the cycle model (every layer, the latency, and the interval of two
images back to back): fewer DW PEs than Conv PEs (``dw_pe_count``), the
FC on fewer classes at once (``fc_parallel``), the Conv module's results through one BN
unit (``serial_bn``), two pixels per DSP48E2 (``packed_pw``), the image streaming through a
ring in buffer Q smaller than itself, the image as pixel pairs (``image_pixels``) and the
stride-2 DW layers walked in pairs (``dw_pairs``). The
packed configuration also runs under Icarus (`-m slow`)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from golden.random_weights import random_artifact
from hw.cost.cycle_model import cycle_model
from rrm.param_stream import pack_parameters

from .accelerator_sim import simulate
from .conftest import simulator
from .specs import EIGHT_PES, tiny
from .test_accelerator import check_bit_exact
from .test_cycle_model import check_interval

VARIANTS = {
    # one DW PE for tiny's 2 Conv PEs, one class at a time, one BN unit
    "2pe-dw1-fc1-serial": dict(pe_count=2, dw_pe_count=1, fc_parallel=1, serial_bn=True),
    # an odd PE count: 2 DW PEs (a partial last row of groups), 3 classes, one BN unit
    "3pe-dw2-fc3-serial": dict(pe_count=3, dw_pe_count=2, fc_parallel=3, serial_bn=True),
    # 8 PEs (group mode on the small maps), 3 DW PEs, 4 classes from each 8-slice PW row
    # (tb/test_accelerator.py's group-mode test runs on this build too)
    "8pe-dw3-fc4": EIGHT_PES,
    # 4 lanes: conv1 (2 output groups) reads the image slower than it arrives, and the
    # image's ring in buffer Q (256 words) is half the image: the loader waits for the reader
    "2pe-4lanes-ring": dict(pe_count=2, lanes=4),
    # two pixels per DSP48E2 (packed_pw): tiny's 2 PEs as one packed PE, conv1 in two
    # single-mode passes, the 1x1 maps' pw layers in pixel mode
    "2pe-packed": dict(pe_count=2, packed_pw=True),
    # ... on 4 PEs with one BN unit (the drain skips the other pass's slots), 1 DW PE
    "4pe-packed-serial": dict(pe_count=4, dw_pe_count=1, fc_parallel=2, serial_bn=True, packed_pw=True),
    # ... on 6 PEs, two BN units sharing the drain (3 steps per result), PW rows of 4 slices
    # (the FC: 2 classes at a time, twice per row), the packed PEs accumulating in their
    # DSP48E2 instances (dsp_macc; simulated on hw/blocks/dsp48e2_model.v)
    "6pe-packed-2units-4slices-dsp": dict(pe_count=6, dw_pe_count=2, fc_parallel=2, serial_bn=True,
                                          serial_bn_units=2, pw_slices=4, packed_pw=True, dsp_macc=True),
    # the image as pixel pairs (image_pixels 2): conv1's pair walk behind a ring of half the
    # image (4 lanes), and on 6 packed PEs (3 pairs a word, the gather of 6 windows) with the
    # stride-2 DW layers on 16, 8 and 4 wide maps walked in pairs too (dw_pairs; dsc13's map,
    # 2 wide, keeps the one-pixel walk), as in rr-mobilenet-packed
    "2pe-4lanes-ring-pairs": dict(pe_count=2, lanes=4, image_pixels=2),
    "6pe-packed-pairs": dict(pe_count=6, dw_pe_count=2, fc_parallel=2, serial_bn=True,
                             serial_bn_units=2, pw_slices=4, packed_pw=True, image_pixels=2,
                             dw_pairs=True),
}


#: Variants the default run leaves to `pytest -m slow` (the 6-PE packed variant covers this one's paths).
SLOW = {"4pe-packed-serial",
        # tb/test_conv_engine.py's conv1-ring-pairs runs this ring in pairs on the Conv engine
        "2pe-4lanes-ring-pairs"}


@pytest.mark.parametrize("levers", [pytest.param(v, marks=pytest.mark.slow) if k in SLOW else v
                                    for k, v in VARIANTS.items()], ids=VARIANTS.keys())
def test_levers_bit_exact_and_cycles_as_modelled(levers, tmp_path):
    spec = tiny(**levers)
    size, channels = spec.network.input_size, spec.network.input_channels
    images = np.concatenate([
        np.random.default_rng(8).integers(0, 256, size=(1, size, size, channels), dtype=np.uint8),
        np.full((1, size, size, channels), 255, np.uint8)])
    artifact = random_artifact(spec, 12)
    results = simulate(spec, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator())
    image_results = results["steps"][1]["images"]
    check_bit_exact(artifact, images, image_results)
    model = cycle_model(spec)
    for result in image_results:
        measured = dict(zip([layer.name for layer in model.layers], result["layer_cycles"]))
        assert {layer.name: layer.cycles for layer in model.layers} == measured
        assert result["cycles"] == model.cycles
    check_interval(spec, image_results)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog (iverilog) is not installed")
def test_packed_whole_network_under_icarus(tmp_path):
    """tiny with ``packed_pw`` bit-exact in the second simulator too (``-m slow``: the
    default run has tiny under Icarus in tb/test_accelerator.py and the packed datapath in
    Verilator on three variants above, 45 s of the suite's budget of 15 minutes)."""
    spec = tiny(**VARIANTS["2pe-packed"])
    size, channels = spec.network.input_size, spec.network.input_channels
    images = np.random.default_rng(9).integers(0, 256, size=(1, size, size, channels), dtype=np.uint8)
    artifact = random_artifact(spec, 13)
    results = simulate(spec, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator="icarus")
    check_bit_exact(artifact, images, results["steps"][1]["images"])
