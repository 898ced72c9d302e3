"""BN + ReLU + requantize: y = clamp((acc*m + b + r) >> s, 0, 2**act_bits - 1), per lane."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from rrm.numerics import MAX_SHIFT

from .checks import check_int
from .layouts import activations_layout, bn_layout
from .pipeline import stall_all_advance
from .select import select

#: Bits of the per-beat shift field: shifts 0..MAX_SHIFT (docs/design.md §6).
SHIFT_BITS = MAX_SHIFT.bit_length()


class BnRequant(wiring.Component):
    """Folded batch norm, ReLU and requantization of ``lanes`` accumulators at once.

    For each lane ``l`` of a beat, with the beat's shift ``s`` clamped to
    ``max_shift`` (every shift >= ``max_shift`` gives 0 for every input, see
    ``rrm.bounds.max_useful_shift``, so the clamp changes no result)::

        y[l] = clamp((acc[l] * mult[l] + bias[l] + r) >> s, 0, 2**act_bits - 1)
        r    = 2**(s-1) if s > 0 else 0            (arithmetic shift: floor)

    exactly as ``golden.ops.bn_requant``, without a barrel shifter or a rounding adder
    per lane. With ``x = acc*m + b`` and ``A = act_bits``, for ``s >= 1``
    ``floor((x + 2**(s-1)) / 2**s) = floor((q + 1) / 2)`` where ``q = floor(x / 2**(s-1))``
    (write ``x = q 2**(s-1) + e``, ``0 <= e < 2**(s-1)``: the fraction ``e / 2**s`` is
    below one half and cannot carry); for ``s = 0`` ``x = floor((2x + 0) / 2)``. So each
    lane only needs the sign of ``x``, the ``A + 1`` bits of ``2x`` from bit ``s`` up
    (``q mod 2**(A+1)``, one multiplexer of the windows by ``s``) and whether any bit of ``x`` at
    ``s + A`` or above is set (``q >= 2**(A+1)``: an AND with a per-beat mask, then an
    OR); the rounding is an ``A``-bit increment in gates. docs/design.md §6 gives the
    numerics.

    Three stages: multiply; add the bias (``x``, ``sum_width`` bits: sized by
    ``rrm.bounds.bn_sum_range`` so it cannot overflow; the per-beat mask and rounding
    bit beside it); select, round and clamp. A stall-all pipeline: every stage
    advances when the output register is empty or being read (``o.ready``), so
    ``i.ready`` follows ``o.ready``.

    Latency: 3 cycles from the input handshake to ``o.valid``.
    Throughput: one beat (``lanes`` channels) per cycle.

    Parameters
    ----------
    lanes : int
        Channels per beat (1..256).
    acc_width, mult_width, bias_width : int
        Signed widths of the accumulator, BN multiplier and BN bias.
    sum_width : int
        Signed width of ``acc*m + b`` (the block adds no rounding constant to it).
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
    #: LUT and FF per lane, as Yosys 0.23 ``synth_xilinx -family xcup`` maps the block at
    #: rr-mobilenet's widths (32 lanes: 4,587 LUT, 3,508 FF, 32 DSP48E2; an estimate). The
    #: window's bit_select and the rounding adder took 5,071 LUT (and 13 logic levels, now
    #: 10); the barrel shifter and rounding adder before them 244 LUT per lane. Yosys
    #: 0.23 packs no register or post-adder into a DSP48E2 (it does into a DSP48E1), so the
    #: bias adder and the product, bias and sum registers are counted here in LUT and FF.
    LANE_LUT_FF = (143.3, 109.6)

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
        lanes, bits, width = self.lanes, self.act_bits, self.sum_width
        act_max = 2 ** bits - 1
        payload = self.i.payload

        # Data registers have no reset (only the valid bits do): the reset net then reaches
        # a few flip-flops per block, not every bit of the datapath.
        # Stage 1: products, bias and the clamped shift.
        valid1 = Signal()
        prods = [Signal(signed(self.acc_width + self.mult_width), name=f"prod{l}", reset_less=True)
                 for l in range(lanes)]
        biases = [Signal(signed(self.bias_width), name=f"bias{l}", reset_less=True) for l in range(lanes)]
        shift1 = Signal(range(self.max_shift + 1))
        # Stage 2: x = acc*m + b; per beat: the shift, the bits of x at s + A and above
        # (over_mask) and whether the result rounds (s > 0).
        valid2 = Signal()
        sums = [Signal(signed(width), name=f"sum{l}", reset_less=True) for l in range(lanes)]
        shift2 = Signal(range(self.max_shift + 1))
        over_mask = Signal(width, reset_less=True)
        round_up = Signal()

        with m.If(advance):
            m.d.sync += [
                valid1.eq(self.i.valid),
                shift1.eq(Mux(payload.shift > self.max_shift, self.max_shift, payload.shift)),
                valid2.eq(valid1),
                shift2.eq(shift1),
                over_mask.eq(Cat(shift1 + bits <= position for position in range(width))),
                round_up.eq(shift1 != 0),
                self.o.valid.eq(valid2),
            ]
        # 2x, sign-extended so that the window [s, s + A] never leaves it.
        pad = max(bits + 1, self.max_shift + bits + 1 - (width + 1))
        for lane in range(lanes):
            with m.If(advance):
                m.d.sync += [
                    prods[lane].eq(payload.acc[lane] * payload.mult[lane]),
                    biases[lane].eq(payload.bias[lane]),
                    sums[lane].eq(prods[lane] + biases[lane]),
                ]
            x = sums[lane]
            doubled = Cat(Const(0, 1), x, *([x[-1]] * pad))
            window = Signal(unsigned(bits + 1), name=f"window{lane}")   # q mod 2**(A+1)
            over = Signal(name=f"over{lane}")                           # q >= 2**(A+1)
            m.d.comb += [
                # a multiplexer of the max_shift + 1 windows: bit_select would be a barrel
                # shifter (A + 1 is no power of two), 9 logic levels at rr-mobilenet's sum width
                window.eq(select([doubled[s:s + bits + 1] for s in range(self.max_shift + 1)], shift2)),
                over.eq((x.as_unsigned() & over_mask).any()),
            ]
            # floor((window + r) / 2) = high + up, high = window's top A bits, up = r and its
            # low bit; it passes 2**A - 1 only when high is all ones. Written as gates, not
            # an adder: a carry chain behind the window multiplexer cost 3 logic levels.
            high, up = window[1:], window[0] & round_up
            stepped = Cat(high[k] ^ (up & high[:k].all()) if k else high[0] ^ up for k in range(bits))
            saturated = over | (up & high.all())
            with m.If(advance):
                m.d.sync += self.o.payload[lane].eq(Mux(x < 0, 0, Mux(saturated, act_max, stepped)))
        return m
