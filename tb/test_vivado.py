"""``rrm vivado``'s init-file build of tiny: with no parameter stream it classifies an image
exactly as the build that loads the same artifact through the stream."""

from __future__ import annotations

import shutil

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from hw.flow.vivado import write_handoff
from rrm.param_stream import pack_parameters
from rrm.presets import load_preset

from .accelerator_sim import compare, simulate
from .conftest import simulator

SPEC = load_preset("tiny")


def test_init_file_build_runs_like_the_loaded_build(tmp_path):
    artifact = random_artifact(SPEC, 5)
    size, channels = SPEC.network.input_size, SPEC.network.input_channels
    images = np.random.default_rng(21).integers(0, 256, size=(1, size, size, channels), dtype=np.uint8)
    handoff = tmp_path / "vivado"
    write_handoff(SPEC, handoff, artifact)
    run_dir = tmp_path / "preloaded"
    (run_dir / "sim").mkdir(parents=True)
    for init_file in handoff.glob("*.mem"):    # $readmemh reads them from the simulator's directory
        shutil.copy(init_file, run_dir / "sim")
    preloaded = simulate(SPEC, [{"op": "images", "data": images}], run_dir, simulator=simulator(),
                         verilog_text=(handoff / "accelerator.v").read_text())
    loaded = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                             {"op": "images", "data": images}], tmp_path / "loaded", simulator=simulator())
    # the same results; only the class beats' cycle differs (no parameter stream before them)
    without_time = lambda images: [{k: v for k, v in image.items() if k != "beat_cycle"} for image in images]  # noqa: E731
    assert without_time(preloaded["steps"][0]["images"]) == without_time(loaded["steps"][1]["images"])
    result = compare(SPEC, preloaded["steps"][0]["images"], model.run(artifact, images))[0]
    assert result.match_golden, result
