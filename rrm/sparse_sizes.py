"""Expected sizes of the sparse formats (:mod:`rrm.sparse_formats`) when only a keep ratio is known.

Without the weights, a pruned layer is modelled as each weight kept independently
with probability ``density`` (magnitude pruning leaves no pattern the formats could
exploit). Under that model:

* nonzeros: ``density * params`` (the caller rounds to the kept count);
* CSR padding zeros: a nonzero at column j of a row of length L follows g zeros
  with probability ``p * (1-p)**g`` for g < j (another nonzero g + 1 columns back)
  and ``(1-p)**j`` for g = j (none before it in the row), and costs
  ``g // 2**b`` padding entries; summed over the columns;
* window bitmap: a window of T taps holds a nonzero with probability ``1 - (1-p)**T``.

``tests/test_sparse_sizes.py`` checks these expectations against the exact
encoders on random masks.
"""

from __future__ import annotations

import numpy as np

from .sparse_formats import check_index_bits, check_value_bits, pointer_width


def _check_density(density) -> float:
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be a number in [0, 1], got {density!r}")
    return float(density)


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def expected_padding_per_row(cols: int, density: float, index_bits: int) -> float:
    """Expected padding zeros of one CSR row of ``cols`` columns at ``density``."""
    _check_positive("cols", cols)
    p = _check_density(density)
    check_index_bits(index_bits)
    if p == 0.0:
        return 0.0
    q = 1.0 - p
    span = 1 << index_bits
    g = np.arange(cols, dtype=np.float64)
    q_pow = np.power(q, g)                          # q**g (0**0 = 1)
    cost = np.floor(g / span)
    after_nonzero = np.concatenate([[0.0], np.cumsum(p * q_pow * cost)[:-1]])  # sum over g < j
    return float(p * np.sum(after_nonzero + q_pow * cost))


def expected_csr_bits(rows: int, cols: int, nonzeros: float, value_bits: int, index_bits: int) -> dict:
    """Expected bits of a (rows x cols) matrix with ``nonzeros`` nonzeros in CSR (same keys as
    :func:`rrm.sparse_formats.csr_bits`, as floats, plus ``entries``)."""
    _check_positive("rows", rows)
    _check_positive("cols", cols)
    check_value_bits(value_bits)
    if not 0 <= nonzeros <= rows * cols:
        raise ValueError(f"nonzeros must be in 0..{rows * cols}, got {nonzeros!r}")
    density = nonzeros / (rows * cols)
    padding = rows * expected_padding_per_row(cols, density, index_bits)
    entries = nonzeros + padding
    parts = {"values": nonzeros * value_bits, "index": entries * index_bits, "padding": padding * value_bits,
             "pointers": float((rows + 1) * pointer_width(round(entries)))}
    parts["overhead"] = parts["index"] + parts["padding"] + parts["pointers"]
    parts["total"] = parts["values"] + parts["overhead"]
    parts["entries"] = entries
    return parts


def expected_window_bits(out_channels: int, in_channels: int, taps: int, nonzeros: float, value_bits: int) -> dict:
    """Expected bits of a (M, N, taps) tensor with ``nonzeros`` nonzeros as a window bitmap (keys of
    :func:`rrm.sparse_formats.window_bits`, as floats, plus ``windows``)."""
    for name, value in (("out_channels", out_channels), ("in_channels", in_channels), ("taps", taps)):
        _check_positive(name, value)
    check_value_bits(value_bits)
    size = out_channels * in_channels * taps
    if not 0 <= nonzeros <= size:
        raise ValueError(f"nonzeros must be in 0..{size}, got {nonzeros!r}")
    density = nonzeros / size
    windows = out_channels * in_channels * (1.0 - (1.0 - density) ** taps)
    parts = {"values": nonzeros * value_bits, "map": float(out_channels * in_channels),
             "taps": windows * taps if taps > 1 else 0.0}
    parts["overhead"] = parts["map"] + parts["taps"]
    parts["total"] = parts["values"] + parts["overhead"]
    parts["windows"] = windows
    return parts
