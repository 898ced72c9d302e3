"""The host driver (host.driver) on the simulated system (tb.host_sim: rrm_system in Verilator,
cocotbext-axi's AXI4-Lite master and stream models), in one simulator run: refusals before
and after loading, five test images of a trained tiny artifact bit-exact against golden with
the cycle model's cycles, a soft reset mid-image, a short frame that times out, a misframed
image, and recovery after each."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from hw.cost.cycle_model import cycle_model
from rrm.artifact import save_artifact
from rrm.memory_map import memory_map
from rrm.param_stream import pack_parameters
from rrm.presets import load_preset

from .build import ROOT
from .conftest import simulator
from .host_sim import run_driver
from .specs import tiny
from .test_accelerator import test_split, trained_tiny  # noqa: F401  (session fixtures)

SPEC = load_preset("tiny")


def test_driver_on_the_simulated_system(trained_tiny, test_split, tmp_path):  # noqa: F811
    images = test_split[0][:5]     # five images (tb/test_accelerator.py puts 12 through the core)
    pixels = SPEC.network.input_size ** 2
    other = tiny(pe_count=3, lanes=4)      # another build's spec: another spec hash
    other_artifact = random_artifact(other, 1)
    other_dir = save_artifact(tmp_path / "other", other, other_artifact.params)
    artifact_dir = save_artifact(tmp_path / "trained", SPEC, trained_tiny.params)
    image_cycles = cycle_model(SPEC).cycles
    steps = [
        {"op": "classify", "data": images[:1]},                        # 0: nothing loaded yet
        {"op": "load", "artifact": str(other_dir)},                    # 1: refused by the driver
        {"op": "load_stream", "data": pack_parameters(other_artifact, beat_bits=128)},  # 2: refused by the RTL
        {"op": "load", "artifact": str(artifact_dir)},                 # 3
        {"op": "classify", "data": images},                            # 4: five images
        {"op": "classify_reset", "data": images[1:2], "after_cycles": 2000},  # 5
        {"op": "recover"},                                             # 6
        {"op": "frames", "data": images[2], "lengths": [pixels // 2],  # 7: half an image
         "timeout_s": 3 * image_cycles * 10e-9},
        {"op": "recover"},                                             # 8
        {"op": "frames", "data": images[3], "lengths": [pixels // 2, pixels // 2]},  # 9: misframed
        {"op": "classify", "data": images[4:5]},                       # 10: runs again
        {"op": "load_stream", "data": pack_parameters(trained_tiny)},  # 11: 32-bit beats
    ]
    results = run_driver(SPEC, steps, tmp_path / "run", simulator=simulator())
    out = results["steps"]
    assert results["opened"] == {"spec_hash": memory_map(SPEC).spec_hash, "classes": 10,
                                 "layers": len(memory_map(SPEC).layers), "use_interrupt": True}

    assert out[0]["error"] == "NotLoadedError" and "STATUS.params_loaded is 0" in out[0]["message"]
    assert out[1]["error"] == "SpecMismatchError"
    assert f"0x{memory_map(other).spec_hash:08x}" in out[1]["message"]
    assert f"0x{memory_map(SPEC).spec_hash:08x}" in out[1]["message"]
    assert out[2]["error"] == "ParamStreamError" and out[2]["message"].startswith("STATUS.param_error is set")
    assert out[3]["status"]["params_loaded"] == 1 and out[3]["status"]["param_error"] == 0

    golden = model.run(trained_tiny, images)
    assert out[4]["logits"] == golden.tolist()
    assert out[4]["classes"] == np.argmax(golden, axis=1).tolist()
    expected = cycle_model(SPEC)
    assert out[4]["cycles"] == [expected.cycles] * len(images)
    assert out[4]["layer_cycles"] == [[layer.cycles for layer in expected.layers]] * len(images)
    assert out[4]["interrupts"] == len(images)     # the driver slept on irq; each image's end woke it

    assert out[5]["error"] == "ResetDuringImageError" and "soft-reset" in out[5]["message"]
    assert out[5]["interrupts"] == 0 and out[7]["interrupts"] == 0
    assert out[6]["status"]["params_loaded"] == 1 and out[6]["status"]["busy"] == 0
    assert out[6]["resets"] == 2    # the other writer's, then recover's
    assert out[7]["error"] == "DeviceTimeout" and "IMAGES to count it" in out[7]["message"]
    assert "busy=1" in out[7]["message"]
    assert out[8]["status"]["busy"] == 0 and out[8]["resets"] == 3
    assert out[9]["error"] == "ImageError" and out[9]["message"].startswith("STATUS.image_error is set")
    assert out[10]["logits"] == golden[4:5].tolist()
    assert out[11]["error"] == "ValueError" and "beats of this build are 16 bytes" in out[11]["message"]


def test_rrm_run_sim_writes_golden_logits(trained_tiny, test_split, tmp_path):  # noqa: F811
    artifact_dir = save_artifact(tmp_path / "trained", SPEC, trained_tiny.params)
    images = tmp_path / "images.npy"
    np.save(images, test_split[0][:2])
    out = tmp_path / "logits.npy"
    run = subprocess.run([sys.executable, "-m", "scripts.cli", "run", str(artifact_dir), str(images), "--sim",
                          "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert np.array_equal(np.load(out), model.run(trained_tiny, test_split[0][:2]))
    assert f"2 of 2 image(s) bit-exact; {cycle_model(SPEC).cycles:,} cycles per image" in run.stdout
