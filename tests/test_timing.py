"""``rrm timing`` and hw.flow.timing: levels counted on a hand-made netlist, the budget,
and (with Yosys on the PATH) a real block."""

from __future__ import annotations

import json
import shutil

import pytest

from hw.flow.timing import LEVEL_BUDGETS, analyse, engine_of, level_budget
from scripts.cli import main


def cell(kind, inputs, outputs, **parameters):
    connections = {**{f"I{i}": [b] for i, b in enumerate(inputs)}, **{f"O{i}": [b] for i, b in enumerate(outputs)}}
    directions = {**{f"I{i}": "input" for i in range(len(inputs))}, **{f"O{i}": "output" for i in range(len(outputs))}}
    return {"type": kind, "connections": connections, "port_directions": directions, "parameters": parameters}


def flop(d, q):
    return {"type": "FDRE", "connections": {"D": [d], "Q": [q], "C": [1]},
            "port_directions": {"D": "input", "Q": "output", "C": "input"}, "parameters": {}}


def test_levels_are_counted_between_flip_flops():
    # q0 -> LUT -> MUXF7 -> CARRY4 -> CARRY4 -> LUT -> d1: 1 + 1 + 0.5 + 0.5 + 1 = 4 levels;
    # a second path q0 -> LUT -> d2: 1 level; q1 drives 3 loads
    module = {
        "ports": {},
        "netnames": {"core.conv.q0": {"bits": [10]}, "core.dw.q1": {"bits": [11]},
                     "core.conv.q2": {"bits": [12]}, "x": {"bits": [20, 21, 22, 23, 24, 25]}},
        "cells": {
            "r0": flop(25, 10), "r1": flop(24, 11), "r2": flop(26, 12),
            "a": cell("LUT2", [10, 11], [20]), "b": cell("MUXF7", [20, 11], [21]),
            "c": cell("CARRY4", [21], [22]), "d": cell("CARRY4", [22], [23]),
            "e": cell("LUT3", [23, 11], [24]), "f": cell("LUT1", [10], [26]),
        },
    }
    report = analyse(module, "t")
    assert report.worst[0].levels == 4.0
    assert report.worst[0].end == "FDRE core.dw.q1" and report.worst[0].engine == "DW engine"
    assert report.worst[0].through == ["LUT2", "MUXF7", "CARRY4", "CARRY4", "LUT3"]
    assert report.worst[0].start == "FDRE core.conv.q0"      # the register the path leaves
    assert report.by_engine["DW engine"] == 4.0 and report.by_engine["Conv engine"] == 1.0
    assert report.fanout[0] == ("core.dw.q1", 3)     # the clock (C) is not counted


def test_budget_and_engine_names():
    assert level_budget(150.0) == LEVEL_BUDGETS[150.0] == 12 and level_budget(300.0) == 5
    assert engine_of("core.conv.d_valid") == "Conv engine" and engine_of("core.sequencer.x") == "sequencer"
    assert engine_of("core.fm_read_select.port") == "core glue" and engine_of("o__payload") == "top"


def test_bad_arguments_are_named(capsys):
    for argv, words in ((["timing", "--block", "nope"], "unknown block 'nope'"),
                        (["timing", "--paths", "0"], "--paths 0"),
                        (["timing", "--block", "bn_requant", "--preset", "tiny", "--record"], "--record needs")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")
def test_a_real_block(tmp_path, capsys):
    assert main(["timing", "--preset", "tiny", "--block", "bn_requant", "--json",
                 "--work-dir", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cells"]["DSP48E2"] == 8 and report["worst_levels"] > 2
    assert report["dsp48e2"]["combinational"] + report["dsp48e2"]["registered"] == 8
    assert report["dsp48e2"]["product into a fabric register"] == 8     # each product lands in prod{lane}
    assert report["fanout"][0]["net"] == "advance"     # the stall-all enable: the widest net


def test_a_dsp_or_ram_output_counts_as_registered_in_the_fabric_only_when_it_feeds_flip_flops_alone():
    def dsp(out):
        return {"type": "DSP48E2", "connections": {"A": [1], "P": [out], "CLK": [2]},
                "port_directions": {"A": "input", "P": "output", "CLK": "input"}, "parameters": {"MREG": "0"}}

    def ram(out):
        return {"type": "RAMB18E2", "connections": {"DOUTADOUT": [out]},
                "port_directions": {"DOUTADOUT": "output"}, "parameters": {"DOA_REG": "0"}}

    module = {"ports": {}, "netnames": {"p0": {"bits": [10]}, "p1": {"bits": [11]}, "r0": {"bits": [12]}},
              "cells": {"d0": dsp(10), "d1": dsp(11), "m0": ram(12),
                        "f0": flop(10, 20), "f1": flop(11, 21), "l1": cell("LUT1", [11], [22]),
                        "f2": flop(12, 23)}}
    report = analyse(module, "t")
    assert report.dsp == {"registered": 0, "combinational": 2, "product into a fabric register": 1}
    assert report.bram == {"output register": 0, "no output register": 1, "output into a fabric register": 1}
