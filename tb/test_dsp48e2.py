"""hw/blocks/dsp48e2.py: the DSP48E2 instance (on hw/blocks/dsp48e2_model.v) and the Amaranth
form side by side in Icarus Verilog, cycle for cycle, against a Python account of the same
registers, on random operands, the operands' extremes, long accumulations that wrap the 48
bits, both enables off and on, restarts and resets; the model refuses a configuration outside
its subset; Yosys maps the instance to one DSP48E2 and nothing else."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.blocks import dsp48e2
from hw.blocks.dsp48e2 import A_BITS, B_BITS, P_BITS, DspMac

MODEL = Path(dsp48e2.__file__).with_name("dsp48e2_model.v")
needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog is not on the PATH")
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")
RND = (1 << 20) + 12345


class BothForms(wiring.Component):
    """The instance and the Amaranth form on the same inputs."""

    def __init__(self, rnd: int, multiply_register: bool = True):
        self.rnd, self.multiply_register = rnd, multiply_register
        super().__init__({"a": In(signed(A_BITS)), "b": In(signed(B_BITS)), "ce_m": In(1), "ce_p": In(1),
                          "restart": In(1), "p_primitive": Out(signed(P_BITS)), "p_amaranth": Out(signed(P_BITS))})

    def elaborate(self, platform):
        m = Module()
        for name, primitive in (("primitive", True), ("amaranth", False)):
            mac = DspMac(rnd=self.rnd, primitive=primitive, multiply_register=self.multiply_register)
            m.submodules[name] = mac
            m.d.comb += [mac.a.eq(self.a), mac.b.eq(self.b), mac.ce_m.eq(self.ce_m), mac.ce_p.eq(self.ce_p),
                         mac.restart.eq(self.restart), getattr(self, f"p_{name}").eq(mac.p)]
        return m


def stimulus(cycles: int, seed: int) -> list:
    """(rst, a, b, ce_m, ce_p, restart) per cycle: random operands with the extremes often, long
    runs of accumulation (the 48 bits wrap), enables and restarts at random, a reset now and then."""
    rng = random.Random(seed)
    extremes_a = (-(1 << (A_BITS - 1)), (1 << (A_BITS - 1)) - 1, 0, -1, 1)
    extremes_b = (-(1 << (B_BITS - 1)), (1 << (B_BITS - 1)) - 1, 0, -1, 1)
    rows = []
    for _ in range(cycles):
        a = rng.choice(extremes_a) if rng.random() < 0.4 else rng.randrange(-(1 << (A_BITS - 1)), 1 << (A_BITS - 1))
        b = rng.choice(extremes_b) if rng.random() < 0.4 else rng.randrange(-(1 << (B_BITS - 1)), 1 << (B_BITS - 1))
        rows.append((int(rng.random() < 0.01), a, b, int(rng.random() < 0.9), int(rng.random() < 0.9),
                     int(rng.random() < 0.05)))
    return rows


def expected(rows: list, rnd: int, multiply_register: bool = True) -> list:
    """P after each cycle: M takes a * b on ce_m, P takes (restart ? RND : P) + M on ce_p
    (without the M register: + a * b of the same cycle), both 0 on reset; P wraps at 48 bits,
    signed."""
    m = p = 0
    out = []
    for rst, a, b, ce_m, ce_p, restart in rows:
        m_next = 0 if rst else (a * b if ce_m else m)
        product = m if multiply_register else a * b
        p_next = 0 if rst else ((rnd if restart else p) + product if ce_p else p)
        m = m_next
        p = (p_next + (1 << (P_BITS - 1))) % (1 << P_BITS) - (1 << (P_BITS - 1))
        out.append(p)
    return out


def bench_source(rows: list) -> str:
    lines = ["`timescale 1ns/1ps", "module tb;", "reg clk = 0, rst = 1;",
             f"reg signed [{A_BITS - 1}:0] a = 0;", f"reg signed [{B_BITS - 1}:0] b = 0;",
             "reg ce_m = 0, ce_p = 0, restart = 0;",
             f"wire signed [{P_BITS - 1}:0] p_primitive, p_amaranth;",
             "both dut(.clk(clk), .rst(rst), .a(a), .b(b), .ce_m(ce_m), .ce_p(ce_p), .restart(restart),",
             "         .p_primitive(p_primitive), .p_amaranth(p_amaranth));",
             "always #5 clk = ~clk;",
             "always @(posedge clk) $strobe(\"P %0d %0d\", p_primitive, p_amaranth);",
             "initial begin"]
    for rst, a, b, ce_m, ce_p, restart in rows:
        lines.append(f"  @(negedge clk); rst = {rst}; a = {a}; b = {b}; ce_m = {ce_m}; ce_p = {ce_p}; "
                     f"restart = {restart};")
    lines += ["  @(negedge clk); $finish;", "end", "endmodule"]
    return "\n".join(lines) + "\n"


def run_icarus(tmp_path: Path, design: str, bench: str) -> str:
    (tmp_path / "both.v").write_text(design)
    (tmp_path / "tb.v").write_text(bench)
    subprocess.run(["iverilog", "-g2005", "-o", "sim", "tb.v", "both.v", str(MODEL)], cwd=tmp_path,
                   check=True, capture_output=True, text=True)
    return subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout


@needs_iverilog
@pytest.mark.parametrize("seed, multiply_register", [(1, True), (2, False)])
def test_the_instance_and_the_amaranth_form_agree_cycle_for_cycle(tmp_path, seed, multiply_register):
    rows = [(1, 0, 0, 0, 0, 0)] + stimulus(3000, seed)
    design = verilog.convert(BothForms(RND, multiply_register), name="both")
    out = run_icarus(tmp_path, design, bench_source(rows))
    got = [tuple(int(v) for v in line.split()[1:]) for line in out.splitlines() if line.startswith("P ")]
    want = expected(rows, RND, multiply_register)
    # the first line is the edge before the first stimulus (reset held from time 0)
    assert len(got) == len(want) + 1, out[-2000:]
    assert [primitive for primitive, _ in got[1:]] == want
    assert [amaranth for _, amaranth in got[1:]] == want
    assert max(abs(p) for p in want) > 1 << (P_BITS - 3)      # the accumulations reached the top bits


@needs_iverilog
def test_the_model_refuses_a_configuration_outside_its_subset(tmp_path):
    design = verilog.convert(BothForms(RND), name="both").replace("AREG(32'd0)", "AREG(32'd1)")
    assert "AREG(32'd1)" in design
    out = run_icarus(tmp_path, design, bench_source([(1, 0, 0, 0, 0, 0)] * 3))
    assert "outside the modelled subset" in out and "P " not in out


@needs_yosys
@pytest.mark.parametrize("multiply_register", [True, False])
def test_yosys_maps_the_instance_to_one_dsp48e2_and_nothing_else(tmp_path, multiply_register):
    from hw.flow.synth import synth
    mac = DspMac(rnd=RND, primitive=True, multiply_register=multiply_register)
    (tmp_path / "mac.v").write_text(verilog.convert(mac, name="mac"))
    result = synth(tmp_path / "mac.v", "mac", tmp_path / "synth", "top").total
    assert result.dsp == mac.dsp48e2 == 1, result.as_dict()
    assert not [name for name in result.cells if name.startswith(("LUT", "FD", "CARRY"))], result.cells
