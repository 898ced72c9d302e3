"""BN + ReLU + requantize: y = clamp((acc*m + b + r) >> s, 0, 2**act_bits - 1), per lane."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from rrm.numerics import MAX_SHIFT

from .checks import check_int
from .layouts import activations_layout, bn_layout
from .pipeline import stall_all_advance
from .select import one_hot, select, select_one_hot

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
    (``q mod 2**(A+1)``, selected in two steps, below) and whether any bit of ``x`` at
    ``s + A`` or above is set (``q >= 2**(A+1)``: ANDs with per-beat masks, then an
    OR); the rounding is an ``A``-bit increment in gates. docs/design.md §6 gives the
    numerics.

    Three stages: multiply; add the bias (``x``, ``sum_width`` bits: sized by
    ``rrm.bounds.bn_sum_range`` so it cannot overflow) and keep of ``2x`` only the
    ``FINE_SHIFTS + A`` bits from ``FINE_SHIFTS * (s // FINE_SHIFTS)`` up, whether any bit
    above them is set, and the sign; select the window at ``s % FINE_SHIFTS``, round and
    clamp. Splitting the window multiplexer across the two stages keeps both within the
    150 MHz level budget (one multiplexer of ``max_shift + 1`` windows after the sum
    register was 13 logic levels in rr-mobilenet's DW engine) and registers
    ``FINE_SHIFTS + A + max_shift // FINE_SHIFTS + 2`` bits per lane (18 at rr-mobilenet)
    instead of the ``sum_width``-bit sum. A stall-all pipeline: every stage
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
    #: Shifts per coarse window: stage 2 selects by ``s // FINE_SHIFTS``, stage 3 by
    #: ``s % FINE_SHIFTS`` (an 8-way multiplexer: one LUT6 and a MUXF7).
    FINE_SHIFTS = 8
    #: LUT and FF per lane, as Yosys 0.23 ``synth_xilinx -family xcup`` maps the block at
    #: rr-mobilenet's widths (32 lanes: 3,357 LUT, 2,882 FF, 32 DSP48E2; 8.5 logic levels;
    #: an estimate). One multiplexer of the 37 windows behind the sum register took 4,587
    #: LUT, 3,508 FF and 10 levels (13 in the DW engine); bit_select and a rounding adder
    #: before it 5,071 LUT, 13 levels; a barrel shifter 244 LUT per lane. Yosys 0.23 packs
    #: no register or post-adder into a DSP48E2 (it does into a DSP48E1), so the bias adder
    #: and the product and bias registers are counted here in LUT and FF.
    LANE_LUT_FF = (104.9, 90.1)

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
        hi1_hot = Signal(self.max_shift // self.FINE_SHIFTS + 1)   # bit k: shift1 // FINE == k
        # Stage 2: x = acc*m + b, kept only as far as stage 3 needs it. The shift splits
        # into s = FINE*hi + lo; stage 2 selects the coarse window of 2x at FINE*hi (the
        # FINE + A bits holding every window of this hi), whether any bit of 2x above it is
        # set (as one OR per FINE bits above each coarse window: stage 3 ORs those at and
        # above hi) and the sign; stage 3 selects the window at lo. Per beat: lo, the masks
        # of those ORs and of the coarse window's bits above the window, and whether the
        # result rounds (s > 0).
        fine = self.FINE_SHIFTS
        coarse_count = self.max_shift // fine + 1
        coarse_width = fine + bits
        valid2 = Signal()
        coarse = [Signal(coarse_width, name=f"coarse{l}", reset_less=True) for l in range(lanes)]
        above = [Signal(coarse_count, name=f"above{l}", reset_less=True) for l in range(lanes)]
        negative = [Signal(name=f"negative{l}", reset_less=True) for l in range(lanes)]
        lo2 = Signal(range(fine))
        above_mask = Signal(coarse_count)      # bit k: k >= hi
        window_mask = Signal(coarse_width)     # bit j: j >= lo + A + 1
        round_up = Signal()

        hi1, lo1 = shift1 // fine, shift1 % fine
        clamped = Mux(payload.shift > self.max_shift, self.max_shift, payload.shift)
        with m.If(advance):
            m.d.sync += [
                valid1.eq(self.i.valid),
                shift1.eq(clamped),
                hi1_hot.eq(one_hot(clamped // fine, coarse_count)),
                valid2.eq(valid1),
                lo2.eq(lo1),
                above_mask.eq(Cat(hi1 <= k for k in range(coarse_count))),
                window_mask.eq(Cat(lo1 + bits + 1 <= j for j in range(coarse_width))),
                round_up.eq(shift1 != 0),
                self.o.valid.eq(valid2),
            ]
        # 2x, sign-extended so that every coarse window [FINE*hi, FINE*hi + FINE + A) lies in it.
        pad = max(1, fine * (coarse_count - 1) + coarse_width - (width + 1))
        # above[k] covers 2x's bits from the end of coarse window k to the end of window k + 1
        # (the last one up to the top)
        above_ends = [fine * k + coarse_width for k in range(coarse_count)] + [1 + width + pad]
        for lane in range(lanes):
            x = Signal(signed(width), name=f"sum{lane}")
            doubled = Cat(Const(0, 1), x, *([x[-1]] * pad))
            m.d.comb += x.eq(prods[lane] + biases[lane])
            with m.If(advance):
                m.d.sync += [
                    prods[lane].eq(payload.acc[lane] * payload.mult[lane]),
                    biases[lane].eq(payload.bias[lane]),
                    # a coarse_count-way AND-OR behind the adder's carry chain
                    coarse[lane].eq(select_one_hot([doubled[fine * hi:fine * hi + coarse_width]
                                                    for hi in range(coarse_count)], hi1_hot)),
                    above[lane].eq(Cat(doubled[above_ends[k]:above_ends[k + 1]].any()
                                       for k in range(coarse_count))),
                    negative[lane].eq(x < 0),
                ]
            # Stage 3: the window q mod 2**(A+1) = 2x[s : s + A + 1] and q >= 2**(A+1): a bit
            # of 2x at s + A + 1 or above, in the coarse window or above it.
            window = Signal(unsigned(bits + 1), name=f"window{lane}")
            over = Signal(name=f"over{lane}")
            cw = coarse[lane]
            m.d.comb += [
                window.eq(select([cw[lo:lo + bits + 1] for lo in range(fine)], lo2)),
                over.eq((above[lane] & above_mask).any() | (cw & window_mask).any()),
            ]
            # floor((window + r) / 2) = high + up, high = window's top A bits, up = r and its
            # low bit; it passes 2**A - 1 only when high is all ones. Written as gates, not
            # an adder: a carry chain behind the window multiplexer cost 3 logic levels.
            high, up = window[1:], window[0] & round_up
            stepped = Cat(high[k] ^ (up & high[:k].all()) if k else high[0] ^ up for k in range(bits))
            saturated = over | (up & high.all())
            with m.If(advance):
                m.d.sync += self.o.payload[lane].eq(Mux(negative[lane], 0, Mux(saturated, act_max, stepped)))
        return m
