"""cocotb tests of BnRequant against golden.ops.bn_requant (random, extremes, gaps, backpressure)."""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops
from rrm import bounds
from rrm.numerics import MAX_SHIFT

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams


def make_beats(block, spec, rng, count: int):
    """Random beats plus corner beats: extreme acc/mult/bias, shifts 0, 1, P, MAX_SHIFT, rounding ties."""
    names = [l.name for l in spec.layers() if l.kind in ("conv", "dw", "pw")]
    acc_bound = max(bounds.accumulator_bound(spec, name) for name in names)
    mhalf, bhalf = 2 ** (block.mult_width - 1), 2 ** (block.bias_width - 1)
    lanes = block.lanes
    beats = []
    for index in range(count):
        shift = int(rng.integers(0, 63)) if index % 3 else int(rng.integers(0, 24))
        beats.append({
            "acc": rng.integers(-acc_bound, acc_bound + 1, lanes).tolist(),
            "mult": rng.integers(-mhalf, mhalf, lanes).tolist(),
            "bias": rng.integers(-bhalf, bhalf, lanes).tolist() if index % 2
            else rng.integers(-2 ** 20, 2 ** 20, lanes).tolist(),
            "shift": shift,
        })
    for acc in (acc_bound, -acc_bound):
        for mult in (mhalf - 1, -mhalf):
            for bias in (bhalf - 1, -bhalf, 0):
                for shift in (0, 1, block.max_shift, MAX_SHIFT):
                    beats.append({"acc": [acc] * lanes, "mult": [mult] * lanes,
                                  "bias": [bias] * lanes, "shift": shift})
    # Rounding ties: acc*m + b = (2k+1) * 2**(s-1) for small values around the clamp.
    for shift in (1, 2, 5):
        values = list(range(-3, 2 * 16 + 3))[:lanes] + [0] * max(0, lanes - 38)
        beats.append({"acc": [v * 2 ** (shift - 1) for v in values[:lanes]], "mult": [1] * lanes,
                      "bias": [0] * lanes, "shift": shift})
    return beats


def expected(block, beats):
    return [ops.bn_requant(np.array(b["acc"]), np.array(b["mult"]), np.array(b["bias"]),
                           b["shift"], block.act_bits).tolist() for b in beats]


async def check(dut, gaps: str, backpressure: str, seed: int):
    block, spec, _ = load_config()
    rng = np.random.default_rng(seed)
    beats = make_beats(block, spec, rng, 200)
    sources, sink = await run_streams(dut, {"i": (block.in_layout, beats)}, "o", block.out_layout,
                                      len(beats), gaps, backpressure)
    want = expected(block, beats)
    check_values(sink.values, want, lambda index: f"beat {index} {beats[index]}")
    if gaps == "none" and backpressure == "none":
        check_latency(sources["i"].cycles, sink.cycles, block.latency)
        check_back_to_back(sources["i"].cycles, "input")
        check_back_to_back(sink.cycles, "output")


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def streaming(dut, gaps, backpressure):
    """Beats through the block with and without stalls: exact results; without stalls also the
    documented latency and one beat per cycle."""
    await check(dut, gaps, backpressure, seed=1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
