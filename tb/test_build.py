"""The build cache key: the Verilog text, the simulator and its version, the flags and the waves setting."""

import dataclasses

from rrm.presets import load_preset

from . import build


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
