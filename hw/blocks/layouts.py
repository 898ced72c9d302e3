"""The stream payload layouts the hardware blocks share, defined once.

Every block builds its ``i``/``o`` payloads from these functions, so a block's
output and the next block's input are the same layout whenever the data is the
same (a pixel, a window, a lane word of weights, a lane word of sums), and
integration code can build the payloads that join them. Nested fields are
``amaranth.lib.data`` layouts; arrays are indexed as documented per function.
"""

from __future__ import annotations

from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data


def pixel_layout(value_shape, channels: int) -> data.ArrayLayout:
    """One pixel: ``channels`` values, indexed ``[channel]``."""
    return data.ArrayLayout(value_shape, channels)


def window_layout(value_shape, kernel: int, channels: int) -> data.ArrayLayout:
    """A K x K window of ``channels`` channels, indexed ``[i*K + j][channel]`` (row i, column j)."""
    return data.ArrayLayout(pixel_layout(value_shape, channels), kernel * kernel)


def framed_window_layout(value_shape, kernel: int, channels: int) -> data.StructLayout:
    """A window of a frame (the patch buffer's output): ``window`` (:func:`window_layout`)
    and ``last``, 1 on the final window of the frame."""
    return data.StructLayout({"window": window_layout(value_shape, kernel, channels), "last": 1})


def broadcast_layout(value_shape, kernel: int, channels: int) -> data.StructLayout:
    """One broadcast beat of a K x K x ``channels`` window (the Conv patch buffer's output):
    ``value``, its tap index ``tap = (c*K + i)*K + j``, ``last`` (1 on the window's final
    beat) and ``frame_last`` (1 on the final beat of the frame's final window)."""
    return data.StructLayout({
        "value": value_shape,
        "tap": range(kernel * kernel * channels),
        "last": 1,
        "frame_last": 1,
    })


def weights_layout(weight_width: int, lanes: int) -> data.ArrayLayout:
    """One weight per lane (a weight RAM word), indexed ``[lane]``."""
    return data.ArrayLayout(signed(weight_width), lanes)


def sums_layout(acc_width: int, lanes: int) -> data.ArrayLayout:
    """One accumulator per lane (a PE's output, BN's input ``acc``), indexed ``[lane]``."""
    return data.ArrayLayout(signed(acc_width), lanes)


def activations_layout(act_bits: int, lanes: int) -> data.ArrayLayout:
    """One activation per lane (BN's output), indexed ``[lane]``."""
    return data.ArrayLayout(unsigned(act_bits), lanes)


def depthwise_layout(value_shape, weight_width: int, kernel: int, lanes: int) -> data.StructLayout:
    """The depthwise PE's input: ``window`` and ``weight``, both :func:`window_layout`
    (values of ``value_shape`` and of ``signed(weight_width)``)."""
    return data.StructLayout({
        "window": window_layout(value_shape, kernel, lanes),
        "weight": window_layout(signed(weight_width), kernel, lanes),
    })


def conv_layout(value_shape, weight_width: int, lanes: int) -> data.StructLayout:
    """The Conv PE's input: ``value`` (broadcast to every lane), ``weight``
    (:func:`weights_layout`) and ``last`` (1 on the final beat of a sequence)."""
    return data.StructLayout({
        "value": value_shape,
        "weight": weights_layout(weight_width, lanes),
        "last": 1,
    })


def shared_conv_layout(value_shape, weight_width: int, lanes: int, pe_count: int) -> data.StructLayout:
    """The shared-weight Conv PE array's input: ``values`` (one per PE, ``[pe]``), one
    ``weight`` word for all PEs (:func:`weights_layout`) and ``last``."""
    return data.StructLayout({
        "values": data.ArrayLayout(value_shape, pe_count),
        "weight": weights_layout(weight_width, lanes),
        "last": 1,
    })


def bn_layout(acc_width: int, mult_width: int, bias_width: int, shift_bits: int,
              lanes: int) -> data.StructLayout:
    """BN + requantize's input: ``acc`` (:func:`sums_layout`), ``mult`` and ``bias`` (one
    signed value per lane) and the layer's ``shift``."""
    return data.StructLayout({
        "acc": sums_layout(acc_width, lanes),
        "mult": data.ArrayLayout(signed(mult_width), lanes),
        "bias": data.ArrayLayout(signed(bias_width), lanes),
        "shift": unsigned(shift_bits),
    })


def address_layout(addr_width: int, tag_shape) -> data.StructLayout:
    """A RAM read request (the RAM join's input): ``addr`` and a ``tag`` passed along."""
    return data.StructLayout({"addr": unsigned(addr_width), "tag": tag_shape})


def read_layout(data_shape, tag_shape) -> data.StructLayout:
    """A RAM read result (the RAM join's output): the word read (``data``) and the request's ``tag``."""
    return data.StructLayout({"data": data_shape, "tag": tag_shape})


def shape_of(shape):
    """``shape`` as a layout if it is one, else as a :class:`Shape` (for checks and widths)."""
    return shape if isinstance(shape, data.Layout) else Shape.cast(shape)


def pack_struct(layout: data.StructLayout, **fields):
    """One value with ``layout``'s bits, from one value per field (``Cat`` in offset order).

    Driving a wide payload with a single assignment instead of one per field or lane
    keeps event-driven simulators (Icarus) fast: each partial driver of a wide net
    re-sends the whole net to every reader.
    """
    from amaranth.hdl import Cat, Value
    members = sorted(((layout[name].offset, name) for name in layout.members), key=lambda x: x[0])
    if set(fields) != {name for _, name in members}:
        raise ValueError(f"pack_struct needs exactly the fields {sorted(layout.members)}, "
                         f"got {sorted(fields)}")
    parts, position = [], 0
    for offset, name in members:
        width = Shape.cast(layout[name].shape).width
        value = Value.cast(fields[name])
        if offset != position or len(value) != width:
            raise ValueError(f"pack_struct: field {name!r} is {len(value)} bits at {position}, "
                             f"the layout has {width} at {offset}")
        parts.append(value)
        position += width
    return Cat(*parts)
