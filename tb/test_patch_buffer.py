"""Patch buffers in RTL: DW windows and Conv broadcast sequences against the padded map and golden ops."""

import dataclasses

from .specs import tiny


def test_patch_buffer_dw(run_block):
    run_block("patch_buffer", tiny(), "tb.cocotb_patch_buffer")


def test_patch_buffer_conv_rgb(run_block):
    spec = tiny()
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, input_channels=3))
    run_block("conv_patch_buffer", spec, "tb.cocotb_patch_buffer")
