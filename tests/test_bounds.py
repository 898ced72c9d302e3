"""rrm.bounds: extreme inputs and weights reach each layer's bound exactly, random
in-range ones never exceed it; BN widths and the useful-shift clamp hold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden import ops
from rrm import bounds
from rrm.layers import Layer
from rrm.presets import load_preset
from rrm.spec import NetworkSpec, QuantSpec, Spec

TINY = load_preset("tiny")
# A network whose last maps shrink to 1x1 below the kernel size, with other widths.
SMALL = Spec(network=NetworkSpec(name="small", input_size=9, input_channels=2, num_classes=3,
                                 width_multiplier=0.125, blocks=((16, 2), (16, 2), (32, 2), (32, 1))),
             quant=QuantSpec(weight_bits=6, weight_frac=4, act_bits=3, act_frac=1,
                             input_bits=8, bn_mult_bits=12, bn_bias_bits=20, fc_bias_bits=24))
SPECS = {"tiny": TINY, "small": SMALL}
CASES = [(name, layer.name) for name, spec in SPECS.items() for layer in spec.layers()
         if layer.kind != "pool"]


def layer_acc(spec: Spec, layer: Layer, x: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
    """The layer's accumulator (or fc logits) through golden.ops."""
    if layer.kind == "conv":
        return ops.conv2d(x, w, layer.stride)
    if layer.kind == "dw":
        return ops.depthwise(x, w, layer.stride)
    if layer.kind == "pw":
        return ops.pointwise(x, w)
    return ops.fc(x, w, b)


def input_shape(spec: Spec, layer: Layer, batch: int) -> tuple[int, ...]:
    if layer.kind == "fc":
        return (batch, layer.in_channels)
    return (batch, layer.in_h, layer.in_w, layer.in_channels)


@pytest.mark.parametrize("spec_name, layer_name", CASES)
def test_extremes_reach_the_bound_exactly(spec_name, layer_name):
    spec = SPECS[spec_name]
    layer = spec.layer(layer_name)
    wlo, whi = bounds.weight_range(spec)
    xlo, xhi = bounds.input_range(spec, layer_name)
    # the corner of (weight, input) with the largest |product|, everywhere at once
    wv, xv = max(((w, x) for w in (wlo, whi) for x in (xlo, xhi)), key=lambda c: abs(c[0] * c[1]))
    x = np.full(input_shape(spec, layer, 1), xv, dtype=np.int64)
    w = np.full(layer.weight_shape, wv, dtype=np.int64)
    b = None
    if layer.kind == "fc":
        half = 2 ** (spec.quant.fc_bias_bits - 1)
        b = np.full(layer.out_channels, -half if wv * xv < 0 else half - 1, dtype=np.int64)
    acc = layer_acc(spec, layer, x, w, b)
    assert ops.max_abs(acc) == bounds.accumulator_bound(spec, layer_name)
    lo, hi = bounds.accumulator_range(spec, layer_name)
    assert int(acc.min()) in (lo, hi) or int(acc.max()) in (lo, hi)
    bits = bounds.accumulator_bits(spec, layer_name)
    assert -(2 ** (bits - 1)) <= int(acc.min()) and int(acc.max()) <= 2 ** (bits - 1) - 1
    # one bit fewer cannot hold +-bound
    assert bounds.accumulator_bound(spec, layer_name) > 2 ** (bits - 2) - 1


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(CASES), st.integers(0, 2 ** 32 - 1), st.sampled_from(["uniform", "corners"]))
def test_random_in_range_operands_never_exceed_the_range(case, seed, mode):
    spec_name, layer_name = case
    spec = SPECS[spec_name]
    layer = spec.layer(layer_name)
    rng = np.random.default_rng(seed)
    wlo, whi = bounds.weight_range(spec)
    xlo, xhi = bounds.input_range(spec, layer_name)

    def draw(shape, lo, hi):
        if mode == "corners":  # only the end points: the worst case for mixed signs
            return np.where(rng.random(shape) < 0.5, lo, hi).astype(np.int64)
        return rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)

    x = draw(input_shape(spec, layer, 2), xlo, xhi)
    w = draw(layer.weight_shape, wlo, whi)
    half = 2 ** (spec.quant.fc_bias_bits - 1)
    b = draw((layer.out_channels,), -half, half - 1) if layer.kind == "fc" else None
    acc = layer_acc(spec, layer, x, w, b)
    lo, hi = bounds.accumulator_range(spec, layer_name)
    assert lo <= int(acc.min()) and int(acc.max()) <= hi


def test_known_values_for_the_paper_numerics():
    """Default numerics: conv1 27 taps of 64*128, dw 9 taps of 64*15, pw C of 64*15."""
    assert bounds.accumulator_bound(TINY, "conv1") == 9 * 1 * 64 * 128
    assert bounds.accumulator_bound(TINY, "dsc2.dw") == 9 * 64 * 15
    assert bounds.accumulator_bound(TINY, "dsc3.pw") == 16 * 64 * 15
    # dsc14.dw runs on a 1x1 map: only the centre tap ever meets real data
    assert bounds.taps(TINY, "dsc14.dw") == 1
    # dsc13.dw: stride 2 on a 2x2 map, the one output sees a 2x2 corner
    assert bounds.taps(TINY, "dsc13.dw") == 4
    pool = TINY.layer("pool")
    assert bounds.accumulator_bound(TINY, "fc") == 192 * 64 * 15 * pool.in_h * pool.in_w + 2 ** 31
    assert bounds.accumulator_bits(TINY, "conv1") == 18  # 73728 < 2**17


@pytest.mark.parametrize("spec_name, layer_name",
                         [c for c in CASES if SPECS[c[0]].layer(c[1]).kind != "fc"])
def test_bn_sum_extremes_fit_product_bits(spec_name, layer_name):
    spec = SPECS[spec_name]
    q = spec.quant
    alo, ahi = bounds.accumulator_range(spec, layer_name)
    mhalf, bhalf = 2 ** (q.bn_mult_bits - 1), 2 ** (q.bn_bias_bits - 1)
    lo, hi = bounds.bn_sum_range(spec, layer_name)
    corners = [a * m for a in (alo, ahi) for m in (-mhalf, mhalf - 1)]
    assert (lo, hi) == (min(corners) - bhalf, max(corners) + bhalf - 1)
    useful = bounds.max_useful_shift(spec, layer_name)
    for shift in (0, 1, useful):
        bits = bounds.bn_product_bits(spec, layer_name, shift)
        rnd = 2 ** (shift - 1) if shift else 0
        assert -(2 ** (bits - 1)) <= lo + rnd and hi + rnd <= 2 ** (bits - 1) - 1
        assert lo + rnd < -(2 ** (bits - 2)) or hi + rnd > 2 ** (bits - 2) - 1  # tight
    assert bounds.bn_product_bits(spec, layer_name) == bounds.bn_product_bits(spec, layer_name, useful)


@pytest.mark.parametrize("layer_name", ["conv1", "dsc5.pw", "dsc14.dw"])
def test_shifts_beyond_the_useful_one_give_the_same_zeros(layer_name):
    """Every shift >= max_useful_shift maps the whole acc*m + b range to 0."""
    q = TINY.quant
    alo, ahi = bounds.accumulator_range(TINY, layer_name)
    mhalf, bhalf = 2 ** (q.bn_mult_bits - 1), 2 ** (q.bn_bias_bits - 1)
    acc = np.array([[alo, alo], [ahi, ahi], [alo, ahi], [0, 0]])
    useful = bounds.max_useful_shift(TINY, layer_name)
    for mult in ([-mhalf, mhalf - 1], [mhalf - 1, -mhalf]):
        for bias in ([bhalf - 1, bhalf - 1], [-bhalf, bhalf - 1]):
            for shift in range(useful, 63):
                y = ops.bn_requant(acc, np.array(mult), np.array(bias), shift, q.act_bits)
                assert not y.any(), (shift, mult, bias)
    # one below the useful shift can still give a non-zero output
    y = ops.bn_requant(acc, np.array([-mhalf, mhalf - 1]), np.array([bhalf - 1, bhalf - 1]),
                       useful - 1, q.act_bits)
    assert y.any()


def test_pool_has_no_accumulator_bound():
    with pytest.raises(ValueError, match="pool"):
        bounds.accumulator_bound(TINY, "pool")
    with pytest.raises(ValueError, match="no BN"):
        bounds.bn_product_bits(TINY, "fc")


@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_all_bounds_at_once_equal_the_per_layer_ones(spec_name):
    spec = SPECS[spec_name]
    assert bounds.accumulator_bounds(spec) == {
        layer.name: bounds.accumulator_bound(spec, layer.name)
        for layer in spec.layers() if layer.kind != "pool"}
