"""cocotb tests of the patch buffers: windows (DW) and broadcast sequences (Conv).

Frames of several sizes run back to back through one reset: odd and even sizes
with stride 1 and 2, 1x1 and 2x1 maps (every border at once), the largest map,
all-act_max maps. Windows are compared with the zero-padded map directly (with
``last`` on each frame's final window, ``frame_last`` on its final Conv beat) and,
through random weights, with golden.ops.depthwise / golden.ops.conv2d. Timing
(without gaps/backpressure): a window leaves 1 cycle (DW) / its first beat 2
cycles (Conv) after the position that completes it; the buffer walks one padded
position per cycle (checked from the first pixel to the last window); a Conv
window's K*K*n beats leave on consecutive cycles.
"""

from __future__ import annotations

import numpy as np

import cocotb

from golden import ops

from .harness import STALLS, pause_pattern
from .streams import StreamSink, StreamSource, start_clock_and_reset

CONV = "conv_patch_buffer"


def frames(block, spec, rng, conv: bool):
    """(name, map (1,H,W,C), stride, channels used) of each frame."""
    channels = block.channel_count if conv else block.channels
    if conv:
        half = 2 ** (spec.quant.input_bits - 1)
        draw = lambda h, w, c=channels: rng.integers(-half, half, (1, h, w, c))
        extreme = np.full((1, 3, 3, channels), -half)
    else:
        draw = lambda h, w, c=channels: rng.integers(0, spec.quant.act_max + 1, (1, h, w, c))
        extreme = np.full((1, 3, 3, channels), spec.quant.act_max)
    buffer = block.buffer if conv else block
    hmax, wmax = buffer.max_height, buffer.max_width
    cases = [
        ("5x7 stride 2", draw(5, 7), 2, channels),
        ("4x4 stride 2", draw(4, 4), 2, channels),
        ("6x5 stride 1", draw(6, 5), 1, channels),
        ("1x1 stride 1", draw(1, 1), 1, channels),
        ("1x1 stride 2", draw(1, 1), 2, channels),
        ("2x1 stride 1", draw(2, 1), 1, channels),
        ("extreme 3x3", extreme, 1, channels),
        (f"largest {hmax}x{wmax} stride 2", draw(hmax, wmax), 2, 1 if conv else channels),
    ]
    if conv and channels > 1:
        cases.append(("one channel used, 3x4 stride 2", draw(3, 4), 2, 1))
    return cases


def expected_windows(x, stride, k):
    """Zero-padded K x K windows of every output position: list of [tap][channel]."""
    pad = k // 2
    xp = np.pad(x[0], ((pad, pad), (pad, pad), (0, 0)))
    oh, ow = ops.out_size(x.shape[1], k, stride), ops.out_size(x.shape[2], k, stride)
    return [[xp[y * stride + i, xx * stride + j].tolist() for i in range(k) for j in range(k)]
            for y in range(oh) for xx in range(ow)], (oh, ow)


def framed(windows):
    """The patch buffer's output beats: each window with ``last`` on the frame's final one."""
    return [{"window": window, "last": int(n == len(windows) - 1)} for n, window in enumerate(windows)]


def expected_beats(windows, k, used):
    """The broadcast sequence of each window: (value, tap, last, frame_last), channel-major."""
    out = []
    for index, window in enumerate(windows):
        seq = [(window[i * k + j][c], (c * k + i) * k + j) for c in range(used)
               for i in range(k) for j in range(k)]
        final = index == len(windows) - 1
        out += [{"value": v, "tap": t, "last": int(n == len(seq) - 1),
                 "frame_last": int(final and n == len(seq) - 1)} for n, (v, t) in enumerate(seq)]
    return out


async def run(dut, gaps: str, backpressure: str, seed: int):
    from .harness import load_config
    block, spec, config = load_config()
    conv = config["block"] == CONV
    k = block.kernel
    rng = np.random.default_rng(seed)
    await start_clock_and_reset(dut)
    source = StreamSource(dut, "i", block.pixel_layout, pause_pattern(gaps, 11))
    sink = StreamSink(dut, "o", block.out_layout, pause_pattern(backpressure, 12))
    for name, x, stride, used in frames(block, spec, rng, conv):
        h, w, channels = x.shape[1], x.shape[2], x.shape[3]
        dut.height.value, dut.width.value, dut.stride.value = h, w, stride
        if conv:
            dut.channels.value = used
        first_in = len(source.cycles)
        first_out = len(sink.values)
        source.send_values(x[0].reshape(h * w, channels).tolist())
        windows, (oh, ow) = expected_windows(x, stride, k)
        want = expected_beats(windows, k, used) if conv else framed(windows)
        got = (await sink.wait_for(first_out + len(want), 20000))[first_out:]
        for index, (g, ref) in enumerate(zip(got, want)):
            assert g == ref, f"{name}: beat {index} got {g}, expected {ref}"
        # Golden cross-check: the windows times random weights are the golden layer.
        wlo, whi = spec.quant.weight_int_range
        if conv:
            weights = rng.integers(wlo, whi + 1, (4, used, k, k))
            sums = np.zeros((oh * ow, 4), dtype=np.int64)
            for n, beat in enumerate(got):
                c, tap = divmod(beat["tap"], k * k)
                sums[n // (k * k * used)] += beat["value"] * weights[:, c, tap // k, tap % k]
            golden = ops.conv2d(x[..., :used], weights, stride)[0].reshape(oh * ow, 4)
        else:
            weights = rng.integers(wlo, whi + 1, (channels, k, k))
            array = np.array([beat["window"] for beat in got]).reshape(oh * ow, k, k, channels)
            sums = np.einsum("nijc,cij->nc", array, weights)
            golden = ops.depthwise(x, weights, stride)[0].reshape(oh * ow, channels)
        assert np.array_equal(sums, golden), f"{name}: windows x weights differ from golden"
        if gaps == "none" and backpressure == "none":
            check_timing(block, conv, name, source.cycles[first_in:], sink.cycles[first_out:],
                         h, w, stride, used, k)


def check_timing(block, conv, name, in_cycles, out_cycles, h, w, stride, used, k):
    pad = k // 2
    wp = w + 2 * pad
    if not conv:  # (the Conv buffer is paced by its serializer instead)
        assert in_cycles[-1] - in_cycles[0] == (h - 1) * wp + (w - 1), \
            f"{name}: pixels did not arrive one padded position per cycle"
    oh, ow = ops.out_size(h, k, stride), ops.out_size(w, k, stride)
    beats = k * k * used if conv else 1
    window_cycles = out_cycles[::beats]
    # The window of output (0, 0) completes at padded position (K-1, K-1), pixel (K-1-P, K-1-P)
    # if inside the map; then it leaves `latency` cycles after that pixel.
    r0 = c0 = k - 1 - pad
    if r0 < h and c0 < w:
        measured = window_cycles[0] - in_cycles[r0 * w + c0]
        assert measured == block.latency, f"{name}: latency {measured}, documented {block.latency}"
    if not conv:
        r_last, c_last = (oh - 1) * stride + k - 1, (ow - 1) * stride + k - 1
        span = out_cycles[-1] - in_cycles[0]
        assert span == (r_last - pad) * wp + (c_last - pad) + 1, \
            f"{name}: last window after {span} cycles, expected one position per cycle"
    else:
        for n in range(oh * ow):
            seq = out_cycles[n * beats:(n + 1) * beats]
            assert seq[-1] - seq[0] == beats - 1, f"{name}: window {n} beats not back to back"


@cocotb.test()
@cocotb.parametrize(gaps=STALLS, backpressure=STALLS)
async def frames_streamed(dut, gaps, backpressure):
    """Frames of every shape with and without stalls: exact windows; without stalls also the
    documented latency and one position per cycle."""
    await run(dut, gaps, backpressure, seed=1 + STALLS.index(gaps) + 2 * STALLS.index(backpressure))
