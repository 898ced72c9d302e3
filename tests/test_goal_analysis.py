"""docs/accelerator.md's "What 78,500 cycles per image needs": every figure of it, recomputed
from rr-mobilenet-packed's records (the cycle record's kinds, the synth record's blocks) and
the device, so that the paragraph cannot drift from the runs it quotes."""

from __future__ import annotations

import math
from pathlib import Path

from rrm.devices import get_device
from scripts import results

ROOT = Path(__file__).resolve().parent.parent
GOAL_CYCLES = 78_500
PRODUCTS_PER_DSP = 2   # packed_pw: two pixels per DSP48E2


def paragraph(opening: str = "**What 78,500 cycles per image needs**") -> str:
    text = (ROOT / "docs" / "accelerator.md").read_text(encoding="utf-8")
    start = text.index(opening)
    end = text.find("\n\n", start)
    return " ".join(text[start:end if end >= 0 else len(text)].split())


def figures() -> dict:
    cycles = results.load("rr-mobilenet-packed", "cycles")
    synth = results.load("rr-mobilenet-packed", "synth")
    kinds = cycles["kinds"]
    pw = kinds["pw"]
    blocks = {block["kind"]: block["each"]["dsp"] * block["count"] for block in synth["blocks"]}
    conv_pe_dsp = blocks["rrm_accelerator.core.conv.conv_pes.pe#"]
    dw = blocks["rrm_accelerator.core.dw.dw_pes.pe#"] + blocks["rrm_accelerator.core.dw.dw_bn#"]
    bn = blocks["rrm_accelerator.core.conv.conv_bn#"]
    fc = blocks["rrm_accelerator.core.classifier.fc"]
    assert conv_pe_dsp + dw + bn + fc == synth["estimate"]["dsp"], "a DSP48E2 outside these blocks"
    need = math.ceil(pw["macs"] / GOAL_CYCLES)
    need_dsp = math.ceil(need / PRODUCTS_PER_DSP)
    device = get_device(synth["device"]["name"]).dsp
    return {"pw_macs": pw["macs"], "conv_pe_dsp": conv_pe_dsp,
            "per_cycle": round(pw["macs"] / pw["bound"]), "pw_bound": pw["bound"], "pw_cycles": pw["cycles"],
            "rest": sum(kind["cycles"] for name, kind in kinds.items() if name != "pw"),
            "need": need, "need_dsp": need_dsp, "device": device, "left": device - need_dsp,
            "others": dw + bn + fc, "dw": dw, "bn": bn, "fc": fc}


def test_the_goal_paragraph_quotes_the_records():
    f = figures()
    assert f["per_cycle"] == f["conv_pe_dsp"] * PRODUCTS_PER_DSP
    text = paragraph()
    for sentence in (
            f"pointwise layers alone are {f['pw_macs']:,d} MACs",
            f"Packed's {f['conv_pe_dsp']:,d} Conv DSP48E2 do {f['per_cycle']:,d} of them",
            f"cannot take fewer than {f['pw_bound']:,d} cycles (they take {f['pw_cycles']:,d})",
            f"the FC ({f['rest']:,d} cycles today)",
            f"need {f['need']:,d} MACs a cycle",
            f"{f['need_dsp']:,d} DSP48E2 for them alone",
            f"The XCZU9EG has {f['device']:,d}; the {f['left']:,d} left are fewer than the {f['others']:,d}",
            f"DW module ({f['dw']:,d}), BN units ({f['bn']:,d}) and FC ({f['fc']:,d})"):
        assert sentence in text, sentence


def test_the_conclusion_follows_from_the_figures():
    """The paragraph's claim: the pointwise bound is over the goal, and the DSP48E2 the goal
    needs for the pointwise layers leave too few for the rest."""
    f = figures()
    assert f["pw_bound"] > GOAL_CYCLES
    assert f["left"] < f["others"]


def test_the_lut_paragraph_quotes_the_synth_record():
    synth = results.load("rr-mobilenet-packed", "synth")
    pes = next(block for block in synth["blocks"] if block["kind"] == "rrm_accelerator.core.conv.conv_pes.pe#")
    total = synth["estimate"]
    text = paragraph("**LUT, not DSP48E2, is what packed runs out of")
    sentence = (f"Its {pes['count']} packed Conv PE blocks are {pes['each']['lut'] * pes['count']:,d} of its "
                f"{total['lut']:,d} LUT and {pes['each']['ff'] * pes['count']:,d} of its {total['ff']:,d} FF")
    assert sentence in text, sentence
