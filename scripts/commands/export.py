"""``rrm export``: write an export artifact (random weights, or from a training checkpoint)."""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

from ..outputs import check_writable_dir
from ..specio import add_spec_arguments, spec_from_args

NAME = "export"
HELP = "write an integer export artifact (random weights or a trained checkpoint), or --check one"


def add_arguments(parser) -> None:
    add_spec_arguments(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--random", action="store_true",
                        help="random weights with calibrated BN (activations spread over 0..act_max)")
    source.add_argument("--checkpoint", type=Path, default=None, metavar="FILE.pt",
                        help="a checkpoint written by `rrm train` (its pruned QAT model is exported)")
    source.add_argument("--check", type=Path, default=None, metavar="DIR",
                        help="validate an existing artifact (format, version, checksum, shapes, ranges)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --random (default 0)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="artifact directory to write (a new or empty one; an existing artifact only "
                             "with --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing artifact at --out")


def run(args) -> int:
    from rrm.artifact import load_artifact, save_artifact
    if args.check is not None:
        artifact = load_artifact(args.check)
        arrays = len(artifact.params)
        values = sum(int(a.size) for a in artifact.params.values())
        print(f"artifact {args.check}: valid ({artifact.spec.network.name}, {arrays} arrays, "
              f"{values} values)")
        return 0
    if args.out is None:
        raise UserError("--out DIR is required to write an artifact")
    out = args.out
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not an artifact directory; refusing to overwrite it")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise UserError(f"--out {out} exists and is not empty (give --force to replace an artifact there)")
    check_writable_dir(out, f"--out {out}")
    if args.random:
        if args.seed < 0:
            raise UserError(f"--seed must be >= 0, got {args.seed}")
        from golden.random_weights import random_artifact
        spec = spec_from_args(args)
        artifact = random_artifact(spec, args.seed)
        path = save_artifact(args.out, spec, artifact.params, metrics={},
                             provenance=artifact.manifest["provenance"])
    else:
        from sw.export import export_checkpoint
        path = export_checkpoint(args.checkpoint, args.out)
    print(f"wrote artifact {path}")
    return 0
