"""cocotb tests of the pair patch buffer (conv1's windows from two pixels per cycle).

Frames of several even sizes run through one reset: the smallest (2 x 4), square and
oblong ones, the largest map, all-minimum and all-maximum maps, and two frames queued
at once (the second's first pair right behind the first's last). Windows are
compared with the zero-padded map directly (the same reference as the one-pixel
:class:`~hw.blocks.patch_buffer.PatchBuffer`'s test, K = 3, stride 2, with ``last`` on each
frame's final window) and, through random weights, with golden.ops.depthwise. Without
gaps or backpressure: the pairs of a frame are taken on consecutive cycles (H * W / 2
cycles a frame, ``frame_cycles``) and a window leaves ``latency`` cycles after the pair
that completes it.
"""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops

from .cocotb_patch_buffer import expected_windows, framed
from .harness import STALLS, load_config, pause_pattern
from .streams import StreamSink, StreamSource, start_clock_and_reset


def frames(block, spec, rng):
    """(name, maps (1, H, W, C) of one size, queued at once) of each case."""
    half = 2 ** (spec.quant.input_bits - 1)
    channels = block.channels
    draw = lambda h, w: rng.integers(-half, half, (1, h, w, channels))
    return [
        ("2x4", [draw(2, 4)]),
        ("4x4", [draw(4, 4)]),
        ("6x10", [draw(6, 10)]),
        ("all minimum 4x6", [np.full((1, 4, 6, channels), -half)]),
        ("all maximum 4x6", [np.full((1, 4, 6, channels), half - 1)]),
        (f"largest {block.max_height}x{block.max_width}", [draw(block.max_height, block.max_width)]),
        ("8x4 after the largest", [draw(8, 4)]),
        ("two 6x8 back to back", [draw(6, 8), draw(6, 8)]),
    ]


async def run(dut, gaps: str, backpressure: str, seed: int):
    block, spec, _ = load_config()
    rng = np.random.default_rng(seed)
    await start_clock_and_reset(dut)
    source = StreamSource(dut, "i", block.pair_layout, pause_pattern(gaps, 11))
    sink = StreamSink(dut, "o", block.out_layout, pause_pattern(backpressure, 12))
    for case, maps in frames(block, spec, rng):
        h, w, channels = maps[0].shape[1:]
        dut.height.value, dut.width.value = h, w
        first_in, first_out = len(source.cycles), len(sink.values)
        for x in maps:
            source.send_values(x[0].reshape(h * w // 2, 2, channels).tolist())
        frame_windows = [framed(expected_windows(x, 2, 3)[0]) for x in maps]
        got_all = (await sink.wait_for(first_out + sum(map(len, frame_windows)), 50000))[first_out:]
        if gaps == "none" and backpressure == "none" and len(maps) > 1:
            pairs_in = source.cycles[first_in:]
            assert pairs_in[-1] - pairs_in[0] + 1 == len(maps) * block.frame_cycles(h, w), \
                f"{case}: the frames were not taken back to back"
        for index, x in enumerate(maps):
            name = f"{case}, frame {index}" if len(maps) > 1 else case
            n = len(frame_windows[0])
            check_frame(spec, rng, block, name, x, got_all[index * n:(index + 1) * n],
                        source.cycles[first_in + index * h * w // 2:], sink.cycles[first_out + index * n:],
                        timing=gaps == "none" and backpressure == "none")


def check_frame(spec, rng, block, name, x, got, in_cycles, out_cycles, timing):
    """One frame's windows against the padded map and golden; with ``timing``, its pairs one
    per cycle and the documented latency."""
    h, w, channels = x.shape[1:]
    windows, (oh, ow) = expected_windows(x, 2, 3)
    want = framed(windows)
    for index, (g, ref) in enumerate(zip(got, want)):
        assert g == ref, f"{name}: window {index} got {g}, expected {ref}"
    assert len(got) == len(want) == oh * ow == (h // 2) * (w // 2)
    wlo, whi = spec.quant.weight_int_range
    weights = rng.integers(wlo, whi + 1, (channels, 3, 3))
    array = np.array([beat["window"] for beat in got]).reshape(oh * ow, 3, 3, channels)
    sums = np.einsum("nijc,cij->nc", array, weights)
    golden = ops.depthwise(x, weights, 2)[0].reshape(oh * ow, channels)
    assert np.array_equal(sums, golden), f"{name}: windows x weights differ from golden"
    if timing:
        in_cycles = in_cycles[:h * w // 2]
        assert in_cycles[-1] - in_cycles[0] + 1 == block.frame_cycles(h, w), \
            f"{name}: the pairs did not arrive one per cycle"
        # window (y, x) is completed by pair x of row 2y + 1
        for y in (0, oh - 1):
            for xx in (0, ow - 1):
                completing = in_cycles[(2 * y + 1) * (w // 2) + xx]
                measured = out_cycles[y * ow + xx] - completing
                assert measured == block.latency, \
                    f"{name}: window ({y}, {xx}) latency {measured}, documented {block.latency}"


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def frames_streamed(dut, gaps, backpressure):
    """Frames of every shape with and without stalls: exact windows; without stalls also one
    pair per cycle and the documented latency."""
    await run(dut, gaps, backpressure, seed=1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
