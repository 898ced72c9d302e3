"""The whole accelerator: image in, logits out, every layer on chip (DESIGN §4, paper Fig. 2).

:class:`AcceleratorCore` is the loop-back system in the ``sync`` domain with
Amaranth streams; :class:`Accelerator` wraps it with the AXI4-Stream port names
(``aclk``, ``aresetn``, ``s_axis_*``, ``m_axis_*``, ``s_axis_param_*``) of a
Vivado IP-integrator block.

What runs where, per image (the sequencer walks the layer-table ROM):

1. **input**: pixels (one beat = one pixel, channels-last bytes) are shifted to
   signed (``p - 2**(input_bits-1)``) and written into FM buffer Q,
   ``pe_count`` pixels per word, while conv1 already runs;
2. **conv1**: the FM reader streams the image into the conv patch buffer as its
   words land; the windows pass a FIFO, are gathered ``pe_count`` at a time and
   serialized tap by tap into
   the Conv PEs (PE p on output pixel p of the block, all sharing one weight
   word per cycle from the PW RAM), then BN + ReLU + requantize, one word per
   (block of output pixels, output group) into buffer P;
3. **dscN.dw**: per row of ``pe_count`` channel groups, all DW PEs in lock step
   (PE j on group g0 + j): the row's kernels and BN words are read into
   registers, a wide reader turns one FM word per group into pixels of
   ``pe_count x lanes`` channels, one patch buffer gives the K x K windows, each
   PE takes its ``lanes`` channels of a window per cycle; BN; the outputs are
   gathered into one word per group and written one word per cycle;
4. **dscN.pw**: per block of ``pe_count`` pixels and output group, the Conv PEs
   (one pixel each) sum the N input channels, one FM read and one shared PW
   weight word per cycle; BN; one word per (block, group). On maps with fewer
   pixels than PEs (the layer table's ``group_mode``), the PEs take
   ``pe_count`` output groups of one pixel instead (one PW row holds their
   words), and BN and the slot writes of the P groups follow one per cycle;
5. **pool** and **fc**: the FC block sums every channel over the last map, then
   forms each logit from FC weight words (PW RAM) and the bias RAM; logits go
   through a FIFO to the result stream, followed by the class (argmax, ties to
   the lowest index) with ``last``.

Parameters arrive once through the parameter stream (:mod:`rrm.param_stream`), or, built
with ``preloaded``, are in the RAMs from power-up (``rrm vivado`` init files);
images are refused (``ready`` low) until a complete, matching stream has been
loaded. A reset aborts an image but keeps the loaded parameters.

Latency: one image takes ``image_cycles`` (per layer: ``layer_cycles``) from
its first pixel to the class beat; throughput one image at a time.

Members (AcceleratorCore)
-------
image : In(stream.Signature({data, last}))
    Pixels, ``input_channels`` bytes each (channel 0 lowest), ``last`` on an
    image's final pixel.
param : In(stream.Signature({data: 32 bits, last}))
    The parameter stream.
result : Out(stream.Signature({data: signed(result_bits), last}))
    The logits (sign-extended), then the class index with ``last``.
busy, params_loaded, param_error, image_error : Out(1)
    Status: computing an image; a complete parameter set is loaded; the last
    parameter stream was refused; an image's ``last`` came on the wrong pixel.
image_cycles : Out(32)
    Cycles of the last image, first pixel to class beat.
layer_cycles : Out(32 * layers)
    Cycles of each layer of the last image (layer i in bits 32i..32i+31).
layer_index : Out
    The layer the sequencer is on (debug and monitors).
debug_write_* :
    The FM buffers' write port (en, buffer, addr, data, slot enables), for a testbench that
    compares each layer's feature map with the golden trace.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockDomain, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rrm.memory_map import KIND_CODES, PARAM_BEAT_BITS, PARAM_MAGIC
from rrm.sizing import sizing
from rrm.spec import Spec

from ..blocks.parameters import bn_parameters, conv_parameters, dw_parameters, fc_parameters, patch_parameters
from ..blocks.bn_requant import BnRequant
from ..blocks.fc import FullyConnected
from ..blocks.layouts import pack_struct, window_layout
from ..blocks.patch_buffer import PatchBuffer
from ..blocks.pe_array import conv_pe_array, depthwise_pe_array
from ..blocks.select import select

CONV, DW, PW, POOL, FC = (KIND_CODES[k] for k in ("conv", "dw", "pw", "pool", "fc"))
#: The core's status and monitor outputs, passed through by the AXI wrapper under the same names.
STATUS_PORTS = ("busy", "params_loaded", "param_error", "image_error", "image_cycles", "layer_cycles",
                "layer_index", "debug_write_en", "debug_write_buffer", "debug_write_addr",
                "debug_write_data", "debug_write_slots")
#: Width of the cycle counters.
COUNTER_BITS = 32


def _bits(value: int) -> int:
    return max(1, int(value).bit_length())


def conv1_window_fifo_depth(spec: Spec) -> int:
    """Windows the FIFO between conv1's patch buffer and its serializer holds: one output
    row of conv1, rounded up to a power of two (at least 4)."""
    out_w = sizing(spec).memories.layers[0].out_w
    return max(4, 1 << (out_w - 1).bit_length())


def entry_layout(mmap) -> data.StructLayout:
    """The layer table's row: every LayerEntry field the RTL needs, each as wide as its largest value."""
    fields = ("kind_code", "src", "in_h", "in_w", "stride", "in_groups", "out_groups",
              "in_channels", "out_blocks", "out_pixels", "taps", "w_base", "bn_base", "bn_index",
              "group_mode", "writes")
    layout = {name: unsigned(_bits(max(getattr(e, name) for e in mmap.layers))) for name in fields}
    layout["in_pixels"] = unsigned(_bits(max(e.in_h * e.in_w for e in mmap.layers)))
    layout["group_rows"] = unsigned(_bits(max(-(-e.out_groups // mmap.pe_count) for e in mmap.layers)))
    return data.StructLayout(layout)


def entry_value(mmap, entry) -> dict:
    values = {name: getattr(entry, name) for name in entry_layout(mmap).members
              if hasattr(entry, name)}
    values["in_pixels"] = entry.in_h * entry.in_w
    values["group_rows"] = -(-entry.out_groups // mmap.pe_count)
    return values


class AcceleratorCore(wiring.Component):
    __doc__ = __doc__

    def __init__(self, spec: Spec, *, preloaded: bool = False):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.spec = spec
        #: The parameter RAMs come initialised (``$readmemh`` files of ``rrm vivado``):
        #: ``params_loaded`` is 1 from power-up.
        self.preloaded = bool(preloaded)
        self.mmap = mmap = sizing(spec).memories
        mmap.check_image_fits(spec)
        net, quant, hw = spec.network, spec.quant, spec.hardware
        self.pe_count, self.lanes, self.kernel = hw.pe_count, hw.lanes, hw.kernel
        self.byte_bits = 8 * -(-quant.input_bits // 8)
        self.pixel_bits = self.byte_bits * net.input_channels
        self.fc_params = fc_parameters(spec)
        logit_width = self.fc_params["logit_width"]
        self.result_bits = 32 if logit_width <= 32 else 64
        self.layer_count = len(mmap.layers)
        self.layer_names = [entry.name for entry in mmap.layers]
        super().__init__({
            "image": In(stream.Signature(data.StructLayout(
                {"data": unsigned(self.pixel_bits), "last": 1}))),
            "param": In(stream.Signature(data.StructLayout(
                {"data": unsigned(PARAM_BEAT_BITS), "last": 1}))),
            "result": Out(stream.Signature(data.StructLayout(
                {"data": signed(self.result_bits), "last": 1}))),
            "busy": Out(1),
            "params_loaded": Out(1),
            "param_error": Out(1),
            "image_error": Out(1),
            "image_cycles": Out(COUNTER_BITS),
            "layer_cycles": Out(COUNTER_BITS * self.layer_count),
            "layer_index": Out(range(self.layer_count + 1)),
            "debug_write_en": Out(1),
            "debug_write_buffer": Out(1),
            "debug_write_addr": Out(range(max(mmap.ram("fm_p").depth, mmap.ram("fm_q").depth))),
            "debug_write_data": Out(mmap.ram("fm_p").width),
            "debug_write_slots": Out(self.pe_count),
        })

    # ------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        spec, mmap = self.spec, self.mmap
        quant = spec.quant
        P, L, K = self.pe_count, self.lanes, self.kernel
        A = quant.act_bits
        slot_layout = data.ArrayLayout(unsigned(A), L)
        fm_layout = data.ArrayLayout(slot_layout, P)

        # ---- memories -------------------------------------------------
        def ram(name, shape, init=()):
            mem = Memory(shape=shape, depth=mmap.ram(name).depth, init=list(init))
            m.submodules[f"ram_{name}"] = mem
            return mem

        fm = [ram("fm_p", fm_layout), ram("fm_q", fm_layout)]
        dw_ram = ram("dw", window_layout(signed(quant.weight_bits), K, L))
        pw_ram = ram("pw", data.ArrayLayout(data.ArrayLayout(signed(quant.weight_bits), L), P))
        bn_shape = data.StructLayout({"mult": data.ArrayLayout(signed(quant.bn_mult_bits), L),
                                      "bias": data.ArrayLayout(signed(quant.bn_bias_bits), L)})
        bn_ram = ram("bn", bn_shape)
        fcb_ram = ram("fc_bias", data.ArrayLayout(signed(quant.fc_bias_bits), P))
        shift_ram = ram("shift", unsigned(mmap.ram("shift").width))
        table_layout = entry_layout(mmap)
        table = Memory(shape=table_layout, depth=self.layer_count,
                       init=[entry_value(mmap, e) for e in mmap.layers])
        m.submodules.layer_table = table

        fm_rd = [mem.read_port() for mem in fm]
        fm_wr = [mem.write_port(granularity=1) for mem in fm]  # one enable per pixel slot
        dw_rd, pw_rd, bn_rd = dw_ram.read_port(), pw_ram.read_port(), bn_ram.read_port()
        fcb_rd, shift_rd, table_rd = fcb_ram.read_port(), shift_ram.read_port(), table.read_port()

        # ---- parameter loader -----------------------------------------
        self._param_loader(m, [dw_ram, pw_ram, bn_ram, fcb_ram, shift_ram])

        # ---- sequencer state ------------------------------------------
        entry = Signal(table_layout)
        shift = Signal(unsigned(mmap.ram("shift").width))
        layer = Signal(range(self.layer_count + 1))
        kind = entry.kind_code
        src = entry.src
        m.d.comb += self.layer_index.eq(layer)

        # FM read address and data (the layer's source buffer).
        fm_raddr = Signal(range(max(mmap.ram("fm_p").depth, mmap.ram("fm_q").depth)))
        for port in fm_rd:
            m.d.comb += port.addr.eq(fm_raddr)
        fm_rdata = Signal(fm_layout)
        m.d.comb += fm_rdata.eq(Mux(src, fm_rd[1].data, fm_rd[0].data))

        # FM writes: registered request (en, buffer, addr, data).
        wr_en = Signal()
        wr_buf = Signal()
        wr_addr = Signal.like(fm_raddr)
        wr_data = Signal(fm_layout)
        wr_slots = Signal(P)   # slots written: all but in group mode
        self._wr_slots = wr_slots
        m.d.sync += [wr_en.eq(0), wr_slots.eq((1 << P) - 1)]
        # The image loader writes buffer Q while conv1 runs (and writes P): its own request.
        img_wr_en = Signal()
        img_wr_addr = Signal.like(wr_addr)
        img_wr_data = Signal(fm_layout)
        for index, port in enumerate(fm_wr):
            engine_en = Mux(wr_en & (wr_buf == index), wr_slots, 0)
            if index == 1:
                m.d.comb += [port.addr.eq(Mux(img_wr_en, img_wr_addr, wr_addr)),
                             port.data.eq(Mux(img_wr_en, img_wr_data, wr_data)),
                             port.en.eq(Mux(img_wr_en, (1 << P) - 1, engine_en))]
            else:
                m.d.comb += [port.addr.eq(wr_addr), port.data.eq(wr_data), port.en.eq(engine_en)]
        m.d.comb += [self.debug_write_en.eq(wr_en), self.debug_write_buffer.eq(wr_buf),
                     self.debug_write_addr.eq(wr_addr), self.debug_write_data.eq(wr_data),
                     self.debug_write_slots.eq(wr_slots)]
        writes = Signal.like(entry.writes)  # FM write operations in this layer

        # Cycle counters.
        image_count = Signal(COUNTER_BITS)
        layer_count = Signal(COUNTER_BITS)
        cycles = Signal(data.ArrayLayout(unsigned(COUNTER_BITS), self.layer_count))
        m.d.comb += self.layer_cycles.eq(cycles)

        # ---- engines ----------------------------------------------------
        run = Signal()          # the current layer's engine runs
        start = Signal()        # one-cycle pulse: the current layer starts
        inputting = Signal()    # an image's pixels are being taken (while conv1 runs)
        reader_word = Signal(range(mmap.image_words + 1))   # the image word conv1 reads
        image_done, readable_words = self._image_loader(m, inputting, img_wr_en, img_wr_addr,
                                                        img_wr_data, reader_word)
        reader = self._fm_reader(m, fm_rdata, readable_words, reader_word)

        conv_done = self._conv_engine(m, entry, shift, kind, run, start, fm_rdata, reader,
                                      pw_rd, bn_rd, wr_en, wr_buf, wr_addr, wr_data, writes)
        dw_done = self._dw_engine(m, entry, shift, kind, run, start, fm_rdata, dw_rd, bn_rd,
                                  wr_en, wr_buf, wr_addr, wr_data, writes)
        fc_done, logits = self._classifier(m, entry, kind, run, start, fm_rdata, pw_rd, fcb_rd)
        in_output = Signal()
        out_done = self._output(m, logits, in_output)

        # The FM read address: conv1's reader, else the engine's own.
        m.d.comb += fm_raddr.eq(Mux(kind == PW, self._pw_raddr,
                                    Mux(kind == POOL, self._pool_raddr,
                                        Mux(kind == DW, self._dw_raddr, reader["raddr"]))))
        # The BN RAM: the DW engine's row loads, else the Conv engine's beats or drain.
        m.d.comb += bn_rd.addr.eq(Mux(kind == DW, self._dw_bn_addr, self._conv_bn_addr))

        # ---- the sequencer ----------------------------------------------
        m.d.comb += [table_rd.addr.eq(layer), shift_rd.addr.eq(entry.bn_index)]
        layer_done = Mux(kind == FC, fc_done,
                         Mux(kind == POOL, self._pool_done,
                             Mux(kind == DW, dw_done, conv_done)))
        m.d.sync += layer_count.eq(layer_count + 1)
        with m.If(self.busy):
            m.d.sync += image_count.eq(image_count + 1)
        with m.If(image_done):
            m.d.sync += inputting.eq(0)
        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                m.d.comb += self.busy.eq(0)
                with m.If(self.image.valid & self.params_loaded & self._loader_idle):
                    m.d.sync += [image_count.eq(0), layer.eq(0), self.image_error.eq(0),
                                 inputting.eq(1)]
                    m.next = "FETCH"   # conv1 starts at once and reads the pixels as they land
            with m.State("FETCH"):  # the table read port presents row `layer`
                m.d.comb += self.busy.eq(1)
                m.next = "LATCH"
            with m.State("LATCH"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += entry.eq(table_rd.data)
                m.next = "SHIFT"
            with m.State("SHIFT"):  # the shift RAM presents the layer's shift
                m.d.comb += self.busy.eq(1)
                m.next = "START"
            with m.State("START"):
                m.d.comb += [self.busy.eq(1), start.eq(1)]
                m.d.sync += [shift.eq(shift_rd.data), layer_count.eq(1), writes.eq(0)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), run.eq(1)]
                with m.If(layer_done & ~inputting):
                    m.d.sync += [cycles[layer].eq(layer_count), layer.eq(layer + 1)]
                    with m.If(layer == self.layer_count - 1):
                        m.next = "OUTPUT"
                    with m.Else():
                        m.next = "FETCH"
            with m.State("OUTPUT"):
                m.d.comb += [self.busy.eq(1), in_output.eq(1)]
                with m.If(out_done):
                    m.d.sync += self.image_cycles.eq(image_count + 1)
                    m.next = "IDLE"
        return m

    # ------------------------------------------------------------------
    def _param_loader(self, m, rams):
        """The parameter stream into the RAMs: header check, then each RAM's words
        assembled from 32-bit beats, least significant first; beat count checked."""
        mmap = self.mmap
        regions = mmap.param_rams
        beats = [-(-r.width // PARAM_BEAT_BITS) for r in regions]
        widest = max(beats) * PARAM_BEAT_BITS
        ports = [mem.write_port() for mem in rams]
        region = Signal(range(len(regions) + 1))
        word = Signal(range(max(r.depth for r in regions) + 1))
        chunk = Signal(range(max(beats) + 1))
        assembled = Signal(widest)
        commit = Signal()
        commit_region = Signal.like(region)
        commit_addr = Signal.like(word)
        loaded = Signal(reset_less=True, init=int(self.preloaded))
        error = Signal()
        finishing = Signal()
        m.d.comb += [self.params_loaded.eq(loaded), self.param_error.eq(error)]
        m.d.sync += commit.eq(0)
        for index, (port, ram) in enumerate(zip(ports, regions)):
            m.d.comb += [port.addr.eq(commit_addr),
                         port.data.eq(assembled[:ram.width]),
                         port.en.eq(commit & (commit_region == index))]
        with m.If(commit & finishing):
            m.d.sync += [loaded.eq(1), finishing.eq(0)]

        beat = self.param.payload.data
        last = self.param.payload.last
        fire = self.param.valid & self.param.ready
        last_region = region == len(regions) - 1
        region_beats = Signal.like(chunk)
        region_depth = Signal.like(word)
        for index, r in enumerate(regions):
            with m.If(region == index):
                m.d.comb += [region_beats.eq(beats[index]), region_depth.eq(r.depth)]
        idle = Signal()
        self._loader_idle = idle

        def refuse():
            """Flag the stream and swallow the rest of it, unless this beat ends it."""
            m.d.sync += error.eq(1)
            m.next = "DRAIN"
            with m.If(last):
                m.next = "MAGIC"

        with m.FSM(name="param_loader"):
            with m.State("MAGIC"):
                m.d.comb += [idle.eq(~finishing & ~commit), self.param.ready.eq(~self.busy)]
                with m.If(fire):
                    m.d.sync += [loaded.eq(0), error.eq(0)]
                    with m.If((beat != PARAM_MAGIC) | last):
                        refuse()
                    with m.Else():
                        m.next = "HASH"
            with m.State("HASH"):
                m.d.comb += self.param.ready.eq(1)
                with m.If(fire):
                    m.d.sync += [region.eq(0), word.eq(0), chunk.eq(0)]
                    with m.If((beat != mmap.spec_hash) | last):
                        refuse()
                    with m.Else():
                        m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += self.param.ready.eq(1)
                with m.If(fire):
                    m.d.sync += assembled.word_select(chunk, PARAM_BEAT_BITS).eq(beat)
                    final_chunk = chunk == region_beats - 1
                    final_word = word == region_depth - 1
                    with m.If(final_chunk):
                        m.d.sync += [chunk.eq(0), commit.eq(1), commit_region.eq(region),
                                     commit_addr.eq(word)]
                        with m.If(final_word):
                            m.d.sync += [word.eq(0), region.eq(region + 1)]
                        with m.Else():
                            m.d.sync += word.eq(word + 1)
                    with m.Else():
                        m.d.sync += chunk.eq(chunk + 1)
                    the_end = final_chunk & final_word & last_region
                    with m.If(the_end & last):
                        m.d.sync += finishing.eq(1)
                        m.next = "MAGIC"
                    with m.Elif(the_end | last):  # too long (no last on the final beat) or cut short
                        refuse()
            with m.State("DRAIN"):
                m.d.comb += self.param.ready.eq(1)
                with m.If(fire & last):
                    m.next = "MAGIC"

    # ------------------------------------------------------------------
    def _fm_reader(self, m, fm_rdata, readable_words, word):
        """conv1's reader: streams the ``count`` pixels of the image from buffer Q, one per
        cycle, each once its word is readable (the image is still arriving). ``word`` is the
        image word it reads (from 0); the image cycles through ``image_ring`` words of Q, so
        its RAM address is ``word % image_ring``, kept without a divider. The read port is
        addressed one step ahead, so its data always holds the word of the current pixel.
        Returns its control/data signals as a dict."""
        mmap, P = self.mmap, self.pe_count
        ring = mmap.image_ring
        r = {
            "start": Signal(), "count": Signal(range(self.spec.network.input_size ** 2 + 1)),
            "ready": Signal(), "valid": Signal(), "pixel": Signal(mmap.slot_bits),
            "raddr": Signal(range(max(mmap.ram("fm_p").depth, mmap.ram("fm_q").depth))),
        }
        active = Signal()
        primed = Signal()
        remaining = Signal.like(r["count"])
        slot = Signal(range(P))
        ring_addr = Signal(range(ring))
        fire = r["valid"] & r["ready"]
        word_ends = slot == P - 1
        next_ring = Mux(word_ends, Mux(ring_addr == ring - 1, 0, ring_addr + 1), ring_addr)
        m.d.comb += [
            r["valid"].eq(active & primed & (word < readable_words)),
            r["raddr"].eq(Mux(fire, next_ring, ring_addr)),
            r["pixel"].eq(select(fm_rdata, slot)),
        ]
        m.d.sync += primed.eq(active)
        with m.If(~self.busy):   # idle: the loader may fill the whole ring for the next image
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

    # ------------------------------------------------------------------
    def _image_loader(self, m, inputting, wr_en, wr_addr, wr_data, reader_word):
        """Input pixels -> signed values -> FM buffer Q, ``pe_count`` pixels per word, on
        its own write request (conv1 runs meanwhile and writes buffer P). Q is a ring of
        ``image_ring`` words: image word w goes to address ``w % image_ring``, and a pixel
        of word w is taken only once conv1's reader is on word ``w - image_ring + 1`` or
        later (so the word it overwrites has been read). Where the ring holds the whole
        image nothing ever waits.

        Returns ``(done, readable)``: ``done`` is 1 once the image's last word has been
        written; ``readable`` counts the words a read port can return (two cycles after
        their write: the read ports are not transparent), for conv1's reader."""
        spec, mmap, P = self.spec, self.mmap, self.pe_count
        quant = spec.quant
        channels, bits, byte_bits = spec.network.input_channels, quant.input_bits, self.byte_bits
        pixels = spec.network.input_size ** 2
        ring = mmap.image_ring
        slot_bits = mmap.slot_bits
        count = Signal(range(pixels + 1))
        slot = Signal(range(P))
        gather = Signal(P * slot_bits)
        written = Signal(range(mmap.image_words + 1))   # words written so far
        readable = Signal.like(written)
        done = Signal()
        value = Signal(slot_bits)
        for c in range(channels):
            byte = self.image.payload.data[c * byte_bits:(c + 1) * byte_bits]
            m.d.comb += value[c * bits:(c + 1) * bits].eq(byte[:bits] - (1 << (bits - 1)))
        ring_free = written + wr_en < reader_word + ring   # written + wr_en: the word being gathered
        m.d.comb += self.image.ready.eq(inputting & (count != pixels) & ring_free)
        fire = self.image.valid & self.image.ready
        merged = Signal(P * slot_bits)
        for s in range(P):
            m.d.comb += merged[s * slot_bits:(s + 1) * slot_bits].eq(
                Mux(slot == s, value, gather[s * slot_bits:(s + 1) * slot_bits]))
        m.d.sync += [wr_en.eq(0), readable.eq(written)]
        with m.If(wr_en):
            m.d.sync += [written.eq(written + 1),
                         wr_addr.eq(Mux(wr_addr == ring - 1, 0, wr_addr + 1))]
        with m.If(~self.busy):   # idle: the next image starts from word 0
            m.d.sync += [count.eq(0), slot.eq(0), wr_addr.eq(0), written.eq(0), readable.eq(0)]
        with m.Elif(fire):
            m.d.sync += [gather.eq(merged), count.eq(count + 1)]
            final = count == pixels - 1
            with m.If(self.image.payload.last != final):
                m.d.sync += self.image_error.eq(1)
            with m.If((slot == P - 1) | final):
                m.d.sync += [wr_en.eq(1), wr_data.eq(merged), slot.eq(0)]
            with m.Else():
                m.d.sync += slot.eq(slot + 1)
        # The last word is written the cycle after the last pixel.
        m.d.comb += done.eq(inputting & (count == pixels) & ~wr_en)
        return done, readable

    # ------------------------------------------------------------------
    def _bn_units(self, m, name, count):
        params = bn_parameters(self.spec)
        units = []
        for index in range(count):
            unit = BnRequant(**params)
            m.submodules[f"{name}{index}"] = unit
            m.d.comb += unit.o.ready.eq(1)
            units.append(unit)
        return units

    def _conv_engine(self, m, entry, shift, kind, run, start, fm_rdata, reader,
                     pw_rd, bn_rd, wr_en, wr_buf, wr_addr, wr_data, writes):
        """conv1 and pointwise layers on the Conv PEs (PE p on pixel p of a block,
        one shared weight word per cycle), BN, one FM word per (block, output group).
        Returns the layer-done signal."""
        spec, mmap, P, L, K = self.spec, self.mmap, self.pe_count, self.lanes, self.kernel
        quant = spec.quant
        conv_params = conv_parameters(spec)
        value_shape = conv_params["value_shape"]
        pes = conv_pe_array(pe_count=P, **conv_params)   # lock step, a weight word per PE
        m.submodules.conv_pes = pes
        bns = self._bn_units(m, "conv_bn", 1 if spec.hardware.serial_bn else P)
        active = run & ((kind == CONV) | (kind == PW))
        depth = max(mmap.ram("fm_p").depth, mmap.ram("fm_q").depth)

        # --- issue stage: one beat per cycle (valid, last, weight/bn addresses, write address)
        # Pixel mode (conv1, pw): weight word s = g * taps + t is slice s % P of PW row
        # w_base + s // P, so (w_off, g_slice) step through the slices one per beat.
        # Group mode: word (g, t) is slice g % P of row w_base + (g // P) * taps + t.
        iss_valid = Signal()
        iss_last = Signal()
        waddr = Signal(range(depth))       # pixel mode: next output word (block-major, group-minor)
        w_off = Signal(range(mmap.ram("pw").depth + 1))    # row offset of the next beat
        g_slice = Signal(range(P))         # pixel mode: slice of the next beat in its row
        group = Signal.like(entry.out_groups)
        m.d.comb += pw_rd.addr.eq(entry.w_base + w_off)
        conv_bn_addr = Signal(range(mmap.ram("bn").depth))   # BN row of the beats' group
        m.d.comb += conv_bn_addr.eq(entry.bn_base + group)
        group_mode = entry.group_mode

        def next_slice():
            """Pixel mode: the next beat's weight word is the next slice."""
            wrap = g_slice == P - 1
            return [g_slice.eq(Mux(wrap, 0, g_slice + 1)), w_off.eq(Mux(wrap, w_off + 1, w_off))]

        def next_group():
            """Sequence end, another group of the same block follows (pixel mode)."""
            return [group.eq(group + 1), *next_slice()]

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
        self._pw_raddr = n_word
        with m.If(start):
            m.d.sync += [waddr.eq(0), w_off.eq(0), g_slice.eq(0), group.eq(0),
                         n.eq(0), n_lane.eq(0), n_word.eq(0), block_base.eq(0), out_base.eq(0),
                         pixel.eq(0), p_slot.eq(0), g_row.eq(0), g_first.eq(0),
                         blocks_left.eq(entry.out_blocks), pw_issuing.eq(kind == PW)]
        seq_end = n == entry.in_channels - 1
        with m.If(pw_issuing):
            m.d.comb += [iss_valid.eq(1), iss_last.eq(seq_end)]
            with m.If(seq_end & ~group_mode):
                m.d.sync += [n.eq(0), n_lane.eq(0), waddr.eq(waddr + 1)]
                with m.If(group == entry.out_groups - 1):
                    m.d.sync += [group.eq(0), g_slice.eq(0), w_off.eq(0),
                                 blocks_left.eq(blocks_left - 1),
                                 block_base.eq(block_base + entry.in_groups),
                                 n_word.eq(block_base + entry.in_groups)]
                    with m.If(blocks_left == 1):
                        m.d.sync += pw_issuing.eq(0)
                with m.Else():
                    m.d.sync += [*next_group(), n_word.eq(block_base)]
            with m.Elif(seq_end):  # group mode
                m.d.sync += [n.eq(0), n_lane.eq(0)]
                with m.If(g_row == entry.group_rows - 1):   # next pixel
                    wrap = p_slot == P - 1
                    m.d.sync += [g_row.eq(0), g_first.eq(0), group.eq(0), w_off.eq(0),
                                 pixel.eq(pixel + 1), p_slot.eq(Mux(wrap, 0, p_slot + 1)),
                                 block_base.eq(Mux(wrap, block_base + entry.in_groups, block_base)),
                                 n_word.eq(Mux(wrap, block_base + entry.in_groups, block_base)),
                                 out_base.eq(Mux(wrap, out_base + entry.out_groups, out_base))]
                    with m.If(pixel == entry.out_pixels - 1):
                        m.d.sync += pw_issuing.eq(0)
                with m.Else():
                    m.d.sync += [g_row.eq(g_row + 1), g_first.eq(g_first + P), group.eq(group + P),
                                 w_off.eq(w_off + 1), n_word.eq(block_base)]
            with m.Else():
                m.d.sync += [n.eq(n + 1),
                             n_lane.eq(Mux(n_lane == L - 1, 0, n_lane + 1)),
                             n_word.eq(Mux(n_lane == L - 1, n_word + 1, n_word))]
                with m.If(group_mode):
                    m.d.sync += w_off.eq(w_off + 1)
                with m.Else():
                    m.d.sync += next_slice()

        # conv1: FM reader -> patch buffer -> gather P windows -> serializer
        patch = PatchBuffer(**patch_parameters(spec, "conv"))
        m.submodules.conv_patch = patch
        channels = patch.channels
        in_bits = quant.input_bits
        window_shape = window_layout(patch.value_shape, K, channels)
        conv_reading = (kind == CONV) & run
        m.d.comb += [patch.height.eq(entry.in_h), patch.width.eq(entry.in_w),
                     patch.stride.eq(entry.stride)]
        m.d.comb += [reader["start"].eq(start & (kind == CONV)), reader["count"].eq(entry.in_pixels),
                     reader["ready"].eq(patch.i.ready),
                     patch.i.valid.eq(reader["valid"] & conv_reading)]
        for c in range(channels):
            m.d.comb += patch.i.payload[c].eq(reader["pixel"][c * in_bits:(c + 1) * in_bits].as_signed())
        gather = Signal(data.ArrayLayout(window_shape, P))
        serial = Signal(data.ArrayLayout(window_shape, P))
        gather_slot = Signal(range(P))
        g_full = Signal()
        windows_left = Signal.like(entry.out_pixels)
        s_busy = Signal()
        s_tap = Signal(range(K * K))
        s_chan = Signal(range(channels))
        # A FIFO of windows lets the patch buffer walk on (through the rows a stride-2
        # layer skips) while the serializer works through earlier windows.
        windows = fifo.SyncFIFOBuffered(width=window_shape.size, depth=conv1_window_fifo_depth(spec))
        m.submodules.conv_windows = windows
        m.d.comb += [windows.w_data.eq(patch.o.payload.window),
                     windows.w_en.eq(patch.o.valid & conv_reading),
                     patch.o.ready.eq(conv_reading & windows.w_rdy)]
        take_window = windows.r_rdy & ~g_full & conv_reading
        m.d.comb += windows.r_en.eq(take_window)
        with m.If(start):
            m.d.sync += [gather_slot.eq(0), g_full.eq(0), windows_left.eq(entry.out_pixels),
                         s_busy.eq(0)]
        with m.Elif(take_window):
            m.d.sync += [gather[gather_slot].eq(windows.r_data), windows_left.eq(windows_left - 1)]
            with m.If((gather_slot == P - 1) | (windows_left == 1)):
                m.d.sync += [g_full.eq(1), gather_slot.eq(0)]
            with m.Else():
                m.d.sync += gather_slot.eq(gather_slot + 1)
        s_last = (s_tap == K * K - 1) & (s_chan == channels - 1)
        with m.If(~start & g_full & ~s_busy & (kind == CONV)):
            m.d.sync += [serial.eq(gather), g_full.eq(0), s_busy.eq(1), s_tap.eq(0), s_chan.eq(0),
                         w_off.eq(0), g_slice.eq(0), group.eq(0)]
        with m.If(s_busy):
            m.d.comb += [iss_valid.eq(1), iss_last.eq(s_last)]
            with m.If(s_last):
                m.d.sync += [s_tap.eq(0), s_chan.eq(0), waddr.eq(waddr + 1)]
                with m.If(group == entry.out_groups - 1):
                    m.d.sync += s_busy.eq(0)
                with m.Else():
                    m.d.sync += next_group()
            with m.Elif(s_tap == K * K - 1):
                m.d.sync += [s_tap.eq(0), s_chan.eq(s_chan + 1), *next_slice()]
            with m.Else():
                m.d.sync += [s_tap.eq(s_tap + 1), *next_slice()]
        conv_values = [select(select(serial[p], s_tap), s_chan) for p in range(P)]

        # --- stage 1 (RAM data): the PE inputs
        tag_layout = data.StructLayout({"waddr": unsigned(len(waddr)), "slot": range(P),
                                        "first": unsigned(len(g_first))})
        iss_tag = Signal(tag_layout)
        m.d.comb += [iss_tag.waddr.eq(Mux(group_mode, out_base + g_first, waddr)),
                     iss_tag.slot.eq(p_slot), iss_tag.first.eq(g_first)]
        d_valid = Signal()
        d_last = Signal()
        d_tag = Signal(tag_layout)
        d_lane = Signal.like(n_lane)
        d_slice = Signal.like(g_slice)
        d_values = [Signal(value_shape, name=f"conv_value{p}") for p in range(P)]
        m.d.sync += [d_valid.eq(iss_valid & active), d_last.eq(iss_last), d_tag.eq(iss_tag),
                     d_lane.eq(n_lane), d_slice.eq(g_slice)]
        for p in range(P):
            m.d.sync += d_values[p].eq(conv_values[p])
        is_pw = kind == PW
        shared_value = select(select(fm_rdata, d_tag.slot), d_lane)    # group mode: one pixel for every PE
        m.d.comb += [pes.i.valid.eq(d_valid), pes.o.ready.eq(1)]
        shared_weight = select(pw_rd.data, d_slice)   # pixel mode: one slice for every PE
        for p in range(P):
            pixel_value = Mux(is_pw, select(fm_rdata[p], d_lane), d_values[p])
            m.d.comb += [
                pes.i.payload[p].value.eq(Mux(group_mode, shared_value, pixel_value)),
                pes.i.payload[p].weight.eq(Mux(group_mode, pw_rd.data[p], shared_weight)),
                pes.i.payload[p].last.eq(d_last),
            ]
        # side channel, aligned with the PE outputs: BN parameters and the write tag
        side_layout = data.StructLayout({"bn": bn_rd.data.shape(), "tag": tag_layout})
        side = Signal(side_layout)
        m.d.comb += [side.bn.eq(bn_rd.data), side.tag.eq(d_tag)]
        for level in range(pes.latency):
            nxt = Signal(side_layout, name=f"conv_side{level}")
            m.d.sync += nxt.eq(side)
            side = nxt

        # group mode: the P sums (P groups of one pixel) go through BN unit 0, one group
        # per cycle, each written into its own word's slot. With serial_bn, pixel mode does
        # the same with the P pixels of one group: slot j of the block's word, the group's
        # BN word held from the PE output.
        serial = spec.hardware.serial_bn
        drains = Const(1) if serial else group_mode
        drain_acc = Signal(pes.out_layout)
        drain_tag = Signal(tag_layout)
        drain_bn = Signal(bn_rd.data.shape())
        draining = Signal()
        drain_j = Signal(range(P))
        drain_bn_addr = Signal.like(conv_bn_addr)
        m.d.comb += drain_bn_addr.eq(entry.bn_base + drain_tag.first + drain_j)
        # the BN RAM address this engine needs (the sequencer's mux picks it for conv/pw)
        self._conv_bn_addr = Mux(draining & group_mode, drain_bn_addr, conv_bn_addr)
        with m.If(start):
            m.d.sync += draining.eq(0)
        with m.Elif(pes.o.valid & drains):
            m.d.sync += [drain_tag.eq(side.tag), draining.eq(1), drain_j.eq(0),
                         drain_acc.eq(pes.o.payload), drain_bn.eq(side.bn)]
        with m.Elif(draining):
            m.d.sync += drain_j.eq(drain_j + 1)
            with m.If(drain_j == P - 1):
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

        drained_acc = select(drain_acc, dr_j)   # the drained PE's sums
        for p, bn in enumerate(bns):
            sums = pes.o.payload[p]
            use_drain = drains if p == 0 else 0
            drain_mult = Mux(group_mode, bn_rd.data.mult, drain_bn.mult)
            drain_bias = Mux(group_mode, bn_rd.data.bias, drain_bn.bias)
            m.d.comb += [
                bn.i.valid.eq(Mux(drains, dr_valid if p == 0 else 0, pes.o.valid)),
                bn.i.payload.mult.eq(Mux(use_drain, drain_mult, side.bn.mult)),
                bn.i.payload.bias.eq(Mux(use_drain, drain_bias, side.bn.bias)),
                bn.i.payload.shift.eq(shift),
            ]
            for lane in range(L):
                acc = Mux(use_drain, drained_acc[lane], sums[lane]) if p == 0 else sums[lane]
                m.d.comb += bn.i.payload.acc[lane].eq(acc)
        tag_out = Signal(tag_layout)
        m.d.comb += tag_out.eq(Mux(drains, dr_tag, side.tag))
        for level in range(bns[0].latency):
            nxt = Signal(tag_layout, name=f"conv_tag{level}")
            m.d.sync += nxt.eq(tag_out)
            tag_out = nxt
        # one write per word in pixel mode (the last slot's, with serial_bn), per slot in group mode
        counted = group_mode | (tag_out.slot == P - 1) if serial else 1
        with m.If(bns[0].o.valid & active):
            m.d.sync += [wr_en.eq(1), wr_buf.eq(~entry.src), wr_addr.eq(tag_out.waddr),
                         writes.eq(writes + counted)]
            with m.If(drains):
                m.d.sync += self._wr_slots.eq(1 << tag_out.slot)
                for p in range(P):
                    m.d.sync += wr_data[p].eq(bns[0].o.payload)
            with m.Else():
                for p, bn in enumerate(bns):
                    m.d.sync += wr_data[p].eq(bn.o.payload)
        done = Signal()
        m.d.comb += done.eq(active & (writes == entry.writes) & ~wr_en & ~draining & ~dr_valid)
        return done

    # ------------------------------------------------------------------
    def _dw_engine(self, m, entry, shift, kind, run, start, fm_rdata, dw_rd, bn_rd,
                   wr_en, wr_buf, wr_addr, wr_data, writes):
        """Depthwise layers on the D = ``dw_pes`` DW PEs in lock step, PE j on channel group
        g0 + j of the same pixels, for g0 = 0, D, 2D, ...: per row of groups, the kernels and
        BN words are read into registers; a wide reader turns D FM words (one per group, P
        pixels each) into P pixels of D groups; one patch buffer of D x lanes channels gives
        the windows; the D BN outputs are gathered into one word per group (P pixels) and
        written one per cycle."""
        spec, mmap, P, L, K = self.spec, self.mmap, self.pe_count, self.lanes, self.kernel
        D = spec.hardware.dw_pes
        A = spec.quant.act_bits
        slot_layout = data.ArrayLayout(unsigned(A), L)
        depth = max(mmap.ram("fm_p").depth, mmap.ram("fm_q").depth)
        params = patch_parameters(spec, "dw")
        params["channels"] = D * L
        patch = PatchBuffer(**params)
        m.submodules.dw_patch = patch
        array = depthwise_pe_array(pe_count=D, **dw_parameters(spec))
        m.submodules.dw_pes = array
        bns = self._bn_units(m, "dw_bn", D)
        active = run & (kind == DW)

        # --- rows of D groups: load kernels and BN, run the frame, drain the writes
        g0 = Signal.like(entry.out_groups)
        load_j = Signal(range(D + 1))
        loading = Signal()
        running = Signal()
        row_start = Signal()
        dw_regs = Signal(data.ArrayLayout(dw_rd.data.shape(), D))
        bn_regs = Signal(data.ArrayLayout(bn_rd.data.shape(), D))
        load_d = Signal(range(D + 1))
        load_valid = Signal()
        in_range = g0 + load_j < entry.out_groups
        m.d.comb += dw_rd.addr.eq(entry.w_base + Mux(in_range, g0 + load_j, 0))
        self._dw_bn_addr = entry.bn_base + Mux(in_range, g0 + load_j, 0)
        m.d.sync += [load_valid.eq(loading), load_d.eq(load_j)]
        with m.If(load_valid):
            for j in range(D):
                with m.If(load_d == j):
                    m.d.sync += [dw_regs[j].eq(dw_rd.data), bn_regs[j].eq(bn_rd.data)]
        row_done = Signal()
        with m.If(start):
            m.d.sync += [g0.eq(0), loading.eq(kind == DW), load_j.eq(0), running.eq(0)]
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

        # --- wide reader: D words (groups g0..g0+D-1 of one block) -> P pixels of D groups
        buffers = Signal(data.ArrayLayout(data.ArrayLayout(data.ArrayLayout(slot_layout, P), D), 2))
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
        pixels_left = Signal.like(entry.in_pixels)
        self._dw_raddr = Signal(range(depth))
        m.d.comb += self._dw_raddr.eq(fill_base + g0 + Mux(g0 + fill_j < entry.in_groups, fill_j, 0))
        m.d.sync += [fill_d_valid.eq(filling), fill_d_j.eq(fill_j), fill_d_idx.eq(fill_idx)]
        with m.If(fill_d_valid):
            for idx in range(2):
                for j in range(D):
                    with m.If((fill_d_idx == idx) & (fill_d_j == j)):
                        m.d.sync += buffers[idx][j].eq(fm_rdata)
        # A buffer is full from the cycle its last word is on the RAM's output (the
        # streamer takes that word from there), and free again once its last pixel
        # has been streamed: fills and streams follow each other without a gap cycle.
        stream_fire = patch.i.valid & patch.i.ready
        stream_ends = stream_fire & ((stream_slot == P - 1) | (pixels_left == 1))
        free = [~full[idx] | (stream_ends & (stream_idx == idx)) for idx in range(2)]
        can_fill = running & (blocks_left != 0)

        def begin_fill(idx):
            return [filling.eq(1), fill_j.eq(0), fill_idx.eq(idx),
                    blocks_left.eq(Mux(blocks_left > P, blocks_left - P, 0))]

        with m.If(stream_ends):
            m.d.sync += full.bit_select(stream_idx, 1).eq(0)
        with m.If(row_start):
            m.d.sync += [fill_base.eq(0), blocks_left.eq(entry.in_pixels), fill_j.eq(0),
                         filling.eq(0), fill_idx.eq(0), full.eq(0), stream_idx.eq(0),
                         stream_slot.eq(0), pixels_left.eq(entry.in_pixels)]
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
        stream_valid = running & full.bit_select(stream_idx, 1) & (pixels_left != 0)
        landing = fill_d_valid & (fill_d_j == D - 1) & (fill_d_idx == stream_idx)
        wide_pixel = Signal(data.ArrayLayout(slot_layout, D))
        for j in range(D):
            word = select(select(buffers, stream_idx), j)
            if j == D - 1:
                word = Mux(landing, fm_rdata.as_value(), word.as_value())
                word = data.ArrayLayout(slot_layout, P)(word)
            m.d.comb += wide_pixel[j].eq(select(word, stream_slot))
        m.d.comb += [patch.height.eq(entry.in_h), patch.width.eq(entry.in_w),
                     patch.stride.eq(entry.stride), patch.i.valid.eq(stream_valid),
                     patch.i.payload.eq(wide_pixel)]
        with m.If(stream_fire):
            m.d.sync += [pixels_left.eq(pixels_left - 1), stream_slot.eq(stream_slot + 1)]
            with m.If(stream_ends):
                m.d.sync += [stream_slot.eq(0), stream_idx.eq(~stream_idx)]

        # --- windows -> DW PEs (PE j: lanes j*L .. j*L+L-1) -> BN
        # PE j's lanes are one contiguous slice of each tap; the array's input is driven
        # by one assignment (see layouts.pack_struct)
        window = patch.o.payload.window
        chunk = L * A
        m.d.comb += array.i.payload.eq(Cat(*(
            pack_struct(array.pe_in_layout, weight=dw_regs[j],
                        window=Cat(*(window[tap].as_value()[j * chunk:(j + 1) * chunk]
                                     for tap in range(K * K))))
            for j in range(D))))
        m.d.comb += [array.i.valid.eq(patch.o.valid & active),
                     patch.o.ready.eq(array.i.ready & active)]
        hold = Signal()     # the write queue cannot take the block this output completes yet
        for j, bn in enumerate(bns):
            m.d.comb += [bn.i.payload.mult.eq(bn_regs[j].mult), bn.i.payload.bias.eq(bn_regs[j].bias),
                         bn.i.payload.shift.eq(shift), bn.i.valid.eq(array.o.valid),
                         bn.o.ready.eq(~hold)]
            for lane in range(L):
                m.d.comb += bn.i.payload.acc[lane].eq(array.o.payload[j][lane])
        m.d.comb += array.o.ready.eq(bns[0].i.ready)

        # --- gather P pixels per group, then write the D words one per cycle
        gather = Signal(data.ArrayLayout(data.ArrayLayout(slot_layout, P), D))   # [group][slot]
        queue = Signal.like(gather)
        g_slot = Signal(range(P))
        outputs_left = Signal.like(entry.out_pixels)
        out_base = Signal(range(depth))
        queue_base = Signal(range(depth))
        queue_busy = Signal()
        queue_j = Signal(range(D))
        completes = (g_slot == P - 1) | (outputs_left == 1)
        m.d.comb += hold.eq(queue_busy & completes & ~(queue_j == D - 1))
        with m.If(queue_busy):
            m.d.sync += queue_j.eq(queue_j + 1)
            with m.If(g0 + queue_j < entry.out_groups):
                m.d.sync += [wr_en.eq(1), wr_buf.eq(~entry.src), wr_addr.eq(queue_base + queue_j),
                             wr_data.eq(select(queue, queue_j)), writes.eq(writes + 1)]
            with m.If(queue_j == D - 1):
                m.d.sync += queue_busy.eq(0)
        with m.If(row_start):
            m.d.sync += [g_slot.eq(0), outputs_left.eq(entry.out_pixels), out_base.eq(g0)]
        with m.Elif(bns[0].o.valid & bns[0].o.ready & active):
            m.d.sync += outputs_left.eq(outputs_left - 1)
            merged = Signal.like(gather)
            for j, bn in enumerate(bns):
                for slot in range(P):
                    m.d.comb += merged[j][slot].eq(Mux(g_slot == slot, bn.o.payload, gather[j][slot]))
            m.d.sync += gather.eq(merged)
            with m.If(completes):
                m.d.sync += [queue.eq(merged), queue_busy.eq(1), queue_j.eq(0),
                             queue_base.eq(out_base), out_base.eq(out_base + entry.out_groups),
                             g_slot.eq(0)]
            with m.Else():
                m.d.sync += g_slot.eq(g_slot + 1)
        m.d.comb += row_done.eq((outputs_left == 0) & ~queue_busy)
        done = Signal()
        m.d.comb += done.eq(active & (g0 >= entry.out_groups) & ~running & ~loading
                            & ~load_valid & ~wr_en & ~start)
        return done

    # ------------------------------------------------------------------
    def _classifier(self, m, entry, kind, run, start, fm_rdata, pw_rd, fcb_rd):
        """Pool (sum over the map, per channel) and FC on the FullyConnected block;
        logits into a FIFO, argmax alongside. Returns (fc layer done, logit FIFO + class)."""
        spec, mmap, P = self.spec, self.mmap, self.pe_count
        fc = FullyConnected(**self.fc_params)
        m.submodules.fc = fc
        classes = spec.network.num_classes
        depth = max(mmap.ram("fm_p").depth, mmap.ram("fm_q").depth)

        # pool: for every pixel, every group: one beat of `lanes` channels
        pool_active = run & (kind == POOL)
        pixel = Signal.like(entry.in_pixels)
        slot = Signal(range(P))
        group = Signal.like(entry.in_groups)
        block_base = Signal(range(depth))
        issuing = Signal()
        self._pool_raddr = Signal(range(depth))
        m.d.comb += self._pool_raddr.eq(block_base + group)
        d_valid, d_last, d_slot = Signal(), Signal(), Signal.like(slot)
        final = (pixel == entry.in_pixels - 1) & (group == entry.in_groups - 1)
        with m.If(start):
            m.d.sync += [pixel.eq(0), slot.eq(0), group.eq(0), block_base.eq(0),
                         issuing.eq(kind == POOL)]
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
        self._pool_done = pool_active & pool_done_flag

        # fc: for every row of P classes, Q = fc_classes at a time, every group: one PW
        # row (P classes' weights, slices s*Q .. s*Q+Q-1 taken) and the row's biases; row r,
        # group g is PW row w_base + r * groups + g. FC rows are issued max(groups, Q) cycles
        # apart so the FC's bank has sent the previous row's logits (one per cycle).
        Q = spec.hardware.fc_classes
        subs = P // Q
        span = max(fc.groups, Q)
        fc_active = run & (kind == FC)
        w_issue = Signal()
        w_off = Signal(range(mmap.ram("pw").depth + 1))
        row_base = Signal.like(w_off)
        w_group = Signal(range(span))
        sub = Signal(range(subs))
        fc_row = Signal(range(fc.rows))
        bias_row = Signal(range(mmap.ram("fc_bias").depth))
        with m.If(start):
            m.d.sync += [w_issue.eq(kind == FC), w_off.eq(0), row_base.eq(0), w_group.eq(0),
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
        with m.If(kind == FC):
            m.d.comb += pw_rd.addr.eq(entry.w_base + w_off)
        m.d.comb += fcb_rd.addr.eq(bias_row)
        w_valid = Signal()
        d_sub = Signal.like(sub)
        m.d.sync += [w_valid.eq(w_issue & ~start & (w_group < fc.groups)), d_sub.eq(sub)]
        for j in range(Q):
            slice_index = d_sub * Q + j if subs > 1 else j
            m.d.comb += [fc.w.payload.weight[j].eq(pw_rd.data[slice_index]),
                         fc.w.payload.bias[j].eq(fcb_rd.data[slice_index])]
        m.d.comb += fc.w.valid.eq(w_valid)

        # logits: FIFO to the output, argmax on the way
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
        done = Signal()
        m.d.comb += done.eq(fc_active & (produced == classes))
        return done, (logit_fifo, best_index)

    # ------------------------------------------------------------------
    def _output(self, m, logits, in_output):
        """The result stream: every logit from the FIFO, then the class with ``last``."""
        logit_fifo, best_index = logits
        classes = self.spec.network.num_classes
        sent = Signal(range(classes + 1))
        done = Signal()
        with m.If(sent != classes):
            m.d.comb += [self.result.valid.eq(logit_fifo.r_rdy),
                         self.result.payload.data.eq(logit_fifo.r_data.as_signed()),
                         logit_fifo.r_en.eq(self.result.ready)]
            with m.If(self.result.valid & self.result.ready):
                m.d.sync += sent.eq(sent + 1)
        with m.Else():
            m.d.comb += [self.result.valid.eq(in_output), self.result.payload.data.eq(best_index),
                         self.result.payload.last.eq(1)]
            with m.If(self.result.valid & self.result.ready):
                m.d.sync += sent.eq(0)
                m.d.comb += done.eq(1)
        return done


class Accelerator(wiring.Component):
    """:class:`AcceleratorCore` behind AXI4-Stream port names and an active-low reset.

    Ports: ``aclk``, ``aresetn``; ``s_axis_tdata/tvalid/tready/tlast`` (image),
    ``s_axis_param_tdata/tvalid/tready/tlast``, ``m_axis_tdata/tvalid/tready/tlast``
    (result); ``busy``, ``params_loaded``, ``param_error``, ``image_error``,
    ``image_cycles``, ``layer_cycles``, ``layer_index`` and the ``debug_write_*``
    monitor of the FM writes, as in the core.

    Latency and throughput: those of the core (``image_cycles`` per image).

    Members
    -------
    See above; every member is a plain port so the Verilog names are the AXI ones.
    """

    def __init__(self, spec: Spec, *, preloaded: bool = False):
        self.core = AcceleratorCore(spec, preloaded=preloaded)
        core = self.core
        self.spec, self.mmap = spec, core.mmap
        members = {"aclk": In(1), "aresetn": In(1)}
        for prefix, port, direction in (("s_axis", core.image, In), ("s_axis_param", core.param, In),
                                        ("m_axis", core.result, Out)):
            members[f"{prefix}_tdata"] = direction(len(port.payload.data))
            members[f"{prefix}_tvalid"] = direction(1)
            members[f"{prefix}_tready"] = (Out if direction is In else In)(1)
            members[f"{prefix}_tlast"] = direction(1)
        for name in STATUS_PORTS:
            members[name] = Out(len(getattr(core, name)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = domain = ClockDomain("sync")
        m.d.comb += [domain.clk.eq(self.aclk), domain.rst.eq(~self.aresetn)]
        m.submodules.core = core = self.core
        for prefix, port in (("s_axis", core.image), ("s_axis_param", core.param)):
            m.d.comb += [port.payload.data.eq(getattr(self, f"{prefix}_tdata")),
                         port.payload.last.eq(getattr(self, f"{prefix}_tlast")),
                         port.valid.eq(getattr(self, f"{prefix}_tvalid")),
                         getattr(self, f"{prefix}_tready").eq(port.ready)]
        m.d.comb += [self.m_axis_tdata.eq(core.result.payload.data),
                     self.m_axis_tlast.eq(core.result.payload.last),
                     self.m_axis_tvalid.eq(core.result.valid),
                     core.result.ready.eq(self.m_axis_tready)]
        for name in STATUS_PORTS:
            m.d.comb += getattr(self, name).eq(getattr(core, name))
        return m
