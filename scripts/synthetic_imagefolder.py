"""Write a synthetic ImageNet-style ImageFolder: ``OUT/{train,val}/<class>/<n>.jpg``.

For measuring the training input pipeline and throughput without ImageNet
(docs/training.md): JPEG images of ImageNet-like sizes (shorter side
``--min-side``..``--max-side``, aspect 3:4..4:3), random noise over a
per-class colour, so the decoding, RandomResizedCrop and evaluation crop do the
work they do on real data.

    python -m scripts.synthetic_imagefolder --out /tmp/synth --classes 1000 --train 2 --val 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def write(out: Path, classes: int, train: int, val: int, min_side: int = 256, max_side: int = 400,
          seed: int = 0) -> int:
    """Write the folder; returns the number of images written."""
    rng = np.random.default_rng(seed)
    count = 0
    for split, per_class in (("train", train), ("val", val)):
        for index in range(classes):
            folder = out / split / f"n{index:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            colour = rng.integers(0, 256, 3)
            for n in range(per_class):
                short = int(rng.integers(min_side, max_side + 1))
                long = int(short * rng.uniform(1.0, 4.0 / 3.0))
                h, w = (short, long) if rng.random() < 0.5 else (long, short)
                noise = rng.integers(-40, 41, (h, w, 3))
                pixels = np.clip(colour + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels, "RGB").save(folder / f"{n}.jpg", quality=90)
                count += 1
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--train", type=int, default=2, help="training images per class")
    parser.add_argument("--val", type=int, default=1, help="validation images per class")
    parser.add_argument("--min-side", type=int, default=256)
    parser.add_argument("--max-side", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.classes, args.train, args.val) < 1 or not 1 <= args.min_side <= args.max_side:
        parser.error("--classes, --train and --val must be >= 1 and 1 <= --min-side <= --max-side")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} exists and is not empty")
    n = write(args.out, args.classes, args.train, args.val, args.min_side, args.max_side, args.seed)
    print(f"{n} images in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
