"""The plot of a pruning-order study (:mod:`scripts.prune_study`): one PNG, two panels.

Left: test top-1 over the epochs from the first pruning step on, per order (the mean
over the seeds), the pruning steps marked. Right: the pruned integer top-1 of every
run per order (one dot per seed) and the mean (a bar).
"""

from __future__ import annotations

import os
from pathlib import Path

COLOURS = {"forward": "tab:blue", "reversed": "tab:orange", "peak": "tab:green", "all": "tab:grey"}


def plot_study(result: dict, path: Path) -> None:
    """Write the study's two-panel PNG to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    orders = [o for o in result["config"]["orders"] if o in result["summary"]]
    fig, (curve_ax, final_ax) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    steps = set()
    for order in orders:
        runs = [row for row in result["runs"] if row["order"] == order]
        pruning = [[p for p in row["curve"] if p["phase"].startswith("prune") or p["phase"] == "finetune"]
                   for row in runs]
        length = min(len(points) for points in pruning)
        if length == 0:
            continue
        epochs = [p["epoch"] for p in pruning[0][:length]]
        mean = [100 * sum(points[i]["test_acc"] for points in pruning) / len(pruning) for i in range(length)]
        curve_ax.plot(epochs, mean, marker=".", label=order, color=COLOURS.get(order))
        steps.update(p["epoch"] for p in pruning[0][:length]
                     if p["phase"].startswith("prune") and p["epoch"] == _first_of_phase(pruning[0], p["phase"]))
    for epoch in sorted(steps):
        curve_ax.axvline(epoch - 0.5, color="0.8", linewidth=0.8, zorder=0)
    curve_ax.set_xlabel("epoch (grey lines: a pruning step)")
    curve_ax.set_ylabel("test top-1 (%), mean over seeds")
    curve_ax.set_title(f"keep {result['config']['keep']:g} of the pw/FC weights: retraining after each step")
    curve_ax.legend()
    curve_ax.grid(alpha=0.3)
    for index, order in enumerate(orders):
        values = [100 * row["int"] for row in result["runs"] if row["order"] == order]
        final_ax.bar(index, sum(values) / len(values), color=COLOURS.get(order), alpha=0.4)
        final_ax.scatter([index] * len(values), values, color=COLOURS.get(order), zorder=3)
    final_ax.set_xticks(range(len(orders)), orders)
    final_ax.set_ylabel("pruned integer test top-1 (%)")
    low = min(100 * row["int"] for row in result["runs"])
    final_ax.set_ylim(max(0.0, low - 3.0), 100.0)
    final_ax.set_title(f"seeds {', '.join(str(s) for s in result['config']['seeds'])}")
    final_ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Pruning order on {result['network']} (fine-grained, equal final sparsity)")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _first_of_phase(points: list[dict], phase: str) -> int:
    return next(p["epoch"] for p in points if p["phase"] == phase)
