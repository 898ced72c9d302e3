"""The same output rules for every command (scripts/outputs.py, issue 27): an existing file
is refused without --force, the output place is checked before the work, a created
directory is removed again on failure, files get the umask's mode."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from scripts.cli import main
from scripts.outputs import check_file_out, removed_on_failure, write_bytes_atomic
from rrm.errors import UserError


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    out = tmp_path_factory.mktemp("art") / "art"
    assert main(["export", "--preset", "tiny", "--random", "--seed", "1", "--out", str(out)]) == 0
    images = out.parent / "images.npy"
    np.save(images, np.zeros((2, 32, 32, 1), np.uint8))
    return out, images


def error_line(args, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize("command", ["golden", "onnx", "sim", "export", "dataset"])
def test_existing_output_is_refused_without_force(command, art, tmp_path, capsys):
    artifact, images = art
    out = tmp_path / ("out" if command in ("export", "dataset") else "out.bin")
    if command in ("export", "dataset"):
        out.mkdir()
        (out / ("labels.npy" if command == "dataset" else "junk")).write_bytes(b"old")
        before = sorted(p.name for p in out.iterdir())
    else:
        out.write_bytes(b"old")
    args = {"golden": ["golden", artifact, images, "--out", out],
            "onnx": ["onnx", artifact, "--out", out],
            "sim": ["sim", artifact, images, "--out", out],
            "export": ["export", "--preset", "tiny", "--random", "--out", out],
            "dataset": ["dataset", "--preset", "tiny", "--out", out, "--limit", "2"]}[command]
    line = error_line(args, capsys)
    assert "--force" in line, line
    if out.is_dir():
        assert sorted(p.name for p in out.iterdir()) == before
    else:
        assert out.read_bytes() == b"old"


@pytest.mark.parametrize("command", ["golden", "onnx", "dataset"])
def test_force_overwrites(command, art, tmp_path):
    artifact, images = art
    out = tmp_path / ("out" if command == "dataset" else "out.bin")
    if command == "dataset":
        out.mkdir()
        (out / "labels.npy").write_bytes(b"old")
    else:
        out.write_bytes(b"old")
    args = {"golden": ["golden", artifact, images, "--out", out, "--force"],
            "onnx": ["onnx", artifact, "--out", out, "--force"],
            "dataset": ["dataset", "--preset", "tiny", "--out", out, "--limit", "2", "--force"]}[command]
    assert main([str(a) for a in args]) == 0
    target = out / "labels.npy" if command == "dataset" else out
    assert target.read_bytes() != b"old"


def test_onnx_file_gets_the_umask_mode(art, tmp_path):
    artifact, _ = art
    out = tmp_path / "model.onnx"
    assert main(["onnx", str(artifact), "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_golden_labels_out_of_range_are_refused(art, tmp_path, capsys):
    artifact, images = art
    labels = tmp_path / "labels.npy"
    np.save(labels, np.array([3, 12]))
    line = error_line(["golden", artifact, images, "--labels", labels], capsys)
    assert "label 12 is not a class" in line and "0..9" in line


def test_sim_out_under_a_file_is_refused_before_anything(art, tmp_path, capsys, monkeypatch):
    import tb.build
    monkeypatch.setattr(tb.build, "build_design", lambda *a, **k: pytest.fail("built before checking --out"))
    artifact, images = art
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = error_line(["sim", artifact, images, "--out", blocker / "r.json"], capsys)
    assert str(blocker) in line


def test_removed_on_failure_removes_only_what_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with removed_on_failure(tmp_path / "a" / "b"):
            (tmp_path / "a" / "b").mkdir(parents=True)
            raise RuntimeError("crash")
    assert not (tmp_path / "a").exists()
    (tmp_path / "keep").mkdir()
    with pytest.raises(RuntimeError):
        with removed_on_failure(tmp_path / "keep"):
            raise RuntimeError("crash")
    assert (tmp_path / "keep").is_dir()


def test_vivado_failure_leaves_no_directory(tmp_path, capsys, monkeypatch):
    import hw.flow.vivado

    def crash(spec, out, artifact):
        out.mkdir()
        (out / "accelerator.v").write_text("half")
        raise UserError("generation failed")
    monkeypatch.setattr(hw.flow.vivado, "write_handoff", crash)
    error_line(["vivado", "--preset", "tiny", "--out", tmp_path / "viv"], capsys)
    assert not (tmp_path / "viv").exists()


def test_check_file_out_and_atomic_write(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        check_file_out(tmp_path, False)
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="is a file, not a directory"):
        check_file_out(tmp_path / "f" / "g", True)
    write_bytes_atomic(tmp_path / "new" / "x.bin", b"data")
    assert (tmp_path / "new" / "x.bin").read_bytes() == b"data"
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["x.bin"]


@pytest.mark.parametrize("leaves_checkpoint", [False, True])
def test_failed_training_leaves_no_empty_run_directory(tmp_path, capsys, monkeypatch, leaves_checkpoint):
    import sw.train

    def crash(spec, config, out, **kwargs):
        out.mkdir(parents=True)
        if leaves_checkpoint:
            (out / "checkpoint.pt").write_bytes(b"resumable")
        raise UserError("the data folder has no class folders")
    monkeypatch.setattr(sw.train, "train", crash)
    error_line(["train", "--preset", "tiny", "--out", tmp_path / "run"], capsys)
    assert (tmp_path / "run").exists() == leaves_checkpoint


def test_verilog_and_plot_refuse_existing_files_without_force(tmp_path, capsys):
    (tmp_path / "skid_buffer.v").write_text("old")
    line = error_line(["verilog", "--block", "skid_buffer", "--preset", "tiny", "--out", tmp_path], capsys)
    assert "--force" in line and (tmp_path / "skid_buffer.v").read_text() == "old"
    assert main(["verilog", "--block", "skid_buffer", "--preset", "tiny", "--out", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "skid_buffer.v").read_text() != "old"
    (tmp_path / "m.png").write_bytes(b"old")
    assert "--force" in error_line(["analyze", "--preset", "tiny", "--plot", tmp_path / "m.png"], capsys)
