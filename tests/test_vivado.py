"""``rrm vivado``: the hand-off files are well-formed and name files that exist (Vivado is
not run here; tb/test_vivado.py simulates the init-file build)."""

from pathlib import Path

import pytest

from golden.random_weights import random_artifact
from hw.flow.vivado import TOP, write_handoff
from rrm.devices import get_device
from rrm.memory_map import memory_map
from rrm.param_stream import ram_words
from scripts.cli import main

from .specs import TINY

#: Vivado's commands as Tcl procs that record their arguments, so the script runs in a plain Tcl.
STUBS = """
set calls {}
foreach cmd {create_project add_files set_property launch_runs wait_on_run open_run
             report_utilization report_timing_summary} {
    proc $cmd args "lappend ::calls \\[list $cmd {*}\\$args\\]"
}
proc get_runs {name} { return $name }
proc current_fileset {} { return sources_1 }
"""


def run_tcl(script_path: Path) -> list:
    tkinter = pytest.importorskip("tkinter")
    tcl = tkinter.Tcl()
    tcl.eval(STUBS)
    tcl.eval(f"source {{{script_path}}}")
    return [tcl.splitlist(call) for call in tcl.splitlist(tcl.eval("set calls"))]


@pytest.fixture(scope="module")
def handoff(tmp_path_factory):
    out = tmp_path_factory.mktemp("vivado")
    artifact = random_artifact(TINY, 7)
    write_handoff(TINY, out, artifact)
    return out, artifact


def test_tcl_builds_a_project_for_the_specs_device_from_files_that_exist(handoff):
    out, _ = handoff
    calls = run_tcl(out / "build.tcl")
    names = [call[0] for call in calls]
    part = get_device(TINY.hardware.device).part
    assert names[0] == "create_project" and part in calls[0] and part == "xczu3eg-sbva484-1-e"
    for call in calls:
        if call[0] == "add_files":
            files = [f for arg in call[1:] if not arg.startswith("-") and arg != "constrs_1"
                     for f in arg.split()]
            assert files and all(Path(f).is_file() for f in files), files
    added = " ".join(" ".join(call) for call in calls if call[0] == "add_files")
    for name in ("accelerator.v", "constraints.xdc", "ram_pw.mem", "ram_shift.mem"):
        assert name in added
    assert ["set_property", "top", TOP, "sources_1"] in [list(call) for call in calls]
    assert names.index("launch_runs") < names.index("report_timing_summary")
    assert sum(name == "report_utilization" for name in names) == 2


def test_xdc_constrains_aclk_at_the_spec_clock(handoff):
    out, _ = handoff
    text = (out / "constraints.xdc").read_text()
    period = 1000 / TINY.hardware.clock_mhz
    assert f"create_clock -name aclk -period {period:.3f} [get_ports aclk]" in text


def test_init_files_hold_every_parameter_word(handoff):
    out, artifact = handoff
    mmap = memory_map(TINY)
    words = ram_words(artifact, mmap)
    verilog = (out / "accelerator.v").read_text()
    assert "module rrm_accelerator(" in verilog.replace(" (", "(")
    for ram in mmap.param_rams:
        lines = (out / f"ram_{ram.name}.mem").read_text().split()
        assert [int(line, 16) for line in lines] == [int(w) for w in words[ram.name]]
        assert len(lines) == ram.depth
        assert f'$readmemh("ram_{ram.name}.mem", ram_{ram.name});' in verilog


def test_spec_only_handoff_has_no_init_files(tmp_path, capsys):
    assert main(["vivado", "--preset", "tiny", "--out", str(tmp_path / "h")]) == 0
    files = sorted(p.name for p in (tmp_path / "h").iterdir())
    assert files == ["accelerator.v", "build.tcl", "constraints.xdc"]
    assert "readmemh" not in (tmp_path / "h" / "accelerator.v").read_text()
    run_tcl(tmp_path / "h" / "build.tcl")


@pytest.mark.parametrize("case", ["non-empty out", "missing parent", "artifact and preset"])
def test_bad_input_is_refused_before_writing(case, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["vivado", "--preset", "tiny", "--out", str(out)]
    if case == "non-empty out":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "missing parent":
        args[-1] = str(tmp_path / "no" / "such" / "dir")
    else:
        args = ["vivado", str(tmp_path / "art"), "--preset", "tiny", "--out", str(out)]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip()
    if case == "non-empty out":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()


def test_the_part_comes_from_the_specs_device():
    import dataclasses

    from hw.flow.vivado import build_tcl
    spec = dataclasses.replace(TINY, hardware=dataclasses.replace(TINY.hardware, device="xczu7ev"))
    tcl = build_tcl(spec, ["accelerator.v"])
    assert "-part xczu7ev-ffvc1156-2-e" in tcl and "ZCU104" in tcl and "xczu9eg" not in tcl
