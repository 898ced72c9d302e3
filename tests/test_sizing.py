"""rrm.sizing: one function of the spec gives every block's widths, as plain integers (docs/hw.md's table)."""

import dataclasses

import pytest

from rrm import bounds
from rrm.presets import load_preset
from rrm.sizing import Sizing, sizing


@pytest.mark.parametrize("preset, widths", [
    ("tiny", dict(dw_acc_width=15, conv_acc_width=19, bn_sum_width=34, max_shift=34, pool_width=4,
                  logit_width=33, dw_patch_max_height=16, conv_patch_max_height=32, conv_value_bits=8)),
    ("rr-mobilenet", dict(dw_acc_width=15, conv_acc_width=21, bn_sum_width=36, max_shift=36, pool_width=10,
                          logit_width=33, dw_patch_max_height=112, conv_patch_max_height=224,
                          conv_value_bits=8)),
])
def test_documented_widths(preset, widths):
    size = sizing(load_preset(preset))
    assert {name: getattr(size, name) for name in widths} == widths


@pytest.mark.parametrize("preset", ["tiny", "mobilenet-v1", "rr-mobilenet"])
def test_plain_integers_from_the_bounds(preset):
    spec = load_preset(preset)
    size = sizing(spec)
    assert isinstance(size, Sizing)
    assert all(type(getattr(size, f.name)) in (int, bool) for f in dataclasses.fields(size)
               if f.name != "memories")
    # the memory geometry: one word per (block of pe_count pixels, channel group) in the FM buffers
    fm = size.memories.ram("fm_p")
    assert fm.width == spec.hardware.pe_count * spec.hardware.lanes * spec.quant.act_bits
    assert size.memories.ram("pw").width == (spec.hardware.pe_count * spec.hardware.lanes
                                             * spec.quant.weight_bits)
    names = lambda *kinds: [l.name for l in spec.layers() if l.kind in kinds]
    assert size.bn_acc_width == max(bounds.accumulator_bits(spec, n) for n in names("conv", "dw", "pw"))
    assert size.conv_patch_channels == spec.network.input_channels
    with pytest.raises(dataclasses.FrozenInstanceError):
        size.max_shift = 0
