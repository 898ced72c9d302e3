"""cocotb testbenches, run in Verilator through cocotb's Python runner under pytest."""
