"""``rrm timing`` and hw.flow.timing: levels counted on a hand-made netlist, the budget,
and (with Yosys on the PATH) a real block."""

from __future__ import annotations

import json
import shutil

import pytest

from hw.flow.timing import GLUE, LEVEL_BUDGETS, FanoutNet, analyse, compose, engine_of, level_budget
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
    # the clock (C) is not counted; q1 is a register's output: 0 levels before it, and the
    # worst path through it (q1 -> LUT2 -> MUXF7 -> CARRY4 x2 -> LUT3 -> r1) has 4 after it
    assert report.fanout[0] == FanoutNet("core.dw.q1", 3, "FDRE", 0.0, 4.0)
    assert report.fanout[0].levels == 4.0
    # q0's net: 0 before, and its worst path (the 4-level one) 4 after
    assert [(net.net, net.before, net.after) for net in report.fanout if net.net == "core.conv.q0"] == [
        ("core.conv.q0", 0.0, 4.0)]
    # a LUT's output: the levels before it count, x[0] (the LUT2 a) is at 1 and 3 follow it
    assert [(net.driver, net.before, net.after) for net in report.fanout if net.net == "x[0]"] == [("LUT2", 1.0, 3.0)]


def test_budget_and_engine_names():
    assert level_budget(150.0) == LEVEL_BUDGETS[150.0] == 12 and level_budget(300.0) == 5
    assert engine_of("core.conv.d_valid") == "Conv engine" and engine_of("core.sequencer.x") == "sequencer"
    assert engine_of("core.fm_read_select.port") == "core glue" and engine_of("o__payload") == "top"


def test_bad_arguments_are_named(capsys):
    for argv, words in ((["timing", "--block", "nope"], "unknown block 'nope'"),
                        (["timing", "--block", "bn_requant", "--mode", "engines"], "--mode engines maps"),
                        (["timing", "--block", "bn_requant", "--mode", "blocks"], "--mode blocks maps"),
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
    # driven by a LUT2 of valid and ready one level from the registers, ending in enables
    assert (report["fanout"][0]["driver"], report["fanout"][0]["levels_before"]) == ("LUT2", 1.0)
    assert report["seconds"] > 0


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


def test_engines_mode_counts_a_path_on_both_sides_of_every_port_it_crosses():
    # Engine A: register qa -> 2 LUTs -> output port o (arrives at 2 levels); input port i
    # -> 1 LUT -> register. Engine B: input port i -> 3 LUTs -> output port o, no register
    # (a combinational path straight through). The glue: A.o -> LUT -> B.i; B.o -> LUT -> A.i.
    # The path qa -> A.o -> glue -> B -> glue -> A.i -> register: 2 + 1 + 3 + 1 + 1 = 8
    # levels, seen only when the levels at the ports settle (3 rounds); each side alone has at most 3.
    def engine_a():
        return {"ports": {"i": {"direction": "input", "bits": [2]}, "o": {"direction": "output", "bits": [5]},
                          "rst": {"direction": "input", "bits": [8]}},
                "netnames": {"qa": {"bits": [3]}, "i": {"bits": [2]}, "o": {"bits": [5]}, "rst": {"bits": [8]},
                             "rb": {"bits": [7]}},
                "cells": {"ra": flop(3, 3), "l1": cell("LUT1", [3], [4]), "l2": cell("LUT1", [4], [5]),
                          "l3": cell("LUT1", [2], [6]), "rb": flop(6, 7),
                          **{f"r{n}": flop(8, 30 + n) for n in range(5)}}}     # rst loads 5 registers

    def engine_b():
        return {"ports": {"i": {"direction": "input", "bits": [2]}, "o": {"direction": "output", "bits": [5]}},
                "netnames": {"i": {"bits": [2]}, "o": {"bits": [5]}},
                "cells": {"l1": cell("LUT1", [2], [3]), "l2": cell("LUT1", [3], [4]), "l3": cell("LUT1", [4], [5])}}

    def box(kind, i, o, rst=None):
        connections = {"i": [i], "o": [o], **({"rst": [rst]} if rst else {})}
        return {"type": kind, "connections": connections, "parameters": {},
                "port_directions": {"i": "input", "o": "output", **({"rst": "input"} if rst else {})}}

    glue = {"ports": {"rst": {"direction": "input", "bits": [9]}},
            "netnames": {"a_o": {"bits": [10]}, "b_i": {"bits": [11]}, "b_o": {"bits": [12]},
                         "a_i": {"bits": [13]}, "rst": {"bits": [9]}},
            "cells": {"a": box("top.core.conv", 13, 10, rst=9), "b": box("top.core.dw", 11, 12),
                      "g1": cell("LUT1", [10], [11]), "g2": cell("LUT1", [12], [13])}}
    parts = [("Conv engine", "top.core.conv", ()), ("DW engine", "top.core.dw", ()),
             (GLUE, "top", ("top.core.conv", "top.core.dw"))]
    report = compose(parts, [engine_a(), engine_b(), glue], "top")
    assert report.mode == "engines"
    assert report.worst[0].levels == 8.0 and report.worst[0].engine == "Conv engine"
    assert report.worst[0].end == "FDRE core.conv.rb"
    assert "arriving at 7 levels" in report.worst[0].start        # port i of A, after A, glue, B, glue
    assert report.by_engine == {"Conv engine": 8.0}                # B and the glue end no path
    assert report.fanout[0] == FanoutNet("rst", 5, "port", 0.0, 0.0)   # the glue's rst, its loads inside A
    # the net b_i (glue LUT g1's output) is at 2 + 1 levels and 3 + 1 + 1 follow it: through
    # B, the glue's g2 and A's l3 (its output port's levels outside come back into B's report)
    through_b = {net.net: net for net in compose(parts, [engine_a(), engine_b(), glue], "top", fanouts=20).fanout}
    assert (through_b["b_i"].before, through_b["b_i"].after) == (3.0, 5.0)
    assert through_b["a_o"].driver == "LUT1 in Conv engine" and through_b["a_o"].levels == 8.0
    assert [part["part"] for part in report.parts] == ["Conv engine", "DW engine", GLUE]
    # Alone, engine A's worst path is 1 level (i arrives at 0)
    assert analyse(engine_a(), "a", ports_end=False).worst[0].levels == 1.0


def test_a_net_leaving_an_engine_is_listed_once_with_its_loads_on_both_sides():
    # Engine A: register q drives 6 loads inside (5 LUT1 -> register, and a chain of 3 LUTs
    # -> register: 3 levels after q) and, through the output buffer Yosys puts there, port o.
    # The glue: A.o drives 5 registers and a LUT -> register (1 level after). One net of
    # 12 loads, 0 levels before it and 3 after (the worse side), driven by A's register.
    def obuf(i, o):
        return {"type": "OBUF", "connections": {"I": [i], "O": [o]}, "parameters": {},
                "port_directions": {"I": "input", "O": "output"}}

    engine = {"ports": {"o": {"direction": "output", "bits": [9]}},
              "netnames": {"q": {"bits": [3]}, "o": {"bits": [9]}},
              "cells": {"r": flop(1, 3), "ob": obuf(3, 9),
                        **{f"l{n}": cell("LUT1", [3], [20 + n]) for n in range(5)},
                        **{f"f{n}": flop(20 + n, 30 + n) for n in range(5)},
                        "c1": cell("LUT1", [3], [40]), "c2": cell("LUT1", [40], [41]),
                        "c3": cell("LUT1", [41], [42]), "fc": flop(42, 43)}}
    glue = {"ports": {}, "netnames": {"a_o": {"bits": [10]}},
            "cells": {"a": {"type": "top.core.conv", "connections": {"o": [10]}, "parameters": {},
                            "port_directions": {"o": "output"}},
                      **{f"g{n}": flop(10, 50 + n) for n in range(5)},
                      "gl": cell("LUT1", [10], [60]), "gf": flop(60, 61)}}
    parts = [("Conv engine", "top.core.conv", ()), (GLUE, "top", ("top.core.conv",))]
    report = compose(parts, [engine, glue], "top", fanouts=30)
    listed = [net for net in report.fanout if net.net in ("a_o", "core.conv.q")]
    assert listed == [FanoutNet("a_o", 12, "FDRE in Conv engine", 0.0, 3.0)]
    # a second output copying the first (an output buffer behind the other's): still A's register
    engine["ports"]["p"] = {"direction": "output", "bits": [8]}
    engine["cells"]["ob2"] = obuf(9, 8)
    glue["cells"]["a"]["connections"]["p"] = [11]
    glue["cells"]["a"]["port_directions"]["p"] = "output"
    glue["netnames"]["a_p"] = {"bits": [11]}
    glue["cells"].update({f"h{n}": flop(11, 70 + n) for n in range(3)})
    copies = {net.net: net for net in compose(parts, [engine, glue], "top", fanouts=30).fanout}
    assert copies["a_p"] == FanoutNet("a_p", 3, "FDRE in Conv engine", 0.0, 0.0)
    # an output Yosys tied to a constant is no net to route: not listed, however many loads
    engine["cells"]["ob2"]["connections"]["I"] = ["0"]
    assert "a_p" not in {net.net for net in compose(parts, [engine, glue], "top", fanouts=30).fanout}


def test_engines_mode_maps_again_only_the_parts_whose_verilog_command_or_yosys_changed(tmp_path, monkeypatch):
    import hw.flow.timing as timing

    netlists = {"top.core.conv": {"ports": {"i": {"direction": "input", "bits": [2]}},
                                  "netnames": {"q": {"bits": [3]}},
                                  "cells": {"r": flop(2, 3), "l": cell("LUT1", [3], [4]), "s": flop(4, 5)}},
                "top": {"ports": {}, "netnames": {}, "cells": {}}}
    mapped = []     # the parts each Yosys run mapped

    def fake_run(script, work, name, outputs, labels, progress=None):
        mapped.append(list(labels))
        modules = [line.split()[-1].lstrip("\\") for line in script if line.startswith("hierarchy -top")]
        for output, module in zip(outputs, modules):
            (work / output).write_text(json.dumps({"modules": {module: netlists[module]}}))

    version = ["Yosys 0.23"]
    monkeypatch.setattr(timing, "run_in_steps", fake_run)
    monkeypatch.setattr(timing, "yosys_version", lambda: version[0])
    monkeypatch.setattr(timing, "_yosys", lambda work: "yosys")
    verilog, work = tmp_path / "a.v", tmp_path / "work"
    work.mkdir()

    def design(conv_body="", conv_ports="input i;"):
        verilog.write_text(f"module \\top.core.conv (i);\n  {conv_ports}\n{conv_body}endmodule\n"
                           "module top();\n  \\top.core.conv  conv (\n  );\nendmodule\n")

    def run(reuse=True):
        before = len(mapped)
        report = timing.analyse_engines(verilog, "top", work, reuse=reuse)
        return (mapped[before] if len(mapped) > before else []), report.reused, report

    design()
    assert run()[:2] == (["Conv engine", GLUE], [])             # nothing to reuse yet
    again, reused, report = run()
    assert (again, reused) == ([], ["Conv engine", GLUE]) and report.as_dict()["reused_parts"] == reused
    assert report.worst[0].levels == 1.0                           # the netlists analysed as before
    design(conv_body="  wire w;\n")                               # inside the engine only
    assert run()[:2] == (["Conv engine"], [GLUE])                  # the glue sees its ports alone
    design(conv_body="  wire w;\n", conv_ports="input i; output o;")   # its ports: both parts
    assert run()[:2] == (["Conv engine", GLUE], [])
    version[0] = "Yosys 0.40"                                      # another Yosys: both
    assert run()[:2] == (["Conv engine", GLUE], [])
    assert run(reuse=False)[:2] == (["Conv engine", GLUE], [])     # not asked to reuse
    assert "reused_parts" not in run(reuse=False)[2].as_dict()
    for cut_short in work.glob("part-*.json"):                     # a run stopped while writing
        cut_short.write_text(cut_short.read_text()[:20])
    assert run()[:2] == (["Conv engine", GLUE], [])                # mapped again, not an error
    assert run()[:2] == ([], ["Conv engine", GLUE])


def test_reuse_needs_a_work_dir_and_engines_mode(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["timing", "--reuse"])
    assert exc.value.code == 2 and "--reuse reads the netlists of an earlier run" in capsys.readouterr().err
    from hw.flow.timing import analyse_verilog
    with pytest.raises(Exception, match="reusing mapped netlists is for engines or blocks mode"):
        analyse_verilog(tmp_path / "a.v", "top", tmp_path, "whole", reuse=True)


def test_blocks_mode_maps_a_repeated_block_once_and_reports_its_worst_copy():
    # Block B (two copies in engine E, pe1 and pe2): input i -> 2 LUTs -> register r -> LUT -> output o.
    # E: qa -> LUT -> pe1.i (arrives at 1), qb -> 3 LUTs -> pe2.i (at 3); pe1.o -> register,
    # pe2.o -> 2 LUTs -> register. Worst: qb -> pe2 -> r, 3 + 2 = 5 levels; out of a copy:
    # r -> LUT -> pe2.o -> 2 LUTs -> register, 1 + 2 = 3. Mapped flat, E has the same paths.
    def block(offset=0):
        o = offset
        return {"ports": {"i": {"direction": "input", "bits": [2 + o]}, "o": {"direction": "output", "bits": [6 + o]}},
                "netnames": {"i": {"bits": [2 + o]}, "r": {"bits": [5 + o]}, "o": {"bits": [6 + o]}},
                "cells": {"l1": cell("LUT1", [2 + o], [3 + o]), "l2": cell("LUT1", [3 + o], [4 + o]),
                          "r": flop(4 + o, 5 + o), "l3": cell("LUT1", [5 + o], [6 + o])}}

    def box(kind, i, o):
        return {"type": kind, "connections": {"i": [i], "o": [o]}, "parameters": {},
                "port_directions": {"i": "input", "o": "output"}}

    engine_cells = {"qa": flop(10, 10), "qb": flop(11, 11), "a1": cell("LUT1", [10], [12]),
                    "b1": cell("LUT1", [11], [13]), "b2": cell("LUT1", [13], [14]), "b3": cell("LUT1", [14], [15]),
                    "fa": flop(20, 21), "c1": cell("LUT1", [22], [23]), "c2": cell("LUT1", [23], [24]),
                    "fb": flop(24, 25)}
    engine = {"ports": {}, "netnames": {"qa": {"bits": [10]}, "qb": {"bits": [11]}, "fb": {"bits": [25]}},
              "cells": {**engine_cells, "pe1": box("top.core.conv.pe1", 12, 20), "pe2": box("top.core.conv.pe2", 15, 22)}}
    glue = {"ports": {}, "netnames": {}, "cells": {"conv": {"type": "top.core.conv", "connections": {},
                                                             "port_directions": {}, "parameters": {}}}}
    parts = [("Conv engine: pe1 (one of 2)", "top.core.conv.pe1", (), ("top.core.conv.pe1", "top.core.conv.pe2")),
             ("Conv engine", "top.core.conv", ("top.core.conv.pe1", "top.core.conv.pe2"), ("top.core.conv",)),
             (GLUE, "top", ("top.core.conv",), ("top",))]
    report = compose(parts, [block(), engine, glue], "top", paths=20)
    assert report.worst[0].levels == 5.0 and report.worst[0].end == "FDRE core.conv.pe1.r"
    assert "arriving at 3 levels" in report.worst[0].start        # pe2's input, the worse copy
    assert [p.levels for p in report.worst if p.end == "FDRE core.conv.fb"] == [3.0]   # out of pe2
    assert report.cells["LUT1"] == 3 * 2 + 6 and report.cells["FDRE"] == 2 + 4   # the block's per copy
    assert [part.get("copies") for part in report.parts] == [2, None, None]
    # pe2 naming its input port otherwise (Amaranth's numbered ports): the same report
    renamed = json.loads(json.dumps(engine))
    renamed["cells"]["pe2"]["connections"] = {"i$7": [15], "o": [22]}
    renamed["cells"]["pe2"]["port_directions"] = {"i$7": "input", "o": "output"}
    again = compose(parts, [block(), renamed, glue], "top", paths=20, renames={"top.core.conv.pe2": {"i$7": "i"}})
    assert [(p.levels, p.end, p.start) for p in again.worst] == [(p.levels, p.end, p.start) for p in report.worst]
    # the same engine with both copies inline, mapped whole: the same worst paths
    flat = {"ports": {}, "netnames": {**engine["netnames"]}, "cells": dict(engine_cells)}
    for name, (i, o, offset) in {"pe1": (12, 20, 100), "pe2": (15, 22, 200)}.items():
        copy = block(offset)
        flat["cells"].update({f"{name}.{cell_name}": c for cell_name, c in copy["cells"].items()})
        flat["cells"][f"{name}.in"] = cell("LUT1", [i], [2 + offset])      # a LUT1 where the port was,
        flat["cells"][f"{name}.out"] = {"type": "BUFG", "connections": {"I": [6 + offset], "O": [o]},
                                        "parameters": {}, "port_directions": {"I": "input", "O": "output"}}
    whole = analyse(flat, "top", paths=20)
    # flat, each copy's r ends a path (pe2's 5 + 1 for that LUT1, pe1's 3 + 1); the blocks
    # report names the one register its block netlist has, at its worst copy's level
    assert [p.levels for p in whole.worst] == [6.0, 4.0, 3.0, 1.0, 0.0, 0.0]
    assert [p.levels for p in report.worst] == [5.0, 3.0, 1.0, 0.0, 0.0]


def test_blocks_mode_groups_the_copies_of_one_text_and_leaves_a_different_one_in_its_engine():
    from hw.flow.timing import engine_parts, repeated_blocks

    def pe(name, body="  reg r;\n"):
        return f"module \\{name} (i);\n  input i;\n{body}endmodule\n"

    verilog = (pe("top.core.conv.pes.pe0", "  reg r;\n  reg handshake;\n") + pe("top.core.conv.pes.pe1")
               + pe("top.core.conv.pes.pe2") + pe("top.core.conv.bn0")
               + "module \\top.core.conv.pes (i);\n  input i;\n" + "".join(
                   f"  \\top.core.conv.pes.pe{n}  pe{n} (\n  );\n" for n in range(3)) + "endmodule\n"
               + "module \\top.core.conv (i);\n  input i;\n  \\top.core.conv.pes  pes (\n  );\n"
               + "  \\top.core.conv.bn0  bn0 (\n  );\nendmodule\n"
               + "module top();\n  \\top.core.conv  conv (\n  );\nendmodule\n")
    assert repeated_blocks(verilog, "top.core.conv") == [["top.core.conv.pes.pe1", "top.core.conv.pes.pe2"]]
    pes = ("top.core.conv.pes.pe1", "top.core.conv.pes.pe2")
    assert engine_parts(verilog, "top", "blocks") == [
        ("Conv engine: pes.pe1 (one of 2)", "top.core.conv.pes.pe1", (), pes),
        ("Conv engine", "top.core.conv", pes, ("top.core.conv",)),
        (GLUE, "top", ("top.core.conv",), ("top",))]
    assert engine_parts(verilog, "top") == [("Conv engine", "top.core.conv", (), ("top.core.conv",)),
                                            (GLUE, "top", ("top.core.conv",), ("top",))]


def test_copies_of_a_block_are_one_text_but_for_their_numbered_names_and_declaration_order():
    from hw.flow.timing import canonical_text, copy_ports

    def pe(name, first, second):
        ports = sorted([f"  input [3:0] \\port$9${first} ;", f"  input [3:0] \\port$9${second} ;"])
        return (f"module \\{name} (clk, \\port$9${first} , \\port$9${second} , o);\n" + "\n".join(ports)
                + f"\n  output o;\n  reg \\$auto$verilog_backend.cc:1:dump_module${first} = 0;\n"
                f"  assign o = \\port$9${first} [0] & \\port$9${second} [1];\nendmodule\n")

    one, two = pe("t.pe1", 4, 8), pe("t.pe2", 16, 100)      # sorted by name: 100 before 16
    assert one.index("$9$4 ;") < one.index("$9$8 ;") and two.index("$9$100 ;") < two.index("$9$16 ;")
    assert canonical_text(one, "t.pe1")[0] == canonical_text(two, "t.pe2")[0]
    assert copy_ports({"t.pe1": one, "t.pe2": two}, ("t.pe1", "t.pe2")) == {"t.pe2": {
        "port$9$16": "port$9$4", "port$9$100": "port$9$8",
        "$auto$verilog_backend.cc:1:dump_module$16": "$auto$verilog_backend.cc:1:dump_module$4"}}
    # the ports swapped in the logic: another block
    swapped = two.replace("\\port$9$16 [0] & \\port$9$100 [1]", "\\port$9$100 [0] & \\port$9$16 [1]")
    assert canonical_text(one, "t.pe1")[0] != canonical_text(swapped, "t.pe2")[0]


def test_blocks_mode_maps_a_block_again_when_its_copies_change_and_the_engine_only_when_their_ports_do(
        tmp_path, monkeypatch):
    import hw.flow.timing as timing

    block = {"ports": {"i": {"direction": "input", "bits": [2]}}, "netnames": {},
             "cells": {"l": cell("LUT1", [2], [3]), "r": flop(3, 4)}}
    engine = {"ports": {}, "netnames": {"q": {"bits": [5]}},
              "cells": {"q": flop(5, 5), **{f"pe{n}": {"type": f"top.core.conv.pe{n}", "connections": {"i": [5]},
                                                     "port_directions": {"i": "input"}, "parameters": {}}
                                        for n in (1, 2)}}}
    netlists = {"top.core.conv.pe1": block, "top.core.conv": engine, "top": {"ports": {}, "netnames": {}, "cells": {}}}
    mapped = []

    def fake_run(script, work, name, outputs, labels, progress=None):
        mapped.append(list(labels))
        modules = [line.split()[-1].lstrip("\\") for line in script if line.startswith("hierarchy -top")]
        for output, module in zip(outputs, modules):
            (work / output).write_text(json.dumps({"modules": {module: netlists[module]}}))

    monkeypatch.setattr(timing, "run_in_steps", fake_run)
    monkeypatch.setattr(timing, "yosys_version", lambda: "Yosys 0.23")
    monkeypatch.setattr(timing, "_yosys", lambda work: "yosys")
    verilog, work = tmp_path / "a.v", tmp_path / "work"
    work.mkdir()

    def design(body="  reg r;\n", ports="input i;"):
        pes = "".join(f"module \\top.core.conv.pe{n} (i);\n  {ports}\n{body}endmodule\n" for n in (1, 2))
        verilog.write_text(pes + "module \\top.core.conv ();\n" + "".join(
            f"  \\top.core.conv.pe{n}  pe{n} (\n  );\n" for n in (1, 2)) + "endmodule\n"
            "module top();\n  \\top.core.conv  conv (\n  );\nendmodule\n")

    def run():
        before = len(mapped)
        report = timing.analyse_engines(verilog, "top", work, reuse=True, mode="blocks")
        return (mapped[before] if len(mapped) > before else []), report

    block_part = "Conv engine: pe1 (one of 2)"
    design()
    labels, report = run()
    assert labels == [block_part, "Conv engine", GLUE] and report.mode == "blocks"
    assert report.worst[0].levels == 1.0 and report.cells["FDRE"] == 1 + 2    # the engine's q, r per copy
    design(body="  reg r;\n  wire w;\n")                # inside the copies only
    assert run()[0] == [block_part]
    design(body="  reg r;\n  wire w;\n", ports="input i; output o;")    # their ports: the engine too
    assert run()[0] == [block_part, "Conv engine"]
