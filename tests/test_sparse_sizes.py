"""Expected sizes of the sparse formats (rrm/sparse_sizes.py) against the exact encoders."""

import itertools

import numpy as np
import pytest

from rrm.sparse_formats import csr_bits, encode_csr, encode_window, window_bits
from rrm.sparse_sizes import expected_csr_bits, expected_padding_per_row, expected_window_bits


@pytest.mark.parametrize("cols, density, index_bits", [(6, 0.3, 1), (9, 0.1, 2), (10, 0.5, 1), (8, 0.05, 3)])
def test_padding_expectation_equals_the_enumeration_of_every_row(cols, density, index_bits):
    """Every one of the 2**cols rows, weighted by its probability, through the real encoder."""
    expected = 0.0
    for bits in itertools.product((0, 1), repeat=cols):
        row = np.array([bits], dtype=np.int64)
        kept = int(row.sum())
        probability = density ** kept * (1 - density) ** (cols - kept)
        expected += probability * encode_csr(row, index_bits).padding
    assert expected_padding_per_row(cols, density, index_bits) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_no_padding_at_the_extremes():
    assert expected_padding_per_row(100, 0.0, 2) == 0.0
    assert expected_padding_per_row(100, 1.0, 1) == 0.0
    assert expected_padding_per_row(7, 0.01, 3) == 0.0          # a gap of at most 6 fits 3 bits


@pytest.mark.parametrize("shape, density, index_bits", [((256, 512), 0.05, 4), ((128, 1152), 0.3, 3),
                                                         ((64, 256), 0.02, 5)])
def test_expected_csr_size_matches_random_masks(shape, density, index_bits):
    rng = np.random.default_rng(7)
    weight = np.where(rng.random(shape) < density, 1, 0)
    exact = csr_bits(encode_csr(weight, index_bits), 8)
    model = expected_csr_bits(shape[0], shape[1], int(weight.sum()), 8, index_bits)
    for key in ("values", "index", "padding", "total"):
        assert model[key] == pytest.approx(exact[key], rel=0.03), key
    assert model["pointers"] == exact["pointers"]


@pytest.mark.parametrize("shape, density", [((128, 64, 3, 3), 0.2), ((96, 3, 11, 11), 0.8), ((200, 300), 0.1)])
def test_expected_window_size_matches_random_masks(shape, density):
    rng = np.random.default_rng(11)
    weight = np.where(rng.random(shape) < density, 3, 0)
    exact = window_bits(encode_window(weight), 8)
    taps = shape[2] * shape[3] if len(shape) == 4 else 1
    model = expected_window_bits(shape[0], shape[1], taps, int(np.count_nonzero(weight)), 8)
    assert model["map"] == exact["map"] and model["values"] == exact["values"]
    assert model["taps"] == pytest.approx(exact["taps"], rel=0.02)
    assert model["total"] == pytest.approx(exact["total"], rel=0.02)


@pytest.mark.parametrize("call, message", [
    (lambda: expected_padding_per_row(10, 1.5, 3), "density must be a number in [0, 1], got 1.5"),
    (lambda: expected_padding_per_row(0, 0.5, 3), "cols must be an integer >= 1, got 0"),
    (lambda: expected_csr_bits(4, 4, 17, 8, 3), "nonzeros must be in 0..16, got 17"),
    (lambda: expected_window_bits(4, 4, 9, -1, 8), "nonzeros must be in 0..144, got -1"),
    (lambda: expected_csr_bits(4, 4, 3, 8, 0), "index_bits must be an integer in 1..32, got 0"),
])
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
