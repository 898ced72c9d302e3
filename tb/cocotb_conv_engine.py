"""cocotb test of the Conv engine alone on one conv1 or pw layer (tb.conv_engine_harness).

After reset, ``go`` is raised (for conv1 the image is queued on the ``image`` stream at the
same time, without gaps or with random ones, config ``pause``, the probability of a pause
each cycle, and ``pause_cycles``, the cycles from the first beat on that may pause): the harness leaves IDLE on
``go`` (and, for conv1, the image's first valid beat), pulses the image loader's ``begin``,
steps FETCH, LATCH, SHIFT and START, then ``run`` until the engine's ``done`` with the image
taken whole, counting the cycles as the sequencer does. Every FM write request is recorded
(sampled in the read-only phase after each rising edge). Checks:

- every write goes to buffer ``~src``; pixel mode writes whole words (every slot enabled),
  group mode and ``serial_bn`` one slot per write; every slot of the output map written
  exactly once, at an address of the map (``out_blocks * out_groups`` words); as many
  write operations as the layer table's ``writes`` (times ``pe_count`` with ``serial_bn`` in
  pixel mode, whose P slots of a word are written one by one);
- the decoded output map equals golden's output of the layer (bit-exact);
- conv1: the loader's ``image_error`` stays low;
- ``cycles`` (first cycle after ``start`` to the cycle the layer ends, inclusive) equals
  ``ConvEngine.layer_cycles(spec, entry)`` (config ``exact``), or is at least that
  (an image with gaps);
- no write after the layer's end.

``result.json``: the layer, cycles, layer_cycles, write operations, and for conv1 the
cycles, while the loader was inputting and before the image's last pixel was taken, that
it held a valid beat back (``ring_waits``: the ring full) and that no beat was valid
(``gaps``).
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hw.engines.conv import ConvEngine
from rrm.sizing import sizing
from rrm.spec import Spec

from .conv_engine_harness import conv_case, image_layout
from .fm_maps import decode_map, map_difference
from .harness import record_engine_writes
from .streams import PERIOD_NS, StreamSource, random_pauses


def pauses(seed: int, probability: float, cycles: int | None):
    """Random pauses (each cycle with ``probability``), only in the first ``cycles`` cycles
    (all cycles if None)."""
    generator = random_pauses(seed, probability)
    count = 0
    while cycles is None or count < cycles:
        yield next(generator)
        count += 1
    while True:
        yield False


@cocotb.test()
async def conv_layer(dut):
    config = json.loads(os.environ["RRM_TB_CONFIG"])
    spec = Spec.from_dict(config["spec"])
    case = conv_case(spec, config["layer"], config["seed"])
    entry = case.entry
    want_cycles = ConvEngine.layer_cycles(spec, entry)
    pause = config.get("pause", 0.0)
    mmap = sizing(spec).memories
    P, L, A = mmap.pe_count, mmap.lanes, spec.quant.act_bits

    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.go.value = 0
    dut.rst.value = 1
    source = None
    if case.is_conv1:
        source = StreamSource(dut, "image", image_layout(spec),
                              pause=pauses(config.get("pause_seed", 5), pause, config.get("pause_cycles"))
                              if pause else None)
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    if source is not None:
        pixels = case.pixels()
        source.send_values([{"data": value, "last": int(i == len(pixels) - 1)} for i, value in enumerate(pixels)])
    image = {"ring_waits": 0, "gaps": 0, "taken": 0}

    def watch_image(_edge):
        """The image stream while the loader takes it: ring waits, gaps, beats taken."""
        if source is not None and dut.inputting.value and image["taken"] < len(pixels):
            valid, ready = dut.image__valid.value, dut.image__ready.value
            image["ring_waits"] += bool(valid and not ready)
            image["gaps"] += not valid
            image["taken"] += bool(valid and ready)

    dut.go.value = 1
    writes, finished_edge = await record_engine_writes(dut, limit=40 * want_cycles + 4000,
                                                       each_cycle=watch_image)
    ring_waits, gaps = image["ring_waits"], image["gaps"]
    cycles = int(dut.cycles.value)
    if case.is_conv1:
        assert not dut.image_error.value, "the image loader reports image_error"

    # every write: target buffer, slot enables, address; every slot once
    units = spec.hardware.serial_bn_units if spec.hardware.serial_bn and not entry.group_mode else 1
    per_slot = entry.group_mode or (spec.hardware.serial_bn and units == 1)
    steps = -(-P // units)     # serial_bn: drain steps per result, each ``units`` neighbouring slots
    # packed_pw: conv1 writes each word in two passes, the even slots, then the odd ones
    passes = 2 if case.is_conv1 and spec.hardware.packed_pw else 1
    even = sum(1 << slot for slot in range(0, P, 2))
    slot_bits = L * A
    slots_written = {}    # (addr, slot) -> slot value
    for _, buffer, addr, word, slots in writes:
        assert buffer == 1 - entry.src, f"write to buffer {buffer}, layer reads {entry.src}"
        if per_slot:
            assert slots != 0 and slots & (slots - 1) == 0, f"write at {addr} enables slots {slots:b}, not one"
        elif units > 1:   # one drain step's slots (of the pass's parity)
            low = (slots & -slots).bit_length() - 1
            step = ((1 << units) - 1) << (low // units * units)
            assert slots and slots & ~step == 0, f"write at {addr} enables slots {slots:b}, not one step's"
            if passes == 2:
                assert slots & even in (0, slots) and slots & ~even in (0, slots), f"slots {slots:b} mix parities"
        elif passes == 2:
            assert slots in (even, even ^ ((1 << P) - 1)), f"write at {addr} enables slots {slots:b}"
        else:
            assert slots == (1 << P) - 1, f"write at {addr} enables slots {slots:b}"
        assert addr < entry.out_blocks * entry.out_groups, f"write at {addr} outside the map"
        for slot in range(P):
            if slots >> slot & 1:
                assert (addr, slot) not in slots_written, f"slot {slot} of word {addr} written twice"
                slots_written[addr, slot] = (word >> (slot * slot_bits)) & ((1 << slot_bits) - 1)
    if units > 1:   # drain steps holding a slot of each pass's parity
        per_result = sum(any(slot < P and (passes == 1 or slot % 2 == h)
                             for slot in range(j * units, (j + 1) * units))
                         for h in range(passes) for j in range(steps))
        want_ops = entry.writes * per_result
    else:
        want_ops = entry.writes * (P if spec.hardware.serial_bn and not entry.group_mode else passes)
    assert len(writes) == want_ops, \
        f"{len(writes)} write operations, expected {want_ops} (the layer table's writes: {entry.writes})"
    missing = [(pixel, g) for pixel in range(entry.out_pixels) for g in range(entry.out_groups)
               if ((pixel // P) * entry.out_groups + g, pixel % P) not in slots_written]
    assert not missing, f"{len(missing)} (pixel, group) slots never written, first {missing[0]}"
    words = {}
    for (addr, slot), value in slots_written.items():
        words[addr] = words.get(addr, 0) | value << (slot * slot_bits)
    difference = map_difference(entry.name, decode_map(spec, entry, words), case.output_map)
    assert difference is None, difference
    dut._log.info("%s: %d writes, last on edge %d, finished on edge %d; cycles %d, layer_cycles %d, "
                  "ring waits %d, image gaps %d", entry.name, len(writes), writes[-1][0], finished_edge, cycles,
                  want_cycles, ring_waits, gaps)
    with open("result.json", "w") as out:
        json.dump({"layer": entry.name, "cycles": cycles, "layer_cycles": want_cycles,
                   "writes": len(writes), "ring_waits": ring_waits, "gaps": gaps,
                   "pause": pause}, out)
    if config.get("exact", True):
        assert cycles == want_cycles, \
            f"{entry.name}: the engine took {cycles} cycles, layer_cycles says {want_cycles}"
    else:
        assert cycles >= want_cycles, \
            f"{entry.name}: the engine took {cycles} cycles, fewer than layer_cycles' {want_cycles}"
