"""`rrm golden` as a user runs it: logits, trace files, printed classes, one-line errors
with exit code 2, and the benchmark's last line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from golden import model
from golden.random_weights import random_artifact
from rrm.artifact import save_artifact
from rrm.presets import load_preset
from scripts.cli import main

TINY = load_preset("tiny")


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden-cli") / "artifact"
    return save_artifact(path, TINY, random_artifact(TINY, 7).params)


@pytest.fixture
def images_file(tmp_path):
    images = np.random.default_rng(7).integers(0, 256, (5, 32, 32, 1), dtype=np.uint8)
    path = tmp_path / "images.npy"
    np.save(path, images)
    return path, images


def run_cli(*args):
    """main() in-process: (exit code, SystemExit raised by argparse on errors)."""
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code


def test_logits_trace_and_classes(artifact_dir, images_file, tmp_path, capsys):
    path, images = images_file
    out, trace_dir = tmp_path / "logits.npy", tmp_path / "trace"
    assert run_cli("golden", artifact_dir, path, "--out", out, "--trace", trace_dir) == 0
    logits = np.load(out)
    expected, trace = model.run(artifact_dir, images, trace=True)
    assert logits.dtype == np.int64 and np.array_equal(logits, expected)
    printed = capsys.readouterr().out
    for index, cls in enumerate(model.predict(expected)):
        assert f"image {index}: class {cls}" in printed
    files = sorted(p.name for p in trace_dir.iterdir())
    assert files == sorted(f"{layer.name}.npy" for layer in TINY.layers())
    for name, output in trace.items():
        assert np.array_equal(np.load(trace_dir / f"{name}.npy"), output)


def corrupt(artifact_dir, tmp_path):
    broken = tmp_path / "broken"
    save_artifact(broken, TINY, random_artifact(TINY, 7).params)
    data = bytearray((broken / "weights.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (broken / "weights.npz").write_bytes(bytes(data))
    return broken


@pytest.mark.parametrize("case, message", [
    ("corrupt", "checksum mismatch"),
    ("missing-artifact", "does not exist"),
    ("int16", "must be uint8"),
    ("shape", "(N, 32, 32, 1)"),
    ("npz", ".npz archive"),
    ("pickle", "cannot be read"),
    ("missing-images", "does not exist"),
])
def test_bad_input_exits_2_with_one_line(case, message, artifact_dir, images_file, tmp_path, capsys):
    path, images = images_file
    artifact = artifact_dir
    if case == "corrupt":
        artifact = corrupt(artifact_dir, tmp_path)
    elif case == "missing-artifact":
        artifact = tmp_path / "nowhere"
    elif case == "int16":
        np.save(path, images.astype(np.int16))
    elif case == "shape":
        np.save(path, images[:, :16])
    elif case == "npz":
        path = tmp_path / "images.npz"
        np.savez(path, images=images)
    elif case == "pickle":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "missing-images":
        path = tmp_path / "none.npy"
    assert run_cli("golden", artifact, path, "--out", tmp_path / "l.npy") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_usage_errors_exit_2(artifact_dir, capsys):
    assert run_cli("golden", artifact_dir) == 2
    assert "IMAGES.npy" in capsys.readouterr().err
    assert run_cli("golden", "--random-weights", "--preset", "tiny") == 2
    assert "--bench" in capsys.readouterr().err
    assert run_cli("golden", "--bench") == 2
    assert "--random-weights" in capsys.readouterr().err
    assert run_cli("golden", "--bench", "--random-weights", "--images", "0") == 2
    assert run_cli("golden", artifact_dir, "x.npy", "--preset", "rr-mobilenet") == 2
    assert "own spec" in capsys.readouterr().err


def test_bench_prints_the_ratio_last():
    """The installed entry point, as a user runs it (a subprocess: torch threads stay ours)."""
    done = subprocess.run([sys.executable, "-m", "scripts.cli", "golden", "--preset", "tiny",
                           "--random-weights", "--bench", "--images", "2", "--repeat", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("network: tiny")
    assert any(line.startswith("golden: ") for line in lines)
    key, value = lines[-1].split(": ")
    assert key == "ratio_to_torch" and float(value) > 0


def test_labels_give_top1_accuracy(artifact_dir, images_file, tmp_path, capsys):
    path, images = images_file
    predicted = model.predict(model.run(artifact_dir, images))
    labels = predicted.copy()
    labels[:2] = (labels[:2] + 1) % 10  # two of five wrong
    labels_path = tmp_path / "labels.npy"
    np.save(labels_path, labels)
    assert run_cli("golden", artifact_dir, path, "--labels", labels_path) == 0
    assert "top-1 accuracy: 60.00% (3 of 5)" in capsys.readouterr().out
    np.save(labels_path, labels[:3])
    assert run_cli("golden", artifact_dir, path, "--labels", labels_path) == 2
    assert "labels must be integers of shape (5,)" in capsys.readouterr().err
