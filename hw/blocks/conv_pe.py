"""Conv PE: ``lanes`` output channels in parallel, fed one broadcast input value per cycle."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .checks import check_int
from .layouts import conv_layout, sums_layout
from .pipeline import stall_all_advance


class ConvPE(wiring.Component):
    """One Conv PE: ``acc[l] = sum_t value_t * weight_t[l]`` over a sequence of beats.

    Each beat carries one input value, broadcast to every lane, and one weight
    per lane (lane ``l`` is an output channel). A sequence ends with a beat whose
    ``last`` is set; the sums of that sequence then leave on ``o`` and the next
    beat starts a new sequence. Pointwise layers send the N input channels of one
    pixel as one sequence, a K x K conv the K*K*N values of one window (see
    :class:`~hw.blocks.patch_broadcast.ConvPatchBuffer`). Stall-all pipeline: the product
    register, then the accumulator; everything advances when ``o`` is empty or
    being read.

    Latency: 2 cycles from the handshake of a ``last`` beat to ``o.valid``.
    Throughput: one input value (``lanes`` MACs) per cycle; a sequence of L
    beats gives one output every L cycles.

    Parameters
    ----------
    lanes : int
        Output channels in parallel (1..256).
    value_shape : Shape
        Shape of the broadcast value (``signed(8)`` covers the image and activations).
    weight_width : int
        Signed weight width.
    acc_width : int
        Signed accumulator width (``rrm.bounds.accumulator_bits``, via :mod:`rrm.sizing`).

    Members
    -------
    i : In(stream.Signature(conv_layout(value_shape, weight_width, lanes)))
        ``value``: ``value_shape``; ``weight``: ``lanes`` x ``signed(weight_width)``;
        ``last``: 1 on the last beat of a sequence.
    o : Out(stream.Signature(sums_layout(acc_width, lanes)))
        One sum per lane, once per sequence.

    Attributes
    ----------
    pe_count : int
        1 (a PE array has ``pe_count`` of these).
    lanes, latency : int
        As above.
    """

    latency = 2
    pe_count = 1
    #: LUT and FF per lane, as Yosys 0.23 ``synth_xilinx`` maps it (calibrated on
    #: ``rrm synth --mode blocks`` of rr-mobilenet-fast and -max; an estimate).
    LANE_LUT_FF = (21.0, 58.0)

    @property
    def lane_lut_ff(self) -> tuple[float, float]:
        """LUT and FF per lane (an estimate): :data:`LANE_LUT_FF`."""
        return self.LANE_LUT_FF

    def __init__(self, *, lanes: int, value_shape, weight_width: int, acc_width: int):
        self.lanes = check_int("lanes", lanes, 1, 256)
        self.value_shape = Shape.cast(value_shape)
        self.weight_width = check_int("weight_width", weight_width, 2, 32)
        self.acc_width = check_int("acc_width", acc_width, 2, 96)
        self.in_layout = conv_layout(self.value_shape, weight_width, lanes)
        self.out_layout = sums_layout(acc_width, lanes)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    @property
    def dsp48e2(self) -> int:
        """DSP48E2 as Yosys maps this block: one per lane (a product of 9 bits or more takes a whole DSP)."""
        return self.lanes

    def elaborate(self, platform):
        m = Module()
        advance = stall_all_advance(m, self.o)
        m.d.comb += self.i.ready.eq(advance)
        product_width = self.value_shape.width + self.weight_width + (0 if self.value_shape.signed else 1)

        valid1, last1 = Signal(), Signal()
        fresh = Signal(init=1)  # the next product starts a new sequence
        with m.If(advance):
            m.d.sync += [
                valid1.eq(self.i.valid),
                last1.eq(self.i.payload.last),
                self.o.valid.eq(valid1 & last1),
            ]
            with m.If(valid1):
                m.d.sync += fresh.eq(last1)
        for lane in range(self.lanes):
            # data, no reset: valid1 gates every use of the product, and ``fresh`` (reset
            # to 1) masks the accumulator until the first product has been added
            product = Signal(signed(product_width), name=f"p{lane}", reset_less=True)
            acc = Signal(signed(self.acc_width), name=f"acc{lane}", reset_less=True)
            total = Signal(signed(self.acc_width), name=f"total{lane}")
            m.d.comb += total.eq(Mux(fresh, 0, acc) + product)
            with m.If(advance):
                m.d.sync += product.eq(self.i.payload.value * self.i.payload.weight[lane])
                with m.If(valid1):
                    m.d.sync += acc.eq(total)
                    with m.If(last1):
                        m.d.sync += self.o.payload[lane].eq(total)
        return m
