"""``rrm golden``: run the numpy golden model on images, or benchmark it against torch.

    rrm golden ARTIFACT IMAGES.npy --out LOGITS.npy [--trace DIR]
    rrm golden --preset NAME --random-weights --bench [--images N]

The first form writes int64 logits (N, classes), prints each image's predicted
class and, with ``--trace``, writes one ``<layer>.npy`` per layer (int64) into DIR.
The second times the golden model against torch's float32 forward of the same
network; its last line is ``ratio_to_torch: X``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from rrm.errors import UserError
from rrm.safe_io import read_npy

from ..outputs import check_file_out, check_writable_dir, removed_on_failure, write_bytes_atomic
from ..specio import add_spec_arguments, spec_from_args

NAME = "golden"
HELP = "run the bit-exact numpy golden model on uint8 images (logits, per-layer trace), or --bench it"


def add_arguments(parser) -> None:
    parser.add_argument("artifact", nargs="?", type=Path, metavar="ARTIFACT",
                        help="export artifact directory (from `rrm export`)")
    parser.add_argument("images", nargs="?", type=Path, metavar="IMAGES.npy",
                        help="uint8 images, shape (N, H, W, C), channels-last")
    parser.add_argument("--out", type=Path, default=None, metavar="LOGITS.npy",
                        help="write the int64 logits (N, classes) here (an existing file only with --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument("--trace", type=Path, default=None, metavar="DIR",
                        help="write every layer's int64 output as DIR/<layer>.npy")
    parser.add_argument("--labels", type=Path, default=None, metavar="LABELS.npy",
                        help="true classes (N,): also print top-1 accuracy (see `rrm dataset`)")
    parser.add_argument("--batch", type=int, default=None, metavar="B",
                        help="images per internal batch (default: as many as fit ~32 MB feature maps)")
    bench = parser.add_argument_group("benchmark")
    bench.add_argument("--bench", action="store_true",
                       help="time the golden model against torch float32 on random images")
    bench.add_argument("--random-weights", action="store_true",
                       help="with --bench: random weights for the --preset/--spec network "
                            "instead of ARTIFACT")
    bench.add_argument("--images", dest="bench_images", type=int, default=8, metavar="N",
                       help="random images per timed run (default 8)")
    bench.add_argument("--repeat", type=int, default=3, metavar="R",
                       help="timed runs; the best counts (default 3)")
    bench.add_argument("--seed", type=int, default=0, help="seed for random weights and images (default 0)")
    add_spec_arguments(parser, default="tiny")


def load_npy(path: Path) -> np.ndarray:
    """A plain .npy array (images or labels) through the bounded reader
    (:func:`rrm.safe_io.read_npy`); UserError if missing, not a plain .npy, or its header
    declares more than the file holds."""
    if path.is_dir():
        raise UserError(f"images file {path} is a directory, not a .npy file")
    if not path.is_file():
        raise UserError(f"images file {path} does not exist")
    return read_npy(path)


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserError(f"{name} must be >= 1, got {value}")


def run(args) -> int:
    from golden import model

    _positive("--batch", args.batch)
    batch = args.batch
    if args.bench:
        return _run_bench(args, batch)
    if args.random_weights:
        raise UserError("--random-weights is for --bench; for images, write an artifact with "
                        "`rrm export --random` and pass it as ARTIFACT")
    if args.artifact is None or args.images is None:
        raise UserError("give ARTIFACT and IMAGES.npy (or --bench)")
    if args.preset is not None or args.spec is not None:
        raise UserError("--preset/--spec are for --bench --random-weights; an artifact carries its own spec")
    from rrm.artifact import load_artifact

    if args.out is not None:
        check_file_out(args.out, args.force)
    if args.trace is not None:
        if args.trace.exists() and not args.trace.is_dir():
            raise UserError(f"--trace {args.trace} is a file; give a directory for the layer outputs")
        check_writable_dir(args.trace, f"--trace {args.trace}")
    artifact = load_artifact(args.artifact)
    images = load_npy(args.images)
    labels = None
    if args.labels is not None:
        labels = load_npy(args.labels)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise UserError(f"{args.labels}: labels must be integers of shape ({images.shape[0]},) "
                            f"to match the images, got {labels.dtype} {labels.shape}")
        classes = artifact.spec.network.num_classes
        outside = labels[(labels < 0) | (labels >= classes)]
        if outside.size:
            raise UserError(f"{args.labels}: label {int(outside[0])} is not a class of this network "
                            f"(allowed: 0..{classes - 1}; {outside.size} label(s) outside)")
    logits, trace = model.run(artifact, images, trace=True, batch_size=batch) if args.trace \
        else (model.run(artifact, images, batch_size=batch), None)
    if args.out is not None:
        buffer = io.BytesIO()
        np.save(buffer, logits)   # exactly the name given (np.save on a name adds .npy)
        write_bytes_atomic(args.out, buffer.getvalue())
    if trace is not None:
        with removed_on_failure(args.trace):
            args.trace.mkdir(parents=True, exist_ok=True)
            for name, output in trace.items():
                np.save(args.trace / f"{name}.npy", output)
    predicted = model.predict(logits)
    for index, cls in enumerate(predicted):
        print(f"image {index}: class {int(cls)}")
    if labels is not None:
        correct = int((predicted == labels).sum())
        print(f"top-1 accuracy: {correct / len(labels):.2%} ({correct} of {len(labels)})")
    if args.out is not None:
        print(f"wrote logits {tuple(logits.shape)} to {args.out}")
    if trace is not None:
        print(f"wrote {len(trace)} layer outputs to {args.trace}")
    return 0


def _run_bench(args, batch: int | None) -> int:
    from golden import model

    from ..bench import bench

    _positive("--images", args.bench_images)
    _positive("--repeat", args.repeat)
    if args.random_weights:
        if args.artifact is not None:
            raise UserError("give either ARTIFACT or --random-weights, not both")
        if args.seed < 0:
            raise UserError(f"--seed must be >= 0, got {args.seed}")
        from golden.random_weights import random_artifact
        artifact = random_artifact(spec_from_args(args), args.seed)
    elif args.artifact is not None:
        from rrm.artifact import load_artifact
        artifact = load_artifact(args.artifact)
    else:
        raise UserError("--bench needs ARTIFACT or --random-weights (with --preset/--spec)")
    spec = artifact.spec
    net = spec.network
    macs = sum(layer.macs for layer in spec.layers())
    print(f"network: {net.name} ({net.input_size}x{net.input_size}x{net.input_channels}, "
          f"{net.num_classes} classes), {macs / 1e6:.1f} M MACs/image")
    result = bench(artifact, images=args.bench_images, repeat=args.repeat, seed=args.seed, batch_size=batch)
    print(f"images: {result.images} per run, golden batch {batch or model.auto_batch(spec)}, "
          f"best of {args.repeat}, "
          f"{result.threads} CPU thread(s)")
    print(f"golden: {result.golden_s * 1e3:.2f} ms/image ({result.golden_s:.5f} s/image), "
          f"CPU {result.golden_cpu_s * 1e3:.2f} ms/image")
    print(f"torch float32: {result.torch_s * 1e3:.2f} ms/image ({result.torch_s:.5f} s/image), "
          f"CPU {result.torch_cpu_s * 1e3:.2f} ms/image")
    print(f"cpu_ratio_to_torch: {result.cpu_ratio:.3f}")
    print(f"ratio_to_torch: {result.ratio:.3f}")
    return 0
