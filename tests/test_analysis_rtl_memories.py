"""`rrm analyze`'s RTL memories: every RAM of rrm.memory_map, its BRAM18K by the analysis's
own mapping, and a total that adds up (Eq. 11 against what the RTL builds)."""

from __future__ import annotations

import json
import re

import pytest

from rrm.analysis import LUTRAM_MAX_DEPTH, analyze
from rrm.devices import bram18k_blocks, get_device
from rrm.memory_map import memory_map
from rrm.presets import PRESETS, load_preset
from scripts.cli import main
from tests.specs import WIDE


@pytest.mark.parametrize("preset", list(PRESETS))
def test_json_lists_every_ram(preset, capsys):
    assert main(["analyze", "--preset", preset, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    spec = load_preset(preset)
    rtl = result["rtl_memories"]
    rams = memory_map(spec).rams
    assert rtl["buildable"] is True
    assert [r["name"] for r in rtl["rams"]] == list(rams)
    for row in rtl["rams"]:
        ram = rams[row["name"]]
        assert (row["width"], row["depth"], row["bits"]) == (ram.width, ram.depth, ram.width * ram.depth)
        lutram = ram.depth <= LUTRAM_MAX_DEPTH
        assert row["lutram"] is lutram
        assert row["bram18k"] == (0 if lutram else bram18k_blocks(ram.width, ram.depth))
    assert rtl["bram18k"] == sum(r["bram18k"] for r in rtl["rams"])
    assert rtl["bits"] == sum(r["bits"] for r in rtl["rams"])
    device = get_device(spec.hardware.device)
    assert rtl["available_bram18k"] == device.bram18k
    assert rtl["fits"] is (rtl["bram18k"] <= device.bram18k)


def test_existing_numbers_are_unchanged():
    result = analyze(load_preset("rr-mobilenet"))
    assert result["ocm"]["bram18k"] == 1548 and result["ocm"]["available_bram18k"] == 1824
    assert {"spec", "layers", "total", "memories", "ocm", "rtl_memories"} == set(result)


@pytest.mark.parametrize("preset", ["tiny", "rr-mobilenet"])
def test_text_lists_every_ram_and_the_total_adds_up(preset, capsys):
    assert main(["analyze", "--preset", preset]) == 0
    out = capsys.readouterr().out
    section = out[out.index("RTL memories"):]
    counts = {}
    for name in memory_map(load_preset(preset)).rams:
        line = next(l for l in section.splitlines() if l.strip().startswith(name + " "))
        found = re.search(r"-> +(\d+) BRAM18K", line)
        counts[name] = int(found.group(1)) if found else (0 if "LUT RAM" in line else None)
        assert counts[name] is not None, line
    total = re.search(r"built on-chip fit \(Eq\. 11, RTL\) on \S+: (\d+) of (\d+) BRAM18K", section)
    assert total, section
    assert sum(counts.values()) == int(total.group(1))
    assert int(total.group(1)) == analyze(load_preset(preset))["rtl_memories"]["bram18k"]


def test_a_spec_the_rtl_cannot_build_is_reported_not_raised():
    # Three 8-bit input channels do not fit a 2-lane x 8-bit feature-map slot.
    data = WIDE.to_dict()
    data["hardware"]["lanes"] = 2
    from rrm.spec import Spec
    spec = Spec.from_dict(data)
    rtl = analyze(spec, "xczu9eg")["rtl_memories"]
    assert rtl["buildable"] is False and "hardware.lanes" in rtl["error"] and rtl["rams"] == []
    from scripts.analysis_report import format_report
    assert "the accelerator cannot be built for this spec" in format_report(analyze(spec, "xczu9eg"))
