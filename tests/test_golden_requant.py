"""golden.requant: the float32 path is only taken when proved exact, and then equals the
integer definition for every accumulator in the range (checked exhaustively here)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden import ops
from golden.requant import Requant, certify_float32


def all_accumulators(bound, channels):
    """Every accumulator value -bound..bound in every channel: (2*bound+1, 1, C)."""
    acc = np.arange(-bound, bound + 1, dtype=np.int64)
    return np.repeat(acc[:, None, None], channels, axis=2)


def bn_constants(rng, channels, mult_bits=16, bias_bits=32):
    mult = rng.integers(-2 ** (mult_bits - 1), 2 ** (mult_bits - 1), channels)
    mult[rng.random(channels) < 0.1] = 0
    bias = rng.integers(-2 ** (bias_bits - 1), 2 ** (bias_bits - 1), channels)
    return mult, bias


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), shift=st.integers(0, 40),
       act_bits=st.sampled_from([1, 4, 8]), bound=st.sampled_from([60, 960, 8640, 40000]),
       acc_dtype=st.sampled_from([np.int16, np.float32, np.float64]),
       out_dtype=st.sampled_from([np.int16, np.float32]))
def test_every_mode_equals_the_definition_on_the_whole_range(seed, shift, act_bits, bound,
                                                             acc_dtype, out_dtype):
    rng = np.random.default_rng(seed)
    mult, bias = bn_constants(rng, 3)
    if acc_dtype is np.int16 and bound > 32767:
        acc_dtype = np.float32
    acc = all_accumulators(bound, 3)
    expected = ops.bn_requant(acc, mult, bias, shift, act_bits)
    for allow in (True, False):
        requant = Requant.make(mult, bias, shift, act_bits, bound, allow_float32=allow)
        assert requant.mode in (("float32", "float64") if allow else ("float64",))
        out = np.full(acc.shape, -1, dtype=out_dtype)
        requant.apply(acc.astype(acc_dtype), out)
        assert np.array_equal(out.astype(np.int64), expected), requant.mode


def test_float32_is_certified_for_typical_layers():
    """BN constants like a calibrated network's: nearly every layer takes float32."""
    rng = np.random.default_rng(1)
    modes = []
    for _ in range(20):
        mult = rng.integers(2 ** 13, 2 ** 15, 64) * rng.choice([-1, 1], 64)
        shift = int(rng.integers(16, 26))
        bias = rng.integers(-2 ** (shift + 2), 2 ** (shift + 2), 64)
        requant = Requant.make(mult, bias, shift, 4, 8640)
        modes.append(requant.mode)
        if requant.mode == "float32":  # and where it is taken, it is exact everywhere
            acc = all_accumulators(8640, 64)
            out = np.empty(acc.shape, np.float32)
            requant.apply(acc.astype(np.int16), out)
            assert np.array_equal(out.astype(np.int64), ops.bn_requant(acc, mult, bias, shift, 4))
    assert modes.count("float32") >= 15


def test_no_float32_where_it_cannot_hold():
    mult, bias = np.array([3, -7]), np.array([5, 9])
    assert certify_float32(mult, bias, 4, 15, 2 ** 24) is None  # accumulators beyond 2**24
    assert certify_float32(mult, bias, 60, 15, 100) is None     # k*2**s beyond int64
    assert certify_float32(np.array([2 ** 31 - 1]), np.array([0]), 0, 15, 2 ** 23) is None  # acc*m >= 2**53
    wide = Requant.make(np.array([2 ** 30]), np.array([0]), 0, 4, 2 ** 30)
    assert wide.mode == "int64"
    with pytest.raises(OverflowError):
        Requant.make(np.array([2 ** 31]), np.array([0]), 0, 4, 2 ** 33)
