"""The sparse storage formats (rrm/sparse_formats.py): exact round trips and exact sizes."""

import numpy as np
import pytest

from rrm.sparse_formats import (CsrRelative, csr_bits, decode_csr, decode_window, encode_csr, encode_window,
                                pointer_width, window_bits)


def random_sparse(rng, shape, density, low=-128, high=127):
    """Random nonzero integers at random places (each kept with probability ``density``)."""
    values = rng.integers(low, high + 1, size=shape)
    values[values == 0] = 1
    return np.where(rng.random(shape) < density, values, 0).astype(np.int64)


SHAPES = [(16, 32), (8, 4, 3, 3), (6, 3, 11, 11), (5, 1, 3, 3), (1, 200), (64,)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("index_bits", [1, 3, 8])
def test_csr_round_trip_is_exact(shape, density, index_bits):
    rng = np.random.default_rng(hash((shape, density, index_bits)) % 2 ** 32)
    weight = random_sparse(rng, shape, density)
    encoded = encode_csr(weight, index_bits)
    decoded = decode_csr(encoded)
    assert decoded.shape == weight.shape and decoded.dtype == np.int64
    np.testing.assert_array_equal(decoded, weight)
    assert encoded.nonzeros == np.count_nonzero(weight)
    assert np.all(encoded.gaps < 2 ** index_bits) and np.all(encoded.gaps >= 0)


@pytest.mark.parametrize("shape", [s for s in SHAPES if len(s) in (2, 4)])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 1.0])
def test_window_round_trip_is_exact(shape, density):
    rng = np.random.default_rng(sum(shape) + int(density * 100))
    weight = random_sparse(rng, shape, density)
    encoded = encode_window(weight)
    np.testing.assert_array_equal(decode_window(encoded), weight)
    assert encoded.nonzeros == np.count_nonzero(weight)


def test_empty_rows_all_zero_and_fully_dense_layers():
    weight = np.zeros((4, 10), dtype=np.int8)
    weight[1, 5] = -5                                  # gap 5 > 3: one padding entry
    weight[3] = np.arange(1, 11)                       # a full row
    encoded = encode_csr(weight, 2)
    assert list(encoded.row_ptr) == [0, 0, 2, 2, 12]     # rows 0 and 2 empty; row 1: one padding + the value
    np.testing.assert_array_equal(decode_csr(encoded), weight)
    zeros = np.zeros((3, 7), dtype=np.int16)
    empty = encode_csr(zeros, 4)
    assert empty.entries == 0 and list(empty.row_ptr) == [0, 0, 0, 0]
    np.testing.assert_array_equal(decode_csr(empty), zeros)
    assert csr_bits(empty, 8) == {"values": 0, "index": 0, "padding": 0, "pointers": 4 * 1, "overhead": 4,
                                  "total": 4}
    dense = np.arange(1, 25).reshape(2, 3, 2, 2)
    full = encode_csr(dense, 1)
    assert full.padding == 0 and full.entries == 24 and np.all(full.gaps == 0)
    np.testing.assert_array_equal(decode_csr(full), dense)
    window = encode_window(dense)
    assert window.windows == 6 and window.tap_masks.all()
    np.testing.assert_array_equal(decode_window(window), dense)
    none = encode_window(np.zeros((3, 2, 3, 3), dtype=np.int64))
    assert none.windows == 0 and none.nonzeros == 0
    assert window_bits(none, 8) == {"values": 0, "map": 6, "taps": 0, "overhead": 6, "total": 6}


@pytest.mark.parametrize("index_bits, column, padding, last_gap", [
    (3, 7, 0, 7),      # the largest gap a 3-bit index holds: no padding
    (3, 8, 1, 0),      # one more zero: one padding entry (8 positions), then gap 0
    (3, 9, 1, 1),
    (3, 16, 2, 0),     # two padding entries in a row
    (3, 100, 12, 4),   # 100 = 12 * 8 + 4
    (1, 5, 2, 1),      # 1-bit index: each padding entry covers 2 positions
])
def test_gap_overflow_needs_padding_zeros(index_bits, column, padding, last_gap):
    weight = np.zeros((1, 128), dtype=np.int64)
    weight[0, column] = 42
    encoded = encode_csr(weight, index_bits)
    assert encoded.padding == padding and encoded.entries == padding + 1
    assert list(encoded.values) == [0] * padding + [42]
    assert list(encoded.gaps) == [2 ** index_bits - 1] * padding + [last_gap]
    np.testing.assert_array_equal(decode_csr(encoded), weight)


def test_padding_between_nonzeros_of_a_row_and_across_rows():
    weight = np.zeros((2, 40), dtype=np.int64)
    weight[0, [0, 1, 20, 39]] = [1, 2, 3, 4]     # gaps 0, 0, 18, 18
    weight[1, 35] = -7                            # gap 35: the row starts afresh
    encoded = encode_csr(weight, 4)               # 16 positions per padding entry
    assert list(encoded.values) == [1, 2, 0, 3, 0, 4, 0, 0, -7]
    assert list(encoded.gaps) == [0, 0, 15, 2, 15, 2, 15, 15, 3]
    assert list(encoded.row_ptr) == [0, 6, 9]
    np.testing.assert_array_equal(decode_csr(encoded), weight)


def test_sizes_split_values_from_overhead():
    weight = np.zeros((3, 50), dtype=np.int64)
    weight[0, 40] = 9        # 40 = 2 * 16 + 8 with 4-bit indices: two padding entries
    weight[2, [1, 2]] = [3, -3]
    encoded = encode_csr(weight, 4)
    bits = csr_bits(encoded, 8)
    assert (encoded.entries, encoded.padding) == (5, 2)
    assert bits["values"] == 3 * 8 and bits["padding"] == 2 * 8 and bits["index"] == 5 * 4
    assert bits["pointers"] == 4 * pointer_width(5) == 4 * 3
    assert bits["overhead"] == bits["index"] + bits["padding"] + bits["pointers"]
    assert bits["total"] == bits["values"] + bits["overhead"]
    conv = np.zeros((2, 3, 3, 3), dtype=np.int64)
    conv[0, 1, 2, 2] = 1
    conv[1, 0, 0, :] = [4, 5, 6]
    wb = window_bits(encode_window(conv), 8)
    assert wb == {"values": 4 * 8, "map": 6, "taps": 2 * 9, "overhead": 24, "total": 56}
    fc = np.zeros((4, 5), dtype=np.int64)
    fc[1, 2] = 1
    assert window_bits(encode_window(fc), 8) == {"values": 8, "map": 20, "taps": 0, "overhead": 20, "total": 28}


def test_window_order_is_window_then_tap():
    conv = np.zeros((1, 2, 2, 2), dtype=np.int64)
    conv[0, 1] = [[0, 7], [8, 0]]
    conv[0, 0, 1, 1] = 5
    encoded = encode_window(conv)
    assert list(encoded.values) == [5, 7, 8]
    assert encoded.tap_masks.tolist() == [[False, False, False, True], [False, True, True, False]]


@pytest.mark.parametrize("call, message", [
    (lambda: encode_csr(np.ones((2, 2)), 4), "integer array, got dtype float64"),
    (lambda: encode_csr(np.ones((2, 2), dtype=int), 0), "index_bits must be an integer in 1..32, got 0"),
    (lambda: encode_csr(np.ones((2, 2), dtype=int), 33), "got 33"),
    (lambda: encode_csr(np.zeros((0, 3), dtype=int), 4), "at least one element"),
    (lambda: encode_window(np.ones((2, 2, 3, 2), dtype=int)), "(M, N, K, K) or (M, N) tensor, got shape (2, 2, 3, 2)"),
    (lambda: csr_bits(encode_csr(np.ones((2, 2), dtype=int), 4), 0), "value_bits must be an integer >= 1, got 0"),
])
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ValueError, match=None) as info:
        call()
    assert message in str(info.value)


def test_corrupt_encodings_are_refused():
    good = encode_csr(np.eye(4, dtype=np.int64), 2)
    with pytest.raises(ValueError, match="row_ptr"):
        decode_csr(CsrRelative(good.shape, 2, good.values, good.gaps, good.row_ptr[:-1]))
    with pytest.raises(ValueError, match="gaps must be"):
        decode_csr(CsrRelative(good.shape, 2, good.values, good.gaps + 4, good.row_ptr))
    beyond = CsrRelative((1, 4), 2, np.array([1, 1]), np.array([3, 3]), np.array([0, 2]))
    with pytest.raises(ValueError, match="beyond the row's 4 columns"):
        decode_csr(beyond)
    window = encode_window(np.eye(3, dtype=np.int64).reshape(3, 1, 3, 1).repeat(3, axis=3))
    with pytest.raises(ValueError, match="values for"):
        decode_window(type(window)(window.shape, window.window_map, window.tap_masks, window.values[:-1]))
