"""Stream primitives in RTL: the skid buffer and the RAM join, under gaps and backpressure."""

import dataclasses

import pytest

from .specs import tiny


@pytest.mark.parametrize("lanes", [8, 1])
def test_skid_buffer(run_block, lanes):
    """A skid buffer of the Conv PE's input beat (8 lanes: 75 bits; 1 lane: 17 bits)."""
    run_block("skid_buffer", tiny(lanes=lanes), "tb.cocotb_skid_buffer")


def test_ram_join_rgb(run_block):
    """conv1's weight RAM for a 3-channel image: 27 words of 8 weights (not a power of two)."""
    spec = tiny()
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, input_channels=3))
    run_block("ram_join", spec, "tb.cocotb_ram_join")
