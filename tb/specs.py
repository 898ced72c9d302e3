"""Spec variants for the testbenches: the tiny preset with other PE counts, lane counts and
hardware options, and a small network on tiny's hardware whose last map spans many FM words."""

from __future__ import annotations

import dataclasses

from rrm.presets import load_preset
from rrm.spec import NetworkSpec


#: tiny on 8 PEs (group mode on the small maps), 3 DW PEs and the FC on 4 classes at once:
#: one build that tb/test_levers.py and tb/test_accelerator.py's group-mode test share.
EIGHT_PES = dict(pe_count=8, dw_pe_count=3, fc_parallel=4)


def tiny(pe_count: int | None = None, lanes: int | None = None, **options):
    """The tiny preset, optionally with ``pe_count`` PEs of ``lanes`` lanes and other
    :class:`rrm.spec.HardwareSpec` fields (``dw_pe_count``, ``fc_parallel``, ``serial_bn``)."""
    spec = load_preset("tiny")
    changes = dict(options)
    if pe_count is not None:
        changes["pe_count"] = pe_count
    if lanes is not None:
        changes["lanes"] = lanes
    return dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, **changes))


def last_map_5x5():
    """tiny's hardware (2 PEs x 8 lanes) and numerics on a 20 x 20 input through conv1 and two
    blocks (width 0.25: 8, 16 and 32 channels): the last map is 5 x 5 (25 pixels in 13 FM
    words, the last one half full; 4 channel groups), so the pool walks many words of
    pixels, where every other spec ends in a map of one word. Its pointwise layer runs in
    group mode on a map of many words. One image is about 2,700 cycles."""
    spec = tiny()
    network = NetworkSpec(name="last-map-5x5", input_size=20, input_channels=1, num_classes=10,
                          width_multiplier=0.25, blocks=((64, 1), (128, 2)))
    return dataclasses.replace(spec, network=network, preset=None)
