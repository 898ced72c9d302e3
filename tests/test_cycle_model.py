"""The cycle model (hw.cost.cycle_model, ``rrm cycles``) on its own; tb/test_cycle_model.py checks it
against the RTL's layer_cycles."""

import dataclasses
import json

import pytest

from hw.cost.cycle_model import cycle_model
from hw.engines.conv1_timing import conv1_cycles
from hw.engines.sequencer import IMAGE_STEPS
from rrm.memory_map import memory_map
from rrm.presets import PRESETS, load_preset
from scripts.cli import main

from .specs import TINY


def tiny_with(pe_count):
    return dataclasses.replace(TINY, hardware=dataclasses.replace(TINY.hardware, pe_count=pe_count))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_layer_takes_at_least_its_bound(preset):
    model = cycle_model(load_preset(preset))
    assert [layer.name for layer in model.layers] == [e.name for e in memory_map(load_preset(preset)).layers]
    for layer in model.layers:
        assert layer.cycles >= layer.bound > 0, (layer.name, layer.cycles, layer.bound)
        assert 0 < layer.utilisation <= 1
    # the image arrives while conv1 runs: it adds no cycles of its own
    assert model.cycles > sum(layer.cycles for layer in model.layers) > model.input_cycles
    # images do not overlap: the next starts one IDLE cycle after the class beat
    assert model.latency == model.cycles and model.interval == model.cycles + 1
    assert model.fps == pytest.approx(model.clock_mhz * 1e6 / model.interval)
    assert model.gops == pytest.approx(2 * model.macs * model.fps / 1e9)
    # by kind: each layer counted once, the sequencer's steps in no kind, no kind below its bound
    kinds = model.kinds()
    assert list(kinds) == list(dict.fromkeys(layer.kind for layer in model.layers))
    assert sum(kind["cycles"] for kind in kinds.values()) == sum(layer.cycles for layer in model.layers)
    assert sum(kind["share"] for kind in kinds.values()) == pytest.approx(
        1 - (model.sequencer_cycles + IMAGE_STEPS) / model.cycles)
    for name, kind in kinds.items():
        layers = [layer for layer in model.layers if layer.kind == name]
        assert kind["bound"] == round(sum(layer.bound for layer in layers)) <= kind["cycles"]
        assert kind["macs"] == sum(layer.macs for layer in layers)
    assert sum(kind["macs"] for kind in kinds.values()) == model.macs


def test_pointwise_layers_keep_the_lanes_busy():
    model = cycle_model(load_preset("rr-mobilenet"))
    for name in ("dsc2.pw", "dsc4.pw", "dsc8.pw", "dsc13.pw"):
        assert model.layer(name).utilisation > 0.99, model.layer(name)


def test_more_pes_never_take_more_cycles():
    cycles = [cycle_model(tiny_with(pe_count=p)).cycles for p in (1, 2, 4, 8)]
    assert cycles == sorted(cycles, reverse=True) and cycles[0] > 2 * cycles[-1]


def test_conv1_is_bound_by_the_slower_of_its_input_and_its_serializer():
    # 1 PE: the serializer (9 beats per window) is the limit; many PEs: the padded positions
    shape = dict(height=16, width=16, stride=1, kernel=3, channels=1, groups=1, tail=0, fifo_depth=16)
    slow = conv1_cycles(pe_count=1, **shape)
    assert slow >= 16 * 16 * 9
    fast = conv1_cycles(pe_count=64, **shape)   # a word of 64 pixels is read once all have arrived
    assert 18 * 18 <= fast < 18 * 18 + 64 + 20
    # a deeper window FIFO never slows it down
    assert conv1_cycles(pe_count=4, **{**shape, "fifo_depth": 64}) <= conv1_cycles(pe_count=4, **shape)


def test_cli_prints_layers_and_totals(capsys):
    assert main(["cycles", "--preset", "tiny"]) == 0
    out = capsys.readouterr().out
    model = cycle_model(load_preset("tiny"))
    assert f"{model.cycles:,d} cycles" in out and "dsc14.pw" in out and "paper" in out
    assert f"latency {model.latency:,d} cycles" in out and f"interval {model.interval:,d} cycles" in out
    assert main(["cycles", "--preset", "tiny", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cycles"] == data["latency"] == model.cycles and data["interval"] == model.interval
    assert [layer["name"] for layer in data["layers"]] == [layer.name for layer in model.layers]
    assert data["kinds"] == model.kinds() and set(data["kinds"]) == {"conv", "dw", "pw", "pool", "fc"}
    pw = model.kinds()["pw"]
    assert main(["cycles", "--preset", "tiny"]) == 0
    assert (f"{'pw':10s} {pw['cycles']:10,d} {100 * pw['share']:6.1f}% {pw['bound']:10,d}"
            in capsys.readouterr().out)


def test_cli_unknown_preset_is_a_user_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cycles", "--preset", "no-such-net"])
    assert exc.value.code == 2


def test_a_spec_the_rtl_cannot_build_has_no_cycles(tmp_path, capsys):
    """serial_bn on 8 PEs: conv1's 9 beats per result are fewer than pe_count + 2, so the
    accelerator cannot be built and `rrm cycles` says why instead of printing cycles."""
    spec = load_preset("tiny")
    spec = dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, pe_count=8,
                                                                  serial_bn=True))
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    with pytest.raises(SystemExit) as exit_info:
        main(["cycles", "--spec", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "hardware.serial_bn" in err and "conv1" in err
