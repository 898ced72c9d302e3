"""``rrm vivado``: the Vivado hand-off for a spec or a trained artifact.

    rrm vivado (--preset NAME | --spec FILE.json | ARTIFACT) --out DIR
    rrm vivado (--preset NAME | --spec FILE.json | ARTIFACT) --system --out DIR

Writes ``accelerator.v`` (the top ``rrm_accelerator`` with IP-integrator port
names), ``constraints.xdc`` (the spec's clock on ``aclk``) and ``build.tcl`` (a
ZCU102 project: out-of-context synthesis, implementation, utilisation and timing
reports). With ARTIFACT, the parameter RAMs are initialised from ``ram_*.mem``
files (``$readmemh``) and ``params_loaded`` is 1 at power-up: the bitstream
classifies images without a parameter stream. Then, in DIR:
``vivado -mode batch -source build.tcl``.

With ``--system``: the whole ZCU102 system instead (hw.flow.system, docs/host.md): the
accelerator with its AXI4-Lite register block (``rrm_system.v``) packaged as an IP
(``package_ip.tcl``), a Zynq UltraScale+ block design with AXI DMA for the three streams, the
interrupt and the address map (``system_bd.tcl``), and ``build.tcl``, which builds the
bitstream and exports the hardware handoff (``rrm_system.xsa``, and ``overlay/rrm_system.bit``
with its ``.hwh`` for PYNQ). The parameters come from the host driver at run time
(``rrm run ARTIFACT IMAGES.npy --board overlay/rrm_system.bit``); ARTIFACT only names the spec.
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
    parser.add_argument("--system", action="store_true",
                        help="the ZCU102 system: the accelerator with its register block as an IP in a "
                             "Zynq UltraScale+ block design with AXI DMA (bitstream and hardware handoff)")
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
    if args.system:
        from hw.flow.system import board_of, write_system
        board_of(spec)   # a device without a known board: refused before anything is written
        print(f"writing the system hand-off (block design) for {spec.network.name} into {out} ...", flush=True)
        with removed_on_failure(out):
            paths = write_system(spec, out)
        for path in paths:
            print(f"  {path}")
        print(f"next: cd {out} && vivado -mode batch -source build.tcl   (bitstream and handoff in "
              f"{out}/overlay, platform {out}/rrm_system.xsa)")
        return 0
    print(f"writing the Vivado hand-off for {spec.network.name} into {out} ...", flush=True)
    with removed_on_failure(out):   # a failure leaves no half-written hand-off behind
        paths = write_handoff(spec, out, artifact)
    for path in paths:
        print(f"  {path}")
    print(f"next: cd {out} && vivado -mode batch -source build.tcl   (reports in {out}/reports)")
    return 0
