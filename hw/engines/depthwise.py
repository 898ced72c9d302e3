"""The depthwise engine: dw layers on the D = ``dw_pes`` DW PEs (docs/design.md §3.7).

PE j takes channel group g0 + j of the same pixels, for rows of groups g0 = 0, D, 2D, ...:
per row, the kernels and BN words are read into registers; a wide reader turns D FM words
(one per group, P pixels each) into P pixels of D groups; one patch buffer of D x lanes
channels gives the K x K windows (with ``dw_pairs``, a stride-2 layer's come from a
:class:`PairPatchBuffer` fed a pixel pair per cycle, :func:`walks_pairs`), each PE takes
its ``lanes`` channels of a window per cycle; the D BN outputs are gathered into one word
per group (P pixels) and written one per cycle.

Latency of a layer: :meth:`DepthwiseEngine.layer_cycles`, from the first cycle after
``start`` to ``done``, built from the blocks' own latencies.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from rrm.devices import bram18k_blocks
from rrm.memory_map import LayerKind
from rrm.sizing import sizing
from rrm.spec import Spec

from ..blocks.bn_requant import BnRequant
from ..blocks.cost import Cost, memory_cost, per_unit
from ..blocks.dw_pe import DepthwisePE
from ..blocks.layouts import pack_struct
from ..blocks.parameters import bn_parameters, dw_parameters, patch_parameters
from ..blocks.pair_patch_buffer import PairPatchBuffer, check_pair_frame
from ..blocks.patch_buffer import PatchBuffer
from ..blocks.pe_array import depthwise_pe_array
from ..blocks.select import select, select_one_hot
from .interfaces import FmWrite, LayerControl, asked, bn_units, latency_of, ram_shapes

#: Cycles of a row of groups outside the D-cycle kernel load, the D-cycle fill of the wide
#: reader, the D writes and the blocks' latencies: the registered kernel load, the row's
#: start, the first fill word on the RAM's output, the registered FM write and the row's end.
ROW_STEPS = 5
#: ``done`` is seen the cycle after the last row ends.
DONE = 1
#: LUT and FF per bit of the engine's own registers (wide reader, gather, write queue,
#: kernels): their multiplexers and enables, calibrated on the core block of
#: ``rrm synth --mode blocks`` of rr-mobilenet-fit and -fast (an estimate).
REGISTER_BIT_LUT_FF = (0.61, 1.29)


def dw_patch_parameters(spec: Spec) -> dict:
    """The DW engine's patch buffer: the DW patch buffer widened to D x lanes channels."""
    params = patch_parameters(spec, "dw")
    params["channels"] = spec.hardware.dw_pes * spec.hardware.lanes
    return params


def pair_walk_fits(layer) -> bool:
    """Whether dw ``layer`` (anything with ``stride``, ``in_h`` and ``in_w``) is one the pair
    walk takes: stride 2 on a frame :class:`PairPatchBuffer` takes (:func:`check_pair_frame`:
    an even map at least 4 wide; the RTL tests the same on the layer table's entry)."""
    if layer.stride != 2:
        return False
    try:
        check_pair_frame("dw", layer.in_h, layer.in_w)
    except ValueError:
        return False
    return True


def walks_pairs(spec: Spec, layer) -> bool:
    """Whether dw ``layer`` walks its map a pixel pair per cycle: with ``dw_pairs``, when
    :func:`pair_walk_fits`; the RTL makes the same choice from the layer table's entry."""
    return spec.hardware.dw_pairs and pair_walk_fits(layer)


def dw_pair_patch_parameters(spec: Spec, enabled: bool = True) -> dict | None:
    """The DW engine's pair patch buffer (D x lanes channels, sized for the largest map of a
    layer that :func:`walks_pairs`, or with ``enabled`` False that would with ``dw_pairs``), or
    None when no layer does."""
    layers = [layer for layer in spec.layers()
              if layer.kind == "dw" and pair_walk_fits(layer) and (spec.hardware.dw_pairs or not enabled)]
    if not layers:
        return None
    params = dw_patch_parameters(spec)
    del params["kernel"]   # 3 x 3 (rrm.spec: dw_pairs needs kernel 3)
    params.update(max_height=max(layer.in_h for layer in layers),
                  max_width=max(layer.in_w for layer in layers))
    return params


class DepthwiseEngine(wiring.Component):
    """Members: ``control`` In(LayerControl); ``fm_read``, ``dw_read``, ``bn_read``
    Out(RAM read); ``fm_write`` Out(FmWrite)."""

    KINDS = (LayerKind.dw,)

    def __init__(self, spec: Spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.spec = spec
        self.mmap = mmap = sizing(spec).memories
        self.shapes = shapes = ram_shapes(spec)
        super().__init__({
            "control": In(LayerControl(mmap)),
            "fm_read": Out(shapes.read("fm_p")),
            "dw_read": Out(shapes.read("dw")),
            "bn_read": Out(shapes.read("bn")),
            "fm_write": Out(FmWrite(shapes)),
        })

    # ------------------------------------------------------------------ cost
    @staticmethod
    def dsp48e2(spec: Spec) -> int:
        """DSP48E2 as Yosys maps the engine: its DW PEs' and BN units' products."""
        D = spec.hardware.dw_pes
        return D * (asked(DepthwisePE, dw_parameters(spec)).dsp48e2
                    + asked(BnRequant, bn_parameters(spec)).dsp48e2)

    @staticmethod
    def resources(spec: Spec) -> Cost:
        """DW PEs, BN units, the patch buffer (its K - 1 line buffers in BRAM18K), the pair
        patch buffer (``dw_pairs``) and the engine's registers: DSP48E2 and BRAM18K exact,
        LUT/FF from unit costs."""
        hw, quant = spec.hardware, spec.quant
        channels = hw.dw_pes * hw.lanes
        pe = asked(DepthwisePE, dw_parameters(spec))
        lanes = channels * (per_unit(*pe.lane_lut_ff) + per_unit(*PatchBuffer.CHANNEL_LUT_FF)
                            + per_unit(*BnRequant.LANE_LUT_FF))
        registers = DepthwiseEngine.register_bits(spec) * per_unit(*REGISTER_BIT_LUT_FF)
        line_buffers = (hw.kernel - 1) * bram18k_blocks(channels * quant.act_bits,
                                                        sizing(spec).dw_patch_max_width + hw.kernel - 1)
        cost = lanes + registers + Cost(dsp=DepthwiseEngine.dsp48e2(spec), bram18k=line_buffers)
        pair = dw_pair_patch_parameters(spec)
        if pair is not None:
            # the pair patch buffer, its line buffer (a word of two rows of a pair per pair
            # column), and the engine's two selects between the walks: the window into the
            # PEs (K x K values a channel) and the one pixel out of the pair (one a channel)
            selects = channels * (hw.kernel ** 2 + 1) * quant.act_bits * per_unit(1, 0)
            cost = (cost + channels * per_unit(*PairPatchBuffer.CHANNEL_LUT_FF) + selects
                    + memory_cost(4 * channels * quant.act_bits, pair["max_width"] // 2))
        return cost

    @staticmethod
    def register_bits(spec: Spec) -> int:
        """Register bits of the engine outside its blocks: the wide reader's two buffers, the
        gather and the write queue (D x P pixels of ``lanes`` activations each), the D
        kernels and BN words."""
        hw, quant = spec.hardware, spec.quant
        P, L, K, D = hw.pe_count, hw.lanes, hw.kernel, hw.dw_pes
        return 4 * D * P * L * quant.act_bits + D * (K * K * L * quant.weight_bits
                                                      + L * (quant.bn_mult_bits + quant.bn_bias_bits))

    @staticmethod
    def layer_cycles(spec: Spec, entry) -> int:
        """Cycles of dw layer ``entry`` from the first cycle after ``start`` to ``done``: per row
        of D groups, load the kernels and BN words (D cycles), fill the wide reader (D cycles),
        walk the padded map up to the last window (one position per cycle; a layer that
        :func:`walks_pairs` walks its unpadded map a pair per cycle, the last window
        completing with the last pair), drain the PE, BN and the D writes."""
        if entry.kind_code != LayerKind.dw:
            raise ValueError(f"layer {entry.name}: the DW engine runs dw, not {entry.kind}")
        hw = spec.hardware
        P, K, D = hw.pe_count, hw.kernel, hw.dw_pes
        pe = latency_of(DepthwisePE, dw_parameters(spec))
        bn = latency_of(BnRequant, bn_parameters(spec))
        pairs = walks_pairs(spec, entry)
        patch = (latency_of(PairPatchBuffer, dw_pair_patch_parameters(spec)) if pairs
                 else latency_of(PatchBuffer, dw_patch_parameters(spec)))
        pad = K // 2
        padded_h, padded_w = entry.in_h + 2 * pad, entry.in_w + 2 * pad

        def position(index):
            """Steps of the walk before the one that completes output ``index``'s window."""
            y, x = divmod(index, entry.out_w)
            if pairs:   # window (y, x) completes with pair x of row 2y + 1
                return (2 * y + 1) * (entry.in_w // 2) + x
            return (K - 1 + entry.stride * y) * padded_w + K - 1 + entry.stride * x

        outputs = entry.out_h * entry.out_w
        last_window = position(outputs - 1)
        # padding walked after the last window (none in the pair walk)
        leftover = 0 if pairs else padded_h * padded_w - 1 - last_window
        kernel_load = wide_fill = writes = D    # one group per cycle in each
        row_overhead = kernel_load + wide_fill + writes + ROW_STEPS + patch + pe + bn
        rows = -(-entry.out_groups // D)
        # a row's frame starts once the previous frame's padding has been walked
        late = max(0, leftover + 1 - row_overhead)
        # A last, partial block of r < P outputs completes d cycles after the block before it;
        # its words wait (BN and the PEs stall) until that block's D writes are out.
        held = 0
        partial = outputs % P
        if partial and outputs > P:
            held = max(0, D - (position(outputs - 1) - position(outputs - 1 - partial)))
        return rows * (last_window + row_overhead + held) + (rows - 1) * late + DONE

    # ------------------------------------------------------------------ RTL
    def elaborate(self, platform):
        """Four parts, one method each: the rows of groups (kernel and BN loads), the wide
        reader, the windows through the PEs and BN, the gather and the writes. A part hands
        the signals another reads through ``self._s`` (a namespace filled during elaboration)."""
        m = Module()
        spec = self.spec
        P, L = spec.hardware.pe_count, spec.hardware.lanes
        D = spec.hardware.dw_pes
        A = spec.quant.act_bits
        ctl = self.control
        entry, shift, run, start = ctl.entry, ctl.shift, ctl.run, ctl.start
        kind = entry.kind_code
        dw_rd, bn_rd, wr = self.dw_read, self.bn_read, self.fm_write
        fm_rdata = self.fm_read.data
        slot_layout = data.ArrayLayout(unsigned(A), L)
        depth = self.shapes.fm_depth
        patch = PatchBuffer(**dw_patch_parameters(spec))
        m.submodules.dw_patch = patch
        pair_params = dw_pair_patch_parameters(spec)
        pair_patch = None
        if pair_params is not None:
            pair_patch = PairPatchBuffer(**pair_params)
            m.submodules.dw_pair_patch = pair_patch
        array = depthwise_pe_array(pe_count=D, **dw_parameters(spec))
        m.submodules.dw_pes = array
        bns = bn_units(m, spec, "dw_bn", D)
        active = run & (kind == LayerKind.dw)
        m.d.sync += wr.en.eq(0)
        m.d.comb += wr.slots.eq((1 << P) - 1)
        s = self._s = SimpleNamespace(entry=entry, shift=shift, start=start, active=active, wr=wr,
                                      fm_rdata=fm_rdata, slot_layout=slot_layout, depth=depth,
                                      patch=patch, pair_patch=pair_patch, array=array, bns=bns,
                                      dw_rd=dw_rd, bn_rd=bn_rd)
        self._rows(m)
        self._wide_reader(m)
        self._windows_to_bn(m)
        self._gather_and_write(m)
        m.d.comb += ctl.done.eq(active & (s.g0 >= entry.out_groups) & ~s.running & ~s.loading
                                & ~s.load_valid & ~wr.en & ~start)
        return m

    def _rows(self, m):
        """Rows of D groups: load the row's D kernels and BN words into registers (one per
        cycle, from the DW and BN RAMs), run the row's frame, then the next row."""
        spec, s = self.spec, self._s
        D = spec.hardware.dw_pes
        entry, kind, start, active = s.entry, s.entry.kind_code, s.start, s.active
        dw_rd, bn_rd = s.dw_rd, s.bn_rd
        g0 = Signal.like(entry.out_groups)
        load_j = Signal(range(D + 1))
        loading = Signal()
        running = Signal()
        row_start = Signal()
        # Data registers have no reset (their valid and full flags do): a reset net reaching
        # them had 89,036 loads at rr-mobilenet.
        dw_regs = Signal(data.ArrayLayout(dw_rd.data.shape(), D), reset_less=True)
        bn_regs = Signal(data.ArrayLayout(bn_rd.data.shape(), D), reset_less=True)
        load_d = Signal(range(D + 1))
        load_valid = Signal()
        in_range = g0 + load_j < entry.out_groups
        m.d.comb += [dw_rd.addr.eq(entry.w_base + Mux(in_range, g0 + load_j, 0)),
                     bn_rd.addr.eq(entry.bn_base + Mux(in_range, g0 + load_j, 0))]
        m.d.sync += [load_valid.eq(loading), load_d.eq(load_j)]
        with m.If(load_valid):
            for j in range(D):
                with m.If(load_d == j):
                    m.d.sync += [dw_regs[j].eq(dw_rd.data), bn_regs[j].eq(bn_rd.data)]
        row_done = Signal()
        # this layer walks pixel pairs (walks_pairs), held for the layer: a register, so that
        # the walk's selects start at one flip-flop
        pairs = Signal()
        if s.pair_patch is not None:
            even = ~entry.in_h[0] & ~entry.in_w[0]
            with m.If(start):
                m.d.sync += pairs.eq((entry.stride == 2) & even & (entry.in_w >= 4))
        s.pairs = pairs
        with m.If(start):
            m.d.sync += [g0.eq(0), loading.eq(kind == LayerKind.dw), load_j.eq(0), running.eq(0)]
        with m.Elif(loading):
            m.d.sync += load_j.eq(load_j + 1)
            with m.If(load_j == D - 1):
                m.d.sync += loading.eq(0)
        with m.Elif(active & ~running & ~load_valid & (g0 < entry.out_groups)):
            m.d.comb += row_start.eq(1)
            m.d.sync += running.eq(1)
        with m.Elif(running & row_done):
            m.d.sync += [running.eq(0), g0.eq(g0 + D), load_j.eq(0)]
            with m.If(g0 + D < entry.out_groups):
                m.d.sync += loading.eq(1)
        s.g0, s.loading, s.running, s.row_start, s.row_done = g0, loading, running, row_start, row_done
        s.dw_regs, s.bn_regs, s.load_valid = dw_regs, bn_regs, load_valid

    def _wide_reader(self, m):
        """The wide reader: D FM words (groups g0..g0+D-1 of one block of P pixels), double
        buffered, streamed into the patch buffer as P pixels of D groups, one per cycle (into
        the pair patch buffer, a pair per cycle, on a layer that walks pairs)."""
        spec, s = self.spec, self._s
        P, D = spec.hardware.pe_count, spec.hardware.dw_pes
        entry, fm_rdata, patch, depth, slot_layout = s.entry, s.fm_rdata, s.patch, s.depth, s.slot_layout
        pair_patch, pairs = s.pair_patch, s.pairs
        g0, running, row_start = s.g0, s.running, s.row_start
        buffers = Signal(data.ArrayLayout(data.ArrayLayout(data.ArrayLayout(slot_layout, P), D), 2),
                         reset_less=True)
        full = Signal(2)
        fill_idx = Signal()
        fill_j = Signal(range(D + 1))
        filling = Signal()
        fill_base = Signal(range(depth))      # in_groups * the next block to fetch
        blocks_left = Signal.like(entry.in_pixels)   # pixels still to fetch
        fill_d_valid = Signal()
        fill_d_j = Signal.like(fill_j)
        fill_d_idx = Signal()
        stream_idx = Signal()
        stream_slot = Signal(range(P))
        # (stream_idx, stream_slot) one-hot, bit idx * P + slot, kept beside them so that the
        # pixel's select is an AND-OR of registers (select_one_hot), not the 2 x P-way
        # multiplexer trees that were the DW engine's longest path (12 levels on
        # rr-mobilenet-max and -packed; docs/accelerator.md, Timing). With a pair patch
        # buffer it is (stream_idx, stream_slot // 2), bit idx * P/2 + slot // 2: the select
        # takes a pair, the single pixel is one of its two.
        stream_hot = Signal(2 * P if pair_patch is None else P, init=1)
        pixels_left = Signal.like(entry.in_pixels)
        m.d.comb += self.fm_read.addr.eq(fill_base + g0 + Mux(g0 + fill_j < entry.in_groups, fill_j, 0))
        m.d.sync += [fill_d_valid.eq(filling), fill_d_j.eq(fill_j), fill_d_idx.eq(fill_idx)]
        with m.If(fill_d_valid):
            for idx in range(2):
                for j in range(D):
                    with m.If((fill_d_idx == idx) & (fill_d_j == j)):
                        m.d.sync += buffers[idx][j].eq(fm_rdata)
        # A buffer is full from the cycle its last word is on the RAM's output (the
        # streamer takes that word from there), and free again once its last pixel
        # has been streamed: fills and streams follow each other without a gap cycle.
        stream_valid = running & full.bit_select(stream_idx, 1) & (pixels_left != 0)
        if pair_patch is None:
            stream_fire = patch.i.valid & patch.i.ready
        else:
            stream_fire = stream_valid & Mux(pairs, pair_patch.i.ready, patch.i.ready)
        # Whether the pixel on offer is its buffer's last ((stream_slot == P - 1) |
        # (pixels_left == 1); a pair: P - 2 and 2), kept in a register so that the fill logic
        # is one gate behind the patch buffer's ready, not behind two comparisons as well.
        stream_last = Signal(init=P == 1)
        stream_ends = stream_fire & stream_last
        free = [~full[idx] | (stream_ends & (stream_idx == idx)) for idx in range(2)]
        can_fill = running & (blocks_left != 0)

        def begin_fill(idx):
            return [filling.eq(1), fill_j.eq(0), fill_idx.eq(idx),
                    blocks_left.eq(Mux(blocks_left > P, blocks_left - P, 0))]

        first_last = (P == 1) | (entry.in_pixels == 1)
        if pair_patch is not None:
            first_last = Mux(pairs, (P == 2) | (entry.in_pixels == 2), first_last)
        with m.If(stream_ends):
            m.d.sync += full.bit_select(stream_idx, 1).eq(0)
        with m.If(row_start):
            m.d.sync += [fill_base.eq(0), blocks_left.eq(entry.in_pixels), fill_j.eq(0),
                         filling.eq(0), fill_idx.eq(0), full.eq(0), stream_idx.eq(0),
                         stream_slot.eq(0), stream_hot.eq(1), pixels_left.eq(entry.in_pixels),
                         stream_last.eq(first_last)]
        with m.Elif(filling):
            m.d.sync += fill_j.eq(fill_j + 1)
            with m.If(fill_j == D - 1):
                m.d.sync += [filling.eq(0), fill_j.eq(0), fill_idx.eq(~fill_idx),
                             fill_base.eq(fill_base + entry.in_groups),
                             full.bit_select(fill_idx, 1).eq(1)]
                with m.If(can_fill & Mux(fill_idx, free[0], free[1])):
                    m.d.sync += begin_fill(~fill_idx)
        with m.Elif(can_fill & Mux(fill_idx, free[1], free[0])):
            m.d.sync += begin_fill(fill_idx)
        landing = fill_d_valid & (fill_d_j == D - 1) & (fill_d_idx == stream_idx)
        wide_pixel = Signal(data.ArrayLayout(slot_layout, D), reset_less=True)
        if pair_patch is None:
            for j in range(D):
                pixel = select_one_hot([buffers[idx][j][slot] for idx in range(2) for slot in range(P)],
                                       stream_hot)
                if j == D - 1:
                    # The landing word's buffer has not streamed a pixel yet (it becomes full in
                    # this cycle), so its pixel on offer is slot 0: no select over the word's P
                    # slots (at 50 PEs x 64 lanes that select was a third of the DW engine's
                    # LUTs).
                    pixel = Mux(landing, fm_rdata[0].as_value(), pixel.as_value())
                m.d.comb += wide_pixel[j].eq(pixel)
        else:
            wide_pair = Signal(data.ArrayLayout(data.ArrayLayout(slot_layout, D), 2), reset_less=True)
            for j in range(D):
                for k in range(2):   # the pair's columns: even and odd slots
                    pixel = select_one_hot([buffers[idx][j][2 * q + k] for idx in range(2)
                                            for q in range(P // 2)], stream_hot)
                    if j == D - 1:   # the landing word's pair on offer is its first (as above)
                        pixel = Mux(landing, fm_rdata[k].as_value(), pixel.as_value())
                    m.d.comb += wide_pair[k][j].eq(pixel)
                m.d.comb += wide_pixel[j].eq(Mux(stream_slot[0], wide_pair[1][j], wide_pair[0][j]))
            m.d.comb += [pair_patch.height.eq(entry.in_h), pair_patch.width.eq(entry.in_w),
                         pair_patch.i.valid.eq(stream_valid & pairs)]
            for k in range(2):
                m.d.comb += pair_patch.i.payload[k].eq(wide_pair[k].as_value())
        m.d.comb += [patch.height.eq(entry.in_h), patch.width.eq(entry.in_w),
                     patch.stride.eq(entry.stride),
                     patch.i.valid.eq(stream_valid if pair_patch is None else stream_valid & ~pairs),
                     patch.i.payload.eq(wide_pixel)]
        if pair_patch is None:
            next_slot_last = Mux(stream_ends, P == 1, stream_slot == P - 2) if P > 1 else 1
            with m.If(stream_fire):
                m.d.sync += [pixels_left.eq(pixels_left - 1), stream_slot.eq(stream_slot + 1),
                             stream_last.eq(next_slot_last | (pixels_left == 2))]
                m.d.sync += stream_hot.eq(stream_hot.rotate_left(1))
                with m.If(stream_ends):
                    m.d.sync += [stream_slot.eq(0), stream_idx.eq(~stream_idx),
                                 stream_hot.eq(Mux(stream_idx, 1, 1 << P))]
            return
        # P is even (rrm.spec: dw_pairs): a buffer holds P / 2 whole pairs
        half = P // 2
        one_last = Mux(stream_ends, 0, stream_slot == P - 2) | (pixels_left == 2)
        pair_last = (Mux(stream_ends, P == 2, stream_slot == P - 4) if P >= 4 else 1) | (pixels_left == 4)
        with m.If(stream_fire):
            m.d.sync += [pixels_left.eq(pixels_left - Mux(pairs, 2, 1)),
                         stream_slot.eq(stream_slot + Mux(pairs, 2, 1)),
                         stream_last.eq(Mux(pairs, pair_last, one_last))]
            with m.If(pairs | stream_slot[0]):   # the pair on offer has been taken
                m.d.sync += stream_hot.eq(stream_hot.rotate_left(1))
            with m.If(stream_ends):
                m.d.sync += [stream_slot.eq(0), stream_idx.eq(~stream_idx),
                             stream_hot.eq(Mux(stream_idx, 1, 1 << half))]

    def _windows_to_bn(self, m):
        """The windows into the DW PEs (PE j: lanes j*L .. j*L+L-1), their sums into BN."""
        spec, s = self.spec, self._s
        L, K, D = spec.hardware.lanes, spec.hardware.kernel, spec.hardware.dw_pes
        chunk = L * spec.quant.act_bits
        patch, array, bns, active, shift = s.patch, s.array, s.bns, s.active, s.shift
        dw_regs, bn_regs = s.dw_regs, s.bn_regs
        # --- windows -> DW PEs (PE j: lanes j*L .. j*L+L-1) -> BN
        # PE j's lanes are one contiguous slice of each tap; the array's input is driven
        # by one assignment (see layouts.pack_struct)
        window = patch.o.payload.window
        window_valid = patch.o.valid
        if s.pair_patch is not None:   # one of the two walks at a time (s.pairs)
            window = Mux(s.pairs, s.pair_patch.o.payload.window, window)
            window = patch.o.payload.window.shape()(window)
            window_valid = patch.o.valid | s.pair_patch.o.valid
            m.d.comb += s.pair_patch.o.ready.eq(array.i.ready & active)
        m.d.comb += array.i.payload.eq(Cat(*(
            pack_struct(array.pe_in_layout, weight=dw_regs[j],
                        window=Cat(*(window[tap].as_value()[j * chunk:(j + 1) * chunk]
                                     for tap in range(K * K))))
            for j in range(D))))
        m.d.comb += [array.i.valid.eq(window_valid & active),
                     patch.o.ready.eq(array.i.ready & active)]
        hold = Signal()     # the write queue cannot take the block this output completes yet
        for j, bn in enumerate(bns):
            m.d.comb += [bn.i.payload.mult.eq(bn_regs[j].mult), bn.i.payload.bias.eq(bn_regs[j].bias),
                         bn.i.payload.shift.eq(shift), bn.i.valid.eq(array.o.valid),
                         bn.o.ready.eq(~hold)]
            for lane in range(L):
                m.d.comb += bn.i.payload.acc[lane].eq(array.o.payload[j][lane])
        m.d.comb += array.o.ready.eq(bns[0].i.ready)
        s.hold = hold

    def _gather_and_write(self, m):
        """The BN outputs gathered into one word per group (P pixels), then the D words
        written one per cycle; BN holds while the queue cannot take a finished block."""
        spec, s = self.spec, self._s
        P, D = spec.hardware.pe_count, spec.hardware.dw_pes
        entry, active, wr, bns, depth, slot_layout = s.entry, s.active, s.wr, s.bns, s.depth, s.slot_layout
        g0, row_start, row_done, hold = s.g0, s.row_start, s.row_done, s.hold
        # --- gather P pixels per group, then write the D words one per cycle
        gather = Signal(data.ArrayLayout(data.ArrayLayout(slot_layout, P), D), reset_less=True)   # [group][slot]
        queue = Signal.like(gather)
        g_slot = Signal(range(P))
        outputs_left = Signal.like(entry.out_pixels)
        out_base = Signal(range(depth))
        queue_base = Signal(range(depth))
        queue_busy = Signal()
        queue_j = Signal(range(D))
        # (g_slot == P - 1) | (outputs_left == 1) and queue_j == D - 1, kept in registers so
        # that ``hold``, which stalls BN, the DW PEs and the patch buffer at once, is one gate
        # from registers.
        completes = Signal(init=P == 1)
        queue_last = Signal(init=D == 1)
        m.d.comb += hold.eq(queue_busy & completes & ~queue_last)
        with m.If(queue_busy):
            m.d.sync += [queue_j.eq(queue_j + 1), queue_last.eq((queue_j == D - 2) if D > 1 else 1)]
            with m.If(g0 + queue_j < entry.out_groups):
                m.d.sync += [wr.en.eq(1), wr.buffer.eq(~entry.src), wr.addr.eq(queue_base + queue_j),
                             wr.data.eq(select(queue, queue_j))]
            with m.If(queue_j == D - 1):
                m.d.sync += queue_busy.eq(0)
        with m.If(row_start):
            m.d.sync += [g_slot.eq(0), outputs_left.eq(entry.out_pixels), out_base.eq(g0),
                         completes.eq((P == 1) | (entry.out_pixels == 1))]
        with m.Elif(bns[0].o.valid & bns[0].o.ready & active):
            next_slot_last = Mux(completes, P == 1, g_slot == P - 2) if P > 1 else 1
            m.d.sync += [outputs_left.eq(outputs_left - 1),
                         completes.eq(next_slot_last | (outputs_left == 2))]
            merged = Signal.like(gather)
            for j, bn in enumerate(bns):
                for slot in range(P):
                    m.d.comb += merged[j][slot].eq(Mux(g_slot == slot, bn.o.payload, gather[j][slot]))
            m.d.sync += gather.eq(merged)
            with m.If(completes):
                m.d.sync += [queue.eq(merged), queue_busy.eq(1), queue_j.eq(0), queue_last.eq(D == 1),
                             queue_base.eq(out_base), out_base.eq(out_base + entry.out_groups),
                             g_slot.eq(0)]
            with m.Else():
                m.d.sync += g_slot.eq(g_slot + 1)
        m.d.comb += row_done.eq((outputs_left == 0) & ~queue_busy)
