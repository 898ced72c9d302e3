"""The sequencer alone, its engines played by the testbench.

:class:`SequencerHarness` holds a :class:`hw.engines.sequencer.Sequencer` built with the
accelerator's engines and kinds (:data:`hw.top.accelerator.ENGINES`) and the shift RAM
initialised with a random artifact's words (:func:`rrm.param_stream.ram_words`) on its
``shift_read``. Every engine's control port leaves the harness as plain ports
``<engine>_start``, ``<engine>_run``, ``<engine>_busy``, ``<engine>_kind`` (the row's
``kind_code``), ``<engine>_bn_index``, ``<engine>_shift`` (Out) and ``<engine>_done`` (In);
the sequencer's other members keep their names (``image_valid``, ``params_loaded``,
``loader_idle``, ``inputting``, ``emitted`` In; ``begin`` (as ``begin_image``: ``begin``
is a Verilog keyword), ``busy``, ``emit``,
``image_cycles``, ``layer_cycles``, ``layer_index`` Out).
"""

from __future__ import annotations

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from golden.random_weights import random_artifact
from hw.engines.interfaces import ram_shapes
from hw.engines.sequencer import Sequencer
from hw.flow.verilog import module_name
from hw.top.accelerator import ENGINES
from rrm.param_stream import ram_words
from rrm.spec import Spec

ENGINE_KINDS = {name: engine.KINDS for name, engine in ENGINES.items()}
INPUTS = ("image_valid", "params_loaded", "loader_idle", "inputting", "emitted")
OUTPUTS = ("begin", "busy", "emit", "image_cycles", "layer_cycles", "layer_index")
#: Harness port names where the sequencer's is a Verilog keyword.
PORT = {"begin": "begin_image"}


def shift_words(spec: Spec, seed: int) -> list:
    return ram_words(random_artifact(spec, seed))["shift"]


class SequencerHarness(wiring.Component):
    def __init__(self, spec: Spec, seed: int = 1):
        self.spec = spec
        self.shifts = shift_words(spec, seed)
        self.sequencer = sequencer = Sequencer(spec, ENGINE_KINDS)
        entry_shape = sequencer.entry.shape()
        members = {}
        for name in ENGINE_KINDS:
            members.update({
                f"{name}_start": Out(1), f"{name}_run": Out(1), f"{name}_busy": Out(1),
                f"{name}_kind": Out(entry_shape["kind_code"].shape),
                f"{name}_bn_index": Out(entry_shape["bn_index"].shape),
                f"{name}_shift": Out(len(sequencer.shift_read.data)),
                f"{name}_done": In(1),
            })
        for name in INPUTS:
            members[name] = In(1)
        for name in OUTPUTS:
            members[PORT.get(name, name)] = Out(len(getattr(sequencer, name)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        seq = self.sequencer
        m.submodules.sequencer = seq
        shapes = ram_shapes(self.spec)
        memory = Memory(shape=shapes.shift, depth=shapes.depth["shift"], init=self.shifts)
        m.submodules.ram_shift = memory
        connect(m, seq.shift_read, memory.read_port())
        for name in ENGINE_KINDS:
            ctl = getattr(seq, name)
            m.d.comb += [getattr(self, f"{name}_start").eq(ctl.start), getattr(self, f"{name}_run").eq(ctl.run),
                         getattr(self, f"{name}_busy").eq(ctl.busy),
                         getattr(self, f"{name}_kind").eq(ctl.entry.kind_code),
                         getattr(self, f"{name}_bn_index").eq(ctl.entry.bn_index),
                         getattr(self, f"{name}_shift").eq(ctl.shift),
                         ctl.done.eq(getattr(self, f"{name}_done"))]
        for name in INPUTS:
            m.d.comb += getattr(seq, name).eq(getattr(self, name))
        for name in OUTPUTS:
            m.d.comb += getattr(self, PORT.get(name, name)).eq(getattr(seq, name))
        return m


def sequencer_block() -> str:
    return "sequencer_harness"


def sequencer_verilog(spec: Spec, block: str, seed: int = 1) -> str:
    return verilog.convert(SequencerHarness(spec, seed), name=module_name(block), emit_src=False)
