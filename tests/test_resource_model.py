"""The resource model (hw.cost.resource_model) and the design-space sweep (`rrm sweep`, scripts/sweep.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hw.cost.resource_model import estimate_resources
from hw.top.ram_cost import lutram_luts, ram_mux_luts
from rrm.analysis import rtl_memories
from rrm.devices import get_device
from rrm.presets import load_preset
from scripts import sweep
from scripts.cli import main as rrm


def with_hardware(spec, **changes):
    return dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, **changes))


def test_dsp_count_is_one_per_product_as_yosys_maps_them():
    """As `rrm synth` measured rr-mobilenet-fast: 1,984 DSP48E2 (1 DW PE x 64 lanes x 9 taps,
    2 BN units x 64, 16 Conv PEs x 64, 4 FC classes x 64, none in the core); rr-mobilenet
    with every product in a DSP has 9 DW PEs x 32 x 9, 18 BN units x 32, 9 x 32 Conv and
    9 x 32 FC products; the preset forms 4 of each DW lane's 9 in LUTs and has 9 + 1 BN units."""
    assert estimate_resources(load_preset("rr-mobilenet-fast")).dsp == 576 + 128 + 1024 + 256
    spec = load_preset("rr-mobilenet")
    assert estimate_resources(spec).dsp == 9 * 32 * 5 + 10 * 32 + 288 + 288
    every = with_hardware(spec, serial_bn=False, dw_lut_taps=0)
    assert estimate_resources(every).dsp == 2592 + 576 + 288 + 288
    assert estimate_resources(with_hardware(every, fc_parallel=1)).dsp == 2592 + 576 + 288 + 32


def test_levers_cut_multipliers_and_bram_is_the_rtl_rams_plus_line_buffers():
    spec = with_hardware(load_preset("rr-mobilenet"), serial_bn=False, dw_lut_taps=0)
    full = estimate_resources(spec)
    lean = estimate_resources(with_hardware(spec, dw_pe_count=2, fc_parallel=3, serial_bn=True))
    assert lean.dsp == 2 * 32 * 9 + (1 + 2) * 32 + 9 * 32 + 3 * 32
    assert lean.lut < full.lut and lean.ff < full.ff
    rams = rtl_memories(spec, get_device("xczu9eg"))["bram18k"]
    assert rams < full.bram18k < rams + 100
    assert lean.bram18k < full.bram18k        # narrower DW line buffers
    assert not full.fits and lean.fits


def test_ram_luts_as_yosys_maps_the_rams():
    """Yosys 0.23 on single RAMs: 1,536 x 2,092 words (five rows of 512 x 36 blocks) took
    6,144 LUTs for its read multiplexer; 4,096 x 784 (1K x 18 blocks, one row) and the
    8,192 x 2,004 PW RAM of rr-mobilenet-fast (2K x 9 blocks) none. rr-mobilenet-fast's
    LUT RAMs (dw 4,608 x 53, fc_bias 512 x 63, shift 6 x 27) took 733 RAM64M8 and one
    RAM32M16: 5,872 LUTs."""
    assert ram_mux_luts(1536, 2092) == 1536 * 4
    assert ram_mux_luts(4096, 784) == 0 and ram_mux_luts(8192, 2004) == 0
    assert ram_mux_luts(4608, 53) == 0                       # LUT RAM, no block RAM rows
    assert lutram_luts(4608, 53) + lutram_luts(512, 63) + lutram_luts(6, 27) == 733 * 8 + 8
    assert lutram_luts(8192, 2004) == 0


def test_sweep_writes_a_pareto_front_of_fitting_configurations(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "PE_COUNTS", (2, 3))
    monkeypatch.setattr(sweep, "LANES", (8,))
    monkeypatch.setattr(sweep, "DW_PES", (1, 2))
    monkeypatch.setattr(sweep, "DW_LUT_TAPS", (0, 4, 9))
    monkeypatch.setattr(sweep, "PACKED_PE_COUNTS", (2, 4))
    assert rrm(["sweep", "--preset", "tiny", "--out", str(tmp_path), "--jobs", "2"]) == 0
    rows = json.loads((tmp_path / "sweep.json").read_text())
    assert {(r["pe_count"], r["dw_pes"]) for r in rows} >= {(2, 1), (2, 2), (3, 1), (3, 2)}
    # every configuration with 0, 4 and 9 of its DW products in LUTs: fewer DSPs, more LUTs
    pairs, walks, maccs = {}, {}, {}
    for r in rows:
        if "label" not in r:
            key = (r["pe_count"], r["lanes"], r["dw_pes"], r["fc_classes"], r["serial_bn"], r["packed_pw"],
                   r["serial_bn_units"], r["pw_slices"])
            if not r["dsp_macc"]:
                walks.setdefault(key + (r["dw_lut_taps"],), {})[(r["image_pixels"], r["dw_pairs"])] = r
                if not r["dw_pairs"]:
                    pairs.setdefault(key, {})[r["dw_lut_taps"]] = r
            maccs.setdefault(key + (r["dw_lut_taps"], r["dw_pairs"]), {})[r["dsp_macc"]] = r
    # the pair walks where the spec allows them (an even PE count, at least twice the DW
    # PEs): fewer cycles (conv1 and the stride-2 DW layers), more LUTs, the same DSP48E2
    assert all(set(w) == ({(1, False), (2, True)} if k[0] % 2 == 0 and k[0] >= 2 * k[2] else {(1, False)})
               for k, w in walks.items())
    # dsp_macc on every packed configuration (only there): the same cycles and DSP48E2, fewer LUT
    assert all(set(m) == ({False, True} if k[5] else {False}) for k, m in maccs.items())
    both = [m for m in maccs.values() if len(m) == 2]
    assert both and all(m[True]["cycles"] == m[False]["cycles"] and m[True]["dsp"] == m[False]["dsp"]
                        and m[True]["lut"] < m[False]["lut"] for m in both)
    walked = [w for w in walks.values() if len(w) == 2]
    assert walked and all(w[(2, True)]["cycles"] < w[(1, False)]["cycles"] and
                          w[(2, True)]["lut"] > w[(1, False)]["lut"] and
                          w[(2, True)]["dsp"] == w[(1, False)]["dsp"] for w in walked)
    assert pairs and all(set(p) == {0, 4, 9} for p in pairs.values())
    assert all(p[9]["dsp"] < p[4]["dsp"] < p[0]["dsp"] and p[9]["lut"] > p[4]["lut"] > p[0]["lut"]
               for p in pairs.values())
    # packed_pw: the same configuration with half the Conv PEs' DSP48E2 (tiny: 2 PEs x 8 lanes)
    plain, packed = (pairs[(2, 8, 1, 2, False, pack, 1, 2)][0] for pack in (False, True))
    assert plain["dsp"] - packed["dsp"] == 8 and packed["cycles"] >= plain["cycles"]
    assert any(k[6] == 2 for k in pairs) and not any(k[7] == 16 for k in pairs)   # tiny: P < 16
    assert [r["label"] for r in rows if "label" in r] == ["tiny"]   # the presets named like the network
    fitting = [r for r in rows if r["fits"]]
    front = sweep.pareto(fitting)
    for row in front:   # nothing that fits is better in both cycles and DSP
        assert not any(o["cycles"] <= row["cycles"] and o["dsp"] < row["dsp"]
                       or o["cycles"] < row["cycles"] and o["dsp"] <= row["dsp"] for o in fitting)
    assert all(r["interval"] == r["cycles"] + 1 for r in rows)   # images do not overlap yet
    text = (tmp_path / "sweep.md").read_text()
    assert "| latency (cycles) | ms | interval (cycles) |" in text
    assert "Pareto front" in text and (tmp_path / "sweep.png").stat().st_size > 10_000


def test_the_dw_pair_walk_costs_its_buffer_and_selects_but_no_dsp():
    """dw_pairs adds the pair patch buffer (per channel, and its line buffer of 4 pixels a pair
    column: LUT RAM for packed's 56 columns) and the selects between the walks; no DSP48E2."""
    from hw.blocks.cost import lutram_luts, memory_cost
    from hw.blocks.pair_patch_buffer import PairPatchBuffer
    from hw.engines.depthwise import DepthwiseEngine
    assert memory_cost(1024, 56).lut == lutram_luts(1024, 56) == 147 * 8 and memory_cost(1024, 56).bram18k == 0
    assert memory_cost(1024, 65).lut == 0 and memory_cost(1024, 65).bram18k > 0
    packed = load_preset("rr-mobilenet-packed")
    single = with_hardware(packed, dw_pairs=False)
    added = DepthwiseEngine.resources(packed).lut - DepthwiseEngine.resources(single).lut
    channels, bits = 64, packed.quant.act_bits
    assert added == channels * (PairPatchBuffer.CHANNEL_LUT_FF[0] + 10 * bits) + 147 * 8
    assert estimate_resources(packed).dsp == estimate_resources(single).dsp


def test_dsp_macc_takes_the_packed_accumulators_out_of_the_fabric_count():
    """dsp_macc: the same DSP48E2 and block RAM, and per packed PE lane the fabric
    accumulator's LUT and FF (PackedConvPE.LANE_LUT_FF) replaced by the output register's
    (DSP_MACC_LANE_LUT_FF); the cycles do not change."""
    from hw.blocks.packed_pe import PackedConvPE
    from hw.cost.cycle_model import cycle_model
    packed = load_preset("rr-mobilenet-packed")
    macc = with_hardware(packed, dsp_macc=True)
    fabric, inside = estimate_resources(packed), estimate_resources(macc)
    lanes = packed.hardware.pe_count // 2 * packed.hardware.lanes
    (lut, ff), (macc_lut, macc_ff) = PackedConvPE.LANE_LUT_FF, PackedConvPE.DSP_MACC_LANE_LUT_FF
    assert (inside.dsp, inside.bram18k) == (fabric.dsp, fabric.bram18k)
    assert fabric.lut - inside.lut == pytest.approx(lanes * (lut - macc_lut), abs=1)
    assert fabric.ff - inside.ff == pytest.approx(lanes * (ff - macc_ff), abs=1)
    assert cycle_model(macc).cycles == cycle_model(packed).cycles


def test_the_pair_buffer_figures_in_the_docs_are_the_model_and_the_record():
    """docs/accelerator.md's dw_pairs row quotes the model's pair-buffer cost at packed's 64
    channels and the Yosys block of packed's synth record."""
    from pathlib import Path

    from hw.blocks.cost import memory_cost
    from hw.blocks.pair_patch_buffer import PairPatchBuffer
    from scripts import results
    packed = load_preset("rr-mobilenet-packed")
    channels = packed.hardware.dw_pes * packed.hardware.lanes
    width = packed.network.input_size // 2                   # dsc3's map, the widest walked in pairs
    lut = channels * PairPatchBuffer.CHANNEL_LUT_FF[0] + memory_cost(4 * channels * packed.quant.act_bits,
                                                                       width // 2).lut
    ff = channels * PairPatchBuffer.CHANNEL_LUT_FF[1]
    block = next(b for b in results.load("rr-mobilenet-packed", "synth")["blocks"]
                 if b["kind"] == "rrm_accelerator.core.dw.dw_pair_patch")
    text = " ".join((Path(__file__).resolve().parent.parent / "docs" / "accelerator.md").read_text().split())
    assert (f"the model's {lut:,.0f} LUT and {ff:,.0f} FF at packed's {channels} channels, where Yosys mapped "
            f"{block['each']['lut']:,d} and {block['each']['ff']:,d}") in text
