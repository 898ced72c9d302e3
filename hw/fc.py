"""FC module: the average-pool sum, then parallel multipliers and a pipelined adder tree."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .adder_tree import pipelined_sum, tree_depth
from .checks import check_int
from .pipeline import stall_all_advance


class FullyConnected(wiring.Component):
    """Pool sums then ``logit[k] = sum_c pool[c] * w[k, c] + b[k]`` (DESIGN §3).

    **Pool phase.** ``i`` carries the last layer's map in raster order, each
    pixel as G = ceil(channels/lanes) beats of ``lanes`` channels (channel
    ``g*lanes + l`` in beat g, lane l; lanes past ``channels`` are ignored). The
    block sums every channel over the map (``pool[c]``, no division); the beat
    with ``last`` set (the final beat of the final pixel) ends the phase.

    **FC phase.** ``w`` then carries, class by class, G beats of ``lanes``
    weights (beat g holds ``w[k, g*lanes + l]``) and the class bias (read on
    beat 0). Each beat's ``lanes`` products are formed in parallel, summed by a
    pipelined adder tree and accumulated; after beat G-1 the class's logit
    leaves on ``o``. After the last class's last beat the block returns to the
    pool phase (the next image may start at once). Stall-all pipeline: it
    advances when ``o`` is empty or being read.

    Latency: ``2 + ceil(log2(lanes))`` cycles from the handshake of a class's
    last ``w`` beat to its logit's ``o.valid`` (products, tree, accumulate).
    Throughput: pool phase one beat (``lanes`` channels) per cycle; FC phase
    ``lanes`` MACs per cycle, one logit per G cycles.

    Parameters
    ----------
    channels, classes, lanes : int
        C, K and the multipliers in parallel.
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
        ``weight``: ``lanes`` x ``signed(weight_width)``; ``bias``: ``signed(bias_width)``.
    o : Out(stream.Signature(signed(logit_width)))
        One logit per class, in class order.
    """

    def __init__(self, *, channels: int, classes: int, lanes: int, act_bits: int, pool_width: int,
                 weight_width: int, bias_width: int, logit_width: int):
        self.channels = check_int("channels", channels, 1, 16384)
        self.classes = check_int("classes", classes, 1, 100000)
        self.lanes = check_int("lanes", lanes, 1, 256)
        self.act_bits = check_int("act_bits", act_bits, 1, 16)
        self.pool_width = check_int("pool_width", pool_width, act_bits, 64)
        self.weight_width = check_int("weight_width", weight_width, 2, 32)
        self.bias_width = check_int("bias_width", bias_width, 2, 64)
        self.logit_width = check_int("logit_width", logit_width, bias_width, 128)
        self.groups = -(-channels // lanes)
        self.latency = 2 + tree_depth(lanes)
        self.in_layout = data.StructLayout({
            "values": data.ArrayLayout(unsigned(act_bits), lanes), "last": 1})
        self.weight_layout = data.StructLayout({
            "weight": data.ArrayLayout(signed(weight_width), lanes), "bias": signed(bias_width)})
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "w": In(stream.Signature(self.weight_layout)),
            "o": Out(stream.Signature(signed(logit_width))),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, groups = self.lanes, self.groups
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

        # FC phase: a stall-all pipeline fed by w.
        advance = stall_all_advance(m, self.o)
        m.d.comb += self.w.ready.eq(advance & fc_phase)
        w_group = Signal(range(groups))
        w_class = Signal(range(self.classes))
        accepted = self.w.valid & self.w.ready
        with m.If(accepted):
            m.d.sync += w_group.eq(Mux(w_group == groups - 1, 0, w_group + 1))
            with m.If(w_group == groups - 1):
                m.d.sync += w_class.eq(Mux(w_class == self.classes - 1, 0, w_class + 1))
                with m.If(w_class == self.classes - 1):
                    m.d.sync += fc_phase.eq(0)

        depth = tree_depth(lanes)
        # Per stage: valid, first beat of a class, last beat of a class, bias.
        stages = []
        previous = (accepted, w_group == 0, w_group == groups - 1, self.w.payload.bias)
        for level in range(1 + depth):
            stage = (Signal(name=f"valid{level}"), Signal(name=f"first{level}"),
                     Signal(name=f"last{level}"), Signal(signed(self.bias_width), name=f"bias{level}"))
            with m.If(advance):
                m.d.sync += [dst.eq(src) for dst, src in zip(stage, previous)]
            stages.append(stage)
            previous = stage

        product_width = self.pool_width + self.weight_width + 1
        selected = pools[w_group]
        products = []
        for lane in range(lanes):
            product = Signal(signed(product_width), name=f"p{lane}")
            with m.If(advance):
                m.d.sync += product.eq(selected[lane] * self.w.payload.weight[lane])
            products.append(product)
        total = pipelined_sum(m, products, self.logit_width, advance, name="tree")

        valid, first, last, bias = stages[-1]
        acc = Signal(signed(self.logit_width))
        new_acc = Mux(first, bias, acc) + total
        with m.If(advance):
            m.d.sync += self.o.valid.eq(valid & last)
            with m.If(valid):
                m.d.sync += acc.eq(new_acc)
                with m.If(last):
                    m.d.sync += self.o.payload.eq(new_acc)
        return m
