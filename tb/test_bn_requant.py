"""BnRequant in RTL against golden.ops.bn_requant (cocotb module tb/cocotb_bn_requant.py)."""

from rrm.presets import load_preset


def test_bn_requant_tiny(run_block):
    run_block("bn_requant", load_preset("tiny"), "tb.cocotb_bn_requant")
