"""FC module: the average-pool sum, then rows of parallel classes: multipliers and pipelined adder trees."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .adder_tree import pipelined_sum, tree_depth
from .checks import check_int
from .select import select


class FullyConnected(wiring.Component):
    """Pool sums then ``logit[k] = sum_c pool[c] * w[k, c] + b[k]`` (docs/design.md §6), for
    ``parallel`` classes at once.

    **Pool phase.** ``i`` carries the last layer's map in raster order, each
    pixel as G = ceil(channels/lanes) beats of ``lanes`` channels (channel
    ``g*lanes + l`` in beat g, lane l; lanes past ``channels`` are ignored). The
    block sums every channel over the map (``pool[c]``, no division); the beat
    with ``last`` set (the final beat of the final pixel) ends the phase.

    **FC phase.** The classes are taken in rows of Q = ``parallel``: row r holds
    classes ``r*Q .. r*Q+Q-1`` (the last row may be partial). ``w`` carries, row
    by row, G beats; beat g holds, for each slot j, the ``lanes`` weights
    ``w[r*Q+j, g*lanes + l]`` and the class's bias (read on beat 0; slots past the
    last class are ignored). Each beat's Q x ``lanes`` products are formed in
    parallel, summed by Q pipelined adder trees and accumulated; after beat G-1
    the row's logits go into an output bank that sends them on ``o`` one per
    cycle, in class order. After the last row's last beat the block returns to
    the pool phase (the next image may start at once). Stall-all pipeline: it
    advances unless a finished row finds the bank still sending (G < Q) or ``o``
    stalled.

    Latency: ``2 + ceil(log2(lanes))`` cycles from the handshake of a row's last
    ``w`` beat to its first logit's ``o.valid`` (products, tree, accumulate).
    Throughput: pool phase one beat (``lanes`` channels) per cycle; FC phase
    Q x ``lanes`` MACs per cycle, one row per max(G, Q) cycles.

    Parameters
    ----------
    channels, classes, lanes : int
        C, K and the multipliers per class in parallel.
    parallel : int
        Q, the classes computed at once (the accelerator's ``fc_classes``: Q of the P
        slices of one PW RAM row).
    act_bits : int
        Unsigned activation width.
    pool_width : int
        Unsigned width of a pool sum (``rrm.bounds.pool_range``, via :mod:`rrm.sizing`).
    weight_width, bias_width, logit_width : int
        Signed widths; ``logit_width`` from ``rrm.bounds.accumulator_bits(spec, "fc")``.

    Members
    -------
    i : In(stream.Signature(StructLayout))
        ``values``: ``lanes`` x ``unsigned(act_bits)``; ``last``: end of the map.
    w : In(stream.Signature(StructLayout))
        ``weight``: Q x ``lanes`` x ``signed(weight_width)``; ``bias``: Q x ``signed(bias_width)``.
    o : Out(stream.Signature(signed(logit_width)))
        One logit per class, in class order.
    """

    #: LUT and FF per bit of the pool sums and per class lane, as Yosys 0.23
    #: ``synth_xilinx`` maps them (calibrated on ``rrm synth --mode blocks`` of
    #: rr-mobilenet-fast and -max; an estimate).
    POOL_BIT_LUT_FF = (1.0, 0.75)
    CLASS_LANE_LUT_FF = (20.3, 43.3)

    def __init__(self, *, channels: int, classes: int, lanes: int, parallel: int, act_bits: int,
                 pool_width: int, weight_width: int, bias_width: int, logit_width: int):
        self.channels = check_int("channels", channels, 1, 16384)
        self.classes = check_int("classes", classes, 1, 100000)
        self.lanes = check_int("lanes", lanes, 1, 256)
        self.parallel = check_int("parallel", parallel, 1, 256)
        self.act_bits = check_int("act_bits", act_bits, 1, 16)
        self.pool_width = check_int("pool_width", pool_width, act_bits, 64)
        self.weight_width = check_int("weight_width", weight_width, 2, 32)
        self.bias_width = check_int("bias_width", bias_width, 2, 64)
        self.logit_width = check_int("logit_width", logit_width, bias_width, 128)
        self.groups = -(-channels // lanes)
        self.rows = -(-classes // parallel)
        self.latency = 2 + tree_depth(lanes)
        self.in_layout = data.StructLayout({
            "values": data.ArrayLayout(unsigned(act_bits), lanes), "last": 1})
        self.weight_layout = data.StructLayout({
            "weight": data.ArrayLayout(data.ArrayLayout(signed(weight_width), lanes), parallel),
            "bias": data.ArrayLayout(signed(bias_width), parallel)})
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "w": In(stream.Signature(self.weight_layout)),
            "o": Out(stream.Signature(signed(logit_width))),
        })

    @property
    def dsp48e2(self) -> int:
        """DSP48E2 as Yosys maps this block: one per class lane (``parallel`` x ``lanes`` products)."""
        return self.parallel * self.lanes

    def elaborate(self, platform):
        m = Module()
        lanes, groups, Q, rows = self.lanes, self.groups, self.parallel, self.rows
        group_layout = data.ArrayLayout(unsigned(self.pool_width), lanes)
        pools = Signal(data.ArrayLayout(group_layout, groups))
        fc_phase = Signal()

        # Pool phase: accumulate beat g into pool group g.
        in_group = Signal(range(groups))
        first_pixel = Signal(init=1)
        m.d.comb += self.i.ready.eq(~fc_phase)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += in_group.eq(Mux(in_group == groups - 1, 0, in_group + 1))
            with m.If(in_group == groups - 1):
                m.d.sync += first_pixel.eq(0)
                with m.If(self.i.payload.last):
                    m.d.sync += [fc_phase.eq(1), first_pixel.eq(1)]
            for group in range(groups):
                with m.If(in_group == group):
                    for lane in range(lanes):
                        if group * lanes + lane >= self.channels:
                            continue  # past the last channel: stays 0
                        old = Mux(first_pixel, 0, pools[group][lane])
                        m.d.sync += pools[group][lane].eq(old + self.i.payload.values[lane])

        # Output bank: a finished row's logits, sent one per cycle.
        bank = Signal(data.ArrayLayout(signed(self.logit_width), Q))
        pending = Signal(range(Q + 1))     # logits of the bank not yet sent
        send = Signal(range(Q))            # the bank slot on o
        rows_out = Signal(range(rows))     # rows loaded into the bank (mod rows)
        m.d.comb += [self.o.valid.eq(pending != 0), self.o.payload.eq(select(bank, send))]
        sent = self.o.valid & self.o.ready
        bank_free = (pending == 0) | ((pending == 1) & self.o.ready)

        # FC phase: a stall-all pipeline fed by w, held while a finished row waits for the bank.
        depth = tree_depth(lanes)
        advance = Signal()
        m.d.comb += self.w.ready.eq(advance & fc_phase)
        w_group = Signal(range(groups))
        w_row = Signal(range(rows))
        accepted = self.w.valid & self.w.ready
        with m.If(accepted):
            m.d.sync += w_group.eq(Mux(w_group == groups - 1, 0, w_group + 1))
            with m.If(w_group == groups - 1):
                m.d.sync += w_row.eq(Mux(w_row == rows - 1, 0, w_row + 1))
                with m.If(w_row == rows - 1):
                    m.d.sync += fc_phase.eq(0)

        # Per stage: valid, first beat of a row, last beat of a row, the row's biases.
        bias_layout = self.weight_layout["bias"].shape
        stages = []
        previous = (accepted, w_group == 0, w_group == groups - 1, self.w.payload.bias)
        for level in range(1 + depth):
            stage = (Signal(name=f"valid{level}"), Signal(name=f"first{level}"),
                     Signal(name=f"last{level}"), Signal(bias_layout, name=f"bias{level}"))
            with m.If(advance):
                m.d.sync += [dst.eq(src) for dst, src in zip(stage, previous)]
            stages.append(stage)
            previous = stage
        valid, first, last, bias = stages[-1]
        finishing = valid & last
        m.d.comb += advance.eq(~finishing | bank_free)

        product_width = self.pool_width + self.weight_width + 1
        selected = select(pools, w_group)
        totals = []
        for slot in range(Q):
            products = []
            for lane in range(lanes):
                # data, no reset: the stages' valid bits say when it holds a product
                product = Signal(signed(product_width), name=f"p{slot}_{lane}", reset_less=True)
                with m.If(advance):
                    m.d.sync += product.eq(selected[lane] * self.w.payload.weight[slot][lane])
                products.append(product)
            totals.append(pipelined_sum(m, products, self.logit_width, advance, name=f"tree{slot}"))

        accs = Signal(data.ArrayLayout(signed(self.logit_width), Q))
        last_count = self.classes - (rows - 1) * Q
        with m.If(sent):
            m.d.sync += [pending.eq(pending - 1), send.eq(send + 1)]
        with m.If(advance & finishing):   # the bank is free: load the row
            m.d.sync += [pending.eq(Mux(rows_out == rows - 1, last_count, Q)), send.eq(0),
                         rows_out.eq(Mux(rows_out == rows - 1, 0, rows_out + 1))]
        for slot in range(Q):
            new_acc = Mux(first, bias[slot], accs[slot]) + totals[slot]
            with m.If(advance & valid):
                m.d.sync += accs[slot].eq(new_acc)
                with m.If(last):
                    m.d.sync += bank[slot].eq(new_acc)
        return m
