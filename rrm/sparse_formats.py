"""Sparse storage formats for a pruned layer's integer weights: encode, decode, exact size.

Two formats, both lossless for integer arrays (zeros are what is left out):

**CSR with relative indices** (:class:`CsrRelative`, Deep Compression, Han et al. 2016,
§2). The weight tensor is read as a matrix, one row per output channel (a conv
weight (M, N, K, K) as M rows of N*K*K), in row-major order. Each row is a list of
entries (value, gap): ``gap`` counts the zeros skipped since the previous entry of
the row (since the row's start for its first entry) and is stored in ``index_bits``
bits, so it is at most ``2**index_bits - 1``. A longer run of zeros is bridged by
*padding zeros*: entries of value 0 and the largest gap, each standing for
``2**index_bits`` positions (the gap it skips and itself). A nonzero after ``g``
zeros therefore costs ``g // 2**index_bits`` padding entries. ``row_ptr`` (rows + 1
numbers, each as wide as the total entry count needs) says where each row's entries
start, so a row's trailing zeros cost nothing.

**Window bitmap** (:class:`WindowBitmap`), for K x K convolution windows. A weight
(M, N, K, K) is M x N windows (kernels). A map of M x N bits says which windows
hold any nonzero (a kernel pruned whole costs one bit); each such window has a
K*K-bit mask of its nonzero taps (raster order), and the nonzero values follow, in
window order and tap order. A PE that walks a window reads its tap mask in one word
and skips the zero taps. For K = 1 (pointwise, FC) the tap mask says nothing the map
does not, so it is left out and the format is a plain bitmap.

:func:`csr_bits` and :func:`window_bits` give the exact bits of an encoding, split
into the nonzero values and the overhead (indices, padding, pointers, maps), so the
index overhead can be shown beside the dense size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Widest relative index accepted (a wider one would never need padding for any real layer).
MAX_INDEX_BITS = 32


def _check_integer_array(weight, what: str) -> np.ndarray:
    array = np.asarray(weight)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must be an integer array, got dtype {array.dtype}")
    if array.ndim < 1 or array.size == 0:
        raise ValueError(f"{what} must have at least one element, got shape {array.shape}")
    return array


def check_index_bits(index_bits) -> None:
    if isinstance(index_bits, bool) or not isinstance(index_bits, (int, np.integer)) \
            or not 1 <= index_bits <= MAX_INDEX_BITS:
        raise ValueError(f"index_bits must be an integer in 1..{MAX_INDEX_BITS}, got {index_bits!r}")


def check_value_bits(value_bits) -> None:
    if isinstance(value_bits, bool) or not isinstance(value_bits, (int, np.integer)) or value_bits < 1:
        raise ValueError(f"value_bits must be an integer >= 1, got {value_bits!r}")


def pointer_width(entries: int) -> int:
    """Bits of one row pointer: enough for any offset 0..entries."""
    return max(1, int(entries).bit_length())


@dataclass(frozen=True)
class CsrRelative:
    """A tensor in CSR with ``index_bits``-bit relative indices and padding zeros.

    ``values`` and ``gaps`` have one element per entry (padding zeros included, as
    the entries of value 0); row r's entries are ``row_ptr[r]:row_ptr[r + 1]``.
    """

    shape: tuple[int, ...]
    index_bits: int
    values: np.ndarray
    gaps: np.ndarray
    row_ptr: np.ndarray

    @property
    def entries(self) -> int:
        return int(self.values.size)

    @property
    def padding(self) -> int:
        """Padding zeros: entries that stand for no nonzero."""
        return int(np.count_nonzero(self.values == 0))

    @property
    def nonzeros(self) -> int:
        return self.entries - self.padding


def encode_csr(weight, index_bits: int) -> CsrRelative:
    """``weight`` (integers, any shape; rows = its first axis) in CSR with relative indices."""
    array = _check_integer_array(weight, "weight")
    check_index_bits(index_bits)
    matrix = array.reshape(array.shape[0], -1)
    rows, cols = np.nonzero(matrix)                  # row-major: sorted by row, then column
    span = 1 << int(index_bits)
    prev = np.full(rows.size, -1, dtype=np.int64)
    same_row = np.zeros(rows.size, dtype=bool)
    same_row[1:] = rows[1:] == rows[:-1]
    prev[1:] = np.where(same_row[1:], cols[:-1], -1)
    gap = cols.astype(np.int64) - prev - 1           # zeros skipped before this nonzero
    padding = gap // span                            # padding entries before it
    per_nonzero = padding + 1
    total = int(per_nonzero.sum())
    values = np.zeros(total, dtype=np.int64)
    gaps = np.full(total, span - 1, dtype=np.int64)  # a padding entry skips the largest gap
    last = np.cumsum(per_nonzero) - 1                # where each nonzero's own entry goes
    values[last] = matrix[rows, cols]
    gaps[last] = gap - padding * span
    per_row = np.bincount(rows, weights=per_nonzero, minlength=matrix.shape[0]).astype(np.int64)
    row_ptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    return CsrRelative(tuple(int(d) for d in array.shape), int(index_bits), values, gaps, row_ptr)


def decode_csr(encoded: CsrRelative) -> np.ndarray:
    """The tensor a :class:`CsrRelative` holds (int64); ValueError if the encoding is inconsistent."""
    shape = encoded.shape
    rows = shape[0]
    cols = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    ptr = np.asarray(encoded.row_ptr, dtype=np.int64)
    values = np.asarray(encoded.values, dtype=np.int64)
    gaps = np.asarray(encoded.gaps, dtype=np.int64)
    if ptr.shape != (rows + 1,) or ptr[0] != 0 or ptr[-1] != values.size or np.any(np.diff(ptr) < 0):
        raise ValueError(f"row_ptr does not describe {rows} rows of {values.size} entries")
    if gaps.shape != values.shape or np.any(gaps < 0) or np.any(gaps >= 1 << encoded.index_bits):
        raise ValueError(f"gaps must be {values.size} values in 0..{(1 << encoded.index_bits) - 1}")
    row_of = np.repeat(np.arange(rows), np.diff(ptr))
    steps = np.cumsum(gaps + 1)
    start = np.concatenate([[0], steps])[ptr[:-1]]   # the running sum before each row's first entry
    position = steps - start[row_of] - 1
    if position.size and position.max() >= cols:
        raise ValueError(f"an entry lies beyond the row's {cols} columns")
    out = np.zeros((rows, cols), dtype=np.int64)
    out[row_of, position] = values
    return out.reshape(shape)


def csr_bits(encoded: CsrRelative, value_bits: int) -> dict:
    """Exact bits of a CSR encoding with ``value_bits``-bit values.

    Keys: ``values`` (the nonzeros' values), ``index`` (every entry's relative
    index), ``padding`` (the padding entries' values), ``pointers`` (row pointers),
    ``overhead`` (all but ``values``) and ``total``.
    """
    check_value_bits(value_bits)
    pointers = (encoded.shape[0] + 1) * pointer_width(encoded.entries)
    parts = {"values": encoded.nonzeros * value_bits, "index": encoded.entries * encoded.index_bits,
             "padding": encoded.padding * value_bits, "pointers": pointers}
    parts["overhead"] = parts["index"] + parts["padding"] + parts["pointers"]
    parts["total"] = parts["values"] + parts["overhead"]
    return parts


@dataclass(frozen=True)
class WindowBitmap:
    """A tensor (M, N, K, K) or (M, N) as a window map, per-window tap masks and the nonzeros.

    ``window_map`` (M, N) bool; ``tap_masks`` (windows, K*K) bool, one row per True
    of ``window_map`` in row-major order (no columns when K = 1); ``values`` the
    nonzeros in window order, then tap order.
    """

    shape: tuple[int, ...]
    window_map: np.ndarray
    tap_masks: np.ndarray
    values: np.ndarray

    @property
    def taps(self) -> int:
        return self.shape[2] * self.shape[3] if len(self.shape) == 4 else 1

    @property
    def windows(self) -> int:
        return int(np.count_nonzero(self.window_map))

    @property
    def nonzeros(self) -> int:
        return int(self.values.size)


def _windows_view(array: np.ndarray) -> np.ndarray:
    """(M, N, taps) view of a (M, N, K, K) or (M, N) tensor."""
    if array.ndim == 2:
        return array.reshape(array.shape[0], array.shape[1], 1)
    if array.ndim == 4 and array.shape[2] == array.shape[3]:
        return array.reshape(array.shape[0], array.shape[1], -1)
    raise ValueError(f"a window bitmap needs a (M, N, K, K) or (M, N) tensor, got shape {array.shape}")


def encode_window(weight) -> WindowBitmap:
    """``weight`` (integers, (M, N, K, K) or (M, N)) as a :class:`WindowBitmap`."""
    array = _check_integer_array(weight, "weight")
    view = _windows_view(array)
    nonzero = view != 0
    window_map = nonzero.any(axis=2)
    masks = nonzero[window_map]                      # (windows, taps), row-major windows
    values = view[window_map][masks].astype(np.int64)
    if view.shape[2] == 1:
        masks = masks[:, :0]
    return WindowBitmap(tuple(int(d) for d in array.shape), window_map, masks, values)


def decode_window(encoded: WindowBitmap) -> np.ndarray:
    """The tensor a :class:`WindowBitmap` holds (int64); ValueError if the encoding is inconsistent."""
    shape = encoded.shape
    taps = encoded.taps
    window_map = np.asarray(encoded.window_map, dtype=bool)
    if window_map.shape != tuple(shape[:2]):
        raise ValueError(f"window_map has shape {window_map.shape}, expected {tuple(shape[:2])}")
    windows = int(window_map.sum())
    if taps == 1:
        masks = np.ones((windows, 1), dtype=bool)
    else:
        masks = np.asarray(encoded.tap_masks, dtype=bool)
        if masks.shape != (windows, taps) or (windows and not masks.any(axis=1).all()):
            raise ValueError(f"tap_masks must be {windows} non-empty rows of {taps} taps, got shape {masks.shape}")
    if int(masks.sum()) != encoded.values.size:
        raise ValueError(f"{encoded.values.size} values for {int(masks.sum())} marked taps")
    out = np.zeros((shape[0], shape[1], taps), dtype=np.int64)
    block = np.zeros((windows, taps), dtype=np.int64)
    block[masks] = encoded.values
    out[window_map] = block
    return out.reshape(shape)


def window_bits(encoded: WindowBitmap, value_bits: int) -> dict:
    """Exact bits of a window-bitmap encoding with ``value_bits``-bit values.

    Keys: ``values``, ``map`` (the M x N window map), ``taps`` (the tap masks),
    ``overhead`` (map + taps) and ``total``.
    """
    check_value_bits(value_bits)
    taps = encoded.taps if encoded.taps > 1 else 0
    parts = {"values": encoded.nonzeros * value_bits, "map": int(encoded.window_map.size),
             "taps": encoded.windows * taps}
    parts["overhead"] = parts["map"] + parts["taps"]
    parts["total"] = parts["values"] + parts["overhead"]
    return parts
