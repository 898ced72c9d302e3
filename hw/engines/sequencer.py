"""The sequencer: walks the layer-table ROM, one layer after another, for every image
(docs/design.md §3.5).

Per image: in IDLE it waits for an image's first beat, a loaded parameter set and an idle
parameter loader, then tells the image loader to ``begin`` (conv1 starts at once and reads
the pixels as they land). Per layer: FETCH (the table's read port presents the row),
LATCH (the row is held), SHIFT (the shift RAM presents the layer's shift), START (a
one-cycle ``start`` to every engine), RUN until the engine of the layer's kind reports
``done`` (and the image has been taken whole). After the last layer, OUTPUT: ``emit``
until the classifier's class beat leaves.

It counts the cycles of each layer (RUN, what ``layer_cycles`` reports) and of the image
(first pixel to class beat), and holds the image loader's ``error`` of the image as
``image_error``: like the counters, a status of the last image, updated with its class beat
and steady until the next one.

Latency: :data:`LAYER_STEPS` cycles per layer besides the layer's own, and
:data:`IMAGE_STEPS` per image (OUTPUT's two cycles); ``image_cycles`` counts from the
cycle after IDLE sees the image's first pixel to the class beat. Interval, images back
to back: the latency and :data:`IDLE_STEPS` (IDLE's cycle that starts the next image);
images do not overlap.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rrm.memory_map import LayerKind
from rrm.sizing import sizing
from rrm.spec import Spec

from .interfaces import COUNTER_BITS, LayerControl, entry_layout, entry_value, ram_shapes

#: The sequencer's states between two layers, outside the layers' cycles.
LAYER_STEPS = ("FETCH", "LATCH", "SHIFT", "START")
#: Cycles of an image besides its layers and :data:`LAYER_STEPS`: OUTPUT's two cycles (the
#: classifier's class beat leaves on OUTPUT's second cycle when the result stream is ready;
#: each cycle the stream holds it back adds one to ``image_cycles``).
IMAGE_STEPS = 2
#: Cycles between one image's class beat and the next image's first counted cycle when that
#: image's first pixel is already waiting: IDLE's one cycle (``begin``). The interval of images
#: back to back is the latency plus these.
IDLE_STEPS = 1


class Sequencer(wiring.Component):
    """Members: one ``Out(LayerControl)`` per engine, named as in ``engine_kinds``;
    ``entry`` Out (the current layer's row, for the top's port selects); ``shift_read``
    Out(RAM read); ``image_valid``, ``params_loaded``, ``loader_idle``, ``inputting``,
    ``input_error`` In; ``begin``, ``busy`` Out; ``emit`` Out, ``emitted`` In; ``image_cycles``,
    ``layer_cycles`` (32 bits per layer), ``image_error``, ``layer_index`` Out."""

    def __init__(self, spec: Spec, engine_kinds: dict):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.mmap = mmap = sizing(spec).memories
        self.layer_count = len(mmap.layers)
        kinds = {kind for engine in engine_kinds.values() for kind in engine}
        missing = {entry.kind_code for entry in mmap.layers} - kinds
        if missing:
            raise ValueError(f"no engine runs layer kind(s) {sorted(k.name for k in missing)}; "
                             f"engines: {engine_kinds}")
        self.engine_kinds = {name: tuple(LayerKind(k) for k in engine)
                             for name, engine in engine_kinds.items()}
        members = {name: Out(LayerControl(mmap)) for name in self.engine_kinds}
        members.update({
            "entry": Out(entry_layout(mmap)),
            "shift_read": Out(ram_shapes(spec).read("shift")),
            "image_valid": In(1),
            "params_loaded": In(1),
            "loader_idle": In(1),
            "inputting": In(1),
            "input_error": In(1),
            "begin": Out(1),
            "busy": Out(1),
            "emit": Out(1),
            "emitted": In(1),
            "image_cycles": Out(COUNTER_BITS),
            "image_error": Out(1),
            "layer_cycles": Out(COUNTER_BITS * self.layer_count),
            "layer_index": Out(range(self.layer_count + 1)),
        })
        super().__init__(members)

    def engine_of(self, kind: LayerKind) -> str:
        """The name of the engine that runs layers of ``kind``."""
        for name, kinds in self.engine_kinds.items():
            if kind in kinds:
                return name
        raise KeyError(f"no engine runs {kind!r}")

    def elaborate(self, platform):
        m = Module()
        mmap = self.mmap
        table = Memory(shape=entry_layout(mmap), depth=self.layer_count,
                       init=[entry_value(mmap, e) for e in mmap.layers])
        m.submodules.layer_table = table
        table_rd = table.read_port()
        entry = self.entry
        shift = Signal.like(self.shift_read.data)
        layer = Signal(range(self.layer_count + 1))
        start, run = Signal(), Signal()
        m.d.comb += [self.layer_index.eq(layer), table_rd.addr.eq(layer),
                     self.shift_read.addr.eq(entry.bn_index)]
        controls = [getattr(self, name) for name in self.engine_kinds]
        for control in controls:
            m.d.comb += [control.entry.eq(entry), control.shift.eq(shift), control.start.eq(start),
                         control.run.eq(run), control.busy.eq(self.busy)]
        layer_done = Signal()
        with m.Switch(entry.kind_code):
            for kind in LayerKind:
                if any(kind in kinds for kinds in self.engine_kinds.values()):
                    with m.Case(kind):
                        m.d.comb += layer_done.eq(getattr(self, self.engine_of(kind)).done)

        # cycle counters
        image_count = Signal(COUNTER_BITS)
        layer_count = Signal(COUNTER_BITS)
        cycles = Signal(data.ArrayLayout(COUNTER_BITS, self.layer_count))
        m.d.comb += self.layer_cycles.eq(cycles)
        m.d.sync += layer_count.eq(layer_count + 1)
        with m.If(self.busy):
            m.d.sync += image_count.eq(image_count + 1)

        with m.FSM(name="sequencer"):
            with m.State("IDLE"):
                with m.If(self.image_valid & self.params_loaded & self.loader_idle):
                    m.d.comb += self.begin.eq(1)
                    m.d.sync += [image_count.eq(0), layer.eq(0)]
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
                m.d.sync += [shift.eq(self.shift_read.data), layer_count.eq(1)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), run.eq(1)]
                with m.If(layer_done & ~self.inputting):
                    m.d.sync += [cycles[layer].eq(layer_count), layer.eq(layer + 1)]
                    with m.If(layer == self.layer_count - 1):
                        m.next = "OUTPUT"
                    with m.Else():
                        m.next = "FETCH"
            with m.State("OUTPUT"):
                m.d.comb += [self.busy.eq(1), self.emit.eq(1)]
                with m.If(self.emitted):
                    m.d.sync += [self.image_cycles.eq(image_count + 1), self.image_error.eq(self.input_error)]
                    m.next = "IDLE"
        return m
