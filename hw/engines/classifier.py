"""The classifier: the pool and fc layers on the FullyConnected block, and the result
stream (docs/design.md §3.8).

- **pool**: every channel summed over the last map: one FM read of ``lanes`` channels per
  (pixel, group) into the FC block's pool phase.
- **fc**: for every row of S = ``pw_slices`` classes, Q = ``fc_classes`` at a time, every
  group: one PW row (S classes' weights, slices s*Q .. s*Q+Q-1 taken) and the row's biases; row r,
  group g is PW row ``w_base + r * groups + g``. Rows are issued max(groups, Q) cycles
  apart so the FC's bank has sent the previous row's logits (one per cycle).
- The logits go through a FIFO to ``result`` with the class (argmax, ties to the lowest
  index) on the way; when the sequencer says ``emit``, the class follows the logits with
  ``last`` and ``emitted`` pulses.

Latency of a layer: :meth:`Classifier.layer_cycles`, from the first cycle after ``start``
to ``done``, built from the FC block's latency.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from rrm.memory_map import LayerKind
from rrm.sizing import sizing
from rrm.spec import Spec

from ..blocks.cost import Cost, per_unit
from ..blocks.fc import FullyConnected
from ..blocks.parameters import fc_parameters
from .interfaces import LayerControl, asked, latency_of, ram_shapes

#: The pool layer: the FM read before the first beat, and the cycle ``done`` is seen.
POOL_STEPS = 2
#: The fc layer: the PW read before a row's first beat, and the cycle ``done`` is seen.
FC_STEPS = 2


def result_bits(spec: Spec) -> int:
    """Bits of a result beat: a logit sign-extended to 32 bits, or 64 where it is wider."""
    return 32 if fc_parameters(spec)["logit_width"] <= 32 else 64


class Classifier(wiring.Component):
    """Members: ``control`` In(LayerControl); ``fm_read``, ``pw_read``, ``fc_bias_read``
    Out(RAM read); ``result`` Out(stream of {data: signed(result_bits), last}): the
    logits, then the class with ``last``; ``emit`` In (the sequencer's output phase),
    ``emitted`` Out (the class beat is taken)."""

    KINDS = (LayerKind.pool, LayerKind.fc)

    def __init__(self, spec: Spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.spec = spec
        self.mmap = mmap = sizing(spec).memories
        self.shapes = shapes = ram_shapes(spec)
        self.fc_params = fc_parameters(spec)
        self.result_bits = result_bits(spec)
        super().__init__({
            "control": In(LayerControl(mmap)),
            "fm_read": Out(shapes.read("fm_p")),
            "pw_read": Out(shapes.read("pw")),
            "fc_bias_read": Out(shapes.read("fc_bias")),
            "result": Out(stream.Signature(data.StructLayout(
                {"data": signed(self.result_bits), "last": 1}))),
            "emit": In(1),
            "emitted": Out(1),
        })

    # ------------------------------------------------------------------ cost
    @staticmethod
    def dsp48e2(spec: Spec) -> int:
        """DSP48E2 as Yosys maps the engine: the FC block's class lanes."""
        return asked(FullyConnected, fc_parameters(spec)).dsp48e2

    @staticmethod
    def resources(spec: Spec) -> Cost:
        """The FC block: DSP48E2 exact, LUT/FF from its pool-sum bits and class lanes."""
        pool_bits = spec.layer("fc").in_channels * sizing(spec).pool_width
        class_lanes = spec.hardware.fc_classes * spec.hardware.lanes
        return (pool_bits * per_unit(*FullyConnected.POOL_BIT_LUT_FF)
                + class_lanes * per_unit(*FullyConnected.CLASS_LANE_LUT_FF)
                + Cost(dsp=Classifier.dsp48e2(spec)))

    @staticmethod
    def layer_cycles(spec: Spec, entry) -> int:
        """Cycles of layer ``entry`` (pool or fc) from the first cycle after ``start`` to ``done``."""
        if entry.kind_code == LayerKind.pool:
            return entry.in_h * entry.in_w * entry.in_groups + POOL_STEPS
        if entry.kind_code != LayerKind.fc:
            raise ValueError(f"layer {entry.name}: the classifier runs pool and fc, not {entry.kind}")
        Q = spec.hardware.fc_classes
        fc = latency_of(FullyConnected, fc_parameters(spec))
        # rows of Q classes, max(groups, Q) cycles apart; the last row's logits leave one per cycle
        rows = -(-entry.out_channels // Q)
        last_row = entry.out_channels - (rows - 1) * Q
        return (rows - 1) * max(entry.in_groups, Q) + entry.in_groups + fc + FC_STEPS + last_row - 1

    # ------------------------------------------------------------------ RTL
    def elaborate(self, platform):
        m = Module()
        ctl = self.control
        kind = ctl.entry.kind_code
        fc = FullyConnected(**self.fc_params)
        m.submodules.fc = fc
        pool_done = self._pool(m, fc)
        self._fc_rows(m, fc)
        logit_fifo, best_index, produced = self._logits(m, fc)
        fc_done = ctl.run & (kind == LayerKind.fc) & (produced == self.spec.network.num_classes)
        m.d.comb += ctl.done.eq(Mux(kind == LayerKind.fc, fc_done, pool_done))
        self._result(m, logit_fifo, best_index)
        return m

    def _pool(self, m, fc):
        """The pool layer: for every pixel, every group, one FM read of ``lanes`` channels into
        the FC block's pool phase. Returns the layer's done."""
        P = self.spec.hardware.pe_count
        ctl = self.control
        entry, run, start = ctl.entry, ctl.run, ctl.start
        kind = entry.kind_code
        fm_rdata = self.fm_read.data
        depth = self.shapes.fm_depth
        pool_active = run & (kind == LayerKind.pool)
        pixel = Signal.like(entry.in_pixels)
        slot = Signal(range(P))
        group = Signal.like(entry.in_groups)
        block_base = Signal(range(depth))
        issuing = Signal()
        m.d.comb += self.fm_read.addr.eq(block_base + group)
        d_valid, d_last, d_slot = Signal(), Signal(), Signal.like(slot)
        final = (pixel == entry.in_pixels - 1) & (group == entry.in_groups - 1)
        with m.If(start):
            m.d.sync += [pixel.eq(0), slot.eq(0), group.eq(0), block_base.eq(0),
                         issuing.eq(kind == LayerKind.pool)]
        with m.Elif(issuing):
            with m.If(final):
                m.d.sync += issuing.eq(0)
            with m.If(group == entry.in_groups - 1):
                m.d.sync += [group.eq(0), pixel.eq(pixel + 1),
                             slot.eq(Mux(slot == P - 1, 0, slot + 1))]
                with m.If(slot == P - 1):
                    m.d.sync += block_base.eq(block_base + entry.in_groups)
            with m.Else():
                m.d.sync += group.eq(group + 1)
        m.d.sync += [d_valid.eq(issuing & ~start), d_last.eq(final), d_slot.eq(slot)]
        m.d.comb += [fc.i.valid.eq(d_valid), fc.i.payload.values.eq(fm_rdata[d_slot]),
                     fc.i.payload.last.eq(d_last)]
        pool_done_flag = Signal()
        with m.If(start):
            m.d.sync += pool_done_flag.eq(0)
        with m.Elif(d_valid & d_last):
            m.d.sync += pool_done_flag.eq(1)
        pool_done = pool_active & pool_done_flag
        return pool_done

    def _fc_rows(self, m, fc):
        """The fc layer's weight beats: rows of Q classes, each row's PW rows and biases
        (module docstring), issued max(groups, Q) cycles apart."""
        spec, mmap = self.spec, self.mmap
        S = mmap.pw_slices
        ctl = self.control
        entry, start = ctl.entry, ctl.start
        kind = entry.kind_code
        pw_rd, fcb_rd = self.pw_read, self.fc_bias_read
        Q = spec.hardware.fc_classes
        subs = S // Q
        span = max(fc.groups, Q)
        w_issue = Signal()
        w_off = Signal(range(mmap.ram("pw").depth + 1))
        row_base = Signal.like(w_off)
        w_group = Signal(range(span))
        sub = Signal(range(subs))
        fc_row = Signal(range(fc.rows))
        bias_row = Signal(range(mmap.ram("fc_bias").depth))
        with m.If(start):
            m.d.sync += [w_issue.eq(kind == LayerKind.fc), w_off.eq(0), row_base.eq(0), w_group.eq(0),
                         sub.eq(0), fc_row.eq(0), bias_row.eq(0)]
        with m.Elif(w_issue):
            with m.If(w_group == span - 1):
                m.d.sync += [w_group.eq(0), fc_row.eq(fc_row + 1)]
                with m.If(fc_row == fc.rows - 1):
                    m.d.sync += w_issue.eq(0)
                with m.If(sub == subs - 1):
                    m.d.sync += [sub.eq(0), bias_row.eq(bias_row + 1)]
                with m.Else():
                    m.d.sync += sub.eq(sub + 1)
            with m.Else():
                m.d.sync += w_group.eq(w_group + 1)
            with m.If(w_group == fc.groups - 1):
                with m.If(sub == subs - 1):     # on to the next PW rows
                    m.d.sync += [w_off.eq(w_off + 1), row_base.eq(w_off + 1)]
                with m.Else():                  # the next sub-row reads the same PW rows
                    m.d.sync += w_off.eq(row_base)
            with m.Elif(w_group < fc.groups):
                m.d.sync += w_off.eq(w_off + 1)
        m.d.comb += [pw_rd.addr.eq(entry.w_base + w_off), fcb_rd.addr.eq(bias_row)]
        w_valid = Signal()
        d_sub = Signal.like(sub)
        m.d.sync += [w_valid.eq(w_issue & ~start & (w_group < fc.groups)), d_sub.eq(sub)]
        for j in range(Q):
            slice_index = d_sub * Q + j if subs > 1 else j
            m.d.comb += [fc.w.payload.weight[j].eq(pw_rd.data[slice_index]),
                         fc.w.payload.bias[j].eq(fcb_rd.data[slice_index])]
        m.d.comb += fc.w.valid.eq(w_valid)

    def _logits(self, m, fc):
        """The logits into a FIFO (``classes`` deep), the argmax (ties to the lowest index)
        on the way. Returns the FIFO, the best index and the count of logits produced."""
        classes = self.spec.network.num_classes
        start = self.control.start
        logit_fifo = fifo.SyncFIFOBuffered(width=self.result_bits, depth=classes)
        m.submodules.logit_fifo = logit_fifo
        produced = Signal(range(classes + 1))
        best = Signal(signed(self.fc_params["logit_width"]))
        best_index = Signal(range(classes))
        m.d.comb += [logit_fifo.w_data.eq(fc.o.payload),
                     logit_fifo.w_en.eq(fc.o.valid), fc.o.ready.eq(logit_fifo.w_rdy)]
        with m.If(start):
            m.d.sync += produced.eq(0)
        with m.Elif(fc.o.valid & fc.o.ready):
            m.d.sync += produced.eq(produced + 1)
            with m.If((produced == 0) | (fc.o.payload > best)):
                m.d.sync += [best.eq(fc.o.payload), best_index.eq(produced)]
        return logit_fifo, best_index, produced

    def _result(self, m, logit_fifo, best_index):
        """The result stream: every logit from the FIFO, then, once the sequencer says
        ``emit``, the class with ``last``; ``emitted`` pulses when it is taken."""
        classes = self.spec.network.num_classes
        sent = Signal(range(classes + 1))
        with m.If(sent != classes):
            m.d.comb += [self.result.valid.eq(logit_fifo.r_rdy),
                         self.result.payload.data.eq(logit_fifo.r_data.as_signed()),
                         logit_fifo.r_en.eq(self.result.ready)]
            with m.If(self.result.valid & self.result.ready):
                m.d.sync += sent.eq(sent + 1)
        with m.Else():
            m.d.comb += [self.result.valid.eq(self.emit), self.result.payload.data.eq(best_index),
                         self.result.payload.last.eq(1)]
            with m.If(self.result.valid & self.result.ready):
                m.d.sync += sent.eq(0)
                m.d.comb += self.emitted.eq(1)
