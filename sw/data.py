"""Training data: the embedded digits set (default) or an ImageFolder directory.

Every dataset yields ``(image, label)`` with the image a uint8 tensor (H, W, C),
channels-last, exactly what the accelerator receives (the network subtracts
128 itself, docs/design.md §6), and checks itself against the spec: input size,
channels, classes.

* **Embedded default**: scikit-learn's 8x8 handwritten digits (1797 images, 10
  classes, shipped inside the package: nothing is downloaded), pixel values
  0..16 scaled to 0..255 and resized (bilinear) to the spec's input size. The
  train/test split is fixed (stratified, 20 % test, seed 0) whatever the
  training seed. Training images are shifted by up to size/16 pixels at random.
* **ImageFolder** (``--data DIR``): ``DIR/train/<class>/*.jpg`` and
  ``DIR/val/<class>/*.jpg`` (any format PIL reads), torchvision's
  ``ImageFolder`` layout: classes are the sorted folder names (the same in
  both), files in ``os.walk`` order. The standard ImageNet transforms, on PIL
  images and without ``ToTensor``/``Normalize``: training
  ``RandomResizedCrop(size)`` (scale 0.08-1, ratio 3/4-4/3, bilinear) and
  ``RandomHorizontalFlip()``; evaluation ``Resize(round(size / 0.875))`` (256
  for 224) and ``CenterCrop(size)``. They come from torchvision when it imports
  (:func:`torchvision_status`); otherwise from :class:`PilTransforms`, the same
  algorithms, the same random draws from torch's generator, pixel for pixel.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from rrm.errors import UserError
from rrm.spec import Spec

from .config import DATA_BACKENDS as BACKENDS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: The usual ImageNet evaluation crop: resize to size/0.875, centre crop to size.
CROP_FRACTION = 0.875
#: RandomResizedCrop's area and aspect-ratio ranges (torchvision's defaults).
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
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
        # torchvision.datasets.folder.make_dataset's order: sorted os.walk, sorted names.
        files = [Path(top) / fname
                 for top, _, fnames in sorted(os.walk(folder / name, followlinks=True))
                 for fname in sorted(fnames) if fname.lower().endswith(IMAGE_SUFFIXES)]
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


@functools.lru_cache(maxsize=None)
def torchvision_status():
    """``(torchvision.transforms or None, one line)``: the module and its version, or why it does not import.

    A torchvision wheel built for another torch build fails inside ``import
    torchvision`` (PyPI's 0.28.0 beside the CPU-only torch 2.13.0 wheel: its
    ``_C.so`` needs ``libtorch_cuda.so``, then ``operator torchvision::nms does
    not exist``), so any exception means "not available".
    """
    try:
        import torchvision
        from torchvision import transforms
    except Exception as exc:  # noqa: BLE001 - RuntimeError, ImportError, OSError, ... all mean "unusable"
        lines = str(exc).strip().splitlines()
        return None, f"{type(exc).__name__}: {lines[0] if lines else ''}"[:200]
    return transforms, f"torchvision {torchvision.__version__}"


def eval_resize(size: int) -> int:
    """The shorter side before the evaluation centre crop: 256 for 224."""
    return max(size, int(round(size / CROP_FRACTION)))


def random_resized_crop_params(width: int, height: int, scale=CROP_SCALE, ratio=CROP_RATIO):
    """torchvision's ``RandomResizedCrop.get_params``: (top, left, h, w), drawn from torch's generator."""
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = torch.randint(0, height - h + 1, size=(1,)).item()
            left = torch.randint(0, width - w + 1, size=(1,)).item()
            return top, left, h, w
    in_ratio = width / height  # ten misses: the central crop that fits the ratio range
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class PilTransforms:
    """The standard ImageNet transforms without torchvision, equal to its v1 transforms on PIL images.

    Training: ``RandomResizedCrop(size)`` then ``RandomHorizontalFlip()``;
    evaluation: ``Resize(eval_resize(size))`` then ``CenterCrop(size)``; bilinear
    resampling by PIL, as torchvision does for PIL images, and the same draws
    from torch's random generator in the same order.
    """

    def __init__(self, size: int, train: bool):
        self.size, self.train = size, train
        self.resize = eval_resize(size)

    def __call__(self, image: Image.Image) -> Image.Image:
        size = self.size
        if self.train:
            top, left, h, w = random_resized_crop_params(*image.size)
            image = image.crop((left, top, left + w, top + h)).resize((size, size), Image.BILINEAR)
            if torch.rand(1) < 0.5:
                image = image.transpose(Image.FLIP_LEFT_RIGHT)
            return image
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = self.resize, int(self.resize * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            image = image.resize((new_w, new_h), Image.BILINEAR)
        top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
        return image.crop((left, top, left + size, top + size))

    def __repr__(self) -> str:
        return (f"PilTransforms(RandomResizedCrop({self.size}), RandomHorizontalFlip())" if self.train else
                f"PilTransforms(Resize({self.resize}), CenterCrop({self.size}))")


def make_transform(size: int, train: bool, backend: str = "auto"):
    """``(transform, backend used)``: the training or evaluation transform on PIL images (see the module doc)."""
    if backend not in BACKENDS:
        raise UserError(f"--data-backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "pil":
        transforms, why = torchvision_status()
        if transforms is not None:
            bilinear = transforms.InterpolationMode.BILINEAR
            if train:
                steps = [transforms.RandomResizedCrop(size, scale=CROP_SCALE, ratio=CROP_RATIO,
                                                      interpolation=bilinear),
                         transforms.RandomHorizontalFlip()]
            else:
                steps = [transforms.Resize(eval_resize(size), interpolation=bilinear), transforms.CenterCrop(size)]
            return transforms.Compose(steps), "torchvision"
        if backend == "torchvision":
            raise UserError(f"--data-backend torchvision: torchvision does not import here ({why}); "
                            f"install one built for torch {torch.__version__} or use --data-backend pil "
                            f"(the same transforms)")
    return PilTransforms(size, train), "pil"


class ImageFolder(Dataset):
    """``root/<split>/<class>/<image>`` read with PIL and transformed (see the module doc) to uint8 (H, W, C)."""

    def __init__(self, root: Path, split: str, spec: Spec, train: bool, backend: str = "auto"):
        self.root = Path(root)
        self.classes, self.samples = _list_split(self.root, split)
        self.size = spec.network.input_size
        self.channels = spec.network.input_channels
        self.train = train
        self.transform, self.backend = make_transform(self.size, train, backend)
        first = _open(self.samples[0][0])
        found = MODE_CHANNELS.get(first.mode, len(first.getbands()))
        if found != self.channels:
            raise UserError(f"images in {self.root / split} have {found} channel(s) (mode {first.mode}, "
                            f"e.g. {self.samples[0][0].name}) but the spec's network.input_channels is "
                            f"{self.channels}")
        self.mode = first.mode

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = _open(path)
        if image.mode != self.mode:
            image = image.convert(self.mode)
        array = np.asarray(self.transform(image), dtype=np.uint8)
        if array.ndim == 2:
            array = array[..., None]
        return torch.from_numpy(array.copy()), torch.tensor(label, dtype=torch.int64)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images (uint8 N, H, W, C) after the evaluation transform, and labels."""
        items = [self[i] for i in range(len(self))]
        return (np.stack([im.numpy() for im, _ in items]),
                np.array([int(lb) for _, lb in items], dtype=np.int64))


def image_folder(root: Path, spec: Spec, backend: str = "auto") -> tuple[ImageFolder, ImageFolder]:
    """(train, val) ImageFolder datasets of ``root``, checked against the spec; ``backend`` picks the transforms."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"data directory {root} does not exist")
    if not root.is_dir():
        raise UserError(f"data directory {root} is not a directory")
    train = ImageFolder(root, "train", spec, train=True, backend=backend)
    val = ImageFolder(root, "val", spec, train=False, backend=backend)
    if train.classes != val.classes:
        raise UserError(f"{root}: train/ and val/ hold different class folders "
                        f"({len(train.classes)} vs {len(val.classes)})")
    _check_classes(len(train.classes), spec, f"data directory {root}")
    return train, val


def load_data(spec: Spec, data_dir: Path | None, backend: str = "auto"):
    """(train, test) datasets: ImageFolder ``data_dir`` (transforms from ``backend``) or the embedded digits."""
    if data_dir is None:
        return digits(spec)
    return image_folder(data_dir, spec, backend)
