"""Spec variants for the testbenches: the tiny preset with other PE counts, lane counts and
hardware options."""

from __future__ import annotations

import dataclasses

from rrm.presets import load_preset


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
