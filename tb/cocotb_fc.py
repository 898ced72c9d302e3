"""cocotb tests of the FC module against golden.ops.avgpool_sum + golden.ops.fc.

Several images run back to back: each sends its map on ``i`` (G beats of
``lanes`` channels per pixel, ``last`` on the final beat) and the weights and
biases on ``w`` (G beats per row of Q = ``parallel`` classes; slots past the last
class carry zeros). Cases: random maps, weights and biases;
all-act_max maps with all-max weights and the largest bias (the largest logit)
and with all-min weights and the smallest bias (the smallest logit).
"""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops
from rrm import bounds

from .harness import STALLS, check_back_to_back, check_latency, check_values, load_config, run_streams


def image_beats(block, x, weights, bias):
    """Pool beats and weight beats of one image."""
    lanes, groups, c = block.lanes, block.groups, block.channels
    padded = lambda v: [int(a) for a in v] + [0] * (groups * lanes - len(v))
    pixels = x[0].reshape(-1, c)
    pool = []
    for p, pixel in enumerate(pixels):
        values = padded(pixel)
        for g in range(groups):
            pool.append({"values": values[g * lanes:(g + 1) * lanes],
                         "last": int(p == len(pixels) - 1 and g == groups - 1)})
    wbeats = []
    q = block.parallel
    for r in range(block.rows):
        slots = [r * q + j for j in range(q)]
        rows = [padded(weights[k]) if k < block.classes else [0] * (groups * lanes) for k in slots]
        biases = [int(bias[k]) if k < block.classes else 0 for k in slots]
        for g in range(groups):
            wbeats.append({"weight": [row[g * lanes:(g + 1) * lanes] for row in rows], "bias": biases})
    return pool, wbeats


async def check(dut, gaps: str, backpressure: str, seed: int):
    block, spec, _ = load_config()
    rng = np.random.default_rng(seed)
    layer = spec.layer("pool")
    h, w, c, classes = layer.in_h, layer.in_w, block.channels, block.classes
    act_max = spec.quant.act_max
    wlo, whi = spec.quant.weight_int_range
    bhalf = 2 ** (block.bias_width - 1)
    images = [
        (rng.integers(0, act_max + 1, (1, h, w, c)), rng.integers(wlo, whi + 1, (classes, c)),
         rng.integers(-bhalf, bhalf, classes)),
        (rng.integers(0, act_max + 1, (1, h, w, c)), rng.integers(wlo, whi + 1, (classes, c)),
         rng.integers(-1000, 1000, classes)),
        (np.full((1, h, w, c), act_max), np.full((classes, c), whi), np.full(classes, bhalf - 1)),
        (np.full((1, h, w, c), act_max), np.full((classes, c), wlo), np.full(classes, -bhalf)),
    ]
    pool, wbeats, want = [], [], []
    for x, weights, bias in images:
        p, wb = image_beats(block, x, weights, bias)
        pool += p
        wbeats += wb
        want += ops.fc(ops.avgpool_sum(x), weights, bias)[0].tolist()
    assert max(abs(v) for v in want) == bounds.accumulator_bound(spec, "fc"), \
        "the extreme images must reach the logit bound"
    sources, sink = await run_streams(
        dut, {"i": (block.in_layout, pool), "w": (block.weight_layout, wbeats)}, "o", block.o.payload.shape(),
        len(want), gaps, backpressure)
    check_values(sink.values, want, lambda index: f"image {index // classes}, class {index % classes}")
    if gaps == "none" and backpressure == "none":
        w_cycles, groups, q = sources["w"].cycles, block.groups, block.parallel
        per_image = block.rows * groups
        # The first logit leaves `latency` cycles after its row's last weight beat; then
        # one logit per cycle, a row every max(G, Q) cycles (the bank sends Q logits).
        for image in range(len(images)):
            out = sink.cycles[image * classes:(image + 1) * classes]
            check_latency(w_cycles, out[:1], block.latency, completing=[image * per_image + groups - 1])
            want_cycles = [out[0] + (k // q) * max(groups, q) + k % q for k in range(classes)]
            assert out == want_cycles, f"image {image}: logits at {out}, expected {want_cycles}"
            if groups >= q:
                check_back_to_back(w_cycles[image * per_image:(image + 1) * per_image], "weights in")
        check_back_to_back(sources["i"].cycles[:len(pool) // len(images)], "pool beats in")


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def images(dut, gaps, backpressure):
    """Images with and without stalls on both inputs: exact logits; without stalls also the
    documented latency, one logit per cycle and Q x lanes MACs per cycle."""
    await check(dut, gaps, backpressure, seed=1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
