"""Accumulator bounds per layer, from the spec alone: what the hardware sizes its sums by.

A contract between the golden model (its exact sum dtypes), the hardware sizing
(:mod:`rrm.sizing`) and the testbenches (extreme inputs that reach the bounds).

For a layer, an output is a sum of ``taps`` products ``w * x`` with every weight in
``spec.quant.weight_int_range`` and every input in the layer's input range:

- conv1 (the image): signed ``input_bits`` after the shift, [-2**(b-1), 2**(b-1)-1];
- dw, pw: activations 0..act_max;
- fc: pool sums, 0..act_max*H*W (H x W the pooled map), plus the bias, signed
  ``fc_bias_bits``.

``taps`` is the largest number of real (non-padding) inputs any output position
sees: C*K*K for conv (less on maps smaller than the kernel, where some taps only
ever meet padding), K*K for dw (likewise), C for pw and fc. Each product lies in
[pmin, pmax], the extremes over the corners of the weight and input ranges, and all
taps can hit the same corner at once, so the accumulator range is exactly
[taps*pmin, taps*pmax] (plus the bias range for fc): the bound is reached, not just
respected.

For BN (``acc*m + b + r``) the rounding constant r = 2**(s-1) depends on the
artifact's shift s. Every shift s >= P, P the signed bits of ``acc*m + b``, gives
y = 0 for every input, exactly as s = P does (|acc*m + b| < 2**(P-1) <= 2**(s-1)),
so :func:`max_useful_shift` is P and hardware may clamp the shift to it; without a
shift, :func:`bn_product_bits` assumes that clamp.
"""

from __future__ import annotations

from .numerics import MAX_SHIFT, out_size, signed_bits
from .spec import Spec


def _layer(spec: Spec, layer_name: str):
    """The named layer and the whole layer list (built once per public call)."""
    layers = spec.layers()
    for layer in layers:
        if layer.name == layer_name:
            break
    else:
        spec.layer(layer_name)  # raises SpecError naming the allowed names
    if layer.kind == "pool":
        raise ValueError(f"layer {layer_name!r} is the pool (a plain sum, see pool_range); "
                         "accumulator bounds are for conv, dw, pw and fc layers")
    return layer, layers


def weight_range(spec: Spec) -> tuple[int, int]:
    """Integer weight range [lo, hi] of every layer."""
    return spec.quant.weight_int_range


def _pool_range(spec: Spec, layers) -> tuple[int, int]:
    pool = next(layer for layer in layers if layer.kind == "pool")
    return 0, spec.quant.act_max * pool.in_h * pool.in_w


def pool_range(spec: Spec) -> tuple[int, int]:
    """Range of the pool sums: 0..act_max * H * W of the pooled map."""
    return _pool_range(spec, spec.layers())


def _input_range(spec: Spec, layer, layers) -> tuple[int, int]:
    if layer.name == layers[0].name:
        half = 2 ** (spec.quant.input_bits - 1)
        return -half, half - 1
    if layer.kind == "fc":
        return _pool_range(spec, layers)
    return 0, spec.quant.act_max


def input_range(spec: Spec, layer_name: str) -> tuple[int, int]:
    """Range [lo, hi] of a layer's input values (see the module docstring)."""
    return _input_range(spec, *_layer(spec, layer_name))


def _real_taps_1d(size: int, kernel: int, stride: int) -> int:
    """Most kernel taps along one axis that land inside a map of ``size`` (not padding)."""
    pad, best = kernel // 2, 0
    for pos in range(out_size(size, kernel, stride)):
        start = pos * stride - pad
        best = max(best, sum(1 for i in range(kernel) if 0 <= start + i < size))
    return best


def _taps(layer) -> int:
    if layer.kind in ("conv", "dw"):
        window = (_real_taps_1d(layer.in_h, layer.kernel, layer.stride)
                  * _real_taps_1d(layer.in_w, layer.kernel, layer.stride))
        return window * (layer.in_channels if layer.kind == "conv" else 1)
    return layer.in_channels


def taps(spec: Spec, layer_name: str) -> int:
    """Most products one output of the layer sums (padding excluded)."""
    return _taps(_layer(spec, layer_name)[0])


def _product_range(spec: Spec, layer, layers) -> tuple[int, int]:
    wlo, whi = weight_range(spec)
    xlo, xhi = _input_range(spec, layer, layers)
    corners = [w * x for w in (wlo, whi) for x in (xlo, xhi)]
    return min(corners), max(corners)


def product_range(spec: Spec, layer_name: str) -> tuple[int, int]:
    """[pmin, pmax] of one product w * x of the layer."""
    return _product_range(spec, *_layer(spec, layer_name))


def accumulator_range(spec: Spec, layer_name: str) -> tuple[int, int]:
    """Exact [lo, hi] of the layer's sum before BN; for fc, of the logit (bias included)."""
    layer, layers = _layer(spec, layer_name)
    count = _taps(layer)
    pmin, pmax = _product_range(spec, layer, layers)
    lo, hi = count * pmin, count * pmax
    if layer.kind == "fc":
        half = 2 ** (spec.quant.fc_bias_bits - 1)
        lo, hi = lo - half, hi + half - 1
    return lo, hi


def accumulator_bound(spec: Spec, layer_name: str) -> int:
    """Largest |acc| any input and any in-range weights produce (fc: largest |logit|)."""
    lo, hi = accumulator_range(spec, layer_name)
    return max(abs(lo), abs(hi))


def accumulator_bounds(spec: Spec) -> dict[str, int]:
    """accumulator_bound of every conv/dw/pw/fc layer, by name (one pass over the layers)."""
    layers = spec.layers()
    out = {}
    for layer in layers:
        if layer.kind == "pool":
            continue
        pmin, pmax = _product_range(spec, layer, layers)
        lo, hi = _taps(layer) * pmin, _taps(layer) * pmax
        if layer.kind == "fc":
            half = 2 ** (spec.quant.fc_bias_bits - 1)
            lo, hi = lo - half, hi + half - 1
        out[layer.name] = max(abs(lo), abs(hi))
    return out


def accumulator_bits(spec: Spec, layer_name: str) -> int:
    """Signed bits that hold +-accumulator_bound (bound.bit_length() + 1)."""
    return accumulator_bound(spec, layer_name).bit_length() + 1


def _bn_layer(spec: Spec, layer_name: str):
    layer, _ = _layer(spec, layer_name)
    if layer.kind == "fc":
        raise ValueError(f"layer {layer_name!r} has no BN (only conv, dw and pw layers do)")
    return layer


def bn_sum_range(spec: Spec, layer_name: str) -> tuple[int, int]:
    """Exact [lo, hi] of acc*m + b (before rounding) over all inputs, weights and BN params."""
    _bn_layer(spec, layer_name)
    alo, ahi = accumulator_range(spec, layer_name)
    mhalf = 2 ** (spec.quant.bn_mult_bits - 1)
    bhalf = 2 ** (spec.quant.bn_bias_bits - 1)
    corners = [a * m for a in (alo, ahi) for m in (-mhalf, mhalf - 1)]
    return min(corners) - bhalf, max(corners) + bhalf - 1


def max_useful_shift(spec: Spec, layer_name: str) -> int:
    """P = signed bits of acc*m + b: every shift >= P gives all-zero outputs, as P does."""
    return min(MAX_SHIFT, signed_bits(*bn_sum_range(spec, layer_name)))


def bn_product_bits(spec: Spec, layer_name: str, shift: int | None = None) -> int:
    """Signed bits of acc*m + b + r.

    With ``shift`` (the artifact's s), exact for r = 2**(s-1); without, for the
    largest shift that matters, :func:`max_useful_shift` (clamp larger shifts to it).
    """
    lo, hi = bn_sum_range(spec, layer_name)
    if shift is None:
        shift = max_useful_shift(spec, layer_name)
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= MAX_SHIFT:
        raise ValueError(f"shift must be an integer in 0..{MAX_SHIFT}, got {shift!r}")
    rnd = 2 ** (shift - 1) if shift > 0 else 0
    return signed_bits(lo + rnd, hi + rnd)
