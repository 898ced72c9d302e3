"""Per-layer memory before and after redundancy removal, like the paper's Fig. 5."""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError


def plot_memory(before: dict, after: dict, path: Path, title: str) -> Path:
    """Write a PNG: per layer, parameter and feature-map Kbit, unpruned vs pruned.

    ``before`` and ``after`` are :func:`rrm.analysis.analyze` results of the
    same network without and with pruning. Parameters on top, output feature
    maps below; the y axes are logarithmic because conv1's feature maps and
    dsc14's parameters differ by orders of magnitude.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UserError(f"--plot {path}: the plot is written as PNG; give a .png file name")
    names = [l["name"] for l in after["layers"] if l["kind"] != "pool"]
    index = {l["name"]: l for l in before["layers"]}
    rows = [(index[n], next(l for l in after["layers"] if l["name"] == n)) for n in names]
    xs = list(range(len(names)))
    width = 0.4
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(max(8, 0.45 * len(names)), 6.4))
    for ax, key, what in ((axes[0], "param_bits", "parameters"), (axes[1], "fm_bits", "output feature map")):
        for offset, which, label, color in ((-width / 2, 0, "before pruning", "#9bbbd9"),
                                            (width / 2, 1, "after pruning", "#2d6da3")):
            ax.bar([x + offset for x in xs], [r[which][key] / 1024 for r in rows], width,
                   color=color, label=label)
        ax.set_yscale("log")
        ax.set_ylabel(f"{what} (Kbit)")
        ax.legend(fontsize=7)
    axes[1].set_xticks(xs)
    axes[1].set_xticklabels(names, rotation=70, fontsize=8)
    total_before = before["ocm"]["required_bits"] / 2**20
    total_after = after["ocm"]["required_bits"] / 2**20
    axes[0].set_title(f"{title}: on-chip memory per layer, {total_before:.1f} Mbit before and "
                      f"{total_after:.1f} Mbit after redundancy removal")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise UserError(f"cannot write plot {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)
    return path
