"""The classifier alone on the pool and fc layers, between initialised RAMs.

:class:`ClassifierHarness` holds a :class:`hw.engines.classifier.Classifier`, the RAMs it
reads and a controller that plays the sequencer's part (:class:`hw.engines.sequencer.Sequencer`)
for the last two layers of an image:

- the FM buffer the pool layer reads (``entry.src`` of ``pool``) as a RAM initialised with
  golden's input map of the pool layer (the trace of the layer before it, layout of
  :mod:`rrm.memory_map`, :func:`tb.engine_harness.map_words`), on the engine's ``fm_read``;
- the ``pw`` and ``fc_bias`` RAMs initialised with the artifact's words
  (:func:`rrm.param_stream.ram_words`), on ``pw_read`` and ``fc_bias_read``;
- a controller that, on a ``go`` pulse, walks pool then fc as the sequencer does: three
  cycles without ``start``/``run`` before each layer (FETCH, LATCH: the table row changes,
  SHIFT), one START cycle (``start`` high, the counter set to 1), RUN (``run`` high, the
  counter + 1 every cycle) until the engine's ``done``; ``pool_cycles``/``fc_cycles`` are the
  counter on that cycle (first cycle after ``start`` to ``done``, inclusive: what
  ``Classifier.layer_cycles`` gives). Then OUTPUT: ``emit`` = the ``emit_allow`` input (the
  sequencer holds it high; a testbench may hold it back) until the engine's ``emitted``,
  which counts ``images`` and returns to IDLE; ``output_cycles`` is the number of OUTPUT
  cycles up to and including the class beat's.

The engine's ``result`` stream leaves the harness as it is (``result__*``); ``emit`` and
``emitted`` are mirrored on ports for the testbench.

:func:`classifier_case` makes the data: a random artifact, one random image run through
golden with its trace; both the pytest side (to build the harness) and the cocotb side (to
check the result) call it with the same arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect

from golden import model
from golden.random_weights import random_artifact
from hw.engines.classifier import Classifier
from hw.engines.interfaces import COUNTER_BITS, entry_value, ram_shapes
from hw.flow.verilog import module_name
from rrm.param_stream import ram_words
from rrm.sizing import sizing
from rrm.spec import Spec

from .engine_harness import initialised_ram
from .fm_maps import map_words

#: The sequencer's cycles before a layer's START with neither ``start`` nor ``run``.
GAP_STATES = ("FETCH", "LATCH", "SHIFT")


@dataclass
class ClassifierCase:
    """The pool and fc layers of one image: table rows, parameter words, golden's values."""

    spec: Spec
    pool: object             # rrm.memory_map.LayerEntry
    fc: object
    pw_words: list
    fc_bias_words: list
    fm_words: list           # pool's input map as FM words, address 0 up
    input_map: np.ndarray    # (H, W, C)
    pool_sums: np.ndarray    # golden's pool output (C,)
    logits: np.ndarray       # golden's logits (classes,)
    cls: int                 # golden's class (argmax, ties to the lowest index)


def classifier_case(spec: Spec, seed: int = 1) -> ClassifierCase:
    mmap = sizing(spec).memories
    pool, fc = mmap.layer("pool"), mmap.layer("fc")
    assert fc.index == pool.index + 1 == len(mmap.layers) - 1
    artifact = random_artifact(spec, seed)
    net = spec.network
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (1, net.input_size, net.input_size, net.input_channels), dtype=np.uint8)
    logits, trace = model.run(artifact, image, trace=True, threads=1)
    input_map = trace[mmap.layers[pool.index - 1].name][0]
    assert input_map.shape == (pool.in_h, pool.in_w, pool.in_channels), input_map.shape
    words = ram_words(artifact, mmap)
    return ClassifierCase(spec=spec, pool=pool, fc=fc, pw_words=words["pw"], fc_bias_words=words["fc_bias"],
                          fm_words=map_words(spec, input_map), input_map=input_map,
                          pool_sums=trace["pool"][0], logits=logits[0],
                          cls=int(model.predict(logits)[0]))


class ClassifierHarness(wiring.Component):
    """The classifier on pool then fc (see the module docstring).

    Ports: ``go``, ``emit_allow`` In(1); ``busy`` Out(1) (from FETCH of pool to the class
    beat); ``layer`` Out(1) (0: pool's row, 1: fc's row); ``pool_cycles``, ``fc_cycles``
    Out(32); ``images`` Out(8) (class beats taken); ``output_cycles`` Out(32); ``emit``, ``emitted`` Out(1); ``result``
    the engine's stream."""

    def __init__(self, case: ClassifierCase):
        self.case = case
        self.engine = Classifier(case.spec)
        super().__init__({
            "go": In(1),
            "emit_allow": In(1),
            "busy": Out(1),
            "layer": Out(1),
            "pool_cycles": Out(COUNTER_BITS),
            "fc_cycles": Out(COUNTER_BITS),
            "images": Out(8),
            "output_cycles": Out(COUNTER_BITS),
            "emit": Out(1),
            "emitted": Out(1),
            "result": Out(self.engine.result.signature),
        })

    def elaborate(self, platform):
        m = Module()
        case = self.case
        shapes = ram_shapes(case.spec)
        mmap = sizing(case.spec).memories
        m.submodules.engine = engine = self.engine

        def ram(name, shape, depth, words):
            return initialised_ram(m, name, shape, depth, words).read_port()

        connect(m, engine.fm_read, ram("fm", shapes.fm, shapes.fm_depth, case.fm_words))
        connect(m, engine.pw_read, ram("pw", shapes.pw, shapes.depth["pw"], case.pw_words))
        connect(m, engine.fc_bias_read, ram("fc_bias", shapes.fc_bias, shapes.depth["fc_bias"],
                                            case.fc_bias_words))
        connect(m, engine.result, wiring.flipped(self.result))

        ctl = engine.control
        rows = [entry_value(mmap, case.pool), entry_value(mmap, case.fc)]
        with m.If(self.layer):
            m.d.comb += [getattr(ctl.entry, name).eq(value) for name, value in rows[1].items()]
        with m.Else():
            m.d.comb += [getattr(ctl.entry, name).eq(value) for name, value in rows[0].items()]
        m.d.comb += [ctl.shift.eq(0), ctl.busy.eq(self.busy),
                     engine.emit.eq(self.emit), self.emitted.eq(engine.emitted)]

        count = Signal(COUNTER_BITS)
        m.d.sync += count.eq(count + 1)
        with m.FSM(name="control"):
            with m.State("IDLE"):
                with m.If(self.go):
                    m.next = "POOL_FETCH"
            for layer, name in enumerate(("POOL", "FC")):
                with m.State(f"{name}_FETCH"):
                    m.d.comb += self.busy.eq(1)
                    m.next = f"{name}_LATCH"
                with m.State(f"{name}_LATCH"):
                    m.d.comb += self.busy.eq(1)
                    m.d.sync += self.layer.eq(layer)
                    m.next = f"{name}_SHIFT"
                with m.State(f"{name}_SHIFT"):
                    m.d.comb += self.busy.eq(1)
                    m.next = f"{name}_START"
                with m.State(f"{name}_START"):
                    m.d.comb += [self.busy.eq(1), ctl.start.eq(1)]
                    m.d.sync += count.eq(1)
                    m.next = f"{name}_RUN"
                with m.State(f"{name}_RUN"):
                    m.d.comb += [self.busy.eq(1), ctl.run.eq(1)]
                    with m.If(ctl.done):
                        m.d.sync += [(self.pool_cycles if layer == 0 else self.fc_cycles).eq(count), count.eq(1)]
                        m.next = "FC_FETCH" if layer == 0 else "OUTPUT"
            with m.State("OUTPUT"):
                m.d.comb += [self.busy.eq(1), self.emit.eq(self.emit_allow)]
                with m.If(engine.emitted):
                    m.d.sync += [self.images.eq(self.images + 1), self.output_cycles.eq(count)]
                    m.next = "IDLE"
        return m


def harness_block(spec_name: str) -> str:
    """The harness's block name (its Verilog top is ``rrm_<block>``)."""
    return "classifier_" + "".join(ch if ch.isalnum() else "_" for ch in spec_name)


def harness_verilog(case: ClassifierCase, block: str) -> str:
    return verilog.convert(ClassifierHarness(case), name=module_name(block), emit_src=False)
