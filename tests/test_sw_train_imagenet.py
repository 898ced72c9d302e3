"""The ImageNet path of rrm train: the imagenet recipe, --init FLOAT.pt, throughput, mixed precision, DDP."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rrm.errors import UserError
from rrm.presets import load_preset
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec, unpruned
from sw.config import RECIPES, TrainConfig
from sw.init import IMAGENET_MEAN, IMAGENET_STD, _from_ours, load_init
from sw.model import MobileNet
from sw.quant import image_to_input
from sw.train import _lr, amp_dtype, make_optimizer
from tests.test_sw_data import write_image_folder
from tests.test_sw_train import run_cli

FAST = ["--qat-epochs", "1", "--prune-steps", "1", "--prune-epochs", "1", "--finetune-epochs", "0",
        "--max-batches", "2", "--batch-size", "8", "--quiet", "--threads", "1", "--workers", "0"]
ROOT = Path(__file__).resolve().parents[1]


def folder_spec_file(tmp_path: Path) -> tuple[Path, Path]:
    network = NetworkSpec(name="folder", input_size=16, input_channels=3, num_classes=3, width_multiplier=0.125,
                          blocks=((64, 1), (128, 2)), pruned_channels={"dsc3": 12})
    spec = Spec(network=network, quant=QuantSpec(), hardware=HardwareSpec(pe_count=1, lanes=4))
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    return path, write_image_folder(tmp_path / "data", per_class=(6, 2))


def calibrated(spec: Spec, seed: int = 0) -> MobileNet:
    """A float MobileNet with BN statistics from random images (so that outputs are not all zero)."""
    torch.manual_seed(seed)
    model = MobileNet(unpruned(spec))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    n = spec.network
    with torch.no_grad():
        model.train()
        model(torch.randint(0, 256, (32, n.input_size, n.input_size, n.input_channels), dtype=torch.uint8))
    return model.eval()


def sequential_state(model: MobileNet, scale: float = 1.0) -> dict:
    """``model`` in the Sequential MobileNet-v1 layout (model.<k>.<j>.*, fc.*), conv weights times ``scale``
    and BN statistics with them (the same function)."""
    out = {}
    for key, value in model.state_dict().items():
        if key.endswith("mask"):  # channel and weight masks: not in that layout
            continue
        if key.endswith("conv.weight"):
            value = value * scale
        elif key.endswith("running_mean"):
            value = value * scale
        elif key.endswith("running_var"):
            value = value * scale * scale
        out[_from_ours(key)] = value
    return out


# --- the recipe ---------------------------------------------------------------------------------

def test_recipes_digits_is_the_default_and_imagenet_scales_lr_with_the_global_batch():
    assert TrainConfig() == TrainConfig.for_recipe("digits")
    assert TrainConfig.for_recipe("digits", epochs=None, lr=None) == TrainConfig()
    config = TrainConfig.for_recipe("imagenet", epochs=3)
    recipe = config.recipe_spec
    assert (recipe.optimizer, recipe.momentum, recipe.label_smoothing, recipe.amp) == ("sgd", 0.9, 0.1, True)
    assert config.epochs == 3 and config.batch_size == 256 and config.weight_decay == 4e-5
    assert config.lr_for(1) == pytest.approx(0.1) and config.lr_for(8) == pytest.approx(0.8)
    assert TrainConfig().lr_for(8) == TrainConfig().lr  # digits: no scaling
    with pytest.raises(UserError, match="--recipe must be one of digits, imagenet"):
        TrainConfig.for_recipe("resnet")
    with pytest.raises(UserError, match="--data-backend"):
        TrainConfig(data_backend="cv2")


def test_warmup_then_cosine():
    assert _lr(1.0, 0, 100) == pytest.approx(1.0)  # digits: no warm-up, cosine to 1 %
    assert _lr(1.0, 100, 100) == pytest.approx(0.01)
    lrs = [_lr(1.0, step, 100, warmup=10, floor=0.0) for step in range(101)]
    assert lrs[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert lrs[10] == pytest.approx(1.0) and lrs[100] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[55] == pytest.approx(0.5)


def test_imagenet_optimizer_decays_conv_and_fc_weights_only():
    model = MobileNet(unpruned(load_preset("tiny")))
    optimizer = make_optimizer(model, TrainConfig.for_recipe("imagenet"), 0.1)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["nesterov"]
    decay, plain = optimizer.param_groups
    assert decay["weight_decay"] == 4e-5 and plain["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].endswith(("conv.weight", "fc.weight")) for p in decay["params"])
    assert {names[id(p)].rsplit(".", 1)[-1] for p in plain["params"]} == {"weight", "bias"}
    assert all(p.ndim == 1 for p in plain["params"])
    assert len(decay["params"]) + len(plain["params"]) == len(list(model.parameters()))
    adamw = make_optimizer(model, TrainConfig(), 0.003)
    assert isinstance(adamw, torch.optim.AdamW) and len(adamw.param_groups) == 1


def test_mixed_precision_only_on_cuda_and_qat_runs_under_autocast():
    recipe = RECIPES["imagenet"]
    assert amp_dtype(torch.device("cpu"), recipe) is None
    assert amp_dtype(torch.device("cpu"), RECIPES["digits"]) is None
    # The QAT forward and backward under bf16 autocast (CPU here, CUDA in real runs): activations stay
    # on the 4-bit grid and gradients reach the weights.
    spec = load_preset("tiny")
    model = MobileNet(unpruned(spec))
    model.quantized = True
    images = torch.randint(0, 256, (4, 32, 32, 1), dtype=torch.uint8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = model.features(images)
        logits = model(images)
    grid = features.detach().float() * 2 ** spec.quant.act_frac
    assert torch.equal(grid, grid.round()) and float(grid.detach().max()) <= spec.quant.act_max
    torch.nn.functional.cross_entropy(logits.float(), torch.zeros(4, dtype=torch.long)).backward()
    assert model.convs[0].conv.weight.grad is not None


# --- --init ----------------------------------------------------------------------------------------

def test_init_sequential_layout_is_the_same_function_scaled_into_the_clip_range(tmp_path):
    spec = load_preset("tiny")
    model = calibrated(spec)
    state = {"state_dict": {"module." + k: v for k, v in sequential_state(model, scale=3.0).items()}}
    torch.save(state, tmp_path / "seq.pt")
    loaded, info = load_init(tmp_path / "seq.pt", spec)
    assert info["layout"] == "sequential" and info["rescaled_channels"] > 0
    assert max(float(c.conv.weight.detach().abs().max()) for c in loaded.convs) <= 1.0
    reference = MobileNet(unpruned(spec))  # the file's float network as it is, weights beyond the clip
    reference.load_state_dict({**reference.state_dict(), **{k: v for k, v in model.state_dict().items()}})
    with torch.no_grad():
        for layer in reference.convs:
            layer.conv.weight.mul_(3.0)
            layer.bn.running_mean.mul_(3.0)
            layer.bn.running_var.mul_(9.0)
    images = torch.randint(0, 256, (8, 32, 32, 1), dtype=torch.uint8)
    with torch.no_grad():
        ours, theirs = loaded.eval()(images), reference.eval()(images)
    assert float(theirs.abs().max()) > 0.01
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_init_from_our_state_dict_and_checkpoint_model(tmp_path):
    spec = load_preset("tiny")
    model = calibrated(spec, seed=1)
    with torch.no_grad():
        model.convs[4].conv.weight.clamp_(-1, 1)
        model.fc.weight.clamp_(-1, 1)
    torch.save(model.state_dict(), tmp_path / "ours.pt")
    loaded, info = load_init(tmp_path / "ours.pt", spec)
    assert info["layout"] == "rr-mobilenet"
    for key, value in loaded.state_dict().items():
        if info["rescaled_channels"] == 0:
            assert torch.equal(value, model.state_dict()[key]), key
    torch.save({"format": "rr-mobilenet-checkpoint", "model": model.state_dict()}, tmp_path / "ckpt.pt")
    assert load_init(tmp_path / "ckpt.pt", spec)[1]["layout"] == "rr-mobilenet"


def test_imagenet_normalization_folds_into_conv1_away_from_the_border():
    network = NetworkSpec(name="rgb", input_size=16, input_channels=3, num_classes=3, width_multiplier=0.125,
                          blocks=((64, 1),))
    spec = Spec(network=network, quant=QuantSpec(), hardware=HardwareSpec(pe_count=1, lanes=4))
    model = calibrated(spec)
    conv1 = model.convs[0]
    from sw.init import fold_input_normalization
    folded = MobileNet(unpruned(spec))
    folded.load_state_dict(model.state_dict())
    fold_input_normalization(folded, IMAGENET_MEAN, IMAGENET_STD)
    folded.eval()
    pixels = torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    theirs_in = (pixels.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
    ours_in = image_to_input(pixels, spec.quant)
    with torch.no_grad():
        theirs = conv1.bn(conv1.conv(theirs_in))
        ours = folded.convs[0].bn(folded.convs[0].conv(ours_in))
    assert torch.allclose(ours[:, :, 1:-1, 1:-1], theirs[:, :, 1:-1, 1:-1], atol=1e-4)


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("directory", "is not a file"),
    ("text", "is not a torch state dict file"),
    ("tensor", "holds no state dict (a Tensor)"),
    ("empty", "holds no state dict (a dict that is empty)"),
    ("foreign keys", "keys such as 'features.0.weight' are neither"),
    ("not a tensor", "entry 'convs.0.conv.weight' is a str, not a tensor"),
    ("shape", "key 'model.2.0.weight' has shape (16, 1, 1, 1) but the spec's dsc3.dw conv.weight has shape "
              "(16, 1, 3, 3)"),
    ("missing key", "no key 'model.13.4.running_var' (the spec's dsc14.pw bn.running_var, shape (256)"),
    ("unexpected key", "key 'model.3.3.bias' has no counterpart"),
    ("nan", "key 'fc.weight' is not a finite floating-point tensor"),
    ("other spec", "key 'model.0.0.weight' has shape (32, 3, 3, 3) but the spec's conv1 conv.weight has shape "
                   "(8, 1, 3, 3)"),
])
def test_bad_init_files_exit_2_naming_the_first_bad_key(tmp_path, capsys, case, message):
    spec = load_preset("tiny")
    good = sequential_state(MobileNet(unpruned(spec)))
    path = tmp_path / "init.pt"
    if case == "directory":
        path.mkdir()
    elif case == "text":
        path.write_text("not a torch file\n")
    elif case == "tensor":
        torch.save(torch.zeros(3), path)
    elif case == "empty":
        torch.save({}, path)
    elif case == "foreign keys":
        torch.save({"features.0.weight": torch.zeros(3)}, path)
    elif case == "not a tensor":
        torch.save({"convs.0.conv.weight": "x"}, path)
    elif case == "shape":
        good["model.2.0.weight"] = torch.zeros(16, 1, 1, 1)
        torch.save(good, path)
    elif case == "missing key":
        del good["model.13.4.running_var"]
        torch.save(good, path)
    elif case == "unexpected key":
        good["model.3.3.bias"] = torch.zeros(32)
        torch.save(good, path)
    elif case == "nan":
        good["fc.weight"][0, 0] = float("nan")
        torch.save(good, path)
    elif case == "other spec":
        torch.save(sequential_state(MobileNet(unpruned(load_preset("rr-mobilenet")))), path)
    out = tmp_path / "run"
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(out), "--init", str(path), *FAST], capsys)
    assert code == 2, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], text
    assert not out.exists()


def test_train_from_init_skips_float_training(tmp_path, capsys):
    spec = load_preset("tiny")
    model = calibrated(spec, seed=2)
    torch.save(sequential_state(model, scale=2.0), tmp_path / "float.pt")
    out = tmp_path / "run"
    code, text = run_cli(["train", "--preset", "tiny", "--out", str(out), "--init", str(tmp_path / "float.pt"),
                          "--int-eval-images", "20", *FAST], capsys)
    assert code == 0, text
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in history] == ["qat", "prune1"]
    assert all(r["images_per_s"] > 0 and r["images_per_s_all"] == pytest.approx(r["images_per_s"])
               for r in history)
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["epochs"] == 0 and report["init"]["layout"] == "sequential"
    assert report["init"]["rescaled_channels"] > 0
    assert report["throughput"]["images_per_s_per_process"] > 0
    assert report["throughput"]["float_images_per_s_per_process"] is None  # no float epoch with --init
    assert report["throughput"]["quantized_images_per_s_per_process"] > 0
    assert "Float start point (--init)" in (out / "report.md").read_text()
    # The float accuracy reported is the start point's.
    from sw.data import digits
    from sw.train import Distributed, evaluate
    start, _ = load_init(tmp_path / "float.pt", spec)
    want = evaluate(start, digits(spec)[1], Distributed(), 64)["top1"]
    assert report["accuracy"]["float_top1"] == pytest.approx(want)


# --- the imagenet recipe on an ImageFolder --------------------------------------------------------

def test_imagenet_recipe_on_an_image_folder(tmp_path, capsys):
    spec, data = folder_spec_file(tmp_path)
    out = tmp_path / "run"
    code, text = run_cli(["train", "--spec", str(spec), "--data", str(data), "--recipe", "imagenet",
                          "--data-backend", "pil", "--epochs", "1", "--out", str(out), *FAST], capsys)
    assert code == 0, text
    report = json.loads((out / "report.json").read_text())
    recipe = report["recipe"]
    assert recipe["name"] == "imagenet" and recipe["optimizer"] == "sgd" and recipe["label_smoothing"] == 0.1
    assert recipe["global_batch"] == 8 and recipe["peak_lr"] == pytest.approx(0.1 * 8 / 256)
    assert recipe["mixed_precision"] is False  # CPU
    assert report["data_backend"] == "pil"
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in history] == ["float", "qat", "prune1"]
    # Warm-up: the float phase (1 epoch of 2 steps, warm-up 5 epochs) never leaves it.
    assert history[0]["lr"] == pytest.approx(0.1 * 8 / 256 * 2 / 10)
    md = (out / "report.md").read_text()
    assert "Recipe `imagenet`: SGD (momentum 0.9, Nesterov)" in md and "Training throughput (images/s" in md


def test_torchrun_two_processes_imagenet_recipe_scales_the_batch(tmp_path):
    """2 processes over gloo with the imagenet recipe: global batch and lr scale, throughput summed."""
    spec, data = folder_spec_file(tmp_path)
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "scripts.cli", "train", "--spec", str(spec), "--data", str(data), "--recipe", "imagenet",
           "--data-backend", "pil", "--out", str(out), "--epochs", "1", "--qat-epochs", "0", "--prune-steps", "1",
           "--prune-epochs", "1", "--max-batches", "2", "--batch-size", "4", "--workers", "1", "--quiet",
           "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["environment"]["processes"] == 2
    assert report["recipe"]["global_batch"] == 8 and report["recipe"]["peak_lr"] == pytest.approx(0.1 * 8 / 256)
    for record in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()):
        assert record["images_per_s_all"] > record["images_per_s"] > 0
        assert not math.isnan(record["train_loss"])


@pytest.mark.skipif(__import__("sw.data", fromlist=["x"]).torchvision_status()[0] is not None,
                    reason="torchvision imports here")
def test_data_backend_torchvision_without_torchvision_exits_2(tmp_path, capsys):
    spec, data = folder_spec_file(tmp_path)
    out = tmp_path / "run"
    code, text = run_cli(["train", "--spec", str(spec), "--data", str(data), "--data-backend", "torchvision",
                          "--out", str(out), *FAST], capsys)
    assert code == 2 and "torchvision does not import here" in text and "--data-backend pil" in text, text
    assert not out.exists()
