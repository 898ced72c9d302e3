"""``rrm vivado --system``: the block design's TCL runs in a plain Tcl with Vivado's commands
stubbed (tests/tcl_stub.tcl: every script parses, its control flow runs, every file it adds
or sources exists), and it builds what docs/host.md says (Vivado itself is not run here).

The Tcl is ``tclsh`` when it is installed (.ci/run installs it), else Python's own Tcl
(tkinter); without either the TCL checks are skipped with that reason."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hw.flow.system import ADDRESS_MAP, BOARDS, FILES, write_system
from rrm import csr_map
from scripts.cli import main

from .specs import TINY

STUB = Path(__file__).with_name("tcl_stub.tcl")
HAVE_TCL = shutil.which("tclsh") is not None or importlib.util.find_spec("tkinter") is not None
needs_tcl = pytest.mark.skipif(not HAVE_TCL, reason="neither tclsh nor Python's tkinter is installed: "
                                                    "the block design's TCL is not run")


def run_stubbed(script: Path) -> list:
    """The notes of tests/tcl_stub.tcl running ``script`` (from the script's directory)."""
    if shutil.which("tclsh"):
        result = subprocess.run(["tclsh", str(STUB), script.name], cwd=script.parent,
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name} failed under tclsh: {result.stderr}"
        return result.stdout.splitlines()
    import tkinter
    tcl = tkinter.Tcl()
    tcl.eval(f"cd {{{script.parent}}}; set ::argv [list {{{script.name}}}]; set ::embedded 1")
    tcl.eval(f"source {{{STUB}}}")
    return list(tcl.splitlist(tcl.eval("set ::notes")))


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    out = tmp_path_factory.mktemp("system")
    paths = write_system(TINY, out)
    return out, paths


def test_the_files_are_written(system):
    out, paths = system
    assert [path.name for path in paths] == list(FILES)
    assert "module rrm_system(" in (out / "rrm_system.v").read_text()
    assert csr_map.markdown_table() in (out / "address_map.md").read_text()


@needs_tcl
def test_build_tcl_runs_stubbed_and_builds_the_system(system):
    out, _ = system
    notes = run_stubbed(out / "build.tcl")
    assert notes[-1] == "DONE"
    sourced = [line.split(" ", 1)[1] for line in notes if line.startswith("SOURCE ")]
    assert [Path(path).name for path in sourced] == ["build.tcl", "package_ip.tcl", "system_bd.tcl"]
    calls = [line[len("CALL "):] for line in notes if line.startswith("CALL ")]
    # every file the scripts add exists (the wrapper is Vivado's own, returned by make_wrapper)
    added = [word for call in calls if call.startswith("add_files")
             for word in call.split() if word.startswith("/")]
    assert added and all(Path(path).is_file() for path in added), added
    assert {Path(path).name for path in added} == {"rrm_system.v"}

    def called(pattern: str) -> bool:
        return any(re.search(pattern, call) for call in calls)

    board = BOARDS[TINY.hardware.device]
    assert called(rf"get_board_parts -latest_file_version \*:{board}:\*")
    assert called(r"ipx::package_project .* -vendor rr-mobilenet.org -library rrm")
    assert called(r"create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e ps")
    assert called(r"CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ \{?150\}?")   # tiny's clock
    assert called(r"apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config \{apply_board_preset \"?1")
    assert called(rf"create_bd_cell -type ip -vlnv {csr_map.IP_VLNV} {csr_map.IP_CELL}")
    for dma in (csr_map.IMAGE_DMA, csr_map.PARAM_DMA):
        assert called(rf"create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma {dma}")
    assert called(rf"connect_bd_net .*{csr_map.IP_CELL}/irq.*interrupts/In0")
    assert called(r"connect_bd_net .*interrupts/dout.*ps/pl_ps_irq0")
    assert called(r"connect_bd_intf_net .*ps/M_AXI_HPM0_FPD")
    assert called(r"connect_bd_intf_net .*memory_interconnect/M00_AXI.*ps/S_AXI_HP0_FPD")
    for cell, port, offset, size in ADDRESS_MAP:
        assert called(rf"assign_bd_address -offset 0x{offset:08X} -range 0x{size:X} .*{cell}/{port}/")
    assert called(r"launch_runs impl_1 -to_step write_bitstream")
    assert called(r"write_hw_platform -fixed -include_bit")
    assert called(r"file copy -force .*overlay/rrm_system.bit")
    assert called(r"file copy -force .*overlay/rrm_system.hwh")


@needs_tcl
def test_the_stubbed_run_catches_a_broken_script(system, tmp_path):
    out, _ = system
    broken = tmp_path / "build.tcl"
    broken.write_text((out / "build.tcl").read_text().replace("if {$board_part eq \"\"} {", "if {$board_part eq \"\"", 1))
    with pytest.raises(AssertionError, match="failed|missing|extra"):
        notes = run_stubbed(broken)
        assert notes[-1] == "DONE", notes[-3:]


def test_every_device_a_spec_may_name_has_a_board():
    from rrm.devices import DEVICES
    assert set(BOARDS) == set(DEVICES)
    assert BOARDS["xczu9eg"] == "zcu102"


def test_rrm_vivado_system_writes_the_files(tmp_path, capsys):
    out = tmp_path / "system"
    assert main(["vivado", "--preset", "tiny", "--system", "--out", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(FILES)
    assert "vivado -mode batch -source build.tcl" in capsys.readouterr().out


@needs_tcl
@pytest.mark.parametrize("preset, image_pixels, dma_bytes, beat_bytes",
                         [("rr-mobilenet", 1, 4, 3), ("rr-mobilenet-packed", 2, 8, 6)])
def test_the_zcu102_design_streams_a_beat_a_cycle(tmp_path, preset, image_pixels, dma_bytes, beat_bytes):
    """rr-mobilenet (xczu9eg: the ZCU102; 3 channels) with one and two pixels a beat: the
    block design alone, stubbed; the DMA streams a power of two bytes a cycle, at least a
    beat, and the width converter cuts them into beats (no Verilog is written)."""
    from hw.flow.system import build_tcl, image_dma_bytes, system_bd_tcl
    from rrm.presets import load_preset
    spec = load_preset(preset)
    assert spec.hardware.image_pixels == image_pixels and image_dma_bytes(spec) == dma_bytes
    script = tmp_path / "system_bd.tcl"
    script.write_text(system_bd_tcl(spec))
    calls = [line[len("CALL "):] for line in run_stubbed(script) if line.startswith("CALL ")]
    assert any(re.search(rf"CONFIG.S_TDATA_NUM_BYTES \{{?{dma_bytes}\}}? CONFIG.M_TDATA_NUM_BYTES \{{?{beat_bytes}\}}?",
                         call) for call in calls)
    assert any(re.search(rf"c_m_axis_mm2s_tdata_width \{{?{8 * dma_bytes}\}}?", call) for call in calls)
    assert any(re.search(rf"{csr_map.IMAGE_DMA}/M_AXIS_MM2S .*pixel_width/S_AXIS", call) for call in calls)
    assert any(re.search(rf"pixel_width/M_AXIS .*{csr_map.IP_CELL}/s_axis$", call) for call in calls)
    assert any(re.search(r"c_m_axis_mm2s_tdata_width \{?128\}?", call) for call in calls)   # the parameter DMA
    assert "*:zcu102:*" in build_tcl(spec)
