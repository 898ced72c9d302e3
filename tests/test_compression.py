"""The storage analysis (rrm/compression.py), AlexNet (rrm/alexnet.py) and the figures docs/analysis.md quotes."""

from pathlib import Path

import numpy as np
import pytest

from rrm import alexnet
from rrm.compression import exact_storage, expected_storage, stages
from rrm.presets import load_preset
from rrm.spec import unpruned
from rrm.weight_layers import MOBILENET_FINE_KINDS, WeightLayer, prunable_sizes, spec_weight_layers

ROOT = Path(__file__).resolve().parent.parent
LAYERS = list(alexnet.LAYERS)


def test_alexnet_is_61_m_parameters_and_243_mb_in_float32():
    storage = expected_storage(LAYERS, {}, 8, 5, float_bits=32)
    assert storage["total"]["params"] == 60_965_224                 # Caffe's bvlc_alexnet
    assert storage["total"]["weights"] == 60_954_656 and storage["total"]["biases"] == 10_568
    assert storage["total"]["float_bits"] / 8e6 == pytest.approx(243.860896)
    assert round(storage["total"]["params"] / 1e6) == alexnet.PAPER["params"] / 1e6
    fc6 = next(layer for layer in LAYERS if layer.name == "fc6")
    assert round(100 * fc6.params / 60_965_224) == 62                      # quoted in docs/training.md


def test_the_stated_ratios_give_the_papers_13x_and_28x():
    kept = alexnet.kept_weights()
    assert sum(kept.values()) == 4_615_154
    rows = {row["stage"]: row for row in stages(LAYERS, kept, alexnet.VALUE_BITS, 5, alexnet.FLOAT_BITS)}
    pruned = rows["pruned, float, values only"]
    assert pruned["bits"] == (4_615_154 + 10_568) * 32
    assert round(pruned["factor"]) == alexnet.PAPER["pruning_factor"] == 13          # 13.18x
    assert rows["pruned + quantized, values only"]["factor"] == pytest.approx(4 * pruned["factor"])
    csr = rows["pruned + quantized, CSR (5-bit index)"]
    assert csr["bits"] / 8e6 == pytest.approx(8.595, abs=0.001)                       # the paper: 8.7 MB
    assert round(csr["factor"]) == alexnet.PAPER["compression_factor"] == 28          # 28.4x
    assert rows["pruned + quantized, best format per layer"]["bits"] < csr["bits"]


def test_docs_quote_the_tables_this_analysis_computes():
    from scripts.storage_report import markdown_layers, markdown_stages
    kept = alexnet.kept_weights()
    storage = expected_storage(LAYERS, kept, alexnet.VALUE_BITS, 5, float_bits=alexnet.FLOAT_BITS)
    text = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    assert markdown_layers(storage) in text
    assert markdown_stages(stages(LAYERS, kept, alexnet.VALUE_BITS, 5, alexnet.FLOAT_BITS), alexnet.PAPER) in text


def test_formats_are_smaller_where_they_should_be():
    storage = expected_storage(LAYERS, alexnet.kept_weights(), 8, 5)
    by_name = {row["name"]: row for row in storage["layers"]}
    assert by_name["conv3"]["best"] == "window"          # dense-ish K x K windows: the tap mask wins
    assert by_name["fc6"]["best"] == "csr_best"          # 5 % dense: a bitmap costs more than the values
    assert by_name["fc6"]["csr_best"]["index_bits"] == 6
    assert by_name["fc6"]["window"]["map"] == 37_748_736
    dense_layer = expected_storage([WeightLayer("x", "conv", (8, 8, 3, 3))], {}, 8, 4)["layers"][0]
    assert dense_layer["best"] == "dense" and dense_layer["dense"]["overhead"] == 0
    assert dense_layer["csr"]["padding"] == 0


def test_exact_storage_of_real_weights_matches_the_encoders():
    rng = np.random.default_rng(3)
    layers = [WeightLayer("c", "conv", (16, 8, 3, 3), 16), WeightLayer("f", "fc", (10, 64), 10)]
    weights = {"c": np.where(rng.random((16, 8, 3, 3)) < 0.3, 5, 0),
               "f": np.where(rng.random((10, 64)) < 0.1, -2, 0)}
    weights["f"][3] = 0                                      # an empty row
    storage = exact_storage(layers, weights, 8, 3)
    rows = {row["name"]: row for row in storage["layers"]}
    assert rows["c"]["kept"] == np.count_nonzero(weights["c"]) and rows["f"]["kept"] == np.count_nonzero(weights["f"])
    from rrm.sparse_formats import csr_bits, encode_csr
    assert rows["f"]["csr"]["total"] == csr_bits(encode_csr(weights["f"], 3), 8)["total"] + 10 * 8
    total = storage["total"]
    assert total["csr"]["total"] == rows["c"]["csr"]["total"] + rows["f"]["csr"]["total"]
    assert total["best_per_layer"] <= min(total[f]["total"] for f in ("dense", "csr", "csr_best", "window"))


def test_mobilenet_layers_and_the_prunable_share():
    spec = unpruned(load_preset("tiny"))
    layers = spec_weight_layers(spec)
    assert sum(layer.weights for layer in layers) == sum(l.params for l in spec.layers())
    assert [layer.kind for layer in layers[:3]] == ["conv", "dw", "pw"] and layers[-1].name == "fc"
    share = sum(prunable_sizes(layers, MOBILENET_FINE_KINDS).values()) / sum(layer.weights for layer in layers)
    assert round(100 * share, 1) == 94.7                    # quoted in rrm/weight_layers.py


@pytest.mark.parametrize("call, message", [
    (lambda: WeightLayer("x", "conv", (4, 4, 3, 2)), "shape must be (M, N) or (M, N, K, K)"),
    (lambda: WeightLayer("x", "fc", (4, 4, 1, 1)), "a fc weight is (M, N)"),
    (lambda: WeightLayer("x", "lstm", (4, 4)), "kind must be one of conv, dw, pw, fc, got 'lstm'"),
    (lambda: expected_storage(LAYERS, {"fc9": 3}, 8, 5), "kept names no layer: fc9"),
    (lambda: expected_storage(LAYERS, {"fc8": 5_000_000}, 8, 5), "kept must be an integer in 0..4096000"),
    (lambda: exact_storage(LAYERS[:1], {}, 8, 5), "no weights for layer(s) conv1"),
    (lambda: exact_storage(LAYERS[:1], {"conv1": np.zeros((2, 2), dtype=int)}, 8, 5), "weight has shape (2, 2)"),
])
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
