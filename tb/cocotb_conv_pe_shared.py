"""cocotb tests of the shared-weight Conv PE array against golden.ops.pointwise and golden.ops.conv2d.

The schedule of docs/design.md §3.2 (tiling): the output positions of a layer are cut
into tiles of ``pe_count`` (PE p takes position ``tile*pe_count + p``; a short
last tile is filled with zero pixels whose sums must be 0), and each tile loops
over the output channel groups of ``lanes`` channels. A sequence is one tile and
one group: pointwise, N beats (input channel n: ``values[p] = x[pixel p, n]``,
``weight = w[group, n]``); K x K conv, K*K*N beats in (c, i, j) order with the
zero-padded window values. Cases: random activations and weights over two
channel groups, random signed images with stride 2, and the extremes that reach
the accumulator bound (as in tb/cocotb_conv_pe.py).
"""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops
from rrm import bounds

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams


def tiled(block, values, columns, acc):
    """Beats and sums of a layer given per output position its sequence of ``values``
    (positions x L), the weight column of each step (L x M) and the golden sums (positions x M)."""
    count, lanes = block.pe_count, block.lanes
    positions, length = values.shape
    groups = columns.shape[1] // lanes
    pad = -positions % count
    values = np.concatenate([values, np.zeros((pad, length), dtype=values.dtype)])
    acc = np.concatenate([acc, np.zeros((pad, acc.shape[1]), dtype=acc.dtype)])
    beats, want = [], []
    for tile in range(0, positions + pad, count):
        for group in range(groups):
            lane_slice = slice(group * lanes, (group + 1) * lanes)
            for t in range(length):
                beats.append({"values": [int(v) for v in values[tile:tile + count, t]],
                              "weight": [int(w) for w in columns[t, lane_slice]],
                              "last": int(t == length - 1)})
            want.append(acc[tile:tile + count, lane_slice].tolist())
    return beats, want


def pointwise_case(block, x, w):
    n = w.shape[1]
    return tiled(block, x[0].reshape(-1, n), w.T, ops.pointwise(x, w)[0].reshape(-1, w.shape[0]))


def conv_case(block, x, w, stride):
    acc = ops.conv2d(x, w, stride)[0]
    m, n, k, _ = w.shape
    pad = k // 2
    xp = np.pad(x[0], ((pad, pad), (pad, pad), (0, 0)))
    taps = [(c, i, j) for c in range(n) for i in range(k) for j in range(k)]
    values = np.array([[xp[y * stride + i, xx * stride + j, c] for c, i, j in taps]
                       for y in range(acc.shape[0]) for xx in range(acc.shape[1])])
    columns = np.array([w[:, c, i, j] for c, i, j in taps])
    return tiled(block, values, columns, acc.reshape(-1, m))


def cases(block, spec, rng):
    """(name, beats, sums) cases; the extremes reach the accumulator bound."""
    lanes, k, act_max = block.lanes, spec.hardware.kernel, spec.quant.act_max
    wlo, whi = spec.quant.weight_int_range
    half = 2 ** (spec.quant.input_bits - 1)
    widest_pw = max(l.in_channels for l in spec.layers() if l.kind == "pw")
    image_channels = spec.layer("conv1").in_channels
    pixels = block.pe_count + 1  # one full tile and a short one
    return [
        ("pointwise random, two channel groups",
         *pointwise_case(block, rng.integers(0, act_max + 1, (1, 1, pixels, 5)),
                         rng.integers(wlo, whi + 1, (2 * lanes, 5)))),
        ("widest pointwise, act_max x max weights",
         *pointwise_case(block, np.full((1, 1, pixels, widest_pw), act_max), np.full((lanes, widest_pw), whi))),
        ("widest pointwise, act_max x min weights",
         *pointwise_case(block, np.full((1, 1, pixels, widest_pw), act_max), np.full((lanes, widest_pw), wlo))),
        ("conv random stride 2 on 5x5", *conv_case(block, rng.integers(-half, half, (1, 5, 5, 2)),
                                                   rng.integers(wlo, whi + 1, (2 * lanes, 2, k, k)), 2)),
        ("conv1 3x3 of min inputs x min weights",
         *conv_case(block, np.full((1, 3, 3, image_channels), -half),
                    np.full((lanes, image_channels, k, k), wlo), 1)),
        ("conv1 3x3 of min inputs x max weights",
         *conv_case(block, np.full((1, 3, 3, image_channels), -half),
                    np.full((lanes, image_channels, k, k), whi), 1)),
    ]


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def streaming(dut, gaps, backpressure):
    """Tiles of pixels with shared weights, with and without stalls: exact sums; without stalls
    also the documented latency and one beat per cycle."""
    block, spec, _ = load_config()
    rng = np.random.default_rng(1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
    beats, want, names = [], [], []
    for name, case_beats, case_want in cases(block, spec, rng):
        beats += case_beats
        want += case_want
        names += [name] * len(case_want)
    ends = [index for index, beat in enumerate(beats) if beat["last"]]
    widest = max(bounds.accumulator_bound(spec, l.name) for l in spec.layers() if l.kind in ("conv", "pw"))
    assert np.abs(np.array(want)).max() == widest, "the extreme cases must reach the accumulator bound"
    sources, sink = await run_streams(dut, {"i": (block.in_layout, beats)}, "o", block.out_layout,
                                      len(want), gaps, backpressure)
    check_values(sink.values, want, lambda index: f"{names[index]}, output {index}")
    if gaps == "none" and backpressure == "none":
        check_latency(sources["i"].cycles, sink.cycles, block.latency, completing=ends)
        check_back_to_back(sources["i"].cycles, "beats in")
