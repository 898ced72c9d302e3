"""cocotb tests of the depthwise PE / PE array against golden.ops.depthwise.

A test map (1, H, W, pe_count*lanes) and weights (C, K, K) are cut into one
beat per output position: PE p, lane l gets channel p*lanes + l's K x K window
(zero padded) and its weights. Cases: random maps with stride 1 and stride 2 on
odd sizes, all-act_max activations with all-max and all-min weights (the
accumulator extremes), valid gaps and backpressure.
"""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops
from rrm import bounds
from hw.blocks.pe_array import PEArray

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams


def geometry(block):
    """(pe_count, lanes, kernel, per_pe) of a DepthwisePE or a PEArray of them; ``per_pe(items)``
    is the payload of one item per PE (the item itself for a single PE)."""
    array = isinstance(block, PEArray)
    kernel = block.pe.kernel if array else block.kernel
    return block.pe_count, block.lanes, kernel, (lambda items: items if array else items[0])


def beats_for(block, x, w, stride):
    """One payload per output position (raster order), and the golden sums."""
    count, lanes, k, per_pe = geometry(block)
    pad = k // 2
    xp = np.pad(x[0], ((pad, pad), (pad, pad), (0, 0)))
    acc = ops.depthwise(x, w, stride)[0]
    beats, want = [], []
    for y in range(acc.shape[0]):
        for xx in range(acc.shape[1]):
            pes = []
            for p in range(count):
                chans = range(p * lanes, (p + 1) * lanes)
                window = [[int(xp[y * stride + i, xx * stride + j, c]) for c in chans]
                          for i in range(k) for j in range(k)]
                weight = [[int(w[c, i, j]) for c in chans] for i in range(k) for j in range(k)]
                pes.append({"window": window, "weight": weight})
            beats.append(per_pe(pes))
            want.append(per_pe(acc[y, xx].reshape(count, lanes).tolist()))
    return beats, want


def cases(block, spec, rng):
    """(name, map, weights, stride) test cases."""
    count, lanes, k, _ = geometry(block)
    channels, act_max = count * lanes, spec.quant.act_max
    wlo, whi = spec.quant.weight_int_range
    rand_w = lambda: rng.integers(wlo, whi + 1, (channels, k, k))
    full = np.full((1, 3, 3, channels), act_max)
    return [
        ("random 5x7 stride 2", rng.integers(0, act_max + 1, (1, 5, 7, channels)), rand_w(), 2),
        ("random 4x3 stride 1", rng.integers(0, act_max + 1, (1, 4, 3, channels)), rand_w(), 1),
        ("all act_max, max weights", full, np.full((channels, k, k), whi), 1),
        ("all act_max, min weights", full, np.full((channels, k, k), wlo), 1),
    ]


async def check(dut, gaps: str, backpressure: str, seed: int):
    block, spec, _ = load_config()
    rng = np.random.default_rng(seed)
    beats, want, names = [], [], []
    for name, x, w, stride in cases(block, spec, rng):
        case_beats, case_want = beats_for(block, x, w, stride)
        beats += case_beats
        want += case_want
        names += [name] * len(case_beats)
    widest = max(bounds.accumulator_bound(spec, l.name) for l in spec.layers() if l.kind == "dw")
    assert np.abs(np.array(want)).max() == widest, "the extreme cases must reach the accumulator bound"
    sources, sink = await run_streams(dut, {"i": (block.in_layout, beats)}, "o", block.out_layout,
                                      len(beats), gaps, backpressure)
    check_values(sink.values, want, lambda index: f"{names[index]}, beat {index}")
    if gaps == "none" and backpressure == "none":
        check_latency(sources["i"].cycles, sink.cycles, block.latency)
        check_back_to_back(sources["i"].cycles, "windows in")
        check_back_to_back(sink.cycles, "sums out")


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def streaming(dut, gaps, backpressure):
    """Windows with and without stalls: exact sums; without stalls also the documented latency
    and one window per cycle."""
    await check(dut, gaps, backpressure, seed=1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
