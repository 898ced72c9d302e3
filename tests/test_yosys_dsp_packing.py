"""A toolchain fact the resource figures rest on (docs/accelerator.md, "What 78,500 cycles per
image needs"): Yosys 0.23 packs a multiply-accumulate's accumulator and its pipeline registers
into a 7-series DSP48E1, but for the XCZU9EG's DSP48E2 (``synth_xilinx -family xcup``, what
``rrm synth`` runs) it leaves the accumulator's adder and every register in fabric. Each
accumulating lane (the Conv, DW and FC products) therefore counts its adder in LUTs and its
registers in FFs, where a DSP48E2 could hold them (its M and P registers and ALU). If a
Yosys release starts packing them, this test fails and the resource model's per-lane costs
(``LANE_LUT_FF`` of the PEs) must be measured again."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")

#: A registered product accumulated into a 40-bit register that a ``fresh`` flag restarts:
#: the packed PE's lane (hw/blocks/packed_pe.py) in plain Verilog, with operands that fit
#: both families' multipliers (24 x 8 bits; the DSP48E1's is 25 x 18).
MAC = """
module mac(input clk, input ce, input fresh,
           input signed [23:0] a, input signed [7:0] b, output signed [39:0] sum);
  reg signed [31:0] product;
  reg signed [39:0] acc;
  reg fresh_d;
  always @(posedge clk) if (ce) begin
    product <= a * b;
    fresh_d <= fresh;
    acc <= (fresh_d ? 40'sd0 : acc) + product;
  end
  assign sum = acc;
endmodule
"""


def cells(family: str, tmp_path) -> dict:
    (tmp_path / "mac.v").write_text(MAC)
    stat = tmp_path / f"{family}.stat"
    subprocess.run(["yosys", "-q", "-p", f"read_verilog mac.v; synth_xilinx -family {family} -top mac; "
                    f"tee -q -o {stat.name} stat"], cwd=tmp_path, check=True, capture_output=True)
    found = {}
    for name, count in re.findall(r"^\s+(\w+)\s+(\d+)\s*$", stat.read_text(), re.M):
        found[name] = found.get(name, 0) + int(count)
    return found


def luts(found: dict) -> int:
    return sum(count for name, count in found.items() if name.startswith("LUT"))


@needs_yosys
def test_the_accumulator_packs_into_a_7_series_dsp48e1(tmp_path):
    found = cells("xc7", tmp_path)
    assert found.get("DSP48E1") == 1 and luts(found) == 0, found


@needs_yosys
def test_the_accumulator_stays_in_fabric_beside_a_dsp48e2(tmp_path):
    found = cells("xcup", tmp_path)
    assert found.get("DSP48E2") == 1, found
    assert luts(found) >= 40, found                              # the 40-bit adder, a LUT a bit
    assert found.get("FDRE", 0) + found.get("FDSE", 0) >= 32 + 40, found   # product and accumulator
