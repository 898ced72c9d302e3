"""Run the whole accelerator in a simulator and compare it with the golden model.

:func:`simulate` builds ``Accelerator(spec)`` (cached per spec, simulator and
flags by :mod:`tb.build`: weights are loaded at run time, so one build serves
every artifact of the spec), writes a plan for :mod:`tb.cocotb_accelerator`,
runs it and returns the recorded results. :func:`compare` checks images against
golden's logits and, for an image that differs, names the first layer whose
feature map differs from golden's trace (from the FM writes a monitored re-run
records: :func:`first_mismatch`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rrm.memory_map import memory_map
from rrm.spec import Spec

from .build import build_design, run_cocotb
from .fm_maps import decode_map, map_difference

TEST_MODULE = "tb.cocotb_accelerator"
#: The layer a running simulation is on, written by the testbench beside the progress file.
LAYER_FILE = "progress.txt.layer"


def simulate(spec: Spec, steps: list, work_dir: Path, *, simulator: str = "verilator",
             gaps: bool = False, backpressure: bool = False, monitor: bool = False,
             image_pause: float | None = None,
             verilog_text: str | None = None, mutant_select: int | None = None) -> dict:
    """Build (cached) and run a plan; ``steps`` as in :mod:`tb.cocotb_accelerator`, with numpy
    arrays under ``"data"`` (saved into ``work_dir`` for the simulator process).
    ``verilog_text`` replaces the generated Verilog (files it reads at run time, such as
    ``$readmemh`` init files, belong in ``work_dir / "sim"``, the simulator's directory).
    ``image_pause``: with ``gaps``, the probability that the image stream pauses on a cycle
    (near 1: a slow camera, conv1 waits on the image ring; None: as the other streams). ``mutant_select``: the value the testbench drives on the selector input of a design with
    selectable mutations (:func:`hw.flow.mutate.selectable_verilog`; 0: the original design)
    before anything else; None for a design without one.

    Returns ``{"steps": [...], "writes": [...], "build": Design, "run_seconds": s}``.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    design = build_design("accelerator", spec, simulator, verilog_text)
    plan_steps = []
    for index, step in enumerate(steps):
        step = dict(step)
        if "data" in step:   # a step without data (``results``) has no file
            path = work_dir / f"step{index}.npy"
            np.save(path, step.pop("data"), allow_pickle=False)
            step["file"] = str(path)
        plan_steps.append(step)
    progress = work_dir / "progress.txt"
    progress.write_text("")
    (work_dir / LAYER_FILE).unlink(missing_ok=True)
    plan = {"steps": plan_steps, "gaps": gaps, "backpressure": backpressure, "monitor": monitor,
            "image_pause": image_pause,
            "progress": str(progress), "layer_file": str(work_dir / LAYER_FILE)}
    if mutant_select is not None:
        from hw.flow.mutate import SELECTOR
        plan.update(mutant_select=int(mutant_select), selector=SELECTOR)
    return run_plan(design, TEST_MODULE, work_dir, plan)


def run_plan(design, module: str, work_dir: Path, plan: dict) -> dict:
    """Write ``plan`` as work_dir/plan.json, run cocotb ``module`` on ``design`` with it and
    return the results it wrote, with the build and the run's seconds added."""
    (work_dir / "plan.json").write_text(json.dumps(plan))
    results_path = work_dir / "results.json"
    seconds = run_cocotb(design, module, work_dir / "sim",
                         {"plan": str(work_dir / "plan.json"), "results": str(results_path)})
    results = json.loads(results_path.read_text())
    results["build"] = design
    results["run_seconds"] = seconds
    return results


def images_done(work_dir: Path) -> int:
    """Images the running simulation of ``work_dir`` has finished so far (for progress bars)."""
    try:
        return len((Path(work_dir) / "progress.txt").read_text().splitlines())
    except OSError:
        return 0


def current_layer(work_dir: Path) -> int | None:
    """The layer index the running simulation of ``work_dir`` last reported, if any."""
    try:
        return int((Path(work_dir) / LAYER_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def decode_writes(spec: Spec, writes: list) -> dict:
    """Feature maps (H, W, C int64) per layer name from monitored FM writes.

    Word ``b*G + g`` of a layer's output holds pixels ``b*P .. b*P+P-1`` of channel
    group ``g`` (rrm.memory_map); each write changes the slots it enables (group-mode
    layers write one pixel's slot at a time), later writes win.
    """
    mmap = memory_map(spec)
    p, lanes, bits = mmap.pe_count, mmap.lanes, spec.quant.act_bits
    slot_mask = (1 << (lanes * bits)) - 1
    by_layer: dict = {}
    for layer_index, _buffer, addr, word, slots in writes:
        word = int(word, 2) if isinstance(word, str) else word
        words = by_layer.setdefault(layer_index, {})
        merged = words.get(addr, 0)
        for slot in range(p):
            if (slots >> slot) & 1:
                keep = slot_mask << (slot * lanes * bits)
                merged = (merged & ~keep) | (word & keep)
        words[addr] = merged
    return {entry.name: decode_map(spec, entry, by_layer[entry.index]) for entry in mmap.layers
            if entry.kind in ("conv", "dw", "pw") and entry.index in by_layer}


def first_mismatch(spec: Spec, writes: list, trace: dict) -> str | None:
    """The first conv/dw/pw layer whose RTL feature map differs from golden's trace
    (one image), described with its first differing element; None if all agree."""
    maps = decode_writes(spec, writes)
    for entry in memory_map(spec).layers:
        if entry.kind not in ("conv", "dw", "pw"):
            continue
        want = np.asarray(trace[entry.name])
        got = maps.get(entry.name)
        if got is None:
            return f"{entry.name}: the RTL wrote nothing"
        difference = map_difference(entry.name, got, want)
        if difference:
            return difference
    return None


@dataclass
class Comparison:
    """One image's RTL result against golden: ``cycles`` is its latency (``image_cycles``),
    ``interval`` the cycles from the previous image's class beat to its own (None for the
    first image of a run; the interval of images back to back where nothing paused the
    streams)."""

    logits: list
    cls: int
    cycles: int
    layer_cycles: dict
    match_golden: bool
    interval: int | None = None

    def to_json(self) -> dict:
        return {"logits": self.logits, "class": self.cls, "cycles": self.cycles,
                "interval": self.interval, "layer_cycles": self.layer_cycles,
                "match_golden": self.match_golden}


def compare(spec: Spec, images_result: list, golden_logits: np.ndarray) -> list:
    """Comparisons of recorded image results (one run's, in order) with golden logits
    (argmax, ties low)."""
    names = [entry.name for entry in memory_map(spec).layers]
    out, previous_beat = [], None
    for result, want in zip(images_result, np.asarray(golden_logits)):
        match = (result["logits"] == [int(v) for v in want]
                 and result["class"] == int(np.argmax(want)))
        beat = result.get("beat_cycle")
        interval = beat - previous_beat if beat is not None and previous_beat is not None else None
        previous_beat = beat
        out.append(Comparison(result["logits"], result["class"], result["cycles"],
                              dict(zip(names, result["layer_cycles"])), match, interval))
    return out
