"""The tool flow: Verilog and its lint, the Yosys resource estimate and the Vivado handoff."""
