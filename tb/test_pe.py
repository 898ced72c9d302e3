"""DW and Conv PEs / PE arrays (per-PE and shared weights) in RTL against golden ops, at 1, 8 and 32 lanes."""

import pytest

from .specs import tiny


# tiny's own DW module (2 x 8, no LUT taps) runs in every DW engine and accelerator test
@pytest.mark.parametrize("block, pe_count, lanes, lut_taps", [
    ("dw_pe_array", 3, 1, 0),    # one lane per PE
    ("dw_pe", 1, 32, 0),         # the paper's 32 lanes
    ("dw_pe_array", 2, 8, 9),    # every product in LUTs (hardware.dw_lut_taps)
    ("dw_pe_array", 2, 8, 4),    # four taps in LUTs, five in DSP48E2s
])
def test_depthwise(run_block, block, pe_count, lanes, lut_taps):
    run_block(block, tiny(pe_count, lanes, dw_lut_taps=lut_taps), "tb.cocotb_dw_pe")


@pytest.mark.parametrize("block, pe_count, lanes", [
    ("conv_pe_array", 2, 8),
    ("conv_pe_array", 3, 1),
    ("conv_pe", 1, 32),
])
def test_conv(run_block, block, pe_count, lanes):
    run_block(block, tiny(pe_count, lanes), "tb.cocotb_conv_pe")


@pytest.mark.parametrize("pe_count, lanes", [
    (2, 8),    # the tiny preset's Conv module, two pixels per weight read
    (3, 1),    # one lane, three pixels
])
def test_conv_shared_weight(run_block, pe_count, lanes):
    run_block("conv_pe_array_shared", tiny(pe_count, lanes), "tb.cocotb_conv_pe_shared")
