"""Analysis (paper Eq. 1-11, OCM fit), Verilog and Vivado project generation."""
