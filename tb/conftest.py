"""pytest fixtures of the RTL testbenches: build a block (cached) and run its cocotb module."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .build import SIM_DIR, build_design, run_cocotb, waves_requested


def simulator() -> str:
    """The simulator every testbench uses: RRM_SIM (default verilator; icarus also works)."""
    return os.environ.get("RRM_SIM", "verilator")


def record_timing(block: str, test: str, design, run_seconds: float) -> None:
    """Append build/run seconds to build/sim/timings.jsonl (for the docs' table)."""
    SIM_DIR.mkdir(parents=True, exist_ok=True)
    with open(SIM_DIR / "timings.jsonl", "a") as out:
        out.write(json.dumps({"block": block, "test": test, "build_dir": design.build_dir.name,
                              "build_seconds": round(design.build_seconds, 2), "cached": design.cached,
                              "run_seconds": round(run_seconds, 2)}) + "\n")


@pytest.fixture
def run_block(request, tmp_path):
    """``run_block(block, spec, module, config=None)``: build (cached), run, fail on any cocotb failure."""

    def run(block: str, spec, module: str, config: dict | None = None, seed: int = 1):
        design = build_design(block, spec, simulator())
        test_dir = Path(tmp_path) / "sim"
        if waves_requested():  # keep waveforms where they can be found: build/sim/waves/<test>/
            test_dir = SIM_DIR / "waves" / "".join(ch if ch.isalnum() else "_" for ch in request.node.name)
        seconds = run_cocotb(design, module, test_dir, config, seed)
        record_timing(block, request.node.nodeid, design, seconds)
        return design

    return run
