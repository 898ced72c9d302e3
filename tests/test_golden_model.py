"""golden.model.run: equal to the layer-by-layer composition of golden.ops (themselves
checked against plain loops), the trace format, and input validation."""

from __future__ import annotations

import numpy as np
import pytest

from golden import model, ops
from golden.random_weights import random_artifact
from rrm.artifact import ArtifactError, save_artifact
from rrm.errors import UserError
from rrm.presets import load_preset
from rrm.spec import QuantSpec, Spec
from tests.specs import TINY, WIDE


def reference_trace(artifact, images):
    """Every layer's output by plain composition of the public golden.ops."""
    spec = artifact.spec
    x = ops.input_shift(images, spec.quant.input_bits)
    trace = {}
    for layer in spec.layers():
        if layer.kind in ("conv", "dw", "pw"):
            p = artifact.layer(layer.name)
            acc = ops.layer_accumulator(x, p["weight"], layer)
            x = ops.bn_requant(acc, p["bn_mult"], p["bn_bias"], p["shift"], spec.quant.act_bits)
        elif layer.kind == "pool":
            x = ops.avgpool_sum(x)
        else:
            p = artifact.layer(layer.name)
            x = ops.fc(x, p["weight"], p["bias"])
        trace[layer.name] = x
    return trace


def images_for(spec, count, seed):
    """Random images plus an all-black and an all-white one (the input extremes)."""
    size, channels = spec.network.input_size, spec.network.input_channels
    rng = np.random.default_rng(seed)
    random = rng.integers(0, 256, (count, size, size, channels), dtype=np.uint8)
    extremes = np.stack([np.zeros((size, size, channels), np.uint8),
                         np.full((size, size, channels), 255, np.uint8)])
    return np.concatenate([random, extremes])


@pytest.mark.parametrize("spec, seed", [(TINY, 0), (TINY, 1), (WIDE, 2)], ids=["tiny0", "tiny1", "wide"])
def test_run_equals_composed_ops_on_every_layer(spec, seed):
    artifact = random_artifact(spec, seed)
    images = images_for(spec, 6, seed)
    logits, trace = model.run(artifact, images, trace=True, batch_size=3)
    expected = reference_trace(artifact, images)
    assert list(trace) == [layer.name for layer in spec.layers()]
    for name, output in trace.items():
        assert output.dtype == np.int64, name
        assert np.array_equal(output, expected[name]), f"first mismatch at layer {name}"
    assert np.array_equal(logits, trace["fc"])
    # activations really spread over the range (the comparison is not of zeros)
    for name in ("conv1", spec.layers()[-3].name):
        values = trace[name]
        assert int(values.max()) - int(values.min()) >= spec.quant.act_max // 2, name


def test_trace_shapes_follow_the_layer_list():
    artifact = random_artifact(TINY, 3)
    images = images_for(TINY, 2, 3)
    _, trace = model.run(artifact, images, trace=True)
    n = len(images)
    for layer in TINY.layers():
        if layer.kind in ("conv", "dw", "pw"):
            assert trace[layer.name].shape == (n, layer.out_h, layer.out_w, layer.out_channels)
            assert 0 <= trace[layer.name].min() and trace[layer.name].max() <= TINY.quant.act_max
    last = TINY.layers()[-3].name
    assert np.array_equal(trace["pool"], trace[last].sum(axis=(1, 2)))
    assert trace["fc"].shape == (n, TINY.network.num_classes)


def test_batching_and_threads_do_not_change_results():
    artifact = random_artifact(TINY, 4)
    images = images_for(TINY, 9, 4)
    base = model.run(artifact, images, batch_size=64, threads=1)
    assert np.array_equal(model.run(artifact, images, batch_size=1, threads=2), base)
    assert np.array_equal(model.run(artifact, images, batch_size=4, threads=2), base)
    assert np.array_equal(model.run(artifact, images[5:6]), base[5:6])
    empty = model.run(artifact, images[:0])
    assert empty.shape == (0, TINY.network.num_classes) and empty.dtype == np.int64


def test_run_accepts_an_artifact_directory(tmp_path):
    artifact = random_artifact(TINY, 5)
    path = save_artifact(tmp_path / "art", TINY, artifact.params)
    images = images_for(TINY, 1, 5)
    assert np.array_equal(model.run(path, images), model.run(artifact, images))
    (path / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="checksum"):
        model.run(path, images)


def test_predict_breaks_ties_to_the_lowest_index():
    logits = np.array([[3, 7, 7, 1], [-5, -5, -5, -5], [0, 0, 9, 9]])
    assert model.predict(logits).tolist() == [1, 0, 2]


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 32, 32, 1), np.int16), "uint8"),
    (np.zeros((2, 32, 32, 1), np.float32), "uint8"),
    (np.zeros((2, 32, 32), np.uint8), "shape (N, 32, 32, 1)"),
    (np.zeros((2, 1, 32, 32), np.uint8), "channels-last"),
    (np.zeros((2, 28, 28, 1), np.uint8), "got (2, 28, 28, 1)"),
    ([[1, 2]], "numpy array"),
])
def test_bad_images_are_rejected_with_the_expected_shape(images, message):
    with pytest.raises(UserError, match=__import__("re").escape(message)):
        model.run(random_artifact(TINY, 0), images)


def test_pixels_beyond_narrow_input_bits_are_rejected():
    spec = Spec(network=TINY.network, quant=QuantSpec(input_bits=6, input_frac=5), hardware=TINY.hardware)
    images = np.full((1, 32, 32, 1), 64, np.uint8)
    with pytest.raises(UserError, match="input_bits=6"):
        model.run(random_artifact(spec, 0), images)


@pytest.mark.slow
def test_full_size_rr_mobilenet_equals_composed_ops():
    spec = load_preset("rr-mobilenet")
    artifact = random_artifact(spec, 0)
    images = images_for(spec, 1, 0)
    _, trace = model.run(artifact, images, trace=True)
    expected = reference_trace(artifact, images)
    for name, output in trace.items():
        assert np.array_equal(output, expected[name]), f"first mismatch at layer {name}"


def test_random_artifact_takes_forced_shifts_and_small_weights():
    """random_artifact's ``shifts`` and ``weight_limits``: the named layers get that shift and
    weights inside -w..w, the others stay as the default draw; an unknown layer is refused."""
    default = random_artifact(TINY, 6)
    forced = random_artifact(TINY, 6, shifts={"dsc3.dw": 0, "dsc3.pw": 2},
                             weight_limits={"dsc3.dw": 1, "dsc3.pw": 1})
    assert int(forced.params["dsc3.dw.shift"]) == 0 and int(forced.params["dsc3.pw.shift"]) == 2
    assert np.abs(forced.params["dsc3.pw.weight"]).max() == 1
    assert np.array_equal(forced.params["conv1.weight"], default.params["conv1.weight"])
    assert int(forced.params["conv1.shift"]) == int(default.params["conv1.shift"])
    assert forced.manifest["provenance"]["shifts"] == {"dsc3.dw": 0, "dsc3.pw": 2}
    with pytest.raises(ValueError, match="dsc99.pw"):
        random_artifact(TINY, 6, shifts={"dsc99.pw": 1})
