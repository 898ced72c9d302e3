"""FC module in RTL (pool sum + multipliers + adder tree) against golden ops."""

import dataclasses

from .specs import tiny


def test_fc_tiny(run_block):
    """The tiny preset: 192 channels on a 1x1 map, 8 lanes, 10 classes in rows of 2."""
    run_block("fc", tiny(), "tb.cocotb_fc")


def test_fc_partial_group_2x2_map(run_block):
    """A 2x2 pooled map (64x64 input) and 7 lanes: the last channel group is partial."""
    spec = tiny(lanes=7)
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, input_size=64, num_classes=5))
    run_block("fc", spec, "tb.cocotb_fc")


def test_fc_32_lanes(run_block):
    """The paper's 32 multipliers (a 5-level adder tree) on 192 channels, 3 classes."""
    spec = tiny(lanes=32)
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, num_classes=3))
    run_block("fc", spec, "tb.cocotb_fc")


def test_fc_rows_wider_than_groups(run_block):
    """8 classes at once on 6 groups (192 channels, 32 lanes): the bank needs 8 cycles per
    row, more than the row's 6 beats, so the pipeline holds; 10 classes, a partial last row."""
    run_block("fc", tiny(pe_count=8, lanes=32), "tb.cocotb_fc")
