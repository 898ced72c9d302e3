"""``rrm verilog``: list the hardware blocks, or write (and lint) one block's Verilog.

    rrm verilog --list-blocks
    rrm verilog --block NAME [--preset P | --spec FILE.json] --out DIR [--lint]
"""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

from ..outputs import check_writable_dir, removed_on_failure
from ..specio import add_spec_arguments, spec_from_args

NAME = "verilog"
HELP = "write one hardware block's Verilog for a spec (--list-blocks names them), optionally lint it"


def add_arguments(parser) -> None:
    parser.add_argument("--list-blocks", action="store_true", help="print the block names, one per line")
    parser.add_argument("--block", default=None, metavar="NAME", help="the block to write")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="directory for NAME.v (created if missing; an existing NAME.v only with --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing NAME.v in --out")
    parser.add_argument("--lint", action="store_true",
                        help="also run verilator --lint-only -Wall with the documented waivers")
    add_spec_arguments(parser)


def run(args) -> int:
    from hw.top.catalog import BLOCKS
    if args.list_blocks:
        for name in BLOCKS:
            print(name)
        return 0
    if args.block is None:
        raise UserError("give --block NAME (see --list-blocks) or --list-blocks")
    if args.block not in BLOCKS:
        raise UserError(f"unknown block {args.block!r} (allowed: {', '.join(BLOCKS)})")
    if args.out is None:
        raise UserError("give --out DIR for the Verilog")
    from hw.flow.verilog import lint, module_name, write_block_verilog
    spec = spec_from_args(args)
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is not a directory (a file stands there)")
    target = args.out / f"{args.block}.v"
    if target.exists() and not args.force:
        raise UserError(f"{target} exists (give --force to overwrite it)")
    check_writable_dir(args.out, f"--out {args.out}")
    with removed_on_failure(args.out):
        path = write_block_verilog(args.block, spec, args.out)
    print(f"wrote {path} (module {module_name(args.block)})")
    if args.lint:
        lint(path, module_name(args.block))
        print(f"lint clean: {path}")
    return 0
