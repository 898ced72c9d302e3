"""hardware.dw_lut_taps: the DW PE's products formed in LUTs are exact for every
activation and weight, and Yosys maps them to no DSP48E2 (all taps) or to one per tap
left in DSPs."""

from __future__ import annotations

import dataclasses
import itertools
import shutil

import pytest
from amaranth.hdl import unsigned
from amaranth.sim import Simulator

from hw.blocks.dw_pe import DepthwisePE
from hw.cost.resource_model import estimate_resources
from rrm.presets import load_preset
from rrm.spec import Spec

from .specs import TINY


def with_lut_taps(spec, value=9):
    return dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, dw_lut_taps=value))


def test_every_activation_times_every_weight_is_exact():
    """All 16 x 256 (4-bit activation, 8-bit weight) pairs, 256 lanes at a time, through a
    K = 1 DW PE with LUT products (its output is the product itself)."""
    pairs = list(itertools.product(range(16), range(-128, 128)))
    lanes = 256
    pe = DepthwisePE(lanes=lanes, kernel=1, value_shape=unsigned(4), weight_width=8, acc_width=13,
                     lut_taps=1)
    got = []

    async def bench(ctx):
        ctx.set(pe.o.ready, 1)
        for start in range(0, len(pairs), lanes):
            chunk = pairs[start:start + lanes]
            ctx.set(pe.i.payload, {"window": [[a for a, _ in chunk]], "weight": [[w for _, w in chunk]]})
            ctx.set(pe.i.valid, 1)
            await ctx.tick()
            await ctx.tick().until(pe.o.valid)   # latency 1: the product register
            got.extend(ctx.get(pe.o.payload[lane]) for lane in range(lanes))
            ctx.set(pe.i.valid, 0)

    sim = Simulator(pe)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    wrong = [(a, w, p) for (a, w), p in zip(pairs, got) if p != a * w]
    assert len(got) == len(pairs) and not wrong, f"{len(wrong)} wrong products, first {wrong[:3]}"


def test_option_is_off_by_default_and_keeps_the_spec_hash():
    spec = load_preset("tiny")
    assert spec.hardware.dw_lut_taps == 0
    assert "dw_lut_taps" not in spec.to_dict()["hardware"]       # hash of old specs unchanged
    on = with_lut_taps(spec, 4)
    assert on.to_dict()["hardware"]["dw_lut_taps"] == 4
    assert Spec.from_dict(on.to_dict()) == on


@pytest.mark.parametrize("bad, says", [(10, "10 is out of range.*0..9"), (-1, "-1 is out of range"),
                                       (True, "must be an integer, got true"), ("4", "must be an integer")])
def test_bad_value_is_named(bad, says):
    from rrm.errors import SpecError
    data = load_preset("tiny").to_dict()
    data["hardware"]["dw_lut_taps"] = bad
    with pytest.raises(SpecError, match=f"dw_lut_taps.*{says}"):
        Spec.from_dict(data)


@pytest.mark.parametrize("taps", [1, 4, 9])
def test_resource_model_moves_each_lut_tap_out_of_the_dsp_budget(taps):
    spec = with_lut_taps(load_preset("tiny"), 0)
    dsp, lut = estimate_resources(spec), estimate_resources(with_lut_taps(spec, taps))
    hw = spec.hardware
    assert dsp.dsp - lut.dsp == hw.dw_pes * hw.lanes * taps
    assert lut.lut > dsp.lut


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")
def test_yosys_maps_lut_products_to_no_dsp(tmp_path):
    from hw.flow.synth import synth
    from hw.flow.verilog import write_block_verilog
    # tiny's DW PE on 2 lanes (the mapping is per lane; 8 lanes took Yosys 4 times as long)
    two_lanes = dataclasses.replace(TINY, hardware=dataclasses.replace(TINY.hardware, lanes=2))
    verilog = write_block_verilog("dw_pe", with_lut_taps(two_lanes), tmp_path)
    result = synth(verilog, "rrm_dw_pe", tmp_path / "synth", "top").total
    assert result.dsp == 0 and result.lut > 0, result.as_dict()
    part = synth(write_block_verilog("dw_pe", with_lut_taps(two_lanes, 4), tmp_path / "part"), "rrm_dw_pe",
                 tmp_path / "part" / "synth", "top").total
    assert part.dsp == two_lanes.hardware.lanes * 5, part.as_dict()
    reference = synth(write_block_verilog("dw_pe", two_lanes, tmp_path / "dsp"), "rrm_dw_pe",
                      tmp_path / "dsp" / "synth", "top").total
    assert reference.dsp == two_lanes.hardware.lanes * two_lanes.hardware.kernel ** 2
