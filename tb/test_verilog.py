"""Verilator lint of the hardware's Verilog (hw.flow.verilog): only documented waivers, real warnings reported.

Every block's Verilog, written and linted through ``rrm verilog``, is checked in
tests/test_cli_verilog.py.
"""

import pytest

from hw.flow.verilog import LINT_WAIVERS, lint_command


def test_lint_uses_only_documented_waivers(tmp_path):
    waived = [arg[len("-Wno-"):] for arg in lint_command(tmp_path / "x.v", "top") if arg.startswith("-Wno-")]
    assert waived and set(waived) == set(LINT_WAIVERS)
    assert all(len(reason) > 20 for reason in LINT_WAIVERS.values())


def test_lint_takes_the_dsp48e2_model_where_the_verilog_instances_the_primitive(tmp_path):
    from hw.blocks.dsp48e2 import MODEL
    plain, instancing = tmp_path / "plain.v", tmp_path / "mac.v"
    plain.write_text("module top(input a, output y);\n  assign y = a;\nendmodule\n")
    instancing.write_text("module top(input clk, output [47:0] p);\n  DSP48E2 #(.MREG(0)) dsp (.CLK(clk), .P(p));\n"
                          "endmodule\n")
    assert str(MODEL) not in lint_command(plain, "top")
    assert lint_command(instancing, "top")[-1] == str(MODEL)


def test_lint_reports_a_warning_that_is_not_waived(tmp_path):
    from hw.flow.verilog import lint
    from rrm.errors import UserError
    path = tmp_path / "latch.v"
    path.write_text("module latch(input a, input b, output reg y);\n"
                    "  always @* if (a) y = b;\nendmodule\n")
    with pytest.raises(UserError, match="lint"):
        lint(path, "latch")
