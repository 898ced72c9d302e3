"""Depthwise PE: ``lanes`` channels in parallel, each a K x K window multiply-accumulate."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .adder_tree import pipelined_sum, tree_depth
from .checks import check_int, check_odd_kernel
from .layouts import depthwise_layout, sums_layout
from .pipeline import stall_all_advance


class DepthwisePE(wiring.Component):
    """One depthwise PE: ``acc[l] = sum_{i,j} window[i*K+j][l] * weight[i*K+j][l]``.

    Each lane is one channel; all lanes take a new K x K window (and its K x K
    weights) every cycle. A stall-all pipeline: one register level of K*K
    products per lane, then a pipelined adder tree of ``ceil(log2(K*K))``
    levels; everything advances when ``o`` is empty or being read.

    The first ``lut_taps`` taps of every lane form their products in LUTs instead of a
    DSP48E2: ``w * a = sum_i (a_i ? w << i : 0)`` over the ``act_bits`` bits of the
    unsigned activation (a shift-and-add of ``act_bits`` partial products, no multiplier
    for Yosys to map to a DSP); the result is the same for every input. The other taps
    take one DSP48E2 each.

    Latency: ``1 + ceil(log2(K*K))`` cycles (5 for K = 3) from the input
    handshake to ``o.valid``, with either kind of product.
    Throughput: one window per lane per cycle.

    Parameters
    ----------
    lanes : int
        Channels in parallel (1..256).
    kernel : int
        K (odd).
    value_shape : Shape
        Shape of a window value (``unsigned(act_bits)`` for activations).
    weight_width : int
        Signed weight width.
    acc_width : int
        Signed accumulator width (``rrm.bounds.accumulator_bits``, via :mod:`rrm.sizing`).
    lut_taps : int
        Taps per lane (0..K*K) whose products are formed in LUTs (shift and add) instead
        of DSP48E2 multipliers; more than 0 needs an unsigned ``value_shape`` (the
        activations).

    Members
    -------
    i : In(stream.Signature(depthwise_layout(value_shape, weight_width, K, lanes)))
        ``window``: ``window_layout(value_shape, K, lanes)``, indexed ``[i*K + j][lane]``;
        ``weight``: the same with ``signed(weight_width)`` values.
    o : Out(stream.Signature(sums_layout(acc_width, lanes)))
        One sum per lane.

    Attributes
    ----------
    pe_count : int
        1 (a PE array has ``pe_count`` of these).
    lanes, kernel, latency : int
        As above.
    """

    pe_count = 1
    #: LUT and FF per lane, as Yosys 0.23 ``synth_xilinx`` maps it (calibrated on
    #: ``rrm synth --mode blocks`` of rr-mobilenet-fast and -max; an estimate).
    LANE_LUT_FF = (103.0, 254.0)
    #: LUT and FF a product adds when formed in LUTs (``lut_taps``): Yosys 0.23
    #: ``synth_xilinx -family xcup`` of rr-mobilenet's DW PE (32 lanes, K = 3, 8 x 4 bits)
    #: took 14,776 LUT / 8,709 FF with LUT products and 3,297 / 8,133 with DSP48E2s, over
    #: 288 products.
    LUT_PRODUCT_LUT_FF = ((14_776 - 3_297) / 288, (8_709 - 8_133) / 288)

    def __init__(self, *, lanes: int, kernel: int, value_shape, weight_width: int, acc_width: int,
                 lut_taps: int = 0):
        self.lanes = check_int("lanes", lanes, 1, 256)
        self.kernel = check_odd_kernel("kernel", kernel)
        self.value_shape = Shape.cast(value_shape)
        self.lut_taps = check_int("lut_taps", lut_taps, 0, self.kernel * self.kernel)
        if lut_taps and self.value_shape.signed:
            raise ValueError(f"lut_taps needs an unsigned value_shape, not {self.value_shape!r}")
        self.weight_width = check_int("weight_width", weight_width, 2, 32)
        self.acc_width = check_int("acc_width", acc_width, 2, 96)
        self.latency = 1 + tree_depth(kernel * kernel)
        self.in_layout = depthwise_layout(self.value_shape, weight_width, kernel, lanes)
        self.out_layout = sums_layout(acc_width, lanes)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    @property
    def dsp48e2(self) -> int:
        """DSP48E2 as Yosys maps this block: one per lane and tap not in LUTs
        (K x K - ``lut_taps`` products per lane)."""
        return self.lanes * (self.kernel * self.kernel - self.lut_taps)

    @property
    def lane_lut_ff(self) -> tuple[float, float]:
        """LUT and FF per lane (an estimate): the lane's adder tree and registers, and its
        ``lut_taps`` LUT products."""
        return tuple(lane + self.lut_taps * product
                     for lane, product in zip(self.LANE_LUT_FF, self.LUT_PRODUCT_LUT_FF))

    def _product(self, value, weight, in_luts: bool):
        """``value * weight``: a multiplier, or ``in_luts`` the shift-and-add of the partial
        products ``weight << i`` for the set bits i of the unsigned ``value``."""
        if not in_luts:
            return value * weight
        terms = [Mux(value[bit], weight.as_signed() << bit, 0) for bit in range(self.value_shape.width)]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def elaborate(self, platform):
        m = Module()
        advance = stall_all_advance(m, self.o)
        m.d.comb += self.i.ready.eq(advance)
        taps = self.kernel * self.kernel
        product_width = self.value_shape.width + self.weight_width + (0 if self.value_shape.signed else 1)

        valids = [self.i.valid]
        for level in range(self.latency - 1):
            valid = Signal(name=f"valid{level + 1}")
            with m.If(advance):
                m.d.sync += valid.eq(valids[-1])
            valids.append(valid)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(valids[-1])

        for lane in range(self.lanes):
            products = []
            for tap in range(taps):
                # data: no reset, the valid chain above says when it holds a product
                product = Signal(signed(product_width), name=f"p{lane}_{tap}", reset_less=True)
                with m.If(advance):
                    m.d.sync += product.eq(self._product(self.i.payload.window[tap][lane],
                                                         self.i.payload.weight[tap][lane],
                                                         tap < self.lut_taps))
                products.append(product)
            if len(products) == 1:
                # K = 1: the product register is the only stage.
                m.d.comb += self.o.payload[lane].eq(products[0])
                continue
            total = pipelined_sum(m, products, self.acc_width, advance, name=f"s{lane}")
            m.d.comb += self.o.payload[lane].eq(total)
        return m
