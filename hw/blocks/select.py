"""Selecting one element of an array by a signal: a multiplexer, not a shifter.

Amaranth lowers a dynamic index (``view[index]`` on an ``ArrayLayout`` view,
``value.word_select(index, width)``) to a right shift by ``index * width``. Yosys 0.23
turns a shift by a multiple of a power of two into a multiplexer, but any other element
width (an accumulator of 21 bits x 32 lanes, a word of 12 pixel slots, a window tap of
3 channels) becomes a barrel shifter over the whole array: a 12-way select of 672-bit
elements took 25,000 LUTs where a multiplexer takes 3,200. :func:`select` builds the
multiplexer (Amaranth's ``Array``, a ``$pmux``/``$bmux`` for Yosys) whatever the width.
Combinational: no latency.
"""

from __future__ import annotations

from amaranth.hdl import Array, Value
from amaranth.lib import data


def select(array, index):
    """Element ``index`` of ``array`` (an ``ArrayLayout`` view, or a list of values or views
    of one shape), as a multiplexer. An index past the last element gives 0; a single
    element is returned whatever the index."""
    if isinstance(array, data.View):
        layout = data.Layout.cast(array.shape())
        if not isinstance(layout, data.ArrayLayout):
            raise TypeError(f"select needs an ArrayLayout view or a list, not a view of {layout!r}")
        items = [array[k] for k in range(layout.length)]
    else:
        items = list(array)
    if not items:
        raise ValueError("select needs at least one element")
    if len(items) == 1:
        return items[0]
    chosen = Array(Value.cast(item) for item in items)[index]
    if isinstance(items[0], data.View):
        return data.Layout.cast(items[0].shape())(chosen)
    return chosen
