"""Packed pointwise PE: two output pixels' products with one weight in one DSP48E2 per lane."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .checks import check_bool, check_int
from .dsp48e2 import DspMac
from .layouts import sums_layout, weights_layout
from .pipeline import stall_all_advance

#: The DSP48E2 multiplier's ports: 27-bit signed A (pre-adder side) and 18-bit signed B.
DSP_A_BITS, DSP_B_BITS = 27, 18
#: Width of the DSP48E2 accumulator P.
DSP_P_BITS = 48


def packed_input_layout(act_bits: int, weight_width: int, lanes: int,
                        single_bits: int = 0) -> data.StructLayout:
    """The packed PE's input beat: ``value`` (two activations, ``[pixel]``: the same input
    channel of two neighbouring pixels), ``weight`` (one per lane, shared by both pixels)
    and ``last``; with ``single_bits``, also ``single`` (the beat is one pixel's) and
    ``wide`` (that pixel's ``signed(single_bits)`` value)."""
    fields = {
        "value": data.ArrayLayout(unsigned(act_bits), 2),
        "weight": weights_layout(weight_width, lanes),
        "last": 1,
    }
    if single_bits:
        fields.update(single=1, wide=signed(single_bits))
    return data.StructLayout(fields)


def packed_output_layout(acc_width: int, lanes: int) -> data.ArrayLayout:
    """The packed PE's output: one sum per pixel and lane, indexed ``[pixel][lane]``."""
    return data.ArrayLayout(sums_layout(acc_width, lanes), 2)


def split_packed(p: int, field: int) -> tuple[int, int]:
    """``(S0, S1)`` from ``P = S0 + S1 * 2**field`` with ``-2**(field-1) <= S0 < 2**(field-1)``:
    S0 is the low ``field`` bits sign-extended; S1 is ``P >> field`` plus the low field's sign
    bit (a negative S0 borrowed one from the high field). The RTL does the same on bits."""
    low = p & ((1 << field) - 1)
    sign = low >> (field - 1)
    return low - (sign << field), (p >> field) + sign


class PackedConvPE(wiring.Component):
    """Pointwise PE whose lanes each compute two pixels' sums with one multiplier.

    Lane ``l`` forms ``acc[p][l] = sum_t value_t[p] * weight_t[l]`` for the two pixels
    ``p = 0, 1`` of a sequence of beats. Per beat and lane one product
    ``A * w`` with ``A = value[0] + value[1] * 2**F`` (``F = acc_width``, the packing's
    field width) and the lane's weight ``w`` is added to one accumulator ``P``, so
    ``P = S0 + S1 * 2**F`` exactly at every step (integer arithmetic; ``P`` is
    ``2F + 1`` bits signed, which holds it whenever both sums fit F bits signed). At the end
    of the sequence the two sums are separated (:func:`split_packed`): ``S0`` is the low
    F bits sign-extended, ``S1 = (P >> F) + P[F-1]``. Exact for every activation pair,
    every ``weight_width``-bit weight and every sequence whose two sums both lie in
    ``[-2**(F-1), 2**(F-1))``, i.e. up to the accumulator bound ``acc_width`` is sized by
    (``rrm.bounds.accumulator_bits`` of conv1 and the pointwise layers). ``A`` (``F + act_bits``
    bits unsigned) fits the DSP48E2's 27-bit signed port and ``w`` its 18-bit port, so
    each lane is one DSP48E2 product for two MACs. Stall-all pipeline: the product
    register, then the accumulator, as :class:`~hw.blocks.conv_pe.ConvPE`; the split is
    combinational after the output register.

    Single mode (``single_bits`` > 0, conv1's 8-bit values, which do not pack): a beat with
    ``single`` set multiplies the signed ``wide`` value alone (``A = wide``), one product
    per lane as an unpacked PE; a sequence of such beats gives one sum, exact while it fits
    F bits signed, output as pixel 0's (pixel 1's is then 0). A sequence is all single or
    all packed.

    With ``dsp_macc``, each lane is a :class:`~hw.blocks.dsp48e2.DspMac`: the product goes
    straight into the DSP48E2's ALU and P accumulates it there (the P register is the
    accumulator; no product register), and a sequence starts from ``RND = 2**(F-1)`` instead
    of 0: ``P = 2**(F-1) + S0 + S1 * 2**F``, whose low F bits ``S0 + 2**(F-1)`` are never
    negative, so ``S1 = P >> F`` and ``S0`` is the low F bits with the top one inverted. No
    adder is left in fabric, only the output register (2F bits). The same cycles, the same
    sums; synthesis counts one DSP48E2 per lane and that register.

    Latency: 2 cycles from the handshake of a ``last`` beat to ``o.valid``.
    Throughput: one beat (``2 * lanes`` MACs, ``lanes`` products) per cycle; a sequence of
    L beats gives two pixels' outputs every L cycles.

    Parameters
    ----------
    lanes : int
        Output channels in parallel (1..256), one DSP48E2 product each.
    act_bits : int
        Unsigned activation width (1..8).
    weight_width : int
        Signed weight width (2..18, the DSP48E2's B port).
    acc_width : int
        Signed width of each pixel's sum and the packing's field width
        (2..``26 - act_bits``: the packed operand must fit the 27-bit signed A port).
    single_bits : int
        Width of the signed single-mode value (0: no single mode; else 2..27, the A port).
    dsp_macc : bool
        Accumulate inside the DSP48E2 (above); default False, the accumulator in fabric.
    primitive : bool
        With ``dsp_macc``: the DSP48E2 primitive (default; Verilog simulators need
        ``hw/blocks/dsp48e2_model.v``) or its registers in Amaranth (Amaranth's simulator).

    Members
    -------
    i : In(stream.Signature(packed_input_layout(act_bits, weight_width, lanes, single_bits)))
        ``value``: 2 x ``unsigned(act_bits)``; ``weight``: ``lanes`` x ``signed(weight_width)``;
        ``last``: 1 on the last beat of a sequence; with ``single_bits``, ``single`` and
        ``wide`` (``signed(single_bits)``).
    o : Out(stream.Signature(packed_output_layout(acc_width, lanes)))
        Two sums per lane (``[pixel][lane]``), once per sequence.

    Attributes
    ----------
    pe_count : int
        1.
    pixels : int
        2, the pixels one beat carries.
    field_width : int
        F, the bit position of the second pixel in the packed operand.
    lanes, latency : int
        As above.
    """

    latency = 2
    pe_count = 1
    pixels = 2
    #: LUT and FF per lane (two products), as Yosys 0.23 ``synth_xilinx -family xcup`` maps
    #: the block at rr-mobilenet's pointwise widths (32 lanes, acc_width 21: 1,412 LUT,
    #: 3,780 FF, 32 DSP48E2). The product, accumulator and output registers and the 43-bit
    #: accumulate stay in fabric (Yosys packs no register or adder into the DSP48E2); per
    #: product that is the Conv PE's ``LANE_LUT_FF`` (21, 58) again. An estimate.
    LANE_LUT_FF = (44.0, 118.0)
    #: With ``dsp_macc``: per lane only the 2F-bit output register in fabric; the slope between
    #: the block at 16 and 32 lanes, acc_width 21 (17 LUT at both, 675 and 1,347 FF; 16 and
    #: 32 DSP48E2), Yosys 0.23 as above.
    DSP_MACC_LANE_LUT_FF = (0.0, 42.0)

    def __init__(self, *, lanes: int, act_bits: int, weight_width: int, acc_width: int,
                 single_bits: int = 0, dsp_macc: bool = False, primitive: bool = True):
        self.lanes = check_int("lanes", lanes, 1, 256)
        self.act_bits = check_int("act_bits", act_bits, 1, 8)
        self.weight_width = check_int("weight_width", weight_width, 2, DSP_B_BITS)
        self.acc_width = check_int("acc_width", acc_width, 2, DSP_A_BITS - 1 - act_bits)
        self.single_bits = check_int("single_bits", single_bits, 0, DSP_A_BITS)
        if single_bits == 1:
            raise ValueError("single_bits must be 0 (no single mode) or 2..27, not 1")
        self.dsp_macc = check_bool("dsp_macc", dsp_macc)
        self.primitive = check_bool("primitive", primitive)
        self.field_width = acc_width
        self.in_layout = packed_input_layout(act_bits, weight_width, lanes, single_bits)
        self.out_layout = packed_output_layout(acc_width, lanes)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    @property
    def dsp48e2(self) -> int:
        """DSP48E2 as Yosys maps this block: one per lane, each forming two pixels' products."""
        return self.lanes

    @property
    def lane_lut_ff(self) -> tuple[float, float]:
        """LUT and FF per lane (an estimate): :data:`LANE_LUT_FF`, or with ``dsp_macc``
        :data:`DSP_MACC_LANE_LUT_FF`."""
        return self.DSP_MACC_LANE_LUT_FF if self.dsp_macc else self.LANE_LUT_FF

    def elaborate(self, platform):
        m = Module()
        advance = stall_all_advance(m, self.o)
        m.d.comb += self.i.ready.eq(advance)
        field, bits = self.field_width, self.act_bits
        operand_width = max(field + bits + 1, self.single_bits)   # signed: the DSP's A port
        packed = Signal(signed(operand_width))
        value = self.i.payload.value
        pair = Cat(value[0], Const(0, field - bits), value[1])
        if self.single_bits:
            m.d.comb += packed.eq(Mux(self.i.payload.single, self.i.payload.wide, pair))
        else:
            m.d.comb += packed.eq(pair)
        if self.dsp_macc:
            self._dsp_lanes(m, advance, packed)
            return m
        # S0 + S1 * 2**F with both sums in F bits signed lies in 2F + 1 bits signed (one more
        # than 2F: S1 = -2**(F-1) with S0 < 0 is below -2**(2F-1)).
        packed_width = 2 * field + 1

        valid1, last1 = Signal(), Signal()
        fresh = Signal(init=1)  # the next product starts a new sequence
        with m.If(advance):
            m.d.sync += [
                valid1.eq(self.i.valid),
                last1.eq(self.i.payload.last),
                self.o.valid.eq(valid1 & last1),
            ]
            with m.If(valid1):
                m.d.sync += fresh.eq(last1)
        for lane in range(self.lanes):
            product = Signal(signed(operand_width + self.weight_width), name=f"p{lane}")
            acc = Signal(signed(packed_width), name=f"acc{lane}")
            total = Signal(signed(packed_width), name=f"total{lane}")
            out = Signal(signed(packed_width), name=f"out{lane}")
            m.d.comb += total.eq(Mux(fresh, 0, acc) + product)
            with m.If(advance):
                m.d.sync += product.eq(packed * self.i.payload.weight[lane])
                with m.If(valid1):
                    m.d.sync += acc.eq(total)
                    with m.If(last1):
                        m.d.sync += out.eq(total)
            low_sign = out[field - 1]
            m.d.comb += [
                self.o.payload[0][lane].eq(out[:field].as_signed()),
                self.o.payload[1][lane].eq(out[field:].as_signed() + low_sign),
            ]
        return m

    def _dsp_lanes(self, m, advance, packed):
        """The lanes on DSP48E2s (``dsp_macc``): a beat goes into P on its handshake (the
        sequence's first from RND), the finished P into the output register with the next
        advance, in the cycle the fabric accumulator would have written it."""
        field = self.field_width
        valid1, last1 = Signal(), Signal()
        fresh = Signal(init=1)  # the next beat starts a new sequence
        take = advance & self.i.valid
        with m.If(advance):
            m.d.sync += [valid1.eq(self.i.valid), last1.eq(self.i.payload.last),
                         self.o.valid.eq(valid1 & last1)]
        with m.If(take):
            m.d.sync += fresh.eq(self.i.payload.last)
        for lane in range(self.lanes):
            mac = DspMac(rnd=1 << (field - 1), primitive=self.primitive, multiply_register=False)
            m.submodules[f"dsp{lane}"] = mac
            # 2**(F-1) + S0 + S1 * 2**F with both sums in F bits signed: 2F bits signed
            out = Signal(2 * field, name=f"out{lane}")
            m.d.comb += [mac.a.eq(packed), mac.b.eq(self.i.payload.weight[lane]),
                         mac.ce_m.eq(0), mac.ce_p.eq(take), mac.restart.eq(fresh)]
            with m.If(advance & valid1 & last1):
                m.d.sync += out.eq(mac.p[:2 * field])
            low = Cat(out[:field - 1], ~out[field - 1])   # S0: the low field (S0 + 2**(F-1)), top bit inverted
            m.d.comb += [self.o.payload[0][lane].eq(low.as_signed()),
                         self.o.payload[1][lane].eq(out[field:].as_signed())]
