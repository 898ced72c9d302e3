"""The hardware levers of the faster configurations on tiny, bit for bit against golden and
cycle for cycle against the cycle model: fewer DW PEs than Conv PEs (``dw_pe_count``), the
FC on fewer classes at once (``fc_parallel``), the Conv module's results through one BN
unit (``serial_bn``), and the image streaming through a ring in buffer Q smaller than itself."""

from __future__ import annotations

import numpy as np
import pytest

from golden.random_weights import random_artifact
from hw.cost.cycle_model import cycle_model
from rrm.param_stream import pack_parameters

from .accelerator_sim import simulate
from .conftest import simulator
from .specs import tiny
from .test_accelerator import check_bit_exact

VARIANTS = {
    # one DW PE for tiny's 2 Conv PEs, one class at a time, one BN unit
    "2pe-dw1-fc1-serial": dict(pe_count=2, dw_pe_count=1, fc_parallel=1, serial_bn=True),
    # an odd PE count: 2 DW PEs (a partial last row of groups), 3 classes, one BN unit
    "3pe-dw2-fc3-serial": dict(pe_count=3, dw_pe_count=2, fc_parallel=3, serial_bn=True),
    # 8 PEs (group mode on the small maps), 3 DW PEs, 4 classes from each 8-slice PW row
    "8pe-dw3-fc4": dict(pe_count=8, dw_pe_count=3, fc_parallel=4),
    # 4 lanes: conv1 (2 output groups) reads the image slower than it arrives, and the
    # image's ring in buffer Q (256 words) is half the image: the loader waits for the reader
    "2pe-4lanes-ring": dict(pe_count=2, lanes=4),
}


@pytest.mark.parametrize("levers", VARIANTS.values(), ids=VARIANTS.keys())
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
