"""The demo's one report: training, golden model, RTL and memory in ``DIR/report.md`` with PNG plots
(``rrm report``, :mod:`scripts.commands.report`).

    rrm report --train RUN --test TEST --rtl RESULT.json --out DIR

``RUN`` is a finished ``rrm train`` directory (``report.json``, ``metrics.jsonl``,
``artifact/``), ``TEST`` holds ``images.npy``, ``labels.npy`` and the golden
model's ``logits.npy`` on them (``rrm dataset``, ``rrm golden --out``), ``RESULT.json``
is what ``rrm sim`` wrote. Writes into ``DIR``:

``report.md``
    headline numbers, accuracy at every stage, the paper's Fig. 5 for the trained
    network, the RTL's cycles against the bound, the images, how the run was made;
``accuracy.png``
    top-1 of the float, QAT, pruned QAT, pruned integer (golden) and RTL models;
``memory.png``
    the paper's Fig. 5: per layer, the memory of the network without redundancy
    removal (32-bit floats, unpruned), with quantization only (the spec's widths,
    unpruned) and with quantization and pruning (the trained artifact's arrays);
``rtl-cycles.png``, ``rtl-images.png``, ``rtl.md``
    the RTL section (:mod:`scripts.rtl_report`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Width of every value of the network "without redundancy removal": 32-bit floats.
FLOAT_BITS = 32


def layer_memory(spec, artifact) -> list[dict]:
    """Per layer (pool excluded): parameter and output feature-map bits of the three networks.

    ``float``: the unpruned network, every weight, folded BN multiplier and bias
    (2 per channel), FC bias and activation a 32-bit float. ``quant``: the same
    unpruned network at the spec's widths (rrm.analysis, Eq. 6-8). ``pruned``:
    the trained artifact's arrays at their widths, and its feature maps at the
    activation width.
    """
    from rrm.analysis import layer_cost
    from rrm.spec import unpruned

    full = unpruned(spec)
    quant = spec.quant
    rows = []
    for big, small in zip(full.layers(), spec.layers()):
        if big.kind == "pool":
            continue
        cost = layer_cost(full, big)
        extra = 2 * big.out_channels if big.kind != "fc" else big.out_channels
        float_params = (big.params + extra) * FLOAT_BITS
        float_fm = 0 if big.kind == "fc" else big.out_elements * FLOAT_BITS
        arrays = artifact.layer(small.name)
        if small.kind == "fc":
            pruned_params = arrays["weight"].size * quant.weight_bits + arrays["bias"].size * quant.fc_bias_bits
            pruned_fm = 0
        else:
            pruned_params = (arrays["weight"].size * quant.weight_bits
                             + arrays["bn_mult"].size * quant.bn_mult_bits
                             + arrays["bn_bias"].size * quant.bn_bias_bits)
            pruned_fm = small.out_elements * quant.act_bits
        rows.append({"name": big.name, "kind": big.kind,
                     "channels": (big.out_channels, small.out_channels),
                     "float": (float_params, float_fm), "quant": (cost.param_bits, cost.fm_bits),
                     "pruned": (pruned_params, pruned_fm)})
    return rows


def _kbit(bits: float) -> str:
    return f"{bits / 1024:,.1f}"


def plot_memory(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = (("float", "no redundancy removal (32-bit float, unpruned)", "#c9d6e3"),
              ("quant", "quantization (8-bit weights, 4-bit activations)", "#6f9cc6"),
              ("pruned", "quantization + kernel pruning (trained artifact)", "#1f4e79"))
    names = [r["name"] for r in rows]
    xs = np.arange(len(names))
    width = 0.27
    figure, axis = plt.subplots(figsize=(max(8, 0.42 * len(names)), 4.2))
    for offset, (key, label, color) in zip((-width, 0, width), series):
        total = sum(sum(r[key]) for r in rows)
        axis.bar(xs + offset, [sum(r[key]) / 1024 for r in rows], width, color=color,
                 label=f"{label}: {total / 2**20:.2f} Mbit")
    axis.set_yscale("log")
    axis.set_ylabel("parameters + output feature map (Kbit)")
    axis.set_xticks(xs, names, rotation=70, fontsize=8)
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_accuracy(bars: list[tuple[str, float, str]], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.5, 3.4))
    values = [100 * v for _, v, _ in bars]
    xs = np.arange(len(bars))
    axis.bar(xs, values, 0.6, color=["#9bbbd9", "#6f9cc6", "#3f76a8", "#1f4e79", "#c0504d"][:len(bars)])
    for x, (_, value, note) in zip(xs, bars):
        axis.text(x, 100 * value + 0.15, f"{100 * value:.2f} %", ha="center", fontsize=8)
        axis.text(x, 100 * value - 0.6, note, ha="center", fontsize=7, color="white")
    axis.set_xticks(xs, [name for name, _, _ in bars], fontsize=8)
    low = min(values)
    axis.set_ylim(max(0.0, low - 5), 100.5)
    axis.set_ylabel("test top-1 (%)")
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _pct(value) -> str:
    return f"{100 * value:.2f} %" if isinstance(value, (int, float)) else "n/a"


def write_report(train_dir: Path, test_dir: Path, rtl_json: Path, out: Path) -> Path:
    from rrm.analysis import analyze
    from rrm.artifact import load_artifact
    from rrm.spec import unpruned
    from scripts.rtl_report import interval_text, summarise, write_report as write_rtl

    from rrm.safe_io import read_json, read_npy

    training = read_json(train_dir / "report.json")
    artifact = load_artifact(train_dir / "artifact")
    spec = artifact.spec
    images = read_npy(test_dir / "images.npy")
    labels = read_npy(test_dir / "labels.npy")
    logits = read_npy(test_dir / "logits.npy")
    golden_classes = np.argmax(logits, axis=1)
    golden_correct = int((golden_classes == labels).sum())
    result = read_json(rtl_json)
    rtl = summarise(result, spec, labels)
    count, rtl_correct, exact = rtl.count, rtl.correct, rtl.exact
    golden_on_rtl_images = int((golden_classes[:count] == labels[:count]).sum())
    out.mkdir(parents=True, exist_ok=True)

    rtl_md = write_rtl(result, spec, images[:count], labels[:count], out)
    acc = training["accuracy"]
    n_test = len(labels)
    bars = [("float", acc["float_top1"], f"{n_test} img"),
            ("QAT", acc["qat_top1"], f"{n_test} img"),
            ("pruned QAT", acc["pruned_qat_top1"], f"{n_test} img"),
            ("pruned integer\n(golden)", golden_correct / n_test, f"{n_test} img"),
            ("RTL", rtl_correct / count, f"{count} img")]
    plot_accuracy(bars, out / "accuracy.png",
                  f"{spec.network.name} on the digits test split: accuracy at every stage")
    rows = layer_memory(spec, artifact)
    totals = {key: sum(sum(r[key]) for r in rows) for key in ("float", "quant", "pruned")}
    plot_memory(rows, out / "memory.png",
                f"{spec.network.name}: memory per layer (paper Fig. 5), {totals['float'] / 2**20:.2f} -> "
                f"{totals['quant'] / 2**20:.2f} -> {totals['pruned'] / 2**20:.2f} Mbit")
    model, cycles, clock = rtl.model, rtl.cycles, rtl.clock
    ocm = analyze(spec)["ocm"]
    full_params = sum(l.params for l in unpruned(spec).layers())
    params = sum(a.size for k, a in artifact.params.items() if k.endswith(".weight"))
    config = training["config"]
    env = training["environment"]
    drop = acc["float_top1"] - golden_correct / n_test

    lines = [
        f"# rr-mobilenet demo: `{spec.preset or spec.network.name}` on the embedded digits",
        "",
        "Everything `make demo` made, in one place. Plots are PNG files beside this report.",
        "",
        "## Headline",
        "",
        "| | |",
        "|---|---|",
        f"| float → QAT → pruned integer (golden, {n_test} test images) | "
        f"{_pct(acc['float_top1'])} → {_pct(acc['qat_top1'])} → **{_pct(golden_correct / n_test)}** "
        f"(drop {100 * drop:.2f} points) |",
        f"| RTL (Verilator), first {count} test images | {exact} of {count} bit-exact against golden, "
        f"top-1 {rtl_correct} of {count} |",
        f"| cycles per image (RTL) | {cycles:,d} = {cycles / (clock * 1e3):.3f} ms at {clock:g} MHz "
        f"(cycle model {model.cycles:,d}) |",
        f"| interval, images back to back (RTL) | {interval_text(rtl.interval, model, clock)} |",
        f"| weights | {full_params:,d} → {params:,d} after kernel pruning |",
        f"| on-chip memory, paper Fig. 5 | {totals['float'] / 2**20:.2f} Mbit (float) → "
        f"{totals['quant'] / 2**20:.2f} Mbit (quantized) → {totals['pruned'] / 2**20:.2f} Mbit "
        f"(quantized + pruned); {ocm['bram18k']} of {ocm['available_bram18k']} BRAM18K on the "
        f"{ocm['device']} |",
        f"| training time | {training['wall_time_s']:.0f} s wall, {env['threads']} thread(s), seed {config['seed']} |",
        "",
        "## Accuracy at every stage",
        "",
        "![accuracy](accuracy.png)",
        "",
        "| model | test images | top-1 | |",
        "|---|---:|---:|---|",
        f"| float | {n_test} | {_pct(acc['float_top1'])} | after the float phase |",
        f"| QAT (paper Algorithm 1), unpruned | {n_test} | {_pct(acc['qat_top1'])} | 8-bit weights, "
        f"4-bit activations, fake-quantized |",
        f"| QAT, pruned and shrunk | {n_test} | {_pct(acc['pruned_qat_top1'])} | torch, float arithmetic |",
        f"| pruned integer: golden model | {n_test} | **{_pct(golden_correct / n_test)}** | "
        f"the exported artifact, bit-exact numpy ({golden_correct} of {n_test}) |",
        f"| pruned integer: training's emulation | {training.get('int_test_images') or n_test} | "
        f"{_pct(acc['pruned_int_top1'])} | sw/int_emulation.py (must equal golden) |",
        f"| RTL | {count} | {_pct(rtl_correct / count)} | golden on the same images: "
        f"{golden_on_rtl_images} of {count}; {exact} of {count} bit-exact |",
        "",
        "## Memory per layer (the paper's Fig. 5)",
        "",
        "![memory per layer](memory.png)",
        "",
        "Per layer, parameters (weights, folded BN multiplier and bias, FC bias) plus the output "
        "feature map. *No redundancy removal*: the unpruned network with 32-bit floats everywhere; "
        f"*quantization*: the same network at {spec.quant.weight_bits}-bit weights, "
        f"{spec.quant.act_bits}-bit activations, {spec.quant.bn_mult_bits}/{spec.quant.bn_bias_bits}-bit "
        "BN multiplier/bias; *quantization + pruning*: the trained artifact's arrays. "
        "(The hardware needs only the two largest feature maps at once, P and Q: Eq. 10.)",
        "",
        "| layer | channels (full → kept) | float params / FM (Kbit) | quantized params / FM | "
        "quantized + pruned params / FM |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['channels'][0]} → {r['channels'][1]} | "
                     + " | ".join(f"{_kbit(r[k][0])} / {_kbit(r[k][1])}" for k in ("float", "quant", "pruned"))
                     + " |")
    lines.append(f"| **total** | | " + " | ".join(f"**{totals[k] / 2**20:.3f} Mbit**"
                                                  for k in ("float", "quant", "pruned")) + " |")
    rtl_text = rtl_md.read_text().splitlines()
    lines += ["", *rtl_text, ""]
    phases = ", ".join(f"{name} {epochs}" for name, epochs in _phases(config))
    lines += [
        "## How this was made",
        "",
        f"- Training ({train_dir.name}/report.md, per epoch: {train_dir.name}/metrics.jsonl): phases {phases} "
        f"epochs; batch {config['batch_size']}, AdamW lr {config['lr']}, "
        f"distillation weight {config.get('distill', 0)}, seed {config['seed']}, "
        f"{env['threads']} torch thread(s) on {env['device']}, torch {env['torch']}. "
        "Same seed and thread count give the same weights (docs/training.md, *Reproducibility*).",
        f"- Artifact: {train_dir.name}/artifact (weights.npz sha256 "
        f"`{artifact.manifest['files']['weights.npz'][:16]}…`).",
        f"- Golden model on all {n_test} test images; the RTL (`rrm sim --limit {count}`) on the first {count}.",
        "",
    ]
    path = out / "report.md"
    tmp = out / ".report.md.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)
    return path


def _phases(config: dict) -> list[tuple[str, int]]:
    out = [("float", config["epochs"]), ("QAT", config["qat_epochs"]),
           (f"pruning {config['prune_steps']} x", config["prune_epochs"])]
    if config.get("finetune_epochs"):
        out.append(("fine-tune", config["finetune_epochs"]))
    return out
