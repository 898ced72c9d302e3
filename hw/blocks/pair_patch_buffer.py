"""Pair patch buffer: 3 x 3, stride-2 windows (conv1's, and with ``dw_pairs`` the stride-2 dw
layers') from a map arriving two pixels per cycle."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .checks import check_int
from .layouts import framed_window_layout, pixel_layout, window_layout
from .patch_buffer import frame_members

#: The only window shape the pair walk makes: 3 x 3 taps, stride 2, one pixel of zero padding.
KERNEL, STRIDE = 3, 2


def check_pair_frame(name: str, height: int, width: int) -> None:
    """A frame the pair walk takes: even height and width, at least 2 x 4 (two pairs a row,
    so that a row's next pair is never the line-buffer word being written)."""
    if height < 2 or height % 2:
        raise ValueError(f"{name}: the pair walk needs an even height of at least 2, not {height}")
    if width < 4 or width % 2:
        raise ValueError(f"{name}: the pair walk needs an even width of at least 4, not {width}")


class PairPatchBuffer(wiring.Component):
    """Line buffer that turns a raster-order map arriving as pixel pairs into its 3 x 3,
    stride-2, zero-padded windows: ``out[y, x][i*3 + j] = in[2y + i - 1, 2x + j - 1]`` (0
    outside), the windows :class:`~hw.blocks.patch_buffer.PatchBuffer` makes with K = 3,
    S = 2, in the same raster order and output layout, H/2 x W/2 of them for an H x W map
    (H and W even).

    Pair x of row r holds columns 2x and 2x + 1. Window (y, x) is complete with pair x of
    row 2y + 1: that pair gives its columns 2x, 2x + 1 in row 2y + 1, a ``lib.memory`` line
    buffer (one word per pair, rows r - 2 and r - 1) gives rows 2y - 1 and 2y, and a register
    keeps column 2x - 1 (the previous pair's second column). Row -1 and column -1 are the
    zero padding; the right and bottom padding is never part of a window (H, W even), so
    unlike the one-pixel walk there are no padding positions: every cycle takes a pair.

    A frame starts with its first pair; ``height`` and ``width`` are sampled then and must
    stay put until its last window has been taken. Frames follow each other without gaps.

    Latency: 1 cycle from the handshake of the pair that completes a window to ``o.valid``.
    Throughput: one pair per cycle, so an H x W frame takes H * W / 2 cycles when the
    output never stalls; one window per cycle on odd rows, none on even rows.

    Parameters
    ----------
    channels : int
        Values per pixel (conv1: the image's channels; the DW engine: D x lanes; 1..4096).
    value_shape : Shape
        Shape of one value.
    max_height, max_width : int
        Largest map the buffer accepts, even (the line buffer holds ``max_width / 2`` words).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(pixel, 2)))
        Input pixel pairs, raster order: ``[0]`` column 2x, ``[1]`` column 2x + 1.
    o : Out(stream.Signature(framed_window_layout(value_shape, 3, channels)))
        ``window`` indexed ``[i*3 + j][channel]``; ``last``: 1 on the frame's final window.
    height, width : In(range(1, max + 1))
        Map size of the frame (even, width at least 4).
    """

    latency = 1
    kernel = KERNEL
    #: LUT and FF per channel outside the line buffer, as Yosys 0.23 ``synth_xilinx`` maps it:
    #: the slope between the ``dw_pair_patch_buffer`` blocks of two tiny variants, 16 and 32
    #: channels of 4 bits, 16 x 16 maps (350 and 670 LUT besides their LUT RAM, 1,045 and 2,069 FF; an
    #: estimate, compared with Yosys at 64 channels in docs/accelerator.md).
    CHANNEL_LUT_FF = (20.0, 64.0)

    def __init__(self, *, channels: int, value_shape, max_height: int, max_width: int):
        self.channels = check_int("channels", channels, 1, 4096)
        self.value_shape = Shape.cast(value_shape)
        self.max_height = check_int("max_height", max_height, 2, 4096)
        self.max_width = check_int("max_width", max_width, 4, 4096)
        check_pair_frame("PairPatchBuffer", max_height, max_width)
        self.pixel_layout = pixel_layout(self.value_shape, channels)
        self.pair_layout = data.ArrayLayout(self.pixel_layout, 2)
        self.window_layout = window_layout(self.value_shape, KERNEL, channels)
        self.out_layout = framed_window_layout(self.value_shape, KERNEL, channels)
        super().__init__({
            "i": In(stream.Signature(self.pair_layout)),
            "o": Out(stream.Signature(self.out_layout)),
            **frame_members(max_height, max_width, stride=False),   # the stride is 2
        })

    @staticmethod
    def frame_cycles(height: int, width: int) -> int:
        """Cycles an H x W frame takes when input and output never stall: one pair each."""
        check_pair_frame("frame_cycles", height, width)
        return height * width // 2

    def elaborate(self, platform):
        m = Module()
        row = Signal(range(self.max_height))
        pair = Signal(range(self.max_width // 2))
        height = Signal.like(self.height)
        width = Signal.like(self.width)
        # At the frame's first pair, kept in a register (set when row and pair both wrap):
        # the size muxes start at one flip-flop (as in PatchBuffer).
        at_origin = Signal(init=1)
        cur_height = Mux(at_origin, self.height, height)
        cur_width = Mux(at_origin, self.width, width)
        last_pair = pair == cur_width[1:] - 1
        last_row = row == cur_height - 1
        next_pair = Mux(last_pair, 0, pair + 1)
        odd_row = row[0]
        on_row_zero = Signal(init=1)        # row 0: row -1 (zero padding) goes into the line buffer

        primed = Signal()                   # the line buffer's first read has completed
        m.d.sync += primed.eq(1)
        out_free = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(primed & out_free)
        advance = self.i.valid & self.i.ready
        new = self.i.payload                # columns 2x, 2x + 1 of row r

        # The line buffer: word x holds pair x of rows r - 2 ([0]) and r - 1 ([1]), read one
        # pair ahead; the pair leaves it as row r - 1 and comes back as row r.
        m.submodules.lines = lines = Memory(shape=data.ArrayLayout(self.pair_layout, 2),
                                            depth=self.max_width // 2, init=[])
        read = lines.read_port()
        write = lines.write_port()
        older, previous = read.data[0], read.data[1]
        m.d.comb += [
            read.addr.eq(Mux(advance, next_pair, pair)),
            read.en.eq(1),
            write.addr.eq(pair),
            write.en.eq(advance),
            write.data[0].eq(Mux(on_row_zero, 0, previous.as_value())),
            write.data[1].eq(new),
        ]

        # Column 2x - 1 of rows r - 2, r - 1, r: the previous pair's second column, zero at x = 0.
        left = Signal(data.ArrayLayout(self.pixel_layout, KERNEL))
        window = Signal(self.window_layout, reset_less=True)
        last_window = Signal()
        m.d.comb += [self.o.payload.window.eq(window), self.o.payload.last.eq(last_window)]
        rows = (older, previous, new)       # window rows 0, 1, 2: rows r - 2, r - 1, r
        with m.If(advance):
            for i in range(KERNEL):
                m.d.sync += [window[i * KERNEL].eq(left[i]),
                             window[i * KERNEL + 1].eq(rows[i][0]),
                             window[i * KERNEL + 2].eq(rows[i][1]),
                             left[i].eq(Mux(last_pair, Const(0, self.pixel_layout.size),
                                            rows[i][1].as_value()))]
            m.d.sync += [
                self.o.valid.eq(odd_row),
                last_window.eq(last_row & last_pair),
                pair.eq(next_pair),
                at_origin.eq(last_row & last_pair),
            ]
            with m.If(last_pair):
                m.d.sync += [row.eq(Mux(last_row, 0, row + 1)), on_row_zero.eq(last_row)]
            with m.If(at_origin):
                m.d.sync += [height.eq(self.height), width.eq(self.width)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
