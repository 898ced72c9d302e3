"""``rrm timing``: logic levels, fan-out and pipeline registers of the accelerator as Yosys
maps it, against a level budget for 150 and 300 MHz (no Vivado needed).

    rrm timing [--preset NAME | --spec FILE.json] [--block NAME] [--mode auto|whole|engines|blocks]
               [--work-dir DIR [--reuse]] [--paths N] [--json] [--record]

Writes the block's Verilog (default: the whole accelerator), maps it with Yosys
``synth_xilinx -family xcup -flatten``, cuts the netlist at flip-flops, DSP48E2 and block
RAMs, and prints the worst register-to-register paths in logic levels with the engine
that ends them, the worst path of each engine, the nets of highest fan-out, and how many
DSP48E2 and block RAMs use their pipeline registers (:mod:`hw.flow.timing`, where the
budget's assumptions are stated). ``--mode engines`` maps the accelerator engine by engine
carrying the levels across the engines' ports; ``--mode blocks`` also maps each block an
engine repeats (a PE, a BN unit) once, carrying the levels across its ports too (``auto``
picks it above :data:`WHOLE_LINES_MAX` lines of Verilog: a full-size preset). ``--record`` writes
``results/<preset>/timing.json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from rrm.errors import UserError

from ..specio import add_spec_arguments, spec_from_args

NAME = "timing"
HELP = "logic levels, fan-out and DSP/BRAM pipeline registers after Yosys mapping, against a level budget"
#: Above this many lines of Verilog, ``--mode auto`` maps the accelerator engine by engine,
#: each repeated block once (blocks; tiny's accelerator is about 40,000 lines and maps whole
#: in about two minutes).
WHOLE_LINES_MAX = 60_000


def add_arguments(parser) -> None:
    add_spec_arguments(parser, default="tiny")
    parser.add_argument("--block", default="accelerator",
                        help="the block to analyse (rrm verilog --list-blocks; default %(default)s)")
    parser.add_argument("--mode", choices=("auto", "whole", "engines", "blocks"), default="auto",
                        help="map the block whole, or the accelerator engine by engine (levels carried across "
                             "the engines' ports), or engine by engine with each block an engine repeats "
                             "(PEs, BN units) mapped once (blocks); auto: blocks above %d lines of Verilog"
                             % WHOLE_LINES_MAX)
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the Verilog, the Yosys script, log and netlist here (default: a temporary directory)")
    parser.add_argument("--reuse", action="store_true",
                        help="engines or blocks mode: a part (an engine, a repeated block, or the glue) whose netlist an earlier run left in "
                             "--work-dir, mapped from the same Verilog by the same command and Yosys, is "
                             "analysed again instead of mapped again (after an RTL change only the parts it "
                             "touched are mapped)")
    parser.add_argument("--paths", type=int, default=10, help="worst paths to list (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--record", action="store_true",
                        help="write the report into results/<preset>/timing.json (the accelerator of a preset only)")


def run(args) -> int:
    from hw.flow.timing import LEVEL_BUDGETS, analyse_verilog
    from hw.flow.verilog import module_name, write_block_verilog
    from hw.top.catalog import BLOCKS
    from tb.build import VERILOG_DIR

    if args.block not in BLOCKS:
        raise UserError(f"unknown block {args.block!r} (allowed: {', '.join(BLOCKS)})")
    if args.paths < 1:
        raise UserError(f"--paths {args.paths}: must be at least 1")
    if args.record and (not args.preset or args.block != "accelerator"):
        raise UserError("--record needs --preset NAME and the whole accelerator: results are recorded per preset")
    if args.mode in ("engines", "blocks") and args.block != "accelerator":
        raise UserError(f"--mode {args.mode} maps the accelerator's engines one by one; --block {args.block} "
                        f"is mapped whole (--mode whole or auto)")
    if args.reuse and args.work_dir is None:
        raise UserError("--reuse reads the netlists of an earlier run: name its --work-dir")
    spec = spec_from_args(args)
    from ..results import commit_info
    started_on = commit_info()     # the commit the run is of, whatever changes meanwhile
    with tempfile.TemporaryDirectory() as scratch:
        work = (args.work_dir or Path(scratch)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        print(f"writing {args.block}'s Verilog for {spec.network.name} ...", file=sys.stderr, flush=True)
        verilog = write_block_verilog(args.block, spec, work, VERILOG_DIR)
        verilog_text = verilog.read_text()
        lines = verilog_text.count("\n")
        mode = args.mode if args.mode != "auto" else (
            "blocks" if args.block == "accelerator" and lines > WHOLE_LINES_MAX else "whole")
        print(f"Yosys synth_xilinx, {mode} ({lines:,d} lines of Verilog) ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        report = analyse_verilog(verilog, module_name(args.block), work, mode, paths=args.paths,
                                 progress=_progress, reuse=args.reuse)
        seconds = time.monotonic() - started
        if report.reused:
            print(f"reused the netlists in {work} of: {', '.join(report.reused)} (the same Verilog, "
                  f"command and Yosys)", file=sys.stderr, flush=True)
    from ..rtl_identity import verilog_digest
    data = {"block": args.block, "clock_mhz": spec.hardware.clock_mhz, **report.as_dict(),
            "seconds": round(seconds, 1), "verilog_sha256": verilog_digest(verilog_text)}
    if args.record:
        from ..results import record
        print(f"recorded {record(spec.preset, 'timing', data, commit=started_on)}", file=sys.stderr)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    cut = {"engines": " and at the engines' ports (engine by engine)",
           "blocks": " and at the ports of the engines and of each block they repeat, mapped once"}.get(report.mode, "")
    print(f"timing of {args.block} for {spec.network.name} (Yosys synth_xilinx -family xcup, netlist cut at "
          f"flip-flops, DSP48E2 and block RAM{cut})")
    print("\nworst paths, in logic levels (LUT, MUXF 1; CARRY4 0.5):")
    for path in report.worst:
        print(f"  {path.levels:5.1f}  {path.engine:18s} -> {path.end}")
        print(f"         from {path.start}")
        print(f"         through {' '.join(path.through)}")
    print("\nworst path per engine:")
    for engine, levels in report.by_engine.items():
        print(f"  {engine:18s} {levels:5.1f}")
    budget = LEVEL_BUDGETS[150.0]
    print(f"\nhighest fan-out nets: loads, driver, levels of the worst path through the net (before + after "
          f"it) and the levels left at 150 MHz for the net's own route:")
    for net in report.fanout:
        print(f"  {net.loads:7,d}  {net.driver:18s} {net.before:4g} + {net.after:<4g} "
              f"{budget - net.levels:4g} left  {net.net}")
    print(f"\nDSP48E2: {report.dsp['registered']} with a pipeline register (MREG or PREG), "
          f"{report.dsp['combinational']} without, of which {report.dsp['product into a fabric register']} "
          f"feed only flip-flops (a register Vivado packs as MREG/PREG); block RAM: "
          f"{report.bram['output register']} with an output register, {report.bram['no output register']} "
          f"without, of which {report.bram['output into a fabric register']} feed only flip-flops")
    for mhz, levels in LEVEL_BUDGETS.items():
        verdict = "within" if report.within(mhz) else "OVER"
        print(f"budget at {mhz:g} MHz (-2 speed grade, this project's estimate): {levels} levels: {verdict}")
    return 0


def _progress(done: int, total: int, part: str) -> None:
    print(f"  [{done + 1}/{total}] mapping {part} ...", file=sys.stderr, flush=True)
