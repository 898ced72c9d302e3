"""One engine alone on one layer: the Conv engine between initialised RAMs (issue 22, item 4),
on conv1 (with the image loader feeding it through the image ring) and the pw layers.

:class:`ConvHarness` holds a :class:`hw.engines.conv.ConvEngine`, the RAMs it reads and the
sequencer's part of :class:`~hw.engines.interfaces.LayerControl` for one layer:

- pw: the FM buffer the layer reads (``entry.src``, as deep as that buffer is in the
  accelerator) as a RAM initialised with the input map's words (layout of
  :mod:`rrm.memory_map`, :func:`tb.engine_harness.map_words`), on the engine's ``fm_read``;
- conv1: buffer Q as an empty RAM (as deep as Q), written by a
  :class:`hw.engines.image_loader.ImageLoader` (its ``write``) and read by the engine
  (``fm_read``); the loader's ``ring`` is connected to the engine's ``ring`` and its ``image``
  stream is the harness's ``image`` port (``image__payload``/``__valid``/``__ready``), which the
  testbench drives;
- the ``pw`` and ``bn`` RAMs initialised with the artifact's words
  (:func:`rrm.param_stream.ram_words`), on ``pw_read`` and ``bn_read``;
- the layer-table row and the shift as constants, and a controller that steps as
  :class:`hw.engines.sequencer.Sequencer` does for the image's first layer: IDLE waits for
  ``go`` (and, for conv1, a valid image beat, the sequencer's ``image_valid``), pulses the
  loader's ``begin`` and goes through FETCH, LATCH, SHIFT (``busy`` high from FETCH on, so the
  loader takes the image's first pixel in FETCH, three cycles before START) to START
  (``start`` high, the counter set to 1), then RUN (``run`` high, the counter + 1 every
  cycle) until the engine's ``done`` with the image taken whole (``~inputting``, as the
  sequencer waits); ``cycles`` is the counter on that cycle (what ``ConvEngine.layer_cycles``
  gives) and ``finished`` goes high (``busy`` stays high, as it would for the next layer).

The engine's ``fm_write`` leaves the harness as ports (``write_*``), so the testbench records
every write (the engine writes buffer ``~src``, which it never reads during the layer).

:func:`conv_case` makes the layer's data: a random artifact, one random image run through the
golden model with its trace, the layer's input (the image for conv1, the trace of the layer
before it for pw) and golden's output map of the layer. Both the pytest side (to build the
harness) and the cocotb side (to send the image and check the writes) call it with the same
arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out, connect

from golden import model
from golden.random_weights import random_artifact
from hw.engines.conv import ConvEngine
from hw.engines.image_loader import ImageLoader, image_beat_bits
from hw.engines.interfaces import COUNTER_BITS, entry_value, ram_shapes
from hw.flow.verilog import module_name
from rrm.param_stream import ram_words
from rrm.sizing import sizing
from rrm.spec import Spec

from .engine_harness import initialised_ram
from .fm_maps import map_words
from .payload import image_beat_values


@dataclass
class ConvCase:
    """One conv1 or pw layer's run: its table row, shift, parameter words and maps (H, W, C int64)."""

    spec: Spec
    entry: object            # rrm.memory_map.LayerEntry
    shift: int
    pw_words: list           # the whole pw RAM
    bn_words: list           # the whole bn RAM
    fm_words: list           # pw: the input map as FM words, address 0 up; conv1: []
    image: np.ndarray        # the uint8 image (H, W, C)
    input_map: np.ndarray
    output_map: np.ndarray   # golden's output of the layer

    @property
    def is_conv1(self) -> bool:
        return self.entry.kind == "conv"

    def pixels(self) -> list:
        """conv1: the image's beats' ``data`` values (:func:`tb.payload.image_beat_values`)."""
        return image_beat_values(self.spec, self.image)


def conv_case(spec: Spec, layer: str, seed: int = 1) -> ConvCase:
    """conv1 or pw layer ``layer`` of ``spec`` on a random artifact and image (both from ``seed``)."""
    mmap = sizing(spec).memories
    entry = mmap.layer(layer)
    if entry.kind not in ("conv", "pw"):
        raise ValueError(f"layer {layer} is a {entry.kind} layer, not conv or pw")
    artifact = random_artifact(spec, seed)
    net = spec.network
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (1, net.input_size, net.input_size, net.input_channels), dtype=np.uint8)
    _, trace = model.run(artifact, image, trace=True, threads=1)
    output_map = trace[layer][0]
    if entry.kind == "conv":
        input_map = image[0].astype(np.int64)
        fm_words = []
    else:
        input_map = trace[mmap.layers[entry.index - 1].name][0]
        fm_words = map_words(spec, input_map)
    assert input_map.shape == (entry.in_h, entry.in_w, entry.in_channels), input_map.shape
    assert output_map.shape == (entry.out_h, entry.out_w, entry.out_channels), output_map.shape
    words = ram_words(artifact, mmap)
    return ConvCase(spec=spec, entry=entry, shift=words["shift"][entry.bn_index], pw_words=words["pw"],
                    bn_words=words["bn"], fm_words=fm_words, image=image[0], input_map=input_map,
                    output_map=output_map)


class ConvHarness(wiring.Component):
    """The Conv engine on one layer (see the module docstring).

    Ports: ``go`` In(1); ``finished`` Out(1) (from the cycle after the layer's end on);
    ``cycles`` Out(32); ``write_en``, ``write_buffer``, ``write_addr``, ``write_data``,
    ``write_slots`` Out: the engine's FM write request; ``inputting``, ``image_error`` Out (the
    loader's; 0 for pw); ``image`` In(stream of {data, last}) (conv1 only)."""

    def __init__(self, case: ConvCase):
        self.case = case
        self.shapes = shapes = ram_shapes(case.spec)
        members = {
            "go": In(1),
            "finished": Out(1),
            "cycles": Out(COUNTER_BITS),
            "inputting": Out(1),
            "image_error": Out(1),
            "write_en": Out(1),
            "write_buffer": Out(1),
            "write_addr": Out(range(shapes.fm_depth)),
            "write_data": Out(shapes.fm.size),
            "write_slots": Out(shapes.fm.length),
        }
        if case.is_conv1:
            self.loader = ImageLoader(case.spec)
            members["image"] = In(self.loader.image.signature.flip())
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        case, shapes = self.case, self.shapes
        mmap = sizing(case.spec).memories
        entry = case.entry
        m.submodules.engine = engine = ConvEngine(case.spec)

        def ram(name, shape, depth, words):
            return initialised_ram(m, name, shape, depth, words)

        # the FM buffer the layer reads, as deep as it is in the accelerator (the engine's
        # address is as wide as the larger buffer: the RAM takes its low bits, as a RAM would)
        src_name = ("fm_p", "fm_q")[entry.src]
        fm = ram(src_name, shapes.fm, shapes.depth[src_name], case.fm_words)
        fm_rd = fm.read_port()
        m.d.comb += [fm_rd.addr.eq(engine.fm_read.addr), engine.fm_read.data.eq(fm_rd.data)]
        connect(m, engine.pw_read, ram("pw", shapes.pw, shapes.depth["pw"], case.pw_words).read_port())
        connect(m, engine.bn_read, ram("bn", shapes.bn, shapes.depth["bn"], case.bn_words).read_port())

        ctl = engine.control
        row = entry_value(mmap, entry)
        m.d.comb += [getattr(ctl.entry, name).eq(value) for name, value in row.items()]
        m.d.comb += ctl.shift.eq(case.shift)

        begin = Signal()
        busy = Signal()
        inputting = Signal()
        image_valid = Signal(init=1)
        if case.is_conv1:
            if entry.src != 1:
                raise ValueError(f"conv1 reads buffer {entry.src}; the image ring is in Q (1)")
            m.submodules.image_loader = loader = self.loader
            connect(m, wiring.flipped(self.image), loader.image)
            connect(m, loader.ring, engine.ring)
            fm_wr = fm.write_port()
            m.d.comb += [fm_wr.addr.eq(loader.write.addr), fm_wr.data.eq(loader.write.data),
                         fm_wr.en.eq(loader.write.en),
                         loader.begin.eq(begin), loader.busy.eq(busy),
                         inputting.eq(loader.inputting), self.image_error.eq(loader.error),
                         image_valid.eq(self.image.valid)]
        m.d.comb += [ctl.busy.eq(busy), self.inputting.eq(inputting)]

        count = Signal(COUNTER_BITS)
        m.d.sync += count.eq(count + 1)
        with m.FSM(name="control"):
            with m.State("IDLE"):
                with m.If(self.go & image_valid):
                    m.d.comb += begin.eq(1)
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += busy.eq(1)
                m.next = "LATCH"
            with m.State("LATCH"):
                m.d.comb += busy.eq(1)
                m.next = "SHIFT"
            with m.State("SHIFT"):
                m.d.comb += busy.eq(1)
                m.next = "START"
            with m.State("START"):
                m.d.comb += [busy.eq(1), ctl.start.eq(1)]
                m.d.sync += count.eq(1)
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [busy.eq(1), ctl.run.eq(1)]
                with m.If(ctl.done & ~inputting):
                    m.d.sync += self.cycles.eq(count)
                    m.next = "FINISHED"
            with m.State("FINISHED"):
                m.d.comb += [busy.eq(1), self.finished.eq(1)]

        wr = engine.fm_write
        m.d.comb += [self.write_en.eq(wr.en), self.write_buffer.eq(wr.buffer), self.write_addr.eq(wr.addr),
                     self.write_data.eq(wr.data), self.write_slots.eq(wr.slots)]
        return m


def image_layout(spec: Spec):
    """The layout of the ``image`` stream's payload ({data, last})."""
    return data.StructLayout({"data": unsigned(image_beat_bits(spec)), "last": 1})


def harness_block(layer: str) -> str:
    """The harness's block name (its Verilog top is ``rrm_<block>``)."""
    return "conv_engine_" + "".join(ch if ch.isalnum() else "_" for ch in layer)


def harness_verilog(case: ConvCase, block: str) -> str:
    """The harness's Verilog, top module :func:`hw.flow.verilog.module_name` ``(block)``."""
    return verilog.convert(ConvHarness(case), name=module_name(block), emit_src=False)

