"""rr-mobilenet: spec, command-line entry point and shared plumbing.

The stages live in their own top-level packages: ``sw`` (PyTorch QAT, pruning,
export), ``golden`` (numpy fixed-point model), ``hw`` (Amaranth accelerator),
``tb`` (cocotb testbenches) and ``scripts`` (analysis, Verilog/Vivado
generation). This package holds what they all share: the spec and ``rrm``.
"""

__version__ = "0.1.0"
