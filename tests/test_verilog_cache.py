"""hw.flow.verilog.block_verilog's cache: a converted text is read back only for the same
block, spec, tool versions and sources."""

from __future__ import annotations

import json

from hw.flow import verilog as flow_verilog
from rrm.presets import load_preset
from rrm.spec import Spec

TINY = load_preset("tiny")


def test_a_cached_text_is_the_converted_one_and_is_read_back(tmp_path):
    text = flow_verilog.block_verilog("bn_requant", TINY, tmp_path)
    assert text == flow_verilog.block_verilog("bn_requant", TINY)
    (cached,) = tmp_path.glob("bn_requant-*.v")
    marked = text.replace("endmodule", "// read back\nendmodule", 1)
    cached.write_text(marked)
    assert flow_verilog.block_verilog("bn_requant", TINY, tmp_path) == marked
    # nothing half-written is left beside it
    assert [path.name for path in tmp_path.iterdir()] == [cached.name]


def test_a_cut_short_file_is_converted_again(tmp_path):
    text = flow_verilog.block_verilog("bn_requant", TINY, tmp_path)
    (cached,) = tmp_path.glob("bn_requant-*.v")
    cached.write_text(text[: len(text) // 2])
    assert flow_verilog.block_verilog("bn_requant", TINY, tmp_path) == text
    assert cached.read_text() == text


def test_the_key_follows_block_spec_tools_and_sources(monkeypatch):
    key = flow_verilog.verilog_cache_key("bn_requant", TINY)
    assert key == flow_verilog.verilog_cache_key("bn_requant", TINY)
    assert key != flow_verilog.verilog_cache_key("fc", TINY)
    data = json.loads(TINY.to_json())
    data["hardware"]["lanes"] += 1
    assert key != flow_verilog.verilog_cache_key("bn_requant", Spec.from_json(json.dumps(data)))
    with monkeypatch.context() as patch:
        patch.setattr(flow_verilog, "_sources_digest", lambda: "a source changed")
        assert key != flow_verilog.verilog_cache_key("bn_requant", TINY)


def test_the_key_names_the_yosys_amaranth_converts_with(monkeypatch):
    from amaranth._toolchain import yosys

    key = flow_verilog.verilog_cache_key("bn_requant", TINY)

    class _SystemYosys:
        @staticmethod
        def version():
            return (0, 45, 0, 0)

    monkeypatch.setattr(yosys, "find_yosys", lambda requirement: _SystemYosys)
    assert "_SystemYosys (0, 45, 0, 0)" in flow_verilog._tool_versions()
    assert key != flow_verilog.verilog_cache_key("bn_requant", TINY)


def test_the_sources_are_every_module_of_hw_and_rrm():
    names = {name for name, _ in flow_verilog.source_files()}
    assert {"hw/flow/verilog.py", "hw/blocks/patch_buffer.py", "rrm/spec.py", "rrm/memory_map.py"} <= names
    assert not any(name.startswith(("tb/", "scripts/", "golden/", "sw/")) for name in names)
