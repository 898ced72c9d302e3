"""Readable text table of an :func:`rrm.analysis.analyze` result."""

from __future__ import annotations

from .paper_figures import PAPER_FIGURES


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.0f}"


def format_report(result: dict) -> str:
    """The per-layer table, totals, the BRAM map and the on-chip fit."""
    lines = []
    name = result["spec"]["preset"] or result["spec"]["name"]
    lines.append(f"network {name}: per-layer complexity and memory (paper Eq. 1-8)")
    header = f"{'layer':<10}{'kind':<6}{'N':>6}{'M':>6}{'out':>9}{'params':>11}{'MACs':>14}{'param Kbit':>12}{'FM Kbit':>10}"
    lines += [header, "-" * len(header)]
    for l in result["layers"]:
        out = f"{l['out_h']}x{l['out_w']}"
        lines.append(f"{l['name']:<10}{l['kind']:<6}{l['in_channels']:>6}{l['out_channels']:>6}{out:>9}"
                     f"{l['params']:>11,}{l['macs']:>14,}{l['param_bits'] / 1024:>12.1f}{l['fm_bits'] / 1024:>10.1f}")
    t = result["total"]
    lines.append("-" * len(header))
    lines.append(f"total: {t['params']:,} weights, {t['macs']:,} MACs = {t['ops'] / 1e9:.3f} GOP "
                 f"(paper Eq. 4 counting: {t['paper_eq4_params']:,} weights, {t['paper_eq4_ops'] / 1e9:.3f} GOP)")
    lines.append(f"parameter memory (Eq. 9): {t['param_bits'] / 2**20:.2f} Mbit; "
                 f"largest feature map: {t['largest_fm_bits'] / 2**20:.2f} Mbit; "
                 f"FM buffer (Eq. 10): {t['fm_buffer_bits'] / 2**20:.2f} Mbit")
    lines.append("")
    lines.append("on-chip memories (one bank per PE):")
    for m in result["memories"]:
        lines.append(f"  {m['name']:<8} {m['banks']} x {m['width']:>5} bit x {m['depth']:>6} words"
                     f" = {m['bits'] / 2**20:6.2f} Mbit -> "
                 + ("LUT RAM" if m["lutram"] else f"{m['bram18k']:>5} BRAM18K"))
    o = result["ocm"]
    verdict = "fits" if o["fits"] else "does NOT fit"
    lines.append(f"on-chip fit (Eq. 11) on {o['device']}: {o['bram18k']} of {o['available_bram18k']} BRAM18K "
                 f"({o['required_bits'] / 2**20:.2f} of {o['available_bits'] / 2**20:.2f} Mbit) -> {verdict}")
    rtl = result.get("rtl_memories")
    if rtl is not None:
        lines.append("")
        if not rtl["buildable"]:
            lines.append(f"RTL memories: the accelerator cannot be built for this spec ({rtl['error']})")
        else:
            lines.append("RTL memories (rrm.memory_map, the RAMs hw.top.accelerator builds; not counted: "
                         "line buffers, layer-table ROM, logit FIFO):")
            for r in rtl["rams"]:
                lines.append(f"  {r['name']:<8} {r['width']:>5} bit x {r['depth']:>6} words"
                             f" = {r['bits'] / 2**20:6.2f} Mbit -> "
                             + ("LUT RAM" if r["lutram"] else f"{r['bram18k']:>5} BRAM18K")
                             + f"  ({r['holds']})")
            verdict = "fits" if rtl["fits"] else "does NOT fit"
            lines.append(f"built on-chip fit (Eq. 11, RTL) on {o['device']}: {rtl['bram18k']} of "
                         f"{rtl['available_bram18k']} BRAM18K ({rtl['bits'] / 2**20:.2f} Mbit) -> {verdict}")
    paper = PAPER_FIGURES.get(result["spec"]["preset"])
    if paper:
        lines.append("")
        lines.append(f"{'':<22}{'ours':>12}{'paper':>12}")
        lines.append(f"{'weights':<22}{_si(t['params']):>12}{_si(paper['params']):>12}")
        lines.append(f"{'ops per image':<22}{_si(t['ops']):>12}{_si(paper['ops']):>12}")
        if paper["bram18k"]:
            lines.append(f"{'BRAM18K':<22}{o['bram18k']:>12}{paper['bram18k']:>12}")
            if rtl is not None and rtl["buildable"]:
                lines.append(f"{'BRAM18K (RTL RAMs)':<22}{rtl['bram18k']:>12}{paper['bram18k']:>12}")
    return "\n".join(lines)
