"""The Conv engine: conv1 and the pointwise layers on the Conv PEs (docs/design.md §3.6).

- **pw**, pixel mode: per block of ``pe_count`` pixels and output group, the Conv PEs (PE p
  on pixel p of the block) sum the N input channels, one FM read and one shared PW weight
  slice per cycle; BN; one FM word per (block, group). On maps with fewer pixels than PEs
  (the layer table's ``group_mode``), the PEs take ``pe_count`` output groups of one pixel
  instead (one PW row holds their words), and BN and the slot writes of the P groups
  follow one per cycle.
- **conv1**: the reader streams the image from the ring in buffer Q into the conv patch
  buffer as its words land; the windows pass a FIFO, are gathered ``pe_count`` at a time
  and serialized tap by tap into the Conv PEs; BN; one word per (block, group) into P.
- With ``serial_bn``, a pixel-mode result's P sums leave through ``serial_bn_units`` BN
  units, one step of that many neighbouring slots per cycle.
- With ``packed_pw``, the PEs are :class:`~hw.blocks.pe_array.PackedSharedWeightArray`:
  a pw beat's pixels 2q and 2q+1 share packed PE q's products (pixel mode on every pw
  layer); conv1 runs each gathered batch in two passes, pass h putting window 2q+h on
  packed PE q alone (single mode) and writing the word's slots of parity h.

Latency of a layer: :meth:`ConvEngine.layer_cycles`, from the first cycle after ``start``
to ``done``, built from the blocks' own latencies.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, wiring
from amaranth.lib.wiring import In, Out

from rrm.memory_map import LayerKind
from rrm.sizing import sizing
from rrm.spec import Spec

from ..blocks.bn_requant import BnRequant
from ..blocks.conv_pe import ConvPE
from ..blocks.cost import Cost, per_unit
from ..blocks.layouts import window_layout
from ..blocks.packed_pe import PackedConvPE
from ..blocks.pair_patch_buffer import PairPatchBuffer
from ..blocks.parameters import (bn_parameters, conv_parameters, packed_parameters, pair_patch_parameters,
                                 patch_parameters)
from ..blocks.patch_buffer import PatchBuffer
from ..blocks.pe_array import PackedSharedWeightArray, conv_pe_array
from ..blocks.select import one_hot, select, select_one_hot
from .conv1_timing import conv1_cycles
from .interfaces import FmWrite, ImageRing, LayerControl, asked, bn_units, latency_of, ram_shapes

#: Pipeline stages of the Conv engine outside its blocks: the RAM read (issue -> RAM
#: data) and the input register (the FM word's lane select -> the PEs' operands; it cuts
#: the path from the FM RAM into the DSP48E2, 14 logic levels at 9 x 32 without it), the
#: registered FM write after BN, and the cycle ``done`` is seen.
RAM_READ, FM_WRITE, DONE = 2, 1, 1
#: A drained sum waits one cycle for its BN word (the BN RAM read by the drain's address).
DRAIN_BN_READ = 1


class ConvEngine(wiring.Component):
    """Members: ``control`` In(LayerControl); ``fm_read`` (the layer's source buffer),
    ``pw_read``, ``bn_read`` Out(RAM read); ``fm_write`` Out(FmWrite); ``ring``
    In(ImageRing) (conv1 reads the image as it lands)."""

    KINDS = (LayerKind.conv, LayerKind.pw)

    def __init__(self, spec: Spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.spec = spec
        self.mmap = mmap = sizing(spec).memories
        shapes = ram_shapes(spec)
        self.shapes = shapes
        super().__init__({
            "control": In(LayerControl(mmap)),
            "fm_read": Out(shapes.read("fm_p")),
            "pw_read": Out(shapes.read("pw")),
            "bn_read": Out(shapes.read("bn")),
            "fm_write": Out(FmWrite(shapes)),
            "ring": In(ImageRing(mmap)),
        })

    # ------------------------------------------------------------------ cost
    @staticmethod
    def bn_unit_count(spec: Spec) -> int:
        """BN units: one per Conv PE, or ``serial_bn_units`` shared with ``serial_bn``."""
        return spec.hardware.serial_bn_units if spec.hardware.serial_bn else spec.hardware.pe_count

    @staticmethod
    def pe_units(spec: Spec) -> tuple:
        """(PE class, its parameters, how many): ``pe_count`` Conv PEs, or with ``packed_pw``
        ``pe_count / 2`` packed PEs (two pixels each)."""
        P = spec.hardware.pe_count
        if spec.hardware.packed_pw:
            return PackedConvPE, packed_parameters(spec), P // 2
        return ConvPE, conv_parameters(spec), P

    @staticmethod
    def conv1_passes(spec: Spec) -> int:
        """Serializer passes per gathered batch of conv1 windows: 2 with ``packed_pw`` (one
        window per packed PE per pass), else 1."""
        return 2 if spec.hardware.packed_pw else 1

    @staticmethod
    def dsp48e2(spec: Spec) -> int:
        """DSP48E2 as Yosys maps the engine: its Conv PEs' and BN units' products."""
        pe, parameters, count = ConvEngine.pe_units(spec)
        return (count * asked(pe, parameters).dsp48e2
                + ConvEngine.bn_unit_count(spec) * asked(BnRequant, bn_parameters(spec)).dsp48e2)

    @staticmethod
    def resources(spec: Spec) -> Cost:
        """The Conv PEs, BN units and the operand register: DSP48E2 exact, LUT/FF from their
        lanes' unit costs, one FF per operand register bit."""
        L = spec.hardware.lanes
        pe, parameters, count = ConvEngine.pe_units(spec)
        lanes = (count * L * per_unit(*asked(pe, parameters).lane_lut_ff)
                 + ConvEngine.bn_unit_count(spec) * L * per_unit(*BnRequant.LANE_LUT_FF))
        return lanes + ConvEngine.operand_register_bits(spec) * per_unit(0, 1) + Cost(dsp=ConvEngine.dsp48e2(spec))

    @staticmethod
    def operand_register_bits(spec: Spec) -> int:
        """Bits of the operand register (stage 2 of :meth:`_pe_inputs`): the PW weight row
        (``pw_slices`` x lanes weights), the lane values of the FM word's P slots and conv1's window
        values (one per PE: P, or P / 2 packed), and the BN word."""
        hw, quant = spec.hardware, spec.quant
        P, L = hw.pe_count, hw.lanes
        value_bits = conv_parameters(spec)["value_shape"].width
        windows = ConvEngine.pe_units(spec)[2]
        return (hw.pw_row_slices * L * quant.weight_bits + (P + windows) * value_bits
                + L * (quant.bn_mult_bits + quant.bn_bias_bits))

    @staticmethod
    def layer_cycles(spec: Spec, entry) -> int:
        """Cycles of layer ``entry`` (conv1 or pw) from the first cycle after ``start`` to ``done``."""
        hw = spec.hardware
        P = hw.pe_count
        pe_class, pe_parameters, _ = ConvEngine.pe_units(spec)
        pe = latency_of(pe_class, pe_parameters)
        bn = latency_of(BnRequant, bn_parameters(spec))
        # serial_bn: a pixel-mode result's P sums leave through the BN units, ceil(P / units) cycles
        serial_drain = hw.drain_steps + DRAIN_BN_READ if hw.serial_bn else 0
        pipeline = RAM_READ + pe + FM_WRITE + DONE
        if entry.kind_code == LayerKind.conv:
            size = sizing(spec)
            return conv1_cycles(height=entry.in_h, width=entry.in_w, stride=entry.stride,
                                kernel=hw.kernel, pe_count=P, channels=spec.network.input_channels,
                                groups=entry.out_groups, passes=ConvEngine.conv1_passes(spec),
                                tail=pipeline + bn + serial_drain, pixels_per_step=hw.image_pixels,
                                fifo_depth=size.conv1_window_fifo_depth, ring=size.memories.image_ring)
        if entry.kind_code != LayerKind.pw:
            raise ValueError(f"layer {entry.name}: the Conv engine runs conv and pw, not {entry.kind}")
        if not entry.group_mode:
            beats = entry.out_blocks * entry.out_groups * entry.in_channels
            return beats + pipeline + bn + serial_drain
        # group mode: the last row's groups drain through BN unit 0 one per cycle, and the
        # drain of a row takes P cycles however many of its groups are in the layer
        rows = -(-entry.out_groups // P)
        last_row_groups = entry.out_groups - (rows - 1) * P
        beats = entry.out_pixels * rows * entry.in_channels
        return beats + pipeline + max(last_row_groups + bn + DRAIN_BN_READ, P - 1)

    # ------------------------------------------------------------------ RTL
    def elaborate(self, platform):
        """Four stages, one method each, in pipeline order: the issue counters, conv1's
        windows, the PE inputs, BN and the write. A stage hands the signals a later stage
        reads through ``self._c`` (a namespace filled during elaboration)."""
        m = Module()
        spec = self.spec
        P = spec.hardware.pe_count
        ctl = self.control
        entry, shift, run, start = ctl.entry, ctl.shift, ctl.run, ctl.start
        kind = entry.kind_code
        wr = self.fm_write
        pw_rd, bn_rd = self.pw_read, self.bn_read
        fm_rdata = self.fm_read.data
        conv_params = conv_parameters(spec)
        value_shape = conv_params["value_shape"]
        packed = spec.hardware.packed_pw
        if packed:   # two pixels per product, one shared weight word, conv1 in single mode
            pes = PackedSharedWeightArray(pe_count=P, **packed_parameters(spec))
        else:        # lock step, a weight word per PE
            pes = conv_pe_array(pe_count=P, **conv_params)
        m.submodules.conv_pes = pes
        bns = bn_units(m, spec, "conv_bn", self.bn_unit_count(spec))
        active = run & ((kind == LayerKind.conv) | (kind == LayerKind.pw))
        depth = self.shapes.fm_depth
        writes = Signal.like(entry.writes)    # FM write operations in this layer
        m.d.sync += [wr.en.eq(0), wr.slots.eq((1 << P) - 1)]

        self._c = SimpleNamespace(ctl=ctl, entry=entry, shift=shift, run=run, start=start, wr=wr, packed=packed,
                                  pw_rd=pw_rd, bn_rd=bn_rd, fm_rdata=fm_rdata, value_shape=value_shape,
                                  pes=pes, bns=bns, active=active, depth=depth, writes=writes)
        self._issue(m)
        self._conv1_windows(m)
        self._pe_inputs(m)
        self._bn_and_write(m)
        return m

    def _issue(self, m):
        """The issue stage of pw: one beat per cycle over (block, group, input channel) in
        pixel mode or (pixel, row of groups, input channel) in group mode; the PW and BN
        addresses and the write address of every beat (conv1's serializer shares them)."""
        spec, mmap, c = self.spec, self.mmap, self._c
        P, L = spec.hardware.pe_count, spec.hardware.lanes
        entry, kind = c.entry, c.entry.kind_code
        start, pw_rd, depth = c.start, c.pw_rd, c.depth
        # --- issue stage: one beat per cycle (valid, last, weight/bn addresses, write address)
        # Pixel mode (conv1, pw): weight word s = g * taps + t is slice s % S of PW row
        # w_base + s // S (S = pw_slices), so (w_off, g_slice) step through the slices one
        # per beat. Group mode (S = P): word (g, t) is slice g % P of row
        # w_base + (g // P) * taps + t.
        iss_valid = Signal()
        iss_last = Signal()
        waddr = Signal(range(depth))       # pixel mode: next output word (block-major, group-minor)
        w_off = Signal(range(mmap.ram("pw").depth + 1))    # row offset of the next beat
        S = mmap.pw_slices                 # slices per PW row
        g_slice = Signal(range(S))         # pixel mode: slice of the next beat in its row
        group = Signal.like(entry.out_groups)
        m.d.comb += pw_rd.addr.eq(entry.w_base + w_off)
        conv_bn_addr = Signal(range(mmap.ram("bn").depth))   # BN row of the beats' group
        m.d.comb += conv_bn_addr.eq(entry.bn_base + group)
        group_mode = entry.group_mode

        # The end-of-count tests the issue branches on are registered flags, set one beat
        # ahead from the counter and the entry field (``x_last`` == (x == entry.X - 1)
        # whenever it is read): an entry field's ``- 1`` and its comparison stay off the
        # paths into w_off, n_word, block_base and group (entry -> w_off was 13 levels).
        group_last = Signal()              # group == out_groups - 1 (pixel mode, conv1)

        def next_slice():
            """Pixel mode: the next beat's weight word is the next slice."""
            wrap = g_slice == S - 1
            return [g_slice.eq(Mux(wrap, 0, g_slice + 1)), w_off.eq(Mux(wrap, w_off + 1, w_off))]

        def first_group():
            """Group 0 of a block (pixel mode) or of a conv1 window batch."""
            return [group.eq(0), group_last.eq(entry.out_groups == 1)]

        def next_group():
            """Sequence end, another group of the same block follows (pixel mode)."""
            return [group.eq(group + 1), group_last.eq(group + 2 == entry.out_groups), *next_slice()]

        # pw: counters over (block, group, input channel), or in group mode over
        # (pixel, row of P groups, input channel)
        n = Signal.like(entry.in_channels)
        n_lane = Signal(range(L))
        n_word = Signal(range(depth))      # (block or pixel // P) * in_groups + n // L
        block_base = Signal(range(depth))  # in_groups * (block or pixel // P)
        out_base = Signal(range(depth))    # group mode: out_groups * (pixel // P)
        pixel = Signal.like(entry.out_pixels)
        p_slot = Signal(range(P))          # group mode: the pixel's slot
        g_row = Signal.like(entry.group_rows)
        g_first = Signal.like(entry.out_groups)  # group mode: first group of the row (g_row * P)
        pw_issuing = Signal()
        blocks_left = Signal.like(entry.out_blocks)
        seq_end = Signal()                 # n == in_channels - 1: the beat ends its sequence
        row_last = Signal()                # g_row == group_rows - 1 (group mode)
        with m.If(start):
            m.d.sync += [waddr.eq(0), w_off.eq(0), g_slice.eq(0), *first_group(),
                         n.eq(0), n_lane.eq(0), n_word.eq(0), block_base.eq(0), out_base.eq(0),
                         pixel.eq(0), p_slot.eq(0), g_row.eq(0), g_first.eq(0),
                         seq_end.eq(entry.in_channels == 1), row_last.eq(entry.group_rows == 1),
                         blocks_left.eq(entry.out_blocks), pw_issuing.eq(kind == LayerKind.pw)]
        with m.If(pw_issuing):
            m.d.comb += [iss_valid.eq(1), iss_last.eq(seq_end)]
            with m.If(seq_end):
                m.d.sync += seq_end.eq(entry.in_channels == 1)
            with m.Else():
                m.d.sync += seq_end.eq(n + 2 == entry.in_channels)
            with m.If(seq_end & ~group_mode):
                m.d.sync += [n.eq(0), n_lane.eq(0), waddr.eq(waddr + 1)]
                with m.If(group_last):
                    m.d.sync += [*first_group(), g_slice.eq(0), w_off.eq(0),
                                 blocks_left.eq(blocks_left - 1),
                                 block_base.eq(block_base + entry.in_groups),
                                 n_word.eq(block_base + entry.in_groups)]
                    with m.If(blocks_left == 1):
                        m.d.sync += pw_issuing.eq(0)
                with m.Else():
                    m.d.sync += [*next_group(), n_word.eq(block_base)]
            with m.Elif(seq_end):  # group mode
                m.d.sync += [n.eq(0), n_lane.eq(0)]
                with m.If(row_last):   # next pixel
                    wrap = p_slot == P - 1
                    m.d.sync += [g_row.eq(0), row_last.eq(entry.group_rows == 1),
                                 g_first.eq(0), group.eq(0), w_off.eq(0),
                                 pixel.eq(pixel + 1), p_slot.eq(Mux(wrap, 0, p_slot + 1)),
                                 block_base.eq(Mux(wrap, block_base + entry.in_groups, block_base)),
                                 n_word.eq(Mux(wrap, block_base + entry.in_groups, block_base)),
                                 out_base.eq(Mux(wrap, out_base + entry.out_groups, out_base))]
                    with m.If(pixel == entry.out_pixels - 1):
                        m.d.sync += pw_issuing.eq(0)
                with m.Else():
                    m.d.sync += [g_row.eq(g_row + 1), row_last.eq(g_row + 2 == entry.group_rows),
                                 g_first.eq(g_first + P), group.eq(group + P),
                                 w_off.eq(w_off + 1), n_word.eq(block_base)]
            with m.Else():
                m.d.sync += [n.eq(n + 1),
                             n_lane.eq(Mux(n_lane == L - 1, 0, n_lane + 1)),
                             n_word.eq(Mux(n_lane == L - 1, n_word + 1, n_word))]
                with m.If(group_mode):
                    m.d.sync += w_off.eq(w_off + 1)
                with m.Else():
                    m.d.sync += next_slice()

        c.iss_valid = iss_valid
        c.iss_last = iss_last
        c.waddr = waddr
        c.w_off = w_off
        c.g_slice = g_slice
        c.group = group
        c.conv_bn_addr = conv_bn_addr
        c.group_mode = group_mode
        c.n_word = n_word
        c.n_lane = n_lane
        c.out_base = out_base
        c.p_slot = p_slot
        c.g_first = g_first
        c.group_last = group_last
        c.next_slice, c.first_group, c.next_group = next_slice, first_group, next_group

    def _conv1_windows(self, m):
        """conv1's issue stage: the image reader, the patch buffer, the window FIFO, the
        gather of P windows and the serializer, one tap of one channel per beat."""
        spec, c = self.spec, self._c
        P, K = spec.hardware.pe_count, spec.hardware.kernel
        entry, kind = c.entry, c.entry.kind_code
        start, run, fm_rdata = c.start, c.run, c.fm_rdata
        iss_valid, iss_last, waddr, w_off, g_slice, group = (c.iss_valid, c.iss_last, c.waddr, c.w_off,
                                                             c.g_slice, c.group)
        next_slice, first_group, next_group = c.next_slice, c.first_group, c.next_group
        # conv1: image reader -> patch buffer -> gather P windows -> serializer
        n = spec.hardware.image_pixels
        reader = self._image_reader(m, fm_rdata)
        # the FM read address: conv1's reader, or the pw counters' word
        m.d.comb += self.fm_read.addr.eq(Mux(kind == LayerKind.pw, c.n_word, reader["raddr"]))
        if n == 2:   # a pixel pair per cycle, conv1's windows only (3 x 3, stride 2)
            patch = PairPatchBuffer(**pair_patch_parameters(spec))
        else:
            patch = PatchBuffer(**patch_parameters(spec, "conv"))
        m.submodules.conv_patch = patch
        channels = patch.channels
        in_bits, slot_bits = spec.quant.input_bits, self.mmap.slot_bits
        window_shape = window_layout(patch.value_shape, K, channels)
        conv_reading = (kind == LayerKind.conv) & run
        m.d.comb += [patch.height.eq(entry.in_h), patch.width.eq(entry.in_w)]
        if n == 1:
            m.d.comb += patch.stride.eq(entry.stride)
        m.d.comb += [reader["start"].eq(start & (kind == LayerKind.conv)),
                     reader["count"].eq(entry.in_pixels[1:] if n == 2 else entry.in_pixels),
                     reader["ready"].eq(patch.i.ready),
                     patch.i.valid.eq(reader["valid"] & conv_reading)]
        for k in range(n):
            pixel = patch.i.payload[k] if n > 1 else patch.i.payload
            for channel in range(channels):
                low = k * slot_bits + channel * in_bits
                m.d.comb += pixel[channel].eq(reader["pixel"][low:low + in_bits].as_signed())
        gather = Signal(data.ArrayLayout(window_shape, P), reset_less=True)
        serial = Signal(data.ArrayLayout(window_shape, P), reset_less=True)
        gather_slot = Signal(range(P))
        g_full = Signal()
        windows_left = Signal.like(entry.out_pixels)
        s_busy = Signal()
        s_half = Signal()                  # packed_pw: the pass (windows 2q + s_half on PE q)
        s_base = Signal.like(waddr)        # packed_pw: the batch's first output word
        s_tap = Signal(range(K * K))
        s_chan = Signal(range(channels))
        # A FIFO of windows lets the patch buffer walk on (through the rows a stride-2
        # layer skips) while the serializer works through earlier windows.
        windows = fifo.SyncFIFOBuffered(width=window_shape.size,
                                        depth=sizing(spec).conv1_window_fifo_depth)
        m.submodules.conv_windows = windows
        m.d.comb += [windows.w_data.eq(patch.o.payload.window),
                     windows.w_en.eq(patch.o.valid & conv_reading),
                     patch.o.ready.eq(conv_reading & windows.w_rdy)]
        take_window = windows.r_rdy & ~g_full & conv_reading
        m.d.comb += windows.r_en.eq(take_window)
        with m.If(start):
            m.d.sync += [gather_slot.eq(0), g_full.eq(0), windows_left.eq(entry.out_pixels),
                         s_busy.eq(0), s_half.eq(0)]
        with m.Elif(take_window):
            m.d.sync += [gather[gather_slot].eq(windows.r_data), windows_left.eq(windows_left - 1)]
            with m.If((gather_slot == P - 1) | (windows_left == 1)):
                m.d.sync += [g_full.eq(1), gather_slot.eq(0)]
            with m.Else():
                m.d.sync += gather_slot.eq(gather_slot + 1)
        s_last = (s_tap == K * K - 1) & (s_chan == channels - 1)
        with m.If(~start & g_full & ~s_busy & (kind == LayerKind.conv)):
            m.d.sync += [serial.eq(gather), g_full.eq(0), s_busy.eq(1), s_tap.eq(0), s_chan.eq(0),
                         w_off.eq(0), g_slice.eq(0), *first_group(), s_half.eq(0), s_base.eq(waddr)]
        with m.If(s_busy):
            m.d.comb += [iss_valid.eq(1), iss_last.eq(s_last)]
            with m.If(s_last):
                m.d.sync += [s_tap.eq(0), s_chan.eq(0), waddr.eq(waddr + 1)]
                with m.If(c.group_last & s_half if c.packed else c.group_last):
                    m.d.sync += s_busy.eq(0)
                with m.Elif(c.group_last):   # packed_pw: the batch again, odd windows
                    m.d.sync += [s_half.eq(1), waddr.eq(s_base), w_off.eq(0), g_slice.eq(0),
                                 *first_group()]
                with m.Else():
                    m.d.sync += next_group()
            with m.Elif(s_tap == K * K - 1):
                m.d.sync += [s_tap.eq(0), s_chan.eq(s_chan + 1), *next_slice()]
            with m.Else():
                m.d.sync += [s_tap.eq(s_tap + 1), *next_slice()]
        conv_values = [select(select(serial[p], s_tap), s_chan) for p in range(P)]
        if c.packed:   # one window per packed PE: 2q in pass 0, 2q + 1 in pass 1
            conv_values = [Mux(s_half, conv_values[2 * q + 1], conv_values[2 * q]) for q in range(P // 2)]

        c.conv_values = conv_values
        c.s_half = s_half

    def _pe_inputs(self, m):
        """Stages 1 and 2: the RAMs' data (stage 1) and the input register (stage 2). Stage 1
        selects the FM word's lane of every slot; stage 2 registers those values, the weight
        row and conv1's window values, then selects the slot (group mode) and the weight
        slice into the Conv PEs, one beat per cycle. The side channel (BN word, write tag)
        is delayed to line up with the PEs' outputs."""
        spec, c = self.spec, self._c
        P = spec.hardware.pe_count
        kind = c.entry.kind_code
        active, fm_rdata, pw_rd, bn_rd, pes = c.active, c.fm_rdata, c.pw_rd, c.bn_rd, c.pes
        iss_valid, iss_last, waddr, g_slice, n_lane = c.iss_valid, c.iss_last, c.waddr, c.g_slice, c.n_lane
        out_base, p_slot, g_first, group_mode = c.out_base, c.p_slot, c.g_first, c.group_mode
        value_shape, conv_values = c.value_shape, c.conv_values
        # --- stage 1 (RAM data): the lane of every slot of the FM word
        tag_layout = data.StructLayout({"waddr": unsigned(len(waddr)), "slot": range(P),
                                        "first": unsigned(len(g_first)), "half": 1})
        iss_tag = Signal(tag_layout)
        m.d.comb += [iss_tag.waddr.eq(Mux(group_mode, out_base + g_first, waddr)),
                     iss_tag.slot.eq(p_slot), iss_tag.first.eq(g_first), iss_tag.half.eq(c.s_half)]
        d_valid = Signal()
        d_last = Signal()
        d_tag = Signal(tag_layout)
        slots = data.Layout.cast(fm_rdata.shape()).length
        d_lane_hot = Signal(spec.hardware.lanes)       # n_lane and the slot, registered one-hot
        d_slot_hot = Signal(slots)                     # for the FM word's selects (select_one_hot)
        d_slice = Signal.like(g_slice)
        d_values = [Signal(value_shape, name=f"conv_value{p}") for p in range(len(conv_values))]
        m.d.sync += [d_valid.eq(iss_valid & active), d_last.eq(iss_last), d_tag.eq(iss_tag),
                     d_slice.eq(g_slice),
                     d_lane_hot.eq(one_hot(n_lane, len(d_lane_hot))), d_slot_hot.eq(one_hot(p_slot, slots))]
        for p, value in enumerate(conv_values):
            m.d.sync += d_values[p].eq(value)
        # Lane first (here), then slot (stage 2), each an AND-OR of a registered one-hot
        # index: the lane selects serve pixel mode and group mode alike, and group mode's
        # slot select is then on one value, not on whole pixels.
        lane_values = [select_one_hot(fm_rdata[k], d_lane_hot) for k in range(slots)]
        # --- stage 2 (input register): operands registered, every data bit without reset
        # (``e_valid`` gates them); the weight row's register is the PW RAM's output register
        e_valid, e_last = Signal(), Signal()
        e_tag = Signal(tag_layout)
        e_slot_hot = Signal(slots)
        e_slice = Signal.like(g_slice)
        e_weights = Signal(pw_rd.data.shape(), reset_less=True)
        e_lane_values = [Signal(value_shape, name=f"conv_lane_value{k}", reset_less=True) for k in range(slots)]
        e_values = [Signal(value_shape, name=f"conv_window_value{p}", reset_less=True) for p in range(len(d_values))]
        e_bn = Signal(bn_rd.data.shape(), reset_less=True)
        m.d.sync += [e_valid.eq(d_valid), e_last.eq(d_last), e_tag.eq(d_tag), e_slot_hot.eq(d_slot_hot),
                     e_slice.eq(d_slice), e_weights.eq(pw_rd.data), e_bn.eq(bn_rd.data)]
        m.d.sync += [e_lane_values[k].eq(lane_values[k]) for k in range(slots)]
        m.d.sync += [e_values[p].eq(d_values[p]) for p in range(len(d_values))]
        is_pw = kind == LayerKind.pw
        shared_value = select_one_hot(e_lane_values, e_slot_hot)    # group mode: one pixel for every PE
        m.d.comb += pes.i.valid.eq(e_valid)
        m.d.comb += [o.ready.eq(1) for o in (pes.o if c.packed else [pes.o])]
        shared_weight = select(e_weights, e_slice)   # pixel mode: one slice for every PE
        if c.packed:   # pixel mode only; conv1 in single mode, window value q on packed PE q
            act_bits = spec.quant.act_bits
            m.d.comb += [pes.i.payload.weight.eq(shared_weight), pes.i.payload.last.eq(e_last),
                         pes.i.payload.single.eq(~is_pw)]
            m.d.comb += [pes.i.payload.values[p].eq(e_lane_values[p][:act_bits]) for p in range(P)]
            m.d.comb += [pes.i.payload.wide[q].eq(e_values[q]) for q in range(len(e_values))]
        for p in [] if c.packed else range(P):   # unpacked: a value and a weight per Conv PE
            pixel_value = Mux(is_pw, e_lane_values[p], e_values[p])
            m.d.comb += [
                pes.i.payload[p].value.eq(Mux(group_mode, shared_value, pixel_value)),
                # group mode (a PW row of P slices only): PE p's own slice
                pes.i.payload[p].weight.eq(Mux(group_mode, e_weights[p], shared_weight)
                                           if self.mmap.pw_slices == P else shared_weight),
                pes.i.payload[p].last.eq(e_last),
            ]
        # side channel, aligned with the PE outputs: BN parameters and the write tag
        side_layout = data.StructLayout({"bn": bn_rd.data.shape(), "tag": tag_layout})
        side = Signal(side_layout)
        m.d.comb += [side.bn.eq(e_bn), side.tag.eq(e_tag)]
        for level in range(pes.latency):
            nxt = Signal(side_layout, name=f"conv_side{level}", reset_less=True)   # read with pes.o.valid
            m.d.sync += nxt.eq(side)
            side = nxt

        c.side = side
        c.tag_layout = tag_layout

    def _bn_and_write(self, m):
        """BN (group mode drains the P sums through BN unit 0, one per cycle; ``serial_bn``
        through its B units, B neighbouring slots per cycle), the registered FM write, and
        ``done`` once every write of the layer is out."""
        spec, c = self.spec, self._c
        P, L = spec.hardware.pe_count, spec.hardware.lanes
        entry, start, shift, active, wr, bn_rd = c.entry, c.start, c.shift, c.active, c.wr, c.bn_rd
        pes, bns, writes, side, tag_layout = c.pes, c.bns, c.writes, c.side, c.tag_layout
        group_mode, conv_bn_addr = c.group_mode, c.conv_bn_addr
        # group mode: the P sums (P groups of one pixel) go through BN unit 0, one group
        # per cycle, each written into its own word's slot. With serial_bn, pixel mode does
        # the same with the P pixels of one group on B units: slots j*B .. j*B + B - 1 of the
        # block's word at step j, the group's BN word held from the PE output.
        serial_bn = spec.hardware.serial_bn
        any_group_mode = any(e.group_mode for e in self.mmap.layers)
        # without serial_bn, the drain is built only where a layer runs in group mode
        drains = Const(1) if serial_bn else (group_mode if any_group_mode else Const(0))
        B = len(bns) if serial_bn else 1        # units side by side in a drain step
        steps = spec.hardware.drain_steps if serial_bn else P   # group mode: B = 1
        # the PEs' sums, pixel by pixel (the packed array has a stream per packed PE)
        pe_valid = pes.o[0].valid if c.packed else pes.o.valid
        pe_sums = [pes.sums(p) if c.packed else pes.o.payload[p] for p in range(P)]
        sums_layout = pe_sums[0].shape()
        # the drain's data, loaded with ``draining`` and read only while it drains: no reset
        has_drain = serial_bn or any_group_mode
        drain_acc = [Signal(sums_layout, name=f"drain_acc{p}", reset_less=True)
                     for p in range(P if has_drain else 0)]
        drain_tag = Signal(tag_layout, reset_less=True)
        drain_bn = Signal(bn_rd.data.shape(), reset_less=True)
        draining = Signal()
        drain_j = Signal(range(P))
        drain_bn_addr = Signal.like(conv_bn_addr)
        m.d.comb += drain_bn_addr.eq(entry.bn_base + drain_tag.first + drain_j)
        m.d.comb += bn_rd.addr.eq(Mux(draining & group_mode, drain_bn_addr, conv_bn_addr))
        with m.If(start):
            m.d.sync += draining.eq(0)
        with m.Elif(pe_valid & drains):
            m.d.sync += [drain_tag.eq(side.tag), draining.eq(1), drain_j.eq(0),
                         drain_bn.eq(side.bn), *(acc.eq(s) for acc, s in zip(drain_acc, pe_sums))]
        with m.Elif(draining):
            m.d.sync += drain_j.eq(drain_j + 1)
            with m.If(drain_j == steps - 1):
                m.d.sync += draining.eq(0)
        # the BN input of a drained sum, one cycle after its BN address (group mode)
        dr_valid = Signal()
        dr_j = Signal.like(drain_j)
        in_layer = Mux(group_mode, drain_tag.first + drain_j < entry.out_groups, 1)
        m.d.sync += [dr_valid.eq(draining & in_layer), dr_j.eq(drain_j)]
        dr_tag = Signal(tag_layout)
        m.d.comb += [dr_tag.eq(drain_tag),
                     dr_tag.waddr.eq(Mux(group_mode, drain_tag.waddr + dr_j, drain_tag.waddr)),
                     dr_tag.slot.eq(Mux(group_mode, drain_tag.slot, dr_j))]

        is_conv = entry.kind_code == LayerKind.conv
        drained_acc = self._drained_sums(drain_acc, dr_j, B, steps, is_conv) if has_drain else []
        for p, bn in enumerate(bns):
            sums = pe_sums[p]
            if c.packed and p % 2:   # conv1 (single mode): pixel 2q + 1's sums are PE q's pixel 0
                sums = data.View(sums_layout, Mux(is_conv, pe_sums[p - 1].as_value(), sums.as_value()))
            use_drain = drains if p < len(drained_acc) else 0
            drain_mult = Mux(group_mode, bn_rd.data.mult, drain_bn.mult) if p == 0 else drain_bn.mult
            drain_bias = Mux(group_mode, bn_rd.data.bias, drain_bn.bias) if p == 0 else drain_bn.bias
            m.d.comb += [
                bn.i.valid.eq(Mux(drains, dr_valid if p < len(drained_acc) else 0, pe_valid)),
                bn.i.payload.mult.eq(Mux(use_drain, drain_mult, side.bn.mult)),
                bn.i.payload.bias.eq(Mux(use_drain, drain_bias, side.bn.bias)),
                bn.i.payload.shift.eq(shift),
            ]
            for lane in range(L):
                acc = Mux(use_drain, drained_acc[p][lane], sums[lane]) if p < len(drained_acc) else sums[lane]
                m.d.comb += bn.i.payload.acc[lane].eq(acc)
        tag_out = Signal(tag_layout)
        m.d.comb += tag_out.eq(Mux(drains, dr_tag, side.tag))
        for level in range(bns[0].latency):
            nxt = Signal(tag_layout, name=f"conv_tag{level}", reset_less=True)   # read with the BN's o.valid
            m.d.sync += nxt.eq(tag_out)
            tag_out = nxt
        # one write per word in pixel mode (the last drain step's, with serial_bn), per slot
        # in group mode
        counted = group_mode | (tag_out.slot == steps - 1) if serial_bn else 1
        # a drain step's slots: j * B .. j * B + B - 1 (group mode: the pixel's slot)
        step_slots = Cat(*(tag_out.slot == p // B for p in range(P)))
        all_slots = (1 << P) - 1
        parity_slots, write = all_slots, 1
        if c.packed:   # conv1's pass h writes the word's slots of parity h; pass 1's count
            even = sum(1 << p for p in range(0, P, 2))
            parity_slots = Mux(is_conv, Mux(tag_out.half, all_slots ^ even, even), all_slots)
            counted = counted & (~is_conv | tag_out.half)
            # a drain step with no slot of the pass's parity is not written
            write = Mux(drains & is_conv, (step_slots & parity_slots).any(), 1)
        with m.If(bns[0].o.valid & active):
            m.d.sync += [wr.en.eq(write), wr.buffer.eq(~entry.src), wr.addr.eq(tag_out.waddr),
                         writes.eq(writes + counted), wr.slots.eq(parity_slots)]
            with m.If(drains):
                m.d.sync += wr.slots.eq(step_slots & parity_slots)
                for p in range(P):
                    m.d.sync += wr.data[p].eq(bns[p % B].o.payload)
            with m.Else():
                for p, bn in enumerate(bns):
                    m.d.sync += wr.data[p].eq(bn.o.payload)
        with m.If(start):
            m.d.sync += writes.eq(0)
        m.d.comb += c.ctl.done.eq(active & (writes == entry.writes) & ~wr.en & ~draining & ~dr_valid)

    def _drained_sums(self, drain_acc, dr_j, B, steps, is_conv) -> list:
        """The sums each of the first B BN units takes at drain step ``dr_j``: unit b the
        sums of slot ``dr_j * B + b``. With ``packed_pw``, conv1's pixel 2q + 1 is packed
        PE q's pixel 0 (single mode), so odd slots read the even slot below them."""
        P = self.spec.hardware.pe_count
        packed = self._c.packed
        if B == 1:   # one unit: an index on the P sums (group mode too)
            index = Mux(is_conv, Cat(Const(0, 1), dr_j[1:]), dr_j) if packed else dr_j
            return [select(drain_acc, index)]
        chosen = []
        for b in range(B):
            slots = [min(j * B + b, P - 1) for j in range(steps)]
            normal = select([drain_acc[slot] for slot in slots], dr_j)
            if packed and B % 2 == 0 and b % 2:   # slot j * B + b - 1 is unit b - 1's
                normal = data.View(normal.shape(), Mux(is_conv, chosen[b - 1].as_value(), normal.as_value()))
            elif packed and B % 2 and any(slot % 2 for slot in slots):
                conv = select([drain_acc[slot & ~1] for slot in slots], dr_j)
                normal = data.View(normal.shape(), Mux(is_conv, conv.as_value(), normal.as_value()))
            chosen.append(normal)
        return chosen

    def _image_reader(self, m, fm_rdata):
        """conv1's reader: streams the image from buffer Q, ``count`` steps of ``image_pixels``
        pixels (neighbouring slots of a word), one per cycle, each once its word is readable
        (the image is still arriving). ``ring.reader_word``
        is the image word it reads (from 0); the image cycles through ``image_ring`` words of
        Q, so its RAM address is ``word % image_ring``, kept without a divider. The read port
        is addressed one step ahead, so its data always holds the word of the current pixel.
        Returns its control/data signals as a dict."""
        mmap, P, n = self.mmap, self.spec.hardware.pe_count, self.spec.hardware.image_pixels
        ring = mmap.image_ring
        word = self.ring.reader_word
        r = {
            "start": Signal(), "count": Signal(range(self.spec.network.input_size ** 2 + 1)),
            "ready": Signal(), "valid": Signal(), "pixel": Signal(n * mmap.slot_bits),
            "raddr": Signal(range(self.shapes.fm_depth)),
        }
        active = Signal()
        primed = Signal()
        remaining = Signal.like(r["count"])
        slot = Signal(range(P // n))
        ring_addr = Signal(range(ring))
        fire = r["valid"] & r["ready"]
        word_ends = slot == P // n - 1
        next_ring = Mux(word_ends, Mux(ring_addr == ring - 1, 0, ring_addr + 1), ring_addr)
        m.d.comb += [
            r["valid"].eq(active & primed & (word < self.ring.readable)),
            r["raddr"].eq(Mux(fire, next_ring, ring_addr)),
            r["pixel"].eq(select(fm_rdata, slot) if n == 1 else
                          select([Cat(*(fm_rdata[s * n + k] for k in range(n))) for s in range(P // n)], slot)),
        ]
        m.d.sync += primed.eq(active)
        with m.If(~self.control.busy):   # idle: the loader may fill the whole ring for the next image
            m.d.sync += word.eq(0)
        with m.If(r["start"]):
            m.d.sync += [active.eq(r["count"] != 0), primed.eq(0), remaining.eq(r["count"]),
                         slot.eq(0), word.eq(0), ring_addr.eq(0)]
        with m.Elif(fire):
            m.d.sync += [remaining.eq(remaining - 1), ring_addr.eq(next_ring),
                         word.eq(Mux(word_ends, word + 1, word)),
                         slot.eq(Mux(word_ends, 0, slot + 1))]
            with m.If(remaining == 1):
                m.d.sync += active.eq(0)
        return r
