"""Packing Python values into Amaranth stream payload bits and back (layouts, arrays, shapes).

Amaranth flattens a payload of a ``lib.data`` layout into one vector port
(``i__payload``); these helpers turn nested Python values (ints, lists for
``ArrayLayout``, dicts for ``StructLayout``) into that integer and back,
sign-extending signed fields.
"""

from __future__ import annotations

from amaranth.hdl import Shape
from amaranth.lib import data

from hw.engines.image_loader import pixel_bits


def width(shape) -> int:
    """Bits of a shape or layout."""
    if isinstance(shape, data.Layout):
        return shape.size
    return Shape.cast(shape).width


def pack(shape, value) -> int:
    """The payload bits of ``value`` (an int, a list or a dict, following ``shape``)."""
    if isinstance(shape, data.ArrayLayout):
        step = width(shape.elem_shape)
        if len(value) != shape.length:
            raise ValueError(f"array of {shape.length} expected, got {len(value)} values")
        bits = 0
        for index, item in enumerate(value):
            bits |= pack(shape.elem_shape, item) << (index * step)
        return bits
    if isinstance(shape, data.StructLayout):
        bits = 0
        for name, field in shape:
            bits |= pack(field.shape, value[name]) << field.offset
        return bits
    shape = Shape.cast(shape)
    value = int(value)
    lo, hi = (-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1) if shape.signed \
        else (0, (1 << shape.width) - 1)
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit {shape}")
    return value & ((1 << shape.width) - 1)


def unpack(shape, bits: int):
    """Nested Python value of payload ``bits`` (the inverse of :func:`pack`)."""
    if isinstance(shape, data.ArrayLayout):
        step = width(shape.elem_shape)
        return [unpack(shape.elem_shape, bits >> (index * step)) for index in range(shape.length)]
    if isinstance(shape, data.StructLayout):
        return {name: unpack(field.shape, bits >> field.offset) for name, field in shape}
    shape = Shape.cast(shape)
    value = bits & ((1 << shape.width) - 1)
    if shape.signed and value >> (shape.width - 1):
        value -= 1 << shape.width
    return value


def random_value(shape, rng):
    """A random nested Python value of ``shape`` (every field uniform over its range);
    ``rng`` is a :class:`random.Random`."""
    if isinstance(shape, data.ArrayLayout):
        return [random_value(shape.elem_shape, rng) for _ in range(shape.length)]
    if isinstance(shape, data.StructLayout):
        return {name: random_value(field.shape, rng) for name, field in shape}
    shape = Shape.cast(shape)
    if shape.signed:
        return rng.randint(-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1)
    return rng.randint(0, (1 << shape.width) - 1)


def image_beat_values(spec, image) -> list:
    """The ``data`` value of each beat of an (H, W, C) image on the ``image`` stream, raster
    order: ``image_pixels`` pixels a beat, channel c of the beat's pixel k in byte
    ``k * C + c`` (whole bytes per value: :func:`hw.engines.image_loader.pixel_bits`)."""
    byte_bits = pixel_bits(spec) // spec.network.input_channels
    beats = image.reshape(-1, spec.hardware.image_pixels * image.shape[-1])
    return [sum(int(value) << (b * byte_bits) for b, value in enumerate(beat)) for beat in beats]
