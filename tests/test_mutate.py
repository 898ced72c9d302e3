"""`rrm mutate`, the mutation benchmark, without building the accelerator: its argument errors,
the parsing of Yosys's `mutate -list` output, one mutation applied to a small module and two
behind a selector input in a small hierarchy (Yosys needed: skipped without it), and the
verdicts from stand-in workers (no simulator)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import hw.flow.mutate as mutate_flow
from hw.flow.mutate import (SELECTOR, Mutation, instances, list_mutations, mutant_verilog,
                            parse_mutation_list, run_yosys, selectable_commands, selectable_verilog,
                            selector_width, source_locations, top_ports)
from rrm.errors import UserError
from scripts.cli import main
from scripts.commands import mutate as mutate_command
from tb import mutation as bench

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")

SMALL = """module adder(input clk, input [3:0] a, input [3:0] b, output reg [3:0] q, output [3:0] y);
  assign y = a + b;
  always @(posedge clk) q <= y;
endmodule
"""


# ----------------------------------------------------------------------------- arguments
@pytest.fixture
def nothing_runs(monkeypatch):
    """Any elaboration or Yosys run fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the command started work on bad arguments")
    monkeypatch.setattr(mutate_flow, "block_rtlil", refuse)
    monkeypatch.setattr(mutate_flow, "run_yosys", refuse)


@pytest.mark.parametrize("args, words", [
    (["--sample", "0"], ["--sample", "at least 1"]),
    (["--sample", "many"], ["--sample", "'many'", "not a whole number"]),
    (["--jobs", "0"], ["--jobs", "at least 1"]),
    (["--jobs", "2.5"], ["--jobs", "'2.5'"]),
    (["--seed", "-1"], ["--seed", "outside"]),
    (["--seed", "x"], ["--seed", "'x'"]),
    (["--timeout", "0"], ["--timeout", "more than 0"]),
    (["--timeout", "soon"], ["--timeout", "'soon'"]),
    (["--only", "3,x"], ["--only", "'3,x'", "comma-separated"]),
    (["--sample", "10", "--only", "2,10"], ["--only", "[10]", "0..9"]),
])
def test_bad_arguments_one_line_exit_2(args, words, tmp_path, capsys, nothing_runs):
    out = tmp_path / "mutation.json"
    with pytest.raises(SystemExit) as exc:
        main(["mutate", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("rrm mutate: error:")
    for word in words:
        assert word in err
    assert not out.exists()


def test_out_must_be_a_json_file(tmp_path, capsys, nothing_runs):
    for out, words in [(tmp_path, ["is a directory"]), (tmp_path / "result.txt", ["end in .json"])]:
        with pytest.raises(SystemExit) as exc:
            main(["mutate", "--out", str(out)])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and all(word in err for word in words), err


def test_no_yosys_is_a_one_line_error(tmp_path, capsys, monkeypatch, nothing_runs):
    monkeypatch.setattr(mutate_flow.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as exc:
        main(["mutate", "--out", str(tmp_path / "m.json"), "--work-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "yosys is not on the PATH" in err, err
    assert not (tmp_path / "w").exists()


# ----------------------------------------------------------------------------- the list
LISTING = """\
-- Running command `mutate -list 3' --
mutate -mode none
mutate -mode cnot1 -module rrm_accelerator.core.fc -cell $577 -port Y -portbit 4 -ctrlbit 2 -src /p/hw/blocks/fc.py:124
mutate -mode const0 -module rrm_accelerator.core -cell image_loader -port image__ready -portbit 0 -wire image__ready -wirebit 0 -src /venv/amaranth/lib/stream.py:50 -src /p/hw/top/accelerator.py:151
Reduced database size: 2
"""


def test_parse_mutation_list():
    first, second = parse_mutation_list(LISTING)
    assert first == Mutation("cnot1", "rrm_accelerator.core.fc", "$577", "Y", 4, ctrlbit=2,
                             src=("/p/hw/blocks/fc.py:124",))
    assert second.wire == "image__ready" and second.wirebit == 0 and second.ctrlbit is None
    assert second.src == ("/venv/amaranth/lib/stream.py:50", "/p/hw/top/accelerator.py:151")
    assert first.command() == ("mutate -mode cnot1 -module rrm_accelerator.core.fc -cell $577 -port Y "
                               "-portbit 4 -ctrlbit 2")
    assert "-wire" not in second.command() and "-src" not in second.command()
    assert Mutation.from_dict(json.loads(json.dumps(second.to_dict()))) == second
    # the project's own line first, a library's line by file name only
    assert source_locations(second, Path("/p")) == ["hw/top/accelerator.py:151", "stream.py:50"]


@pytest.mark.parametrize("line, words", [
    ("mutate -mode flip -module m -cell c -port A -portbit 0", ["unknown mode"]),
    ("mutate -mode inv -module m -cell c -port A", ["-portbit"]),
    ("mutate -mode inv -module m -cell c -port A -portbit", ["cannot parse"]),
    ("mutate -ctrl mutsel 8 1 -mode inv -module m -cell c -port A -portbit 0", ["-ctrl"]),
    ("mutate -mode inv -module m -cell c -port A -portbit 0 -colour red", ["unknown option"]),
])
def test_parse_refuses_bad_lines(line, words):
    with pytest.raises(ValueError) as exc:
        parse_mutation_list(line)
    assert all(word in str(exc.value) for word in words), exc.value


@pytest.fixture
def small_design(tmp_path) -> Path:
    (tmp_path / "adder.v").write_text(SMALL)
    run_yosys(["read_verilog adder.v", "hierarchy -top adder", "proc", "write_rtlil design.il"], tmp_path)
    return tmp_path / "design.il"


@needs_yosys
def test_yosys_lists_a_sample_of_mutations(small_design, tmp_path):
    mutations = list_mutations(small_design, 4, 1, tmp_path / "list")
    assert len(mutations) == 4
    assert all(m.module == "adder" and m.mode in mutate_flow.MODES for m in mutations)
    assert all(source_locations(m, tmp_path)[0].startswith("adder.v:") for m in mutations)
    again = list_mutations(small_design, 4, 1, tmp_path / "again")
    assert again == mutations, "the same seed drew other mutations"


def _eval_y(verilog: str, where: Path) -> str:
    """y of the adder module at a=1, b=2 by Yosys's evaluator."""
    (where / "eval.v").write_text(verilog)
    log = run_yosys(["read_verilog eval.v", "hierarchy -top adder", "proc",
                     "eval -set a 1 -set b 2 -show y"], where, "eval.log")
    return next(line for line in log.splitlines() if "Eval result" in line).split("=")[1].strip(" .")


@needs_yosys
def test_one_mutation_changes_the_verilog(small_design, tmp_path):
    adder = next(line.split()[2] for line in (tmp_path / "design.il").read_text().splitlines()
                 if line.strip().startswith("cell $add"))
    original = mutant_verilog(small_design, None)
    mutation = Mutation("const0", "adder", adder, "Y", 0)
    mutated = mutant_verilog(small_design, mutation, tmp_path)
    assert mutated != original
    assert top_ports(mutated, "adder") == top_ports(original, "adder") == ["clk", "a", "b", "q", "y"]
    (tmp_path / "e0").mkdir()
    (tmp_path / "e1").mkdir()
    assert _eval_y(original, tmp_path / "e0") == "4'0011"
    assert _eval_y(mutated, tmp_path / "e1") == "4'0010"   # bit 0 of a + b tied to 0


HIERARCHY = """module add(input [3:0] a, input [3:0] b, output [3:0] y);
  assign y = a + b;
endmodule
module top(input clk, input [3:0] a, input [3:0] b, output [3:0] y, output [3:0] z);
  add u(.a(a), .b(b), .y(y));
  assign z = a & b;
endmodule
"""


def test_selector_commands():
    mutation = Mutation("inv", "top", "u", "y", 1)
    assert mutation.command(("mutsel", 2, 2)) == "mutate -ctrl mutsel 2 2 -mode inv -module top -cell u -port y -portbit 1"
    assert [selector_width(n) for n in (1, 2, 3, 4, 100)] == [1, 2, 2, 3, 7]
    text = "module \\top\n  cell \\add \\u\n  end\n  cell $and $2\n  end\nend\nmodule \\add\nend\n"
    assert instances(text) == [("top", "u")]
    commands = selectable_commands(text, [mutation, mutation, mutation], skip=(1,))
    assert commands[0] == f"add -input {SELECTOR} 2"
    assert f"connect -port u {SELECTOR} {SELECTOR}" in commands
    assert [c.split()[4] for c in commands if c.startswith("mutate")] == ["1", "3"]


def _eval_top(verilog: str, where: Path, select: int) -> tuple:
    """(y, z) of the top module at a=1, b=3 and the selector at ``select`` (Yosys's evaluator)."""
    where.mkdir()
    (where / "eval.v").write_text(verilog)
    log = run_yosys(["read_verilog eval.v", "hierarchy -top top", "proc", "flatten",
                     f"eval -set a 1 -set b 3 -set {SELECTOR} {select} -show y -show z"], where, "eval.log")
    return tuple(line.split("=")[1].strip(" .") for line in log.splitlines() if "Eval result" in line)


@needs_yosys
def test_mutations_behind_a_selector(tmp_path):
    """mcy's one design for all mutants: a mutation inside a submodule and one on the top's
    instance port, each active only at its selector value; 0 is the original."""
    (tmp_path / "h.v").write_text(HIERARCHY)
    run_yosys(["read_verilog h.v", "hierarchy -top top", "proc", "write_rtlil design.il"], tmp_path)
    adder = next(line.split()[2] for line in (tmp_path / "design.il").read_text().splitlines()
                 if line.strip().startswith("cell $add"))
    mutations = [Mutation("const1", "add", adder, "Y", 3), Mutation("inv", "top", "u", "y", 0)]
    text, failed = selectable_verilog(tmp_path / "design.il", mutations, tmp_path)
    assert failed == []
    assert top_ports(text, "top") == ["clk", "a", "b", "y", "z", SELECTOR]
    assert top_ports(text, "add")[-1] == SELECTOR   # passed down to the submodule's mutation
    original = ("4'0100", "4'0001")
    assert _eval_top(text, tmp_path / "s0", 0) == original
    assert _eval_top(text, tmp_path / "s1", 1) == ("4'1100", "4'0001")   # bit 3 of a + b tied to 1
    assert _eval_top(text, tmp_path / "s2", 2) == ("4'0101", "4'0001")   # bit 0 of y inverted
    assert _eval_top(text, tmp_path / "s3", 3) == original               # no mutation has value 3


@needs_yosys
def test_a_mutation_yosys_refuses_is_left_out(small_design, tmp_path):
    adder = next(line.split()[2] for line in (tmp_path / "design.il").read_text().splitlines()
                 if line.strip().startswith("cell $add"))
    mutations = [Mutation("inv", "adder", "$nope", "Y", 0), Mutation("const0", "adder", adder, "Y", 0)]
    text, failed = selectable_verilog(small_design, mutations, tmp_path / "sel")
    assert [index for index, _ in failed] == [0] and "yosys failed" in failed[0][1]
    assert "mutsel == 2'h2" in text and "2'h1" not in text


@needs_yosys
def test_a_mutation_of_a_missing_cell_fails(small_design, tmp_path):
    with pytest.raises(RuntimeError, match="yosys failed"):
        mutant_verilog(small_design, Mutation("inv", "adder", "$nope", "Y", 0), tmp_path)


# ----------------------------------------------------------------------------- verdicts
def _expect() -> list:
    image = {"logits": [5, 1, 5], "class": 0, "image_error": 0, "cycles": 100, "layer_cycles": [40, 50]}
    return [[{"loaded": 1, "error": 0}, {"loaded": 0, "error": 1}, {"images": [image]}],
            [{"loaded": 1, "error": 0}, {"images": [{**image, "cycles": None, "layer_cycles": None}]},
             {"maps": True}]]


def _passing() -> list:
    image = {"logits": [5, 1, 5], "class": 0, "image_error": 0, "cycles": 100, "layer_cycles": [40, 50]}
    return [[{"op": "params", "loaded": 1, "error": 0}, {"op": "params", "loaded": 0, "error": 1},
             {"op": "images", "images": [image]}],
            [{"op": "params", "loaded": 1, "error": 0},
             {"op": "images", "images": [{**image, "cycles": 123, "layer_cycles": [1, 2]}]},
             {"op": "maps", "mismatch": None}]]


def _changed(change) -> dict:
    runs = _passing()
    change(runs)
    return {"stage": "done", "runs": runs}


def _set_image(key, value, run=0):
    def change(runs):
        next(step for step in reversed(runs[run]) if "images" in step)["images"][0][key] = value
    return change


CASES = {
    0: (bench.WorkerResult(0, {"stage": "done", "runs": _passing()}, False, 1.0), "survived", ""),
    1: (bench.WorkerResult(1, _changed(_set_image("logits", [5, 1, 6])), False, 1.0), "killed", "logits"),
    2: (bench.WorkerResult(2, _changed(_set_image("class", 2)), False, 1.0), "killed", "class 2"),
    3: (bench.WorkerResult(3, _changed(_set_image("layer_cycles", [40, 51])), False, 1.0), "killed",
        "layer 1 took 51 cycles, cycle model 50"),
    4: (bench.WorkerResult(4, _changed(_set_image("cycles", 99)), False, 1.0), "killed", "99 image cycles"),
    5: (bench.WorkerResult(5, _changed(_set_image("image_error", 1, run=1)), False, 1.0), "killed",
        "run 1 step 1 (images) image 0: image_error 1"),
    6: (bench.WorkerResult(6, _changed(lambda runs: runs[0][1].update(loaded=1, error=0)), False, 1.0),
        "killed", "run 0 step 1 (params): params_loaded/param_error (1, 0)"),
    7: (bench.WorkerResult(7, _changed(lambda runs: runs[0][2]["images"].clear()), False, 1.0), "killed",
        "0 results"),
    8: (bench.WorkerResult(8, {"stage": "simulate", "message": "run 0: cocotb failed"}, False, 1.0),
        "killed", "simulation failed"),
    9: (bench.WorkerResult(9, None, True, 60.0), "timeout", ""),
    10: (bench.WorkerResult(10, {"stage": "build", "message": "verilator said no"}, False, 1.0), "error",
         "build failed"),
    11: (bench.WorkerResult(11, {"stage": "mutate", "message": "yosys failed"}, False, 1.0), "error", "mutate"),
    12: (bench.WorkerResult(12, None, False, 1.0, returncode=1), "error", "no outcome (exit 1)"),
    13: (bench.WorkerResult(13, _changed(lambda runs: runs[1][2].update(mismatch="dsc2.dw: 3 values differ")),
                            False, 1.0), "killed", "feature maps differ from golden's: dsc2.dw: 3 values"),
}


def test_classify_with_a_stub_runner():
    """Stand-in workers (no Yosys, no simulator) on every path to a verdict; run_all runs them
    in parallel and returns them in order."""
    seen = []
    results = bench.run_all(list(CASES), lambda index: CASES[index][0], jobs=3, on_done=seen.append)
    assert [r.index for r in results] == list(CASES) and sorted(r.index for r in seen) == list(CASES)
    for result in results:
        _, status, words = CASES[result.index]
        got, reason = bench.classify(result.outcome, result.timed_out, _expect(), result.returncode)
        assert got == status, (result.index, got, reason)
        assert words in reason, (result.index, reason)


def test_summary_and_table():
    mutation = Mutation("inv", "rrm_accelerator.core", "$1", "A", 3, src=("/nowhere/x.py:7",))
    entries = [mutate_command.mutant_entry(i, mutation, status, "why | not", 2.0)
               for i, status in enumerate(["killed", "killed", "survived", "timeout", "error"])]
    summary = mutate_command.summarise(entries)
    assert summary["counts"] == {"killed": 2, "timeout": 1, "survived": 1, "equivalent": 0, "error": 1}
    assert summary["score"] == pytest.approx(3 / 4)
    result = {"block": "accelerator", "preset": "tiny", "commit": "abc", "sample": 5, "seed": 1, "jobs": 2,
              "timeout_s": 120.0, "seconds": 100.0, "seconds_per_mutant": 20.0, "mutants": entries, **summary}
    table = mutate_command.format_table(result)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`inv" in line]
    assert len(rows) == 5 and "survived" in rows[0] and "why \\| not" in rows[0]
    assert "| 2 | 1 | 1 | 0 | 1 | 75% |" in table


ARGUMENT = "bit 3 of the sum is constant 0: both addends are below 8 by the spec's bounds"


def test_equivalent_mutants_leave_the_score(tmp_path):
    """A survivor listed in the equivalence file becomes ``equivalent`` with its argument and
    leaves the score; a listed mutant that was detected keeps its verdict, flagged."""
    listed = Mutation("inv", "rrm_accelerator.core", "$1", "A", 3).describe()
    path = tmp_path / "equivalent.json"
    path.write_text(json.dumps({"equivalent": {listed: ARGUMENT}}))
    equivalent = mutate_command.load_equivalent(path)
    assert mutate_command.apply_equivalent("survived", "", listed, equivalent) == ("equivalent", ARGUMENT)
    assert mutate_command.apply_equivalent("survived", "", listed + "x", equivalent) == ("survived", "")
    status, reason = mutate_command.apply_equivalent("killed", "logits differ", listed, equivalent)
    assert status == "killed" and "argument is wrong" in reason and "logits differ" in reason
    assert mutate_command.load_equivalent(tmp_path / "none.json") == {}
    mutation = Mutation("inv", "rrm_accelerator.core", "$1", "A", 3)
    entries = [mutate_command.mutant_entry(i, mutation, status, ARGUMENT, 1.0)
               for i, status in enumerate(["killed", "survived", "equivalent", "equivalent"])]
    summary = mutate_command.summarise(entries)
    assert summary["counts"]["equivalent"] == 2 and summary["score"] == pytest.approx(1 / 2)


@pytest.mark.parametrize("text", ['[]', '{"equivalent": []}', '{"equivalent": {"inv m $1 A[0]": "dead"}}', '{'])
def test_a_bad_equivalence_file_is_refused(tmp_path, text):
    path = tmp_path / "equivalent.json"
    path.write_text(text)
    with pytest.raises(UserError):
        mutate_command.load_equivalent(path)


def test_the_committed_equivalence_file_reads():
    """Every argument in the project's equivalence file is written out (load_equivalent's check)."""
    table = mutate_command.load_equivalent(mutate_command.ROOT / mutate_command.DEFAULT_EQUIVALENT)
    assert all(key.split()[0] in mutate_flow.MODES for key in table)


def test_a_worker_past_the_limit_is_killed_and_a_failing_one_is_an_error(tmp_path):
    """The real subprocess runner: a worker that cannot finish in 0.05 s is killed as a group
    (timeout); one whose run directory has no run.json exits without an outcome (error)."""
    bench.write_job(tmp_path, 0)
    assert json.loads((bench.mutant_dir(tmp_path, 0) / "job.json").read_text()) == {"select": 1}
    slow = bench.SubprocessRunner(tmp_path, timeout=0.05)(0)
    assert slow.timed_out and slow.outcome is None
    assert bench.classify(slow.outcome, slow.timed_out, [], slow.returncode)[0] == "timeout"
    bench.write_job(tmp_path, 1)
    broken = bench.SubprocessRunner(tmp_path, timeout=120)(1)
    assert not broken.timed_out and broken.returncode == 1 and broken.outcome is None
    assert bench.classify(broken.outcome, broken.timed_out, [], broken.returncode) == \
        ("error", "the worker left no outcome (exit 1)")
    assert "run.json" in (bench.mutant_dir(tmp_path, 1) / "worker.log").read_text()


def test_the_shift_spread_artifact_spreads_shifts_and_outputs():
    """Run 1's artifact: dw and conv/pw layers each at shifts 0..SPREAD_SHIFTS-1, every layer's BN
    putting many outputs strictly inside 0..act_max (else low bits would decide nothing)."""
    from golden import model
    from rrm.presets import load_preset
    from tb.artifacts import SPREAD_SHIFTS, shift_spread_artifact
    spec = load_preset(bench.PRESET)
    artifact = shift_spread_artifact(spec, 15)
    layers = [layer for layer in spec.layers() if layer.kind in ("conv", "dw", "pw")]
    shifts = {layer.name: int(artifact.params[f"{layer.name}.shift"]) for layer in layers}
    dw = sorted({shifts[layer.name] for layer in layers if layer.kind == "dw"})
    pw = sorted({shifts[layer.name] for layer in layers if layer.kind != "dw"})
    assert dw == list(range(SPREAD_SHIFTS)), dw
    assert pw == list(range(SPREAD_SHIFTS)), pw
    _, trace = model.run(artifact, bench._images(spec, 1, 22), trace=True)
    for layer in layers:
        values = trace[layer.name][0]
        inside = int(((values > 0) & (values < spec.quant.act_max)).sum())
        assert inside >= 30, f"{layer.name} (shift {shifts[layer.name]}): only {inside} outputs inside the range"


def test_rejudge_applies_new_arguments_without_simulating(tmp_path, capsys):
    """--rejudge: a survivor whose mutation gained an argument becomes equivalent, a killed one
    listed keeps its verdict with the refutation; counts and score follow; nothing runs."""
    mutation = Mutation("inv", "rrm_accelerator.core", "$1", "A", 3, src=("/nowhere/x.py:7",))
    other = Mutation("inv", "rrm_accelerator.core", "$2", "A", 0, src=())
    entries = [mutate_command.mutant_entry(0, mutation, "survived", "", 2.0),
               mutate_command.mutant_entry(1, other, "killed", "logits differ", 2.0),
               mutate_command.mutant_entry(2, other, "killed", "logits differ", 2.0)]
    result = {"block": "accelerator", "preset": "tiny", "commit": "abc", "sample": 3, "seed": 1, "jobs": 2,
              "timeout_s": 120.0, "seconds": 10.0, "seconds_per_mutant": 3.0, "mutants": entries,
              **mutate_command.summarise(entries)}
    path = tmp_path / "mutation.json"
    path.write_text(json.dumps(result))
    table = tmp_path / "equivalent.json"
    table.write_text(json.dumps({"equivalent": {mutation.describe(): "bit 3 reaches no output at all here",
                                                other.describe(): "a wrong argument that a kill refutes"}}))
    assert main(["mutate", "--rejudge", str(path), "--equivalent", str(table)]) == 0
    again = json.loads(path.read_text())
    assert [m["status"] for m in again["mutants"]] == ["equivalent", "killed", "killed"]
    assert [m["simulated"] for m in again["mutants"]] == ["survived", "killed", "killed"]
    assert "the argument is wrong" in again["mutants"][1]["reason"]
    assert again["counts"]["equivalent"] == 1 and again["score"] == 1.0 and again["survivors"] == []
    assert again["commit"] == "abc" and "applied again" in path.with_suffix(".md").read_text()
    table.write_text(json.dumps({"equivalent": {}}))     # the argument withdrawn: survived again
    assert main(["mutate", "--rejudge", str(path), "--equivalent", str(table)]) == 0
    assert json.loads(path.read_text())["mutants"][0]["status"] == "survived"


def test_docs_quote_the_recorded_benchmark():
    """docs/verification.md gives the recorded run's counts and score, names every survivor,
    and every argument of the equivalence file is a mutant of that run judged equivalent."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    record = json.loads((root / "results" / "tiny" / "mutation.json").read_text())
    arguments = json.loads((root / "results" / "tiny" / "mutation_equivalent.json").read_text())["equivalent"]
    assert record["dirty"] is False and record["sample"] >= 100 and record["only"] is None
    counts = record["counts"]
    text = " ".join((root / "docs" / "verification.md").read_text(encoding="utf-8").split())
    assert (f"{counts['killed']} killed, {counts['timeout']} timed out, {counts['survived']} survived, "
            f"{counts['equivalent']} argued equivalent, {counts['error']} errors") in text
    assert f"score {100 * record['score']:.0f} %" in text and f"commit `{record['commit'][:12]}`" in text
    for mutant in record["mutants"]:
        if mutant["status"] == "survived":
            assert re.search(rf"#{mutant['index']}\b", text), f"survivor #{mutant['index']} is not discussed"
    judged = {m["mutation"]: m["status"] for m in record["mutants"]}
    assert {judged.get(mutation) for mutation in arguments} == {"equivalent"}
