"""The whole tiny accelerator in RTL against the golden model, bit for bit (docs/design.md §8).

Every test runs ``Accelerator(tiny)`` from one cached build (weights arrive on the
parameter stream, so artifacts never rebuild it): images of a trained artifact,
random gaps and backpressure on all three streams, images back to back, all-0 and
all-255 images, a reset in the middle of an image, two artifacts on one build,
parameter streams that are cut short, too long or for another spec, and the
first-mismatching-layer report.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden import model
from golden.random_weights import random_artifact
from rrm.artifact import Artifact, load_artifact
from rrm.memory_map import memory_map
from rrm.param_stream import pack_parameters
from rrm.presets import load_preset

from .accelerator_sim import compare, first_mismatch, simulate
from .build import ROOT, SIM_DIR
from .conftest import simulator
from .specs import EIGHT_PES, tiny
from .test_cycle_model import check_model

SPEC = load_preset("tiny")
SIZE, CHANNELS = SPEC.network.input_size, SPEC.network.input_channels
#: A short training run (minutes of CPU are not needed to prove bit-exactness).
TRAIN_ARGS = ["--epochs", "12", "--qat-epochs", "3", "--prune-steps", "1", "--prune-epochs", "3",
              "--seed", "0", "--quiet"]


def random_images(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, SIZE, SIZE, CHANNELS),
                                                dtype=np.uint8)


def check_bit_exact(artifact, images, image_results):
    spec = artifact.spec
    golden = model.run(artifact, images)
    lower = sum(entry.out_pixels * entry.out_channels * entry.taps
                for entry in memory_map(spec).layers if entry.kind in ("conv", "pw"))
    lower //= spec.hardware.pe_count * spec.hardware.lanes
    for index, result in enumerate(compare(spec, image_results, golden)):
        assert result.match_golden, (f"image {index}: RTL logits {result.logits} class {result.cls}, "
                                     f"golden {golden[index].tolist()}")
        assert result.cycles > lower, f"image {index}: {result.cycles} cycles, below the Conv bound {lower}"
        assert set(result.layer_cycles) == {layer.name for layer in spec.layers()}
        assert all(cycles > 0 for cycles in result.layer_cycles.values())
        assert sum(result.layer_cycles.values()) < result.cycles
    assert all(result["image_error"] == 0 for result in image_results)
    return golden


@pytest.fixture(scope="session")
def trained_tiny() -> Artifact:
    """A trained tiny artifact (short run), cached under build/ by the training arguments, the
    sources of sw/ and the artifact format (a change to any trains again)."""
    digest = hashlib.sha256(" ".join(TRAIN_ARGS).encode())
    for path in [*sorted((ROOT / "sw").glob("*.py")), ROOT / "rrm" / "artifact.py"]:
        digest.update(path.read_bytes())
    out = SIM_DIR.parent / f"trained-tiny-{digest.hexdigest()[:12]}"
    artifact = out / "artifact"
    SIM_DIR.mkdir(parents=True, exist_ok=True)
    with open(f"{out}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (artifact / "manifest.json").is_file():
            shutil.rmtree(out, ignore_errors=True)
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            subprocess.run([sys.executable, "-m", "scripts.cli", "train", "--preset", "tiny",
                            "--out", str(out), "--threads", "1", *TRAIN_ARGS],
                           check=True, cwd=ROOT, env=env, capture_output=True)
    return load_artifact(artifact)


@pytest.fixture(scope="session")
def test_split() -> tuple:
    """The first 12 images and labels of tiny's embedded test split."""
    out = SIM_DIR.parent / "tiny-test-split"
    with open(SIM_DIR.parent / "tiny-test-split.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "labels.npy").is_file():
            subprocess.run([sys.executable, "-m", "scripts.cli", "dataset", "--preset", "tiny",
                            "--out", str(out)], check=True, cwd=ROOT, capture_output=True)
    return np.load(out / "images.npy")[:12], np.load(out / "labels.npy")[:12]


def test_trained_artifact_on_12_test_images(trained_tiny, test_split, tmp_path):
    images, labels = test_split
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(trained_tiny)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator())
    assert results["steps"][0] == {"op": "params", "loaded": 1, "error": 0}
    golden = check_bit_exact(trained_tiny, images, results["steps"][1]["images"])
    # a trained network: most of these digits are right (the RTL equals golden, checked above)
    assert (np.argmax(golden, axis=1) == labels).mean() >= 0.6


def test_gaps_and_backpressure_on_all_streams(tmp_path):
    artifact = random_artifact(SPEC, 1)
    images = random_images(1, 0)
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator(),
                       gaps=True, backpressure=True)
    assert results["steps"][0]["loaded"] == 1
    check_bit_exact(artifact, images, results["steps"][1]["images"])


def test_back_to_back_and_extreme_images(tmp_path):
    artifact = random_artifact(SPEC, 2)
    images = np.concatenate([random_images(1, 5), np.zeros((1, SIZE, SIZE, CHANNELS), np.uint8),
                             np.full((1, SIZE, SIZE, CHANNELS), 255, np.uint8)])
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator())
    check_bit_exact(artifact, images, results["steps"][1]["images"])


def test_conv_pes_on_channel_groups_of_small_maps(tmp_path):
    """8 PEs on tiny: the 2x2 and 1x1 maps have fewer pixels than PEs, so their pointwise
    layers put the PEs on 8 output-channel groups of one pixel (several pixels per FM word,
    each written into its slot) instead of idling; the rest stay on spatial tiles. (3 DW PEs
    and the FC on 4 classes as well: tb/test_levers.py's 8-PE build, built once for both.)"""
    spec = tiny(**EIGHT_PES)
    entries = memory_map(spec).layers
    grouped = [e for e in entries if e.group_mode]
    assert any(e.out_pixels > 1 for e in grouped) and any(e.out_pixels == 1 for e in grouped)
    assert any(e.kind == "pw" and not e.group_mode for e in entries)
    artifact = random_artifact(spec, 10)
    images = random_images(1, 17)
    results = simulate(spec, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator())
    check_bit_exact(artifact, images, results["steps"][1]["images"])
    cycles = results["steps"][1]["images"][0]["layer_cycles"]
    for entry in grouped:  # within a few cycles of MACs / (PEs x lanes), rounded up to group rows
        bound = entry.out_pixels * -(-entry.out_groups // 8) * entry.taps
        assert cycles[entry.index] < bound + 40, (entry.name, cycles[entry.index], bound)
    check_model(spec, results["steps"][1]["images"][0])   # the cycle model, on 8 PEs


def test_reset_mid_image_then_a_correct_image(tmp_path):
    artifact = random_artifact(SPEC, 3)
    images = random_images(2, 7)
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "reset", "data": images[:1], "after_cycles": 3000},
                              {"op": "images", "data": images[1:]}], tmp_path, simulator=simulator())
    reset = results["steps"][1]
    assert reset["busy_before"] == 1, "the reset did not land in the middle of an image"
    assert reset["results_after"] == 0, "a result came out of the aborted image"
    assert reset["loaded_after"] == 1, "a reset must keep the loaded parameters"
    check_bit_exact(artifact, images[1:], results["steps"][2]["images"])


def test_two_artifacts_on_one_build(tmp_path):
    first, second = random_artifact(SPEC, 4), random_artifact(SPEC, 5)
    images = random_images(1, 9)
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(first)},
                              {"op": "images", "data": images},
                              {"op": "params", "data": pack_parameters(second)},
                              {"op": "images", "data": images}], tmp_path / "a", simulator=simulator())
    check_bit_exact(first, images, results["steps"][1]["images"])
    check_bit_exact(second, images, results["steps"][3]["images"])
    assert results["steps"][1]["images"][0]["logits"] != results["steps"][3]["images"][0]["logits"]
    again = simulate(SPEC, [{"op": "params", "data": pack_parameters(second)},
                            {"op": "images", "data": images}], tmp_path / "b", simulator=simulator())
    assert again["build"].build_dir == results["build"].build_dir
    assert again["build"].cached, "a new artifact of the same spec rebuilt the RTL"


def test_bad_parameter_streams_are_flagged_and_never_half_loaded(tmp_path):
    good_artifact, other_artifact = random_artifact(SPEC, 6), random_artifact(SPEC, 7)
    good, other = pack_parameters(good_artifact), pack_parameters(other_artifact)
    wrong_spec = good.copy()
    wrong_spec[1] ^= 1
    wrong_magic = good.copy()
    wrong_magic[0] ^= 1
    too_long = np.concatenate([good, good[:3]])
    images = random_images(1, 11)
    steps = [{"op": "params", "data": good},
             {"op": "params", "data": other, "beats": len(other) - 5},   # cut short
             {"op": "params", "data": too_long},
             {"op": "params", "data": wrong_spec},
             {"op": "params", "data": wrong_magic},
             {"op": "params", "data": good}, {"op": "images", "data": images}]
    results = simulate(SPEC, steps, tmp_path, simulator=simulator())
    status = [(step["loaded"], step["error"]) for step in results["steps"][:6]]
    assert status == [(1, 0), (0, 1), (0, 1), (0, 1), (0, 1), (1, 0)]
    check_bit_exact(good_artifact, images, results["steps"][6]["images"])


def test_a_mismatch_names_the_first_differing_layer(tmp_path):
    """Load one artifact, compare with golden of a copy whose dsc5.pw differs: the report
    must name dsc5.pw (every layer before it agrees)."""
    loaded = random_artifact(SPEC, 8)
    params = dict(loaded.params)
    params["dsc5.pw.weight"] = -params["dsc5.pw.weight"]
    changed = Artifact(spec=loaded.spec, params=params, manifest=loaded.manifest)
    images = random_images(1, 13)
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(loaded)},
                              {"op": "images", "data": images}], tmp_path, simulator=simulator(),
                       monitor=True)
    assert first_mismatch(SPEC, results["writes"], {k: v[0] for k, v in
                                                    model.run(loaded, images, trace=True)[1].items()}) is None
    _, trace = model.run(changed, images, trace=True)
    report = first_mismatch(SPEC, results["writes"], {k: v[0] for k, v in trace.items()})
    assert report is not None and report.startswith("dsc5.pw:"), report


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog (iverilog) is not installed")
def test_whole_network_under_icarus(tmp_path):
    artifact = random_artifact(SPEC, 9)
    images = random_images(1, 15)
    results = simulate(SPEC, [{"op": "params", "data": pack_parameters(artifact)},
                              {"op": "images", "data": images}], tmp_path, simulator="icarus")
    check_bit_exact(artifact, images, results["steps"][1]["images"])


@pytest.mark.slow
def test_rr_mobilenet_elaborates_to_verilog(tmp_path):
    """The generator that builds tiny builds the paper's network (9 PEs x 32 lanes, 224x224)."""
    from hw.flow.verilog import lint, write_block_verilog
    spec = load_preset("rr-mobilenet")
    path = write_block_verilog("accelerator", spec, tmp_path)
    text = path.read_text()
    assert "module rrm_accelerator(" in text
    for port in ("aclk", "aresetn", "s_axis_tdata", "s_axis_param_tdata", "m_axis_tdata", "busy"):
        assert f"input {port}" in text or f"output {port}" in text or f"] {port};" in text, port
    lint(path, "rrm_accelerator")
