"""sw.int_emulation against straightforward integer loops and an independent numpy forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from golden.ops import bn_requant, layer_accumulator
from golden.random_weights import random_artifact
from rrm.artifact import validate_params
from rrm.errors import UserError
from rrm.presets import load_preset
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec
from sw import int_emulation


def micro_spec() -> Spec:
    """An odd-sized, two-channel, pruned network small enough for Python loops."""
    network = NetworkSpec(name="micro", input_size=9, input_channels=2, num_classes=3, width_multiplier=0.125,
                          blocks=((64, 1), (128, 2), (128, 1), (256, 2)), pruned_channels={"dsc3": 10})
    return Spec(network=network, quant=QuantSpec(), hardware=HardwareSpec(pe_count=1, lanes=4))


def loop_requant(acc: int, m: int, b: int, s: int, act_max: int) -> int:
    value = acc * m + b + ((1 << (s - 1)) if s > 0 else 0)
    return min(max(value >> s, 0), act_max)  # Python's >> on ints is an arithmetic shift


def loop_forward(artifact, images: np.ndarray) -> dict[str, np.ndarray]:
    """The contract written as plain loops over Python ints (slow; tiny inputs only)."""
    spec = artifact.spec
    act_max = spec.quant.act_max
    x = images.astype(np.int64) - (1 << (spec.quant.input_bits - 1))
    out = {}
    for layer in spec.layers():
        if layer.kind in ("conv", "dw", "pw"):
            p = artifact.layer(layer.name)
            w, k, s, pad = p["weight"], layer.kernel, layer.stride, layer.kernel // 2
            n = x.shape[0]
            y = np.zeros((n, layer.out_h, layer.out_w, layer.out_channels), dtype=np.int64)
            for b in range(n):
                for oy in range(layer.out_h):
                    for ox in range(layer.out_w):
                        for o in range(layer.out_channels):
                            acc = 0
                            if layer.kind == "pw":
                                acc = sum(int(w[o, c]) * int(x[b, oy, ox, c]) for c in range(layer.in_channels))
                            else:
                                for i in range(k):
                                    for j in range(k):
                                        iy, ix = oy * s + i - pad, ox * s + j - pad
                                        if not (0 <= iy < x.shape[1] and 0 <= ix < x.shape[2]):
                                            continue
                                        if layer.kind == "dw":
                                            acc += int(w[o, i, j]) * int(x[b, iy, ix, o])
                                        else:
                                            acc += sum(int(w[o, c, i, j]) * int(x[b, iy, ix, c])
                                                       for c in range(layer.in_channels))
                            y[b, oy, ox, o] = loop_requant(acc, int(p["bn_mult"][o]), int(p["bn_bias"][o]),
                                                           p["shift"], act_max)
            x = y
            out[layer.name] = y
        elif layer.kind == "pool":
            x = x.sum(axis=(1, 2))
            out["pool"] = x
        elif layer.kind == "fc":
            p = artifact.layer("fc")
            out["fc"] = np.array([[sum(int(a) * int(wv) for a, wv in zip(row, wrow)) + int(bias)
                                   for wrow, bias in zip(p["weight"], p["bias"])] for row in x], dtype=np.int64)
    return out


def test_emulation_equals_integer_loops_on_every_layer():
    spec = micro_spec()
    artifact = random_artifact(spec, seed=4)
    images = np.random.default_rng(0).integers(0, 256, (2, 9, 9, 2), dtype=np.uint8)
    logits, trace = int_emulation.run(artifact, images, trace=True)
    expected = loop_forward(artifact, images)
    assert list(trace) == list(expected)
    for name, value in expected.items():
        assert trace[name].dtype == np.int64
        np.testing.assert_array_equal(trace[name], value, err_msg=name)
    np.testing.assert_array_equal(logits, expected["fc"])
    assert trace["dsc3.pw"].shape == (2, 3, 3, 10)


def test_emulation_equals_integer_loops_at_the_extremes():
    """Largest weights and all-0 / all-255 images: the biggest accumulators are still exact."""
    spec = micro_spec()
    artifact = random_artifact(spec, seed=5)
    lo, hi = spec.quant.weight_int_range
    for key, value in artifact.params.items():
        if key.endswith(".weight"):
            artifact.params[key] = np.where(np.arange(value.size).reshape(value.shape) % 3 == 0, lo, hi)
    artifact.params = validate_params(spec, artifact.params)
    images = np.stack([np.zeros((9, 9, 2), np.uint8), np.full((9, 9, 2), 255, np.uint8)])
    logits, trace = int_emulation.run(artifact, images, trace=True)
    expected = loop_forward(artifact, images)
    for name, value in expected.items():
        np.testing.assert_array_equal(trace[name], value, err_msg=name)


def test_emulation_equals_the_numpy_forward_on_tiny():
    spec = load_preset("tiny")
    artifact = random_artifact(spec, seed=9)
    images = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 1), dtype=np.uint8)
    logits, trace = int_emulation.run(artifact, images, trace=True)
    x = images.astype(np.int64) - 128
    for layer in spec.layers():
        if layer.kind in ("conv", "dw", "pw"):
            p = artifact.layer(layer.name)
            x = bn_requant(layer_accumulator(x, p["weight"], layer), p["bn_mult"], p["bn_bias"],
                           p["shift"], spec.quant.act_bits)
            np.testing.assert_array_equal(trace[layer.name], x, err_msg=layer.name)
    pooled = x.sum(axis=(1, 2))
    np.testing.assert_array_equal(trace["pool"], pooled)
    fc = artifact.layer("fc")
    np.testing.assert_array_equal(logits, pooled @ fc["weight"].T + fc["bias"])
    np.testing.assert_array_equal(int_emulation.predict(artifact, images, batch=4), logits.argmax(axis=1))


@pytest.mark.parametrize("shift", [0, 1, 5, 30])
def test_requantize_rounds_half_up_with_an_arithmetic_shift(shift):
    acc = torch.arange(-300, 300, dtype=torch.int64).view(1, -1, 1, 1).repeat(1, 1, 1, 1)
    acc = acc.view(1, 1, -1, 1).expand(1, 2, -1, 1).contiguous()
    mult = torch.tensor([3, -7], dtype=torch.int64)
    bias = torch.tensor([1 << max(shift, 1), -5], dtype=torch.int64)
    got = int_emulation.requantize(acc, mult, bias, shift, 15)
    for c in range(2):
        for i, a in enumerate(range(-300, 300)):
            assert int(got[0, c, i, 0]) == loop_requant(a, int(mult[c]), int(bias[c]), shift, 15)


def test_emulation_rejects_images_of_the_wrong_type_or_shape():
    artifact = random_artifact(micro_spec(), seed=1)
    with pytest.raises(UserError, match="uint8"):
        int_emulation.run(artifact, np.zeros((1, 9, 9, 2), np.float32))
    with pytest.raises(UserError, match=r"\(N, 9, 9, 2\)"):
        int_emulation.run(artifact, np.zeros((1, 9, 9, 3), np.uint8))
