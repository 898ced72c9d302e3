"""Training data: the embedded digits set (default) or an ImageFolder directory.

Every dataset yields ``(image, label)`` with the image a uint8 tensor (H, W, C),
channels-last, exactly what the accelerator receives, and checks itself
against the spec: input size, channels, classes.

* **Embedded default**: scikit-learn's 8x8 handwritten digits (1797 images, 10
  classes, shipped inside the package: nothing is downloaded), pixel values
  0..16 scaled to 0..255 and resized (bilinear) to the spec's input size. The
  train/test split is fixed (stratified, 20 % test, seed 0) whatever the
  training seed. Training images are shifted by up to size/16 pixels at random.
* **ImageFolder** (``--data DIR``): ``DIR/train/<class>/*.jpg`` and
  ``DIR/val/<class>/*.jpg`` (any format PIL reads); classes are the sorted folder
  names and must be the same in both. Validation: resize the shorter side to
  size/0.875, centre crop. Training: the same resize, a random crop, a random
  horizontal flip.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from rrm.errors import UserError
from rrm.spec import Spec

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: The usual ImageNet evaluation crop: resize to size/0.875, centre crop to size.
CROP_FRACTION = 0.875
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
MODE_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class ArrayImages(Dataset):
    """Images held in memory as uint8 (N, H, W, C) with int labels; optional random shifts."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: list[str], shift: int = 0):
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.classes = classes
        self.shift = shift

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        image = self.images[index]
        if self.shift:
            dy, dx = (int(v) for v in torch.randint(-self.shift, self.shift + 1, (2,)))
            image = _translate(image, dy, dx)
        return image, self.labels[index]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images (uint8 N, H, W, C) and labels, unaugmented."""
        return self.images.numpy(), self.labels.numpy()


def _translate(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift an (H, W, C) image by (dy, dx) pixels, filling with 0 (background)."""
    out = torch.zeros_like(image)
    h, w = image.shape[:2]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = image[ys, xs]
    return out


def _check_classes(found: int, spec: Spec, where: str) -> None:
    if found != spec.network.num_classes:
        raise UserError(f"{where} has {found} classes but the spec's network.num_classes is "
                        f"{spec.network.num_classes}")


def digits(spec: Spec, train_shift: bool = True) -> tuple[ArrayImages, ArrayImages]:
    """The embedded digits set resized to the spec's input: (train, test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    network = spec.network
    if network.input_channels != 1:
        raise UserError(f"the embedded digits data set has 1 channel but the spec's network.input_channels "
                        f"is {network.input_channels}; give --data DIR")
    raw = load_digits()
    _check_classes(len(raw.target_names), spec, "the embedded digits data set")
    size = network.input_size
    resized = np.stack([
        np.asarray(Image.fromarray(np.rint(img * 255.0 / 16.0).astype(np.uint8)).resize(
            (size, size), Image.BILINEAR))
        for img in raw.images])[..., None]
    labels = raw.target.astype(np.int64)
    train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=DIGITS_TEST_FRACTION,
                                           random_state=DIGITS_SPLIT_SEED, stratify=labels)
    classes = [str(c) for c in raw.target_names]
    shift = max(1, size // 16) if train_shift else 0
    return (ArrayImages(resized[train_idx], labels[train_idx], classes, shift=shift),
            ArrayImages(resized[test_idx], labels[test_idx], classes))


def _list_split(root: Path, split: str) -> tuple[list[str], list[tuple[Path, int]]]:
    folder = root / split
    if not folder.is_dir():
        raise UserError(f"data directory {root} has no {split}/ folder "
                        f"(expected {root}/train/<class>/*.jpg and {root}/val/<class>/*.jpg)")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UserError(f"{folder} has no class folders")
    samples = []
    for index, name in enumerate(classes):
        files = sorted(p for p in (folder / name).rglob("*")
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise UserError(f"class folder {folder / name} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        samples.extend((f, index) for f in files)
    return classes, samples


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"image {path} cannot be read ({exc})") from None


class ImageFolder(Dataset):
    """``root/<split>/<class>/<image>`` read with PIL, resized and cropped to the spec's input."""

    def __init__(self, root: Path, split: str, spec: Spec, train: bool):
        self.root = Path(root)
        self.classes, self.samples = _list_split(self.root, split)
        self.size = spec.network.input_size
        self.channels = spec.network.input_channels
        self.train = train
        first = _open(self.samples[0][0])
        found = MODE_CHANNELS.get(first.mode, len(first.getbands()))
        if found != self.channels:
            raise UserError(f"images in {self.root / split} have {found} channel(s) (mode {first.mode}, "
                            f"e.g. {self.samples[0][0].name}) but the spec's network.input_channels is "
                            f"{self.channels}")
        self.mode = first.mode

    def __len__(self) -> int:
        return len(self.samples)

    def _transform(self, image: Image.Image) -> Image.Image:
        size = self.size
        short = max(size, int(round(size / CROP_FRACTION)))
        w, h = image.size
        scale = short / min(w, h)
        image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
        w, h = image.size
        if self.train:
            left, top = random.randint(0, w - size), random.randint(0, h - size)
        else:
            left, top = (w - size) // 2, (h - size) // 2
        image = image.crop((left, top, left + size, top + size))
        if self.train and random.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        return image

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = _open(path)
        if image.mode != self.mode:
            image = image.convert(self.mode)
        array = np.asarray(self._transform(image), dtype=np.uint8)
        if array.ndim == 2:
            array = array[..., None]
        return torch.from_numpy(array.copy()), torch.tensor(label, dtype=torch.int64)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images (uint8 N, H, W, C) after the evaluation transform, and labels."""
        items = [self[i] for i in range(len(self))]
        return (np.stack([im.numpy() for im, _ in items]),
                np.array([int(lb) for _, lb in items], dtype=np.int64))


def image_folder(root: Path, spec: Spec) -> tuple[ImageFolder, ImageFolder]:
    """(train, val) ImageFolder datasets of ``root``, checked against the spec."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"data directory {root} does not exist")
    if not root.is_dir():
        raise UserError(f"data directory {root} is not a directory")
    train = ImageFolder(root, "train", spec, train=True)
    val = ImageFolder(root, "val", spec, train=False)
    if train.classes != val.classes:
        raise UserError(f"{root}: train/ and val/ hold different class folders "
                        f"({len(train.classes)} vs {len(val.classes)})")
    _check_classes(len(train.classes), spec, f"data directory {root}")
    return train, val


def load_data(spec: Spec, data_dir: Path | None):
    """(train, test) datasets: ImageFolder ``data_dir`` or the embedded digits."""
    if data_dir is None:
        return digits(spec)
    return image_folder(data_dir, spec)
