"""rrm train end to end on a fast path (a few batches): files, report, resume, bad input, DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rrm.artifact import expected_arrays, load_artifact
from rrm.presets import load_preset
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec
from scripts.cli import main
from sw import int_emulation
from sw.data import digits
from sw.train import Trainer

FAST = ["--epochs", "1", "--qat-epochs", "1", "--prune-steps", "2", "--prune-epochs", "1", "--finetune-epochs", "1",
        "--max-batches", "2", "--batch-size", "32", "--quiet", "--threads", "1"]


def run_cli(argv, capsys=None):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    text = ""
    if capsys is not None:
        captured = capsys.readouterr()
        text = captured.out + captured.err
    return code, text


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    code, _ = run_cli(["train", "--preset", "tiny", "--out", str(out), *FAST])
    assert code == 0
    return out


def test_fast_run_writes_checkpoint_metrics_report_and_artifact(fast_run):
    assert sorted(p.name for p in fast_run.iterdir()) == ["artifact", "checkpoint.pt", "metrics.jsonl",
                                                          "report.json", "report.md"]
    lines = [json.loads(line) for line in (fast_run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["epoch"]) for r in lines] == [("float", 1), ("qat", 1), ("prune1", 1), ("prune2", 1),
                                                             ("finetune", 1)]
    for record in lines:
        assert 0.0 <= record["test_acc"] <= 1.0 and record["train_loss"] > 0
    assert lines[-1]["kept_channels"]["dsc14"] == 192
    report = json.loads((fast_run / "report.json").read_text())
    for key in ("float_top1", "qat_top1", "pruned_qat_top1", "pruned_int_top1"):
        assert 0.0 <= report["accuracy"][key] <= 1.0
    assert report["wall_time_s"] > 0
    assert "integer emulation" in (fast_run / "report.md").read_text()


def test_artifact_has_the_pruned_channel_counts_and_its_reported_accuracy(fast_run):
    spec = load_preset("tiny")
    artifact = load_artifact(fast_run / "artifact")
    assert artifact.spec == spec
    for key, want in expected_arrays(spec).items():
        assert artifact.params[key].shape == want.shape
    assert artifact.layer("dsc13.pw")["weight"].shape == (144, 72)
    assert artifact.layer("dsc14.dw")["weight"].shape == (144, 3, 3)
    assert artifact.layer("fc")["weight"].shape == (10, 192)
    images, labels = digits(spec)[1].arrays()
    accuracy = float((int_emulation.predict(artifact, images) == labels).mean())
    report = json.loads((fast_run / "report.json").read_text())
    assert accuracy == pytest.approx(report["accuracy"]["pruned_int_top1"])
    assert artifact.metrics["int_test_acc"] == pytest.approx(accuracy)


def test_checkpoint_is_weights_only_and_weights_are_clipped(fast_run):
    state = torch.load(fast_run / "checkpoint.pt", weights_only=True)
    assert state["format"] == "rr-mobilenet-checkpoint" and state["progress"]["finished"]
    weights = [v for k, v in state["model"].items() if k.endswith("conv.weight") or k == "fc.weight"]
    assert weights and all(w.abs().max() <= 1.0 for w in weights)


def test_export_from_the_checkpoint_equals_the_training_artifact(fast_run, tmp_path, capsys):
    code, text = run_cli(["export", "--checkpoint", str(fast_run / "checkpoint.pt"), "--out",
                          str(tmp_path / "again")], capsys)
    assert code == 0, text
    ours, theirs = load_artifact(tmp_path / "again"), load_artifact(fast_run / "artifact")
    for key in theirs.params:
        np.testing.assert_array_equal(ours.params[key], theirs.params[key], err_msg=key)


def test_interrupted_run_resumes_to_the_same_result(fast_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "interrupted"
    calls = {"n": 0}
    original = Trainer._train_epoch

    def interrupt_third_epoch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_epoch", interrupt_third_epoch)
    code, _ = run_cli(["train", "--preset", "tiny", "--out", str(out), *FAST], capsys)
    assert code == 130
    assert not (out / "artifact").exists() and not (out / "report.json").exists()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    code, text = run_cli(["export", "--checkpoint", str(out / "checkpoint.pt"), "--out", str(tmp_path / "a")],
                         capsys)
    assert code == 2 and "pruning has not reached the spec's channel counts" in text
    monkeypatch.setattr(Trainer, "_train_epoch", original)
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(out), "--resume", *FAST], capsys)
    assert code == 0, text
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (fast_run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["epoch"]) for r in history] == [(r["phase"], r["epoch"]) for r in reference]
    for ours, theirs in zip(history, reference):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-4)
    a, b = load_artifact(out / "artifact"), load_artifact(fast_run / "artifact")
    assert a.manifest["files"] == b.manifest["files"]  # the same weights, bit for bit


def test_same_seed_and_threads_give_the_same_weights(fast_run, tmp_path):
    """Reproducibility: a second run with the same seed and thread count writes the same weights.npz."""
    code, _ = run_cli(["train", "--preset", "tiny", "--out", str(tmp_path / "again"), *FAST])
    assert code == 0
    ours = json.loads((tmp_path / "again" / "artifact" / "manifest.json").read_text())
    theirs = json.loads((fast_run / "artifact" / "manifest.json").read_text())
    assert ours["files"] == theirs["files"]
    timing = ("wall_time_s", "cpu_time_s", "throughput")
    ours, theirs = (json.loads((run / "report.json").read_text()) for run in (tmp_path / "again", fast_run))
    assert {k: v for k, v in ours.items() if k not in timing} == {k: v for k, v in theirs.items() if k not in timing}


def test_existing_run_needs_resume_and_resume_needs_a_run(fast_run, tmp_path, capsys):
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(fast_run), *FAST], capsys)
    assert code == 2 and "already holds a training run" in text
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(tmp_path / "new"), "--resume", *FAST], capsys)
    assert code == 2 and "nothing to resume" in text


def test_resume_with_another_spec_is_refused(fast_run, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(fast_run, out)
    spec = load_preset("tiny")
    other = spec.replace(network=spec.network.__class__(**{**spec.network.__dict__, "name": "other"}))
    (tmp_path / "other.json").write_text(other.to_json())
    code, text = run_cli(["train", "--spec", str(tmp_path / "other.json"), "--out", str(out), "--resume", *FAST],
                         capsys)
    assert code == 2 and "written for another spec" in text


@pytest.mark.parametrize("content, message", [
    (b"\x00garbage" * 10, "corrupt or not a torch checkpoint"),
    ("foreign", "not an rr-mobilenet training checkpoint"),
    ("truncated", "corrupt or not a torch checkpoint"),
    ("wrong-version", "version 7 is not supported"),
    ("wrong-shapes", "model weights do not fit the spec"),
])
def test_corrupt_or_foreign_checkpoints_are_refused(fast_run, tmp_path, capsys, content, message):
    out = tmp_path / "run"
    shutil.copytree(fast_run, out)
    ckpt = out / "checkpoint.pt"
    if content == "foreign":
        torch.save({"state_dict": {"w": torch.zeros(3)}}, ckpt)
    elif content == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:5000])
    elif content in ("wrong-version", "wrong-shapes"):
        state = torch.load(ckpt, weights_only=True)
        if content == "wrong-version":
            state["version"] = 7
        else:
            state["model"]["fc.weight"] = torch.zeros(3, 3)
        torch.save(state, ckpt)
    else:
        ckpt.write_bytes(content)
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(out), "--resume", *FAST], capsys)
    assert code == 2 and message in text, text
    code, text = run_cli(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "art")], capsys)
    assert code == 2 and message in text, text
    assert not (tmp_path / "art").exists()


def test_bad_data_and_options_exit_2(tmp_path, capsys):
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(tmp_path / "a"), "--data",
                          str(tmp_path / "nowhere"), *FAST], capsys)
    assert code == 2 and "does not exist" in text
    code, text = run_cli(["train", "--preset", "rr-mobilenet", "--out", str(tmp_path / "b"), *FAST], capsys)
    assert code == 2 and "input_channels is 3" in text
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(tmp_path / "c"), *FAST, "--prune-steps", "0"],
                         capsys)
    assert code == 2 and "--prune-steps" in text
    (tmp_path / "file").write_text("x")
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(tmp_path / "file"), *FAST], capsys)
    assert code == 2 and "is not a directory" in text
    assert (tmp_path / "file").read_text() == "x"


def write_image_folder(root: Path, classes: str, per_class: tuple[int, int]) -> Path:
    """root/{train,val}/<class>/*.png: RGB images of several sizes, brighter for later classes."""
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "val"), per_class):
        for index, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                h, w = (30, 40) if i % 2 else (50, 24)
                array = rng.integers(0, 60, (h, w, 3), dtype=np.uint8) + np.uint8(30 * index)
                Image.fromarray(array, "RGB").save(root / split / name / f"{i}.png")
    return root


def test_train_on_an_image_folder_reports_top5(tmp_path, capsys):
    network = NetworkSpec(name="folder", input_size=16, input_channels=3, num_classes=6, width_multiplier=0.125,
                          blocks=((64, 1), (128, 2)), pruned_channels={"dsc3": 12})
    spec = Spec(network=network, quant=QuantSpec(), hardware=HardwareSpec(pe_count=1, lanes=4))
    (tmp_path / "spec.json").write_text(spec.to_json())
    data = write_image_folder(tmp_path / "data", classes="abcdef", per_class=(3, 2))
    code, text = run_cli(["train", "--spec", str(tmp_path / "spec.json"), "--data", str(data),
                          "--out", str(tmp_path / "run"), "--int-eval-images", "7", *FAST], capsys)
    assert code == 0, text
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["int_test_images"] == 7
    assert 0.0 <= report["accuracy"]["pruned_int_top5"] <= 1.0
    assert report["accuracy"]["pruned_int_top5"] >= report["accuracy"]["pruned_int_top1"]
    assert load_artifact(tmp_path / "run" / "artifact").layer("dsc3.pw")["weight"].shape == (12, 8)


def test_torchrun_two_processes_over_gloo(tmp_path):
    """DistributedDataParallel on CPU: 2 processes, a couple of batches per epoch."""
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "scripts.cli", "train", "--preset", "tiny", "--out", str(out), "--epochs", "1", "--qat-epochs", "0",
           "--prune-steps", "1", "--prune-epochs", "1", "--finetune-epochs", "0", "--max-batches", "2", "--batch-size", "16",
           "--quiet",
           "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["environment"]["processes"] == 2
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(l)["phase"] for l in lines] == ["float", "prune1"]
    load_artifact(out / "artifact")


@pytest.mark.slow
def test_default_tiny_training_meets_the_goals(tmp_path):
    """The issue's figures: pruned integer >= 97 % with at most 1.5 points below float, <= 10 minutes
    (scripts/train_seeds.py checks seeds 0, 1 and 2)."""
    out = tmp_path / "tiny"
    code, _ = run_cli(["train", "--preset", "tiny", "--out", str(out), "--quiet"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["pruned_int_top1"] >= 0.97
    assert report["accuracy"]["float_top1"] - report["accuracy"]["pruned_int_top1"] <= 0.015 + 1e-9
    assert report["wall_time_s"] <= 600
