"""Readable tables of the storage analysis (:mod:`rrm.compression`) for ``rrm analyze``."""

from __future__ import annotations

MB = 8e6  #: bits in a megabyte (10**6 bytes), the unit of the companion paper


def _kb(bits: float) -> str:
    return f"{bits / 8e3:,.1f}"


def _overhead(part: dict) -> str:
    """A format's size and its index overhead as a share of it: ``12.3 (41 %)``."""
    share = 100.0 * part["overhead"] / part["total"] if part["total"] else 0.0
    return f"{_kb(part['total'])} ({share:.0f} %)"


def format_storage(storage: dict, title: str) -> str:
    """Per-layer and total sizes in kB (10**3 bytes): dense against each format, index overhead in brackets."""
    s = storage["settings"]
    how = ("exact (the encoders on the weights)" if s["source"] == "exact"
           else "expected (kept weights at random places)")
    lines = [f"{title}: sparse storage, {how}; {s['value_bits']}-bit values, {s['bias_bits']}-bit biases "
             f"(dense), CSR with {s['index_bits']}-bit relative indices; kB = 1000 bytes, "
             f"(index overhead as a share of the layer's size)"]
    header = (f"{'layer':<10}{'kind':<6}{'weights':>11}{'kept':>11}{'density':>9}{'dense kB':>12}"
              f"{'CSR kB':>18}{'CSR best kB':>22}{'window kB':>18}  best")
    lines += [header, "-" * len(header)]
    for r in storage["layers"]:
        best = r["csr_best"]
        lines.append(f"{r['name']:<10}{r['kind']:<6}{r['weights']:>11,}{r['kept']:>11,}{r['density']:>9.3f}"
                     f"{_kb(r['dense']['total']):>12}{_overhead(r['csr']):>18}"
                     f"{_overhead(best) + ' b=' + str(best['index_bits']):>22}{_overhead(r['window']):>18}"
                     f"  {r['best']}")
    t = storage["total"]
    lines.append("-" * len(header))
    lines.append(f"{'total':<16}{t['weights']:>11,}{t['kept']:>11,}{t['kept'] / t['weights']:>9.3f}"
                 f"{_kb(t['dense']['total']):>12}{_overhead(t['csr']):>18}{_overhead(t['csr_best']):>22}"
                 f"{_overhead(t['window']):>18}  {_kb(t['best_per_layer'])} kB")
    csr = t["csr"]
    lines.append(f"CSR overhead: {_kb(csr['index'])} kB of indices, {_kb(csr['padding'])} kB of padding zeros, "
                 f"{_kb(csr['pointers'])} kB of row pointers; window bitmap overhead: "
                 f"{_kb(t['window']['map'])} kB of window maps, {_kb(t['window']['taps'])} kB of tap masks")
    return "\n".join(lines)


def format_stages(stages: list[dict], paper: dict) -> str:
    """The compression stages in MB (10**6 bytes) and factors, the paper's figures beside."""
    quoted = {0: f"{paper['float_mb']:g} MB", 1: f"{paper['pruning_factor']:g}x (parameters)",
              3: f"{paper['quant_factor']:g}x more (quantization)"}
    lines = ["compression stages (MB = 10**6 bytes):",
             f"  {'stage':<46}{'MB':>9}{'factor':>9}   paper"]
    for index, row in enumerate(stages):
        note = quoted.get(index, "")
        if row["stage"].startswith("pruned + quantized, CSR"):
            note = f"{paper['compressed_mb']:g} MB, {paper['compression_factor']:g}x (its storage format)"
        lines.append(f"  {row['stage']:<46}{row['bits'] / MB:>9.3f}{row['factor']:>8.1f}x   {note}")
    return "\n".join(lines)


def markdown_layers(storage: dict) -> str:
    """The per-layer storage as a Markdown table (kB = 10**3 bytes), as docs/analysis.md shows it."""
    lines = ["| layer | weights | kept | density | dense kB | CSR kB (overhead) | best CSR kB (index bits) "
             "| window kB (overhead) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = storage["layers"] + [dict(storage["total"], name="**total**")]
    for r in rows:
        best = r["csr_best"]
        bits = f" ({best['index_bits']})" if "index_bits" in best else ""
        lines.append(f"| {r['name']} | {r['weights']:,} | {r['kept']:,} | {r['kept'] / r['weights']:.3f} | "
                     f"{_kb(r['dense']['total'])} | {_overhead(r['csr'])} | {_kb(best['total'])}{bits} | "
                     f"{_overhead(r['window'])} |")
    return "\n".join(lines)


def markdown_stages(stages: list[dict], paper: dict) -> str:
    """The compression stages as a Markdown table with the paper's figures, as docs/analysis.md shows it."""
    quoted = {0: f"{paper['float_mb']:g} MB", 1: f"{paper['pruning_factor']:g}× fewer parameters",
              3: f"{paper['quant_factor']:g}× more (quantization)"}
    lines = ["| stage | MB | × | paper |", "|---|---:|---:|---|"]
    for index, row in enumerate(stages):
        note = quoted.get(index, "")
        if row["stage"].startswith("pruned + quantized, CSR"):
            note = f"**{paper['compressed_mb']:g} MB, {paper['compression_factor']:g}×** (its format)"
        lines.append(f"| {row['stage']} | {row['bits'] / MB:.2f} | {row['factor']:.1f} | {note} |")
    return "\n".join(lines)
