"""Cycle model of :class:`hw.top.accelerator.Accelerator`: cycles per layer and per image.

Predicts, from the spec and the layer table alone, what the RTL's ``layer_cycles``
and ``image_cycles`` report (every image takes the same cycles: nothing depends
on the data). Each engine's count follows its control structure in
:mod:`hw.top.accelerator`; the pipeline latencies come from the blocks themselves.

``cycles`` of a layer run from the first cycle after the sequencer's START state
to the cycle its engine reports done (what ``layer_cycles`` counts):

- **pw**, pixel mode: one beat per (block of P pixels, output group, input
  channel), back to back, then the pipeline: RAM, Conv PE, BN, write, done
  (with ``serial_bn``, the last result's P sums drain through one BN unit first).
- **pw**, group mode: one beat per (pixel, row of P groups, input channel), then
  the last row's P groups drain through one BN unit, one per cycle.
- **conv1**: the arriving image, the FM reader, the patch buffer (one padded
  position per cycle, stalled while the window FIFO is full), the window FIFO,
  the gather of P windows and the serializer (K*K*C beats per output group and
  block) interact; :func:`conv1_cycles` steps them cycle by cycle (a few lines
  of Python, no RTL).
- **dw**: per row of D = ``dw_pes`` channel groups: load the row's kernels and BN
  words (D cycles), fill the wide reader (D cycles), walk the padded map up to the
  last window (one position per cycle), drain PE, BN and the D writes.
- **pool**: one beat per (pixel, group); **fc**: one PW row per (row of Q =
  ``fc_classes`` classes, group), rows at least Q cycles apart (the FC sends a
  row's logits one per cycle).

The image's pixels (one per cycle) arrive while conv1 runs; the image adds four
sequencer cycles per layer (FETCH, LATCH, SHIFT, START); the logits leave during
the FC layer.

Lower bound of a layer: its MACs divided by what its module does per cycle
(Conv: ``pe_count * lanes``; DW: ``dw_pes * lanes * K * K``; FC: ``fc_classes * lanes``;
pool: ``lanes`` additions).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from functools import lru_cache

from rrm.memory_map import memory_map
from rrm.spec import Spec

from ..top.accelerator import conv1_window_fifo_depth
from ..blocks.bn_requant import BnRequant
from ..blocks.conv_pe import ConvPE
from ..blocks.dw_pe import DepthwisePE
from ..blocks.fc import FullyConnected
from ..blocks.parameters import bn_parameters, conv_parameters, dw_parameters, fc_parameters

#: Sequencer cycles per layer outside its layer_cycles (FETCH, LATCH, SHIFT, START).
SEQUENCER_CYCLES = 4
#: Cycles from a window's write into conv1's window FIFO until it can be read.
FIFO_LATENCY = 2
#: Pixels of the image that have arrived when conv1's first cycle begins.
INPUT_LEAD = 3
#: Cycles of an image besides its layers and the sequencer's (IDLE, OUTPUT's class beat).
IMAGE_EXTRA_CYCLES = 2


@dataclass(frozen=True)
class LayerCycles:
    """One layer: predicted cycles, MACs, lower bound and lane utilisation (bound / cycles)."""

    name: str
    kind: str
    cycles: int
    macs: int
    bound: float

    @property
    def utilisation(self) -> float:
        return self.bound / self.cycles if self.cycles else 0.0


@dataclass(frozen=True)
class CycleModel:
    """A whole image: per-layer counts and the totals at the spec's clock."""

    spec_name: str
    clock_mhz: float
    input_cycles: int
    sequencer_cycles: int
    layers: tuple
    cycles: int
    macs: int

    @property
    def bound(self) -> float:
        return sum(layer.bound for layer in self.layers)

    @property
    def ms(self) -> float:
        return self.cycles / (self.clock_mhz * 1e3)

    @property
    def fps(self) -> float:
        return self.clock_mhz * 1e6 / self.cycles

    @property
    def gops(self) -> float:
        """Operations (2 x MACs) per second, in GOP/s, at the spec's clock."""
        return 2 * self.macs * self.fps / 1e9

    def layer(self, name: str) -> LayerCycles:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers: {[layer.name for layer in self.layers]}")

    def to_dict(self) -> dict:
        return {
            "spec": self.spec_name, "clock_mhz": self.clock_mhz,
            "layers": [{**asdict(layer), "utilisation": layer.utilisation} for layer in self.layers],
            "input_cycles": self.input_cycles, "sequencer_cycles": self.sequencer_cycles,
            "cycles": self.cycles, "bound": self.bound, "utilisation": self.bound / self.cycles,
            "ms": self.ms, "fps": self.fps, "gops": self.gops, "macs": self.macs,
        }


@lru_cache(maxsize=256)   # a sweep asks for the same conv1 many times
def conv1_cycles(*, height: int, width: int, stride: int, kernel: int, pe_count: int,
                 channels: int, groups: int, tail: int, fifo_depth: int, ring: int = 0,
                 fifo_latency: int = FIFO_LATENCY, input_lead: int = INPUT_LEAD) -> int:
    """conv1's layer cycles: the image arriving one pixel per cycle, the FM reader, the
    patch buffer, the window FIFO, the gather and the serializer of
    ``AcceleratorCore._conv_engine`` stepped cycle by cycle, then ``tail`` cycles from
    the last serializer beat to done.

    Pixel ``i`` of the image arrives in cycle ``i - input_lead`` of conv1 (an image
    streamed without gaps), unless the image's ring of ``ring`` words in buffer Q is full
    (0: the whole image fits): a pixel of word w is taken only while the reader is on word
    ``w - ring + 1`` or later. A word (``pe_count`` pixels) is readable three cycles after
    its last pixel arrived. A window written into the FIFO can be taken ``fifo_latency``
    cycles later.
    """
    pad = kernel // 2
    padded_h, padded_w = height + 2 * pad, width + 2 * pad
    out_h = (padded_h - kernel) // stride + 1
    out_w = (padded_w - kernel) // stride + 1
    pixels = height * width
    ring = ring or -(-pixels // pe_count)
    beats = kernel * kernel * channels * groups        # serializer beats per block
    word_taken = {}                                   # word -> cycle its last pixel was taken

    def record_taken(i, at):
        if i % pe_count == pe_count - 1 or i == pixels - 1:
            word_taken[i // pe_count] = at

    taken = min(input_lead + 1, pixels)               # pixels taken before the first cycle
    for i in range(taken):
        record_taken(i, i - input_lead)
    blocks = -(-out_h * out_w // pe_count)
    windows_left = out_h * out_w
    reader_active, reader_primed, pixel = True, False, 0
    row = col = 0
    window_valid = gather_full = serializing = False
    gather_slot = beat = blocks_done = 0
    fifo: deque = deque()                             # cycles at which each window is takeable
    cycle = 1                                         # the first cycle after START
    while True:
        word = pixel // pe_count
        loader_takes = taken < pixels and taken // pe_count < word + ring
        readable = word in word_taken and cycle >= word_taken[word] + 3
        reader_valid = reader_active and reader_primed and readable
        is_pad = row < pad or row >= height + pad or col < pad or col >= width + pad
        fifo_ready = len(fifo) < fifo_depth
        out_free = not window_valid or fifo_ready
        advance = out_free and (reader_valid or (is_pad and (row, col) != (0, 0)))
        reader_fire = reader_valid and out_free and not is_pad
        window_push = window_valid and fifo_ready
        take = gather_full and not serializing
        pop = bool(fifo) and fifo[0] <= cycle and not gather_full
        if serializing:
            beat += 1
            if beat == beats:
                serializing = False
                blocks_done += 1
                if blocks_done == blocks:
                    return cycle + tail
        if take:
            serializing, beat, gather_full = True, 0, False
        if advance:
            on_grid = stride == 1 or ((row - kernel + 1) % 2 == 0 and (col - kernel + 1) % 2 == 0)
            window_valid = row >= kernel - 1 and col >= kernel - 1 and on_grid
            if col == padded_w - 1:
                col, row = 0, (0 if row == padded_h - 1 else row + 1)
            else:
                col += 1
        elif fifo_ready:
            window_valid = False
        if pop:
            fifo.popleft()
            windows_left -= 1
            if gather_slot == pe_count - 1 or windows_left == 0:
                gather_full, gather_slot = True, 0
            else:
                gather_slot += 1
        if window_push:
            fifo.append(cycle + fifo_latency)
        if loader_takes:
            record_taken(taken, cycle)
            taken += 1
        reader_primed = reader_active
        if reader_fire:
            pixel += 1
            reader_active = pixel != pixels
        cycle += 1


def _latency(block) -> int:
    """A block's latency; the block is only asked, never elaborated (no unused-block warning)."""
    block._MustUse__silence = True
    return block.latency


def _latencies(spec: Spec) -> dict:
    return {
        "conv": _latency(ConvPE(**conv_parameters(spec))),
        "dw": _latency(DepthwisePE(**dw_parameters(spec))),
        "bn": _latency(BnRequant(**bn_parameters(spec))),
        "fc": _latency(FullyConnected(**fc_parameters(spec))),
    }


def _dw_cycles(entry, pe_count: int, dw_pes: int, kernel: int, latency: dict) -> int:
    pad = kernel // 2
    padded_h, padded_w = entry.in_h + 2 * pad, entry.in_w + 2 * pad
    last_row = kernel - 1 + entry.stride * (entry.out_h - 1)
    last_col = kernel - 1 + entry.stride * (entry.out_w - 1)
    last_window = last_row * padded_w + last_col      # padded positions before the last window
    leftover = padded_h * padded_w - 1 - last_window  # padding walked after it
    row_overhead = 3 * dw_pes + 6 + latency["dw"] + latency["bn"]
    rows = -(-entry.out_groups // dw_pes)
    # a row's frame starts once the previous frame's padding has been walked
    late = max(0, leftover + 1 - row_overhead)
    # A last, partial block of r < P outputs completes d cycles after the block before it;
    # its words wait (BN and the PEs stall) until that block's D writes are out.
    held = 0
    outputs = entry.out_h * entry.out_w
    partial = outputs % pe_count
    if partial and outputs > pe_count:
        def position(index):
            y, x = divmod(index, entry.out_w)
            return (kernel - 1 + entry.stride * y) * padded_w + kernel - 1 + entry.stride * x
        held = max(0, dw_pes - (position(outputs - 1) - position(outputs - 1 - partial)))
    return rows * (last_window + row_overhead + held) + (rows - 1) * late + 1


def _pw_cycles(entry, pe_count: int, latency: dict, serial_drain: int) -> int:
    if not entry.group_mode:
        return (entry.out_blocks * entry.out_groups * entry.in_channels + latency["conv"] + latency["bn"] + 3
                + serial_drain)
    rows = -(-entry.out_groups // pe_count)
    last_row_groups = entry.out_groups - (rows - 1) * pe_count
    return (entry.out_pixels * rows * entry.in_channels + latency["conv"] + 3
            + max(last_row_groups + latency["bn"] + 1, pe_count - 1))


def cycle_model(spec: Spec) -> CycleModel:
    """Predicted cycles of every layer and of one image of ``spec`` on its accelerator."""
    if not isinstance(spec, Spec):
        raise TypeError(f"spec must be a Spec, not {spec!r}")
    hw = spec.hardware
    P, L, K, D, Q = hw.pe_count, hw.lanes, hw.kernel, hw.dw_pes, hw.fc_classes
    # serial_bn: a pixel-mode result's P sums leave through one BN unit, one per cycle
    serial_drain = P + 1 if hw.serial_bn else 0
    latency = _latencies(spec)
    macs = {layer.name: layer.macs for layer in spec.layers()}
    mmap = memory_map(spec)
    mmap.check_image_fits(spec)          # a spec the RTL cannot be built for has no cycles
    rows = []
    for entry in mmap.layers:
        if entry.kind == "conv":
            cycles = conv1_cycles(height=entry.in_h, width=entry.in_w, stride=entry.stride,
                                  kernel=K, pe_count=P, channels=spec.network.input_channels,
                                  groups=entry.out_groups,
                                  tail=latency["conv"] + latency["bn"] + 3 + serial_drain,
                                  fifo_depth=conv1_window_fifo_depth(spec), ring=mmap.image_ring)
            bound = macs[entry.name] / (P * L)
        elif entry.kind == "pw":
            cycles = _pw_cycles(entry, P, latency, serial_drain)
            bound = macs[entry.name] / (P * L)
        elif entry.kind == "dw":
            cycles = _dw_cycles(entry, P, D, K, latency)
            bound = macs[entry.name] / (D * L * K * K)
        elif entry.kind == "pool":
            cycles = entry.in_h * entry.in_w * entry.in_groups + 2
            bound = entry.in_h * entry.in_w * entry.in_channels / L
        elif entry.kind == "fc":
            # rows of Q classes, max(groups, Q) cycles apart; the last row's logits
            # leave one per cycle
            fc_rows = -(-entry.out_channels // Q)
            last_row = entry.out_channels - (fc_rows - 1) * Q
            cycles = ((fc_rows - 1) * max(entry.in_groups, Q) + entry.in_groups + latency["fc"] + 2
                      + last_row - 1)
            bound = macs[entry.name] / (Q * L)
        else:  # pragma: no cover - memory_map only produces the kinds above
            raise ValueError(f"layer {entry.name}: no cycle model for kind {entry.kind!r}")
        rows.append(LayerCycles(entry.name, entry.kind, int(cycles), int(macs.get(entry.name, 0)),
                                float(bound)))
    input_cycles = spec.network.input_size ** 2      # overlapped with conv1
    sequencer = SEQUENCER_CYCLES * len(rows)
    total = sequencer + sum(row.cycles for row in rows) + IMAGE_EXTRA_CYCLES
    return CycleModel(spec.network.name, hw.clock_mhz, input_cycles, sequencer, tuple(rows),
                      total, sum(macs.values()))
