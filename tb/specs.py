"""Spec variants for the testbenches: the tiny preset with other PE counts and lane counts."""

from __future__ import annotations

import dataclasses

from rrm.presets import load_preset


def tiny(pe_count: int | None = None, lanes: int | None = None):
    """The tiny preset, optionally with ``pe_count`` PEs of ``lanes`` lanes."""
    spec = load_preset("tiny")
    hardware = spec.hardware
    if pe_count is not None:
        hardware = dataclasses.replace(hardware, pe_count=pe_count)
    if lanes is not None:
        hardware = dataclasses.replace(hardware, lanes=lanes)
    return dataclasses.replace(spec, hardware=hardware)
