"""BN + ReLU + requantize: y = clamp((acc*m + b + r) >> s, 0, 2**act_bits - 1), per lane."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from rrm.numerics import MAX_SHIFT

from .checks import check_int
from .layouts import activations_layout, bn_layout
from .pipeline import stall_all_advance

#: Bits of the per-beat shift field: shifts 0..MAX_SHIFT (docs/design.md §6).
SHIFT_BITS = MAX_SHIFT.bit_length()


class BnRequant(wiring.Component):
    """Folded batch norm, ReLU and requantization of ``lanes`` accumulators at once.

    For each lane ``l`` of a beat, with the beat's shift ``s`` clamped to
    ``max_shift`` (every shift >= ``max_shift`` gives 0 for every input, see
    ``rrm.bounds.max_useful_shift``, so the clamp changes no result)::

        y[l] = clamp((acc[l] * mult[l] + bias[l] + r) >> s, 0, 2**act_bits - 1)
        r    = 2**(s-1) if s > 0 else 0            (arithmetic shift: floor)

    exactly as ``golden.ops.bn_requant``. The sum is ``sum_width`` bits wide,
    sized by ``rrm.bounds.bn_product_bits`` so it cannot overflow.

    Three stages: multiply; add bias and rounding constant; shift and clamp.
    A stall-all pipeline: every stage advances when the output register is
    empty or being read (``o.ready``), so ``i.ready`` follows ``o.ready``.

    Latency: 3 cycles from the input handshake to ``o.valid``.
    Throughput: one beat (``lanes`` channels) per cycle.

    Parameters
    ----------
    lanes : int
        Channels per beat (1..256).
    acc_width, mult_width, bias_width : int
        Signed widths of the accumulator, BN multiplier and BN bias.
    sum_width : int
        Signed width of ``acc*m + b + r``.
    act_bits : int
        Unsigned output width; outputs are 0..2**act_bits - 1.
    max_shift : int
        Shifts above it are clamped to it (0..MAX_SHIFT, :data:`rrm.numerics.MAX_SHIFT`).

    Members
    -------
    i : In(stream.Signature(StructLayout))
        ``acc``, ``mult``, ``bias``: arrays of ``lanes`` signed values;
        ``shift``: unsigned(SHIFT_BITS), the layer's shift s (0..MAX_SHIFT).
    o : Out(stream.Signature(ArrayLayout(unsigned(act_bits), lanes)))
        The requantized activations.
    """

    latency = 3
    #: LUT and FF per lane, as Yosys 0.23 ``synth_xilinx`` maps it (calibrated on
    #: ``rrm synth --mode blocks`` of rr-mobilenet-fast and -max; an estimate).
    LANE_LUT_FF = (244.0, 110.0)

    def __init__(self, *, lanes: int, acc_width: int, mult_width: int, bias_width: int,
                 sum_width: int, act_bits: int, max_shift: int = MAX_SHIFT):
        self.lanes = check_int("lanes", lanes, 1, 256)
        self.acc_width = check_int("acc_width", acc_width, 2, 64)
        self.mult_width = check_int("mult_width", mult_width, 2, 32)
        self.bias_width = check_int("bias_width", bias_width, 2, 64)
        self.act_bits = check_int("act_bits", act_bits, 1, 16)
        self.max_shift = check_int("max_shift", max_shift, 0, MAX_SHIFT)
        need = max(bias_width, 2)
        self.sum_width = check_int("sum_width", sum_width, need, 128)
        self.in_layout = bn_layout(acc_width, mult_width, bias_width, SHIFT_BITS, lanes)
        self.out_layout = activations_layout(act_bits, lanes)
        super().__init__({
            "i": In(stream.Signature(self.in_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    @property
    def dsp48e2(self) -> int:
        """DSP48E2 as Yosys maps this block: one per lane (the BN multiply)."""
        return self.lanes

    def elaborate(self, platform):
        m = Module()
        advance = stall_all_advance(m, self.o)
        m.d.comb += self.i.ready.eq(advance)
        lanes, act_max = self.lanes, 2 ** self.act_bits - 1
        payload = self.i.payload

        # Stage 1: products, bias and the clamped shift.
        valid1 = Signal()
        prods = [Signal(signed(self.acc_width + self.mult_width), name=f"prod{l}") for l in range(lanes)]
        biases = [Signal(signed(self.bias_width), name=f"bias{l}") for l in range(lanes)]
        shift1 = Signal(range(self.max_shift + 1))
        # Stage 2: acc*m + b + r.
        valid2 = Signal()
        sums = [Signal(signed(self.sum_width), name=f"sum{l}") for l in range(lanes)]
        shift2 = Signal(range(self.max_shift + 1))

        # r = 2**(s-1) for s > 0, else 0 (at most 2**(max_shift-1)).
        rounding = Signal(unsigned(max(self.max_shift, 1)))
        m.d.comb += rounding.eq(Mux(shift1 == 0, 0, Const(1, 1) << (shift1 - 1).as_unsigned()))
        with m.If(advance):
            m.d.sync += [
                valid1.eq(self.i.valid),
                shift1.eq(Mux(payload.shift > self.max_shift, self.max_shift, payload.shift)),
                valid2.eq(valid1),
                shift2.eq(shift1),
                self.o.valid.eq(valid2),
            ]
            for lane in range(lanes):
                m.d.sync += [
                    prods[lane].eq(payload.acc[lane] * payload.mult[lane]),
                    biases[lane].eq(payload.bias[lane]),
                    sums[lane].eq(prods[lane] + biases[lane] + rounding),
                ]
                shifted = Signal(signed(self.sum_width), name=f"shifted{lane}")
                m.d.comb += shifted.eq(sums[lane] >> shift2)
                m.d.sync += self.o.payload[lane].eq(
                    Mux(shifted < 0, 0, Mux(shifted > act_max, act_max, shifted[:self.act_bits])))
        return m
