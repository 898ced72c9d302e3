"""``rrm synth`` and hw.flow.synth: the hierarchy and statistics parsing, and (with Yosys on the
PATH) the block-by-block estimate against the whole-top one on a small PE array."""

import shutil

import pytest

from hw.flow.synth import (Resources, SynthError, _cells_from_stat, block_digests, block_kinds, block_source,
                           module_texts, modules, run_in_parallel, synth, without_memory_init)
from hw.flow.verilog import MEMORY_INIT, block_verilog, write_block_verilog
from scripts.cli import main

from .specs import TINY

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")


@pytest.fixture(scope="module")
def array_blocks(tmp_path_factory):
    """tiny's Conv PE array (its Verilog) and its block-by-block estimate, made once for the
    tests that compare other runs with it."""
    out = tmp_path_factory.mktemp("array")
    verilog = write_block_verilog("conv_pe_array", TINY, out)
    return verilog, synth(verilog, "rrm_conv_pe_array", out / "blocks", "blocks")


def test_hierarchy_and_block_kinds_of_the_accelerator():
    hierarchy = modules(block_verilog("accelerator", TINY))
    assert hierarchy["rrm_accelerator"] == ["rrm_accelerator.core"]
    core = "rrm_accelerator.core"
    # the core is the engines and the memories' selects, each its own module
    for engine in ("param_loader", "image_loader", "sequencer", "conv", "dw", "classifier", "fm_buffers"):
        assert f"{core}.{engine}" in hierarchy[core], engine
    assert f"{core}.conv.conv_pes" in hierarchy[f"{core}.conv"]
    kinds = block_kinds(hierarchy)
    pes = TINY.hardware.pe_count
    assert len(kinds[f"{core}.conv.conv_pes.pe#"]) == pes
    assert len(kinds[f"{core}.dw.dw_pes.pe#"]) == TINY.hardware.dw_pes
    assert len(kinds[f"{core}.conv.conv_bn#"]) == pes
    assert sum(len(names) for names in kinds.values()) == len(hierarchy)


def test_statistics_are_read_from_yosys_023_json():
    # Yosys 0.23 mixes a text hierarchy into `stat -json`; the last cell table is the design's
    text = ('{"modules": {"a": {"num_cells_by_type": {"LUT2": 1}}},\n  a      1\n'
            '"design": {"num_cells": 9, "num_cells_by_type": {"LUT2": 3, "LUT6": 2, "FDRE": 7,'
            ' "DSP48E2": 1, "RAMB36E2": 2, "RAMB18E2": 1, "RAM64M8": 1, "CARRY8": 4}}}')
    resources = Resources.from_cells(_cells_from_stat(text))
    assert resources.as_dict() == {"lut": 3 + 2 + 8, "ff": 7, "dsp": 1, "bram18k": 5}
    assert (resources + resources.scaled(2)).as_dict() == {"lut": 39, "ff": 21, "dsp": 3, "bram18k": 15}


@needs_yosys
def test_blocks_mode_matches_the_whole_top(array_blocks, tmp_path):
    verilog, blocks = array_blocks
    top = synth(verilog, "rrm_conv_pe_array", tmp_path / "top", "top").total
    assert [b.count for b in blocks.blocks] == [1, TINY.hardware.pe_count]
    assert blocks.total.dsp == top.dsp == TINY.hardware.pe_count * TINY.hardware.lanes
    assert top.ff > 0 and abs(blocks.total.ff - top.ff) <= 0.1 * top.ff
    assert top.lut > 0 and abs(blocks.total.lut - top.lut) <= 0.15 * top.lut


def test_module_texts_run_from_module_to_endmodule():
    texts = module_texts("module a(\n  x\nendmodule\nmodule \\b.c (\nendmodule\n")
    assert {name: text.count("\n") for name, text in texts.items()} == {"a": 3, "b.c": 2}


@needs_yosys
def test_blocks_in_two_jobs_count_as_in_one(array_blocks, tmp_path):
    verilog, one = array_blocks
    labels = []
    two = synth(verilog, "rrm_conv_pe_array", tmp_path / "two", "blocks",
                progress=lambda done, total, label: labels.append((done, total, label)), jobs=2)
    assert [(b.kind, b.count, b.each) for b in two.blocks] == [(b.kind, b.count, b.each) for b in one.blocks]
    assert sorted(path.name for path in (tmp_path / "two").glob("block*.log")) == ["block0.log", "block1.log"]
    assert labels and labels[0][:2] == (0, 2) and "," in labels[0][2]   # both blocks under way at first
    singly = []
    synth(verilog, "rrm_conv_pe_array", tmp_path / "single", "blocks",
          progress=lambda done, total, label: singly.append(label), jobs=1)
    assert singly and not any("," in label for label in singly)          # one process at a time


TWO_BLOCKS = """module top(a, y);
  input [3:0] a;
  output [3:0] y;
  leaf leaf0 (
    .a(a),
    .y(y)
  );
endmodule
module leaf(a, y);
  input [3:0] a;
  output [3:0] y;
  assign y = ~a;
endmodule
"""


def test_a_blocks_digest_follows_its_text_and_its_sub_blocks_ports_only():
    base = block_digests(TWO_BLOCKS)
    assert set(base) == {"top", "leaf"}
    assert block_digests(TWO_BLOCKS) == base                                   # deterministic
    body = block_digests(TWO_BLOCKS.replace("assign y = ~a;", "assign y = a;"))
    assert body["leaf"] != base["leaf"] and body["top"] == base["top"]         # blackboxed body
    ports = block_digests(TWO_BLOCKS.replace("input [3:0] a;\n  output [3:0] y;\n  assign",
                                             "input [4:0] a;\n  output [3:0] y;\n  assign"))
    assert ports["leaf"] != base["leaf"] and ports["top"] != base["top"]       # its ports count
    broken = block_digests("module top(a; endmodule garbage\nmodule leaf(a);\n")   # Yosys will say what
    assert set(broken) == {"top", "leaf"}


LEAF = """module leaf(a, y);
  input [3:0] a;
  output [3:0] y;
  assign y = a ^ {a[2:0], a[3]} ^ {a[1:0], a[3:2]} ^ (a + 4'd5);
endmodule
"""
ALONE = TWO_BLOCKS[:TWO_BLOCKS.index("module leaf")] + LEAF   # TWO_BLOCKS's top, this leaf
BESIDE = """module big(a, z);
  input [7:0] a;
  output [15:0] z;
  assign z = (a * a) ^ {a, a};
endmodule
module top(a, y, z);
  input [7:0] a;
  output [3:0] y;
  output [15:0] z;
  big big0 (
    .a(a),
    .z(z)
  );
  leaf leaf0 (
    .a(a[3:0]),
    .y(y)
  );
endmodule
""" + LEAF


def test_a_blocks_source_is_its_text_and_its_sub_blocks_ports():
    hierarchy, texts = modules(TWO_BLOCKS), module_texts(TWO_BLOCKS)
    source = block_source(texts, hierarchy, "top")
    assert source.startswith(texts["top"])
    assert "(* blackbox *)\nmodule leaf (a, y);\n  input [3:0] a;\n  output [3:0] y;\nendmodule\n" in source
    assert "~a" not in source                                                  # not the leaf's body
    assert block_source(texts, hierarchy, "leaf") == texts["leaf"]
    escaped = module_texts("module \\x.leaf (\\a.b , y);\n  input \\a.b ;\n  output signed [3:0] y;\nendmodule\n")
    stub = block_source({**escaped, "t": "module t;\nendmodule\n"}, {"t": ["x.leaf"]}, "t")
    assert "module \\x.leaf (\\a.b , y);" in stub and "  output signed [3:0] y;" in stub


@needs_yosys
def test_a_blocks_count_does_not_depend_on_the_rest_of_the_design(tmp_path):
    alone, beside = tmp_path / "alone.v", tmp_path / "beside.v"
    alone.write_text(ALONE)
    beside.write_text(BESIDE)
    first = {b.kind: b for b in synth(alone, "top", tmp_path / "a", "blocks").blocks}
    second = {b.kind: b for b in synth(beside, "top", tmp_path / "b", "blocks", jobs=1).blocks}
    assert first["leaf"].each.lut > 0 and second["big"].each.lut + second["big"].each.dsp > 0
    assert first["leaf"].digest == second["leaf"].digest
    assert first["leaf"].each.cells == second["leaf"].each.cells              # cell for cell
    files = {path.read_text() for path in (tmp_path / "b").glob("*.v") if path.name != "synth_input.v"}
    assert LEAF in files                                                       # Yosys read the leaf alone


@needs_yosys
def test_a_failed_block_stops_the_run_and_names_its_log(tmp_path):
    broken = tmp_path / "broken.v"
    broken.write_text(TWO_BLOCKS.replace("  leaf leaf0 (", "  wire w = ;\n  leaf leaf0 ("))   # top's, mapped first
    with pytest.raises(SynthError) as failed:
        synth(broken, "top", tmp_path / "w", "blocks", jobs=1)
    assert failed.value.log.name == "block1.log" and "syntax error" in failed.value.why
    assert not (tmp_path / "w" / "block0.log").exists()                       # the leaf never started


def test_a_step_is_started_and_named_as_soon_as_another_ends(tmp_path, monkeypatch):
    # a stand-in for Yosys that runs its script's lines as shell commands
    fake = tmp_path / "fake-yosys"
    fake.write_text('#!/bin/sh\nsh "$3"\n')
    fake.chmod(0o755)
    monkeypatch.setattr("hw.flow.synth.yosys_path", lambda: str(fake))
    scripts = [(name, [f"sleep {seconds}", f"touch {name}.out"], [f"{name}.out"], [name])
               for name, seconds in (("a", 2.5), ("b", 0.1), ("c", 2.5))]
    labels = []
    run_in_parallel(scripts, tmp_path, lambda done, total, label: labels.append((done, total, label)), jobs=2)
    assert labels[0] == (0, 3, "a, b")
    assert (1, 3, "a, c") in labels                                # c named the pass it starts in
    assert all((tmp_path / f"{name}.out").is_file() for name in "abc")


def test_jobs_must_be_a_positive_integer(tmp_path):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs"):
            run_in_parallel([], tmp_path, jobs=bad)


@needs_yosys
def test_blocks_of_a_known_digest_are_not_mapped_again(array_blocks, tmp_path):
    verilog, mapped = array_blocks
    pe = next(block for block in mapped.blocks if block.count > 1)
    assert pe.digest and not pe.reused_from
    known = {pe.digest: (pe.each, "tiny synth record at 0000000")}
    again = synth(verilog, "rrm_conv_pe_array", tmp_path / "again", "blocks", known=known)
    assert [(b.kind, b.each.as_dict()) for b in again.blocks] == [(b.kind, b.each.as_dict()) for b in mapped.blocks]
    assert [b.reused_from for b in again.blocks] == ["" if b is not pe else "tiny synth record at 0000000"
                                                     for b in mapped.blocks]
    stats = sorted(path.name for path in (tmp_path / "again").glob("block*.stat"))
    assert len(stats) == len(mapped.blocks) - 1                                # the PE was not mapped
    everything = {b.digest: (b.each, "r") for b in mapped.blocks}
    assert synth(verilog, "rrm_conv_pe_array", tmp_path / "none", "blocks", known=everything).total.as_dict() \
        == mapped.total.as_dict()


def test_recorded_blocks_are_found_by_digest_and_yosys_version(tmp_path):
    from scripts import results
    from scripts.commands.synth import recorded_blocks
    block = {"kind": "a.pe#", "count": 4, "each": {"lut": 3, "ff": 2, "dsp": 1, "bram18k": 0}, "digest": "d1"}
    reused = {"kind": "a.bn", "count": 1, "each": {"lut": 5, "ff": 5, "dsp": 0, "bram18k": 0}, "digest": "d2",
              "reused_from": "p0 synth record at 1111111"}
    results.record("tiny", "synth", {"mode": "blocks", "yosys": "Yosys 0.23", "blocks": [block, reused]},
                   root=tmp_path, commit={"commit": "2" * 40, "dirty": False})
    results.record("rr-mobilenet", "synth", {"mode": "blocks", "yosys": "Yosys 0.99", "blocks": [{**block, "digest": "d3"}]},
                   root=tmp_path, commit={"commit": "3" * 40, "dirty": False})
    known = recorded_blocks("Yosys 0.23", tmp_path)
    assert set(known) == {"d1", "d2"}                                          # not another Yosys's
    assert known["d1"][0].as_dict() == block["each"] and known["d1"][1] == "tiny synth record at 2222222"
    assert known["d2"][1] == "p0 synth record at 1111111"                      # where it was mapped


def test_a_block_two_runs_counted_differently_is_mapped_again(tmp_path):
    from scripts import results
    from scripts.commands.synth import recorded_blocks
    bn = {"kind": "a.bn#", "count": 1, "each": {"lut": 3383, "ff": 2882, "dsp": 32, "bram18k": 0}, "digest": "d1"}
    pe = {"kind": "a.pe#", "count": 4, "each": {"lut": 3, "ff": 2, "dsp": 1, "bram18k": 0}, "digest": "d2"}
    results.record("rr-mobilenet-fit", "synth", {"mode": "blocks", "yosys": "Yosys 0.23", "blocks": [bn, pe]},
                   root=tmp_path, commit={"commit": "2" * 40, "dirty": False})
    other = {**bn, "each": {"lut": 5114, "ff": 3508, "dsp": 32, "bram18k": 0}}
    # a third record that copied the PE's count from the first is not a second measurement
    results.record("rr-mobilenet", "synth", {"mode": "blocks", "yosys": "Yosys 0.23",
                                             "blocks": [other, {**pe, "reused_from": "rr-mobilenet-fit synth record at 2222222"}]},
                   root=tmp_path, commit={"commit": "3" * 40, "dirty": False})
    conflicts = []
    known = recorded_blocks("Yosys 0.23", tmp_path, conflicts)
    assert set(known) == {"d2"} and known["d2"][1] == "rr-mobilenet-fit synth record at 2222222"
    (kind, sources), = conflicts
    assert kind == "a.bn#" and sorted(each.lut for each in sources.values()) == [3383, 5114]


def test_cli_refuses_no_jobs(capsys):
    if shutil.which("yosys") is None:
        pytest.skip("yosys is not on the PATH")
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--preset", "tiny", "--jobs", "0"])
    assert exc.value.code == 2
    assert "--jobs must be at least 1, not 0" in capsys.readouterr().err


@needs_yosys
def test_cli_reads_a_vivado_directory_and_prints_the_paper_row(tmp_path, capsys):
    assert main(["vivado", "--preset", "tiny", "--out", str(tmp_path / "h")]) == 0
    capsys.readouterr()
    (tmp_path / "h" / "accelerator.v").write_text(block_verilog("bn_requant", TINY).replace(
        "module rrm_bn_requant(", "module rrm_accelerator("))   # a small stand-in top
    assert main(["synth", str(tmp_path / "h"), "--preset", "tiny", "--mode", "top"]) == 0
    out = capsys.readouterr().out
    assert "DSP48E2" in out and "1,452" in out and "BRAM18K analytic" in out


def test_cli_without_accelerator_v_is_a_user_error(tmp_path, capsys):
    if shutil.which("yosys") is None:
        pytest.skip("yosys is not on the PATH")
    with pytest.raises(SystemExit) as exc:
        main(["synth", str(tmp_path)])
    assert exc.value.code == 2
    assert "accelerator.v" in capsys.readouterr().err


def test_synthesis_input_keeps_the_layer_table_and_drops_zero_rams():
    """The layer table is a ROM: without its contents Yosys took its words as undefined and
    optimised the sequencer's engines away (tiny came out at half its LUTs and 48 of 208
    DSP48E2). All-zero RAMs lose their initial blocks, which only slow Yosys down."""
    text = ("  reg [7:0] layer_table [1:0];\n  initial begin\n    layer_table[0] = 8'h1f;\n"
            "    layer_table[1] = 8'h00;\n  end\n"
            "  reg [15:0] ram_pw [1:0];\n  initial begin\n    ram_pw[0] = 16'h0000;\n"
            "    ram_pw[1] = 16'h0000;\n  end\n")
    stripped = without_memory_init(text)
    assert "layer_table[0] = 8'h1f;" in stripped and "layer_table[1] = 8'h00;" in stripped
    assert "ram_pw[0]" not in stripped and "reg [15:0] ram_pw [1:0];" in stripped
    full = block_verilog("accelerator", TINY)
    kept = [m.group(2) for m in MEMORY_INIT.finditer(without_memory_init(full))]
    assert kept == ["layer_table"]


@needs_yosys
@pytest.mark.parametrize("mode", ["top", "blocks"])
def test_broken_verilog_is_one_line_and_keeps_the_log(tmp_path, capsys, mode):
    """A broken accelerator.v: exit 2, Yosys's error on one line, and the log kept (the
    temporary work directory is gone by then) (issue 27)."""
    (tmp_path / "accelerator.v").write_text("module rrm_accelerator(input a; endmodule garbage\n")
    with pytest.raises(SystemExit) as info:
        main(["synth", str(tmp_path), "--preset", "tiny", "--mode", mode])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert info.value.code == 2 and "yosys failed" in err and "ERROR" in err and "Traceback" not in err
    kept = err.rsplit("log kept: ", 1)[1]
    assert "syntax error" in open(kept).read()
    import os
    os.unlink(kept)
