# Run a Vivado TCL script in a plain Tcl with every Vivado command stubbed (tests/test_vivado_system.py):
# the script is parsed and its control flow runs; each Vivado command is noted as "CALL <words>" and
# each script it sources as "SOURCE <path>"; nothing is written (file mkdir/copy are only noted).
# Usage: tclsh tcl_stub.tcl SCRIPT (prints the notes), or set ::argv and ::embedded, source this,
# and read ::notes.
set ::notes {}
proc note {line} { lappend ::notes $line }
proc unknown {args} { note "CALL $args"; return stub }
rename file _file
proc file {sub args} {
    if {$sub in {mkdir copy delete rename}} { note "CALL file $sub $args"; return }
    return [_file $sub {*}$args]
}
rename glob _glob
proc glob {args} { note "CALL glob $args"; return stub.hwh }
proc get_property {name args} {
    note "CALL get_property $name $args"
    if {$name eq "PROGRESS"} { return 100% }
    return stub
}
# object getters return the name they were given, so a connection's note names what it connects
foreach getter {get_bd_pins get_bd_intf_pins get_bd_cells get_bd_addr_spaces get_bd_addr_segs get_files get_runs} {
    proc $getter {args} "note \"CALL $getter \$args\"; return \[lindex \$args end\]"
}
proc get_board_parts {args} { note "CALL get_board_parts $args"; return stub:board:part0:1.0 }
rename source _source
proc source {path} {
    if {![_file exists $path]} { error "source: no such file $path" }
    note "SOURCE $path"
    uplevel #0 [list _source $path]
}
source [lindex $::argv 0]
note "DONE"
if {![info exists ::embedded]} { foreach line $::notes { puts $line } }
