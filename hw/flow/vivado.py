"""The Vivado hand-off: Verilog top, memory init files, XDC and a project TCL script.

:func:`write_handoff` writes into one directory:

- ``accelerator.v``: :class:`hw.top.accelerator.Accelerator` with the IP-integrator
  interface names (``aclk``, ``aresetn``, ``s_axis_*``, ``m_axis_*``,
  ``s_axis_param_*``). With an artifact, the parameter RAMs read
  ``ram_<name>.mem`` with ``$readmemh`` and ``params_loaded`` is 1 from power-up,
  so the bitstream classifies images without a parameter stream;
- ``ram_<name>.mem`` (with an artifact): one hex word per line, word 0 first;
- ``constraints.xdc``: the spec's clock on ``aclk``;
- ``build.tcl``: creates a project for the part of the spec's device
  (:attr:`rrm.devices.Device.part`; xczu9eg: the ZCU102's ``xczu9eg-ffvb1156-2-e``), adds the
  sources and constraints, runs out-of-context synthesis (the top is a block for
  IP integrator: its ports are not pins) and implementation, and writes
  utilisation and timing reports into ``reports/``.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from rrm.devices import get_device
from rrm.errors import UserError
from rrm.memory_map import memory_map
from rrm.param_stream import ram_words
from rrm.spec import Spec

from ..top.accelerator import Accelerator
from .verilog import module_name, rewrite_memory_init

TOP = module_name("accelerator")


def init_file_name(ram: str) -> str:
    return f"ram_{ram}.mem"


def with_readmemh(text: str, rams: list) -> str:
    """Replace each parameter RAM's ``initial`` block (one line per word, all zero) with a
    ``$readmemh`` of its init file."""
    names = {f"ram_{ram}": ram for ram in rams}
    text, rewritten = rewrite_memory_init(
        text, lambda name, _values: (f'  initial $readmemh("{init_file_name(names[name])}", {name});\n'
                                     if name in names else None))
    if sorted(rewritten) != sorted(names):
        raise RuntimeError(f"the Verilog has initial blocks for {sorted(rewritten)}, "
                           f"expected one for each of {sorted(names)}")
    return text


def hex_lines(words: list, width: int) -> str:
    digits = -(-width // 4)
    return "".join(f"{int(word):0{digits}x}\n" for word in words)


def comment_text(text: str) -> str:
    """``text`` for a ``#`` comment of a TCL or XDC file, or UserError.

    A Tcl comment ends at a newline (and a backslash before it continues it onto the next
    line): a newline, carriage return or other control character, or a backslash, would let
    what follows run in Vivado. The spec refuses such names already (rrm.spec.NAME_PATTERN);
    this refuses them again where they would do harm.
    """
    if any(not " " <= char <= "~" or char == "\\" for char in text):
        raise UserError(f"{text!r} cannot go into a TCL/XDC comment (control character, "
                        f"backslash or non-ASCII)")
    return text


def xdc(spec: Spec) -> str:
    period = 1000.0 / spec.hardware.clock_mhz
    return (f"# {comment_text(spec.network.name)}: {spec.hardware.clock_mhz:g} MHz on aclk\n"
            f"create_clock -name aclk -period {period:.3f} [get_ports aclk]\n")


def build_tcl(spec: Spec, sources: list) -> str:
    files = " ".join(f"[file join $here {name}]" for name in sources)
    device = get_device(spec.hardware.device)
    name = comment_text(spec.network.name)
    return f"""# Vivado project for {name} on a {device.board} ({device.part}), written by `rrm vivado`.
# Run from any directory:  vivado -mode batch -source build.tcl
# The top is a block for IP integrator (AXI4-Stream ports, not pins): synthesis runs
# out of context, and the reports are written to reports/ next to this script.
set here [file dirname [file normalize [info script]]]
create_project -force rr_mobilenet [file join $here vivado] -part {device.part}
add_files -norecurse [list {files}]
add_files -fileset constrs_1 -norecurse [file join $here constraints.xdc]
set_property top {TOP} [current_fileset]
set_property -name {{STEPS.SYNTH_DESIGN.ARGS.MORE OPTIONS}} -value {{-mode out_of_context}} -objects [get_runs synth_1]
file mkdir [file join $here reports]
launch_runs synth_1 -jobs 4
wait_on_run synth_1
open_run synth_1
report_utilization -file [file join $here reports utilization_synth.rpt]
launch_runs impl_1 -jobs 4
wait_on_run impl_1
open_run impl_1
report_utilization -file [file join $here reports utilization_impl.rpt]
report_timing_summary -file [file join $here reports timing_impl.rpt]
"""


def write_handoff(spec: Spec, out_dir: Path, artifact=None) -> list:
    """Write the hand-off files (see the module docstring); returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    preloaded = artifact is not None
    text = verilog.convert(Accelerator(spec, preloaded=preloaded), name=TOP, emit_src=False)
    written = []
    sources = ["accelerator.v"]
    if preloaded:
        mmap = memory_map(spec)
        words = ram_words(artifact, mmap)
        rams = [ram.name for ram in mmap.param_rams]
        text = with_readmemh(text, rams)
        for ram in mmap.param_rams:
            path = out_dir / init_file_name(ram.name)
            path.write_text(hex_lines(words[ram.name], ram.width))
            written.append(path)
            sources.append(path.name)
    (out_dir / "accelerator.v").write_text(text)
    (out_dir / "constraints.xdc").write_text(xdc(spec))
    (out_dir / "build.tcl").write_text(build_tcl(spec, sources))
    return [out_dir / "accelerator.v", *written, out_dir / "constraints.xdc", out_dir / "build.tcl"]
