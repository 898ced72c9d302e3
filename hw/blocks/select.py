"""Selecting one element of an array by a signal: a multiplexer, not a shifter.

Amaranth lowers a dynamic index (``view[index]`` on an ``ArrayLayout`` view,
``value.word_select(index, width)``) to a right shift by ``index * width``. Yosys 0.23
turns a shift by a multiple of a power of two into a multiplexer, but any other element
width (an accumulator of 21 bits x 32 lanes, a word of 12 pixel slots, a window tap of
3 channels) becomes a barrel shifter over the whole array: a 12-way select of 672-bit
elements took 25,000 LUTs where a multiplexer takes 3,200. :func:`select` builds the
multiplexer (Amaranth's ``Array``, a ``$pmux``/``$bmux`` for Yosys) whatever the width.
Where the index is known a cycle ahead, :func:`select_one_hot` takes it registered one-hot
and ANDs and ORs instead: Yosys 0.23 maps a wide ``$bmux`` as cascaded multiplexer trees
(12 logic levels for the 288-way select in front of rr-mobilenet's Conv PEs), an AND-OR
of a one-hot index maps to LUTs about log6 deep. Combinational: no latency.
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Mux, Value
from amaranth.lib import data


def select(array, index):
    """Element ``index`` of ``array`` (an ``ArrayLayout`` view, or a list of values or views
    of one shape), as a multiplexer. An index past the last element gives 0; a single
    element is returned whatever the index."""
    items = _items(array)
    if not items:
        raise ValueError("select needs at least one element")
    if len(items) == 1:
        return items[0]
    chosen = Array(Value.cast(item) for item in items)[index]
    if isinstance(items[0], data.View):
        return data.Layout.cast(items[0].shape())(chosen)
    return chosen


def _items(array) -> list:
    if isinstance(array, data.View):
        layout = data.Layout.cast(array.shape())
        if not isinstance(layout, data.ArrayLayout):
            raise TypeError(f"select needs an ArrayLayout view or a list, not a view of {layout!r}")
        return [array[k] for k in range(layout.length)]
    return list(array)


def one_hot(index, count: int) -> Value:
    """``count`` bits with bit ``index`` set (none when ``index`` >= ``count``): register it
    a cycle ahead for :func:`select_one_hot`."""
    return (Const(1, count) << index)[:count]


def select_one_hot(array, hot):
    """Element ``k`` of ``array`` (as :func:`select`) where bit ``k`` of ``hot`` is the only
    bit set, 0 where none is: an OR of ANDs, no multiplexer tree. ``hot`` has one bit per
    element (:func:`one_hot`)."""
    items = _items(array)
    if not items:
        raise ValueError("select_one_hot needs at least one element")
    if len(hot) != len(items):
        raise ValueError(f"select_one_hot: {len(hot)} bits of hot for {len(items)} elements")
    chosen = Mux(hot[0], Value.cast(items[0]), 0)
    for k in range(1, len(items)):
        chosen = chosen | Mux(hot[k], Value.cast(items[k]), 0)
    if isinstance(items[0], data.View):
        return data.Layout.cast(items[0].shape())(chosen[:len(Value.cast(items[0]))])
    return chosen[:len(Value.cast(items[0]))]
