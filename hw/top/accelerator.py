"""The whole accelerator: image in, logits out, every layer on chip (docs/design.md §2, paper Fig. 2).

:class:`AcceleratorCore` connects the engines of :mod:`hw.engines` (parameter loader,
image loader, sequencer, Conv, depthwise, classifier) to the RAMs and to each other
through their signatures, in the ``sync`` domain with Amaranth streams;
:class:`Accelerator` wraps it with the AXI4-Stream port names (``aclk``, ``aresetn``,
``s_axis_*``, ``m_axis_*``, ``s_axis_param_*``) of a Vivado IP-integrator block.

What runs where, per image (the sequencer walks the layer-table ROM):

1. **input**: pixels (one beat = ``image_pixels`` pixels, channels-last bytes) are shifted to
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
param : In(stream.Signature({data: param_beat_bits bits, last}))
    The parameter stream (32-bit beats by default; the system top's are 128 bits).
result : Out(stream.Signature({data: signed(result_bits), last}))
    The logits (sign-extended), then the class index with ``last``.
busy, params_loaded, param_error, image_error : Out(1)
    Status: computing an image; a complete parameter set is loaded; the last
    parameter stream was refused; the last image's ``last`` came on the wrong pixel (set
    with its class beat, steady until the next one).
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

from amaranth.hdl import ClockDomain, Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from rrm.memory_map import PARAM_BEAT_BITS, LayerKind
from rrm.sizing import sizing
from rrm.spec import Spec

from ..blocks.port_select import PortSelect
from ..engines.classifier import Classifier, result_bits
from ..engines.conv import ConvEngine
from ..engines.depthwise import DepthwiseEngine
from ..engines.image_loader import ImageLoader
from ..engines.interfaces import COUNTER_BITS, FmWrite, ram_shapes
from ..engines.param_loader import ParamLoader
from ..engines.sequencer import Sequencer
from .fm_buffers import FmBuffers

#: The core's status and monitor outputs, passed through by the AXI wrapper under the same names.
STATUS_PORTS = ("busy", "params_loaded", "param_error", "image_error", "image_cycles", "layer_cycles",
                "layer_index", "debug_write_en", "debug_write_buffer", "debug_write_addr",
                "debug_write_data", "debug_write_slots")
#: The layer engines by the name the sequencer's control ports take.
ENGINES = {"conv": ConvEngine, "dw": DepthwiseEngine, "classifier": Classifier}


def engine_for(kind: LayerKind):
    """The engine class that runs layers of ``kind``."""
    for engine in ENGINES.values():
        if kind in engine.KINDS:
            return engine
    raise KeyError(f"no engine runs layers of kind {kind!r}")


class AcceleratorCore(wiring.Component):
    __doc__ = __doc__

    def __init__(self, spec: Spec, *, preloaded: bool = False, param_beat_bits: int = PARAM_BEAT_BITS):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.spec = spec
        #: The parameter RAMs come initialised (``$readmemh`` files of ``rrm vivado``):
        #: ``params_loaded`` is 1 from power-up.
        self.preloaded = bool(preloaded)
        self.mmap = mmap = sizing(spec).memories
        mmap.check_image_fits(spec)
        self.shapes = shapes = ram_shapes(spec)
        self.layer_count = len(mmap.layers)
        self.layer_names = [entry.name for entry in mmap.layers]
        # the engines are built here so that their ports are known to the core's signature
        self.param_loader = ParamLoader(spec, preloaded=preloaded, beat_bits=param_beat_bits)
        self.image_loader = ImageLoader(spec)
        self.engines = {name: engine(spec) for name, engine in ENGINES.items()}
        self.sequencer = Sequencer(spec, {name: engine.KINDS for name, engine in ENGINES.items()})
        self.result_bits = result_bits(spec)
        super().__init__({
            "image": In(self.image_loader.image.signature.flip()),
            "param": In(self.param_loader.param.signature.flip()),
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
            "debug_write_addr": Out(range(shapes.fm_depth)),
            "debug_write_data": Out(shapes.fm.size),
            "debug_write_slots": Out(spec.hardware.pe_count),
        })

    def elaborate(self, platform):
        m = Module()
        shapes = self.shapes
        loader, image_loader, sequencer = self.param_loader, self.image_loader, self.sequencer
        conv, dw, classifier = (self.engines[name] for name in ("conv", "dw", "classifier"))
        m.submodules.param_loader = loader
        m.submodules.image_loader = image_loader
        m.submodules.sequencer = sequencer
        for name, engine in self.engines.items():
            m.submodules[name] = engine
            connect(m, getattr(sequencer, name), engine.control)
        kind = sequencer.entry.kind_code

        # parameter RAMs: written by the loader, read by the engines
        rams = {}
        for region in self.mmap.param_rams:
            rams[region.name] = memory = Memory(shape=shapes.shape(region.name),
                                                depth=shapes.depth[region.name], init=[])
            m.submodules[f"ram_{region.name}"] = memory
            connect(m, getattr(loader, region.name), memory.write_port())

        def shared(name, signature, requesters, by_kind):
            """One port for several engines: ``requesters[by_kind.get(kind, 0)]`` drives it."""
            select = PortSelect(signature, len(requesters))
            m.submodules[f"{name}_select"] = select
            for index, requester in enumerate(requesters):
                connect(m, requester, select.requests[index])
            with m.Switch(kind):
                for layer_kind, index in by_kind.items():
                    with m.Case(layer_kind):
                        m.d.comb += select.select.eq(index)
            return select.port

        connect(m, shared("pw_read", shapes.read("pw"), [conv.pw_read, classifier.pw_read],
                          {LayerKind.fc: 1}), rams["pw"].read_port())
        connect(m, shared("bn_read", shapes.read("bn"), [conv.bn_read, dw.bn_read],
                          {LayerKind.dw: 1}), rams["bn"].read_port())
        connect(m, dw.dw_read, rams["dw"].read_port())
        connect(m, classifier.fc_bias_read, rams["fc_bias"].read_port())
        connect(m, sequencer.shift_read, rams["shift"].read_port())

        # feature maps: the layer's engine reads buffer `src` and writes the other
        m.submodules.fm_buffers = fm = FmBuffers(self.spec)
        connect(m, shared("fm_read", shapes.read("fm_p"), [conv.fm_read, dw.fm_read, classifier.fm_read],
                          {LayerKind.dw: 1, LayerKind.pool: 2}), fm.read)
        fm_write = shared("fm_write", FmWrite(shapes), [conv.fm_write, dw.fm_write], {LayerKind.dw: 1})
        connect(m, fm_write, fm.write)
        connect(m, image_loader.write, fm.image_write)
        connect(m, image_loader.ring, conv.ring)
        m.d.comb += fm.src.eq(sequencer.entry.src)

        # the image and parameter streams in, the result stream out
        connect(m, wiring.flipped(self.image), image_loader.image)
        connect(m, wiring.flipped(self.param), loader.param)
        connect(m, classifier.result, wiring.flipped(self.result))
        m.d.comb += [
            sequencer.image_valid.eq(self.image.valid),
            sequencer.params_loaded.eq(loader.loaded),
            sequencer.loader_idle.eq(loader.idle),
            sequencer.inputting.eq(image_loader.inputting),
            sequencer.input_error.eq(image_loader.error),
            sequencer.emitted.eq(classifier.emitted),
            image_loader.begin.eq(sequencer.begin),
            image_loader.busy.eq(sequencer.busy),
            loader.busy.eq(sequencer.busy),
            classifier.emit.eq(sequencer.emit),
        ]

        # status and monitors
        m.d.comb += [
            self.busy.eq(sequencer.busy),
            self.params_loaded.eq(loader.loaded),
            self.param_error.eq(loader.error),
            self.image_error.eq(sequencer.image_error),
            self.image_cycles.eq(sequencer.image_cycles),
            self.layer_cycles.eq(sequencer.layer_cycles),
            self.layer_index.eq(sequencer.layer_index),
            self.debug_write_en.eq(fm_write.en),
            self.debug_write_buffer.eq(fm_write.buffer),
            self.debug_write_addr.eq(fm_write.addr),
            self.debug_write_data.eq(fm_write.data),
            self.debug_write_slots.eq(fm_write.slots),
        ]
        return m


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
