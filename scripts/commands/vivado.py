"""``rrm vivado``: the Vivado hand-off for a spec or a trained artifact.

    rrm vivado (--preset NAME | --spec FILE.json | ARTIFACT) --out DIR

Writes ``accelerator.v`` (the top ``rrm_accelerator`` with IP-integrator port
names), ``constraints.xdc`` (the spec's clock on ``aclk``) and ``build.tcl`` (a
ZCU102 project: out-of-context synthesis, implementation, utilisation and timing
reports). With ARTIFACT, the parameter RAMs are initialised from ``ram_*.mem``
files (``$readmemh``) and ``params_loaded`` is 1 at power-up: the bitstream
classifies images without a parameter stream. Then, in DIR:
``vivado -mode batch -source build.tcl``.
"""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

from ..outputs import check_writable_dir, removed_on_failure
from ..specio import add_spec_arguments, spec_from_args

NAME = "vivado"
HELP = "write the Vivado hand-off: Verilog top, $readmemh init files (with an artifact), XDC, project TCL"


def add_arguments(parser) -> None:
    parser.add_argument("artifact", nargs="?", type=Path, metavar="ARTIFACT",
                        help="export artifact: its weights become the RAMs' power-up contents")
    add_spec_arguments(parser, default="rr-mobilenet")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="a new (or empty) directory for the files")


def run(args) -> int:
    from hw.flow.vivado import write_handoff
    from rrm.artifact import load_artifact

    out = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not an empty directory (nothing is overwritten)")
    if out.parent != Path("") and not out.parent.is_dir():
        raise UserError(f"--out {out}: its parent directory {out.parent} does not exist")
    check_writable_dir(out, f"--out {out}")
    artifact = None
    if args.artifact is not None:
        if args.preset is not None or args.spec is not None:
            raise UserError("give either ARTIFACT (its spec is used) or --preset/--spec, not both")
        artifact = load_artifact(args.artifact)
        spec = artifact.spec
    else:
        spec = spec_from_args(args)
    print(f"writing the Vivado hand-off for {spec.network.name} into {out} ...", flush=True)
    with removed_on_failure(out):   # a failure leaves no half-written hand-off behind
        paths = write_handoff(spec, out, artifact)
    for path in paths:
        print(f"  {path}")
    print(f"next: cd {out} && vivado -mode batch -source build.tcl   (reports in {out}/reports)")
    return 0
