"""The demo's RTL section: what ``rrm sim`` measured, as Markdown and two PNG plots
(part of ``rrm report``, :mod:`scripts.demo_report`).

Writes ``DIR/rtl.md`` (images simulated, bit-exact count, RTL top-1 on them, cycles
per image (latency) and ms at the spec's clock, the interval of images back to back, a
per-layer table against the lower bound and
the cycle model), ``DIR/rtl-cycles.png`` (per-layer RTL cycles against their lower
bound) and ``DIR/rtl-images.png`` (the simulated images with the class the RTL gave,
red where it differs from the label).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RtlSummary:
    """What ``rrm sim``'s RESULT.json says about its images (the first ``count`` labels)."""

    count: int
    classes: np.ndarray
    correct: int
    exact: int
    cycles: int
    layer_cycles: dict
    model: object
    clock: float
    interval: int | None = None    # class beat to class beat, images back to back (2+ images)


def summarise(result: dict, spec, labels: np.ndarray) -> RtlSummary:
    """RTL classes, top-1 and bit-exact counts, cycles and the cycle model for ``result``."""
    from hw.cost.cycle_model import cycle_model

    runs = result["images"]
    count = len(runs)
    classes = np.array([run["class"] for run in runs])
    return RtlSummary(count=count, classes=classes, correct=int((classes == labels[:count]).sum()),
                      exact=sum(bool(run["match_golden"]) for run in runs),
                      cycles=runs[0]["cycles"], layer_cycles=runs[0]["layer_cycles"],
                      model=cycle_model(spec), clock=spec.hardware.clock_mhz,
                      interval=runs[1].get("interval") if count > 1 else None)


def interval_text(interval: int | None, model, clock: float) -> str:
    """The interval of images back to back as measured (or "not measured"), beside the model's."""
    measured = "not measured (one image)" if interval is None else \
        f"{interval:,d} cycles, {clock * 1e6 / interval:,.0f} images/s at {clock:g} MHz"
    return f"{measured} (cycle model {model.interval:,d})"


def _interval_line(interval: int | None, model, clock: float) -> str:
    return (f"Images back to back: one class beat every {interval_text(interval, model, clock)}; "
            "images do not overlap, so the interval is the latency and the one cycle that starts "
            "the next image.")


def write_report(result: dict, spec, images: np.ndarray, labels: np.ndarray, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rtl = summarise(result, spec, labels)
    count, classes, correct, exact = rtl.count, rtl.classes, rtl.correct, rtl.exact
    cycles, layer_cycles, model, clock = rtl.cycles, rtl.layer_cycles, rtl.model, rtl.clock
    out.mkdir(parents=True, exist_ok=True)

    names = list(layer_cycles)
    bounds = [model.layer(name).bound for name in names]
    figure, axis = plt.subplots(figsize=(11, 4))
    positions = np.arange(len(names))
    axis.bar(positions - 0.2, [layer_cycles[n] for n in names], 0.4, label="RTL cycles")
    axis.bar(positions + 0.2, bounds, 0.4, label="lower bound (MACs / MACs per cycle)")
    axis.set_xticks(positions, names, rotation=60, ha="right", fontsize=8)
    axis.set_yscale("log")
    axis.set_ylabel("cycles")
    axis.set_title(f"{result['spec']}: {cycles:,d} cycles per image in RTL")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "rtl-cycles.png", dpi=110)
    plt.close(figure)

    columns = min(8, count)
    rows = -(-count // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.75 * rows + 0.3), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            image = images[index]
            axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
            right = classes[index] == labels[index]
            axis.set_title(f"RTL {classes[index]}" + ("" if right else f" ({labels[index]})"),
                           color="black" if right else "red", fontsize=9)
    figure.suptitle("test images and the class the RTL gave (label in brackets where it differs)",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "rtl-images.png", dpi=110)
    plt.close(figure)

    lines = [
        "## The accelerator's RTL (Verilator)", "",
        f"{count} test images through the whole accelerator: {exact} of {count} bit-exact against "
        f"the golden model, RTL top-1 {correct} of {count} ({correct / count:.1%}).",
        f"Every image takes {cycles:,d} cycles: {cycles / (clock * 1e3):.3f} ms at {clock:g} MHz "
        f"(the cycle model says {model.cycles:,d}).",
        _interval_line(rtl.interval, model, clock), "",
        "| layer | RTL cycles | lower bound | utilisation |", "|---|---:|---:|---:|",
    ]
    for name, bound in zip(names, bounds):
        lines.append(f"| {name} | {layer_cycles[name]:,d} | {bound:,.0f} | "
                     f"{bound / layer_cycles[name]:.2f} |")
    lines += ["", "![per-layer cycles](rtl-cycles.png)", "", "![images](rtl-images.png)", ""]
    path = out / "rtl.md"
    path.write_text("\n".join(lines))
    return path
