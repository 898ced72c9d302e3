"""Patch buffer: K x K windows of a raster-order feature map, zero padding, stride 1 or 2."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .checks import check_int, check_odd_kernel
from .layouts import framed_window_layout, pixel_layout, window_layout


def frame_members(max_height: int, max_width: int, stride: bool = True) -> dict:
    """The frame-shape inputs of a patch buffer: ``height``, ``width`` and (with ``stride``)
    ``stride`` (1 or 2), read when a frame's first pixel arrives."""
    members = {"height": In(range(1, max_height + 1)), "width": In(range(1, max_width + 1))}
    if stride:
        members["stride"] = In(range(1, 3))
    return members


class PatchBuffer(wiring.Component):
    """Line buffer that turns a raster-order map into the K x K windows of a conv/dw layer.

    Pixels (``channels`` values each) arrive row by row. The buffer walks the
    padded map, (H + 2P) x (W + 2P) positions with P = K//2, one position per
    cycle: an interior position consumes one input pixel, a padding position
    inserts a zero pixel without consuming. K-1 previous rows live in a
    ``lib.memory`` line buffer (one word per padded column, K-1 pixels wide, a
    synchronous read port read one column ahead); a K x K register window shifts
    in one column per position. After the position at padded (r, c) it emits the
    window of output (y, x) = ((r-K+1)/S, (c-K+1)/S) when both are integers >= 0,
    i.e. ``out[y, x][i*K + j] = in[y*S + i - P, x*S + j - P]`` (0 outside), the
    windows of docs/design.md §6 in raster order: ``(H + 2P - K)//S + 1`` rows of them.
    The frame's final window (output row and column both last) carries ``last``.

    A frame starts when its first pixel is offered at padded position (0, 0);
    ``height``, ``width`` and ``stride`` are sampled then and must stay put until
    its last window has been taken. Frames follow each other without gaps.

    Latency: 1 cycle from the position that completes a window (the handshake of
    its bottom-right input pixel, or the padding position after it) to ``o.valid``.
    Throughput: one padded position per cycle, so a frame of H x W takes
    (H + 2P)(W + 2P) cycles when input and output never stall; up to one window
    per cycle (stride 1).

    Parameters
    ----------
    channels : int
        Values per pixel (the DW module: pe_count x lanes; 1..4096).
    kernel : int
        K (odd).
    value_shape : Shape
        Shape of one value.
    max_height, max_width : int
        Largest map the buffer accepts (the line buffer holds ``max_width + 2P`` columns).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(value_shape, channels)))
        Input pixels, raster order.
    o : Out(stream.Signature(framed_window_layout(value_shape, kernel, channels)))
        ``window``: indexed ``[i*K + j][channel]``, in output raster order;
        ``last``: 1 on the frame's final window.
    height, width : In(range(1, max + 1))
        Map size of the frame.
    stride : In(range(1, 3))
        1 or 2.
    """

    latency = 1
    #: LUT and FF per channel, as Yosys 0.23 ``synth_xilinx`` maps it (calibrated on the DW
    #: patch buffer of ``rrm synth --mode blocks`` of rr-mobilenet-fast; an estimate).
    CHANNEL_LUT_FF = (5.3, 36.5)

    def __init__(self, *, channels: int, kernel: int, value_shape, max_height: int, max_width: int):
        self.channels = check_int("channels", channels, 1, 4096)
        self.kernel = check_odd_kernel("kernel", kernel)
        self.value_shape = Shape.cast(value_shape)
        self.max_height = check_int("max_height", max_height, 1, 4096)
        self.max_width = check_int("max_width", max_width, 1, 4096)
        self.pixel_layout = pixel_layout(self.value_shape, channels)
        self.window_layout = window_layout(self.value_shape, kernel, channels)
        self.out_layout = framed_window_layout(self.value_shape, kernel, channels)
        super().__init__({
            "i": In(stream.Signature(self.pixel_layout)),
            "o": Out(stream.Signature(self.out_layout)),
            **frame_members(max_height, max_width),
        })

    def elaborate(self, platform):
        m = Module()
        k, pad_size = self.kernel, self.kernel // 2
        row = Signal(range(self.max_height + 2 * pad_size))
        col = Signal(range(self.max_width + 2 * pad_size))
        height = Signal.like(self.height)
        width = Signal.like(self.width)
        stride2 = Signal()
        # At padded (0, 0), kept in a register beside row and col (set when both wrap) rather
        # than decoded from them: the frame-size muxes below and the comparisons behind them
        # then start at one flip-flop, not at a 16-bit zero test (row -> at_origin -> width
        # mux -> last_col -> col was the Conv engine's longest path, 12.5 levels on
        # rr-mobilenet-fit; docs/accelerator.md, Timing).
        at_origin = Signal(init=1)
        # The frame's size: the ports while at the origin, the latched copy after.
        cur_height = Mux(at_origin, self.height, height)
        cur_width = Mux(at_origin, self.width, width)
        cur_stride2 = Mux(at_origin, self.stride == 2, stride2)

        last_col = col == cur_width + (2 * pad_size - 1)
        last_row = row == cur_height + (2 * pad_size - 1)
        next_col = Mux(last_col, 0, col + 1)
        next_row = Mux(last_row, 0, row + 1)

        # Whether the current row and column are padding, kept in registers (computed for the
        # position the buffer moves to) so that ``i.ready`` is one gate from registers, not
        # behind the comparisons of row and column with the frame's size. At the origin both
        # are padding exactly when P > 0 (and the frame is at least 1 x 1).
        row_pad = Signal(init=pad_size > 0)
        col_pad = Signal(init=pad_size > 0)
        is_pad = Signal()
        m.d.comb += is_pad.eq(row_pad | col_pad)

        def padding(index, size):
            return (index < pad_size) | (index >= size + pad_size)

        def next_padding(last, index, size):
            """``padding(Mux(last, 0, index + 1), size)`` with the comparisons beside the
            wrap test, not behind it (row/col -> row_pad was the patch buffer's longest path)."""
            return Mux(last, padding(Const(0, 1), size), padding(index + 1, size))

        primed = Signal()  # the line buffer's first read has completed
        m.d.sync += primed.eq(1)
        out_free = ~self.o.valid | self.o.ready
        advance = Signal()
        m.d.comb += [
            advance.eq(primed & out_free & (self.i.valid | (is_pad & ~at_origin))),
            self.i.ready.eq(primed & out_free & ~is_pad),
        ]
        pixel = Signal(self.pixel_layout)
        m.d.comb += pixel.eq(Mux(is_pad, 0, self.i.payload))

        # The new column of the window: K-1 rows from the line buffer, oldest first, then the pixel.
        column = []
        if k > 1:
            line_layout = data.ArrayLayout(self.pixel_layout, k - 1)
            m.submodules.lines = lines = Memory(shape=line_layout,
                                                depth=self.max_width + 2 * pad_size, init=[])
            read = lines.read_port()
            write = lines.write_port()
            m.d.comb += [
                read.addr.eq(Mux(advance, next_col, col)),
                read.en.eq(1),
                write.addr.eq(col),
                write.en.eq(advance),
            ]
            column = [read.data[index] for index in range(k - 1)]
            for index in range(k - 2):
                m.d.comb += write.data[index].eq(column[index + 1])
            m.d.comb += write.data[k - 2].eq(pixel)
        column.append(pixel)

        window = Signal(self.window_layout, reset_less=True)
        last_window = Signal()
        m.d.comb += [self.o.payload.window.eq(window), self.o.payload.last.eq(last_window)]
        first_out = k - 1
        rows_done = row >= first_out
        cols_done = col >= first_out
        on_grid = ~cur_stride2 | (~(row - first_out)[0] & ~(col - first_out)[0])
        # The frame's final window: no further grid row or column fits the padded map.
        step = Mux(cur_stride2, 2, 1)
        final = (row + step >= cur_height + 2 * pad_size) & (col + step >= cur_width + 2 * pad_size)
        with m.If(advance):
            for i in range(k):
                for j in range(k - 1):
                    m.d.sync += window[i * k + j].eq(window[i * k + j + 1])
                m.d.sync += window[i * k + k - 1].eq(column[i])
            m.d.sync += [
                self.o.valid.eq(rows_done & cols_done & on_grid),
                last_window.eq(final),
                col.eq(next_col),
                col_pad.eq(next_padding(last_col, col, cur_width)),
                at_origin.eq(last_col & last_row),
            ]
            with m.If(last_col):
                m.d.sync += [row.eq(next_row), row_pad.eq(next_padding(last_row, row, cur_height))]
            with m.If(at_origin):
                m.d.sync += [height.eq(self.height), width.eq(self.width),
                             stride2.eq(self.stride == 2)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
