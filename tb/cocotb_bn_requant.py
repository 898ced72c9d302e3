"""cocotb tests of BnRequant against golden.ops.bn_requant (random, extremes, gaps, backpressure)."""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops
from rrm import bounds
from rrm.numerics import MAX_SHIFT

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams


def make_beats(block, spec, rng, count: int):
    """Random beats plus corner beats: extreme acc/mult/bias, shifts 0, 1, P, MAX_SHIFT, rounding ties,
    and every shift's clamp, rounding and window edges (:func:`window_beats`)."""
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
    beats += window_beats(block, acc_bound, rng)
    return beats


def window_beats(block, acc_bound: int, rng) -> list:
    """For every shift 0..max_shift that acc*m + b can reach: sums x whose result lies on
    each side of every clamp and rounding edge (y*2**s + {-1, 0, 2**(s-1) - 1, 2**(s-1)}
    for y = 0..2**act_bits + 1) and, at s >= 1, where floor(x / 2**(s-1)) mod 2**(A+1) wraps
    (the bits the block selects): each x as acc*m + b with m at its largest and b the rest."""
    mult = 2 ** (block.mult_width - 1) - 1
    bhalf = 2 ** (block.bias_width - 1)
    top = 2 ** block.act_bits
    beats = []
    for shift in range(block.max_shift + 1):
        half = 2 ** (shift - 1) if shift else 0
        targets = [y * 2 ** shift + d for y in range(top + 2) for d in {-1, 0, half - 1, half}]
        if shift:
            targets += [k * 2 ** (shift - 1) * 2 * top + e for k in (1, 3) for e in (-half, -1, 0)]
        targets += [-t for t in targets[:8]] + [int(v) for v in rng.integers(-2 ** 40, 2 ** 40, 4)]
        values = []
        for target in targets:
            acc = max(-acc_bound, min(acc_bound, round(target / mult)))
            bias = target - acc * mult
            if -bhalf <= bias < bhalf:
                values.append((acc, bias))
        for start in range(0, len(values), block.lanes):
            chunk = values[start:start + block.lanes]
            chunk += [chunk[-1]] * (block.lanes - len(chunk))
            beats.append({"acc": [a for a, _ in chunk], "mult": [mult] * block.lanes,
                          "bias": [b for _, b in chunk], "shift": shift})
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
