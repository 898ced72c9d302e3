"""The pruning-order study (``rrm prune-study``): forward, reversed and peak at the same final sparsity.

Each (order, seed) trains the spec *without* its kernel pruning (``rrm.spec.unpruned``)
with fine-grained pruning of the pointwise and FC layers to the same overall keep
fraction (``rrm train --fine-keep R --prune-order ORDER``): the orders differ only in
when each layer is pruned and, for ``peak``, in how the kept weights are shared
between the layers. A run is ``rrm train`` in a subprocess into ``WORK/<order>-seed<N>``;
a finished run there is reused and an interrupted one resumed. While the runs go on,
one progress bar counts their epochs (the lines of their ``metrics.jsonl``).

The result (:func:`result`) is one JSON file with the commit the study ran on and
whether the tree had uncommitted changes (``dirty``, as every recorded result of
``results/``), the settings, one row per run (float, QAT, pruned QAT and pruned
integer test top-1, the sparsity reached, the exact storage of its integer weights in
each format, its test accuracy per epoch, its wall time) and per order the mean, the
lowest and the highest pruned integer accuracy. The plot goes beside it
(:mod:`scripts.prune_study_plot`).
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from rrm.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
STUDY_ORDERS = ("forward", "reversed", "peak")


@dataclass(frozen=True)
class StudyConfig:
    """What the study trains: orders x seeds, each with these phases and this keep fraction.

    The defaults take about 25 minutes for the 9 runs on 2 cores (``--jobs 2``); see
    docs/prune_study.md for the measurement.
    """

    orders: tuple = STUDY_ORDERS
    seeds: tuple = (0, 1, 2)
    keep: float = 0.2
    epochs: int = 30
    qat_epochs: int = 10
    prune_steps: int = 3
    prune_epochs: int = 5
    finetune_epochs: int = 5
    threads: int = 1
    max_batches: int | None = None

    @property
    def epochs_per_run(self) -> int:
        return self.epochs + self.qat_epochs + self.prune_steps * self.prune_epochs + self.finetune_epochs

    def runs(self) -> list[tuple[str, int]]:
        """(order, seed) of every run, seed by seed so that an early stop leaves every order a seed."""
        return [(order, seed) for seed in self.seeds for order in self.orders]


def run_dir(work: Path, order: str, seed: int) -> Path:
    return work / f"{order}-seed{seed}"


def train_args(config: StudyConfig, spec_file: Path, order: str, seed: int, out: Path,
               data: Path | None = None) -> list[str]:
    """The ``rrm train`` arguments of one run."""
    args = ["--spec", str(spec_file), "--out", str(out), "--seed", str(seed), "--threads", str(config.threads),
            "--epochs", str(config.epochs), "--qat-epochs", str(config.qat_epochs),
            "--prune-steps", str(config.prune_steps), "--prune-epochs", str(config.prune_epochs),
            "--finetune-epochs", str(config.finetune_epochs), "--fine-keep", repr(config.keep),
            "--prune-order", order, "--quiet"]
    if config.max_batches is not None:
        args += ["--max-batches", str(config.max_batches)]
    if data is not None:
        args += ["--data", str(data)]
    return args


def epochs_done(out: Path) -> int:
    """Epochs a run has finished (lines of its metrics.jsonl)."""
    try:
        return sum(1 for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip())
    except OSError:
        return 0


def train_one(config: StudyConfig, spec_file: Path, order: str, seed: int, work: Path,
              data: Path | None = None) -> None:
    """Train (or resume) one run unless it has finished; SystemExit with rrm train's error if it fails."""
    out = run_dir(work, order, seed).resolve()
    if (out / "report.json").is_file():
        return
    cmd = [sys.executable, "-m", "scripts.cli", "train",
           *train_args(config, spec_file.resolve(), order, seed, out, data)]
    if (out / "checkpoint.pt").is_file():
        cmd.append("--resume")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{order} seed {seed}: rrm train failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")


def storage_of(artifact_dir: Path) -> dict:
    """Exact sizes (bits) of an artifact's weights: dense and each format, in total."""
    from rrm.artifact import load_artifact
    from rrm.compression import exact_storage
    from rrm.weight_layers import spec_weight_layers

    artifact = load_artifact(artifact_dir)
    layers = spec_weight_layers(artifact.spec)
    weights = {layer.name: artifact.params[f"{layer.name}.weight"].reshape(layer.shape) for layer in layers}
    total = exact_storage(layers, weights, artifact.spec.quant.weight_bits, 5)["total"]
    return {"weights": total["weights"], "nonzero": total["kept"], "dense_bits": total["dense"]["total"],
            "csr5_bits": total["csr"]["total"], "csr_best_bits": total["csr_best"]["total"],
            "window_bits": total["window"]["total"], "best_per_layer_bits": total["best_per_layer"]}


def collect(out: Path, order: str, seed: int) -> dict:
    """One finished run's row of the result."""
    report = json.loads((out / "report.json").read_text())
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    acc = report["accuracy"]
    fine = report["fine_pruning"] or {}
    float_s = [h["seconds"] for h in history if h["phase"] == "float"]
    quantized_s = [h["seconds"] for h in history if h["phase"] != "float"]
    timing = {"float_epoch_s": statistics.median(float_s) if float_s else None,
              "quantized_epoch_s": statistics.median(quantized_s) if quantized_s else None,
              "outside_epochs_s": round(report["wall_time_s"] - sum(float_s) - sum(quantized_s), 3)}
    return {"order": order, "seed": seed, "float": acc["float_top1"], "qat": acc["qat_top1"],
            "pruned_qat": acc["pruned_qat_top1"], "int": acc["pruned_int_top1"],
            "sparsity": fine.get("sparsity"), "kept": {name: layer["kept"] for name, layer in
                                                      fine.get("layers", {}).items()},
            "storage": storage_of(out / "artifact"), "wall_time_s": report["wall_time_s"], "timing": timing,
            "curve": [{"phase": h["phase"], "epoch": h["global_epoch"], "test_acc": h["test_acc"]}
                      for h in history]}


def summary(rows: list[dict], orders) -> dict:
    """Per order: the pruned integer accuracy's mean, lowest and highest over the seeds."""
    out = {}
    for order in orders:
        values = [row["int"] for row in rows if row["order"] == order]
        if values:
            out[order] = {"seeds": len(values), "mean": statistics.fmean(values), "min": min(values),
                          "max": max(values)}
    return out


def table(result: dict) -> str:
    """The Markdown table of a study: pruned integer top-1 per order and seed, and the mean."""
    seeds = result["config"]["seeds"]
    lines = ["| order | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | sparsity | CSR (5-bit) kB |",
             "|---|" + "---:|" * (len(seeds) + 3)]
    for order in result["config"]["orders"]:
        rows = {row["seed"]: row for row in result["runs"] if row["order"] == order}
        if not rows:
            continue
        cells = [f"{100 * rows[s]['int']:.2f} %" if s in rows else "-" for s in seeds]
        mean = result["summary"][order]["mean"]
        sparsity = statistics.fmean(row["sparsity"] for row in rows.values())
        csr = statistics.fmean(row["storage"]["csr5_bits"] for row in rows.values()) / 8e3
        lines.append(f"| {order} | " + " | ".join(cells) + f" | **{100 * mean:.2f} %** | "
                     f"{100 * sparsity:.1f} % | {csr:.1f} |")
    return "\n".join(lines)


def run_study(config: StudyConfig, spec, work: Path, data: Path | None = None, jobs: int = 1,
              progress: bool = True) -> tuple[list[dict], float]:
    """Train every run (``jobs`` at once) with one progress bar over all epochs; (rows, wall seconds)."""
    from tqdm import tqdm

    from rrm.spec import unpruned

    work.mkdir(parents=True, exist_ok=True)
    spec_file = work / "spec.json"
    text = unpruned(spec).to_json()
    if spec_file.is_file() and spec_file.read_text() != text:
        raise UserError(f"{work} holds a study of another spec; give another --work")
    spec_file.write_text(text)
    runs = config.runs()
    total = config.epochs_per_run * len(runs)
    bar = tqdm(total=total, desc="prune-study", unit="epoch", disable=not progress)
    tic = time.monotonic()
    done = threading.Event()

    def poll():
        while not done.wait(1.0):
            count = sum(epochs_done(run_dir(work, o, s)) for o, s in runs)
            if count != bar.n:
                bar.update(count - bar.n)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(lambda run: train_one(config, spec_file, run[0], run[1], work, data), runs))
    finally:
        done.set()
        watcher.join()
        bar.update(sum(epochs_done(run_dir(work, o, s)) for o, s in runs) - bar.n)
        bar.close()
    rows = [collect(run_dir(work, order, seed), order, seed) for order, seed in runs]
    return rows, time.monotonic() - tic


def machine(load_before: float | None) -> dict:
    """The CPUs and the load average (1 minute) before and after the study: how busy the machine was."""
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after}


def result(config: StudyConfig, spec, rows: list[dict], wall_s: float, commit: dict, jobs: int,
           load_before: float | None = None) -> dict:
    """The JSON record of a study."""
    return {"kind": "prune_orders", "preset": spec.preset, "network": spec.network.name, **commit,
            "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "config": dict(asdict(config), orders=list(config.orders), seeds=list(config.seeds),
                           epochs_per_run=config.epochs_per_run, jobs=jobs),
            "machine": machine(load_before), "wall_time_s": round(wall_s, 1),
            "summary": summary(rows, config.orders), "runs": rows}


def estimate_seconds(record: dict, config: StudyConfig, jobs: int = 1) -> float:
    """Wall seconds ``config`` would take, timed from a study ``record`` run one at a time on the same machine.

    Per run: float epochs x the record's median float epoch, the other epochs x its median
    quantized epoch, plus what its runs took outside the epochs (start-up, the last
    evaluations, export, the integer emulation, the storage sizes: inside ``rrm train``
    and around it). ``jobs`` runs at once divide the time, if the machine has a core for each.
    """
    runs = record["runs"]
    if not runs or record["config"].get("jobs", 1) != 1:
        raise UserError("the timing record must hold runs trained one at a time (--jobs 1)")
    float_s = statistics.fmean(run["timing"]["float_epoch_s"] for run in runs)
    quantized_s = statistics.fmean(run["timing"]["quantized_epoch_s"] for run in runs)
    around = (record["wall_time_s"] - sum(run["wall_time_s"] for run in runs)) / len(runs)
    outside = statistics.fmean(run["timing"]["outside_epochs_s"] for run in runs) + around
    quantized_epochs = config.epochs_per_run - config.epochs
    per_run = config.epochs * float_s + quantized_epochs * quantized_s + outside
    return len(config.runs()) * per_run / max(1, jobs)
