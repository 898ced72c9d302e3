"""The commands `make` runs that were `python -m scripts.X` scripts: `rrm train-seeds`, `rrm sim-full`,
`rrm sweep` and `rrm report` are registered with one-line help, refuse bad arguments with a
one-line error and exit code 2 before writing anything, and pass good ones on."""

from pathlib import Path

import pytest

from scripts.cli import build_parser, command_modules, main

from .test_demo_report import demo_inputs

NEW = ("train-seeds", "sim-full", "sweep", "report")


def run_error(args, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_registered_with_one_line_help(capsys):
    modules = {module.NAME: module for module in command_modules()}
    for name in NEW:
        assert name in modules
        assert modules[name].HELP and "\n" not in modules[name].HELP
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    listed = capsys.readouterr().out
    for name in NEW:
        assert f"    {name} " in listed or f"    {name}\n" in listed
        assert modules[name].HELP.split()[0] in listed
    build_parser().parse_args(["train-seeds", "--seeds", "3", "--", "--epochs", "1"])


@pytest.mark.parametrize("args, words", [
    (["train-seeds", "--threads", "0"], ["--threads 0", "at least 1"]),
    (["train-seeds", "--seeds", "1", "1"], ["named twice"]),
    (["train-seeds", "--", "--epochs", "many"], ["rrm train refuses", "--epochs", "'many'"]),
    (["train-seeds", "--", "--no-such-option"], ["rrm train refuses", "--no-such-option"]),
    (["train-seeds", "stray"], ["'stray'", "after --"]),
    (["sim-full", "--preset", "nope"], ["unknown preset 'nope'", "rr-mobilenet-fit"]),
    (["sim-full", "--preset", "tiny", "--seed", "-1"], ["--seed -1", ">= 0"]),
    (["sweep", "--preset", "nope"], ["unknown preset 'nope'"]),
    (["sweep", "--preset", "tiny", "--mark", "tiny", "nope"], ["--mark nope", "unknown preset"]),
    (["sweep", "--preset", "tiny", "--jobs", "0"], ["--jobs 0", "at least 1"]),
])
def test_bad_arguments_one_line_exit_2_nothing_written(args, words, tmp_path, capsys):
    out = tmp_path / "out"
    err = run_error([*args[:1], "--out", str(out), *args[1:]], capsys)
    for word in words:
        assert word in err
    assert not out.exists()


@pytest.mark.parametrize("break_input, words", [
    (lambda run, test, rtl: (run / "report.json").unlink(), ["--train", "report.json", "not finished"]),
    (lambda run, test, rtl: (test / "logits.npy").unlink(), ["--test", "logits.npy", "rrm golden"]),
    (lambda run, test, rtl: rtl.unlink(), ["--rtl", "rrm sim"]),
    (lambda run, test, rtl: rtl.write_text("{not json"), ["--rtl", "not valid JSON"]),
    (lambda run, test, rtl: rtl.write_text('{"images": []}'), ["--rtl", "no images"]),
])
def test_report_refuses_missing_or_bad_inputs(break_input, words, tmp_path, capsys):
    run, test, rtl = demo_inputs(tmp_path)
    break_input(run, test, rtl)
    out = tmp_path / "out"
    err = run_error(["report", "--train", str(run), "--test", str(test), "--rtl", str(rtl),
                     "--out", str(out)], capsys)
    for word in words:
        assert word in err
    assert not out.exists()


def test_report_writes_the_demo_report(tmp_path, capsys):
    run, test, rtl = demo_inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["report", "--train", str(run), "--test", str(test), "--rtl", str(rtl), "--out", str(out)]) == 0
    assert f"wrote {out / 'report.md'}" in capsys.readouterr().out
    assert "## Headline" in (out / "report.md").read_text()


def test_sim_full_passes_its_arguments_on(tmp_path, monkeypatch):
    """No simulation here: the full-size run takes hours."""
    import scripts.sim_full
    calls = []
    monkeypatch.setattr(scripts.sim_full, "sim_full", lambda *a, **k: calls.append((*a, k)) or 0)
    from rrm.presets import load_preset
    assert main(["sim-full", "--preset", "tiny", "--out", str(tmp_path), "--seed", "3", "--no-record"]) == 0
    assert main(["sim-full"]) == 0
    spec_file = tmp_path / "mine.json"
    spec_file.write_text(load_preset("tiny").to_json())
    assert main(["sim-full", "--spec", str(spec_file)]) == 0   # a spec file's run writes no record
    assert calls == [
        (load_preset("tiny"), tmp_path, 3, {"name": "tiny", "spec_arguments": ["--preset", "tiny"], "record": False}),
        (load_preset("rr-mobilenet"), Path("build/sim-full"), 1,
         {"name": "rr-mobilenet", "spec_arguments": ["--preset", "rr-mobilenet"], "record": True}),
        (load_preset("tiny"), Path("build/sim-full"), 1,
         {"name": "mine", "spec_arguments": ["--spec", str(spec_file.resolve())], "record": False})]


def test_sim_full_on_tiny_with_a_stand_in_simulator(tmp_path, monkeypatch, capsys):
    """The whole command on `tiny`, the build and the simulator replaced by stand-ins that answer
    with golden's logits and the cycle model's cycles (as in tests/test_cli_sim.py)."""
    import json
    from types import SimpleNamespace

    import tb.accelerator_sim
    import tb.build
    from golden import model
    from hw.cost.cycle_model import cycle_model
    from rrm.memory_map import memory_map
    from rrm.presets import load_preset

    tiny = load_preset("tiny")
    predicted = cycle_model(tiny)
    per_layer = {layer.name: layer.cycles for layer in predicted.layers}
    artifact = tmp_path / "tiny" / "artifact-seed2"

    def simulate(spec, steps, work_dir, **kwargs):
        images = steps[1]["data"]
        logits = model.run(artifact, images)
        return {"steps": [{"op": "params", "loaded": 1, "error": 0}, {"op": "images", "images": [
                    {"logits": [int(v) for v in row], "class": int(row.argmax()), "cycles": predicted.cycles,
                     "layer_cycles": [per_layer[e.name] for e in memory_map(spec).layers], "image_error": 0}
                    for row in logits]}],
                "writes": [], "run_seconds": 2.0}

    monkeypatch.setattr(tb.build, "build_design",
                        lambda *a, **k: SimpleNamespace(build_seconds=3.0, cached=False, build_dir="x"))
    monkeypatch.setattr(tb.accelerator_sim, "simulate", simulate)
    import scripts.results
    monkeypatch.setattr(scripts.results, "RESULTS_DIR", tmp_path / "results")
    assert main(["sim-full", "--preset", "tiny", "--out", str(tmp_path), "--seed", "2"]) == 0
    summary = json.loads((tmp_path / "tiny" / "summary.json").read_text())
    assert summary["spec"] == "tiny" and summary["match_golden"] is True
    assert summary["cycles"] == summary["model_cycles"] == predicted.cycles
    assert summary["largest_layer_error"] == 0.0
    assert "largest per-layer model error: 0.00 %" in capsys.readouterr().out
    recorded = json.loads((tmp_path / "results" / "tiny" / "sim.json").read_text())
    assert recorded["bit_exact"] and recorded["layers_as_model"] and recorded["cycles"] == predicted.cycles
    assert len(recorded["commit"]) == 40 or recorded["commit"] == "unknown"

    # one layer a cycle off the model: the run fails and says which layer
    first = memory_map(tiny).layers[1].name
    per_layer[first] += 1
    assert main(["sim-full", "--preset", "tiny", "--out", str(tmp_path), "--seed", "2"]) == 1
    assert f"differ from the model: {first}" in capsys.readouterr().out
    assert json.loads((tmp_path / "results" / "tiny" / "sim.json").read_text())["layers_as_model"] is False
