"""`rrm sim` without a simulator: bad input fails before any build, and the result file and
the mismatch report come out right (the RTL runs themselves are in tb/test_accelerator.py).

Every test here replaces the build and the simulator run with stand-ins, so nothing is
compiled or simulated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import tb.accelerator_sim
import tb.build
from golden import model
from golden.random_weights import random_artifact
from rrm.artifact import save_artifact
from rrm.memory_map import memory_map
from rrm.presets import load_preset
from scripts.cli import main
from scripts.commands import sim as sim_command

TINY = load_preset("tiny")


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim-cli") / "artifact"
    return save_artifact(path, TINY, random_artifact(TINY, 7).params)


@pytest.fixture
def images_file(tmp_path):
    images = np.random.default_rng(3).integers(0, 256, (3, 32, 32, 1), dtype=np.uint8)
    path = tmp_path / "images.npy"
    np.save(path, images)
    return path, images


class Started(Exception):
    """Raised by the stand-ins: a build or a simulation was started."""


@pytest.fixture
def no_simulator(monkeypatch):
    """Any build or simulator run raises Started."""
    def refuse(*args, **kwargs):
        raise Started("a build or simulation started")
    monkeypatch.setattr(tb.build, "build_design", refuse)
    monkeypatch.setattr(tb.accelerator_sim, "simulate", refuse)


def run_cli(*args):
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code


def corrupt_copy(artifact_dir, tmp_path):
    broken = tmp_path / "broken"
    save_artifact(broken, TINY, random_artifact(TINY, 7).params)
    data = bytearray((broken / "weights.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (broken / "weights.npz").write_bytes(bytes(data))
    return broken


@pytest.mark.parametrize("case, words", [
    ("corrupt", ["checksum mismatch"]),
    ("missing-artifact", ["does not exist"]),
    ("int16", ["uint8", "int16"]),
    ("float", ["uint8", "float32"]),
    ("shape", ["(N, 32, 32, 1)", "(3, 28, 28, 1)"]),
    ("channels", ["(N, 32, 32, 1)", "(3, 32, 32, 3)"]),
    ("empty", ["holds no images"]),
    ("preset", ["spec 'tiny'", "build's spec 'rr-mobilenet'", "spec hash", "hardware.lanes"]),
    ("spec-file", ["build's spec", "hardware.lanes"]),
    ("out-dir", ["is a directory"]),
])
def test_bad_input_exits_2_before_any_build(case, words, artifact_dir, images_file, tmp_path,
                                            capsys, no_simulator):
    images_path, images = images_file
    artifact, extra = artifact_dir, []
    out = tmp_path / "results" / "result.json"
    if case == "corrupt":
        artifact = corrupt_copy(artifact_dir, tmp_path)
    elif case == "missing-artifact":
        artifact = tmp_path / "nowhere"
    elif case in ("int16", "float", "shape", "channels", "empty"):
        bad = {"int16": images.astype(np.int16), "float": images.astype(np.float32),
               "shape": images[:, :28, :28], "channels": np.repeat(images, 3, axis=3),
               "empty": images[:0]}[case]
        images_path = tmp_path / "bad.npy"
        np.save(images_path, bad)
    elif case == "preset":
        extra = ["--preset", "rr-mobilenet"]
    elif case == "spec-file":
        data = TINY.to_dict()
        data["hardware"]["lanes"] = 16
        spec_path = tmp_path / "build-spec.json"
        spec_path.write_text(json.dumps(data))
        extra = ["--spec", spec_path]
    elif case == "out-dir":
        out = tmp_path / "results"
        out.mkdir()
    assert run_cli("sim", artifact, images_path, "--out", out, *extra) == 2
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith("rrm sim: error: ")
    for word in words:
        assert word in line, line
    if case != "out-dir":
        assert not out.parent.exists(), "nothing may be written on bad input"
    else:
        assert list(out.iterdir()) == []


def test_icarus_without_iverilog_is_a_clear_error(artifact_dir, images_file, tmp_path, capsys,
                                                  no_simulator, monkeypatch):
    monkeypatch.setattr(sim_command.shutil, "which", lambda program: None)
    out = tmp_path / "r" / "result.json"
    assert run_cli("sim", artifact_dir, images_file[0], "--out", out, "--simulator", "icarus") == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "iverilog" in line and "--simulator verilator" in line
    assert not out.parent.exists()


def test_errors_are_one_line_without_traceback(artifact_dir, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 32, 32, 1), dtype=np.int16))
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, "-m", "scripts.cli", "sim", str(artifact_dir), str(bad),
                           "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "int16" in done.stderr
    assert not out.exists()


def test_matching_build_spec_passes_the_checks(artifact_dir, images_file, tmp_path, no_simulator):
    # The same spec under another name (a --spec file without the preset) is the same build.
    data = TINY.to_dict()
    data["preset"] = None
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(data))
    out = tmp_path / "r" / "result.json"
    for extra in (["--preset", "tiny"], ["--spec", spec_path]):
        with pytest.raises(Started):
            run_cli("sim", artifact_dir, images_file[0], "--out", out, *extra)
    assert not out.exists()


# ----------------------------------------------------------------------------- with stand-ins
def fake_run(monkeypatch, golden_logits, wrong: set = frozenset(), calls: list | None = None):
    """Stand-ins for the build and the simulator that answer with golden's logits
    (plus one on logit 0 of the images in ``wrong``)."""
    layers = [e.name for e in memory_map(TINY).layers]
    design = SimpleNamespace(build_seconds=12.5, cached=False, build_dir="build/sim/fake")

    def simulate(spec, steps, work_dir, **kwargs):
        if calls is not None:
            calls.append({"images": len(steps[1]["data"]), **kwargs})
        results = []
        for index in range(len(steps[1]["data"])):
            logits = [int(v) for v in golden_logits[index]]
            if index in wrong and not kwargs.get("monitor"):
                logits[0] += 1
            results.append({"logits": logits, "class": int(np.argmax(logits)), "cycles": 1000 + index,
                            "layer_cycles": list(range(len(layers))), "image_error": 0})
        return {"steps": [{"op": "params", "loaded": 1, "error": 0}, {"op": "images", "images": results}],
                "writes": [], "run_seconds": 2.0}

    monkeypatch.setattr(tb.build, "build_design", lambda *a, **k: design)
    monkeypatch.setattr(tb.accelerator_sim, "simulate", simulate)
    return layers


def test_result_file(artifact_dir, images_file, tmp_path, monkeypatch, capsys):
    path, images = images_file
    logits = model.run(artifact_dir, images)
    layers = fake_run(monkeypatch, logits)
    out = tmp_path / "r" / "result.json"
    assert run_cli("sim", artifact_dir, path, "--out", out) == 0
    result = json.loads(out.read_text())
    assert len(result["images"]) == len(images)
    for index, image in enumerate(result["images"]):
        assert set(image) == {"logits", "class", "cycles", "interval", "layer_cycles", "match_golden"}
        assert image["logits"] == [int(v) for v in logits[index]]
        assert image["class"] == int(np.argmax(logits[index]))
        assert image["match_golden"] is True
        assert list(image["layer_cycles"]) == layers
    assert result["build_seconds"] == 12.5 and result["run_seconds"] == 2.0
    assert result["cycles_per_second"] == round(sum(1000 + i for i in range(3)) / 2.0)
    assert [p.name for p in out.parent.iterdir()] == ["result.json"]  # no temporary file left
    printed = capsys.readouterr().out
    assert "image 2: class" in printed and "3 of 3 image(s) bit-exact" in printed


def test_mismatch_names_the_first_differing_layer(artifact_dir, images_file, tmp_path, monkeypatch, capsys):
    path, images = images_file
    logits = model.run(artifact_dir, images)
    calls = []
    fake_run(monkeypatch, logits, wrong={1, 2}, calls=calls)
    seen = {}

    def first_mismatch(spec, writes, trace):
        seen["trace"] = trace
        return "dsc4.pw: first difference at (y=0, x=1, channel=2): RTL 3, golden 4"

    monkeypatch.setattr(tb.accelerator_sim, "first_mismatch", first_mismatch)
    out = tmp_path / "result.json"
    assert run_cli("sim", artifact_dir, path, "--out", out) == 1
    result = json.loads(out.read_text())  # written before the error
    assert [image["match_golden"] for image in result["images"]] == [True, False, False]
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "2 of 3" in line and "image 1" in line and "dsc4.pw" in line
    # The re-run simulates only image 1, monitored, and compares it with image 1's trace.
    assert calls[-1]["images"] == 1 and calls[-1]["monitor"] is True
    _, trace = model.run(artifact_dir, images[1:2], trace=True)
    assert np.array_equal(seen["trace"]["dsc4.pw"], trace["dsc4.pw"][0])


def test_simulation_failure_writes_nothing(artifact_dir, images_file, tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise AssertionError("cocotb tests in tb.cocotb_accelerator failed")
    monkeypatch.setattr(tb.build, "build_design",
                        lambda *a, **k: SimpleNamespace(build_seconds=0.0, cached=True, build_dir="x"))
    monkeypatch.setattr(tb.accelerator_sim, "simulate", fail)
    out = tmp_path / "result.json"
    assert run_cli("sim", artifact_dir, images_file[0], "--out", out) == 1
    assert "simulation failed" in capsys.readouterr().err
    assert not out.exists()


def test_write_json_atomic_keeps_the_old_file_on_error(tmp_path):
    out = tmp_path / "result.json"
    out.write_text('{"old": true}')
    with pytest.raises(TypeError):
        sim_command.write_json_atomic(out, {"bad": object()})
    assert json.loads(out.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
