"""One engine alone on one layer: the depthwise engine between initialised RAMs (issue 22, item 4).

:class:`DepthwiseHarness` holds a :class:`hw.engines.depthwise.DepthwiseEngine`, the RAMs it
reads and the sequencer's part of :class:`~hw.engines.interfaces.LayerControl` for one layer:

- the FM buffer the layer reads (``entry.src``) as a RAM initialised with the input map's
  words (layout of :mod:`rrm.memory_map`), on the engine's ``fm_read``; the engine's
  ``fm_write`` leaves the harness as ports (``write_*``), so the testbench records every
  write (the engine writes buffer ``~src``, which it never reads during the layer);
- the ``dw`` and ``bn`` RAMs initialised with the artifact's words
  (:func:`rrm.param_stream.ram_words`), on ``dw_read`` and ``bn_read``;
- the layer-table row and the shift as constants, and a controller that counts cycles as
  :class:`hw.engines.sequencer.Sequencer` does: a ``go`` pulse gives one START cycle
  (``start`` high, the counter set to 1), then RUN (``run`` high, the counter + 1 every
  cycle) until the engine's ``done``; ``cycles`` is the counter on that cycle (so it counts
  from the first cycle after ``start`` to the cycle ``done`` is high, inclusive, what
  ``DepthwiseEngine.layer_cycles`` gives) and ``finished`` goes high.

:func:`dw_case` makes the layer's data: a random artifact, one random image run through the
golden model with its trace, the layer's input map (the trace of the layer before it) and
golden's output map of the layer. Both the pytest side (to build the harness) and the
cocotb side (to check the writes) call it with the same arguments.

:func:`harness_verilog` is the harness's Verilog; tb/test_engines.py builds it with
:func:`tb.build.build_design` (cached by the Verilog text, as every block is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from golden import model
from golden.random_weights import random_artifact
from hw.engines.depthwise import DepthwiseEngine
from hw.engines.interfaces import COUNTER_BITS, entry_value, ram_shapes
from hw.flow.verilog import module_name
from rrm.param_stream import ram_words
from rrm.sizing import sizing
from rrm.spec import Spec

from .fm_maps import map_words
from .payload import unpack


@dataclass
class DwCase:
    """One dw layer's run: its table row, shift, parameter words and maps (H, W, C int64)."""

    spec: Spec
    entry: object            # rrm.memory_map.LayerEntry
    shift: int
    dw_words: list           # the whole dw RAM
    bn_words: list           # the whole bn RAM
    fm_words: list           # the input map as FM words, address 0 up
    input_map: np.ndarray
    output_map: np.ndarray   # golden's output of the layer


def initialised_ram(m, name: str, shape, depth: int, words: list) -> Memory:
    """A RAM ``ram_<name>`` of ``depth`` words of ``shape`` holding ``words`` (packed ints)
    from address 0, added to ``m``; ValueError if they do not fit."""
    if len(words) > depth:
        raise ValueError(f"{name}: {len(words)} words for a RAM of {depth}")
    memory = Memory(shape=shape, depth=depth, init=[unpack(shape, word) for word in words])
    m.submodules[f"ram_{name}"] = memory
    return memory


def dw_case(spec: Spec, layer: str, seed: int = 1) -> DwCase:
    """Dw layer ``layer`` of ``spec`` on a random artifact and image (both from ``seed``)."""
    mmap = sizing(spec).memories
    entry = mmap.layer(layer)
    if entry.kind != "dw":
        raise ValueError(f"layer {layer} is a {entry.kind} layer, not dw")
    artifact = random_artifact(spec, seed)
    net = spec.network
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (1, net.input_size, net.input_size, net.input_channels), dtype=np.uint8)
    _, trace = model.run(artifact, image, trace=True, threads=1)
    before = mmap.layers[entry.index - 1].name
    input_map, output_map = trace[before][0], trace[layer][0]
    assert input_map.shape == (entry.in_h, entry.in_w, entry.in_channels), input_map.shape
    words = ram_words(artifact, mmap)
    return DwCase(spec=spec, entry=entry, shift=words["shift"][entry.bn_index], dw_words=words["dw"],
                  bn_words=words["bn"], fm_words=map_words(spec, input_map), input_map=input_map,
                  output_map=output_map)


class DepthwiseHarness(wiring.Component):
    """The DW engine on one layer (see the module docstring).

    Ports: ``go`` In(1); ``finished`` Out(1) (from the cycle after ``done`` on);
    ``cycles`` Out(32); ``write_en``, ``write_buffer``, ``write_addr``, ``write_data``,
    ``write_slots`` Out: the engine's FM write request."""

    def __init__(self, case: DwCase):
        self.case = case
        self.shapes = shapes = ram_shapes(case.spec)
        super().__init__({
            "go": In(1),
            "finished": Out(1),
            "cycles": Out(COUNTER_BITS),
            "write_en": Out(1),
            "write_buffer": Out(1),
            "write_addr": Out(range(shapes.fm_depth)),
            "write_data": Out(shapes.fm.size),
            "write_slots": Out(shapes.fm.length),
        })

    def elaborate(self, platform):
        m = Module()
        case, shapes = self.case, self.shapes
        mmap = sizing(case.spec).memories
        m.submodules.engine = engine = DepthwiseEngine(case.spec)

        def ram(name, shape, depth, words):
            return initialised_ram(m, name, shape, depth, words).read_port()

        connect(m, engine.fm_read, ram("fm", shapes.fm, shapes.fm_depth, case.fm_words))
        connect(m, engine.dw_read, ram("dw", shapes.dw, shapes.depth["dw"], case.dw_words))
        connect(m, engine.bn_read, ram("bn", shapes.bn, shapes.depth["bn"], case.bn_words))

        ctl = engine.control
        row = entry_value(mmap, case.entry)
        m.d.comb += [getattr(ctl.entry, name).eq(value) for name, value in row.items()]
        m.d.comb += [ctl.shift.eq(case.shift), ctl.busy.eq(1)]
        count = Signal(COUNTER_BITS)
        m.d.sync += count.eq(count + 1)
        with m.FSM(name="control"):
            with m.State("IDLE"):
                with m.If(self.go):
                    m.next = "START"
            with m.State("START"):
                m.d.comb += ctl.start.eq(1)
                m.d.sync += count.eq(1)
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += ctl.run.eq(1)
                with m.If(ctl.done):
                    m.d.sync += self.cycles.eq(count)
                    m.next = "FINISHED"
            with m.State("FINISHED"):
                m.d.comb += self.finished.eq(1)

        wr = engine.fm_write
        m.d.comb += [self.write_en.eq(wr.en), self.write_buffer.eq(wr.buffer), self.write_addr.eq(wr.addr),
                     self.write_data.eq(wr.data), self.write_slots.eq(wr.slots)]
        return m


def harness_block(layer: str) -> str:
    """The harness's block name (its Verilog top is ``rrm_<block>``)."""
    return "dw_engine_" + "".join(ch if ch.isalnum() else "_" for ch in layer)


def harness_verilog(case: DwCase, block: str) -> str:
    """The harness's Verilog, top module :func:`hw.flow.verilog.module_name` ``(block)``."""
    return verilog.convert(DepthwiseHarness(case), name=module_name(block), emit_src=False)
