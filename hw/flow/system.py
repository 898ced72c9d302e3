"""The system hand-off: the accelerator as a packaged IP in a Zynq UltraScale+ block design
(``rrm vivado --system``; docs/host.md, paper Fig. 2).

:func:`write_system` writes into one directory:

- ``rrm_system.v``: :class:`hw.top.system.AcceleratorSystem` (the accelerator, its AXI4-Lite
  register block and interrupt); its parameters arrive through the parameter stream
  (``rrm run --board`` loads them with the host driver);
- ``package_ip.tcl``: Vivado's IP packager turns the Verilog into an IP-XACT core under
  ``ip_repo/`` with VLNV :data:`VLNV` (the one :mod:`host.board` binds its PYNQ driver
  to): AXI4-Lite slave ``s_axi_ctrl`` (a 4 KiB register window), AXI4-Stream ``s_axis``,
  ``s_axis_param`` and ``m_axis``, clock ``aclk``, reset ``aresetn``, interrupt ``irq``;
- ``system_bd.tcl``: the block design: the Zynq UltraScale+ processing system with the
  board preset, the PL clock at the spec's frequency, a processor system reset, AXI DMA
  ``dma_image`` (MM2S: images, a power of two bytes a cycle, through a width converter into
  image beats when a beat is not; S2MM: results) and ``dma_param`` (MM2S: the parameter stream), a SmartConnect from
  the PS's HPM0 master to the register block and the DMAs' registers, one from the DMAs to
  the PS's HP0 port, the interrupts concatenated onto ``pl_ps_irq0``, and the address map
  of :data:`ADDRESS_MAP`;
- ``build.tcl``: packages the IP, creates the project for the board, makes the block design, validates
  the design, writes its wrapper, synthesises, implements, writes the bitstream, exports the
  hardware handoff (``rrm_system.xsa``) and copies ``rrm_system.bit`` and ``rrm_system.hwh``
  into ``overlay/`` for PYNQ;
- ``address_map.md``: the address map and the register map (:mod:`rrm.csr_map`).

Only Zynq UltraScale+ devices with a known board are accepted (:data:`BOARDS`). The IP
carries no clock constraint: its ``aclk`` is the PS's ``pl_clk0``, which the block design sets
to the spec's frequency and the PS's own constraints time.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from rrm import csr_map
from rrm.devices import get_device
from rrm.errors import UserError
from rrm.spec import Spec

from ..top.csr import AXI_LITE_PORTS
from ..engines.classifier import result_bits as result_bits_of
from ..engines.image_loader import image_beat_bits
from ..top.system import SYSTEM_PARAM_BEAT_BITS, AcceleratorSystem
from .verilog import module_name
from .vivado import comment_text

TOP = module_name("system")
#: The packaged IP's VLNV and the cell names, shared with host/board.py through rrm.csr_map.
VLNV = csr_map.IP_VLNV
IP_CELL, IMAGE_DMA, PARAM_DMA = csr_map.IP_CELL, csr_map.IMAGE_DMA, csr_map.PARAM_DMA
#: The board of each device the system design knows: (board name in Vivado's board
#: catalogue, matched with get_board_parts; the board preset of the PS comes from it).
BOARDS = {"xczu9eg": "zcu102", "xczu7ev": "zcu104", "xczu3eg": "ultra96v2"}
#: The PS's view of the PL: (cell, its AXI4-Lite slave, segment) -> (offset, range) in the
#: PS's HPM0 FPD window.
ADDRESS_MAP = (
    (IP_CELL, "s_axi_ctrl", 0xA000_0000, csr_map.WINDOW_BYTES),
    (IMAGE_DMA, "S_AXI_LITE", 0xA001_0000, 0x1_0000),
    (PARAM_DMA, "S_AXI_LITE", 0xA002_0000, 0x1_0000),
)
#: The files the hand-off holds, in the order they are written.
FILES = ("rrm_system.v", "package_ip.tcl", "system_bd.tcl", "build.tcl", "address_map.md")


def board_of(spec: Spec) -> str:
    """The Vivado board name for the spec's device; UserError for a device without one."""
    device = spec.hardware.device.lower()
    if device not in BOARDS:
        raise UserError(f"--system: device {device!r} has no known board (known: "
                        f"{', '.join(f'{d} ({b})' for d, b in BOARDS.items())})")
    return BOARDS[device]


def _interfaces() -> dict:
    """Bus interface -> its ports, for the packager."""
    ctrl = [f"s_axi_ctrl_{name}" for name, _direction, _width in AXI_LITE_PORTS]
    streams = {prefix: [f"{prefix}_{port}" for port in ("tdata", "tvalid", "tready", "tlast")]
               for prefix in ("s_axis", "s_axis_param", "m_axis")}
    streams["m_axis"].append("m_axis_tkeep")
    return {"s_axi_ctrl": ctrl, **streams}


def package_ip_tcl(spec: Spec) -> str:
    part = get_device(spec.hardware.device).part
    vendor, library, name, version = VLNV.split(":")
    interfaces = [(interface, ports, "aximm_rtl" if interface == "s_axi_ctrl" else "axis_rtl")
                  for interface, ports in _interfaces().items()]
    interfaces += [("aclk", ["aclk"], "signal:clock_rtl"), ("aresetn", ["aresetn"], "signal:reset_rtl"),
                   ("irq", ["irq"], "signal:interrupt_rtl")]
    table = "\n".join(f"    {interface} {{{' '.join(ports)}}} {kind if ':' in kind else 'interface:' + kind}"
                      for interface, ports, kind in interfaces)
    associate = " ".join(_interfaces())
    return f"""# Package {TOP} ({comment_text(spec.network.name)}) as the IP {VLNV}, written by `rrm vivado --system`.
# Sourced by build.tcl before it opens its project (a project of its own, in memory, closed at
# the end); writes ip_repo/ next to this script.
set here [file dirname [file normalize [info script]]]
set ip_dir [file join $here ip_repo rrm_system]
file mkdir $ip_dir
create_project -force -in_memory rrm_system_pkg -part {part}
add_files -norecurse [list [file join $here rrm_system.v]]
set_property top {TOP} [current_fileset]
update_compile_order -fileset sources_1
ipx::package_project -root_dir $ip_dir -vendor {vendor} -library {library} -taxonomy /UserIP -import_files -force
set core [ipx::current_core]
set_property name {name} $core
set_property version {version} $core
set_property display_name {{rr-mobilenet accelerator ({comment_text(spec.network.name)})}} $core
set_property description {{MobileNet-v1 accelerator with an AXI4-Lite register block (docs/host.md)}} $core
# the interfaces: the packager infers them from the port names; any it missed are inferred here
foreach {{busif ports kind}} {{
{table}
}} {{
    if {{[llength [ipx::get_bus_interfaces $busif -of_objects $core]] == 0}} {{
        ipx::infer_bus_interface $ports xilinx.com:$kind:1.0 $core
    }}
    if {{[llength [ipx::get_bus_interfaces $busif -of_objects $core]] == 0}} {{
        error "the IP packager made no interface $busif of the ports $ports"
    }}
}}
foreach busif {{{associate}}} {{
    ipx::associate_bus_interfaces -busif $busif -clock aclk $core
}}
set_property value ACTIVE_LOW [ipx::add_bus_parameter POLARITY [ipx::get_bus_interfaces aresetn -of_objects $core]]
set_property value LEVEL_HIGH [ipx::add_bus_parameter SENSITIVITY [ipx::get_bus_interfaces irq -of_objects $core]]
# the register window of s_axi_ctrl (rrm.csr_map: 0x{csr_map.WINDOW_BYTES:x} bytes)
set map [ipx::add_memory_map s_axi_ctrl $core]
set_property slave_memory_map_ref s_axi_ctrl [ipx::get_bus_interfaces s_axi_ctrl -of_objects $core]
set block [ipx::add_address_block reg0 $map]
set_property range {csr_map.WINDOW_BYTES} $block
set_property width 32 $block
ipx::create_xgui_files $core
ipx::update_checksums $core
ipx::check_integrity $core
ipx::save_core $core
close_project
"""


def image_dma_bytes(spec: Spec) -> int:
    """Bytes of the image DMA's stream: a power of two (the AXI DMA's MM2S widths) no
    narrower than one image beat, so that the image can arrive a beat per cycle."""
    return 1 << (image_beat_bits(spec) // 8 - 1).bit_length()


def system_bd_tcl(spec: Spec) -> str:
    beat_bytes = image_beat_bits(spec) // 8
    dma_bytes = image_dma_bytes(spec)
    result_bits = result_bits_of(spec)   # the width of AcceleratorSystem's m_axis_tdata
    param_bits = SYSTEM_PARAM_BEAT_BITS
    image_path = (f"connect_bd_intf_net [get_bd_intf_pins {IMAGE_DMA}/M_AXIS_MM2S] "
                  f"[get_bd_intf_pins {IP_CELL}/s_axis]")
    if dma_bytes != beat_bytes:
        image_path = f"""# a beat is {beat_bytes} bytes ({spec.hardware.image_pixels} pixel(s) of {spec.network.input_channels} bytes): the DMA streams {dma_bytes} bytes a cycle, the converter cuts them into beats
create_bd_cell -type ip -vlnv xilinx.com:ip:axis_dwidth_converter pixel_width
set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {{{dma_bytes}}} CONFIG.M_TDATA_NUM_BYTES {{{beat_bytes}}} \\
    CONFIG.HAS_TLAST {{1}} CONFIG.HAS_TKEEP {{1}}] [get_bd_cells pixel_width]
connect_bd_intf_net [get_bd_intf_pins {IMAGE_DMA}/M_AXIS_MM2S] [get_bd_intf_pins pixel_width/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins pixel_width/M_AXIS] [get_bd_intf_pins {IP_CELL}/s_axis]
connect_bd_net -net pl_clk [get_bd_pins pixel_width/aclk]
connect_bd_net -net pl_resetn [get_bd_pins pixel_width/aresetn]"""
    addresses = "\n".join(
        f"assign_bd_address -offset 0x{offset:08X} -range 0x{size:X} -target_address_space "
        f"[get_bd_addr_spaces ps/Data] [get_bd_addr_segs {cell}/{port}/*] -force"
        for cell, port, offset, size in ADDRESS_MAP)
    return f"""# Block design rrm_system_bd for {comment_text(spec.network.name)}, written by `rrm vivado --system`.
# Sourced by build.tcl inside its project, after package_ip.tcl made the IP; the paper's Fig. 2 as a ZCU102 system.
create_bd_design rrm_system_bd

# the processing system with the board preset; the PL clock at {spec.hardware.clock_mhz:g} MHz
create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e ps
apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {{apply_board_preset "1"}} [get_bd_cells ps]
set_property -dict [list CONFIG.PSU__USE__M_AXI_GP0 {{1}} CONFIG.PSU__USE__M_AXI_GP1 {{0}} \\
    CONFIG.PSU__USE__M_AXI_GP2 {{0}} CONFIG.PSU__USE__S_AXI_GP2 {{1}} \\
    CONFIG.PSU__SAXIGP2__DATA_WIDTH {{128}} CONFIG.PSU__USE__IRQ0 {{1}} \\
    CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {{{spec.hardware.clock_mhz:g}}}] [get_bd_cells ps]
create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset reset
create_bd_net pl_clk
create_bd_net pl_resetn
connect_bd_net -net pl_clk [get_bd_pins ps/pl_clk0] [get_bd_pins reset/slowest_sync_clk] \\
    [get_bd_pins ps/maxihpm0_fpd_aclk] [get_bd_pins ps/saxihp0_fpd_aclk]
connect_bd_net [get_bd_pins ps/pl_resetn0] [get_bd_pins reset/ext_reset_in]
connect_bd_net -net pl_resetn [get_bd_pins reset/peripheral_aresetn]

# the accelerator (package_ip.tcl's IP) and its DMA engines
create_bd_cell -type ip -vlnv {VLNV} {IP_CELL}
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma {IMAGE_DMA}
set_property -dict [list CONFIG.c_include_sg {{0}} CONFIG.c_sg_length_width {{26}} \\
    CONFIG.c_include_mm2s {{1}} CONFIG.c_m_axis_mm2s_tdata_width {{{8 * dma_bytes}}} \\
    CONFIG.c_include_s2mm {{1}} CONFIG.c_s_axis_s2mm_tdata_width {{{result_bits}}} \\
    CONFIG.c_m_axi_mm2s_data_width {{{max(128, 8 * dma_bytes)}}} CONFIG.c_m_axi_s2mm_data_width {{128}} \\
    CONFIG.c_mm2s_burst_size {{64}} CONFIG.c_s2mm_burst_size {{64}}] [get_bd_cells {IMAGE_DMA}]
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma {PARAM_DMA}
set_property -dict [list CONFIG.c_include_sg {{0}} CONFIG.c_sg_length_width {{26}} \\
    CONFIG.c_include_mm2s {{1}} CONFIG.c_m_axis_mm2s_tdata_width {{{param_bits}}} \\
    CONFIG.c_include_s2mm {{0}} CONFIG.c_m_axi_mm2s_data_width {{128}} \\
    CONFIG.c_mm2s_burst_size {{256}}] [get_bd_cells {PARAM_DMA}]
{image_path}
connect_bd_intf_net [get_bd_intf_pins {PARAM_DMA}/M_AXIS_MM2S] [get_bd_intf_pins {IP_CELL}/s_axis_param]
connect_bd_intf_net [get_bd_intf_pins {IP_CELL}/m_axis] [get_bd_intf_pins {IMAGE_DMA}/S_AXIS_S2MM]

# the PS's HPM0 master to the registers; the DMAs to the PS's HP0 port (128 bits)
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_interconnect
set_property -dict [list CONFIG.NUM_SI {{1}} CONFIG.NUM_MI {{3}}] [get_bd_cells ctrl_interconnect]
connect_bd_intf_net [get_bd_intf_pins ps/M_AXI_HPM0_FPD] [get_bd_intf_pins ctrl_interconnect/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_interconnect/M00_AXI] [get_bd_intf_pins {IP_CELL}/s_axi_ctrl]
connect_bd_intf_net [get_bd_intf_pins ctrl_interconnect/M01_AXI] [get_bd_intf_pins {IMAGE_DMA}/S_AXI_LITE]
connect_bd_intf_net [get_bd_intf_pins ctrl_interconnect/M02_AXI] [get_bd_intf_pins {PARAM_DMA}/S_AXI_LITE]
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect memory_interconnect
set_property -dict [list CONFIG.NUM_SI {{3}} CONFIG.NUM_MI {{1}}] [get_bd_cells memory_interconnect]
connect_bd_intf_net [get_bd_intf_pins {IMAGE_DMA}/M_AXI_MM2S] [get_bd_intf_pins memory_interconnect/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins {IMAGE_DMA}/M_AXI_S2MM] [get_bd_intf_pins memory_interconnect/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins {PARAM_DMA}/M_AXI_MM2S] [get_bd_intf_pins memory_interconnect/S02_AXI]
connect_bd_intf_net [get_bd_intf_pins memory_interconnect/M00_AXI] [get_bd_intf_pins ps/S_AXI_HP0_FPD]

# clocks and resets of the PL cells
foreach pin {{{IP_CELL}/aclk {IMAGE_DMA}/s_axi_lite_aclk {IMAGE_DMA}/m_axi_mm2s_aclk {IMAGE_DMA}/m_axi_s2mm_aclk
             {PARAM_DMA}/s_axi_lite_aclk {PARAM_DMA}/m_axi_mm2s_aclk ctrl_interconnect/aclk memory_interconnect/aclk}} {{
    connect_bd_net -net pl_clk [get_bd_pins $pin]
}}
foreach pin {{{IP_CELL}/aresetn {IMAGE_DMA}/axi_resetn {PARAM_DMA}/axi_resetn
             ctrl_interconnect/aresetn memory_interconnect/aresetn}} {{
    connect_bd_net -net pl_resetn [get_bd_pins $pin]
}}

# interrupts: the accelerator's (a finished image), then the DMAs'
create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat interrupts
set_property -dict [list CONFIG.NUM_PORTS {{4}}] [get_bd_cells interrupts]
connect_bd_net [get_bd_pins {IP_CELL}/irq] [get_bd_pins interrupts/In0]
connect_bd_net [get_bd_pins {IMAGE_DMA}/mm2s_introut] [get_bd_pins interrupts/In1]
connect_bd_net [get_bd_pins {IMAGE_DMA}/s2mm_introut] [get_bd_pins interrupts/In2]
connect_bd_net [get_bd_pins {PARAM_DMA}/mm2s_introut] [get_bd_pins interrupts/In3]
connect_bd_net [get_bd_pins interrupts/dout] [get_bd_pins ps/pl_ps_irq0]

# the address map (hw/flow/system.py ADDRESS_MAP); the DMAs see all of the PS's DDR
{addresses}
assign_bd_address -target_address_space [get_bd_addr_spaces {IMAGE_DMA}/Data_MM2S] [get_bd_addr_segs ps/SAXIGP2/HP0_DDR_LOW] -force
assign_bd_address -target_address_space [get_bd_addr_spaces {IMAGE_DMA}/Data_S2MM] [get_bd_addr_segs ps/SAXIGP2/HP0_DDR_LOW] -force
assign_bd_address -target_address_space [get_bd_addr_spaces {PARAM_DMA}/Data_MM2S] [get_bd_addr_segs ps/SAXIGP2/HP0_DDR_LOW] -force
validate_bd_design
save_bd_design
"""


def build_tcl(spec: Spec) -> str:
    device = get_device(spec.hardware.device)
    board = board_of(spec)
    return f"""# The {comment_text(spec.network.name)} system on a {device.board} ({device.part}), written by `rrm vivado --system`.
# Run from any directory:  vivado -mode batch -source build.tcl
# Writes vivado/ (the project), ip_repo/ (the packaged accelerator), rrm_system.xsa (the
# hardware handoff with the bitstream), overlay/rrm_system.bit and overlay/rrm_system.hwh (for
# PYNQ: `rrm run ARTIFACT IMAGES.npy --board overlay/rrm_system.bit` on the board) and reports/.
set here [file dirname [file normalize [info script]]]
set board_part [lindex [get_board_parts -latest_file_version {{*:{board}:*}}] 0]
if {{$board_part eq ""}} {{
    error "Vivado has no board files for {board}: install them (Tools > Vivado Store > Boards)"
}}
source [file join $here package_ip.tcl]
create_project -force rrm_system [file join $here vivado] -part {device.part}
set_property board_part $board_part [current_project]
set_property ip_repo_paths [list [file join $here ip_repo]] [current_project]
update_ip_catalog -rebuild
source [file join $here system_bd.tcl]
set bd_file [get_files rrm_system_bd.bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse $wrapper
set_property top rrm_system_bd_wrapper [current_fileset]
update_compile_order -fileset sources_1
file mkdir [file join $here reports]
launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1
if {{[get_property PROGRESS [get_runs impl_1]] ne "100%"}} {{
    error "implementation did not finish: see [file join $here vivado]"
}}
open_run impl_1
report_utilization -file [file join $here reports utilization_system.rpt]
report_timing_summary -file [file join $here reports timing_system.rpt]
write_hw_platform -fixed -include_bit -force [file join $here rrm_system.xsa]
set overlay [file join $here overlay]
file mkdir $overlay
set run_dir [get_property DIRECTORY [get_runs impl_1]]
file copy -force [file join $run_dir rrm_system_bd_wrapper.bit] [file join $overlay rrm_system.bit]
set hwh [lindex [glob -nocomplain [file join $here vivado rrm_system.gen sources_1 bd rrm_system_bd hw_handoff *.hwh]] 0]
if {{$hwh eq ""}} {{
    error "no .hwh was generated under [file join $here vivado rrm_system.gen]"
}}
file copy -force $hwh [file join $overlay rrm_system.hwh]
puts "bitstream and handoff: $overlay (rrm_system.bit, rrm_system.hwh); platform: [file join $here rrm_system.xsa]"
"""


def address_map_md(spec: Spec) -> str:
    lines = [f"# Address map of the {spec.network.name} system (rrm vivado --system)", "",
             "| Cell | Interface | Base | Range |", "|---|---|---|---|"]
    for cell, port, offset, size in ADDRESS_MAP:
        lines.append(f"| {cell} | {port} | 0x{offset:08X} | 0x{size:X} |")
    lines += ["", f"Interrupts on pl_ps_irq0: bit 0 {IP_CELL}.irq, 1 {IMAGE_DMA}.mm2s_introut, "
              f"2 {IMAGE_DMA}.s2mm_introut, 3 {PARAM_DMA}.mm2s_introut.", "",
              f"## Registers of {IP_CELL} (rrm/csr_map.py)", "", csr_map.markdown_table()]
    return "\n".join(lines)


def write_system(spec: Spec, out_dir: Path) -> list:
    """Write the system hand-off files (see the module docstring); returns their paths."""
    board_of(spec)   # refuse a device without a board before writing anything
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    system = AcceleratorSystem(spec)
    assert len(system.m_axis_tdata) == result_bits_of(spec)
    assert len(system.s_axis_param_tdata) == SYSTEM_PARAM_BEAT_BITS
    texts = {
        "rrm_system.v": verilog.convert(system, name=TOP, emit_src=False),
        "package_ip.tcl": package_ip_tcl(spec),
        "system_bd.tcl": system_bd_tcl(spec),
        "build.tcl": build_tcl(spec),
        "address_map.md": address_map_md(spec),
    }
    assert tuple(texts) == FILES
    paths = []
    for name, text in texts.items():
        (out_dir / name).write_text(text)
        paths.append(out_dir / name)
    return paths
