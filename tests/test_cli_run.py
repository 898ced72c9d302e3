"""`rrm run` without a simulator or a board: bad input exits 2 before anything runs, and the
command reports the driver's results and errors right (the simulated runs themselves are in
tb/test_host_driver.py). The simulator run is replaced by a stand-in here."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import tb.host_sim
from golden import model
from golden.random_weights import random_artifact
from rrm.artifact import save_artifact
from rrm.presets import load_preset
from scripts.cli import main

TINY = load_preset("tiny")


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    return save_artifact(tmp_path_factory.mktemp("run-cli") / "artifact", TINY, random_artifact(TINY, 7).params)


@pytest.fixture
def images_file(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.random.default_rng(3).integers(0, 256, (3, 32, 32, 1), dtype=np.uint8))
    return path


def stand_in(monkeypatch, steps_for):
    """Replace the simulator run with one returning ``steps_for(plan_steps)``."""
    calls = []

    def run_driver(spec, steps, work_dir, simulator="verilator"):
        calls.append((spec, steps))
        return {"opened": {"spec_hash": 1, "classes": 10, "layers": 29}, "steps": steps_for(steps)}

    monkeypatch.setattr(tb.host_sim, "run_driver", run_driver)
    return calls


def test_matching_logits_are_written(monkeypatch, artifact_dir, images_file, tmp_path, capsys):
    images = np.load(images_file)
    golden = model.run(random_artifact(TINY, 7), images)
    calls = stand_in(monkeypatch, lambda steps: [
        {"op": "load", "status": {}},
        {"op": "classify", "logits": golden.tolist(), "classes": np.argmax(golden, 1).tolist(),
         "cycles": [100, 100, 100], "layer_cycles": [[1] * 29] * 3}])
    out = tmp_path / "logits.npy"
    assert main(["run", str(artifact_dir), str(images_file), "--sim", "--out", str(out)]) == 0
    assert np.array_equal(np.load(out), golden)
    assert [step["op"] for step in calls[0][1]] == ["load", "classify"]
    assert "3 of 3 image(s) bit-exact; 100 cycles per image" in capsys.readouterr().out


def test_a_differing_image_fails_and_writes_nothing(monkeypatch, artifact_dir, images_file, tmp_path, capsys):
    golden = model.run(random_artifact(TINY, 7), np.load(images_file))
    wrong = golden.copy()
    wrong[1, 0] += 1
    stand_in(monkeypatch, lambda steps: [
        {"op": "load", "status": {}},
        {"op": "classify", "logits": wrong.tolist(), "classes": np.argmax(wrong, 1).tolist(),
         "cycles": [100] * 3, "layer_cycles": [[1] * 29] * 3}])
    out = tmp_path / "logits.npy"
    assert main(["run", str(artifact_dir), str(images_file), "--sim", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "image 1: class" in captured.out and "DIFFERS from golden" in captured.out
    assert not out.exists()


def test_the_drivers_error_is_reported(monkeypatch, artifact_dir, images_file, capsys):
    stand_in(monkeypatch, lambda steps: [
        {"op": "load", "error": "SpecMismatchError", "message": "the artifact is for spec hash 0x1"}])
    assert main(["run", str(artifact_dir), str(images_file), "--sim"]) == 1
    assert "the driver reported SpecMismatchError: the artifact is for spec hash 0x1" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--timeout", "0"], "--timeout must be a positive number"),
    (["--limit", "0"], "--limit must be >= 1"),
])
def test_bad_options_exit_2(artifact_dir, images_file, extra, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(artifact_dir), str(images_file), "--sim", *extra])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_images_of_the_wrong_shape_exit_2(artifact_dir, tmp_path, capsys):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((2, 28, 28, 1), dtype=np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(artifact_dir), str(path), "--sim"])
    assert exit_info.value.code == 2


def test_sim_or_board_is_required(artifact_dir, images_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(artifact_dir), str(images_file)])
    assert exit_info.value.code == 2 and "--sim" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("pynq") is not None, reason="pynq is installed here")
def test_board_without_pynq_names_what_is_missing(artifact_dir, images_file, tmp_path, capsys):
    bitfile = tmp_path / "system.bit"
    bitfile.write_bytes(b"\0")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(artifact_dir), str(images_file), "--board", str(bitfile)])
    assert exit_info.value.code == 2
    assert "'pynq' package is not installed" in capsys.readouterr().err
