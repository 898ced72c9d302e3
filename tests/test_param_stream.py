"""The parameter stream (rrm/param_stream.py) against its documented format (docs/accelerator.md).

The decoder here is written from the documentation alone: two header beats; then
the RAMs dw, pw, bn, fc_bias, shift in that order, each word in ceil(width / 32)
beats, least significant first; fields packed element 0 lowest, two's complement.
It does not use the packer's helpers, so a packing bug shows as a mismatch.
"""

from __future__ import annotations

import numpy as np
import pytest

from golden.random_weights import random_artifact
from rrm.memory_map import PARAM_MAGIC, memory_map, spec_hash
from rrm.param_stream import pack_parameters, stream_length
from tests.specs import TINY, WIDE

RAM_ORDER = ("dw", "pw", "bn", "fc_bias", "shift")


def decode_stream(beats: np.ndarray, mmap, beat_bits: int = 32) -> tuple[list, dict]:
    """(header beats, {ram name: list of int words}) of a stream of ``beat_bits``-bit beats
    (uint32 values, ``beat_bits // 32`` per beat), from the documented format."""
    values = [int(v) for v in np.asarray(beats).reshape(-1)]
    per_beat = beat_bits // 32
    beats = [sum(values[b + i] << (32 * i) for i in range(per_beat)) for b in range(0, len(values), per_beat)]
    header, position, words = beats[:2], 2, {}
    for name in RAM_ORDER:
        ram = mmap.rams[name]
        per_word = (ram.width + beat_bits - 1) // beat_bits
        words[name] = []
        for _ in range(ram.depth):
            word = sum(beats[position + i] << (beat_bits * i) for i in range(per_word))
            words[name].append(word)
            position += per_word
    assert position == len(beats), "beats left over after the last RAM"
    return header, words


def field(word: int, index: int, bits: int) -> int:
    """Field ``index`` of ``bits`` bits (element 0 lowest), as a signed integer."""
    value = (word >> (index * bits)) & ((1 << bits) - 1)
    return value - (1 << bits) if value >> (bits - 1) else value


@pytest.fixture(scope="module", params=[TINY, WIDE], ids=["tiny", "wide"])
def packed(request):
    spec = request.param
    artifact = random_artifact(spec, 5)
    mmap = memory_map(spec)
    beats = pack_parameters(artifact)
    return spec, artifact, mmap, beats


def test_stream_length_and_dtype(packed):
    spec, _, mmap, beats = packed
    assert beats.dtype == np.uint32
    assert len(beats) == stream_length(mmap)
    assert stream_length(mmap) == 2 + sum(r.depth * -(-r.width // 32) for r in mmap.param_rams)


@pytest.mark.parametrize("beat_bits", [64, 128])
def test_wide_beats_carry_the_same_words(packed, beat_bits):
    spec, artifact, mmap, beats = packed
    wide = pack_parameters(artifact, beat_bits=beat_bits)
    assert wide.dtype == np.uint32 and wide.shape == (stream_length(mmap, beat_bits), beat_bits // 32)
    header, words = decode_stream(wide, mmap, beat_bits)
    assert header == [PARAM_MAGIC, spec_hash(spec)]
    assert words == decode_stream(beats, mmap)[1]
    assert stream_length(mmap, beat_bits) == 2 + sum(r.depth * -(-r.width // beat_bits) for r in mmap.param_rams)


def test_a_beat_width_outside_the_allowed_ones_is_refused(packed):
    _, artifact, mmap, _ = packed
    with pytest.raises(ValueError, match="parameter beat width 48: allowed 32, 64, 128 bits"):
        pack_parameters(artifact, beat_bits=48)
    with pytest.raises(ValueError, match="beat width 256"):
        stream_length(mmap, 256)


def test_header_beats(packed):
    spec, _, mmap, beats = packed
    assert int(beats[0]) == PARAM_MAGIC == 0x52524D31
    assert bytes.fromhex(f"{PARAM_MAGIC:08x}") == b"RRM1"
    assert int(beats[1]) == spec_hash(spec) == mmap.spec_hash


def test_spec_hash_ignores_the_preset_name_only():
    renamed = TINY.to_dict()
    renamed["preset"] = None
    from rrm.spec import Spec
    assert spec_hash(Spec.from_dict(renamed)) == spec_hash(TINY)
    assert spec_hash(WIDE) != spec_hash(TINY)


def _samples(rng, shape, count=6):
    """A few random indices into an array of ``shape``, always including the first and the last."""
    picks = [tuple(0 for _ in shape), tuple(s - 1 for s in shape)]
    picks += [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(count)]
    return picks


def pw_weight(words, mmap, entry, group, tap, lane, bits):
    """Lane ``lane`` of PW weight word (group, tap), by docs/accelerator.md: conv1 and
    pixel-mode pw pack word s = group * taps + tap into slice s % pe_count of row
    w_base + s // pe_count; group-mode pw and the FC put it in slice group % pe_count of
    row w_base + (group // pe_count) * taps + tap."""
    p = mmap.pe_count
    if entry.kind == "conv" or (entry.kind == "pw" and not entry.group_mode):
        s = group * entry.taps + tap
        row, slot = entry.w_base + s // p, s % p
    else:
        row, slot = entry.w_base + (group // p) * entry.taps + tap, group % p
    return field(words["pw"][row], slot * mmap.lanes + lane, bits)


def test_round_trip_of_every_ram_kind(packed):
    spec, artifact, mmap, beats = packed
    header, words = decode_stream(beats, mmap)
    q, lanes, k = spec.quant, mmap.lanes, spec.hardware.kernel
    wb = q.weight_bits
    params = artifact.params
    rng = np.random.default_rng(0)
    seen = set()
    for entry in mmap.layers:
        name = entry.name
        if entry.kind == "conv":  # pw RAM: word (output group, tap), tap = (n, ky, kx) flattened
            weight = params[f"{name}.weight"]  # (M, N, K, K)
            for m, n, ky, kx in _samples(rng, weight.shape):
                tap = (n * k + ky) * k + kx
                assert pw_weight(words, mmap, entry, m // lanes, tap, m % lanes, wb) \
                    == weight[m, n, ky, kx], (name, m, n, ky, kx)
            seen.add("pw")
        elif entry.kind == "dw":  # dw RAM: word per channel group, element [tap][lane]
            weight = params[f"{name}.weight"].reshape(entry.out_channels, k, k)
            for c, ky, kx in _samples(rng, weight.shape):
                word = words["dw"][entry.w_base + c // lanes]
                assert field(word, (ky * k + kx) * lanes + c % lanes, wb) == weight[c, ky, kx], (name, c)
            seen.add("dw")
        elif entry.kind == "pw":  # pw RAM: word (output group, input channel)
            seen.add("pw group mode" if entry.group_mode else "pw pixel mode")
            weight = params[f"{name}.weight"]  # (M, N)
            for m, n in _samples(rng, weight.shape):
                assert pw_weight(words, mmap, entry, m // lanes, n, m % lanes, wb) == weight[m, n], \
                    (name, m, n)
        elif entry.kind == "fc":  # pw RAM: word (class, input group) as (group, tap); fc_bias per row of P classes
            weight = params[f"{name}.weight"]  # (classes, C)
            for cls, c in _samples(rng, weight.shape):
                assert pw_weight(words, mmap, entry, cls, c // lanes, c % lanes, wb) == weight[cls, c], \
                    (name, cls, c)
            bias = params[f"{name}.bias"]
            p = mmap.pe_count
            assert [field(words["fc_bias"][cls // p], cls % p, q.fc_bias_bits)
                    for cls in range(len(bias))] == list(bias)
            assert len(words["fc_bias"]) == -(-len(bias) // p)
            seen.add("fc_bias")
        if entry.kind in ("conv", "dw", "pw"):  # bn: lanes multipliers, then lanes biases
            mult, bias = params[f"{name}.bn_mult"], params[f"{name}.bn_bias"]
            for (c,) in _samples(rng, mult.shape):
                word = words["bn"][entry.bn_base + c // lanes]
                assert field(word, c % lanes, q.bn_mult_bits) == mult[c], (name, c)
                high = word >> (lanes * q.bn_mult_bits)
                assert field(high, c % lanes, q.bn_bias_bits) == bias[c], (name, c)
            shift = words["shift"][entry.bn_index]
            assert shift == int(params[f"{name}.shift"]), name
            seen.update(("bn", "shift"))
    assert seen - {"pw group mode", "pw pixel mode"} == set(RAM_ORDER)
    if spec is TINY:   # both PW layouts are exercised
        assert {"pw group mode", "pw pixel mode"} <= seen


def test_pixel_mode_weights_leave_no_gaps():
    """conv1 and pixel-mode pw take ceil(groups * taps / pe_count) rows, one after another;
    the layers that need whole rows of groups take ceil(groups / pe_count) * taps."""
    mmap = memory_map(TINY)
    p, rows = mmap.pe_count, 0
    for entry in mmap.layers:
        if entry.kind not in ("conv", "pw", "fc"):
            continue
        assert entry.w_base == rows, entry.name
        groups = entry.out_channels if entry.kind == "fc" else entry.out_groups
        if entry.kind == "fc" or entry.group_mode:
            rows += -(-groups // p) * entry.taps
        else:
            rows += -(-(groups * entry.taps) // p)
    assert mmap.ram("pw").depth == rows


def test_unused_lanes_are_zero():
    # WIDE's dsc2.pw has 2 output channels on 4 lanes: lanes 2 and 3 of its words stay 0.
    artifact = random_artifact(WIDE, 5)
    mmap = memory_map(WIDE)
    _, words = decode_stream(pack_parameters(artifact), mmap)
    entry = mmap.layer("dsc2.pw")
    assert entry.out_channels < mmap.lanes
    for n in range(entry.in_channels):
        assert [pw_weight(words, mmap, entry, 0, n, lane, WIDE.quant.weight_bits)
                for lane in range(entry.out_channels, mmap.lanes)] == [0] * (mmap.lanes - entry.out_channels)
    bn = words["bn"][entry.bn_base]
    assert bn >> (entry.out_channels * WIDE.quant.bn_mult_bits) & ((1 << ((mmap.lanes - entry.out_channels)
                                                                       * WIDE.quant.bn_mult_bits)) - 1) == 0
