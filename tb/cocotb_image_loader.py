"""cocotb test of the image loader alone (catalog block ``image_loader``).

cocotb plays the sequencer (a ``begin`` pulse, ``busy`` from the next cycle until the image's
words are in and ``inputting`` is low, then ``busy`` low for a few cycles) and conv1's reader
(``ring.reader_word``: it moves on by one word on random cycles while ``reader_word <
ring.readable``; held at 0 where a test says so). A monitor moves the reader at each falling
edge and then samples every port in the read-only phase. Checks, on every image:

- the k-th word written goes to address ``k % image_ring`` and holds pixels ``k*P ..``
  (``p - 2**(input_bits-1)``, two's complement, channel c of slot s at bit
  ``s*slot_bits + c*input_bits``; the slots past the image's last pixel are not looked at);
- a beat (``image_pixels`` pixels) of word w is taken only while ``reader_word >= w - image_ring + 1``, and ``ready``
  is high on exactly the cycles the loader is inputting, has beats left and that holds;
- ``ring.readable`` after edge e equals the words whose write request was seen by edge e-2;
- ``inputting`` drops after the final word's write, ``error`` follows ``last``.

Images: (1) reader held at 0 until the loader has stalled with the ring full for 50 cycles
(``ready`` low, ``valid`` high, exactly ``image_ring`` words written), then moving; pixels
with random gaps; (2) ``last`` also on beat 10: ``error`` set; (3) no ``last`` at all:
``error`` set; (4) a correct image: ``error`` clear again.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from amaranth.hdl import unsigned
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from hw.engines.image_loader import image_beat_bits
from rrm.sizing import sizing
from rrm.spec import Spec

from .payload import image_beat_values
from .streams import PERIOD_NS, StreamSource, current_cycle, random_pauses

HOLD_CYCLES = 50


class Monitor:
    def __init__(self, dut, spec):
        self.dut, self.spec = dut, spec
        mmap = sizing(spec).memories
        n = spec.hardware.image_pixels
        self.ring, self.beats = mmap.image_ring, spec.network.input_size ** 2 // n
        self.per_word = spec.hardware.pe_count // n      # beats per word
        self.hold = False
        self.reader = 0
        self.rng = random.Random(3)
        self.writes = []          # (edge, addr, data)
        self.taken = []           # (edge, beat data, last, reader_word at the handshake)
        self.write_edges = []
        self.errors = []
        self.stalled = 0          # consecutive cycles with valid high, ready low
        self.inputting_edges = []

    def reset_image(self):
        self.writes, self.taken, self.write_edges = [], [], []

    async def run(self):
        """Every cycle at the falling edge: conv1's reader moves on (or not), then everything
        is sampled in the read-only phase (``edge``: the rising edge that began the cycle)."""
        dut = self.dut
        while True:
            await FallingEdge(dut.clk)
            busy, readable = int(dut.busy.value), int(dut.ring__readable.value)
            if not busy:
                self.reader = 0
            elif not self.hold and self.reader < readable and self.rng.random() < 0.5:
                self.reader += 1
            dut.ring__reader_word.value = self.reader
            await ReadOnly()
            edge = current_cycle()
            valid, ready = int(dut.image__valid.value), int(dut.image__ready.value)
            inputting = int(dut.inputting.value)
            if int(dut.write__en.value):
                self.writes.append((edge, int(dut.write__addr.value), int(dut.write__data.value)))
                self.write_edges.append(edge)
            if busy:
                want_readable = sum(1 for e in self.write_edges if e <= edge - 2)
                if readable != want_readable:
                    self.errors.append(f"edge {edge}: readable {readable}, {want_readable} words written by edge {edge - 2}")
                count = len(self.taken)
                want_ready = int(inputting and count < self.beats
                                 and count // self.per_word <= self.reader + self.ring - 1)
                if ready != want_ready:
                    self.errors.append(f"edge {edge}: ready {ready}, expected {want_ready} (beat {count}, "
                                       f"reader on word {self.reader}, inputting {inputting})")
            if valid and ready:
                payload = int(dut.image__payload.value)
                bits = image_beat_bits(self.spec)
                self.taken.append((edge, payload & ((1 << bits) - 1), payload >> bits, self.reader))
            self.stalled = self.stalled + 1 if valid and not ready else 0


def expected_words(spec, image: np.ndarray) -> list:
    """(word, mask of the slots holding pixels) per image word."""
    mmap = sizing(spec).memories
    P, slot_bits, bits = spec.hardware.pe_count, mmap.slot_bits, spec.quant.input_bits
    flat = image.reshape(-1, image.shape[-1]).astype(np.int64)
    out = []
    for w in range(-(-len(flat) // P)):
        word = mask = 0
        for s in range(P):
            i = w * P + s
            if i >= len(flat):
                break
            mask |= ((1 << slot_bits) - 1) << (s * slot_bits)
            for c, p in enumerate(flat[i]):
                word |= ((int(p) - (1 << (bits - 1))) & ((1 << bits) - 1)) << (s * slot_bits + c * bits)
        out.append((word, mask))
    return out


def pixel_beats(spec, image, last_at) -> list:
    """The image's beats (``image_pixels`` pixels each, the first in the low bytes), ``last``
    on the beats numbered in ``last_at``."""
    return [{"data": value, "last": int(i in last_at)}
            for i, value in enumerate(image_beat_values(spec, image))]


@cocotb.test()
async def image_ring(dut):
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    spec = Spec.from_dict(config["spec"])
    mmap = sizing(spec).memories
    net = spec.network
    pixels = net.input_size ** 2
    beats = pixels // spec.hardware.image_pixels
    layout = data.StructLayout({"data": unsigned(image_beat_bits(spec)), "last": 1})
    rng = np.random.default_rng(config["seed"])

    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.begin.value = 0
    dut.busy.value = 0
    dut.ring__reader_word.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    monitor = Monitor(dut, spec)
    cocotb.start_soon(monitor.run())
    source = StreamSource(dut, "image", layout, random_pauses(17, 0.2))

    plans = [("held reader", [beats - 1]), ("last early", [10, beats - 1]), ("no last", []),
             ("correct", [beats - 1])]
    figures = []
    for name, last_at in plans:
        image = rng.integers(0, 256, (net.input_size, net.input_size, net.input_channels), dtype=np.uint8)
        monitor.reset_image()
        monitor.hold = name == "held reader"
        await RisingEdge(dut.clk)
        dut.begin.value = 1
        await RisingEdge(dut.clk)
        dut.begin.value = 0
        dut.busy.value = 1
        source.send_values(pixel_beats(spec, image, last_at))
        if monitor.hold:
            for _ in range(20 * pixels):
                await RisingEdge(dut.clk)
                if monitor.stalled >= HOLD_CYCLES:
                    break
            await ReadOnly()
            assert monitor.stalled >= HOLD_CYCLES, f"{name}: the loader never stalled"
            assert len(monitor.writes) == mmap.image_ring, \
                f"{name}: {len(monitor.writes)} words written with the reader on word 0, ring of {mmap.image_ring}"
            held = {"taken": len(monitor.taken), "written": len(monitor.writes),
                    "readable": int(dut.ring__readable.value)}
            await Timer(1, unit="ns")
            monitor.hold = False
        for _ in range(40 * pixels):
            await RisingEdge(dut.clk)
            await ReadOnly()
            if len(monitor.taken) == beats and not int(dut.inputting.value):
                break
        assert len(monitor.taken) == beats, \
            (f"{name}: {len(monitor.taken)} of {beats} beats taken; {len(monitor.writes)} words written, readable "
             f"{int(dut.ring__readable.value)}, reader on {monitor.reader}, valid {int(dut.image__valid.value)}, "
             f"ready {int(dut.image__ready.value)}, inputting {int(dut.inputting.value)}; "
             f"first mismatches {monitor.errors[:3]}")
        assert not int(dut.inputting.value), f"{name}: still inputting"
        error = int(dut.error.value)
        assert error == (name in ("last early", "no last")), f"{name}: error {error}"
        # the words, their addresses, the reader's position at each beat
        want = expected_words(spec, image)
        assert len(monitor.writes) == len(want), f"{name}: {len(monitor.writes)} words written, image has {len(want)}"
        for k, ((edge, addr, word), (golden, mask)) in enumerate(zip(monitor.writes, want)):
            assert addr == k % mmap.image_ring, f"{name}: word {k} written at {addr}"
            assert word & mask == golden, f"{name}: word {k}: {word & mask:#x}, image {golden:#x}"
        for i, (edge, _, _, reader) in enumerate(monitor.taken):
            w = i // monitor.per_word
            assert reader >= w - mmap.image_ring + 1, f"{name}: beat {i} (word {w}) taken with the reader on {reader}"
        assert monitor.writes[-1][0] < current_cycle(), f"{name}"
        # the slots of the last word past the image's last pixel (not checked): what they hold
        last_word, last_mask = monitor.writes[-1][2], want[-1][1]
        figures.append({"image": name, "error": error, "cycles": monitor.taken[-1][0] - monitor.taken[0][0] + 1,
                        "last_word_beyond_image": hex(last_word & ~last_mask),
                        "previous_word_same_bits": hex(monitor.writes[-2][2] & ~last_mask),
                        **({"held": held} if name == "held reader" else {})})
        await Timer(1, unit="ns")
        await RisingEdge(dut.clk)
        dut.busy.value = 0
        for _ in range(4):
            await RisingEdge(dut.clk)
        await ReadOnly()
        assert int(dut.ring__readable.value) == 0, "readable not cleared while idle"
        await Timer(1, unit="ns")
    assert not monitor.errors, f"{len(monitor.errors)} cycle mismatches; first: {monitor.errors[:5]}"
    dut._log.info("image loader: %s", figures)
    with open("result.json", "w") as out:
        json.dump(figures, out)
