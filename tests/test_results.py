"""Recorded results (results/<preset>/*.json) and the README's table generated from them."""

from __future__ import annotations

import json

import pytest

from hw.cost.cycle_model import cycle_model
from hw.flow.verilog import block_verilog
from rrm.presets import load_preset
from scripts import results
from scripts.rtl_identity import preset_digest, same_rtl, verilog_digest
from scripts.cli import main

ROOT = results.ROOT


def test_the_readme_table_is_the_one_the_records_give(capsys):
    assert main(["results", "--check", str(ROOT / "README.md")]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("preset", results.presets())
def test_every_record_names_its_commit_and_the_model_records_are_current(preset):
    """A cycle record that no longer matches the model (the hardware changed) must be re-run."""
    for kind in results.KINDS:
        record = results.load(preset, kind)
        if record is None:
            continue
        assert record["preset"] == preset and record["kind"] == kind
        assert len(record["commit"]) == 40 and not record["dirty"], f"{preset}/{kind}: run on a clean commit"
    model = cycle_model(load_preset(preset))
    cycles = results.load(preset, "cycles")
    if cycles is not None:
        assert cycles["cycles"] == cycles["latency"] == model.cycles and cycles["interval"] == model.interval
        assert cycles["layers"] == {layer.name: layer.cycles for layer in model.layers}
        assert cycles["kinds"] == model.kinds()
    sim = results.load(preset, "sim")
    if sim is not None:
        assert sim["bit_exact"] and sim["layers_as_model"], f"{preset}: the recorded RTL run failed"
        assert sim["model_cycles"] == model.cycles, f"{preset}: the model changed since the RTL run"


def test_record_writes_the_commit_and_the_table_reads_it(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    results.record("tiny", "cycles", {"cycles": 123, "interval": 124, "layers": {}})
    results.record("tiny", "sim", {"cycles": 125, "bit_exact": True, "layers_as_model": False})
    table_without_kinds = results.table()
    data = json.loads((tmp_path / "tiny" / "cycles.json").read_text())
    assert data["cycles"] == 123 and "commit" in data and "recorded" in data
    table = table_without_kinds
    assert "| `tiny` | 123 | 124 | - | 125 | yes | **no** |" in table   # a record without kinds: no shares
    assert "| paper, Table 1 | 1,177,500 (7.85 ms) | - | - | - |" in table and "| 139,000 | 55,000 | 1,452 | 1,729 |" in table
    results.record("tiny", "cycles", {"cycles": 123, "interval": 124, "layers": {},
                                      "kinds": {"conv": {"share": 0.25}, "pw": {"share": 0.7449}}})
    assert "| `tiny` | 123 | 124 | 25.0 / 74.5 | 125 | yes | **no** |" in results.table()
    results.record("tiny", "synth", {"estimate": {"lut": 9, "ff": 8, "dsp": 7, "bram18k": 6},
                                     "device": {"name": "xczu3eg"}, "fits": False})
    results.record("tiny", "timing", {"worst_levels": 13.5, "within": {"150 MHz": False}, "mode": "engines",
                                      "fanout": [{"net": "rst", "fanout": 4321}]})
    from hw.cost.cycle_model import cycle_model
    per_dsp = cycle_model(load_preset("tiny")).macs / 125 / 7      # MACs over RTL cycles over DSP48E2
    assert (f"| 9 | 8 | 7 | 6 | **no** (XCZU3EG) | {per_dsp:.2f} | 13.5 **over 150 MHz** (by engine) | 4,321 |"
            in results.table())
    # a record that holds the levels through the net shows its driver and those levels
    results.record("tiny", "timing", {"worst_levels": 9, "within": {"150 MHz": True}, "mode": "whole",
                                      "fanout": [{"net": "en", "fanout": 70292, "driver": "LUT2",
                                                  "levels_before": 1.0, "levels_after": 0.5}]})
    assert "| 70,292 (LUT2, 1.5 levels through it) |" in results.table()
    results.record("tiny", "timing", {"worst_levels": 11, "within": {"150 MHz": True}, "mode": "blocks",
                                      "fanout": [{"net": "en", "fanout": 5}]})
    assert "| 11 (by block) | 5 |" in results.table()
    with pytest.raises(ValueError, match="kind must be one of"):
        results.record("tiny", "nonsense", {})


def test_check_fails_on_a_stale_table_and_write_mends_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path / "results")
    results.record("tiny", "cycles", {"cycles": 7, "layers": {}})
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.TABLE_BEGIN}\n| old |\n{results.TABLE_END}\nend\n")
    assert main(["results", "--check", str(readme)]) == 1
    assert main(["results", "--write", str(readme)]) == 0
    assert main(["results", "--check", str(readme)]) == 0
    assert "| `tiny` | 7 |" in readme.read_text() and readme.read_text().endswith("end\n")
    (tmp_path / "plain.md").write_text("no table here\n")
    with pytest.raises(SystemExit) as exc:
        main(["results", "--check", str(tmp_path / "plain.md")])
    assert exc.value.code == 2 and "no results table" in capsys.readouterr().err


def test_record_needs_a_preset(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(load_preset("tiny").to_json())
    with pytest.raises(SystemExit) as exc:
        main(["cycles", "--spec", str(spec), "--record"])
    assert exc.value.code == 2 and "--record needs --preset" in capsys.readouterr().err


def test_same_rtl_compares_each_records_verilog_digest():
    rtl = {"verilog_sha256": "a" * 64, "commit": "c" * 40}
    records = {"sim": {"verilog_sha256": "a" * 64}, "synth": {"verilog_sha256": "b" * 64}, "timing": {},
               "cycles": {"verilog_sha256": "b" * 64}}     # the cycle model ran on no RTL: not compared
    assert same_rtl(rtl, records) == {"sim": True, "synth": False, "timing": None}
    assert same_rtl(None, records) == {"sim": None, "synth": None, "timing": None}
    assert results._on_rtl(rtl, records) == "sim: same as ccccccc; **synth: older RTL**; timing: no digest"
    assert results._on_rtl(None, records) == "not checked"


def test_rtl_check_names_the_records_made_on_other_verilog(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    digest = preset_digest("tiny")
    assert digest == verilog_digest(block_verilog("accelerator", load_preset("tiny")))
    results.record("tiny", "sim", {"cycles": 5, "bit_exact": True, "layers_as_model": True,
                                   "verilog_sha256": digest})
    results.record("tiny", "synth", {"estimate": {}, "verilog_sha256": "0" * 64})
    assert main(["results", "--rtl", "--preset", "tiny"]) == 1
    out = capsys.readouterr().out
    assert "tiny                   sim     " in out and "same RTL" in out and "OLDER RTL" in out
    results.record("tiny", "synth", {"estimate": {}, "verilog_sha256": digest})
    assert main(["results", "--rtl", "--preset", "tiny"]) == 0
    with pytest.raises(SystemExit) as exc:
        main(["results", "--rtl", "--preset", "nope"])
    assert exc.value.code == 2 and "unknown preset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["results", "--record"])
    assert exc.value.code == 2 and "go with --rtl" in capsys.readouterr().err


def test_tinys_rtl_record_is_this_checkouts_verilog():
    """results/tiny/rtl.json names the Verilog this checkout generates: a change to tiny's
    hardware must record it again (`rrm results --rtl --preset tiny --record` on a clean commit),
    so the table's "records on the RTL of" column stays true."""
    rtl = results.load("tiny", "rtl")
    assert rtl is not None and rtl["verilog_sha256"] == preset_digest("tiny")


def test_a_checkout_is_dirty_by_its_sources_not_by_the_records_written_into_it(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results" / "tiny").mkdir(parents=True)
    for name in ("sim.json", "timing.json", "mutation_equivalent.json"):
        (tmp_path / "results" / "tiny" / name).write_text("{}")
    (tmp_path / "hw.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    assert results.commit_info(tmp_path)["dirty"] is False
    for name in ("sim.json", "timing.json"):
        (tmp_path / "results" / "tiny" / name).write_text('{"cycles": 1}')
    assert results.commit_info(tmp_path)["dirty"] is False
    (tmp_path / "results" / "tiny" / "mutation_equivalent.json").write_text('{"a": 1}')   # a run reads it
    assert results.commit_info(tmp_path)["dirty"] is True
    git("checkout", "--", "results/tiny/mutation_equivalent.json")
    (tmp_path / "hw.py").write_text("x = 2\n")
    info = results.commit_info(tmp_path)
    assert info["dirty"] is True and len(info["commit"]) == 40
