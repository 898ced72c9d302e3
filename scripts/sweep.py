"""Design-space sweep of the accelerator: cycles per image (the cycle model's latency and
interval of images back to back) against LUT,
FF, DSP48E2 and BRAM18K (the resource model) over PEs x lanes x DW PEs x FC classes x
serial BN x DW products in LUTs, and with two pixels per DSP48E2 (``packed_pw``, even PE
counts up to 64, one or two serial BN units, PW rows of P or 16 slices, the accumulators
beside or inside the DSP48E2 ``dsp_macc``), each with and without the pair walks (``image_pixels`` 2 and ``dw_pairs``) where the spec allows them, on
one network (``rrm sweep``, ``make sweep``; :mod:`scripts.commands.sweep`).

Writes ``DIR/sweep.json`` (every configuration), ``DIR/sweep.md`` (the configurations
that fit the device and are Pareto-optimal in cycles and DSP48E2, and the marked presets)
and ``DIR/sweep.png`` (cycles against DSP, LUT and BRAM18K; fitting configurations in
colour, the marked presets labelled). Cycles are exact for the RTL (``rrm cycles``);
resources are the block model of :mod:`hw.cost.resource_model` (DSP exact for Yosys, LUT/FF
estimates, BRAM18K the RTL's RAMs): confirm a chosen point with ``rrm synth``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

from tqdm import tqdm

#: Cycles per image at 150 MHz the issue measures against (horizontal lines in the plot).
TARGETS = {"paper 7.85 ms": 1_177_500, "Vitis AI DPU 3.06 ms": 459_000, "1910 fps": 78_500}
PE_COUNTS = (4, 6, 8, 9, 12, 16, 18, 20, 21, 22, 24, 25)
LANES = (16, 32, 64)
DW_PES = (1, 2, 3, 4, 6, 9)
#: hardware.dw_lut_taps: of each DW lane's K x K products, how many in LUTs (the rest in
#: DSP48E2s): none, two (rr-mobilenet-packed's), about half, all (clamped to K x K).
DW_LUT_TAPS = (0, 2, 4, 9)
#: PE counts with ``packed_pw`` (two pixels per DSP48E2, so up to twice the PEs).
PACKED_PE_COUNTS = (8, 12, 16, 20, 24, 28, 32, 40, 48, 50, 52, 56, 64)
#: ``pw_slices`` tried with ``packed_pw``: rows of P slices, or of 16 (a narrower, deeper
#: PW RAM: fewer BRAM18K where a row of P slices is just over 512 rows deep).
PACKED_PW_SLICES = (0, 16)
#: (``image_pixels``, ``dw_pairs``) tried on every configuration the spec allows them on
#: (an even PE count, at least twice the DW PEs): one pixel a cycle, or the image port and
#: the stride-2 DW layers in pixel pairs (conv1's and those layers' cycles halved for a pair
#: patch buffer each; no DSP48E2).
PAIR_WALKS = ((1, False), (2, True))


def configurations(base):
    """Every (pe_count, lanes, dw_pe_count, fc_parallel, serial_bn, dw_lut_taps, pair walks)
    of the grid, unpacked, and with ``packed_pw`` its (serial_bn_units, pw_slices, dsp_macc)
    too, as specs; a combination the spec refuses (e.g. pair walks on an odd PE count) is left out."""
    from rrm.errors import SpecError
    taps = sorted({min(value, base.hardware.kernel ** 2) for value in DW_LUT_TAPS})
    unpacked = [(p, False, 1, 0) for p in PE_COUNTS]
    packed = [(p, True, units, slices) for p in PACKED_PE_COUNTS for units in (1, 2)
              for slices in PACKED_PW_SLICES if slices < p]
    macc_of = {False: (False,), True: (False, True)}      # dsp_macc: packed PEs only
    for (pe_count, pack, units, slices), lanes, dw_pes, serial, lut, (pixels, dw_pairs) in itertools.product(
            unpacked + packed, LANES, DW_PES, (False, True), taps, PAIR_WALKS):
        if dw_pes > pe_count or (units > 1 and not serial):
            continue
        row = slices or pe_count
        for fc_parallel, macc in itertools.product(sorted({1, row} | {q for q in (2, 3, 4) if row % q == 0}),
                                                   macc_of[pack]):
            try:
                hardware = dataclasses.replace(base.hardware, pe_count=pe_count, lanes=lanes,
                                               dw_pe_count=0 if dw_pes == pe_count else dw_pes,
                                               fc_parallel=0 if fc_parallel == row else fc_parallel,
                                               serial_bn=serial, dw_lut_taps=lut, packed_pw=pack,
                                               serial_bn_units=units, pw_slices=slices,
                                               image_pixels=pixels, dw_pairs=dw_pairs, dsp_macc=macc)
            except SpecError:
                continue
            yield dataclasses.replace(base, hardware=hardware)


def evaluate(spec) -> dict | None:
    """One configuration's cycles and resources, or None where the RTL cannot be built."""
    from hw.cost.cycle_model import cycle_model
    from hw.cost.resource_model import estimate_resources
    from rrm.errors import SpecError
    try:
        model = cycle_model(spec)        # refuses a spec the RTL cannot be built for
    except SpecError:
        return None
    res = estimate_resources(spec)
    hw = spec.hardware
    return {"pe_count": hw.pe_count, "lanes": hw.lanes, "dw_pes": hw.dw_pes, "fc_classes": hw.fc_classes,
            "serial_bn": hw.serial_bn, "dw_lut_taps": hw.dw_lut_taps, "packed_pw": hw.packed_pw,
            "serial_bn_units": hw.serial_bn_units, "pw_slices": hw.pw_row_slices,
            "image_pixels": hw.image_pixels, "dw_pairs": hw.dw_pairs, "dsp_macc": hw.dsp_macc,
            "cycles": model.cycles,
            "interval": model.interval,
            "bound_ratio": model.bound / model.cycles,
            "ms": model.ms, "fps": model.fps, "gops": model.gops, "lut": res.lut, "ff": res.ff,
            "dsp": res.dsp, "bram18k": res.bram18k, "fits": res.fits, "hardware": hw}


def pareto(rows: list) -> list:
    """The rows no other row beats in both cycles and DSP48E2 (fewer or equal in both)."""
    front, best_dsp = [], None
    for row in sorted(rows, key=lambda r: (r["cycles"], r["dsp"])):
        if best_dsp is None or row["dsp"] < best_dsp:
            front.append(row)
            best_dsp = row["dsp"]
    return front


def describe(row) -> str:
    return (f"{row['pe_count']}x{row['lanes']}, DW {row['dw_pes']}, FC {row['fc_classes']}"
            f"{', serial BN' if row['serial_bn'] else ''}"
            f"{' x' + str(row['serial_bn_units']) if row.get('serial_bn_units', 1) > 1 else ''}"
            f"{', DW LUT taps ' + str(row['dw_lut_taps']) if row.get('dw_lut_taps') else ''}"
            f"{', packed' if row.get('packed_pw') else ''}"
            f"{', PW rows of ' + str(row['pw_slices']) if row.get('pw_slices', row['pe_count']) != row['pe_count'] else ''}"
            f"{', image pairs' if row.get('image_pixels', 1) == 2 else ''}"
            f"{', DW pairs' if row.get('dw_pairs') else ''}"
            f"{', DSP accumulators' if row.get('dsp_macc') else ''}")


def table(rows: list, title: str) -> list:
    lines = [f"### {title}", "",
             "| config (PEs x lanes, DW PEs, FC classes) | latency (cycles) | ms | interval (cycles) "
             "| fps | GOPS | bound/cycles | LUT | FF | DSP | BRAM18K | fits |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        lines.append(f"| {row.get('label', describe(row))} | {row['cycles']:,} | {row['ms']:.3f} | "
                     f"{row['interval']:,} | "
                     f"{row['fps']:.0f} | {row['gops']:.1f} | {row['bound_ratio']:.2f} | {row['lut']:,} | "
                     f"{row['ff']:,} | {row['dsp']:,} | {row['bram18k']:,} | "
                     f"{'yes' if row['fits'] else 'no'} |")
    return lines + [""]


def plot(rows: list, marked: list, path: Path, device) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True)
    for ax, key, limit in zip(axes, ("dsp", "lut", "bram18k"), (device.dsp, device.lut, device.bram18k)):
        for fits, colour in ((False, "0.8"), (True, "tab:blue")):
            points = [r for r in rows if r["fits"] == fits]
            ax.scatter([r[key] for r in points], [r["cycles"] for r in points], s=8, c=colour,
                       label="fits the device" if fits else "does not fit")
        ax.axvline(limit, color="tab:red", lw=1, ls="--", label=f"{device.name}: {limit:,}")
        for (name, cycles), style in zip(TARGETS.items(), (":", "-.", "--")):
            ax.axhline(cycles, color="tab:green", lw=1, ls=style, label=f"{name}: {cycles:,} cycles")
        for row in marked:
            ax.scatter([row[key]], [row["cycles"]], s=60, marker="*", c="tab:orange", zorder=3)
            ax.annotate(row["label"], (row[key], row["cycles"]), textcoords="offset points",
                        xytext=(5, 5), fontsize=8)
        ax.set_xlabel(key.upper() if key != "bram18k" else "BRAM18K")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("cycles per image")
    axes[0].legend(fontsize=8)
    fig.suptitle("design space: cycles (cycle model) against resources (block model)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_all(specs: list, jobs: int = 1) -> list:
    """:func:`evaluate` on every spec (in order, with a progress bar), in ``jobs`` processes
    side by side; the configurations the RTL cannot be built for are left out."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    progress = dict(total=len(specs), desc="configurations", unit="config")
    if jobs == 1:
        rows = list(tqdm(map(evaluate, specs), **progress))
    else:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(jobs) as pool:
            rows = list(tqdm(pool.map(evaluate, specs, chunksize=64), **progress))
    return [row for row in rows if row is not None]


def sweep(preset: str, out: Path, mark: list[str] | None = None, jobs: int = 1) -> None:
    """Evaluate the grid on ``preset``'s network, write sweep.json/.md/.png into ``out`` and print the tables.

    ``mark``: presets to mark in the table and the plot (None: every preset whose name
    starts with ``preset``'s). ``jobs``: processes evaluating side by side.
    """
    from rrm.devices import get_device
    from rrm.presets import PRESETS, load_preset
    base = load_preset(preset)
    device = get_device(base.hardware.device)
    specs = list(configurations(base))
    rows = evaluate_all(specs, jobs)
    names = mark if mark is not None else [n for n in PRESETS if n.startswith(preset)]
    marked = []
    for name in names:
        row = evaluate(load_preset(name))
        if row is not None:
            marked.append({**row, "label": name})
    out.mkdir(parents=True, exist_ok=True)
    dump = [{k: v for k, v in row.items() if k != "hardware"} for row in rows + marked]
    (out / "sweep.json").write_text(json.dumps(dump, indent=1))
    front = pareto([row for row in rows if row["fits"]])
    lines = [f"# Design space of {preset} on the {device.name}", "",
             f"{len(rows)} configurations, {sum(r['fits'] for r in rows)} fit the device.", ""]
    lines += table(marked, "Presets")
    lines += table(front, "Pareto front: configurations that fit, fewest cycles for their DSP48E2")
    (out / "sweep.md").write_text("\n".join(lines))
    plot(rows, marked, out / "sweep.png", device)
    print("\n".join(lines))
    print(f"wrote {out / 'sweep.md'}, {out / 'sweep.json'}, {out / 'sweep.png'}")
