"""The demo's RTL report (scripts/rtl_report.py) from a recorded rrm sim result."""

import numpy as np

from hw.cost.cycle_model import cycle_model
from scripts.rtl_report import write_report

from .specs import TINY


def test_report_counts_accuracy_and_lists_every_layer(tmp_path):
    model = cycle_model(TINY)
    layer_cycles = {layer.name: layer.cycles for layer in model.layers}
    classes = [1, 2, 3, 4]
    result = {"spec": "tiny",
              "images": [{"class": c, "cycles": model.cycles, "layer_cycles": layer_cycles,
                          "match_golden": True, "logits": [],
                          "interval": None if i == 0 else model.interval + i}  # the second's is shown
                         for i, c in enumerate(classes)]}
    images = np.zeros((4, 32, 32, 1), np.uint8)
    labels = np.array([1, 2, 0, 4])
    path = write_report(result, TINY, images, labels, tmp_path)
    text = path.read_text()
    assert "4 of 4 bit-exact" in text and "RTL top-1 3 of 4 (75.0%)" in text
    assert f"{model.cycles:,d} cycles" in text
    assert f"one class beat every {model.interval + 1:,d} cycles" in text
    assert f"(cycle model {model.interval:,d})" in text
    assert all(f"| {name} |" in text for name in layer_cycles)
    assert (tmp_path / "rtl-cycles.png").stat().st_size > 1000
    assert (tmp_path / "rtl-images.png").stat().st_size > 1000


def test_one_image_has_no_measured_interval(tmp_path):
    model = cycle_model(TINY)
    result = {"spec": "tiny", "images": [{"class": 0, "cycles": model.cycles, "match_golden": True,
                                          "logits": [], "layer_cycles": {l.name: l.cycles for l in model.layers}}]}
    text = write_report(result, TINY, np.zeros((1, 32, 32, 1), np.uint8), np.array([0]), tmp_path).read_text()
    assert "not measured (one image)" in text and f"(cycle model {model.interval:,d})" in text
