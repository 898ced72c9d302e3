"""The hardware blocks without simulation: parameter checks, spec-derived widths, docstrings."""

import pytest
from amaranth.hdl import signed, unsigned

from hw.top.catalog import bn_parameters, build_block, conv_parameters, dw_parameters, fc_parameters
from hw.blocks.bn_requant import BnRequant
from hw.blocks.conv_pe import ConvPE
from hw.blocks.dw_pe import DepthwisePE
from hw.blocks.fc import FullyConnected
from hw.blocks.packed_pe import PackedConvPE
from hw.blocks.patch_broadcast import ConvPatchBuffer, PatchSerializer
from hw.blocks.patch_buffer import PatchBuffer
from hw.blocks.pe_array import PackedSharedWeightArray, PEArray, SharedWeightConvArray
from hw.blocks.ram_join import RamJoin
from hw.blocks.skid_buffer import SkidBuffer
from rrm import bounds
from rrm.errors import UserError
from rrm.presets import load_preset


@pytest.mark.parametrize("make, name, bad", [
    (lambda v: DepthwisePE(lanes=v, kernel=3, value_shape=unsigned(4), weight_width=8, acc_width=15),
     "lanes", 0),
    (lambda v: DepthwisePE(lanes=8, kernel=v, value_shape=unsigned(4), weight_width=8, acc_width=15),
     "kernel", 4),
    (lambda v: ConvPE(lanes=8, value_shape=signed(8), weight_width=v, acc_width=19), "weight_width", 1),
    (lambda v: SharedWeightConvArray(pe_count=v, lanes=8, value_shape=signed(8), weight_width=8,
                                     acc_width=19), "pe_count", 0),
    (lambda v: PatchBuffer(channels=8, kernel=3, value_shape=unsigned(4), max_height=v, max_width=8),
     "max_height", 0),
    (lambda v: BnRequant(lanes=8, acc_width=19, mult_width=16, bias_width=32, sum_width=35,
                         act_bits=4, max_shift=v), "max_shift", 63),
    (lambda v: FullyConnected(channels=v, classes=10, lanes=8, parallel=2, act_bits=4, pool_width=4,
                              weight_width=8, bias_width=32, logit_width=33), "channels", 0),
    (lambda v: FullyConnected(channels=16, classes=10, lanes=8, parallel=v, act_bits=4, pool_width=4,
                              weight_width=8, bias_width=32, logit_width=33), "parallel", 0),
])
def test_bad_parameter_is_named(make, name, bad):
    with pytest.raises(ValueError, match=rf"{name} must .*{bad}"):
        make(bad)


def test_unknown_block_is_a_user_error():
    with pytest.raises(UserError, match="no_such"):
        build_block("no_such", load_preset("tiny"))


@pytest.mark.parametrize("preset", ["tiny", "rr-mobilenet"])
def test_widths_come_from_the_golden_bounds(preset):
    spec = load_preset(preset)
    names = lambda *kinds: [l.name for l in spec.layers() if l.kind in kinds]
    assert dw_parameters(spec)["acc_width"] == max(bounds.accumulator_bits(spec, n) for n in names("dw"))
    assert conv_parameters(spec)["acc_width"] == max(bounds.accumulator_bits(spec, n)
                                                     for n in names("conv", "pw"))
    bn = bn_parameters(spec)
    assert bn["max_shift"] == max(bounds.max_useful_shift(spec, n) for n in names("conv", "dw", "pw"))
    assert bn["sum_width"] == max(bounds.signed_bits(*bounds.bn_sum_range(spec, n)) for n in names("conv", "dw", "pw"))
    fc = fc_parameters(spec)
    assert fc["logit_width"] == bounds.accumulator_bits(spec, "fc")
    assert 2 ** fc["pool_width"] > bounds.pool_range(spec)[1]


def test_every_block_documents_ports_latency_and_throughput():
    classes = (DepthwisePE, ConvPE, PackedConvPE, PEArray, PackedSharedWeightArray, SharedWeightConvArray,
               PatchBuffer, PatchSerializer,
               ConvPatchBuffer, BnRequant, FullyConnected, SkidBuffer, RamJoin)
    for cls in classes:
        doc = cls.__doc__ or ""
        for section in ("Members", "Latency", "Throughput"):
            assert section in doc, f"{cls.__name__} docstring lacks {section}"


def test_stream_primitives_name_a_bad_argument():
    from amaranth.lib.memory import Memory
    with pytest.raises(TypeError, match="shape must be a shape or layout, not 'wide'"):
        SkidBuffer("wide")
    with pytest.raises(TypeError, match="ram must be .* not 'ram'"):
        RamJoin("ram", tag_shape=1)
    memory = Memory(shape=8, depth=4, init=[])
    with pytest.raises(ValueError, match="synchronous read port, not one in domain 'comb'"):
        RamJoin(memory.read_port(domain="comb"), tag_shape=1)


def test_pe_geometry_is_exposed():
    """Every PE and PE array has pe_count and lanes (the testbenches rely on them)."""
    spec = load_preset("tiny")
    for name in ("dw_pe", "conv_pe", "dw_pe_array", "conv_pe_array", "conv_pe_array_shared"):
        block = build_block(name, spec)
        expected = 1 if name in ("dw_pe", "conv_pe") else spec.hardware.pe_count
        assert (block.pe_count, block.lanes) == (expected, spec.hardware.lanes), name
