"""Conv patch buffer: windows serialized into the value-per-cycle broadcast sequence of a Conv PE."""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .checks import check_int, check_odd_kernel
from .layouts import broadcast_layout, framed_window_layout, window_layout
from .patch_buffer import PatchBuffer, frame_members


class PatchSerializer(wiring.Component):
    """Emits the values of each K x K x C window one per cycle, for the Conv PE to broadcast.

    For a window ``win[i*K + j][c]`` and ``n = channels`` (sampled with the
    window, 1..C), the beats are, channel-major like the conv weights
    ``w[o, c, i, j]``: for c in 0..n-1, i in 0..K-1, j in 0..K-1:
    ``value = win[i*K + j][c]``, ``tap = (c*K + i)*K + j``, ``last`` on the
    final beat, and ``frame_last`` on the final beat of a window that came with
    ``last`` (the frame's final window). The next window is taken in the cycle
    the last beat leaves, so sequences follow each other without a bubble.

    Latency: 1 cycle from the window handshake to the first beat's ``o.valid``.
    Throughput: one value per cycle; one window per K*K*n cycles.

    Members
    -------
    i : In(stream.Signature(framed_window_layout(value_shape, kernel, channels)))
        Windows (``window``) and ``last`` on a frame's final window.
    o : Out(stream.Signature(broadcast_layout(value_shape, kernel, channels)))
        Values with tap index, ``last`` and ``frame_last``.
    channels : In(range(1, channels + 1))
        Channels of the window that are in use.
    """

    latency = 1

    def __init__(self, *, channels: int, kernel: int, value_shape):
        self.channel_count = check_int("channels", channels, 1, 256)
        self.kernel = check_odd_kernel("kernel", kernel)
        self.value_shape = Shape.cast(value_shape)
        self.in_layout = framed_window_layout(self.value_shape, kernel, channels)
        self.out_layout = broadcast_layout(self.value_shape, kernel, channels)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
            "channels": In(range(1, channels + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        taps = self.kernel * self.kernel
        window = Signal(window_layout(self.value_shape, self.kernel, self.channel_count))
        frame_last = Signal()
        full = Signal()
        channel = Signal(range(self.channel_count))
        tap_in_window = Signal(range(taps))
        tap = Signal.like(self.o.payload.tap)
        used = Signal.like(self.channels)
        last = Signal()
        m.d.comb += [
            last.eq((channel == used - 1) & (tap_in_window == taps - 1)),
            self.o.valid.eq(full),
            self.o.payload.value.eq(window[tap_in_window][channel]),
            self.o.payload.tap.eq(tap),
            self.o.payload.last.eq(last),
            self.o.payload.frame_last.eq(last & frame_last),
            self.i.ready.eq(~full | (self.o.ready & last)),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [window.eq(self.i.payload.window), frame_last.eq(self.i.payload.last),
                         full.eq(1), used.eq(self.channels),
                         channel.eq(0), tap_in_window.eq(0), tap.eq(0)]
        with m.Elif(self.o.ready & full):
            m.d.sync += tap.eq(tap + 1)
            with m.If(last):
                m.d.sync += full.eq(0)
            with m.Elif(tap_in_window == taps - 1):
                m.d.sync += [tap_in_window.eq(0), channel.eq(channel + 1)]
            with m.Else():
                m.d.sync += tap_in_window.eq(tap_in_window + 1)
        return m


class ConvPatchBuffer(wiring.Component):
    """The Conv module's patch buffer: :class:`PatchBuffer` then :class:`PatchSerializer`.

    From raster-order pixels it produces, for each output position in raster
    order, the K*K*n broadcast sequence of that position's window (zero padding,
    stride 1 or 2), in the order the Conv PE's weights are read.

    Latency: 2 cycles from the position that completes a window to its first
    beat (1 in the patch buffer, 1 in the serializer).
    Throughput: one value per cycle while the serializer is busy (the usual case:
    K*K*n >= positions between windows); the patch buffer stalls meanwhile.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(value_shape, channels)))
        Input pixels, raster order.
    o : Out(stream.Signature(broadcast_layout(value_shape, kernel, channels)))
        Broadcast values, tap index, ``last`` per window, ``frame_last`` per frame.
    height, width, stride : In
        As in :class:`PatchBuffer`.
    channels : In(range(1, channels + 1))
        As in :class:`PatchSerializer` (sampled per window).
    """

    latency = 2

    def __init__(self, *, channels: int, kernel: int, value_shape, max_height: int, max_width: int):
        self.buffer = PatchBuffer(channels=channels, kernel=kernel, value_shape=value_shape,
                                  max_height=max_height, max_width=max_width)
        self.serializer = PatchSerializer(channels=channels, kernel=kernel, value_shape=value_shape)
        self.kernel, self.channel_count = kernel, channels
        self.value_shape = self.buffer.value_shape
        self.pixel_layout = self.buffer.pixel_layout
        self.out_layout = self.serializer.out_layout
        super().__init__({
            "i": In(stream.Signature(self.pixel_layout)),
            "o": Out(stream.Signature(self.out_layout)),
            **frame_members(max_height, max_width),
            "channels": In(range(1, channels + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = buffer = self.buffer
        m.submodules.serializer = serializer = self.serializer
        wiring.connect(m, wiring.flipped(self.i), buffer.i)
        wiring.connect(m, buffer.o, serializer.i)
        wiring.connect(m, serializer.o, wiring.flipped(self.o))
        m.d.comb += [
            buffer.height.eq(self.height),
            buffer.width.eq(self.width),
            buffer.stride.eq(self.stride),
            serializer.channels.eq(self.channels),
        ]
        return m
