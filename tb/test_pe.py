"""DW and Conv PEs / PE arrays in RTL against golden ops, at 1, 8 and 32 lanes."""

import pytest

from .specs import tiny


@pytest.mark.parametrize("block, pe_count, lanes", [
    ("dw_pe_array", 2, 8),    # the tiny preset's DW module
    ("dw_pe_array", 3, 1),    # one lane per PE
    ("dw_pe", 1, 32),         # the paper's 32 lanes
])
def test_depthwise(run_block, block, pe_count, lanes):
    run_block(block, tiny(pe_count, lanes), "tb.cocotb_dw_pe")


@pytest.mark.parametrize("block, pe_count, lanes", [
    ("conv_pe_array", 2, 8),
    ("conv_pe_array", 3, 1),
    ("conv_pe", 1, 32),
])
def test_conv(run_block, block, pe_count, lanes):
    run_block(block, tiny(pe_count, lanes), "tb.cocotb_conv_pe")
