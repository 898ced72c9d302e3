"""Figures the paper (Su et al., ARC 2018) reports, for side-by-side comparison."""

#: By preset: what the paper states for that network (None where it gives nothing).
PAPER_FIGURES = {
    "mobilenet-v1": {"params": 4.2e6, "ops": 1.13e9, "bram18k": None},
    "rr-mobilenet": {"params": 2.5e6, "ops": 0.72e9, "bram18k": 1729},
}
