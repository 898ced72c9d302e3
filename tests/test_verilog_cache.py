"""hw.flow.verilog.block_verilog's cache: a converted text is read back only for the same
block, spec, tool versions and sources."""

from __future__ import annotations

from hw.flow import verilog as flow_verilog
from rrm.presets import load_preset

TINY = load_preset("tiny")


def test_a_cached_text_is_the_converted_one_and_is_read_back(tmp_path, monkeypatch):
    text = flow_verilog.block_verilog("bn_requant", TINY, tmp_path)
    assert text == flow_verilog.block_verilog("bn_requant", TINY)
    (cached,) = tmp_path.glob("bn_requant-*.v")
    cached.write_text("// stands for the cached text")
    assert flow_verilog.block_verilog("bn_requant", TINY, tmp_path) == "// stands for the cached text"
    # nothing half-written is left beside it
    assert [path.name for path in tmp_path.iterdir()] == [cached.name]


def test_the_key_follows_block_spec_tools_and_sources(monkeypatch):
    key = flow_verilog.verilog_cache_key("bn_requant", TINY)
    assert key == flow_verilog.verilog_cache_key("bn_requant", TINY)
    assert key != flow_verilog.verilog_cache_key("fc", TINY)
    assert key != flow_verilog.verilog_cache_key("bn_requant", load_preset("rr-mobilenet"))
    monkeypatch.setattr(flow_verilog, "_sources_digest", lambda: "a source changed")
    assert key != flow_verilog.verilog_cache_key("bn_requant", TINY)
    monkeypatch.undo()
    monkeypatch.setattr(flow_verilog, "_tool_versions", lambda: "amaranth 9.9")
    assert key != flow_verilog.verilog_cache_key("bn_requant", TINY)


def test_the_sources_are_every_module_of_hw_and_rrm():
    names = {name for name, _ in flow_verilog.source_files()}
    assert {"hw/flow/verilog.py", "hw/blocks/patch_buffer.py", "rrm/spec.py", "rrm/memory_map.py"} <= names
    assert not any(name.startswith(("tb/", "scripts/", "golden/", "sw/")) for name in names)
