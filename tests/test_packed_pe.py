"""The packed pointwise PE (two pixels' products per DSP48E2): exact for every activation
pair and every 8-bit weight, and up to the accumulator bound of the widest pointwise layer,
at both signs, under back-pressure; Yosys maps it to one DSP48E2 per lane."""

from __future__ import annotations

import itertools
import random
import shutil

import pytest
from amaranth.sim import Simulator

from hw.blocks.packed_pe import PackedConvPE, split_packed
from hw.blocks.pe_array import PackedSharedWeightArray
from rrm import bounds
from rrm.presets import load_preset


def run_sequences(pe, sequences, seed=0, stall=0.0, field="value"):
    """Feed ``sequences`` (lists of ``((x0, x1, ...), [w per lane])`` beats: the pixels'
    values, the lanes' weights) through ``pe`` (a PackedConvPE, or with ``field="values"``
    a shared-weight array); the consumer drops ``ready`` with probability ``stall``.
    Returns one ``[pixel][lane]`` list of sums per sequence."""
    pixels, outputs, sums = _outputs(pe)
    beats = [(beat, t == len(seq) - 1) for seq in sequences for t, beat in enumerate(seq)]
    got, rng = [], random.Random(seed)

    async def producer(ctx):
        for (value, weights, *extra), last in beats:   # extra: single mode's fields, if any
            ctx.set(pe.i.payload, {field: list(value), "weight": weights, "last": int(last), **dict(extra)})
            ctx.set(pe.i.valid, 1)
            await ctx.tick().until(pe.i.ready)
        ctx.set(pe.i.valid, 0)

    async def consumer(ctx):
        while len(got) < len(sequences):
            ready = int(rng.random() >= stall)
            for o in outputs:
                ctx.set(o.ready, ready)
            await ctx.delay(1e-7)   # settle mid-cycle: o.valid of this cycle
            if ready and ctx.get(outputs[0].valid):
                got.append([[ctx.get(sums(p)[l]) for l in range(pe.lanes)] for p in range(pixels)])
            await ctx.tick()

    sim = Simulator(pe)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-6 * (len(beats) * (3 if stall else 1) + 4 * len(sequences) + 100))
    return got


def _outputs(block):
    """(pixels, output streams, pixel -> sums view) of a PackedConvPE or a packed array (a
    stream per packed PE, in lock step)."""
    if isinstance(block, PackedSharedWeightArray):
        return block.pe_count, list(block.o), block.sums
    return 2, [block.o], lambda p: block.o.payload[p]


#: The PE's two accumulator forms: in fabric, and in the DSP48E2 (``dsp_macc``, its registers
#: in Amaranth for Amaranth's simulator; tb/test_dsp48e2.py checks the primitive against them).
FORMS = {"fabric": {}, "dsp_macc": {"dsp_macc": True, "primitive": False}}


def exact(sequence, lanes):
    """Every pixel's sums of one sequence by integer arithmetic."""
    pixels = len(sequence[0][0])
    return [[sum(value[p] * weights[l] for value, weights in sequence) for l in range(lanes)]
            for p in range(pixels)]


def worst_pointwise(preset):
    """The spec, its packing field (widest pw accumulator) and the pw layer with the widest range."""
    spec = load_preset(preset)
    pws = [layer.name for layer in spec.layers() if layer.kind == "pw"]
    field = max(bounds.accumulator_bits(spec, name) for name in pws)
    worst = max(pws, key=lambda name: bounds.accumulator_range(spec, name)[1] - bounds.accumulator_range(spec, name)[0])
    return spec, field, worst


def test_split_recovers_both_fields_at_their_edges():
    """The software split (the RTL's twin) at every combination of field edges, F = 21."""
    field, half = 21, 2 ** 20
    edges = [-half, -half + 1, -1, 0, 1, half - 2, half - 1]
    for s0, s1 in itertools.product(edges, repeat=2):
        assert split_packed(s0 + s1 * 2 ** field, field) == (s0, s1)
    # one field bit fewer and the low sum's extremes land in the high field: the width matters
    assert split_packed(-half + (3 << (field - 1)), field - 1) != (-half, 3)


@pytest.mark.parametrize("form", ["fabric", pytest.param("dsp_macc", marks=pytest.mark.slow)])
def test_every_activation_pair_times_every_weight_is_exact(form):
    """All 16 x 16 activation pairs x all 256 8-bit weights (one weight per lane), each
    pair as the first beat of a two-beat sequence whose second beat (another pair, the
    weights reversed) moves the sums across zero: 65,536 packed products, both pixels
    checked, at rr-mobilenet's pointwise field width. The DSP48E2 form runs it with ``-m slow``
    (its split is driven to the accumulator bounds by the tests below in the default run)."""
    _, field, _ = worst_pointwise("rr-mobilenet")
    weights = list(range(-128, 128))
    pe = PackedConvPE(lanes=len(weights), act_bits=4, weight_width=8, acc_width=field, **FORMS[form])
    sequences = [[((x0, x1), weights), ((x1, 15 - x0), weights[::-1])]
                 for x0, x1 in itertools.product(range(16), repeat=2)]
    got = run_sequences(pe, sequences)
    assert len(got) == len(sequences)
    wrong = [(seq[0][0], g) for seq, g in zip(sequences, got) if g != exact(seq, pe.lanes)]
    assert not wrong, f"{len(wrong)} wrong sequences, first pair {wrong[0][0]}"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("preset", ["tiny", "rr-mobilenet"])
def test_long_accumulations_reach_the_worst_pointwise_bound(preset, form):
    """Sequences as long as the worst pw layer's taps, every tap at a corner of the weight
    and activation ranges, so the sums reach the layer's exact accumulator bound at both
    signs (in one pixel, the other, and both at once); plus random sequences; the consumer
    stalls a third of the cycles."""
    spec, field, worst = worst_pointwise(preset)
    taps = bounds.taps(spec, worst)
    lo, hi = bounds.accumulator_range(spec, worst)
    wlo, whi = bounds.weight_range(spec)
    top = spec.quant.act_max
    lanes = [wlo, whi, 0, -1]
    pe = PackedConvPE(lanes=len(lanes), act_bits=spec.quant.act_bits, weight_width=spec.quant.weight_bits,
                      acc_width=field, **FORMS[form])
    rng = random.Random(24)
    corners = [[(pair, lanes)] * taps for pair in [(top, top), (top, 0), (0, top)]]
    mixed = [[((top, top), [wlo, whi, whi, wlo])] * (taps - 1) + [((0, 1), [whi, wlo, -1, 1])]]
    randoms = [[((rng.randint(0, top), rng.randint(0, top)), [rng.randint(wlo, whi) for _ in lanes])
                for _ in range(taps)] for _ in range(2)]
    sequences = corners + mixed + randoms
    got = run_sequences(pe, sequences, seed=1, stall=1 / 3)
    assert got == [exact(seq, pe.lanes) for seq in sequences]
    both = [v for g in got[:3] for pixel in g for v in pixel]
    assert min(both) == lo and max(both) == hi, (min(both), max(both), lo, hi)   # the bound is reached
    assert lo >= -2 ** (field - 1) and hi < 2 ** (field - 1)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("preset", ["tiny", "rr-mobilenet"])
def test_single_mode_reaches_conv1s_bound_between_packed_sequences(preset, form):
    """Single mode (conv1's signed image values, one pixel per product) with the engine's
    parameters: sequences of conv1's taps at the corners of the value and weight ranges
    reach conv1's exact accumulator bound at both signs, output as both pixels' sums;
    single and packed sequences alternate in one stream (the mode switches at a sequence
    boundary, as conv1's passes and the pw layers do), under back-pressure; a single
    sequence's sum is pixel 0's, pixel 1's is 0."""
    from hw.blocks.parameters import packed_parameters
    spec = load_preset(preset)
    params = packed_parameters(spec)
    lanes = [*bounds.weight_range(spec), 0, -1]
    pe = PackedConvPE(**{**params, "lanes": len(lanes), **FORMS[form]})
    taps = bounds.taps(spec, "conv1")
    xlo, xhi = bounds.input_range(spec, "conv1")
    assert xlo < 0 and pe.single_bits >= xhi.bit_length() + 1
    top = spec.quant.act_max
    rng = random.Random(7)

    def single(x, weights):
        return ((0, 0), weights, ("single", 1), ("wide", x))

    def packed(pair, weights):
        return (pair, weights, ("single", 0), ("wide", rng.randint(xlo, xhi)))   # wide ignored

    sequences = [
        [single(xlo, lanes)] * taps,
        [packed((top, 0), lanes)] * 5,
        [single(xhi, lanes)] * taps,
        [single(rng.randint(xlo, xhi), [rng.randint(*bounds.weight_range(spec)) for _ in lanes])
         for _ in range(taps)],
        [packed((rng.randint(0, top), rng.randint(0, top)), lanes) for _ in range(9)],
    ]
    got = run_sequences(pe, sequences, seed=3, stall=0.3)

    def want(seq):
        if seq[0][2] == ("single", 1):
            sums = [sum(beat[3][1] * weights[l] for beat in seq for weights in [beat[1]]) for l in range(len(lanes))]
            return [sums, [0] * len(sums)]
        return exact([(value, weights) for value, weights, *_ in seq], len(lanes))
    assert got == [want(seq) for seq in sequences]
    lo, hi = bounds.accumulator_range(spec, "conv1")
    reached = [v for g in got[:3:2] for v in g[0]]
    assert min(reached) == lo and max(reached) == hi, (min(reached), max(reached), lo, hi)


@pytest.mark.parametrize("make", [
    lambda: PackedConvPE(lanes=2, act_bits=4, weight_width=8, acc_width=19),
    lambda: PackedConvPE(lanes=2, act_bits=4, weight_width=8, acc_width=19, dsp_macc=True, primitive=False),
    lambda: PackedSharedWeightArray(pe_count=3, lanes=2, act_bits=4, weight_width=8, acc_width=19),
])
def test_latency_is_counted_in_handshake_cycles(make):
    """``o.valid`` rises ``latency`` (2) cycles after the handshake of a ``last`` beat,
    (the handshake edge counted, as the Conv PE testbenches count it)."""
    block = make()
    field = "value" if isinstance(block, PackedConvPE) else "values"
    width = 2 if field == "value" else block.pe_count
    seen = {}

    _, outputs, sums = _outputs(block)

    async def bench(ctx):
        for o in outputs:
            ctx.set(o.ready, 1)
        ctx.set(block.i.payload, {field: [3] * width, "weight": [-5, 7], "last": 1})
        ctx.set(block.i.valid, 1)
        assert ctx.get(block.i.ready)
        await ctx.tick()                       # the handshake
        ctx.set(block.i.valid, 0)
        for cycle in range(1, 6):
            if ctx.get(outputs[0].valid) and "valid" not in seen:
                seen["valid"] = cycle          # clock edges, the handshake's the first
                seen["sums"] = ctx.get(sums(0)[1])
            await ctx.tick()

    sim = Simulator(block)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"valid": block.latency, "sums": 21} and block.latency == 2, seen


@pytest.mark.parametrize("pe_count", [3, 4])
def test_packed_array_matches_the_shared_weight_array_sums(pe_count):
    """PackedSharedWeightArray: ``pe_count`` pixels (an odd count leaves the last packed PE
    half empty) with one weight word, sums exact against integer arithmetic, at tiny's
    widest pw bound (all-corner sequences) and on random ones, under back-pressure; and
    half the DSP48E2 of the unpacked array, rounded up."""
    spec, field, worst = worst_pointwise("tiny")
    taps = bounds.taps(spec, worst)
    wlo, whi = bounds.weight_range(spec)
    top, lanes = spec.quant.act_max, [wlo, whi, 1, -1]
    array = PackedSharedWeightArray(pe_count=pe_count, lanes=len(lanes), act_bits=spec.quant.act_bits,
                                    weight_width=spec.quant.weight_bits, acc_width=field)
    assert array.dsp48e2 == -(-pe_count // 2) * len(lanes)
    rng = random.Random(pe_count)
    corner = [([top] * pe_count, lanes)] * taps
    alternating = [([top * (p % 2) for p in range(pe_count)], lanes)] * taps
    randoms = [[([rng.randint(0, top) for _ in range(pe_count)], [rng.randint(wlo, whi) for _ in lanes])
                for _ in range(rng.randint(1, 40))] for _ in range(6)]
    sequences = [corner, alternating, *randoms]
    got = run_sequences(array, sequences, seed=pe_count, stall=0.3, field="values")
    assert got == [exact(seq, array.lanes) for seq in sequences]
    assert min(got[0][0]) == bounds.accumulator_range(spec, worst)[0]


@pytest.mark.parametrize("make, name, bad", [
    (lambda v: PackedConvPE(lanes=v, act_bits=4, weight_width=8, acc_width=21), "lanes", 0),
    (lambda v: PackedConvPE(lanes=4, act_bits=4, weight_width=v, acc_width=21), "weight_width", 19),
    (lambda v: PackedConvPE(lanes=4, act_bits=4, weight_width=8, acc_width=v), "acc_width", 23),
    (lambda v: PackedConvPE(lanes=4, act_bits=v, weight_width=8, acc_width=21), "act_bits", 9),
    (lambda v: PackedConvPE(lanes=4, act_bits=4, weight_width=8, acc_width=21, single_bits=v), "single_bits", 28),
    (lambda v: PackedConvPE(lanes=4, act_bits=4, weight_width=8, acc_width=21, single_bits=v), "single_bits", 1),
])
def test_bad_parameter_is_named(make, name, bad):
    with pytest.raises(ValueError, match=rf"{name} must .*{bad}"):
        make(bad)


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")
@pytest.mark.parametrize("preset", ["tiny", "rr-mobilenet"])
def test_yosys_maps_two_products_to_one_dsp_and_no_fabric_multiplier(preset, tmp_path):
    """One DSP48E2 per lane (two products), and no multiplier in LUTs beside it: the
    fabric holds only the accumulate (2F + 1 bits) and the split (F + 1 bits), at most one
    LUT per adder bit, where a second 4 x 8 product in LUTs alone costs about
    ``DepthwisePE.LUT_PRODUCT_LUT_FF[0]`` (40) LUTs more per lane."""
    from hw.blocks.dw_pe import DepthwisePE
    from hw.flow.synth import synth
    from hw.flow.verilog import write_block_verilog
    from hw.top.catalog import build_block
    spec = load_preset(preset)
    pe = build_block("conv_pe_packed", spec)
    result = synth(write_block_verilog("conv_pe_packed", spec, tmp_path), "rrm_conv_pe_packed",
                   tmp_path / "synth", "top").total
    field = pe.field_width
    assert result.dsp == pe.dsp48e2 == pe.lanes, result.as_dict()       # 2 * lanes products
    lut_per_lane = result.lut / pe.lanes
    assert lut_per_lane <= 3 * field + 2 < lut_per_lane + DepthwisePE.LUT_PRODUCT_LUT_FF[0], result.as_dict()
    lut, ff = PackedConvPE.LANE_LUT_FF
    assert abs(lut_per_lane - lut) <= 0.1 * lut and abs(result.ff / pe.lanes - ff) <= 0.1 * ff, result.as_dict()


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")
def test_yosys_maps_the_packed_array_to_half_the_shared_arrays_dsps(tmp_path):
    """tiny (2 PEs x 8 lanes): the packed array is 8 DSP48E2 for the 16 products per cycle
    that the unpacked shared-weight array spends 16 on."""
    from hw.flow.synth import synth
    from hw.flow.verilog import write_block_verilog
    spec = load_preset("tiny")
    figures = {}
    for block in ("conv_pe_array_packed", "conv_pe_array_shared"):
        figures[block] = synth(write_block_verilog(block, spec, tmp_path / block), f"rrm_{block}",
                               tmp_path / block / "synth", "top").total
    hw = spec.hardware
    assert figures["conv_pe_array_shared"].dsp == hw.pe_count * hw.lanes
    assert figures["conv_pe_array_packed"].dsp == -(-hw.pe_count // 2) * hw.lanes, figures


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not on the PATH")
def test_yosys_maps_the_dsp_macc_pe_to_its_dsp48e2s_and_the_output_register(tmp_path):
    """With ``dsp_macc`` (rr-mobilenet-packed's PE at 16 of its 64 lanes): one DSP48E2 per lane
    and in fabric only the 2F-bit output register per lane and the PE's few control bits; no
    adder (the fabric accumulator's 44 LUT a lane are gone), as ``DSP_MACC_LANE_LUT_FF`` says."""
    from amaranth.back import verilog

    from hw.blocks.parameters import packed_parameters
    from hw.flow.synth import synth
    packed = load_preset("rr-mobilenet-packed")
    pe = PackedConvPE(**{**packed_parameters(packed), "lanes": 16, "dsp_macc": True})
    (tmp_path / "pe.v").write_text(verilog.convert(pe, name="pe"))
    result = synth(tmp_path / "pe.v", "pe", tmp_path / "synth", "top").total
    assert result.dsp == pe.dsp48e2 == pe.lanes, result.as_dict()
    assert result.lut < 24, result.as_dict()      # the PE's control only, whatever its lanes (no adder)
    assert pe.lane_lut_ff == PackedConvPE.DSP_MACC_LANE_LUT_FF
    assert 2 * pe.field_width * pe.lanes <= result.ff <= 2 * pe.field_width * pe.lanes + 16, result.as_dict()
    assert abs(result.ff / pe.lanes - PackedConvPE.DSP_MACC_LANE_LUT_FF[1]) <= 0.1 * PackedConvPE.DSP_MACC_LANE_LUT_FF[1]
