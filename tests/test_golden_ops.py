"""golden.ops against plain-Python-loop references (exact integers), with hypothesis.

Shapes are small and random; value modes cover the extremes the hardware must
survive: weights all at the minimum or maximum, activations all at act_max, 1x1
maps, odd sizes with stride 2, one channel. Large magnitudes force the float64 and
int64 code paths, so all three exact dtypes are checked against Python integers.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden import ops
from rrm.numerics import MAX_SHIFT

WMIN, WMAX = -64, 64
ACT_MAX = 15
SETTINGS = settings(max_examples=60, deadline=None)

# --- plain-loop references on Python ints ---------------------------------------


def ref_out(size, k, s):
    return (size + 2 * (k // 2) - k) // s + 1


def ref_conv2d(x, w, s):
    n_img, h, wd, c = x.shape
    m_out, _, k, _ = w.shape
    p = k // 2
    oh, ow = ref_out(h, k, s), ref_out(wd, k, s)
    out = np.zeros((n_img, oh, ow, m_out), dtype=object)
    for n in range(n_img):
        for oy in range(oh):
            for ox in range(ow):
                for m in range(m_out):
                    acc = 0
                    for ch in range(c):
                        for i in range(k):
                            for j in range(k):
                                iy, ix = oy * s + i - p, ox * s + j - p
                                if 0 <= iy < h and 0 <= ix < wd:
                                    acc += int(w[m, ch, i, j]) * int(x[n, iy, ix, ch])
                    out[n, oy, ox, m] = acc
    return out


def ref_depthwise(x, w, s):
    n_img, h, wd, c = x.shape
    k = w.shape[1]
    p = k // 2
    oh, ow = ref_out(h, k, s), ref_out(wd, k, s)
    out = np.zeros((n_img, oh, ow, c), dtype=object)
    for n in range(n_img):
        for oy in range(oh):
            for ox in range(ow):
                for ch in range(c):
                    acc = 0
                    for i in range(k):
                        for j in range(k):
                            iy, ix = oy * s + i - p, ox * s + j - p
                            if 0 <= iy < h and 0 <= ix < wd:
                                acc += int(w[ch, i, j]) * int(x[n, iy, ix, ch])
                    out[n, oy, ox, ch] = acc
    return out


def ref_pointwise(x, w):
    n_img, h, wd, c = x.shape
    out = np.zeros((n_img, h, wd, w.shape[0]), dtype=object)
    for n in range(n_img):
        for y in range(h):
            for xx in range(wd):
                for m in range(w.shape[0]):
                    out[n, y, xx, m] = sum(int(w[m, ch]) * int(x[n, y, xx, ch]) for ch in range(c))
    return out


def ref_bn_requant(acc, mult, bias, shift, act_bits):
    rnd = 1 << (shift - 1) if shift > 0 else 0
    top = (1 << act_bits) - 1
    flat = [min(max((int(a) * int(mult[i % len(mult)]) + int(bias[i % len(mult)]) + rnd) >> shift, 0), top)
            for i, a in enumerate(acc.reshape(-1))]
    return np.array(flat, dtype=object).reshape(acc.shape)


def ref_fc(pooled, w, b):
    return np.array([[sum(int(p[c]) * int(w[k, c]) for c in range(w.shape[1])) + int(b[k])
                      for k in range(w.shape[0])] for p in pooled], dtype=object)


def same(result, reference):
    assert result.dtype == np.int64
    assert result.shape == reference.shape
    assert [int(v) for v in result.reshape(-1)] == [int(v) for v in reference.reshape(-1)]


# --- value generators -------------------------------------------------------------

MODES = ("random", "min", "max")


def fill(rng, shape, lo, hi, mode):
    """Ints in [lo, hi]: uniform, or every value at lo ("min") or hi ("max")."""
    if mode == "min":
        return np.full(shape, lo, dtype=np.int64)
    if mode == "max":
        return np.full(shape, hi, dtype=np.int64)
    return rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)


shapes = st.fixed_dictionaries({
    "n": st.integers(1, 2), "h": st.integers(1, 7), "w": st.integers(1, 7),
    "c": st.integers(1, 4), "m": st.integers(1, 4), "k": st.sampled_from([1, 3, 5]),
    "stride": st.integers(1, 2), "seed": st.integers(0, 2 ** 32 - 1),
    "wmode": st.sampled_from(MODES), "xmode": st.sampled_from(MODES),
    # scale: 0 = the design's ranges, 1 = ~2**15 (float64 path), 2 = ~2**25 (int64 path)
    "scale": st.sampled_from([0, 0, 0, 1, 2]),
})

SCALES = {0: 1, 1: 2 ** 9, 2: 2 ** 18}


def operands(d, signed_input):
    rng = np.random.default_rng(d["seed"])
    k = SCALES[d["scale"]]
    xlo, xhi = (-128, 127) if signed_input else (0, ACT_MAX)
    x = fill(rng, (d["n"], d["h"], d["w"], d["c"]), xlo * k, xhi * k, d["xmode"])
    return rng, x, (WMIN * k, WMAX * k)


@SETTINGS
@given(shapes)
def test_conv2d_matches_loops(d):
    rng, x, (wlo, whi) = operands(d, signed_input=True)
    w = fill(rng, (d["m"], d["c"], d["k"], d["k"]), wlo, whi, d["wmode"])
    same(ops.conv2d(x, w, d["stride"]), ref_conv2d(x, w, d["stride"]))


@SETTINGS
@given(shapes)
def test_depthwise_matches_loops(d):
    rng, x, (wlo, whi) = operands(d, signed_input=False)
    w = fill(rng, (d["c"], d["k"], d["k"]), wlo, whi, d["wmode"])
    same(ops.depthwise(x, w, d["stride"]), ref_depthwise(x, w, d["stride"]))


@SETTINGS
@given(shapes)
def test_pointwise_matches_loops(d):
    rng, x, (wlo, whi) = operands(d, signed_input=False)
    w = fill(rng, (d["m"], d["c"]), wlo, whi, d["wmode"])
    same(ops.pointwise(x, w), ref_pointwise(x, w))


@SETTINGS
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 40), st.integers(1, 5),
       st.integers(0, MAX_SHIFT), st.sampled_from([1, 4, 8]), st.sampled_from(MODES),
       st.sampled_from([2 ** 10, 2 ** 20, 2 ** 33]))
def test_bn_requant_matches_loops(seed, size, channels, shift, act_bits, mode, acc_max):
    rng = np.random.default_rng(seed)
    acc = fill(rng, (size, channels), -acc_max, acc_max, mode)
    mult = fill(rng, (channels,), -2 ** 15, 2 ** 15 - 1, mode)
    bias = fill(rng, (channels,), -2 ** 31, 2 ** 31 - 1, mode)
    same(ops.bn_requant(acc, mult, bias, shift, act_bits),
         ref_bn_requant(acc, mult, bias, shift, act_bits))


def test_bn_requant_rounds_half_up_and_clamps():
    acc = np.array([[-3, -2, -1, 0, 1, 2, 3, 100]])
    mult, bias = np.ones(8, dtype=np.int64), np.zeros(8, dtype=np.int64)
    # (acc + 1) >> 1: floor((a + 1) / 2), then clamp to 0..15
    assert ops.bn_requant(acc, mult, bias, 1, 4).tolist() == [[0, 0, 0, 0, 1, 1, 2, 15]]
    assert ops.bn_requant(acc, mult, bias, 0, 4).tolist() == [[0, 0, 0, 0, 1, 2, 3, 15]]


@SETTINGS
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6),
       st.integers(1, 5), st.sampled_from(MODES))
def test_avgpool_sum_and_fc_match_loops(seed, n, h, c, classes, mode):
    rng = np.random.default_rng(seed)
    x = fill(rng, (n, h, h + 1, c), 0, ACT_MAX, mode)
    pooled = ops.avgpool_sum(x)
    same(pooled, np.array([[sum(int(v) for v in x[i, :, :, ch].reshape(-1)) for ch in range(c)]
                           for i in range(n)], dtype=object))
    w = fill(rng, (classes, c), WMIN, WMAX, mode)
    b = fill(rng, (classes,), -2 ** 31, 2 ** 31 - 1, mode)
    same(ops.fc(pooled, w, b), ref_fc(pooled, w, b))


def test_input_shift_is_pixel_minus_half_range():
    images = np.array([[[[0], [127]], [[128], [255]]]], dtype=np.uint8)
    assert ops.input_shift(images, 8).reshape(-1).tolist() == [-128, -1, 0, 127]
    assert ops.input_shift(images, 8).dtype == np.int64


def test_stride2_odd_map_output_size():
    x = np.ones((1, 7, 5, 1), dtype=np.int64)
    assert ops.conv2d(x, np.ones((2, 1, 3, 3)), 2).shape == (1, 4, 3, 2)
    assert ops.depthwise(x, np.ones((1, 3, 3)), 2).shape == (1, 4, 3, 1)


def test_exact_dtype_thresholds():
    assert ops.exact_dtype(2 ** 24 - 1) is np.float32
    assert ops.exact_dtype(2 ** 24) is np.float64
    assert ops.exact_dtype(2 ** 53) is np.int64
    with pytest.raises(OverflowError):
        ops.exact_dtype(2 ** 63)


@pytest.mark.parametrize("call, message", [
    (lambda: ops.conv2d(np.zeros((1, 4, 4, 2)), np.zeros((3, 1, 3, 3)), 1), "does not fit"),
    (lambda: ops.conv2d(np.zeros((4, 4, 2)), np.zeros((3, 2, 3, 3)), 1), "(N, H, W, C)"),
    (lambda: ops.depthwise(np.zeros((1, 4, 4, 2)), np.zeros((2, 3, 3)), 0), "stride"),
    (lambda: ops.pointwise(np.full((1, 2, 2, 2), 0.5), np.zeros((3, 2))), "non-integer"),
    (lambda: ops.bn_requant(np.zeros((2, 3)), np.ones(2), np.ones(3), 1, 4), "mult"),
    (lambda: ops.bn_requant(np.zeros((2, 3)), np.ones(3), np.ones(3), 63, 4), "shift"),
    (lambda: ops.fc(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(5)), "do not fit"),
    (lambda: ops.input_shift(np.zeros((1, 2, 2, 1), dtype=np.int16), 8), "uint8"),
])
def test_bad_operands_are_named(call, message):
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        call()


@pytest.mark.parametrize("scale", sorted(SCALES))
def test_every_exact_dtype_path_at_the_extremes(scale):
    """All weights at min and all inputs at min: float32, float64 and int64 sums."""
    k = SCALES[scale]
    x = np.full((1, 5, 5, 3), -128 * k, dtype=np.int64)
    w = np.full((2, 3, 3, 3), WMIN * k, dtype=np.int64)
    bound = 27 * 128 * 64 * k * k
    assert ops.exact_dtype(bound) is (np.float32, np.float64, np.int64)[scale]
    result = ops.conv2d(x, w, 2)
    same(result, ref_conv2d(x, w, 2))
    assert int(result.max()) == bound  # the centre sees all 27 taps


@pytest.mark.parametrize("weight", [WMIN, WMAX])
@pytest.mark.parametrize("h, w, stride", [(1, 1, 1), (1, 1, 2), (7, 5, 2), (5, 7, 2), (3, 3, 1)])
@pytest.mark.parametrize("channels", [1, 3])
def test_named_extremes(weight, h, w, stride, channels):
    """The issue's corner cases, each for certain: weights all -64 or 64, activations
    all 15 (images all -128 for conv1), 1x1 maps, odd sizes with stride 2, one channel."""
    acts = np.full((1, h, w, channels), ACT_MAX, dtype=np.int64)
    pixels = np.full((1, h, w, channels), -128, dtype=np.int64)
    same(ops.conv2d(pixels, np.full((2, channels, 3, 3), weight), stride),
         ref_conv2d(pixels, np.full((2, channels, 3, 3), weight), stride))
    same(ops.depthwise(acts, np.full((channels, 3, 3), weight), stride),
         ref_depthwise(acts, np.full((channels, 3, 3), weight), stride))
    same(ops.pointwise(acts, np.full((2, channels), weight)),
         ref_pointwise(acts, np.full((2, channels), weight)))
