"""The system top (hw.top.system): the register block of rrm.csr_map over AXI4-Lite on the whole
tiny accelerator, from one cached Verilator build of ``rrm_system`` (tb.cocotb_csr)."""

from __future__ import annotations

import json

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from hw.cost.cycle_model import cycle_model
from hw.top.system import SYSTEM_PARAM_BEAT_BITS
from rrm.memory_map import memory_map
from rrm.param_stream import pack_parameters, stream_length
from rrm.presets import load_preset

SPEC = load_preset("tiny")


def test_registers_interrupt_and_soft_reset(run_block, tmp_path):
    artifact = random_artifact(SPEC, 7)
    size, channels = SPEC.network.input_size, SPEC.network.input_channels
    image = np.random.default_rng(8).integers(0, 256, size=(size, size, channels), dtype=np.uint8)
    files = {"params": tmp_path / "params.npy", "image": tmp_path / "image.npy",
             "golden": tmp_path / "golden.npy", "results": tmp_path / "results.json"}
    np.save(files["params"], pack_parameters(artifact, beat_bits=SYSTEM_PARAM_BEAT_BITS))
    np.save(files["image"], image)
    np.save(files["golden"], model.run(artifact, image[None])[0])
    run_block("system", SPEC, "tb.cocotb_csr", {name: str(path) for name, path in files.items()})
    record = json.loads(files["results"].read_text())
    # the counters read over AXI4-Lite are the cycle model's (exact on tiny, tb/test_cycle_model.py)
    expected = cycle_model(SPEC)
    assert record["image_cycles"] == expected.cycles
    assert record["layer_cycles"] == [layer.cycles for layer in expected.layers]
    assert record["beyond_layers"] == 0
    # the 128-bit parameter stream goes in at one beat per cycle: a quarter of the 32-bit stream's beats
    beats = stream_length(memory_map(SPEC), SYSTEM_PARAM_BEAT_BITS)
    assert beats <= record["load_cycles"] <= beats + 4, (record["load_cycles"], beats)
    assert beats < stream_length(memory_map(SPEC), 32) / 3.9
