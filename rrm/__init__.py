"""rr-mobilenet's contracts: what every stage shares, importing nothing above it.

The spec (:mod:`rrm.spec`, :mod:`rrm.layers`, :mod:`rrm.presets`), the export
artifact (:mod:`rrm.artifact`), the integer numerics and accumulator bounds
(:mod:`rrm.numerics`, :mod:`rrm.bounds`), the hardware sizing (:mod:`rrm.sizing`),
the paper's analysis and the device table (:mod:`rrm.analysis`, :mod:`rrm.devices`),
errors and the Verilator set-up. The stages build on it: ``sw`` (PyTorch QAT,
pruning, export), ``golden`` (numpy fixed-point model), ``hw`` (Amaranth blocks,
Verilog), ``tb`` (cocotb testbenches) and, on top, ``scripts`` (the ``rrm``
command line, reports and plots). docs/design.md §9 and tests/test_layering.py hold the rule.
"""

__version__ = "0.1.0"
