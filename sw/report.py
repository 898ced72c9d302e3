"""The report a training run leaves: ``report.json`` (machine-readable) and ``report.md``."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
from pathlib import Path

import torch

from rrm.spec import Spec, unpruned


def _pct(value) -> str:
    return f"{100.0 * value:.2f} %" if isinstance(value, (int, float)) else "n/a"


def _size(spec: Spec) -> dict:
    layers = spec.layers()
    return {"params": sum(l.params for l in layers), "macs": sum(l.macs for l in layers)}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _throughput(history: list[dict]) -> dict | None:
    """Median training images/s over the epochs: per process, over all processes, float and quantized epochs."""
    timed = [h for h in history if h.get("images_per_s") is not None]
    if not timed:
        return None
    return {"images_per_s_per_process": _median([h["images_per_s"] for h in timed]),
            "images_per_s_all_processes": _median([h.get("images_per_s_all", h["images_per_s"]) for h in timed]),
            "float_images_per_s_per_process": _median([h["images_per_s"] for h in timed if h["phase"] == "float"]),
            "quantized_images_per_s_per_process": _median([h["images_per_s"] for h in timed
                                                           if h["phase"] != "float"]),
            "epochs": len(timed)}


def _rate(value) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else "n/a"


def write_report(out: Path, spec: Spec, config, summary: dict, history: list[dict], model, data_dir,
                 processes: int = 1, device: str = "cpu", data_backend: str | None = None,
                 init: dict | None = None, fine: dict | None = None) -> dict:
    """Write ``out/report.json`` and ``out/report.md``; return the report dict.

    ``fine``: the fine-grained pruning's outcome (order, per layer weights and kept, sparsity), if any.
    """
    full, pruned = _size(unpruned(spec)), _size(spec)
    recipe = config.recipe_spec
    recipe_report = {"name": config.recipe, "description": recipe.describe(), "optimizer": recipe.optimizer,
                     "batch_per_process": config.batch_size, "global_batch": config.batch_size * processes,
                     "peak_lr": config.lr_for(processes), "qat_lr": config.lr_for(processes) * config.qat_lr_scale,
                     "weight_decay": config.weight_decay, "label_smoothing": recipe.label_smoothing,
                     "warmup_epochs": recipe.warmup_epochs, "qat_warmup_epochs": recipe.qat_warmup_epochs,
                     "mixed_precision": recipe.amp and device.startswith("cuda")}
    throughput = _throughput(history)
    start = {"path": config.init, "imagenet_norm": config.init_imagenet_norm, **(init or {})} if config.init else None
    report = {
        "network": spec.network.name,
        "preset": spec.preset,
        "data": str(data_dir) if data_dir else "embedded digits (scikit-learn load_digits, 20 % test split)",
        "data_backend": data_backend,
        "recipe": recipe_report,
        "throughput": throughput,
        "init": start,
        "accuracy": {
            "float_top1": summary.get("float_test_acc"),
            "qat_top1": summary.get("qat_test_acc"),
            "pruned_qat_top1": summary.get("pruned_qat_test_acc"),
            "pruned_int_top1": summary.get("int_test_acc"),
            "float_top5": summary.get("float_test_top5"),
            "qat_top5": summary.get("qat_test_top5"),
            "pruned_int_top5": summary.get("int_test_top5"),
        },
        "int_test_images": summary.get("int_test_images"),
        "wall_time_s": summary.get("wall_time_s"),
        "cpu_time_s": summary.get("cpu_time_s"),
        "kept_channels": model.kept_channels(),
        "prune_order": config.prune_order,
        "fine_pruning": fine,
        "unpruned": full,
        "pruned": pruned,
        "config": dataclasses.asdict(config),
        "environment": {"processes": processes, "device": device, "torch": torch.__version__,
                        "threads": torch.get_num_threads(), "cpus": len(os.sched_getaffinity(0))
                        if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                        "python": platform.python_version()},
        "epochs": len(history),
    }
    tmp = out / ".report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out / "report.json")

    acc = report["accuracy"]
    lines = [
        f"# Training report: {spec.network.name}",
        "",
        f"Data: {report['data']}. {processes} process(es) on {device}, "
        f"{report['environment']['threads']} thread(s), {report['environment']['cpus']} CPU(s) visible.",
        "",
        "| model | test top-1 | test top-5 |",
        "|---|---|---|",
        f"| float | {_pct(acc['float_top1'])} | {_pct(acc['float_top5'])} |",
        f"| QAT (Algorithm 1), unpruned | {_pct(acc['qat_top1'])} | {_pct(acc['qat_top5'])} |",
        f"| QAT, pruned and shrunk | {_pct(acc['pruned_qat_top1'])} | |",
        f"| exported integer artifact (integer emulation, {summary.get('int_test_images', 'all')} images) | "
        f"{_pct(acc['pruned_int_top1'])} | {_pct(acc['pruned_int_top5'])} |",
        "",
        f"Wall time (train + prune + export, all sessions of this run): {report['wall_time_s']} s "
        f"(CPU time of the main process, all threads: {report['cpu_time_s']} s).",
        "",
        f"Parameters {full['params']} -> {pruned['params']}, MACs per image {full['macs']} -> {pruned['macs']} "
        "after pruning.",
        "",
        "Kept output channels per block: "
        + ", ".join(f"{block} {count}" for block, count in report["kept_channels"].items())
        + f" (pruning order `{config.prune_order}`).",
        "",
        *([f"Fine-grained pruning: {100 * fine['sparsity']:.2f} % of the pruned layers' weights removed; kept "
           "per layer: " + ", ".join(f"{name} {layer['kept']}/{layer['weights']}"
                                     for name, layer in fine["layers"].items()) + ".", ""] if fine else []),
        f"Recipe `{config.recipe}`: {recipe.describe()}; global batch {config.batch_size * processes} "
        f"({config.batch_size} x {processes}), peak lr {recipe_report['peak_lr']:g} (QAT/pruning "
        f"{recipe_report['qat_lr']:g}), weight decay {config.weight_decay:g}"
        + ("; bf16/fp16 autocast" if recipe_report["mixed_precision"] else "") + ".",
        "",
        *([f"Training throughput (images/s, median over {throughput['epochs']} epoch(s), data loading "
           f"included): {_rate(throughput['images_per_s_per_process'])} per process, "
           f"{_rate(throughput['images_per_s_all_processes'])} over all {processes} process(es); float epochs "
           f"{_rate(throughput['float_images_per_s_per_process'])}, quantized (QAT/pruning) epochs "
           f"{_rate(throughput['quantized_images_per_s_per_process'])} per process.", ""] if throughput else []),
        *([f"Float start point (--init): {config.init}"
           + (f", {start['layout']} layout, {start['rescaled_channels']} channel(s) scaled into the clip range"
              if "layout" in start else "")
           + (", ImageNet normalization folded into conv1" if config.init_imagenet_norm else "")
           + "; no float training.", ""] if start else []),
        *([f"ImageFolder transforms: {data_backend}.", ""] if data_backend else []),
        "Phases (epochs): " + ", ".join(f"{name} {epochs}" for name, epochs in config.phases())
        + f"; batch {config.batch_size} per process, lr {config.lr}, seed {config.seed}"
        + (f", at most {config.max_batches} batches per epoch" if config.max_batches else "") + ".",
        "",
        "Per-epoch metrics: metrics.jsonl. Artifact: artifact/ (see docs/artifact.md).",
        "",
    ]
    tmp = out / ".report.md.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, out / "report.md")
    return report
