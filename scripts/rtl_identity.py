"""Which recorded runs were made on the RTL of this checkout (``rrm results --rtl``).

A full-size run takes minutes to hours, so records are made at different commits. Most
commits change no hardware of a given preset; the accelerator's generated Verilog says
which: every ``sim``, ``synth`` and ``timing`` record carries ``verilog_sha256``, the SHA-256
of the accelerator's Verilog it ran on (``rrm verilog``'s text for the preset), and
``rrm results --rtl --record`` writes ``results/<preset>/rtl.json``: the digest of the
Verilog this checkout generates, with its commit. A record whose digest equals it ran on
the same RTL, whatever commit it names; one that differs must be run again before its
figures describe the preset.
"""

from __future__ import annotations

from hw.flow.verilog import verilog_digest

__all__ = ["RTL_KINDS", "preset_digest", "same_rtl", "verilog_digest"]

#: The record kinds that ran on the generated Verilog (the cycle model's runs on no RTL).
RTL_KINDS = ("sim", "synth", "timing")


def preset_digest(preset: str) -> str:
    """The digest of the accelerator's Verilog that this checkout generates for ``preset``
    (full-size presets take minutes)."""
    from hw.flow.verilog import block_verilog
    from rrm.presets import load_preset
    from tb.build import VERILOG_DIR
    return verilog_digest(block_verilog("accelerator", load_preset(preset), VERILOG_DIR))


def same_rtl(rtl: dict | None, records: dict) -> dict:
    """Per kind of :data:`RTL_KINDS` with a record: True where its Verilog is the one ``rtl``
    (an ``rtl.json`` record) names, False where it differs, None where either has no digest."""
    out = {}
    for kind in RTL_KINDS:
        result = records.get(kind)
        if result is None:
            continue
        digest = result.get("verilog_sha256")
        out[kind] = None if rtl is None or digest is None else digest == rtl["verilog_sha256"]
    return out
