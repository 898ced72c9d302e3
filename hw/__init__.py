"""Amaranth HDL blocks of the accelerator (PEs and PE arrays, patch buffers, BN/ReLU/requant, FC),
built from a spec through :mod:`hw.top.catalog`, and their Verilog and lint (:mod:`hw.flow.verilog`)."""
