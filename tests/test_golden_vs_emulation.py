"""The golden model equals sw's torch integer emulation on every layer: random
artifacts on random and extreme images, and the embedded digits test split."""

from __future__ import annotations

import numpy as np
import pytest

from golden import model
from golden.random_weights import random_artifact
from rrm.presets import load_preset
from sw import int_emulation
from sw.data import digits
from tests.specs import TINY, WIDE


def assert_same_trace(artifact, images):
    logits, trace = model.run(artifact, images, trace=True)
    emu_logits, emu_trace = int_emulation.run(artifact, images, trace=True)
    assert list(emu_trace) == list(trace)
    for name in trace:  # in layer order: the first failure is where they part
        assert emu_trace[name].shape == trace[name].shape, name
        assert np.array_equal(np.asarray(emu_trace[name], dtype=np.int64), trace[name]), \
            f"golden and sw emulation differ first at layer {name}"
    assert np.array_equal(np.asarray(emu_logits, dtype=np.int64), logits)


@pytest.mark.parametrize("spec, seed", [(TINY, 0), (TINY, 11), (WIDE, 5)], ids=["tiny0", "tiny11", "wide"])
def test_random_images(spec, seed):
    size, channels = spec.network.input_size, spec.network.input_channels
    rng = np.random.default_rng(seed)
    images = np.concatenate([
        rng.integers(0, 256, (12, size, size, channels), dtype=np.uint8),
        np.zeros((1, size, size, channels), np.uint8),
        np.full((1, size, size, channels), 255, np.uint8),
        rng.choice(np.array([0, 255], np.uint8), (2, size, size, channels)),
    ])
    assert_same_trace(random_artifact(spec, seed), images)


def test_embedded_digits_test_split():
    _, test = digits(TINY)
    images, _ = test.arrays()
    assert images.dtype == np.uint8 and images.shape[1:] == (32, 32, 1) and len(images) > 300
    assert_same_trace(random_artifact(TINY, 3), images)


@pytest.mark.slow
def test_full_size_rr_mobilenet():
    spec = load_preset("rr-mobilenet")
    images = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    assert_same_trace(random_artifact(spec, 0), images)
