"""The fixed-point operators of docs/design.md §6, in numpy, on batches of channels-last maps.

Every public function takes integer arrays (or float arrays holding integers) and
returns exact int64 results. Internally the sums run in the cheapest dtype that is
exact for the operands at hand: float32 while every partial sum stays below 2**24,
float64 (BLAS) below 2**53, int64 beyond. Since every product and every partial sum
of a dot product is an integer bounded by ``terms * max|x| * max|w|``, the choice is
made from that product and the result is bit-exact whatever the summation order.

Shapes (N images, H x W map, C channels, M outputs, K x K kernel):

- ``conv2d(x (N,H,W,C), w (M,C,K,K), stride) -> (N,OH,OW,M)``
- ``depthwise(x (N,H,W,C), w (C,K,K), stride) -> (N,OH,OW,C)``
- ``pointwise(x (N,H,W,C), w (M,C)) -> (N,H,W,M)``
- ``bn_requant(acc, mult (C,), bias (C,), shift, act_bits) -> same shape as acc``
- ``avgpool_sum(x (N,H,W,C)) -> (N,C)``
- ``fc(pooled (N,C), w (K,C), b (K,)) -> (N,K)``

conv2d and depthwise pad K//2 zeros on every side and cross-correlate like PyTorch
(no kernel flip); the output has ``(H + 2*(K//2) - K)//S + 1`` rows
(:func:`rrm.numerics.out_size`, imported here as ``ops.out_size``).
"""

from __future__ import annotations

import numpy as np

from rrm.numerics import MAX_SHIFT, out_size

#: Integers below these magnitudes are exact in float32 / float64 sums.
FLOAT32_EXACT = 2 ** 24
FLOAT64_EXACT = 2 ** 53
INT64_LIMIT = 2 ** 63


def max_abs(array: np.ndarray) -> int:
    """Largest |value| of an integer-valued array (0 for an empty one), as a Python int."""
    if array.size == 0:
        return 0
    return max(abs(int(array.max())), abs(int(array.min())))


def exact_dtype(bound: int) -> type:
    """The cheapest dtype in which integer sums of magnitude <= ``bound`` are exact."""
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    if bound < INT64_LIMIT:
        return np.int64
    raise OverflowError(f"sums up to {bound} do not fit int64 (limit 2**63)")


def _check_integer_valued(name: str, array: np.ndarray) -> None:
    if array.dtype.kind in "iu":
        return
    if array.dtype.kind == "f":
        if array.size and not np.array_equal(array, np.floor(array)):
            raise ValueError(f"{name} holds non-integer values")
        return
    raise ValueError(f"{name} must be an integer array, got dtype {array.dtype}")


def _check_ndim(name: str, array: np.ndarray, ndim: int, layout: str) -> None:
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {layout}, got shape {array.shape}")


def _check_stride(stride: int) -> None:
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")


def _as(array: np.ndarray, dtype) -> np.ndarray:
    return array if array.dtype == dtype else array.astype(dtype)


def _to_int64(array: np.ndarray) -> np.ndarray:
    return _as(array, np.int64)


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Zero padding of ``pad`` rows/columns on every side of (N,H,W,C) maps."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def _window(xp: np.ndarray, i: int, j: int, stride: int, oh: int, ow: int) -> np.ndarray:
    """The (N,OH,OW,C) view of padded maps that kernel tap (i, j) multiplies."""
    return xp[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride, :]


# --- accumulating operators (work in a given exact dtype) ----------------------


def conv2d_acc(x: np.ndarray, w: np.ndarray, stride: int, dtype) -> np.ndarray:
    """conv2d sums in ``dtype`` (caller guarantees exactness): im2col + one matmul."""
    n, h, wd, c = x.shape
    m, _, k, _ = w.shape
    oh, ow = out_size(h, k, stride), out_size(wd, k, stride)
    xp = _pad(_as(x, dtype), k // 2)
    cols = np.empty((n, oh, ow, k, k, c), dtype=dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, i, j, :] = _window(xp, i, j, stride, oh, ow)
    # w (M,C,K,K) -> (K,K,C,M) so that columns line up with cols' (i, j, c) order.
    wmat = _as(w, dtype).transpose(2, 3, 1, 0).reshape(k * k * c, m)
    return (cols.reshape(n * oh * ow, k * k * c) @ wmat).reshape(n, oh, ow, m)


def depthwise_acc(x: np.ndarray, w: np.ndarray, stride: int, dtype) -> np.ndarray:
    """depthwise sums in ``dtype``: a sum of K*K shifted, per-channel scaled slices."""
    n, h, wd, c = x.shape
    k = w.shape[1]
    oh, ow = out_size(h, k, stride), out_size(wd, k, stride)
    xp = _pad(_as(x, dtype), k // 2)
    wt = _as(w, dtype)
    acc = np.zeros((n, oh, ow, c), dtype=dtype)
    tmp = np.empty_like(acc)
    for i in range(k):
        for j in range(k):
            np.multiply(_window(xp, i, j, stride, oh, ow), wt[:, i, j], out=tmp)
            acc += tmp
    return acc


def pointwise_acc(x: np.ndarray, w: np.ndarray, dtype) -> np.ndarray:
    """pointwise sums in ``dtype``: one (N*H*W, C) x (C, M) matmul."""
    n, h, wd, c = x.shape
    m = w.shape[0]
    return (_as(x, dtype).reshape(n * h * wd, c) @ _as(w, dtype).T).reshape(n, h, wd, m)


# --- public, checked, int64 operators -----------------------------------------


def input_shift(images_uint8: np.ndarray, input_bits: int) -> np.ndarray:
    """Pixels p to signed inputs x = p - 2**(input_bits-1), int64."""
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got dtype {images.dtype}")
    if isinstance(input_bits, bool) or not isinstance(input_bits, (int, np.integer)) or input_bits < 1:
        raise ValueError(f"input_bits must be a positive integer, got {input_bits!r}")
    return images.astype(np.int64) - 2 ** (int(input_bits) - 1)


def _weighted_sum_inputs(x, w, w_layout: str, fits) -> tuple[np.ndarray, np.ndarray, int]:
    """Check the (x, w) of a weighted-sum op; returns them and the exact-sum bound.

    ``x`` must be (N, H, W, C), ``w`` shaped as ``w_layout`` with ``fits(x, w)``
    true, both integer-valued. Every output sums prod(w.shape[1:]) products, so
    |acc| <= that * max|x| * max|w|.
    """
    x, w = np.asarray(x), np.asarray(w)
    _check_ndim("x", x, 4, "(N, H, W, C)")
    _check_ndim("w", w, w_layout.count(",") + 1, w_layout)
    if not fits(x, w):
        raise ValueError(f"w of shape {w.shape} does not fit x of shape {x.shape} "
                         f"(need {w_layout} with C = x's channels)")
    _check_integer_valued("x", x)
    _check_integer_valued("w", w)
    return x, w, int(np.prod(w.shape[1:])) * max_abs(x) * max_abs(w)


def conv2d(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Full K x K convolution, zero padding K//2, stride S: int64 (N,OH,OW,M)."""
    _check_stride(stride)
    x, w, bound = _weighted_sum_inputs(x, w, "(M, C, K, K)",
                                       lambda x, w: w.shape[1] == x.shape[3] and w.shape[2] == w.shape[3])
    return _to_int64(conv2d_acc(x, w, int(stride), exact_dtype(bound)))


def depthwise(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Per-channel K x K convolution, zero padding K//2, stride S: int64 (N,OH,OW,C)."""
    _check_stride(stride)
    x, w, bound = _weighted_sum_inputs(x, w, "(C, K, K)",
                                       lambda x, w: w.shape[0] == x.shape[3] and w.shape[1] == w.shape[2])
    return _to_int64(depthwise_acc(x, w, int(stride), exact_dtype(bound)))


def pointwise(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """1x1 convolution: acc[n,y,x,m] = sum_c w[m,c] * x[n,y,x,c], int64 (N,H,W,M)."""
    x, w, bound = _weighted_sum_inputs(x, w, "(M, C)", lambda x, w: w.shape[1] == x.shape[3])
    return _to_int64(pointwise_acc(x, w, exact_dtype(bound)))


def layer_accumulator(x: np.ndarray, weight: np.ndarray, layer) -> np.ndarray:
    """The exact accumulator of a conv, dw or pw ``layer`` (an ``rrm.layers.Layer``) on ``x``."""
    if layer.kind == "conv":
        return conv2d(x, weight, layer.stride)
    if layer.kind == "dw":
        return depthwise(x, weight, layer.stride)
    if layer.kind == "pw":
        return pointwise(x, weight)
    raise ValueError(f"layer {layer.name} of kind {layer.kind!r} has no accumulator")


def bn_requant(acc: np.ndarray, mult: np.ndarray, bias: np.ndarray, shift: int,
               act_bits: int, out_dtype=np.int64) -> np.ndarray:
    """BN + ReLU + requantize along the last axis (the channel):

    ``y = clamp((acc*m_c + b_c + r) >> s, 0, 2**act_bits - 1)``, r = 2**(s-1) if s > 0
    else 0, arithmetic shift (floor). Computed in float64 when |acc*m + b + r| < 2**53
    (floor of an exact power-of-two scaling is exact), else in int64.
    """
    acc, mult, bias = np.asarray(acc), np.asarray(mult), np.asarray(bias)
    if mult.ndim != 1 or bias.ndim != 1 or acc.ndim < 1 \
            or not mult.shape[0] == bias.shape[0] == acc.shape[-1]:
        raise ValueError(f"mult {mult.shape} and bias {bias.shape} must be (C,) with C = acc's "
                         f"last axis (acc {acc.shape})")
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or not 0 <= shift <= MAX_SHIFT:
        raise ValueError(f"shift must be an integer in 0..{MAX_SHIFT}, got {shift!r}")
    if isinstance(act_bits, bool) or not isinstance(act_bits, (int, np.integer)) or act_bits < 1:
        raise ValueError(f"act_bits must be a positive integer, got {act_bits!r}")
    _check_integer_valued("acc", acc)
    _check_integer_valued("mult", mult)
    _check_integer_valued("bias", bias)
    shift, act_max = int(shift), 2 ** int(act_bits) - 1
    rnd = 2 ** (shift - 1) if shift > 0 else 0
    bound = max_abs(acc) * max_abs(mult) + max_abs(bias) + rnd
    if bound < FLOAT64_EXACT:
        value = _as(acc, np.float64) * _as(mult, np.float64)
        value += _as(bias, np.float64) + float(rnd)
        if shift:
            value *= 2.0 ** -shift
            np.floor(value, out=value)
        np.clip(value, 0, act_max, out=value)
        return _as(value, out_dtype)
    if bound >= INT64_LIMIT:
        raise OverflowError(f"acc*m + b + r reaches {bound}, beyond int64")
    value = _to_int64(acc) * _to_int64(mult)
    value += _to_int64(bias) + rnd
    value >>= shift
    np.clip(value, 0, act_max, out=value)
    return _as(value, out_dtype)


def avgpool_sum(x: np.ndarray) -> np.ndarray:
    """Average pool without the division: the sum over H x W per channel, int64 (N,C)."""
    x = np.asarray(x)
    _check_ndim("x", x, 4, "(N, H, W, C)")
    _check_integer_valued("x", x)
    return _to_int64(x).sum(axis=(1, 2))


def fc(pooled: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fully connected: logit[n,k] = sum_c pooled[n,c] * w[k,c] + b[k], int64 (N,K)."""
    pooled, w, b = np.asarray(pooled), np.asarray(w), np.asarray(b)
    _check_ndim("pooled", pooled, 2, "(N, C)")
    _check_ndim("w", w, 2, "(K, C)")
    _check_ndim("b", b, 1, "(K,)")
    if w.shape[1] != pooled.shape[1] or b.shape[0] != w.shape[0]:
        raise ValueError(f"w {w.shape} and b {b.shape} do not fit pooled {pooled.shape} "
                         "(need w (K, C), b (K,))")
    for name, array in (("pooled", pooled), ("w", w), ("b", b)):
        _check_integer_valued(name, array)
    bound = w.shape[1] * max_abs(pooled) * max_abs(w)
    dtype = exact_dtype(bound)
    acc = _to_int64(_as(pooled, dtype) @ _as(w, dtype).T)
    if acc.size and max_abs(acc) + max_abs(b) >= INT64_LIMIT:
        raise OverflowError("fc logits do not fit int64")
    return acc + _to_int64(b)
