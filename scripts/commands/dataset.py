"""``rrm dataset``: write a data split as the uint8 arrays the golden model and RTL take."""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

from ..outputs import check_writable_dir, removed_on_failure, write_bytes_atomic
from ..specio import add_spec_arguments, spec_from_args

NAME = "dataset"
HELP = "write the test (or train) split as IMAGES.npy (uint8 N,H,W,C) and LABELS.npy"


def add_arguments(parser):
    add_spec_arguments(parser, default="tiny")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="ImageFolder with train/ and val/ (default: the embedded digits)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="which split (test = val/ of an ImageFolder; default: test)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="directory for images.npy and labels.npy (existing ones only with --force)")
    parser.add_argument("--force", action="store_true", help="overwrite images.npy and labels.npy in --out")


def run(args) -> int:
    import io

    import numpy as np

    from sw.data import load_data

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit {args.limit}: must be at least 1")
    spec = spec_from_args(args)
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a directory for images.npy and labels.npy")
    there = [name for name in ("images.npy", "labels.npy") if (args.out / name).exists()]
    if there and not args.force:
        raise UserError(f"--out {args.out} already holds {there[0]} (give --force to overwrite)")
    check_writable_dir(args.out, f"--out {args.out}")
    train, test = load_data(spec, args.data)
    data = test if args.split == "test" else train
    count = len(data) if args.limit is None else min(args.limit, len(data))
    if hasattr(data, "arrays"):  # in-memory set: unaugmented arrays
        images, labels = (a[:count] for a in data.arrays())
    else:
        items = [data[i] for i in range(count)]
        images = np.stack([np.asarray(image) for image, _ in items]).astype(np.uint8)
        labels = np.array([int(label) for _, label in items], dtype=np.int64)
    with removed_on_failure(args.out):
        args.out.mkdir(parents=True, exist_ok=True)
        for name, array in (("images.npy", images), ("labels.npy", labels)):
            buffer = io.BytesIO()
            np.save(buffer, array)
            write_bytes_atomic(args.out / name, buffer.getvalue())
    print(f"wrote {len(labels)} {args.split} images {tuple(images.shape[1:])} to "
          f"{args.out / 'images.npy'} and labels to {args.out / 'labels.npy'}")
    return 0
