"""``rrm synth``: LUT, FF, DSP48E2 and BRAM18K of the accelerator, estimated by Yosys.

    rrm synth [--preset NAME | --spec FILE.json | DIR] [--mode auto|top|blocks]
              [--jobs N] [--reuse] [--work-dir DIR] [--json] [--record]

Writes the accelerator's Verilog for the spec (or takes ``DIR/accelerator.v``, as
``rrm vivado`` writes it), runs ``synth_xilinx -family xcup`` (Yosys on the
PATH) and prints the counts beside the paper's Table 1, the device and the
analytic BRAM18K count of ``rrm analyze``. ``--mode blocks`` synthesises each
distinct block once and sums by instance count (``auto`` does so when the
Verilog is larger than :data:`TOP_LINES_MAX` lines: the full-size top would take
far more than 15 minutes on 2 cores). Each block is mapped by a Yosys process of its own
from its own text (and its sub-blocks' ports), so its count does not depend on the rest
of the design; ``--jobs N`` runs up to N such processes side by side, the largest blocks
first (same counts, less wall time). ``--reuse`` takes
a block's counts from a recorded run (any preset's ``synth.json``, same Yosys) whose block
had the same digest (``hw.flow.synth.block_digest``: the same Verilog in, so the same
counts out) instead of mapping it again; the record names where each reused block's
counts came from. ``--record`` writes the estimate into ``results/<preset>/synth.json``
(:mod:`scripts.results`), each block with its digest.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rrm.errors import UserError

from ..specio import add_spec_arguments, spec_from_args

NAME = "synth"
HELP = "estimate LUT/FF/DSP/BRAM18K of the accelerator with Yosys synth_xilinx (beside the paper's Table 1)"

#: Above this many lines of Verilog, ``--mode auto`` synthesises block by block.
TOP_LINES_MAX = 60_000
TOP = "rrm_accelerator"


def add_arguments(parser) -> None:
    parser.add_argument("directory", nargs="?", type=Path, metavar="DIR",
                        help="a directory holding accelerator.v (e.g. from `rrm vivado`); "
                             "default: generate it for --preset/--spec")
    add_spec_arguments(parser, default="rr-mobilenet")
    parser.add_argument("--mode", choices=("auto", "top", "blocks"), default="auto",
                        help="whole top at once, or each distinct block once (default: auto)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="--mode blocks: Yosys processes side by side (default: 1)")
    parser.add_argument("--reuse", action="store_true",
                        help="--mode blocks: take the counts of blocks whose Verilog a recorded run already "
                             "mapped (same digest, same Yosys) from that record")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep Yosys scripts, logs and statistics here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument("--record", action="store_true",
                        help="write the estimate into results/<preset>/synth.json (a preset only)")


def _progress(index, total, kind):
    print(f"  [{index + 1}/{total}] {kind}", file=sys.stderr, flush=True)


def recorded_blocks(yosys: str, root: Path | None = None, conflicts: list | None = None) -> dict:
    """Block digest -> (Resources of one, "<preset> synth record at <commit>") from every
    recorded ``blocks``-mode estimate made with Yosys ``yosys`` (a block a record itself
    reused keeps naming the record that mapped it).

    A digest that two runs mapped to different counts is left out, to be mapped again:
    neither count is the one to copy. Since each block is mapped alone, from a file of its
    own (``hw.flow.synth.block_source``), one digest gives one count; the check is kept as a
    safeguard (records made the old way, when a block's count moved with what its process
    mapped before it, have other digests: docs/accelerator.md, "How much a level count
    varies"). Each such digest is appended to ``conflicts`` as (kind, {source: Resources})."""
    from hw.flow.synth import Resources

    from .. import results
    measured = {}     # digest -> (kind, {source: Resources})
    for preset in results.presets(root):
        recorded = results.load(preset, "synth", root)
        if not recorded or recorded.get("mode") != "blocks" or recorded.get("yosys") != yosys:
            continue
        for block in recorded.get("blocks", []):
            if block.get("digest"):
                source = block.get("reused_from") or f"{preset} synth record at {recorded['commit'][:7]}"
                kind, sources = measured.setdefault(block["digest"], (block["kind"], {}))
                sources.setdefault(source, Resources(**block["each"]))
    known = {}
    for digest, (kind, sources) in measured.items():
        counts = {tuple(sorted(each.as_dict().items())) for each in sources.values()}
        if len(counts) == 1:
            source, each = next(iter(sources.items()))
            known[digest] = (each, source)
        elif conflicts is not None:
            conflicts.append((kind, sources))
    return known


def run(args) -> int:
    from hw.flow.synth import BLOCK_METHOD, SynthError, synth, yosys_path, yosys_version

    from ..paper_figures import PAPER_DESIGN as PAPER
    from rrm.analysis import rtl_memories
    from rrm.devices import get_device

    yosys_path()   # a clear error before any work
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, not {args.jobs}")
    spec = spec_from_args(args)
    if args.record and (not args.preset or args.directory is not None):
        raise UserError("--record needs --preset NAME (and no DIR): results are recorded per preset")
    from ..results import commit_info
    started_on = commit_info()     # the commit the run is of, whatever changes meanwhile
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work_dir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        if args.directory is not None:
            verilog = args.directory / "accelerator.v"
            if not verilog.is_file():
                raise UserError(f"{args.directory}: no accelerator.v in it (write one with `rrm vivado`)")
        else:
            from hw.flow.verilog import write_block_verilog
            from tb.build import VERILOG_DIR
            print(f"writing the accelerator's Verilog for {spec.network.name} ...", file=sys.stderr)
            verilog = write_block_verilog("accelerator", spec, work, VERILOG_DIR)
        verilog_text = verilog.read_text()
        lines = verilog_text.count("\n")
        mode = args.mode if args.mode != "auto" else ("blocks" if lines > TOP_LINES_MAX else "top")
        if args.reuse and mode != "blocks":
            raise UserError(f"--reuse takes recorded blocks: it needs --mode blocks, not {mode} "
                            f"({lines:,d} lines of Verilog)")
        print(f"yosys {mode}: {verilog} ({lines:,d} lines) ...", file=sys.stderr, flush=True)
        try:
            conflicts = []
            known = recorded_blocks(yosys_version(), conflicts=conflicts) if args.reuse else None
            for kind, sources in conflicts:
                print(f"  {kind}: runs of the same Verilog disagree ("
                      + "; ".join(f"{each.lut:,d} LUT / {each.ff:,d} FF in the {source}"
                                  for source, each in sources.items()) + "): mapped again",
                      file=sys.stderr, flush=True)
            result = synth(verilog.resolve(), TOP, work.resolve(), mode, _progress, args.jobs, known)
        except SynthError as exc:
            if args.work_dir is not None or not exc.log.is_file():
                raise
            # the temporary directory goes away with its log: keep the log beside the others
            handle, kept = tempfile.mkstemp(prefix=f"rrm-synth-{exc.step}-", suffix=".log")
            with open(handle, "wb") as out:
                out.write(exc.log.read_bytes())
            raise UserError(f"yosys failed ({exc.step}): {exc.why[:300]}; log kept: {kept}") from None
    device = get_device(spec.hardware.device)
    analytic = rtl_memories(spec, device)["bram18k"]
    total = result.total
    report = {
        "spec": spec.network.name, "mode": result.mode, "yosys": result.yosys,
        "seconds": round(result.seconds, 1), "estimate": total.as_dict(),
        "paper": PAPER, "analytic_bram18k": analytic,
        "device": {"name": device.name, "lut": device.lut, "ff": device.ff, "dsp": device.dsp,
                   "bram18k": device.bram18k},
        "fits": (total.lut <= device.lut and total.ff <= device.ff and total.dsp <= device.dsp
                 and total.bram18k <= device.bram18k),
        "blocks": [{"kind": b.kind, "count": b.count, "each": b.each.as_dict(), "digest": b.digest,
                    **({"reused_from": b.reused_from} if b.reused_from else {})} for b in result.blocks],
        **({"block_method": BLOCK_METHOD} if result.mode == "blocks" else {}),
    }
    if args.record:
        from ..results import record
        from ..rtl_identity import verilog_digest
        path = record(spec.preset, "synth", {**{key: report[key] for key in
                                                ("mode", "yosys", "seconds", "estimate", "analytic_bram18k",
                                                 "device", "fits", "blocks", "block_method") if key in report},
                                             "verilog_sha256": verilog_digest(verilog_text)}, commit=started_on)
        print(f"recorded {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    how = ("each distinct block synthesised once, times its instance count"
           if result.mode == "blocks" else "the whole top synthesised at once")
    print(f"Yosys estimate for {spec.network.name} ({result.yosys}, synth_xilinx -family xcup; {how}; "
          f"{result.seconds:.0f} s)")
    if result.blocks:
        print(f"\n{'block':44s} {'count':>5s} {'LUT':>8s} {'FF':>8s} {'DSP':>6s} {'BRAM18K':>8s}")
        for b in result.blocks:
            print(f"{b.kind:44s} {b.count:5d} {b.each.lut:8,d} {b.each.ff:8,d} {b.each.dsp:6,d} "
                  f"{b.each.bram18k:8,d}" + (f"  (from the {b.reused_from})" if b.reused_from else ""))
    print(f"\n{'':10s} {'estimate':>10s} {'paper':>10s} {device.name:>10s}  fits")
    for key, label in (("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP48E2"), ("bram18k", "BRAM18K")):
        ours, limit = getattr(total, key), getattr(device, key)
        print(f"{label:10s} {ours:10,d} {PAPER[key]:10,d} {limit:10,d}  {'yes' if ours <= limit else 'NO'}")
    print(f"{'BRAM18K analytic (rrm analyze, RTL RAMs)':s}: {analytic:,d}")
    print("LUT counts from Yosys run above Vivado's; every product of 9+ bits is one DSP48E2.")
    return 0
