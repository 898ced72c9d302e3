"""cocotb tests of the Conv PE / PE array against golden.ops.pointwise and golden.ops.conv2d.

PE p, lane l computes output channel p*lanes + l. Pointwise: one sequence of N
beats per pixel (input channel n broadcast with w[:, n]). K x K conv (conv1):
one sequence of K*K*N beats per output position in (c, i, j) order, the
zero-padded window value broadcast with w[:, c, i, j]. Cases: random
activations, random signed images with stride 2 on an odd size, and the
extremes that reach rrm.bounds' accumulator bound: the widest pointwise
layer's all-act_max pixel with all-max and all-min weights, and a 3x3 image of
-2**(b-1) with all-max and all-min weights (the centre output sums all K*K*N taps).
"""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops
from rrm import bounds
from hw.blocks.pe_array import PEArray

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams


def _per_pe(block, items: list):
    """A PE array's payload is one item per PE; a single PE's is the item itself."""
    return items if isinstance(block, PEArray) else items[0]


def _beat(block, value, weights, last):
    lanes = block.lanes
    return _per_pe(block, [{"value": int(value), "weight": [int(v) for v in weights[p * lanes:(p + 1) * lanes]],
                            "last": int(last)} for p in range(block.pe_count)])


def _sums(block, vector):
    return _per_pe(block, np.asarray(vector).reshape(block.pe_count, block.lanes).tolist())


def pointwise_case(block, x, w):
    acc = ops.pointwise(x, w)[0]
    beats, want = [], []
    n = w.shape[1]
    for y in range(x.shape[1]):
        for xx in range(x.shape[2]):
            for c in range(n):
                beats.append(_beat(block, x[0, y, xx, c], w[:, c], c == n - 1))
            want.append(_sums(block, acc[y, xx]))
    return beats, want


def conv_case(block, x, w, stride):
    acc = ops.conv2d(x, w, stride)[0]
    m, n, k, _ = w.shape
    pad = k // 2
    xp = np.pad(x[0], ((pad, pad), (pad, pad), (0, 0)))
    beats, want = [], []
    for y in range(acc.shape[0]):
        for xx in range(acc.shape[1]):
            taps = [(c, i, j) for c in range(n) for i in range(k) for j in range(k)]
            for index, (c, i, j) in enumerate(taps):
                beats.append(_beat(block, xp[y * stride + i, xx * stride + j, c], w[:, c, i, j],
                                   index == len(taps) - 1))
            want.append(_sums(block, acc[y, xx]))
    return beats, want


def cases(block, spec, rng):
    """(name, beats, sums) cases; the extremes reach rrm.bounds' accumulator bound."""
    m, k, act_max = block.pe_count * block.lanes, spec.hardware.kernel, spec.quant.act_max
    wlo, whi = spec.quant.weight_int_range
    half = 2 ** (spec.quant.input_bits - 1)
    widest_pw = max(l.in_channels for l in spec.layers() if l.kind == "pw")
    image_channels = spec.layer("conv1").in_channels
    n = 5
    return [
        ("pointwise random", *pointwise_case(block, rng.integers(0, act_max + 1, (1, 2, 3, n)),
                                             rng.integers(wlo, whi + 1, (m, n)))),
        ("widest pointwise, act_max x max weights",
         *pointwise_case(block, np.full((1, 1, 1, widest_pw), act_max), np.full((m, widest_pw), whi))),
        ("widest pointwise, act_max x min weights",
         *pointwise_case(block, np.full((1, 1, 1, widest_pw), act_max), np.full((m, widest_pw), wlo))),
        ("conv random stride 2 on 5x5", *conv_case(block, rng.integers(-half, half, (1, 5, 5, 2)),
                                                   rng.integers(wlo, whi + 1, (m, 2, k, k)), 2)),
        ("conv1 3x3 of min inputs x min weights",
         *conv_case(block, np.full((1, 3, 3, image_channels), -half),
                    np.full((m, image_channels, k, k), wlo), 1)),
        ("conv1 3x3 of min inputs x max weights",
         *conv_case(block, np.full((1, 3, 3, image_channels), -half),
                    np.full((m, image_channels, k, k), whi), 1)),
    ]


async def check(dut, gaps: str, backpressure: str, seed: int):
    block, spec, _ = load_config()
    rng = np.random.default_rng(seed)
    beats, want, names, ends = [], [], [], []
    for name, case_beats, case_want in cases(block, spec, rng):
        beats += case_beats
        want += case_want
        names += [name] * len(case_want)
    ends = [index for index, beat in enumerate(beats)
            if (beat[0] if isinstance(block, PEArray) else beat)["last"]]
    widest = max(bounds.accumulator_bound(spec, l.name) for l in spec.layers() if l.kind in ("conv", "pw"))
    assert np.abs(np.array(want)).max() == widest, "the extreme cases must reach the accumulator bound"
    sources, sink = await run_streams(dut, {"i": (block.in_layout, beats)}, "o", block.out_layout,
                                      len(want), gaps, backpressure)
    check_values(sink.values, want, lambda index: f"{names[index]}, output {index}")
    if gaps == "none" and backpressure == "none":
        check_latency(sources["i"].cycles, sink.cycles, block.latency, completing=ends)
        check_back_to_back(sources["i"].cycles, "values in")


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def streaming(dut, gaps, backpressure):
    """Broadcast values with and without stalls: exact sums; without stalls also the documented
    latency and one value per cycle."""
    await check(dut, gaps, backpressure, seed=1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
