"""Pipelined adder tree: a sum of many terms with one register level per addition level."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value, signed


def tree_depth(count: int) -> int:
    """Register levels of :func:`pipelined_sum` for ``count`` terms: ceil(log2(count))."""
    if count < 1:
        raise ValueError(f"count must be >= 1, not {count!r}")
    return (count - 1).bit_length()


def pipelined_sum(m: Module, terms: list[Value], width: int, enable: Value,
                  name: str = "sum") -> Value:
    """Sum of ``terms`` in a binary tree with a register after every level.

    Each level adds pairs of the previous level (an odd one out is passed on) and
    registers the result when ``enable`` is high (the stall-all pipeline's advance).
    Returns the root, ``tree_depth(len(terms))`` cycles after the terms (the terms
    themselves unregistered: zero levels for a single term). Every node is
    ``signed(width)``: the caller sizes ``width`` so the full sum cannot overflow.
    The nodes have no reset (``reset_less``): they are data, and the caller's valid bits,
    which do reset, say which of them hold a sum (nor do they load the reset net).
    """
    if not terms:
        raise ValueError("pipelined_sum needs at least one term")
    level = list(terms)
    depth = 0
    while len(level) > 1:
        nxt = []
        for index in range(0, len(level), 2):
            node = Signal(signed(width), name=f"{name}_l{depth}_{index // 2}", reset_less=True)
            pair = level[index:index + 2]
            with m.If(enable):
                m.d.sync += node.eq(pair[0] + pair[1] if len(pair) == 2 else pair[0])
            nxt.append(node)
        level = nxt
        depth += 1
    return level[0]
