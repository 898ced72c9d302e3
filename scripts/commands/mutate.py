"""``rrm mutate``: a mutation benchmark of the RTL checks on the tiny accelerator (not a test).

    rrm mutate [--sample N] [--seed S] [--jobs J] [--timeout SECONDS]
               [--out results/tiny/mutation.json] [--work-dir DIR] [--keep] [--only I,J,...]

Mutants are drawn by a tool, not picked by hand: the tiny accelerator is elaborated as
the RTL tests build it, with Amaranth's source locations, prepared in Yosys and
``mutate -list N -seed S`` draws N mutations (the approach of YosysHQ's mcy; see
:mod:`hw.flow.mutate`). As mcy does, all N go into one design, mutation ``i`` (from 0)
active only while a new top input ``mutsel`` equals ``i + 1``; that design is built in
Verilator once, and each mutant is a simulation of the build on :func:`tb.mutation.plan`
(bit-exact logits and classes against golden, layer and image cycles against the cycle
model, bad parameter streams flagged, a short frame's image_error, an argmax tie,
backpressure and stream pauses) with ``mutsel`` driven to its value. First the build runs
the plan with ``mutsel`` at 0 (the unmutated design), which must pass with the cycle
model's exact cycles; its time sets the default limit per mutant.

Verdicts: killed (something differed or the simulation failed), timed out (ran past the
limit: also a detection), survived, error (Yosys could not apply the mutation), and
equivalent: a survivor whose mutation (its ``describe()`` line) is listed in
``--equivalent`` (default results/tiny/mutation_equivalent.json) with the written argument
why it cannot change any output; the score leaves equivalent mutants out.
``--rejudge RESULT.json`` simulates nothing: it applies the equivalence file again to a
recorded result (each mutant keeps its simulated verdict under ``simulated``) and rewrites
it and its table, for arguments written after the run. ``--only`` runs just the listed mutants of the drawn sample (to check a new test against
the survivors it was written for); its result goes into the work dir, never over the
benchmark's record. Prints a line per mutant and a table; writes ``--out`` (JSON: commit, sample, counts,
score, survivors with their source lines, every mutant) and a Markdown table beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from rrm.errors import UserError

NAME = "mutate"
HELP = "mutation benchmark: Yosys-drawn mutants of the tiny accelerator against a fast RTL plan"

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_OUT = Path("results") / "tiny" / "mutation.json"
#: Mutations argued equivalent (cannot change any output), keyed by ``Mutation.describe()``.
DEFAULT_EQUIVALENT = Path("results") / "tiny" / "mutation_equivalent.json"
#: The default time limit per mutant: this many times the baseline's run, at least MIN_TIMEOUT.
TIMEOUT_FACTOR = 4
MIN_TIMEOUT = 60.0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise UserError(f"{value} must be at least 1")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("--sample", type=str, default="20", metavar="N",
                        help="how many mutations Yosys draws (default 20)")
    parser.add_argument("--seed", type=str, default="1", metavar="S",
                        help="seed of Yosys's sampling (default 1; same seed and design => same mutants)")
    parser.add_argument("--jobs", type=str, default=None, metavar="J",
                        help=f"mutants run at once (default: the CPU count, {os.cpu_count()})")
    parser.add_argument("--timeout", type=str, default=None, metavar="SECONDS",
                        help=f"time limit per mutant's simulation (default: {TIMEOUT_FACTOR} x the "
                             f"unmutated design's, at least {MIN_TIMEOUT:g} s)")
    parser.add_argument("--out", type=Path, default=ROOT / DEFAULT_OUT, metavar="FILE.json",
                        help=f"result file (default {DEFAULT_OUT} in the checkout); the table goes "
                             "beside it as .md")
    parser.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                        help="mutants' Verilog, logs and simulator files (default build/mutate/seed<S>-n<N>)")
    parser.add_argument("--equivalent", type=Path, default=ROOT / DEFAULT_EQUIVALENT, metavar="FILE.json",
                        help=f"mutations argued equivalent, with the argument (default {DEFAULT_EQUIVALENT}); "
                             "a survivor listed there is counted equivalent, not survived")
    parser.add_argument("--only", type=str, default=None, metavar="I,J,...",
                        help="run only these mutants of the drawn sample (indices from 0, as the "
                             "table numbers them); the result goes into the work dir")
    parser.add_argument("--rejudge", type=Path, default=None, metavar="RESULT.json",
                        help="simulate nothing: apply the --equivalent file to a recorded result's "
                             "survivors again (after an argument was written) and rewrite it and its table")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run's simulator build (default: deleted at the end; the Verilog "
                             "of the design with all mutations stays in the work dir)")


def check_arguments(args) -> dict:
    """The arguments as numbers; UserError for any that is wrong (before anything runs)."""
    def number(name, parse):
        try:
            return parse(getattr(args, name))
        except UserError as exc:
            raise UserError(f"--{name.replace('_', '-')}: {exc}") from None

    sample = number("sample", _positive_int)
    try:
        seed = int(args.seed)
    except ValueError:
        raise UserError(f"--seed: {args.seed!r} is not a whole number") from None
    if not 0 <= seed < 2 ** 31:
        raise UserError(f"--seed: {seed} is outside 0 .. 2^31-1")
    jobs = (os.cpu_count() or 1) if args.jobs is None else number("jobs", _positive_int)
    timeout = None
    if args.timeout is not None:
        try:
            timeout = float(args.timeout)
        except ValueError:
            raise UserError(f"--timeout: {args.timeout!r} is not a number of seconds") from None
        if not timeout > 0:
            raise UserError(f"--timeout: {args.timeout} must be more than 0 seconds")
    if args.out.is_dir():
        raise UserError(f"--out {args.out} is a directory; give a file name such as mutation.json")
    if args.out.suffix != ".json":
        raise UserError(f"--out {args.out}: the result file must end in .json")
    only = None
    if args.only is not None:
        try:
            only = sorted({int(part) for part in args.only.split(",") if part.strip()})
        except ValueError:
            raise UserError(f"--only: {args.only!r} is not a comma-separated list of mutant indices") from None
        bad = [index for index in only if not 0 <= index < sample]
        if not only or bad:
            raise UserError(f"--only: indices {bad or args.only!r} are not in the sample 0..{sample - 1}")
    return {"sample": sample, "seed": seed, "jobs": jobs, "timeout": timeout, "only": only}


def mutant_entry(index: int, mutation, status: str, reason: str, seconds: float) -> dict:
    from hw.flow.mutate import source_locations
    from tb.mutation import selector_value
    return {"index": index, "select": selector_value(index), "status": status, "reason": reason,
            "seconds": round(seconds, 1),
            "mutation": mutation.describe(), "command": mutation.command(),
            "module": mutation.module, "cell": mutation.cell, "port": mutation.port,
            "portbit": mutation.portbit, "ctrlbit": mutation.ctrlbit, "mode": mutation.mode,
            "source": source_locations(mutation, ROOT)}


def load_equivalent(path: Path) -> dict:
    """``{mutation description: argument}`` of the equivalence file ``path`` (``{"equivalent":
    {...}}``; empty if there is no such file). UserError for a file of another form or an
    entry without an argument."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not JSON ({exc})") from None
    table = data.get("equivalent") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise UserError(f'{path}: want {{"equivalent": {{"<mutation>": "<argument>", ...}}}}')
    for key, argument in table.items():
        if not isinstance(argument, str) or len(argument.split()) < 5:
            raise UserError(f"{path}: {key!r} has no written argument")
    return dict(table)


def apply_equivalent(status: str, reason: str, description: str, equivalent: dict) -> tuple:
    """The verdict after the equivalence file: a survivor listed there is ``equivalent`` (its
    reason the argument); a listed mutant that was detected keeps its verdict, its reason
    saying the argument is refuted; others are unchanged."""
    argument = equivalent.get(description)
    if argument is None:
        return status, reason
    if status == "survived":
        return "equivalent", argument
    if status in ("killed", "timeout"):
        return status, f"listed as equivalent but detected, the argument is wrong: {reason}"
    return status, reason


def summarise(entries: list) -> dict:
    """Counts per verdict and the mutation score (killed + timed out over killed + timed out +
    survived: errors and equivalent mutants are left out)."""
    from tb.mutation import STATUSES
    counts = {status: sum(1 for e in entries if e["status"] == status) for status in STATUSES}
    judged = counts["killed"] + counts["timeout"] + counts["survived"]
    score = (counts["killed"] + counts["timeout"]) / judged if judged else None
    return {"counts": counts, "score": score}


def format_table(result: dict) -> str:
    """The result as Markdown: the counts, then one row per mutant, survivors first."""
    counts, score = result["counts"], result["score"]
    lines = [f"# Mutation benchmark: {result['block']} ({result['preset']})", "",
             f"commit {result['commit']}{' (with uncommitted changes)' if result.get('dirty') else ''}, "
             f"Yosys `mutate -list {result['sample']} -seed {result['seed']}`, {result['jobs']} jobs, "
             f"limit {result['timeout_s']:.0f} s per mutant; one Verilator build of all mutants "
             f"({result.get('build_seconds', 0):.0f} s)"
             + (f"; equivalence arguments applied again at commit {result['rejudged']['commit']}"
                if result.get("rejudged") else ""), "",
             "| killed | timed out | survived | equivalent | errors | score | time |",
             "|---:|---:|---:|---:|---:|---:|---:|",
             f"| {counts['killed']} | {counts['timeout']} | {counts['survived']} | "
             f"{counts.get('equivalent', 0)} | {counts['error']} | "
             f"{'-' if score is None else f'{100 * score:.0f}%'} | {result['seconds']:.0f} s "
             f"({result['seconds_per_mutant']:.1f} s per mutant) |", "",
             "| # | verdict | mutation | source | why |", "|---:|---|---|---|---|"]
    order = {"survived": 0, "error": 1, "equivalent": 2, "timeout": 3, "killed": 4}
    for entry in sorted(result["mutants"], key=lambda e: (order[e["status"]], e["index"])):
        source = ", ".join(entry["source"][:2]) or "-"
        why = entry["reason"].replace("|", "\\|")
        if len(why) > 120 and entry["status"] != "equivalent":   # an argument is shown whole
            why = why[:117] + "..."
        lines.append(f"| {entry['index']} | {entry['status']} | `{entry['mutation']}` | {source} | {why} |")
    return "\n".join(lines) + "\n"


def _relative(path: Path) -> str:
    """``path`` relative to the checkout where it is inside it (no machine's paths in a record)."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return Path(path).name


def rejudge(path: Path, equivalent: dict, equivalent_file: Path) -> dict:
    """A recorded result with the equivalence file applied again: each mutant's verdict from
    its simulation (``simulated``: survived for one now counted equivalent) is re-judged,
    the counts and score recomputed; nothing is simulated, the commit stays the run's."""
    path = Path(path)
    try:
        result = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"--rejudge {path}: not a readable result ({exc})") from None
    if not isinstance(result, dict) or not isinstance(result.get("mutants"), list):
        raise UserError(f"--rejudge {path}: no mutants in it (is it an rrm mutate result?)")
    for entry in result["mutants"]:
        if "simulated" not in entry:   # a record from before verdicts were kept beside the judgement
            entry["simulated"] = "survived" if entry["status"] == "equivalent" else entry["status"]
            entry["simulated_reason"] = entry["reason"] if entry["simulated"] == entry["status"] else ""
        entry["status"], entry["reason"] = apply_equivalent(entry["simulated"], entry["simulated_reason"],
                                                            entry["mutation"], equivalent)
    result.update(summarise(result["mutants"]))
    result["equivalent_file"] = _relative(equivalent_file)
    from ..results import commit_info
    result["rejudged"] = {"commit": commit_info(ROOT)["commit"], "equivalent": len(equivalent)}
    result["survivors"] = [{k: e[k] for k in ("index", "select", "mutation", "command", "source")}
                           for e in result["mutants"] if e["status"] == "survived"]
    return result


def write_result(result: dict, out: Path) -> None:
    """``out`` (JSON) and the Markdown table beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(format_table(result))


def run(args) -> int:
    if args.rejudge is not None:
        result = rejudge(args.rejudge, load_equivalent(args.equivalent), args.equivalent)
        write_result(result, args.rejudge)
        print(format_table(result), end="")
        print(f"rrm mutate: re-judged {args.rejudge} against {args.equivalent}")
        return 0
    options = check_arguments(args)
    from hw.flow.mutate import (SELECTOR, block_rtlil, list_mutations, mutant_verilog, prepare,
                                selectable_verilog, top_ports, yosys_executable, yosys_version)
    from hw.flow.verilog import module_name
    from rrm.presets import load_preset
    from tb import mutation as bench

    yosys_executable()   # a UserError without Yosys, before anything is built
    equivalent = load_equivalent(args.equivalent)
    sample, seed, jobs = options["sample"], options["seed"], options["jobs"]
    work_dir = (args.work_dir or ROOT / "build" / "mutate" / f"seed{seed}-n{sample}").resolve()
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    spec = load_preset(bench.PRESET)
    top = module_name(bench.BLOCK)
    start = time.monotonic()

    print(f"rrm mutate: elaborating {bench.BLOCK} ({bench.PRESET}) with source locations ...", flush=True)
    design = prepare(block_rtlil(bench.BLOCK, spec), top, work_dir)
    mutations = list_mutations(design, sample, seed, work_dir)
    print(f"rrm mutate: Yosys drew {len(mutations)} mutations (seed {seed}); work dir {work_dir}", flush=True)
    ports = top_ports(mutant_verilog(design, None, work_dir), top)
    text, failed = selectable_verilog(design, mutations, work_dir)
    if top_ports(text, top) != ports + [SELECTOR]:
        raise UserError(f"the design with all mutations has other top ports than the original plus "
                        f"{SELECTOR}: {top_ports(text, top)}")
    verilog = work_dir / "mutants.v"
    expect = bench.write_run(work_dir, verilog, bench.plan(spec))
    entries: dict = {}
    for index, message in failed:   # Yosys could not apply it: no verdict, not in the design
        entries[index] = mutant_entry(index, mutations[index], "error", f"mutate failed: {message}", 0.0)

    print(f"rrm mutate: building the design with all {len(mutations) - len(failed)} mutations "
          f"(input {SELECTOR}) in Verilator, once ...", flush=True)
    build_start = time.monotonic()
    try:
        build = bench.build(verilog)
    except AssertionError as exc:
        raise UserError(f"Verilator could not build the design with the mutations: {exc}") from None
    build_seconds = time.monotonic() - build_start
    try:
        # The unmutated design (selector 0) must pass the plan: otherwise every mutant would look killed.
        bench.write_job(work_dir, -1)
        print(f"rrm mutate: built in {build_seconds:.0f} s; the plan with {SELECTOR} = 0 (baseline) ...",
              flush=True)
        baseline = bench.SubprocessRunner(work_dir, options["timeout"] or 1800.0)(-1)
        status, reason = bench.classify(baseline.outcome, baseline.timed_out, expect, baseline.returncode)
        if status != "survived":
            raise UserError(f"the unmutated design ({SELECTOR} = 0) fails the mutation plan ({status}: "
                            f"{reason}); see {bench.mutant_dir(work_dir, -1)}")
        timeout = options["timeout"] or max(MIN_TIMEOUT, TIMEOUT_FACTOR * baseline.seconds)
        print(f"rrm mutate: baseline passed in {baseline.seconds:.1f} s; limit {timeout:.0f} s per mutant, "
              f"{jobs} at a time", flush=True)

        indices = [index for index in range(len(mutations)) if index not in entries
                   and (options["only"] is None or index in options["only"])]
        for index in indices:
            bench.write_job(work_dir, index)
        width = len(str(len(mutations)))

        def on_done(result) -> None:
            mutation = mutations[result.index]
            simulated, simulated_reason = bench.classify(result.outcome, result.timed_out, expect,
                                                         result.returncode)
            status, reason = apply_equivalent(simulated, simulated_reason, mutation.describe(), equivalent)
            entry = mutant_entry(result.index, mutation, status, reason, result.seconds)
            entry.update(simulated=simulated, simulated_reason=simulated_reason)
            entries[result.index] = entry
            tally = summarise(list(entries.values()))["counts"]
            where = entry["source"][0] if entry["source"] else "-"
            print(f"[{len(entries):{width}d}/{len(mutations)}] {status:8s} {result.seconds:6.1f} s  "
                  f"{SELECTOR}={entry['select']}  {mutation.describe()}  ({where})  "
                  f"killed {tally['killed']} timeout {tally['timeout']} survived {tally['survived']} "
                  f"equivalent {tally['equivalent']} error {tally['error']}", flush=True)

        mutants_start = time.monotonic()
        bench.run_all(indices, bench.SubprocessRunner(work_dir, timeout), jobs, on_done)
        mutant_seconds = time.monotonic() - mutants_start
    finally:
        if not args.keep:
            bench.remove_build(build.build_dir)
    from ..results import commit_info
    ordered = [entries[index] for index in range(len(mutations)) if index in entries
               and (options["only"] is None or index in options["only"])]
    summary = summarise(ordered)
    result = {
        **commit_info(ROOT), "block": bench.BLOCK, "preset": bench.PRESET,
        "yosys": yosys_version(), "equivalent_file": _relative(args.equivalent),
        "sample": sample, "seed": seed, "jobs": jobs, "only": options["only"],
        "mode": "one build, mutant selected by input " + SELECTOR,
        "timeout_s": round(timeout, 1), "build_seconds": round(build_seconds, 1),
        "baseline_seconds": round(baseline.seconds, 1),
        "seconds": round(time.monotonic() - start, 1),
        "seconds_per_mutant": round(mutant_seconds / max(1, len(indices)), 1),
        **summary,
        "survivors": [{k: e[k] for k in ("index", "select", "mutation", "command", "source")}
                      for e in ordered if e["status"] == "survived"],
        "mutants": ordered,
    }
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    if options["only"] is not None:   # a partial run is never the benchmark's record
        out = work_dir / "mutation-only.json"
    write_result(result, out)
    print()
    print(format_table(result), end="")
    print(f"rrm mutate: wrote {out} and {out.with_suffix('.md')}")
    return 0
