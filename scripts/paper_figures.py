"""Figures the paper (Su et al., ARC 2018) reports, for side-by-side comparison."""

#: By preset: what the paper states for that network (None where it gives nothing).
PAPER_FIGURES = {
    "mobilenet-v1": {"params": 4.2e6, "ops": 1.13e9, "bram18k": None},
    "rr-mobilenet": {"params": 2.5e6, "ops": 0.72e9, "bram18k": 1729},
}

#: The paper's accelerator (Table 1): XCZU9EG at 150 MHz, 7.85 ms per image.
PAPER_DESIGN = {
    "device": "xczu9eg", "clock_mhz": 150, "ms": 7.85,
    "cycles": round(7.85e-3 * 150e6),          # 1,177,500
    "lut": 139_000, "ff": 55_000, "dsp": 1452,
    "bram18k": PAPER_FIGURES["rr-mobilenet"]["bram18k"],
}
