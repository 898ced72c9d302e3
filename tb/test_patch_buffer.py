"""Patch buffers in RTL: DW windows and Conv broadcast sequences against the padded map and golden ops."""

import dataclasses

import pytest

from .specs import tiny


@pytest.mark.parametrize("lanes", [8, 1])
def test_patch_buffer_dw(run_block, lanes):
    """The tiny preset's DW patch buffer (8 channels, maps up to 16x16) and a one-channel one."""
    run_block("patch_buffer", tiny(lanes=lanes), "tb.cocotb_patch_buffer")


def test_patch_buffer_conv_rgb(run_block):
    """conv1's patch buffer for a 3-channel 32x32 image, run with 3 and with 1 channel in use."""
    spec = tiny()
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, input_channels=3))
    run_block("conv_patch_buffer", spec, "tb.cocotb_patch_buffer")


@pytest.mark.parametrize("channels", [3, 1])
def test_pair_patch_buffer(run_block, channels):
    """conv1's pair patch buffer (two pixels per cycle) for a 32x32 image of 3 and of 1 channel."""
    spec = tiny()
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, input_channels=channels))
    run_block("conv_pair_patch_buffer", spec, "tb.cocotb_pair_patch_buffer")
