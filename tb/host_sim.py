"""The host driver through the simulated system: build ``rrm_system`` (cached) and run a plan.

:func:`run_driver` is what ``rrm run --sim`` and tb/test_host_driver.py call: it builds
:class:`hw.top.system.AcceleratorSystem` for the spec with Verilator (tb.build; weights
arrive on the parameter stream, so one build serves every artifact of the spec), writes the
plan for :mod:`tb.cocotb_host`, runs it, and returns the recorded results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rrm.spec import Spec

from .accelerator_sim import run_plan
from .build import build_design

TEST_MODULE = "tb.cocotb_host"


def run_driver(spec: Spec, steps: list, work_dir: Path, *, simulator: str = "verilator") -> dict:
    """Run ``steps`` (as in tb.cocotb_host; numpy arrays under ``"data"`` are saved into
    ``work_dir`` and passed as ``"file"``) through the driver on the simulated system.

    Returns ``{"opened": {...}, "steps": [...], "build": Design, "run_seconds": s}``.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    design = build_design("system", spec, simulator)
    plan_steps = []
    for index, step in enumerate(steps):
        step = dict(step)
        if "data" in step:
            path = work_dir / f"step{index}.npy"
            np.save(path, step.pop("data"), allow_pickle=False)
            step["file"] = str(path)
        if "artifact" in step:
            step["artifact"] = str(Path(step["artifact"]).resolve())
        plan_steps.append(step)
    progress = work_dir / "progress.txt"
    progress.write_text("")
    plan = {"steps": plan_steps, "progress": str(progress)}
    return run_plan(design, TEST_MODULE, work_dir, plan)
