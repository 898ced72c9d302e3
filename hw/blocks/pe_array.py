"""PE arrays: ``pe_count`` identical PEs in lock step behind one stream handshake."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .checks import check_int
from .conv_pe import ConvPE
from .dw_pe import DepthwisePE
from .layouts import shared_conv_layout
from .packed_pe import PackedConvPE, packed_output_layout


def _lock_step(m: Module, array, pes: list, payloads: list) -> None:
    """Drive ``pes`` from ``array``'s streams: PE p gets ``payloads[p]`` and drives
    ``array.o.payload[p]``; PE 0's ``i.ready``/``o.valid`` stand for all of them."""
    for index, (pe, payload) in enumerate(zip(pes, payloads)):
        m.submodules[f"pe{index}"] = pe
        m.d.comb += [
            pe.i.payload.eq(payload),
            pe.i.valid.eq(array.i.valid),
            pe.o.ready.eq(array.o.ready),
            array.o.payload[index].eq(pe.o.payload),
        ]
    m.d.comb += [array.i.ready.eq(pes[0].i.ready), array.o.valid.eq(pes[0].o.valid)]


class PEArray(wiring.Component):
    """``pe_count`` copies of a PE that share one handshake (the paper's PE array).

    PE ``p`` gets ``i.payload[p]`` and drives ``o.payload[p]``. Every PE is a
    stall-all pipeline driven by the same ``valid``/``ready``, so all stay in
    the same state and PE 0's ``i.ready``/``o.valid`` stand for all of them.

    Latency: that of one PE (``self.latency``).
    Throughput: that of one PE, for all ``pe_count`` PEs at once (``pe_count`` times the MACs).

    Parameters
    ----------
    make_pe : callable
        Returns a new PE component (with ``i``/``o`` streams, ``lanes``, ``latency``).
    pe_count : int
        PEs in the array (1..64).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(pe.in_layout, pe_count)))
        One PE input per PE.
    o : Out(stream.Signature(ArrayLayout(pe.out_layout, pe_count)))
        One PE output per PE.

    Attributes
    ----------
    pe_count, lanes, latency : int
        PEs, lanes per PE, latency of a PE.
    pe : Component
        PE 0 (its parameters stand for every PE's).
    """

    def __init__(self, make_pe, pe_count: int):
        self.pe_count = check_int("pe_count", pe_count, 1, 64)
        self.pes = [make_pe() for _ in range(pe_count)]
        self.pe = self.pes[0]
        self.lanes, self.latency = self.pe.lanes, self.pe.latency
        self.pe_in_layout, self.pe_out_layout = self.pe.in_layout, self.pe.out_layout
        self.in_layout = self._input_layout()
        self.out_layout = data.ArrayLayout(self.pe.out_layout, pe_count)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    def _input_layout(self):
        """The array's input payload: one PE input per PE."""
        return data.ArrayLayout(self.pe.in_layout, self.pe_count)

    def _pe_payloads(self, m) -> list:
        """PE p's input payload, from the array's."""
        return [self.i.payload[index] for index in range(self.pe_count)]

    def elaborate(self, platform):
        m = Module()
        _lock_step(m, self, self.pes, self._pe_payloads(m))
        return m


class SharedWeightConvArray(PEArray):
    """``pe_count`` Conv PEs on different pixels (a spatial tile) sharing one weight read.

    Each beat carries one value per PE and one word of ``lanes`` weights that
    every PE uses: PE ``p``, lane ``l`` computes ``acc[p][l] = sum_t
    values_t[p] * weight_t[l]`` over a sequence ending with ``last`` (one
    output channel group of ``lanes`` channels for ``pe_count`` pixels at once,
    docs/design.md §3.2). The PEs are :class:`~hw.blocks.conv_pe.ConvPE` in lock step,
    as in :class:`PEArray`, with one weight bus instead of ``pe_count``.

    Latency: 2 cycles from the handshake of a ``last`` beat to ``o.valid`` (a ConvPE's).
    Throughput: one beat (``pe_count * lanes`` MACs) per cycle; a sequence of L
    beats gives one output every L cycles.

    Parameters
    ----------
    pe_count : int
        PEs (pixels) in parallel (1..64).
    lanes : int
        Output channels per PE (1..256).
    value_shape : Shape
        Shape of a PE's value.
    weight_width : int
        Signed weight width.
    acc_width : int
        Signed accumulator width.

    Members
    -------
    i : In(stream.Signature(shared_conv_layout(value_shape, weight_width, lanes, pe_count)))
        ``values``: ``[pe]`` of ``value_shape``; ``weight``: ``[lane]`` of
        ``signed(weight_width)``, shared by all PEs; ``last``: end of a sequence.
    o : Out(stream.Signature(ArrayLayout(sums_layout(acc_width, lanes), pe_count)))
        ``[pe][lane]`` sums, once per sequence.

    Attributes
    ----------
    pe_count, lanes, latency : int
        As above.
    """

    def __init__(self, *, pe_count: int, lanes: int, value_shape, weight_width: int, acc_width: int):
        self.weight_width, self.acc_width = weight_width, acc_width
        super().__init__(lambda: ConvPE(lanes=lanes, value_shape=value_shape, weight_width=weight_width,
                                        acc_width=acc_width), pe_count)
        self.value_shape = self.pe.value_shape

    def _input_layout(self):
        """Values ``[pe]``, one weight word for every PE, ``last``."""
        return shared_conv_layout(self.pe.value_shape, self.weight_width, self.lanes, self.pe_count)

    def _pe_payloads(self, m) -> list:
        payloads = []
        for index in range(self.pe_count):
            payload = Signal(self.pe.in_layout, name=f"in{index}")
            m.d.comb += [
                payload.value.eq(self.i.payload.values[index]),
                payload.weight.eq(self.i.payload.weight),
                payload.last.eq(self.i.payload.last),
            ]
            payloads.append(payload)
        return payloads


def depthwise_pe_array(*, pe_count: int, **pe_parameters) -> PEArray:
    """The DW module: ``pe_count`` :class:`~hw.blocks.dw_pe.DepthwisePE` in lock step."""
    return PEArray(lambda: DepthwisePE(**pe_parameters), pe_count)


def conv_pe_array(*, pe_count: int, shared_weight: bool = False, **pe_parameters):
    """The Conv module: ``pe_count`` :class:`~hw.blocks.conv_pe.ConvPE` in lock step, each with
    its own weights (:class:`PEArray`) or, with ``shared_weight``, on different pixels
    with one shared weight word (:class:`SharedWeightConvArray`)."""
    if shared_weight:
        return SharedWeightConvArray(pe_count=pe_count, **pe_parameters)
    return PEArray(lambda: ConvPE(**pe_parameters), pe_count)


class PackedSharedWeightArray(wiring.Component):
    """:class:`SharedWeightConvArray`'s job for pointwise layers at half the DSP48E2:
    ``pe_count`` pixels with one shared weight word, pixels ``2j`` and ``2j + 1`` packed
    into one :class:`~hw.blocks.packed_pe.PackedConvPE` (an odd last pixel gets a packed
    PE whose second pixel is 0), all in lock step.

    The input stream is :class:`SharedWeightConvArray`'s with unsigned ``act_bits`` values;
    the output is a stream per packed PE (below). With ``single_bits``
    (conv1's image values), beats with ``single`` set give packed PE j the signed value
    ``wide[j]`` alone: one pixel per packed PE, its sum output as pixel ``2j`` (pixel
    ``2j + 1``'s is 0; :class:`~hw.blocks.packed_pe.PackedConvPE`'s single mode).

    Latency: 2 cycles from the handshake of a ``last`` beat to ``o.valid`` (a PackedConvPE's).
    Throughput: one beat (``pe_count * lanes`` MACs, ``ceil(pe_count / 2) * lanes``
    products) per cycle; in single mode ``ceil(pe_count / 2) * lanes`` MACs.

    Parameters
    ----------
    pe_count : int
        Pixels in parallel (1..64).
    lanes, act_bits, weight_width, acc_width, single_bits : int
        As :class:`~hw.blocks.packed_pe.PackedConvPE`.
    dsp_macc, primitive : bool
        As :class:`~hw.blocks.packed_pe.PackedConvPE`.

    Members
    -------
    i : In(stream.Signature(shared_conv_layout(unsigned(act_bits), weight_width, lanes, pe_count)))
        ``values``: ``[pixel]``; ``weight``: ``[lane]``, shared; ``last``: end of a sequence;
        with ``single_bits`` also ``single`` and ``wide`` (``[packed PE]``).
    o : Out(stream.Signature(packed_output_layout(acc_width, lanes))).array(packed_pes)
        One stream per packed PE j: ``[half][lane]`` sums of pixels ``2j + half``, once per
        sequence, all in lock step (their ``valid`` equal; every ``ready`` must be driven
        alike). One stream per PE, not one for the array: at 50 pixels x 64 lanes x 21 bits
        the array's sums would be one signal of 67,200 bits, over the 65,536 a netlist
        value may hold.

    Attributes
    ----------
    pe_count, lanes, latency : int
        As above.
    packed_pes : int
        ``ceil(pe_count / 2)``, the PackedConvPEs.
    """

    def __init__(self, *, pe_count: int, lanes: int, act_bits: int, weight_width: int, acc_width: int,
                 single_bits: int = 0, dsp_macc: bool = False, primitive: bool = True):
        self.pe_count = check_int("pe_count", pe_count, 1, 64)
        self.packed_pes = -(-pe_count // 2)
        self.pes = [PackedConvPE(lanes=lanes, act_bits=act_bits, weight_width=weight_width,
                                 acc_width=acc_width, single_bits=single_bits, dsp_macc=dsp_macc,
                                 primitive=primitive)
                    for _ in range(self.packed_pes)]
        self.pe = self.pes[0]
        self.single_bits = single_bits
        self.lanes, self.latency = self.pe.lanes, self.pe.latency
        layout = shared_conv_layout(unsigned(act_bits), weight_width, lanes, pe_count)
        if single_bits:
            layout = data.StructLayout({**dict(layout.members), "single": 1,
                                        "wide": data.ArrayLayout(signed(single_bits), self.packed_pes)})
        self.in_layout = layout
        self.out_layout = self.pe.out_layout
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)).array(self.packed_pes),
        })

    def sums(self, pixel: int):
        """The view of pixel ``pixel``'s sums (``[lane]``) on its packed PE's stream."""
        return self.o[pixel // 2].payload[pixel % 2]

    @property
    def dsp48e2(self) -> int:
        """DSP48E2 as Yosys maps the array: one per lane of each packed PE."""
        return self.packed_pes * self.pe.dsp48e2

    def elaborate(self, platform):
        m = Module()
        values = self.i.payload.values
        for j, pe in enumerate(self.pes):
            m.submodules[f"pe{j}"] = pe
            pixels = [2 * j, 2 * j + 1]
            m.d.comb += [
                pe.i.payload.value[0].eq(values[2 * j]),
                pe.i.payload.weight.eq(self.i.payload.weight),
                pe.i.payload.last.eq(self.i.payload.last),
                pe.i.valid.eq(self.i.valid),
                *([pe.i.payload.single.eq(self.i.payload.single),
                   pe.i.payload.wide.eq(self.i.payload.wide[j])] if self.single_bits else []),
                pe.o.ready.eq(self.o[j].ready),
            ]
            if pixels[1] < self.pe_count:
                m.d.comb += pe.i.payload.value[1].eq(values[pixels[1]])
            m.d.comb += [self.o[j].payload.eq(pe.o.payload), self.o[j].valid.eq(pe.o.valid)]
        m.d.comb += self.i.ready.eq(self.pe.i.ready)
        return m
