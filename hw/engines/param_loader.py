"""The parameter loader: the parameter stream into the parameter RAMs (docs/design.md §3.3).

The stream (:mod:`rrm.param_stream`) is the magic word, the spec hash, then each RAM of
:attr:`rrm.memory_map.MemoryMap.param_rams` in order, each word assembled from
``beat_bits``-bit beats (32 by default; 64 or 128), least significant first. A wrong magic or hash, or a stream cut short or too
long (``last`` on any but the final beat, or missing there), sets ``error`` and the rest
of the stream is swallowed; ``loaded`` goes high the cycle after the final word is
written. Images are refused meanwhile: the sequencer waits for ``idle``.

Latency: one beat per cycle (a stream of :func:`rrm.param_stream.stream_length` beats) (``ready`` high except while an image is in flight, when a
new stream may not begin); ``loaded`` two cycles after the final beat.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rrm.memory_map import PARAM_BEAT_BITS, PARAM_MAGIC
from rrm.param_stream import check_beat_bits, stream_length
from rrm.sizing import sizing
from rrm.spec import Spec

from .interfaces import ram_shapes


class ParamLoader(wiring.Component):
    """Members: ``param`` In(stream of {data: ``beat_bits`` bits, last}); one write port per
    parameter RAM, named as the RAM (``dw``, ``pw``, ``bn``, ``fc_bias``, ``shift``);
    ``busy`` In (an image is in flight); ``loaded``, ``error``, ``idle`` Out."""

    def __init__(self, spec: Spec, *, preloaded: bool = False, beat_bits: int = PARAM_BEAT_BITS):
        if not isinstance(spec, Spec):
            raise TypeError(f"spec must be a Spec, not {spec!r}")
        self.beat_bits = check_beat_bits(beat_bits)
        self.mmap = sizing(spec).memories
        #: The RAMs come initialised: ``loaded`` is 1 from power-up.
        self.preloaded = bool(preloaded)
        shapes = ram_shapes(spec)
        self.regions = self.mmap.param_rams
        members = {
            "param": In(stream.Signature(data.StructLayout(
                {"data": unsigned(self.beat_bits), "last": 1}))),
            "busy": In(1),
            "loaded": Out(1),
            "error": Out(1),
            "idle": Out(1),
        }
        for region in self.regions:
            members[region.name] = Out(shapes.write(region.name))
        super().__init__(members)

    @staticmethod
    def beats(spec: Spec, beat_bits: int = PARAM_BEAT_BITS) -> int:
        """Beats of a complete parameter stream for ``spec`` (magic, hash, every RAM word)."""
        return stream_length(sizing(spec).memories, beat_bits)

    def elaborate(self, platform):
        m = Module()
        regions = self.regions
        beat_bits = self.beat_bits
        beats = [-(-r.width // beat_bits) for r in regions]
        widest = max(beats) * beat_bits
        ports = [getattr(self, r.name) for r in regions]
        region = Signal(range(len(regions) + 1))
        word = Signal(range(max(r.depth for r in regions) + 1))
        chunk = Signal(range(max(beats) + 1))
        assembled = Signal(widest)
        commit = Signal()
        commit_region = Signal.like(region)
        commit_addr = Signal.like(word)
        loaded = Signal(reset_less=True, init=int(self.preloaded))
        finishing = Signal()
        m.d.comb += self.loaded.eq(loaded)
        m.d.sync += commit.eq(0)
        for index, (port, ram) in enumerate(zip(ports, regions)):
            m.d.comb += [port.addr.eq(commit_addr),
                         port.data.eq(assembled[:ram.width]),
                         port.en.eq(commit & (commit_region == index))]
        with m.If(commit & finishing):
            m.d.sync += [loaded.eq(1), finishing.eq(0)]

        beat = self.param.payload.data
        last = self.param.payload.last
        fire = self.param.valid & self.param.ready
        last_region = region == len(regions) - 1
        # The current region's last chunk and last word, constants selected by ``region``
        # (a subtraction after the select was the loader's longest path). Past the last
        # region both are 0, but BODY has left by then (the last region's final word ends it).
        region_last_chunk = Signal.like(chunk)
        region_last_word = Signal.like(word)
        for index, r in enumerate(regions):
            with m.If(region == index):
                m.d.comb += [region_last_chunk.eq(beats[index] - 1), region_last_word.eq(r.depth - 1)]

        def refuse():
            """Flag the stream and swallow the rest of it, unless this beat ends it."""
            m.d.sync += self.error.eq(1)
            m.next = "DRAIN"
            with m.If(last):
                m.next = "MAGIC"

        with m.FSM(name="param_loader"):
            with m.State("MAGIC"):
                m.d.comb += [self.idle.eq(~finishing & ~commit), self.param.ready.eq(~self.busy)]
                with m.If(fire):
                    m.d.sync += [loaded.eq(0), self.error.eq(0)]
                    with m.If((beat != PARAM_MAGIC) | last):
                        refuse()
                    with m.Else():
                        m.next = "HASH"
            with m.State("HASH"):
                m.d.comb += self.param.ready.eq(1)
                with m.If(fire):
                    m.d.sync += [region.eq(0), word.eq(0), chunk.eq(0)]
                    with m.If((beat != self.mmap.spec_hash) | last):
                        refuse()
                    with m.Else():
                        m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += self.param.ready.eq(1)
                with m.If(fire):
                    m.d.sync += assembled.word_select(chunk, beat_bits).eq(beat)
                    final_chunk = chunk == region_last_chunk
                    final_word = word == region_last_word
                    with m.If(final_chunk):
                        m.d.sync += [chunk.eq(0), commit.eq(1), commit_region.eq(region),
                                     commit_addr.eq(word)]
                        with m.If(final_word):
                            m.d.sync += [word.eq(0), region.eq(region + 1)]
                        with m.Else():
                            m.d.sync += word.eq(word + 1)
                    with m.Else():
                        m.d.sync += chunk.eq(chunk + 1)
                    the_end = final_chunk & final_word & last_region
                    with m.If(the_end & last):
                        m.d.sync += finishing.eq(1)
                        m.next = "MAGIC"
                    with m.Elif(the_end | last):  # too long (no last on the final beat) or cut short
                        refuse()
            with m.State("DRAIN"):
                m.d.comb += self.param.ready.eq(1)
                with m.If(fire & last):
                    m.next = "MAGIC"
        return m
