"""Fine-grained pruning in the training flow (sw/fine_pruning.py, sw/model.py masks) and the pruning orders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rrm.artifact import load_artifact
from rrm.errors import UserError
from rrm.presets import load_preset
from rrm.prune_plan import stages
from rrm.spec import unpruned
from scripts.cli import main
from sw import fine_pruning
from sw.checkpoint import model_from_checkpoint
from sw.config import TrainConfig
from sw.model import MobileNet, shrink
from sw.pruning import prune_step as kernel_step

TINY = load_preset("tiny")
FULL = unpruned(TINY)


def model_of(spec, seed=0):
    torch.manual_seed(seed)
    return MobileNet(unpruned(spec))


def nonzeros(model, name):
    weight, _ = model.weight_and_mask(name)
    return int(torch.count_nonzero(weight))


def test_plan_uniform_peak_and_overrides():
    uniform = fine_pruning.plan(FULL, 0.2, None, "forward")
    assert list(uniform.targets)[:2] == ["dsc2.pw", "dsc3.pw"] and list(uniform.targets)[-1] == "fc"
    assert uniform.targets["dsc14.pw"] == round(0.2 * 65536) and uniform.targets["fc"] == 512
    peak = fine_pruning.plan(FULL, 0.2, None, "peak")
    assert sum(peak.targets.values()) == round(0.2 * 198_784)
    assert peak.targets["dsc2.pw"] == 128 and peak.targets["dsc14.pw"] < uniform.targets["dsc14.pw"]
    named = fine_pruning.plan(FULL, None, {"dsc3.dw": 0.5}, "all")
    assert named.targets == {"dsc3.dw": 72} and named.sizes == {"dsc3.dw": 144}
    assert fine_pruning.plan(FULL, None, None, "all").targets == {}
    pruned = fine_pruning.plan(TINY, 0.5, None, "all")      # counted in the kernel-pruned shapes
    assert pruned.sizes["dsc8.pw"] == 72 * 72 and pruned.targets["dsc8.pw"] == 72 * 36
    with pytest.raises(UserError, match="--fine-keep-layer dsc99.pw: no such layer"):
        fine_pruning.plan(FULL, None, {"dsc99.pw": 0.5}, "all")


@pytest.mark.parametrize("order", ["forward", "reversed", "peak"])
def test_a_layer_is_cut_at_its_stage_and_only_loses_weights(order):
    model = model_of(FULL)
    fine = fine_pruning.plan(FULL, 0.2, None, order)
    stage = stages(fine.sizes, order, 3)
    before = {name: model.weight_and_mask(name)[0].detach().abs().clone() for name in fine.targets}
    previous = {name: torch.ones_like(before[name], dtype=torch.bool) for name in fine.targets}
    for step in (1, 2, 3):
        kept = fine_pruning.prune_step(model, fine, step, 3)
        for name, target in fine.targets.items():
            expect = target if stage[name] <= step else fine.sizes[name]
            assert kept[name] == expect == nonzeros(model, name), (name, step)
            mask = model.weight_and_mask(name)[1] > 0
            assert not (mask & ~previous[name]).any()                    # nothing grows back
            previous[name] = mask
    assert fine_pruning.fine_done(model, fine)
    assert fine_pruning.sparsity(model, fine) == pytest.approx(1 - sum(fine.targets.values()) / 198_784)
    for name in fine.targets:                                            # magnitude: the largest |w| stay
        mask = model.weight_and_mask(name)[1] > 0
        if (~mask).any():
            assert before[name][mask].min() >= before[name][~mask].max()
    groups = {order: [n for n in fine.targets if stage[n] == 1]}
    if order == "reversed":
        assert "fc" in groups[order] and "dsc2.pw" not in groups[order]
    if order == "peak":
        assert "dsc14.pw" in groups[order] and "dsc13.pw" in groups[order]


def test_order_all_moves_every_layer_a_share_each_step():
    model = model_of(FULL)
    fine = fine_pruning.plan(FULL, 0.4, None, "all")
    kept = fine_pruning.prune_step(model, fine, 1, 2)
    assert kept["dsc14.pw"] == 65536 - round((65536 - fine.targets["dsc14.pw"]) / 2)
    assert fine_pruning.prune_step(model, fine, 2, 2) == fine.targets


def test_with_kernel_pruning_the_shrunk_network_keeps_exactly_the_targets():
    model = model_of(TINY)
    fine = fine_pruning.plan(TINY, 0.3, {"dsc9.dw": 0.5}, "reversed")
    for step in (1, 2, 3):
        kernel_step(model, TINY, step, 3, "reversed")
        fine_pruning.prune_step(model, fine, step, 3)
    assert fine_pruning.fine_done(model, fine)
    small = shrink(model, TINY)
    refilled = 0
    for name, target in fine.targets.items():
        assert int(small.weight_and_mask(name)[1].sum()) == target, name
        # a layer cut before a later kernel step removed some of its channels (dsc9.dw at step 2,
        # dsc8 at step 3) has its mask filled up with zero weights, which the retraining moves again
        assert nonzeros(small, name) <= target, name
        refilled += target - nonzeros(small, name)
    assert fine.targets["dsc9.dw"] - nonzeros(small, "dsc9.dw") > 0
    assert nonzeros(small, "fc") == fine.targets["fc"]                      # cut after its inputs: exact
    assert refilled < 0.05 * sum(fine.targets.values())
    images = torch.randint(0, 256, (4, 32, 32, 1), dtype=torch.uint8)
    model.eval(), small.eval()
    torch.testing.assert_close(small(images), model(images), rtol=1e-5, atol=1e-5)


def test_kernel_orders_cut_blocks_in_groups():
    model = model_of(TINY)
    kept = kernel_step(model, TINY, 1, 2, "reversed")                      # dsc14 .. dsc11 first
    assert kept["dsc14"] == 192 and kept["dsc11"] == 72 and kept["dsc10"] == 128 and kept["dsc7"] == 128
    model = model_of(TINY)
    kept = kernel_step(model, TINY, 1, 2, "forward")
    assert kept["dsc7"] == 72 and kept["dsc14"] == 256


def test_masks_survive_an_optimizer_step_and_old_checkpoints_load():
    model = model_of(FULL)
    fine = fine_pruning.plan(FULL, 0.1, None, "all")
    fine_pruning.prune_step(model, fine, 1, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randint(0, 256, (2, 32, 32, 1), dtype=torch.uint8)).sum().backward()
    optimizer.step()
    model.apply_weight_masks_()
    assert all(nonzeros(model, name) == target for name, target in fine.targets.items())
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("weight_mask")}
    _, loaded = model_from_checkpoint({"spec": FULL.to_dict(), "model": state, "progress": {}})
    assert all(bool((loaded.weight_and_mask(n)[1] == 1).all()) for n in ("fc", "dsc5.pw"))


@pytest.mark.parametrize("kwargs, message", [
    ({"prune_order": "sideways"}, "--prune-order must be one of all, forward, reversed, peak, got 'sideways'"),
    ({"fine_keep": 0.0}, "--fine-keep must be a fraction in (0, 1], got 0.0"),
    ({"fine_keep_layers": {"fc": 2}}, "--fine-keep-layer fc=2: the fraction must be in (0, 1]"),
])
def test_config_checks_name_the_value(kwargs, message):
    with pytest.raises(UserError) as info:
        TrainConfig(**kwargs)
    assert message in str(info.value)


def test_training_with_fine_pruning_end_to_end(tmp_path, capsys):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(FULL.to_json())
    out = tmp_path / "run"
    args = ["train", "--spec", str(spec_file), "--out", str(out), "--epochs", "1", "--qat-epochs", "0",
            "--prune-steps", "2", "--prune-epochs", "1", "--finetune-epochs", "0", "--max-batches", "1",
            "--quiet", "--fine-keep", "0.25", "--fine-keep-layer", "fc=0.5", "--prune-order", "peak"]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    fine = report["fine_pruning"]
    assert report["prune_order"] == "peak" and fine["order"] == "peak"
    assert fine["layers"]["fc"] == {"weights": 2560, "kept": 1280}
    plan = fine_pruning.plan(FULL, 0.25, {"fc": 0.5}, "peak")
    assert {name: layer["kept"] for name, layer in fine["layers"].items()} == plan.targets
    artifact = load_artifact(out / "artifact")
    for name, target in plan.targets.items():     # quantization may round more weights to zero, never fewer
        assert 0 < np.count_nonzero(artifact.params[f"{name}.weight"]) <= target
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["kept_weights"] == plan.targets
    assert "Fine-grained pruning:" in (out / "report.md").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["train", "--preset", "tiny", "--out", str(tmp_path / "b"), "--fine-keep-layer", "fc"])
    assert info.value.code == 2 and "--fine-keep-layer 'fc': expected NAME=R" in capsys.readouterr().err
