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


def test_eval_transform_is_resize_then_centre_crop():
    """Resize(256) + CenterCrop(224): 500x375 -> 341x256, crop at (58, 16)."""
    from sw.data import make_transform
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (375, 500, 3), dtype=np.uint8))
    transform, backend = make_transform(224, train=False, backend="pil")
    assert backend == "pil"
    want = image.resize((341, 256), Image.BILINEAR).crop((58, 16, 58 + 224, 16 + 224))
    np.testing.assert_array_equal(np.asarray(transform(image)), np.asarray(want))


def test_train_transform_is_a_seeded_random_resized_crop_and_flip():
    from sw.data import make_transform, random_resized_crop_params
    image = Image.fromarray(np.arange(40 * 30 * 3, dtype=np.uint32).reshape(30, 40, 3).astype(np.uint8))
    transform, _ = make_transform(16, train=True, backend="pil")
    outputs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        outputs.append(np.asarray(transform(image)))
    assert outputs[0].shape == (16, 16, 3) and outputs[0].dtype == np.uint8
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])
    torch.manual_seed(3)
    for _ in range(200):
        top, left, h, w = random_resized_crop_params(40, 30)
        assert 0 <= top and top + h <= 30 and 0 <= left and left + w <= 40
        assert 0.08 * 1200 * 0.9 <= h * w <= 1200 and 0.7 <= w / h <= 1.4
    flips = 0
    for seed in range(40):
        torch.manual_seed(seed)
        top, left, h, w = random_resized_crop_params(40, 30)
        torch.manual_seed(seed)
        out = np.asarray(transform(image))
        crop = np.asarray(image.crop((left, top, left + w, top + h)).resize((16, 16), Image.BILINEAR))
        flips += np.array_equal(out, crop[:, ::-1])
        assert np.array_equal(out, crop) or np.array_equal(out, crop[:, ::-1])
    assert 5 < flips < 35


def test_backend_choice_and_a_torchvision_that_does_not_import(monkeypatch):
    import sw.data as data
    monkeypatch.setattr(data, "torchvision_status", lambda: (None, "RuntimeError: operator torchvision::nms "
                                                                   "does not exist"))
    assert data.make_transform(16, True, "auto")[1] == "pil"
    with pytest.raises(UserError, match="torchvision does not import here .*nms.*--data-backend pil"):
        data.make_transform(16, True, "torchvision")
    with pytest.raises(UserError, match="--data-backend must be one of"):
        data.make_transform(16, True, "opencv")


def test_torchvision_status_never_raises():
    from sw.data import torchvision_status
    module, line = torchvision_status()
    assert isinstance(line, str) and line
    assert (module is None) == (not line.startswith("torchvision "))


@pytest.mark.skipif(__import__("sw.data", fromlist=["x"]).torchvision_status()[0] is None,
                    reason="torchvision does not import beside this torch build")
def test_pil_transforms_equal_torchvision_pixel_for_pixel(tmp_path):
    import torchvision
    from sw.data import make_transform
    rng = np.random.default_rng(0)
    for size, (w, h) in [(224, (500, 375)), (224, (375, 500)), (16, (40, 30)), (16, (17, 400))]:
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for train in (False, True):
            ours, theirs = make_transform(size, train, "pil")[0], make_transform(size, train, "torchvision")[0]
            for seed in range(3):
                torch.manual_seed(seed)
                a = np.asarray(ours(image))
                torch.manual_seed(seed)
                np.testing.assert_array_equal(a, np.asarray(theirs(image)))
    root = write_image_folder(tmp_path / "data")
    (root / "train" / "cat" / "deeper").mkdir()
    Image.new("RGB", (20, 20)).save(root / "train" / "cat" / "deeper" / "a.png")
    train, _ = image_folder(root, folder_spec())
    reference = torchvision.datasets.ImageFolder(str(root / "train"))
    assert [(str(p), c) for p, c in train.samples] == reference.samples
