"""The demo's one report (scripts/demo_report.py): every section, the plots, Fig. 5's three series."""

import json

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from hw.cost.cycle_model import cycle_model
from rrm.artifact import save_artifact
from rrm.spec import unpruned
from scripts.demo_report import layer_memory, write_report

from .specs import TINY


def _run_dir(tmp_path):
    artifact = random_artifact(TINY, 3)
    run = tmp_path / "train"
    save_artifact(run / "artifact", TINY, artifact.params)
    report = {"accuracy": {"float_top1": 0.99, "qat_top1": 0.98, "pruned_qat_top1": 0.975,
                           "pruned_int_top1": 0.975},
              "int_test_images": 8, "wall_time_s": 12.5,
              "config": {"epochs": 1, "qat_epochs": 1, "prune_steps": 1, "prune_epochs": 1, "finetune_epochs": 2,
                         "batch_size": 64, "lr": 0.003, "distill": 0.5, "seed": 0},
              "environment": {"threads": 1, "device": "cpu", "torch": "x"}}
    (run / "report.json").write_text(json.dumps(report))
    return run, artifact


def demo_inputs(tmp_path):
    """What `make demo` gives its report stage: RUN, TEST (8 images, golden misses one) and an
    RTL result on the first 4 (same classes as golden, all bit-exact)."""
    run, artifact = _run_dir(tmp_path)
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 1), dtype=np.uint8)
    logits = model.run(artifact, images)
    classes = np.argmax(logits, axis=1)
    labels = classes.copy()
    labels[0] = (labels[0] + 1) % 10  # golden misses one image, the RTL (same classes) too
    test = tmp_path / "test"
    test.mkdir()
    np.save(test / "images.npy", images)
    np.save(test / "labels.npy", labels)
    np.save(test / "logits.npy", logits)
    cycles = cycle_model(TINY)
    result = {"spec": "tiny", "images": [
        {"class": int(c), "cycles": cycles.cycles, "match_golden": True, "logits": [],
         "layer_cycles": {layer.name: layer.cycles for layer in cycles.layers}} for c in classes[:4]]}
    (tmp_path / "rtl.json").write_text(json.dumps(result))
    return run, test, tmp_path / "rtl.json"


def test_report_has_every_section_and_plot(tmp_path):
    run, test, rtl = demo_inputs(tmp_path)
    out = tmp_path / "out"
    text = write_report(run, test, rtl, out).read_text()
    for heading in ("## Headline", "## Accuracy at every stage", "## Memory per layer (the paper's Fig. 5)",
                    "## The accelerator's RTL (Verilator)", "## How this was made"):
        assert heading in text
    assert "(golden, 8 test images)" in text and "**87.50 %**" in text  # 7 of 8
    assert "4 of 4 bit-exact" in text and "top-1 3 of 4" in text
    assert "fine-tune 2" in text
    for name in ("accuracy.png", "memory.png", "rtl-cycles.png", "rtl-images.png"):
        assert (out / name).stat().st_size > 1000
        assert f"({name})" in text


def test_fig5_series_shrink_and_pruned_sizes_come_from_the_artifact(tmp_path):
    _, artifact = _run_dir(tmp_path)
    rows = layer_memory(TINY, artifact)
    full = [l for l in unpruned(TINY).layers() if l.kind != "pool"]
    assert [r["name"] for r in rows] == [l.name for l in full]
    for row, layer in zip(rows, full):
        assert sum(row["float"]) > sum(row["quant"]) >= sum(row["pruned"])
        if layer.kind != "fc":
            assert row["float"][1] == layer.out_elements * 32
    dsc14 = next(r for r in rows if r["name"] == "dsc14.pw")
    weights = artifact.layer("dsc14.pw")["weight"].size
    assert dsc14["pruned"][0] == weights * 8 + dsc14["channels"][1] * (16 + 32)
    assert dsc14["channels"] == (256, 192)
