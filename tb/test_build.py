"""The build cache key (the Verilog text, the simulator and its version, the flags and the waves
setting) and the run-time library every Verilator build shares."""

import dataclasses

import pytest

from rrm.presets import load_preset

from . import build, build_cache, verilator_runtime
from .specs import tiny


def test_key_follows_the_verilog_text_flags_and_waves():
    flags = build._build_flags("fc", "verilator", None)
    key = build.design_key("module a; endmodule\n", "verilator", flags, None)
    assert key == build.design_key("module a; endmodule\n", "verilator", dict(flags), None)
    assert key != build.design_key("module b; endmodule\n", "verilator", flags, None)
    assert key != build.design_key("module a; endmodule\n", "verilator", flags, "vcd")
    assert key != build.design_key("module a; endmodule\n", "verilator",
                                   build._build_flags("fc", "verilator", "fst"), "fst")


def test_key_follows_the_simulator_version(monkeypatch):
    flags = build._build_flags("fc", "verilator", None)
    key = build.design_key("module a; endmodule\n", "verilator", flags, None)
    monkeypatch.setattr(build, "simulator_version", lambda simulator: "Verilator 99.0")
    assert key != build.design_key("module a; endmodule\n", "verilator", flags, None)


def test_verilator_reports_a_version():
    assert build.simulator_version("verilator")


def test_a_spec_that_changes_the_hardware_changes_the_text():
    tiny = load_preset("tiny")
    wider = tiny.replace(quant=dataclasses.replace(tiny.quant, act_bits=5))
    assert build._verilog_text("bn_requant", tiny.to_json()) != build._verilog_text("bn_requant", wider.to_json())


# ---------------------------------------------------------------- the shared run-time library

CLASSES_MK_TEXT = """# Verilated -*- Makefile -*-
VM_C11 = 1
VM_TIMING = 0
VM_PARALLEL_BUILDS = 1
VM_TRACE = 0
VM_CLASSES_FAST += \\
  Vtop \\
  Vtop___024root__0 \\

VM_GLOBAL_FAST += \\
  verilated \\
  verilated_vpi \\

VM_GLOBAL_SLOW += \\

"""


def test_build_settings_keep_the_runtime_sources_and_settings(tmp_path):
    (tmp_path / verilator_runtime.CLASSES_MK).write_text(CLASSES_MK_TEXT)
    settings = verilator_runtime.build_settings(tmp_path)
    # the design's classes and its one-file-or-many choice do not change the run-time objects
    assert settings == {"VM_C11": "1", "VM_TIMING": "0", "VM_TRACE": "0",
                        "VM_GLOBAL_FAST": ["verilated", "verilated_vpi"], "VM_GLOBAL_SLOW": []}
    (tmp_path / verilator_runtime.CLASSES_MK).write_text(CLASSES_MK_TEXT.replace("VM_TRACE = 0", "VM_TRACE = 1"))
    assert verilator_runtime.build_settings(tmp_path)["VM_TRACE"] == "1"


def test_an_archive_path_with_white_space_is_not_shared(tmp_path):
    assert verilator_runtime.shared_runtime_make_flags(tmp_path / "a b") is None
    flags = verilator_runtime.shared_runtime_make_flags(tmp_path / "ab")
    assert flags[:2] == ["VM_GLOBAL_FAST=", "VM_GLOBAL_SLOW="]
    assert flags[2] == f"LOADLIBES={(tmp_path / 'ab' / verilator_runtime.ARCHIVE).resolve()}"


def _skid_buffer_build(lanes: int) -> tuple:
    """A fresh build of the skid buffer on ``lanes`` lanes, its cocotb test run, and its build log."""
    design = build.build_design("skid_buffer", tiny(lanes=lanes))
    assert not design.cached
    build.run_cocotb(design, "tb.cocotb_skid_buffer", design.build_dir.parent / f"run-{lanes}")
    return design, (design.build_dir / "build.log").read_text()


def test_designs_link_the_shared_runtime_unless_they_ask_for_other_settings(monkeypatch, tmp_path):
    """Into an empty cache: the first design compiles the probe's archive and links it
    (compiling none of the run-time sources); a design whose makefile does not match the
    archive's settings compiles its own run-time (and still runs)."""
    monkeypatch.setattr(build, "SIM_DIR", tmp_path / "sim")
    design, log = _skid_buffer_build(1)
    archives = list((tmp_path / "sim").glob(f"runtime-*/{verilator_runtime.ARCHIVE}"))
    assert len(archives) == 1
    assert "verilated.cpp" not in log and "verilated_vpi.cpp" not in log
    assert str(archives[0].resolve()) in log      # on the link line
    monkeypatch.setattr(build, "same_settings", lambda build_dir, archive_dir: False)
    design, log = _skid_buffer_build(8)
    assert "verilated.cpp" in log and "verilated_vpi.cpp" in log
    assert verilator_runtime.ARCHIVE not in log


def test_a_directory_is_made_once_and_a_failure_leaves_none(tmp_path):
    calls = []

    def make(staging):
        calls.append(staging)
        (staging / "done").write_text("x")

    first = build_cache.made_once(tmp_path, "d", "done", make)
    assert first == (tmp_path / "d", True) and (tmp_path / "d" / "done").is_file()
    assert build_cache.made_once(tmp_path, "d", "done", make) == (tmp_path / "d", False)
    assert len(calls) == 1

    def broken(staging):
        (staging / "half").write_text("x")
        raise ValueError("stopped")

    with pytest.raises(ValueError, match="stopped"):
        build_cache.made_once(tmp_path, "e", "done", broken)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["d", "d.lock", "e.lock"]


def test_a_failed_build_keeps_its_log_and_leaves_no_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(build, "SIM_DIR", tmp_path / "sim")
    with pytest.raises(AssertionError, match="building skid_buffer failed; log: .*failed-skid_buffer-"):
        build.build_design("skid_buffer", tiny(lanes=1),
                           verilog_text="module rrm_skid_buffer(input clk);\n  wire x = ;\nendmodule\n")
    logs = list((tmp_path / "sim").glob("failed-skid_buffer-*.log"))
    assert len(logs) == 1 and "syntax error" in logs[0].read_text().lower()
    assert not [path for path in (tmp_path / "sim").iterdir() if path.name.startswith((".skid", "skid"))
                and not path.name.endswith(".lock")]
