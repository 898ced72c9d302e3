"""``rrm analyze``: the paper's complexity and on-chip-memory analysis of a spec."""

from __future__ import annotations

import json
from pathlib import Path

from rrm.devices import DEVICES

from ..specio import add_spec_arguments, spec_from_args

NAME = "analyze"
HELP = "operations, parameters, memory and on-chip fit per layer (paper Eq. 1-11)"


def add_arguments(parser):
    add_spec_arguments(parser, default="rr-mobilenet")
    parser.add_argument("--device", help=f"FPGA to fit ({', '.join(DEVICES)}); default: the spec's")
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="write a per-layer memory plot before/after pruning (paper Fig. 5; an "
                             "existing file only with --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --plot file")


def run(args) -> int:
    from rrm.analysis import analyze
    from rrm.spec import unpruned

    from ..analysis_report import format_report

    spec = spec_from_args(args)
    if args.plot:
        from ..outputs import check_file_out
        check_file_out(args.plot, args.force, "--plot")
    result = analyze(spec, args.device)
    if args.plot:
        from ..memory_plot import plot_memory
        before = analyze(unpruned(spec), args.device)
        plot_memory(before, result, args.plot, spec.network.name)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0
