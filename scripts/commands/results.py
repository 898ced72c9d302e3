"""``rrm results``: the table of every preset's recorded results (``results/<preset>/``).

    rrm results [--check FILE | --write FILE]
    rrm results --rtl [--preset NAME ...] [--record]

Prints the Markdown table that the README carries (:mod:`scripts.results`): the cycle
model, the RTL's full-size run (bit-exact, every layer as the model), the Yosys estimate,
and the commit each record ran on. ``--check FILE`` exits 1 if the table in FILE is not
the one the records give; ``--write FILE`` replaces it.

``--rtl`` generates each preset's accelerator Verilog here (minutes for a full-size
preset) and says, per ``sim``/``synth``/``timing`` record, whether it ran on the same
Verilog (:mod:`scripts.rtl_identity`); it exits 1 if any did not. With ``--record`` it
writes ``results/<preset>/rtl.json`` (the digest and this commit), which the table reads.
"""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

NAME = "results"
HELP = "the table of every preset's recorded results (results/), or check/update the README's copy"


def add_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE's table differs from the records")
    group.add_argument("--write", type=Path, metavar="FILE", help="replace FILE's table with the records'")
    group.add_argument("--rtl", action="store_true",
                       help="which sim/synth/timing records ran on the Verilog this checkout generates")
    parser.add_argument("--preset", nargs="+", metavar="NAME",
                        help="with --rtl: these presets (default: every preset with records)")
    parser.add_argument("--record", action="store_true",
                        help="with --rtl: write results/<preset>/rtl.json with the digest and this commit")


def run_rtl(names: list | None, write: bool) -> int:
    """Compare every RTL record of ``names`` with the Verilog generated here; 1 if any differs."""
    from rrm.presets import PRESETS
    from tqdm import tqdm

    from ..results import commit_info, load, presets, record
    from ..rtl_identity import RTL_KINDS, preset_digest, same_rtl
    unknown = [name for name in names or [] if name not in PRESETS]
    if unknown:
        raise UserError(f"--preset {' '.join(unknown)}: unknown preset (presets: {', '.join(PRESETS)})")
    started_on = commit_info()
    if write and started_on["dirty"]:
        raise UserError("--record needs a clean checkout: the digest is recorded with its commit")
    stale = 0
    for preset in tqdm(names or presets(), desc="generating Verilog", unit="preset"):
        rtl = {"verilog_sha256": preset_digest(preset), **started_on}
        records = {kind: load(preset, kind) for kind in RTL_KINDS}
        for kind, verdict in same_rtl(rtl, records).items():
            text = {True: "same RTL", False: "OLDER RTL: run it again", None: "no digest recorded"}[verdict]
            tqdm.write(f"{preset:22s} {kind:7s} {records[kind]['commit'][:7]}  {text}")
            stale += verdict is False
        if write:
            tqdm.write(f"recorded {record(preset, 'rtl', {'verilog_sha256': rtl['verilog_sha256']}, commit=started_on)}")
    return 1 if stale else 0


def run(args) -> int:
    from ..results import generated_block, readme_block

    if (args.preset or args.record) and not args.rtl:
        raise UserError("--preset and --record go with --rtl")
    if args.rtl:
        return run_rtl(args.preset, args.record)
    block = generated_block()
    target = args.check or args.write
    if target is None:
        print(block)
        return 0
    if not target.is_file():
        raise UserError(f"{target}: no such file")
    text = target.read_text()
    current = readme_block(text)
    if args.check:
        if current != block:
            print(f"{target}: the results table differs from results/ (run `rrm results --write {target}`)")
            return 1
        print(f"{target}: the results table matches results/")
        return 0
    target.write_text(text.replace(current, block))
    print(f"{target}: results table written")
    return 0
