"""The paper's analysis against hand-computed values."""

import pytest

from rrm.analysis import analyze, memory_map, paper_eq4_counts
from rrm.devices import DEVICES, bram18k_blocks
from rrm.presets import load_preset
from rrm.spec import unpruned


def test_mobilenet_v1_totals_match_the_published_counts():
    total = analyze(load_preset("mobilenet-v1"))["total"]
    assert total["params"] == 4_209_088
    assert total["macs"] == 568_740_352
    assert total["ops"] == 2 * 568_740_352
    assert round(total["ops"] / 1e9, 2) == 1.14


def test_rr_mobilenet_totals_with_consistent_pruning():
    total = analyze(load_preset("rr-mobilenet"))["total"]
    assert total["params"] == 2_019_008
    assert total["macs"] == 332_091_104
    assert round(total["ops"] / 1e9, 3) == 0.664


def test_eq4_counting_keeps_unpruned_inputs():
    spec = load_preset("rr-mobilenet")
    params, ops = paper_eq4_counts(spec)
    # dsc8..12 PW read 512 inputs, dsc13 PW 512, dsc14 PW 1024, FC 1024.
    extra = 5 * (512 - 288) * 288 + (512 - 288) * 576 + (1024 - 576) * 768 + (1024 - 768) * 1000
    assert params == 2_019_008 + extra
    assert ops > analyze(spec)["total"]["ops"]
    assert paper_eq4_counts(load_preset("mobilenet-v1"))[0] == 4_209_088


def layer(result, name):
    return next(l for l in result["layers"] if l["name"] == name)


def test_single_layers_by_hand():
    result = analyze(load_preset("mobilenet-v1"))
    conv1 = layer(result, "conv1")
    assert conv1["params"] == 3 * 3 * 3 * 32
    assert conv1["macs"] == 3 * 3 * 3 * 32 * 112 * 112
    assert conv1["param_bits"] == 864 * 8 + 32 * (16 + 32)
    assert conv1["fm_bits"] == 112 * 112 * 32 * 4
    dw = layer(result, "dsc3.dw")  # stride 2: 112 -> 56, 64 channels
    assert (dw["params"], dw["macs"]) == (9 * 64, 9 * 64 * 56 * 56)
    pw = layer(result, "dsc14.pw")
    assert (pw["params"], pw["macs"]) == (1024 * 1024, 1024 * 1024 * 49)
    fc = layer(result, "fc")
    assert fc["params"] == 1024 * 1000 and fc["param_bits"] == 1024 * 1000 * 8 + 1000 * 32
    tiny = analyze(load_preset("tiny"))
    assert layer(tiny, "conv1")["macs"] == 1 * 8 * 9 * 16 * 16
    assert layer(tiny, "dsc14.pw")["params"] == 144 * 192


def test_fm_buffer_is_the_largest_layer_times_alpha():
    total = analyze(load_preset("rr-mobilenet"))["total"]
    assert total["largest_fm_bits"] == 112 * 112 * 64 * 4  # dsc2.pw output
    assert total["fm_buffer_bits"] == 2 * 112 * 112 * 64 * 4


@pytest.mark.parametrize("width, depth, blocks", [
    (36, 512, 1), (37, 512, 2), (1, 16384, 1), (18, 1025, 2), (9, 2048, 1),
    (128, 2788, 24), (72, 100, 2), (0, 10, 0),
])
def test_bram18k_mapping_by_aspect_ratio(width, depth, blocks):
    assert bram18k_blocks(width, depth) == blocks


def test_bram_count_is_not_bits_over_18k():
    # A 1-bit x 20000 memory holds 20000 bits (1.09 blocks of bits) but needs 2 blocks.
    assert bram18k_blocks(1, 20_000) == 2
    memories = memory_map(load_preset("rr-mobilenet"))
    assert sum(m.bram18k for m in memories) > sum(m.bits for m in memories if not m.in_lutram) / (18 * 1024)


def test_on_chip_fit_per_device():
    rr = load_preset("rr-mobilenet")
    assert analyze(rr, "xczu9eg")["ocm"]["fits"]
    assert not analyze(rr, "xczu3eg")["ocm"]["fits"]
    assert not analyze(load_preset("mobilenet-v1"), "xczu9eg")["ocm"]["fits"]
    ocm = analyze(rr)["ocm"]
    assert ocm["available_bits"] == 1824 * 18 * 1024 and ocm["device"] == "xczu9eg"
    assert ocm["bram18k"] <= DEVICES["xczu9eg"].bram18k
    assert analyze(load_preset("tiny"))["ocm"]["fits"]


def test_pruning_saves_memory_in_every_pruned_layer():
    spec = load_preset("rr-mobilenet")
    before, after = analyze(unpruned(spec)), analyze(spec)
    for name in ("dsc8.pw", "dsc13.pw", "dsc14.pw", "fc"):
        assert layer(after, name)["param_bits"] < layer(before, name)["param_bits"]
    assert layer(after, "conv1") == layer(before, "conv1")


def test_json_has_the_documented_keys():
    result = analyze(load_preset("tiny"))
    assert set(result["layers"][0]) >= {"name", "kind", "params", "macs", "param_bits", "fm_bits"}
    assert set(result["total"]) >= {"params", "macs", "ops", "param_bits", "fm_buffer_bits"}
    assert set(result["ocm"]) >= {"device", "available_bits", "required_bits", "bram18k", "fits"}
