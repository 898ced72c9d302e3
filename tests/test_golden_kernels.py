"""golden.kernels (the fast, banded, threaded path) against golden.ops (the reference
that tests/test_golden_ops.py checks against plain loops), on random small shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden import kernels, ops

layer_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "h": st.integers(1, 9), "w": st.integers(1, 9),
    "c": st.integers(1, 6), "m": st.integers(1, 6), "k": st.sampled_from([1, 3, 5, 7]),
    "stride": st.integers(1, 3), "seed": st.integers(0, 2 ** 32 - 1),
    "dtype": st.sampled_from([np.int16, np.float32, np.float64, np.int64]),
    "threads": st.sampled_from([1, 2]), "band": st.sampled_from([1, 7, 64, 1 << 16]),
    "shift": st.integers(0, 40), "extreme": st.booleans(),
})


def prepare(d, signed_input):
    """Input, BN constants and a Requant for one drawn case."""
    rng = np.random.default_rng(d["seed"])
    lo, hi = (-128, 127) if signed_input else (0, 15)
    shape = (d["n"], d["h"], d["w"], d["c"])
    x = np.full(shape, lo if signed_input else hi) if d["extreme"] else rng.integers(lo, hi + 1, shape)
    wlo, whi = -64, 64
    return rng, x, (wlo, whi)


def bn_for(rng, channels, shift, acc_bound, extreme):
    mult = (np.full(channels, -2 ** 15) if extreme
            else rng.integers(-2 ** 15, 2 ** 15, channels))
    bias = rng.integers(-2 ** 31, 2 ** 31, channels)
    return mult, bias, kernels.Requant.make(mult, bias, shift, 4, acc_bound)


def out_buffers(n, oh, ow, c, pad, dtype=np.float32):
    return kernels.padded_buffer(n, oh, ow, c, pad, dtype)


def check(out, buf, pad, expected):
    assert np.array_equal(out.astype(np.int64), expected)
    if pad:  # the border stays zero: it is the next layer's padding
        border = buf.copy()
        border[:, pad:-pad, pad:-pad, :] = 0
        assert not border.any()


@settings(max_examples=50, deadline=None)
@given(d=layer_cases)
def test_banded_conv_equals_ops(d):
    rng, x, (wlo, whi) = prepare(d, signed_input=True)
    k, s = d["k"], d["stride"]
    shape = (d["m"], d["c"], k, k)
    w = np.full(shape, wlo) if d["extreme"] else rng.integers(wlo, whi + 1, shape)
    acc = ops.conv2d(x, w, s)
    mult, bias, requant = bn_for(rng, d["m"], d["shift"], d["c"] * k * k * 128 * 64, d["extreme"])
    expected = ops.bn_requant(acc, mult, bias, d["shift"], 4)
    xp, inner = kernels.padded_buffer(d["n"], d["h"], d["w"], d["c"], k // 2, planar=True)
    inner[...] = x.transpose(0, 3, 1, 2)  # conv reads planar input
    buf, out = out_buffers(d["n"], *acc.shape[1:3], d["m"], 1)
    dtype = np.float32 if d["dtype"] is np.int16 else d["dtype"]  # int16: depthwise only
    with kernels.LayerRunner(d["threads"], d["band"]) as runner:
        runner.conv(xp, w, s, dtype, requant, out)
        # the runner's own buffers: zero border, planar or not, interior as asked
        for planar in (False, True):
            kept, inner = runner.buffer(("t", planar), 2, 3, 4, 5, 2, np.int16, planar=planar)
            assert inner.shape == ((2, 5, 3, 4) if planar else (2, 3, 4, 5))
            inner[...] = 7
            assert int(kept.sum()) == 7 * inner.size
    check(out, buf, 1, expected)


@settings(max_examples=50, deadline=None)
@given(d=layer_cases)
def test_banded_depthwise_equals_ops(d):
    rng, x, (wlo, whi) = prepare(d, signed_input=False)
    k, s = d["k"], d["stride"]
    w = np.full((d["c"], k, k), whi) if d["extreme"] else rng.integers(wlo, whi + 1, (d["c"], k, k))
    acc = ops.depthwise(x, w, s)
    mult, bias, requant = bn_for(rng, d["c"], d["shift"], k * k * 15 * 64, d["extreme"])
    expected = ops.bn_requant(acc, mult, bias, d["shift"], 4)
    dtype = d["dtype"]
    if dtype is np.int16 and k * k * 15 * 64 > kernels.INT16_MAX:
        dtype = np.float32  # the model sums in int16 only when the bound fits
    # the producer stores the input in the dtype this layer sums in, as the model does
    xp, inner = kernels.padded_buffer(d["n"], d["h"], d["w"], d["c"], k // 2,
                                      np.int16 if dtype is np.int16 else np.float32)
    inner[...] = x
    buf, out = out_buffers(d["n"], *acc.shape[1:3], d["c"], 0)
    with kernels.LayerRunner(d["threads"], d["band"]) as runner:
        runner.depthwise(xp, w, s, dtype, requant, out)
    check(out, buf, 0, expected)


@settings(max_examples=50, deadline=None)
@given(d=layer_cases)
def test_banded_pointwise_equals_ops(d):
    rng, x, (wlo, whi) = prepare(d, signed_input=False)
    w = np.full((d["m"], d["c"]), wlo) if d["extreme"] else rng.integers(wlo, whi + 1, (d["m"], d["c"]))
    acc = ops.pointwise(x, w)
    mult, bias, requant = bn_for(rng, d["m"], d["shift"], d["c"] * 15 * 64, d["extreme"])
    expected = ops.bn_requant(acc, mult, bias, d["shift"], 4)
    # the output goes to an int16 buffer as before a depthwise layer, or float32
    buf, out = out_buffers(d["n"], d["h"], d["w"], d["m"], d["k"] // 2,
                           np.int16 if d["extreme"] else np.float32)
    dtype = np.float32 if d["dtype"] is np.int16 else d["dtype"]  # int16: depthwise only
    with kernels.LayerRunner(d["threads"], d["band"]) as runner:
        runner.pointwise(x.astype(np.float32), w, dtype, requant, out)
    check(out, buf, d["k"] // 2, expected)


def test_requant_falls_back_to_int64_beyond_float64():
    """acc*m + b beyond 2**53: the int64 path, still equal to ops.bn_requant."""
    acc = np.array([[[2 ** 31 - 1, -2 ** 31, 12345, 0]]], dtype=np.float64)
    mult = np.array([2 ** 30, 2 ** 30 - 1, -2 ** 31, 5])
    bias = np.array([2 ** 46, -2 ** 46, 7, 2 ** 47 - 1])
    requant = kernels.Requant.make(mult, bias, 58, 8, 2 ** 31)
    assert requant.mode == "int64"
    out = np.zeros(acc.shape)
    requant.apply(acc, out)
    assert np.array_equal(out.astype(np.int64), ops.bn_requant(acc.astype(np.int64), mult, bias, 58, 8))
    with pytest.raises(OverflowError):
        kernels.Requant.make(mult, bias, 10, 8, 2 ** 40)
