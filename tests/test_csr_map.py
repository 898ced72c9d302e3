"""The register map definition (rrm.csr_map): well formed, its checks name a bad map, its table."""

from __future__ import annotations

import pytest

from rrm import csr_map
from rrm.csr_map import REGISTERS, Field, Register, check_map, markdown_table, register


def test_the_map_is_well_formed_and_in_the_window():
    check_map()
    addresses = [reg.address(i) for reg in REGISTERS for i in range(reg.count)]
    assert len(addresses) == len(set(addresses))
    assert max(addresses) < csr_map.WINDOW_BYTES == 1 << csr_map.ADDRESS_BITS


def test_fields_read_their_bits():
    status = register("STATUS")
    value = status.field("param_error").mask | status.field("busy").mask
    assert status.field("param_error").get(value) == 1
    assert status.field("params_loaded").get(value) == 0
    assert register("SHAPE").field("input_channels").get(0x3 << 12) == 3
    with pytest.raises(KeyError, match="no field 'nope'"):
        status.field("nope")
    with pytest.raises(KeyError, match="no register 'NOPE'"):
        register("NOPE")
    with pytest.raises(IndexError, match=r"LAYER_CYCLES\[64\]"):
        register("LAYER_CYCLES").address(64)


@pytest.mark.parametrize("registers, message", [
    ((Register("A", 0, "ro", ""), Register("B", 0, "ro", "")), "B overlaps A at 0x000"),
    ((Register("A", 2, "ro", ""),), "unaligned"),
    ((Register("A", 0xFFC, "ro", "", count=2),), "outside"),
    ((Register("A", 0, "rx", ""),), "access 'rx'"),
    ((Register("A", 0, "ro", "", (Field("x", 0, 4, ""), Field("y", 3, 2, ""))),), "A.y overlaps"),
    ((Register("A", 0, "ro", "", (Field("x", 30, 4, ""),)),), "leave 32 bits"),
])
def test_check_map_names_the_problem(registers, message):
    with pytest.raises(ValueError, match=message):
        check_map(registers)


def test_the_table_lists_every_register_and_field():
    table = markdown_table()
    for reg in REGISTERS:
        assert f"| 0x{reg.offset:03X}" in table and reg.name in table
        for field in reg.fields:
            assert f"| .{field.name} |" in table
