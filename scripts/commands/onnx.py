"""``rrm onnx``: the exported integer network as an ONNX file, or in QONNX for FINN.

    rrm onnx ARTIFACT --out MODEL.onnx
    rrm onnx ARTIFACT --out MODEL.onnx --qonnx [--batch B]

The first form writes standard ONNX (ConvInteger, MatMulInteger, int64 requantisation,
ReduceSum): uint8 images ``(N, H, W, C)`` in, int64 logits out, equal to the golden
model's for every image (scripts/onnx_graph.py). The second writes the same network
with QONNX ``Quant`` nodes on float32 tensors, NCHW input of batch B (default 1, as
FINN wants), and lists the layers whose float32 arithmetic is not provably exact
(scripts/qonnx_graph.py). docs/onnx.md says why the graphs are exact, and where not.

The artifact is validated and the output path checked before anything is written;
the file appears complete or not at all.
"""

from __future__ import annotations

import collections
from pathlib import Path

from rrm.errors import UserError

from ..outputs import check_file_out, write_bytes_atomic

NAME = "onnx"
HELP = "write the integer network as ONNX (onnxruntime runs it bit-exactly) or, with --qonnx, as QONNX for FINN"


def add_arguments(parser) -> None:
    parser.add_argument("artifact", type=Path, metavar="ARTIFACT",
                        help="export artifact directory (from `rrm export` or `rrm train`)")
    parser.add_argument("--out", type=Path, required=True, metavar="MODEL.onnx",
                        help="the ONNX file to write (its directory must exist; an existing file only "
                             "with --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument("--qonnx", action="store_true",
                        help="QONNX (Quant nodes, float32 NCHW input) as FINN ingests it, "
                             "instead of the integer ONNX graph")
    parser.add_argument("--batch", type=int, default=None, metavar="B",
                        help="with --qonnx: the fixed batch size of the input (default 1)")


def check_out(out: Path, force: bool = False) -> None:
    """Refuse an --out that is a directory, an existing file (without --force), or whose
    directory does not exist or cannot be written (scripts/outputs.py)."""
    if out.is_dir():
        raise UserError(f"--out {out} is a directory; give the file to write, e.g. {out / 'model.onnx'}")
    check_file_out(out, force, parent_must_exist=True)


def write_model(model, out: Path) -> None:
    """Serialise ``model`` into ``out`` through a temporary sibling file (no partial file),
    with the umask's mode."""
    write_bytes_atomic(out, model.SerializeToString())


def run(args) -> int:
    from rrm.artifact import load_artifact

    if args.batch is not None and not args.qonnx:
        raise UserError("--batch is for --qonnx (the integer ONNX graph takes any batch)")
    if args.batch is not None and args.batch < 1:
        raise UserError(f"--batch must be >= 1, got {args.batch}")
    check_out(args.out, args.force)
    artifact = load_artifact(args.artifact)
    spec = artifact.spec
    if args.qonnx:
        from ..qonnx_graph import build_qonnx

        result = build_qonnx(artifact, batch=args.batch or 1)
        model, inexact = result.model, result.inexact
    else:
        from ..onnx_graph import build_model

        model, inexact = build_model(artifact), []
    write_model(model, args.out)
    from onnx import TensorProto

    ops = collections.Counter(node.op_type for node in model.graph.node)
    net = spec.network
    kind = "QONNX" if args.qonnx else "integer ONNX"
    print(f"wrote {kind} model of {net.name} ({net.input_size}x{net.input_size}x{net.input_channels}, "
          f"{net.num_classes} classes) to {args.out}: {len(model.graph.node)} nodes, opset "
          f"{model.opset_import[0].version}")
    print("operators: " + ", ".join(f"{op} x{count}" for op, count in sorted(ops.items())))
    for tensor in (*model.graph.input, *model.graph.output):
        dims = [dim.dim_param or dim.dim_value for dim in tensor.type.tensor_type.shape.dim]
        print(f"  {tensor.name}: {TensorProto.DataType.Name(tensor.type.tensor_type.elem_type).lower()} "
              f"{tuple(dims)}")
    if args.qonnx:
        if inexact:
            print(f"not provably exact in float32 ({len(inexact)}; see docs/onnx.md):")
            for line in inexact:
                print(f"  {line}")
        else:
            print("every sum and requantisation is provably exact in float32: logits equal golden's")
    return 0
