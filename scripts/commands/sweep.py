"""``rrm sweep``: the design-space sweep of the accelerator (cycle model against resource model).

    rrm sweep [--preset NAME] [--out DIR] [--mark NAME ...] [--jobs N]

Evaluates PEs x lanes x DW PEs x FC classes x serial BN x DW LUT taps x packing x pair
walks on the preset's network, in ``--jobs`` processes:
cycles per image (the cycle model, exact for the RTL) against LUT, FF, DSP48E2 and
BRAM18K (the block model of :mod:`hw.cost.resource_model`). Writes ``DIR/sweep.json``
(every configuration), ``DIR/sweep.md`` (the marked presets and the Pareto front of
the configurations that fit the device, cycles against DSP48E2) and ``DIR/sweep.png``
(:mod:`scripts.sweep`). Confirm a chosen point with ``rrm synth``.
"""

from __future__ import annotations

import os
from pathlib import Path

from rrm.errors import UserError
from rrm.presets import PRESETS

NAME = "sweep"
HELP = "design-space sweep: cycles against DSP/LUT/BRAM18K over PEs x lanes x DW PEs x FC, Pareto table and plot"


def add_arguments(parser) -> None:
    parser.add_argument("--preset", default="rr-mobilenet",
                        help=f"the network (and device) to sweep ({', '.join(PRESETS)}; default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("out/sweep"), metavar="DIR",
                        help="sweep.json, sweep.md and sweep.png go here (default %(default)s)")
    parser.add_argument("--mark", nargs="*", default=None, metavar="NAME",
                        help="presets to mark in the table and plot (default: every preset whose name "
                             "starts with --preset's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="processes evaluating configurations side by side (default: the CPUs, %(default)s)")


def run(args) -> int:
    from rrm.presets import load_preset

    from ..sweep import sweep

    load_preset(args.preset)   # an unknown preset: one line, before the sweep starts
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: must be at least 1")
    for name in args.mark or []:
        if name not in PRESETS:
            raise UserError(f"--mark {name}: unknown preset (allowed: {', '.join(PRESETS)})")
    sweep(args.preset, args.out, args.mark, args.jobs)
    return 0
