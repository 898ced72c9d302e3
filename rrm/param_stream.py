"""The parameter stream: an artifact's integers as the beats ``s_axis_param`` takes.

Format (docs/accelerator.md): beats of ``B`` bits (32 by default; a build may take 64 or 128,
:data:`~rrm.memory_map.PARAM_BEAT_WIDTHS`; the system top takes 128, docs/host.md). Beat 0 is
:data:`~rrm.memory_map.PARAM_MAGIC`, beat 1 the build's :func:`~rrm.memory_map.spec_hash`
(each zero-extended to ``B`` bits); then the words of the RAMs ``dw``, ``pw``, ``bn``,
``fc_bias`` and ``shift`` in that order, each word in ``ceil(width / B)`` beats, least
significant bits first (the last beat of a word zero-padded). ``tlast`` marks the
final beat. The hardware counts the beats: a stream cut short or too long, or
with a wrong magic or spec hash, leaves the accelerator unloaded with its
``param_error`` flag set.
"""

from __future__ import annotations

import numpy as np

from .memory_map import (PARAM_BEAT_BITS, PARAM_BEAT_WIDTHS, PARAM_MAGIC, MemoryMap, ceil_div, memory_map,
                         pw_position)


def _pack_fields(values, bits: int) -> int:
    """One word from signed fields of ``bits`` each, element 0 in the lowest bits."""
    word, mask = 0, (1 << bits) - 1
    for index, value in enumerate(values):
        word |= (int(value) & mask) << (index * bits)
    return word


def _pw_rows(words: np.ndarray, entry, slices: int) -> list:
    """A layer's weight words (G, T, lanes) as its PW RAM rows of ``slices`` slices, each
    word (g, t) in the slice :func:`rrm.memory_map.pw_position` gives it (unused slices
    hold zeros)."""
    groups, taps, lanes = words.shape
    rows = np.zeros((entry.pw_rows(slices), slices, lanes), dtype=np.int64)
    group, tap = np.meshgrid(np.arange(groups), np.arange(taps), indexing="ij")
    row, slot = pw_position(entry, group, tap, slices)
    rows[row - entry.w_base, slot] = words
    return list(rows.reshape(len(rows), -1))


def _lane_words(matrix: np.ndarray, entry, lanes: int, slices: int) -> list:
    """``matrix`` (M, T) as PW RAM rows: word (g, t) holds lanes m = g*lanes + l of column t."""
    m, t = matrix.shape
    groups = ceil_div(m, lanes)
    padded = np.zeros((groups * lanes, t), dtype=np.int64)
    padded[:m] = matrix
    words = padded.reshape(groups, lanes, t).transpose(0, 2, 1)  # (G, T, lanes)
    return _pw_rows(words, entry, slices)


def ram_words(artifact, mmap: MemoryMap | None = None) -> dict:
    """Every parameter RAM's contents as a list of Python ints (one per word), by RAM name."""
    spec = artifact.spec
    mmap = mmap or memory_map(spec)
    quant, lanes, k = spec.quant, mmap.lanes, spec.hardware.kernel
    params = artifact.params
    words = {name: [] for name in ("dw", "pw", "bn", "fc_bias", "shift")}
    for entry in mmap.layers:
        name = entry.name
        if entry.kind == "conv":
            w = np.asarray(params[f"{name}.weight"], dtype=np.int64)  # (M, N, K, K)
            for row in _lane_words(w.reshape(w.shape[0], -1), entry, lanes, mmap.pw_slices):
                words["pw"].append(_pack_fields(row, quant.weight_bits))
        elif entry.kind == "pw":
            w = np.asarray(params[f"{name}.weight"], dtype=np.int64)  # (M, N)
            for row in _lane_words(w, entry, lanes, mmap.pw_slices):
                words["pw"].append(_pack_fields(row, quant.weight_bits))
        elif entry.kind == "dw":
            w = np.asarray(params[f"{name}.weight"], dtype=np.int64).reshape(-1, k * k)  # (C, K*K)
            for g in range(entry.out_groups):
                block = np.zeros((k * k, lanes), dtype=np.int64)
                chunk = w[g * lanes:(g + 1) * lanes]
                block[:, :len(chunk)] = chunk.T
                words["dw"].append(_pack_fields(block.reshape(-1), quant.weight_bits))
        elif entry.kind == "fc":
            w = np.asarray(params[f"{name}.weight"], dtype=np.int64)  # (classes, C)
            c = w.shape[1]
            padded = np.zeros((w.shape[0], entry.in_groups * lanes), dtype=np.int64)
            padded[:, :c] = w
            fc_words = padded.reshape(w.shape[0], entry.in_groups, lanes)  # (classes, groups, lanes)
            for row in _pw_rows(fc_words, entry, mmap.pw_slices):
                words["pw"].append(_pack_fields(row, quant.weight_bits))
            bias = np.asarray(params[f"{name}.bias"], dtype=np.int64)
            S = mmap.pw_slices
            padded_bias = np.zeros(ceil_div(len(bias), S) * S, dtype=np.int64)
            padded_bias[:len(bias)] = bias
            for row in padded_bias.reshape(-1, S):   # class r*S + j in slot j
                words["fc_bias"].append(_pack_fields(row, quant.fc_bias_bits))
        if entry.kind in ("conv", "dw", "pw"):
            mult = np.asarray(params[f"{name}.bn_mult"], dtype=np.int64)
            bias = np.asarray(params[f"{name}.bn_bias"], dtype=np.int64)
            for g in range(entry.out_groups):
                mults = np.zeros(lanes, dtype=np.int64)
                biases = np.zeros(lanes, dtype=np.int64)
                part = slice(g * lanes, min((g + 1) * lanes, len(mult)))
                mults[:part.stop - part.start] = mult[part]
                biases[:part.stop - part.start] = bias[part]
                low = _pack_fields(mults, quant.bn_mult_bits)
                high = _pack_fields(biases, quant.bn_bias_bits)
                words["bn"].append(low | (high << (lanes * quant.bn_mult_bits)))
            words["shift"].append(int(params[f"{name}.shift"]))
    for ram in mmap.param_rams:
        if len(words[ram.name]) != ram.depth:
            raise AssertionError(f"RAM {ram.name}: packed {len(words[ram.name])} words, "
                                 f"the memory map has {ram.depth}")
    return words


def check_beat_bits(beat_bits: int) -> int:
    """``beat_bits`` if it is one of :data:`~rrm.memory_map.PARAM_BEAT_WIDTHS`, else ValueError."""
    if beat_bits not in PARAM_BEAT_WIDTHS:
        raise ValueError(f"parameter beat width {beat_bits!r}: allowed {', '.join(map(str, PARAM_BEAT_WIDTHS))} bits")
    return beat_bits


def beats_per_word(width: int, beat_bits: int = PARAM_BEAT_BITS) -> int:
    return ceil_div(width, check_beat_bits(beat_bits))


def stream_length(mmap: MemoryMap, beat_bits: int = PARAM_BEAT_BITS) -> int:
    """Beats of a complete parameter stream of ``beat_bits``-bit beats for ``mmap``, header included
    (also the loader's cycles: it takes one beat per cycle)."""
    return 2 + sum(ram.depth * beats_per_word(ram.width, beat_bits) for ram in mmap.param_rams)


def pack_parameters(artifact, mmap: MemoryMap | None = None, beat_bits: int = PARAM_BEAT_BITS) -> np.ndarray:
    """The parameter stream of ``artifact`` (header, then every RAM word) as uint32: one value per
    beat for 32-bit beats (shape (beats,)), else ``beat_bits // 32`` values per beat, least
    significant first (shape (beats, beat_bits // 32)); ``tobytes()`` is the stream's bytes."""
    mmap = mmap or memory_map(artifact.spec)
    check_beat_bits(beat_bits)
    words = ram_words(artifact, mmap)
    beats = [PARAM_MAGIC, mmap.spec_hash]
    mask = (1 << beat_bits) - 1
    for ram in mmap.param_rams:
        for word in words[ram.name]:
            for index in range(beats_per_word(ram.width, beat_bits)):
                beats.append((word >> (index * beat_bits)) & mask)
    per_beat = beat_bits // 32
    out = np.asarray([(beat >> (32 * part)) & 0xFFFF_FFFF for beat in beats for part in range(per_beat)],
                     dtype=np.uint32)
    assert len(out) == stream_length(mmap, beat_bits) * per_beat
    return out if per_beat == 1 else out.reshape(-1, per_beat)
