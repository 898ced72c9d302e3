"""The image loader: input pixels into the image ring in FM buffer Q (docs/design.md §3.4).

Pixels (one beat = ``image_pixels`` pixels, channels-last bytes, the first pixel in the
low bytes) are shifted to signed values (``p - 2**(input_bits-1)``) and gathered
``pe_count`` per word, each word written on the
loader's own request (conv1 runs meanwhile and writes buffer P). Q holds the image as a
ring of ``image_ring`` words: image word w goes to address ``w % image_ring``, and a
pixel of word w is taken only once conv1's reader is on word ``w - image_ring + 1`` or
later, so the word it overwrites has been read. Where the ring holds the whole image
nothing ever waits.

``begin`` (from the sequencer) starts an image: ``inputting`` is high until its last
word is written, ``error`` is set if ``last`` comes on any pixel but the final one.
``ring.readable`` counts the words a read port can return (two cycles after their
write: the read ports are not transparent).

Latency: one beat per cycle while the ring has room; a word is written the cycle after
its last pixel, readable two cycles later.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rrm.sizing import sizing
from rrm.spec import Spec

from .interfaces import ImageRing, ImageWrite, ram_shapes


def pixel_bits(spec: Spec) -> int:
    """Bits of one image pixel: ``input_channels`` bytes (wider inputs in whole bytes)."""
    return 8 * -(-spec.quant.input_bits // 8) * spec.network.input_channels


def image_beat_bits(spec: Spec) -> int:
    """Bits of one image beat: ``image_pixels`` pixels."""
    return spec.hardware.image_pixels * pixel_bits(spec)


class ImageLoader(wiring.Component):
    """Members: ``image`` In(stream of {data, last}); ``begin``, ``busy`` In; ``inputting``,
    ``error`` Out; ``write`` Out(ImageWrite) into buffer Q; ``ring`` Out(ImageRing)."""

    def __init__(self, spec: Spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.spec = spec
        self.mmap = mmap = sizing(spec).memories
        mmap.check_image_fits(spec)
        self.pe_count = spec.hardware.pe_count
        self.byte_bits = 8 * -(-spec.quant.input_bits // 8)
        super().__init__({
            "image": In(stream.Signature(data.StructLayout(
                {"data": unsigned(image_beat_bits(spec)), "last": 1}))),
            "begin": In(1),
            "busy": In(1),
            "inputting": Out(1),
            "error": Out(1),
            "write": Out(ImageWrite(ram_shapes(spec))),
            "ring": Out(ImageRing(mmap)),
        })

    def elaborate(self, platform):
        m = Module()
        spec, mmap, P = self.spec, self.mmap, self.pe_count
        channels, bits, byte_bits = spec.network.input_channels, spec.quant.input_bits, self.byte_bits
        n = spec.hardware.image_pixels
        beats = spec.network.input_size ** 2 // n    # n divides it (MemoryMap.check_image_fits)
        per_word = P // n                           # beats per word (n divides pe_count)
        ring = mmap.image_ring
        slot_bits = mmap.slot_bits
        wr = self.write
        count = Signal(range(beats + 1))
        slot = Signal(range(per_word))      # the beat's place in its word
        # a pixel's value fills the low channels x bits of its slot, the rest of the slot
        # is zero: only those bits are gathered and registered (the slot is lanes x act_bits,
        # 256 bits at 64 lanes, against 24 of a pixel)
        value_bits = channels * bits
        gather = Signal(P * value_bits)
        written = Signal(range(mmap.image_words + 1))   # words written so far
        beat_bits = n * value_bits                  # the values of one beat's pixels
        value = Signal(beat_bits)
        for c in range(n * channels):               # pixel c // channels, channel c % channels
            byte = self.image.payload.data[c * byte_bits:(c + 1) * byte_bits]
            m.d.comb += value[c * bits:(c + 1) * bits].eq(byte[:bits] - (1 << (bits - 1)))
        # written + wr.en: the word being gathered counts once its write is under way
        ring_free = written + wr.en < self.ring.reader_word + ring
        m.d.comb += self.image.ready.eq(self.inputting & (count != beats) & ring_free)
        fire = self.image.valid & self.image.ready
        merged = Signal(P * value_bits)
        for s in range(per_word):
            m.d.comb += merged[s * beat_bits:(s + 1) * beat_bits].eq(
                Mux(slot == s, value, gather[s * beat_bits:(s + 1) * beat_bits]))
        word_values = Signal(P * value_bits)            # the word being written, its values
        m.d.comb += wr.data.eq(Cat(*(Cat(word_values[s * value_bits:(s + 1) * value_bits],
                                         Const(0, slot_bits - value_bits)) for s in range(P))))
        m.d.sync += [wr.en.eq(0), self.ring.readable.eq(written)]
        with m.If(wr.en):
            m.d.sync += [written.eq(written + 1),
                         wr.addr.eq(Mux(wr.addr == ring - 1, 0, wr.addr + 1))]
        with m.If(~self.busy):   # idle: the next image starts from word 0
            m.d.sync += [count.eq(0), slot.eq(0), wr.addr.eq(0), written.eq(0), self.ring.readable.eq(0)]
        with m.Elif(fire):
            m.d.sync += [gather.eq(merged), count.eq(count + 1)]
            final = count == beats - 1
            with m.If(self.image.payload.last != final):
                m.d.sync += self.error.eq(1)
            with m.If((slot == per_word - 1) | final):
                m.d.sync += [wr.en.eq(1), word_values.eq(merged), slot.eq(0)]
            with m.Else():
                m.d.sync += slot.eq(slot + 1)
        # The last word is written the cycle after the last beat.
        with m.If(self.inputting & (count == beats) & ~wr.en):
            m.d.sync += self.inputting.eq(0)
        with m.If(self.begin):
            m.d.sync += [self.inputting.eq(1), self.error.eq(0)]
        return m
