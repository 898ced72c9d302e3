"""Spec: presets, validation messages that name the field, JSON round trip."""

import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from rrm.errors import SpecError
from rrm.memory_map import memory_map
from rrm.presets import PRESETS, load_preset
from rrm.spec import HardwareSpec, LayerTiling, NetworkSpec, QuantSpec, Spec


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_json_round_trip(name):
    spec = load_preset(name)
    again = Spec.from_json(spec.to_json())
    assert again == spec
    assert again.layers() == spec.layers()


def test_rr_mobilenet_is_table_2():
    spec = load_preset("rr-mobilenet")
    kept = {layer.name: layer.out_channels for layer in spec.layers() if layer.kind == "pw"}
    assert [kept[f"dsc{i}.pw"] for i in range(7, 13)] == [288] * 6
    assert kept["dsc13.pw"] == 576 and kept["dsc14.pw"] == 768
    # The next block's DW and PW inputs shrink with the pruned outputs.
    assert spec.layer("dsc14.dw").in_channels == 576
    assert spec.layer("dsc14.pw").in_channels == 576
    assert spec.layer("fc").in_channels == 768
    hw, q = spec.hardware, spec.quant
    assert (hw.pe_count, hw.lanes, hw.clock_mhz, hw.device) == (9, 32, 150.0, "xczu9eg")
    assert (q.weight_bits, q.weight_frac, q.act_bits, q.act_frac) == (8, 6, 4, 2)
    assert q.weight_int_range == (-64, 64)


def test_tiny_is_small():
    spec = load_preset("tiny")
    assert spec.network.input_size == 32 and spec.network.num_classes == 10
    assert (spec.hardware.pe_count, spec.hardware.lanes) == (2, 8)
    assert sum(layer.macs for layer in spec.layers()) < 1_000_000


def test_layer_shapes_follow_padding_rule():
    # 224 -> 112 (conv1), then stride-2 blocks halve: 56, 28, 14, 7.
    spec = load_preset("mobilenet-v1")
    sizes = [(l.name, l.out_h) for l in spec.layers() if l.kind == "dw" and l.stride == 2]
    assert sizes == [("dsc3.dw", 56), ("dsc5.dw", 28), ("dsc7.dw", 14), ("dsc13.dw", 7)]
    odd = Spec(network=NetworkSpec(input_size=33))
    assert odd.layer("conv1").out_h == 17  # (33 + 2 - 3) // 2 + 1


@pytest.mark.parametrize("build, field", [
    (lambda: NetworkSpec(width_multiplier=0), "network.width_multiplier"),
    (lambda: NetworkSpec(width_multiplier=-0.5), "network.width_multiplier"),
    (lambda: NetworkSpec(input_size=4), "network.input_size"),
    (lambda: NetworkSpec(num_classes=1), "network.num_classes"),
    (lambda: NetworkSpec(pruned_channels={"dsc7": 600}), "network.pruned_channels.dsc7"),
    (lambda: NetworkSpec(pruned_channels={"dsc7": 0}), "network.pruned_channels.dsc7"),
    (lambda: NetworkSpec(pruned_channels={"dsc99": 8}), "network.pruned_channels.dsc99"),
    (lambda: NetworkSpec(blocks=((64, 3),)), "network.blocks[0].stride"),
    (lambda: QuantSpec(weight_bits=0), "quant.weight_bits"),
    (lambda: QuantSpec(act_bits=0), "quant.act_bits"),
    (lambda: QuantSpec(weight_frac=8), "quant.weight_frac"),
    (lambda: QuantSpec(clip_min=1.0, clip_max=-1.0), "quant.clip_max"),
    (lambda: HardwareSpec(pe_count=0), "hardware.pe_count"),
    (lambda: HardwareSpec(lanes=1000), "hardware.lanes"),
    (lambda: HardwareSpec(device="xc7z020"), "hardware.device"),
    (lambda: HardwareSpec(pe_count=4, dw_pe_count=5), "hardware.dw_pe_count"),
    (lambda: HardwareSpec(pe_count=9, fc_parallel=2), "hardware.fc_parallel"),
    (lambda: HardwareSpec(serial_bn=1), "hardware.serial_bn"),
    (lambda: HardwareSpec(pe_count=9, packed_pw=True), "hardware.packed_pw"),
    (lambda: HardwareSpec(packed_pw=1), "hardware.packed_pw"),
    (lambda: HardwareSpec(serial_bn_units=2), "hardware.serial_bn_units"),
    (lambda: HardwareSpec(serial_bn=True, serial_bn_units=10), "hardware.serial_bn_units"),
    (lambda: HardwareSpec(pw_slices=10), "hardware.pw_slices"),
    (lambda: HardwareSpec(image_pixels=3), "hardware.image_pixels"),
    (lambda: HardwareSpec(pe_count=9, image_pixels=2), "hardware.image_pixels"),
    (lambda: HardwareSpec(dw_pairs=1), "hardware.dw_pairs"),
    (lambda: HardwareSpec(pe_count=8, dw_pe_count=5, dw_pairs=True), "hardware.dw_pairs"),  # P < 2D
    (lambda: HardwareSpec(pe_count=9, dw_pe_count=1, dw_pairs=True), "hardware.dw_pairs"),  # odd P
    (lambda: HardwareSpec(kernel=5, pe_count=8, dw_pe_count=1, dw_pairs=True), "hardware.dw_pairs"),
    (lambda: HardwareSpec(dsp_macc=1), "hardware.dsp_macc"),
    (lambda: HardwareSpec(pe_count=8, dsp_macc=True), "hardware.dsp_macc"),   # without packed_pw
    (lambda: HardwareSpec(pe_count=8, pw_slices=4, fc_parallel=8), "hardware.fc_parallel"),
    (lambda: HardwareSpec(pe_count=8, pw_slices=6, fc_parallel=4), "hardware.fc_parallel"),
    (lambda: HardwareSpec(tiling={"conv1": LayerTiling(0, 1, 1, 1)}), "hardware.tiling.conv1.ti"),
    (lambda: Spec(hardware=HardwareSpec(tiling={"nope": LayerTiling(1, 1, 1, 1)})), "hardware.tiling.nope"),
])
def test_bad_values_are_named(build, field):
    with pytest.raises(SpecError) as info:
        build()
    assert info.value.field == field
    assert field in str(info.value)


def test_pruned_count_larger_than_layer_names_the_allowed_range():
    with pytest.raises(SpecError, match=r"allowed: 1\.\.512"):
        NetworkSpec(pruned_channels={"dsc8": 513})


def test_misspelled_field_is_named_with_a_suggestion():
    data = load_preset("tiny").to_dict()
    data["network"]["widht_multiplier"] = data["network"].pop("width_multiplier")
    with pytest.raises(SpecError) as info:
        Spec.from_dict(data)
    assert info.value.field == "network.widht_multiplier"
    assert "did you mean 'width_multiplier'" in str(info.value)


def test_missing_field_is_named():
    data = load_preset("tiny").to_dict()
    del data["quant"]["act_bits"]
    with pytest.raises(SpecError, match="quant.act_bits.*missing"):
        Spec.from_dict(data)


def test_hardware_options_default_to_the_papers_design_and_stay_out_of_the_json():
    """dw_pe_count, fc_parallel, serial_bn and dw_lut_taps may be left out of a spec file; at
    their defaults they are not written, so every existing spec keeps its hash."""
    spec = load_preset("mobilenet-v1")          # the default hardware
    assert (spec.hardware.dw_pes, spec.hardware.fc_classes, spec.hardware.serial_bn) == (9, 9, False)
    assert not set(spec.to_dict()["hardware"]) & set(HardwareSpec.OPTIONAL_FIELDS)
    changed = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, dw_pe_count=3,
                                                                    fc_parallel=3, serial_bn=True))
    again = Spec.from_json(changed.to_json())
    assert again == changed and (again.hardware.dw_pes, again.hardware.fc_classes) == (3, 3)


def test_serial_bn_needs_enough_beats_per_result():
    """One BN unit drains a result's pe_count sums while the next result is summed: a layer
    with fewer than pe_count + 2 beats per result is refused, naming the layer."""
    spec = load_preset("tiny")
    spec = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, pe_count=8,
                                                                  serial_bn=True))
    with pytest.raises(SpecError, match="layer conv1 has 9 beats per result"):
        memory_map(spec).check_image_fits(spec)


def test_not_json():
    with pytest.raises(SpecError, match="not valid JSON"):
        Spec.from_json("{network:")


def test_unknown_preset_lists_presets():
    with pytest.raises(SpecError, match="allowed: tiny, mobilenet-v1, rr-mobilenet"):
        load_preset("resnet")


@settings(max_examples=40, deadline=None)
@given(size=st.integers(8, 96), alpha=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
       classes=st.integers(2, 50), channels=st.integers(1, 4),
       pe=st.integers(1, 9), lanes=st.sampled_from([1, 4, 8, 32]),
       keep=st.floats(0.1, 1.0))
def test_random_specs_round_trip(size, alpha, classes, channels, pe, lanes, keep):
    base = NetworkSpec(input_size=size, width_multiplier=alpha, num_classes=classes,
                       input_channels=channels)
    pruned = {"dsc9": max(1, int(base.scaled(512) * keep))}
    spec = Spec(network=dataclasses.replace(base, pruned_channels=pruned),
                hardware=HardwareSpec(pe_count=pe, lanes=lanes))
    text = spec.to_json()
    assert Spec.from_json(text) == spec
    assert json.loads(text)["network"]["pruned_channels"] == pruned
    for layer in spec.layers():
        assert layer.out_h >= 1 and layer.out_w >= 1
        if layer.tiling is not None:
            assert layer.tiling.tm <= pe * lanes


def test_serial_bn_units_need_enough_beats_per_step():
    """With B units a result drains in ceil(P / B) steps: conv1's 9 beats cover 8 PEs on
    two units (4 + 2) but not 16 (8 + 2); the message names the field and both values."""
    spec = load_preset("tiny")
    for pe_count, ok in ((8, True), (16, False)):
        hw = dataclasses.replace(spec.hardware, pe_count=pe_count, serial_bn=True, serial_bn_units=2)
        case = dataclasses.replace(spec, hardware=hw)
        if ok:
            memory_map(case).check_image_fits(case)
        else:
            with pytest.raises(SpecError, match=r"ceil\(pe_count 16 / serial_bn_units 2\) \+ 2 = 10") as info:
                memory_map(case).check_image_fits(case)
            assert info.value.field == "hardware.serial_bn_units"


def test_packed_pw_refuses_a_field_wider_than_the_dsp_port():
    """Two 4-bit activations fit the 27-bit A port only while the widest conv/pw sum's field
    + act_bits <= 26; 6-bit activations on rr-mobilenet make the field 23 bits."""
    spec = load_preset("rr-mobilenet-packed")
    memory_map(spec).check_image_fits(spec)
    wide = dataclasses.replace(spec, quant=dataclasses.replace(spec.quant, act_bits=6))
    with pytest.raises(SpecError, match="27-bit A port") as info:
        memory_map(wide).check_image_fits(wide)
    assert info.value.field == "hardware.packed_pw"


@pytest.mark.parametrize("network, kernel, says", [
    (dict(input_size=30), 3, None),           # an even image: accepted
    (dict(input_size=31), 3, "on 31 x 31"),   # an odd one has no whole pairs
    (dict(), 5, "this conv1 is 5 x 5"),       # the pair walk makes 3 x 3 windows only
])
def test_image_pairs_need_a_conv1_the_pair_walk_makes(network, kernel, says):
    """``image_pixels`` 2 walks conv1 a pixel pair per cycle: a 3 x 3 conv1 of stride 2 on an
    even image; anything else is refused, naming the field and the conv1 it got."""
    spec = load_preset("tiny")
    spec = dataclasses.replace(spec, network=dataclasses.replace(spec.network, **network),
                               hardware=dataclasses.replace(spec.hardware, image_pixels=2, kernel=kernel))
    if says is None:
        memory_map(spec).check_image_fits(spec)
        return
    with pytest.raises(SpecError, match=says) as info:
        memory_map(spec).check_image_fits(spec)
    assert info.value.field == "hardware.image_pixels"
