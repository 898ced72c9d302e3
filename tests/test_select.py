"""hw.blocks.select: an element of an array chosen by a signal, as a multiplexer."""

from __future__ import annotations

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.sim import Simulator

from hw.blocks.select import select

#: 3 x 3 elements of 5-bit signed values: a stride of 15 bits, not a power of two.
GRID = data.ArrayLayout(data.ArrayLayout(signed(5), 3), 3)


def run(m, inputs, outputs, cases):
    """For each (input values, expected output values) case: set, settle, compare."""
    sim = Simulator(m)
    seen = []

    async def bench(ctx):
        for values, _expected in cases:
            for signal, value in zip(inputs, values):
                ctx.set(signal, value)
            seen.append(tuple(ctx.get(out) for out in outputs))

    sim.add_testbench(bench)
    sim.run()
    assert seen == [expected for _values, expected in cases]


def test_nested_views_select_like_indexing_and_past_the_end_gives_zero():
    grid, row, col = Signal(GRID), Signal(2), Signal(2)
    out = Signal(signed(5))
    m = Module()
    m.d.comb += out.eq(select(select(grid, row), col))
    contents = {(r, c): r * 3 + c - 4 for r in range(3) for c in range(3)}
    flat = 0
    for (r, c), value in contents.items():
        flat |= (value & 31) << ((r * 3 + c) * 5)
    cases = [((flat, r, c), (contents[r, c],)) for r in range(3) for c in range(3)]
    cases += [((flat, 3, 0), (0,))]
    run(m, [grid.as_value(), row, col], [out], cases)


def test_a_list_of_values_and_a_single_element():
    items = [Signal(unsigned(7), name=f"v{k}") for k in range(5)]
    index = Signal(3)
    out, only = Signal(7), Signal(7)
    m = Module()
    m.d.comb += [out.eq(select(items, index)), only.eq(select(items[:1], index))]
    cases = [((11, 22, 33, 44, 55, k), ((11, 22, 33, 44, 55)[k], 11)) for k in range(5)]
    run(m, [*items, index], [out, only], cases)


def test_no_shifter_in_the_netlist():
    """A dynamic index by itself lowers to a shift by index x 15 (Yosys: a barrel shifter);
    select gives a multiplexer."""
    grid, row = Signal(GRID), Signal(2)
    out = Signal(GRID.elem_shape)
    m = Module()
    m.d.comb += out.eq(select(grid, row))
    text = rtlil.convert(m, ports=[grid.as_value(), row, out.as_value()])
    assert "$shr" not in text and "$shift" not in text
    m2 = Module()
    m2.d.comb += out.eq(grid[row])
    indexed = rtlil.convert(m2, ports=[grid.as_value(), row, out.as_value()])
    assert "$shr" in indexed or "$shift" in indexed


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="at least one"):
        select([], Signal(1))
    with pytest.raises(TypeError, match="ArrayLayout"):
        select(Signal(data.StructLayout({"a": 4})), Signal(1))


def test_select_one_hot_is_select_for_every_index_and_zero_past_the_end():
    from hw.blocks.select import one_hot, select_one_hot
    grid, row, col = Signal(GRID), Signal(2), Signal(2)
    out = Signal(signed(5))
    m = Module()
    m.d.comb += out.eq(select_one_hot(select_one_hot(grid, one_hot(row, 3)), one_hot(col, 3)))
    contents = {(r, c): r * 3 + c - 4 for r in range(3) for c in range(3)}
    flat = 0
    for (r, c), value in contents.items():
        flat |= (value & 31) << ((r * 3 + c) * 5)
    cases = [((flat, r, c), (contents[r, c],)) for r in range(3) for c in range(3)]
    cases += [((flat, 3, 0), (0,)), ((flat, 1, 3), (0,))]      # no bit set: 0, as select
    run(m, [grid.as_value(), row, col], [out], cases)
    with pytest.raises(ValueError, match="2 bits of hot for 3 elements"):
        select_one_hot([Signal(4)] * 3, Signal(2))
