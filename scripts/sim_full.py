"""rr-mobilenet (224x224, 9 PEs x 32 lanes) in Verilator on one image of a random-weight
artifact, bit-exact against golden, each layer's cycles beside the cycle model
(``rrm sim-full``, ``make sim-full``; :mod:`scripts.commands.sim_full`).

Runs ``rrm export --random`` (once per preset and seed) and ``rrm sim`` (cached build,
progress per layer), then prints per layer the RTL's cycles, the model's and their
difference, the image's cycles and ms at the spec's clock against the paper's 7.85 ms
(1,177,500 cycles at 150 MHz), the Verilator build time and the simulated cycles per
second; writes ``OUT/PRESET/summary.json`` and, with ``record``, the run's record
``results/PRESET/sim.json`` (:mod:`scripts.results`). Fails (1) when the RTL differs from
golden or any layer's cycles differ from the cycle model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def sim_full(spec, out_root: Path, seed: int, *, name: str, spec_arguments: list, record: bool = False) -> int:
    """Export, simulate and compare ``spec`` on one random image; 0 if bit-exact and every
    layer's cycles are the model's, else 1. ``name``: the run's directory under ``out_root``
    (and, with ``record``, the preset whose record it writes); ``spec_arguments``: how
    ``rrm export`` and ``rrm sim`` are told the spec (``--preset NAME`` or ``--spec FILE``)."""
    from hw.cost.cycle_model import cycle_model
    from rrm.memory_map import memory_map
    from rrm.param_stream import stream_length
    from scripts.cli import main as rrm
    from scripts.paper_figures import PAPER_DESIGN as PAPER

    from .results import commit_info
    started_on = commit_info()     # the commit the run is of, whatever changes meanwhile
    if record and spec.preset != name:
        raise ValueError(f"a record is a preset's: {name!r} is not the spec's preset {spec.preset!r}")
    out = out_root / name
    out.mkdir(parents=True, exist_ok=True)
    artifact = out / f"artifact-seed{seed}"
    if not (artifact / "manifest.json").is_file():
        code = rrm(["export", *spec_arguments, "--random", "--seed", str(seed),
                    "--out", str(artifact)])
        if code:
            return code
    size, channels = spec.network.input_size, spec.network.input_channels
    images = out / f"image-seed{seed}.npy"
    np.save(images, np.random.default_rng(seed).integers(0, 256, size=(1, size, size, channels),
                                                          dtype=np.uint8))
    result_path = out / "result.json"
    code = rrm(["sim", str(artifact), str(images), "--out", str(result_path), *spec_arguments,
                "--force"])   # the run directory is sim-full's own: a rerun replaces its result
    if code:
        return code
    result = json.loads(result_path.read_text())
    image = result["images"][0]
    model = cycle_model(spec)
    rows, worst = [], 0.0
    print(f"\n{'layer':10s} {'RTL':>10s} {'model':>10s} {'error':>7s} {'bound':>10s} {'util.':>6s}")
    for layer in model.layers:
        rtl = image["layer_cycles"][layer.name]
        error = (layer.cycles - rtl) / rtl
        worst = max(worst, abs(error))
        rows.append({"layer": layer.name, "rtl": rtl, "model": layer.cycles, "bound": layer.bound})
        print(f"{layer.name:10s} {rtl:10,d} {layer.cycles:10,d} {100 * error:6.2f}% {layer.bound:10,.0f} "
              f"{layer.bound / rtl:6.2f}")
    cycles = image["cycles"]
    ms = cycles / (spec.hardware.clock_mhz * 1e3)
    print(f"\nimage: {cycles:,d} cycles (model {model.cycles:,d}, {100 * (model.cycles - cycles) / cycles:+.2f} %), "
          f"{ms:.3f} ms at {spec.hardware.clock_mhz:g} MHz; paper {PAPER['ms']} ms = {PAPER['cycles']:,d} cycles "
          f"(ours / paper {cycles / PAPER['cycles']:.3f}); bit-exact: {image['match_golden']}")
    print(f"largest per-layer model error: {100 * worst:.2f} %")
    # the run also streams the parameters in, one 32-bit beat per cycle
    simulated = stream_length(memory_map(spec)) + cycles
    rate = simulated / result["run_seconds"]
    build = "cached" if result["build_cached"] else f"{result['build_seconds']:,.0f} s"
    print(f"Verilator build: {build}; simulation {result['run_seconds']:,.0f} s for {simulated:,d} cycles "
          f"(parameter stream and image): {rate:,.0f} cycles/s")
    summary = {"spec": name, "cycles": cycles, "model_cycles": model.cycles, "ms": ms,
               "paper_cycles": PAPER["cycles"], "match_golden": image["match_golden"],
               "largest_layer_error": worst, "layers": rows, "build_seconds": result["build_seconds"],
               "build_cached": result["build_cached"], "run_seconds": result["run_seconds"],
               "simulated_cycles": simulated, "cycles_per_second": round(rate)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    differing = [row["layer"] for row in rows if row["rtl"] != row["model"]]
    if differing:
        print(f"FAILED: the cycles of {len(differing)} layer(s) differ from the model: {', '.join(differing)}")
    if not image["match_golden"]:
        print("FAILED: the RTL's result differs from golden")
    if record:
        from .results import record as write_record
        from tb.build import design_verilog

        from .rtl_identity import verilog_digest
        path = write_record(name, "sim", {
            "cycles": cycles, "model_cycles": model.cycles, "bit_exact": bool(image["match_golden"]),
            "layers_as_model": not differing, "seed": seed,
            "layers": {row["layer"]: {"rtl": row["rtl"], "model": row["model"]} for row in rows},
            "build_seconds": round(result["build_seconds"], 1), "run_seconds": round(result["run_seconds"], 1),
            "simulated_cycles": simulated,
            "verilog_sha256": verilog_digest(design_verilog("accelerator", spec))}, commit=started_on)
        print(f"recorded {path}")
    return 0 if image["match_golden"] and not differing else 1

