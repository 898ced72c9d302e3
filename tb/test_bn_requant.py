"""BnRequant in RTL against golden.ops.bn_requant (cocotb module tb/cocotb_bn_requant.py)."""

import pytest

from .specs import tiny


@pytest.mark.parametrize("lanes", [8, 32])
def test_bn_requant(run_block, lanes):
    """The tiny preset's 8 lanes and the paper's 32."""
    run_block("bn_requant", tiny(lanes=lanes), "tb.cocotb_bn_requant")
