"""scripts/synthetic_imagefolder.py: an ImageNet-style folder that sw.data reads at 224x224."""

from __future__ import annotations

import pytest
import torch

from rrm.presets import load_preset
from scripts.synthetic_imagefolder import main
from sw.data import image_folder


def test_writes_a_folder_the_imagenet_path_reads(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["--out", str(out), "--classes", "3", "--train", "2", "--val", "1", "--min-side", "240",
                 "--max-side", "260"]) == 0
    assert "9 images" in capsys.readouterr().out
    spec = load_preset("rr-mobilenet")
    spec = spec.replace(network=spec.network.__class__(**{**spec.network.__dict__, "num_classes": 3}))
    train, val = image_folder(out, spec, "pil")
    assert (len(train), len(val), train.classes) == (6, 3, ["n00000000", "n00000001", "n00000002"])
    image, label = val[2]
    assert image.shape == (224, 224, 3) and image.dtype == torch.uint8 and int(label) == 2


def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x").write_text("x")
    with pytest.raises(SystemExit) as info:
        main(["--out", str(tmp_path)])
    assert info.value.code == 2
