"""Numbers and integer rules that every stage shares (docs/design.md §6), each defined once.

- :data:`MAX_SHIFT`: the largest per-layer requantization shift (the artifact's
  ``shift`` range, the golden model's check, the hardware's shift field);
- :func:`out_size`: output rows of a K x K, stride-S window with K//2 zero padding
  (the layer list, the golden operators, the accumulator bounds);
- :func:`signed_range` / :func:`signed_bits`: two's-complement ranges and widths;
- :func:`fit_shift`: the largest shift at which folded BN multipliers and biases
  still fit their signed widths (the trained export and the random artifacts).

Plain Python, no numpy.
"""

from __future__ import annotations

import math

#: Largest per-layer requantization shift: ``acc*m + b + 2**(s-1)`` then stays
#: well inside int64 (docs/design.md §6).
MAX_SHIFT = 62


def out_size(size: int, kernel: int, stride: int) -> int:
    """Output rows of a K x K, stride-S window with K//2 zero padding."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def signed_range(bits: int) -> tuple[int, int]:
    """Integer range of a signed ``bits``-wide two's-complement number."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def signed_bits(lo: int, hi: int) -> int:
    """Fewest two's-complement bits b with -2**(b-1) <= lo <= hi <= 2**(b-1) - 1."""
    if lo > hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    bits = 1
    while lo < -(1 << (bits - 1)) or hi > (1 << (bits - 1)) - 1:
        bits += 1
    return bits


def fit_shift(mult_max: float, bias_max: float, mult_bits: int, bias_bits: int,
              headroom: float = 0.0) -> int:
    """Largest shift s <= MAX_SHIFT with ``mult_max * 2**s`` and ``bias_max * 2**s``
    at most ``hi - headroom`` of their signed widths (hi = 2**(bits-1) - 1).

    ``mult_max`` and ``bias_max`` are the largest magnitudes to be scaled by
    ``2**s``; a zero magnitude sets no limit. The result is negative when even
    s = 0 does not fit (the caller decides whether that is an error).
    """
    _, mhi = signed_range(mult_bits)
    _, bhi = signed_range(bias_bits)
    shift = MAX_SHIFT
    if mult_max > 0:
        shift = min(shift, math.floor(math.log2((mhi - headroom) / mult_max)))
    if bias_max > 0:
        shift = min(shift, math.floor(math.log2((bhi - headroom) / bias_max)))
    return shift
