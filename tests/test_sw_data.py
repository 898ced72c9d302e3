"""sw.data: the embedded digits set and ImageFolder directories (written here with PIL)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from rrm.errors import UserError
from rrm.presets import load_preset
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec
from sw.data import digits, image_folder, load_data


def folder_spec(channels: int = 3, classes: int = 3, size: int = 16) -> Spec:
    network = NetworkSpec(name="folder", input_size=size, input_channels=channels, num_classes=classes,
                          width_multiplier=0.125, blocks=((64, 1), (128, 2)))
    return Spec(network=network, quant=QuantSpec(), hardware=HardwareSpec(pe_count=1, lanes=4))


def write_image_folder(root, classes=("cat", "dog", "fox"), per_class=(4, 2), mode="RGB", sizes=((40, 30), (24, 50))):
    """root/train/<class>/*.png and root/val/<class>/*.png with a class-dependent colour."""
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "val"), per_class):
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                w, h = sizes[i % len(sizes)]
                bands = len(Image.new(mode, (1, 1)).getbands())
                step = 190 // len(classes)
                array = rng.integers(0, 60, (h, w, bands), dtype=np.uint8) + np.uint8(step * index)
                image = Image.fromarray(array[..., 0] if bands == 1 else array, mode)
                image.save(folder / f"{i}.{'jpg' if i % 2 else 'png'}")
    return root


def test_digits_are_resized_uint8_with_a_fixed_split():
    spec = load_preset("tiny")
    train, test = digits(spec)
    assert (len(train), len(test)) == (1437, 360)
    images, labels = test.arrays()
    assert images.shape == (360, 32, 32, 1) and images.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0
    assert sorted(set(labels.tolist())) == list(range(10))
    assert min(np.bincount(labels)) >= 30  # stratified
    again, _ = digits(spec)[1].arrays()
    np.testing.assert_array_equal(images, again)
    image, label = train[0]
    assert image.shape == (32, 32, 1) and image.dtype == torch.uint8 and 0 <= int(label) < 10


def test_digits_training_images_are_shifted_copies():
    spec = load_preset("tiny")
    train, _ = digits(spec)
    original = train.images[5]
    torch.manual_seed(0)
    seen = {tuple(train[5][0].flatten().tolist()) for _ in range(20)}
    assert len(seen) > 3
    for flat in seen:
        assert sum(flat) <= int(original.sum())  # a shift only loses pixels


def test_digits_follow_the_spec_input_size():
    spec = load_preset("tiny")
    spec = spec.replace(network=dataclasses.replace(spec.network, input_size=24))
    _, test = digits(spec)
    assert test.arrays()[0].shape[1:] == (24, 24, 1)


def test_digits_refuse_a_spec_with_other_channels_or_classes():
    spec = load_preset("tiny")
    with pytest.raises(UserError, match="1 channel but the spec's network.input_channels is 3"):
        digits(spec.replace(network=dataclasses.replace(spec.network, input_channels=3)))
    with pytest.raises(UserError, match="10 classes but the spec's network.num_classes is 1000"):
        load_data(load_preset("rr-mobilenet").replace(
            network=dataclasses.replace(load_preset("rr-mobilenet").network, input_channels=1)), None)


def test_image_folder_yields_cropped_uint8_images(tmp_path):
    root = write_image_folder(tmp_path / "data")
    train, val = image_folder(root, folder_spec())
    assert train.classes == val.classes == ["cat", "dog", "fox"]
    assert (len(train), len(val)) == (12, 6)
    image, label = val[5]
    assert image.shape == (16, 16, 3) and image.dtype == torch.uint8 and int(label) == 2
    # Validation is deterministic (centre crop); training is random (crop + flip).
    assert torch.equal(val[0][0], val[0][0])
    assert len({tuple(train[1][0].flatten().tolist()) for _ in range(12)}) > 1
    # Class colours survive the transform.
    means = [float(val[i][0].float().mean()) for i in (0, 2, 4)]
    assert means[0] < means[1] < means[2]


def test_image_folder_grey_images_for_one_channel(tmp_path):
    root = write_image_folder(tmp_path / "grey", mode="L")
    train, _ = image_folder(root, folder_spec(channels=1))
    assert train[0][0].shape == (16, 16, 1)


@pytest.mark.parametrize("problem, message", [
    ("missing", "does not exist"),
    ("file", "is not a directory"),
    ("no-val", "has no val/ folder"),
    ("classes", "has 3 classes but the spec's network.num_classes is 4"),
    ("channels", "have 3 channel(s) (mode RGB"),
    ("empty-class", "holds no images"),
    ("different-classes", "different class folders"),
])
def test_bad_data_directories_are_refused(tmp_path, problem, message):
    spec = folder_spec()
    root = tmp_path / "data"
    if problem == "file":
        root.write_text("x")
    elif problem != "missing":
        write_image_folder(root)
    if problem == "no-val":
        for path in sorted((root / "val").rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (root / "val").rmdir()
    elif problem == "classes":
        spec = folder_spec(classes=4)
    elif problem == "channels":
        spec = folder_spec(channels=1)
    elif problem == "empty-class":
        (root / "train" / "emu").mkdir()
    elif problem == "different-classes":
        (root / "val" / "fox").rename(root / "val" / "owl")
    with pytest.raises(UserError) as info:
        image_folder(root, spec)
    assert message in str(info.value)


def test_corrupt_image_is_named(tmp_path):
    root = write_image_folder(tmp_path / "data")
    bad = root / "val" / "dog" / "0.png"
    bad.write_bytes(b"not an image at all")
    _, val = image_folder(root, folder_spec())
    with pytest.raises(UserError, match="0.png cannot be read"):
        val[2]
