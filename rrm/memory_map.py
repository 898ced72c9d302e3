"""The accelerator's memories and layer table, from the spec alone (docs/design.md §2.2, §2.3).

One function, :func:`memory_map`, says what the RTL builds: every on-chip RAM
(word width and depth), where each layer's parameters start in them, and the
layer table the sequencer walks. The hardware (``hw.top.accelerator``), the
parameter packing (:mod:`rrm.param_stream`) and the analysis's BRAM18K count all
read it, so they describe the same memories.

Feature maps (buffers P and Q, used alternately). A word holds ``pe_count``
pixels ("slots") of ``lanes`` channels ("a group") of ``act_bits`` each. Pixel
``i`` (raster order) of channel group ``g`` of a map with ``G`` groups lives in
word ``(i // pe_count) * G + g``, slot ``i % pe_count``. The image is laid out the
same way with one group; its pixel's ``input_channels`` signed values of
``input_bits`` fill the low bits of the slot. It passes through Q as a ring of
:attr:`MemoryMap.image_ring` words (conv1 reads each pixel once, as it arrives, so
Q is sized by the feature maps, not the image); conv1 writes P, and every layer
after it reads the buffer the previous one wrote.

Parameter RAMs (contents and order: :mod:`rrm.param_stream`):

- ``dw``: one word per (dw layer, channel group): K*K taps x ``lanes`` weights,
  element ``[tap][lane]`` at bit ``(tap*lanes + lane) * weight_bits``;
- ``pw``: rows of S = ``pw_slices`` slices of ``lanes`` weights (``pe_count`` unless
  the spec's ``pw_slices`` says fewer; :func:`pw_position`).
  Weight word (g, t) of a layer (conv1: output group g, tap t; pw: output group g,
  input channel n = t; fc: class g, input group t). Where the Conv PEs work on
  pixels (conv1, pixel-mode pw) they read one slice per beat, so the words are
  packed without gaps: word s = g * taps + t is slice ``s % S`` of row
  ``w_base + s // S``. Where a beat needs S groups at once
  (group-mode pw, the FC) word (g, t) is slice ``g % S`` of row
  ``w_base + (g // S) * taps + t``;
- ``bn``: one word per (conv/dw/pw layer, output group): ``lanes`` multipliers
  then ``lanes`` biases;
- ``fc_bias``: one word per row of S classes (the FC's rows), class
  ``r * S + j`` in field j; ``shift``: one shift per conv/dw/pw layer.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from enum import IntEnum

from .bounds import accumulator_bits
from .errors import SpecError
from .numerics import MAX_SHIFT
from .spec import Spec



class LayerKind(IntEnum):
    """A layer's kind as the layer table encodes it; the RTL's engines and the cost models
    dispatch on it (``LayerKind["pw"]`` is the kind of a layer named "pw" in the spec)."""

    conv = 0
    dw = 1
    pw = 2
    pool = 3
    fc = 4


#: Layer kinds by name, as the layer table encodes them.
KIND_CODES = {kind.name: int(kind) for kind in LayerKind}
#: Bits of a per-layer requantization shift in the shift RAM (shifts 0..MAX_SHIFT).
SHIFT_FIELD_BITS = MAX_SHIFT.bit_length()
#: Bits of one parameter-stream beat: the accelerator's default, and the widths a build may take
#: (the system top takes 128, the width of the PS's HP port: docs/host.md).
PARAM_BEAT_BITS = 32
PARAM_BEAT_WIDTHS = (32, 64, 128)
#: First beat of a parameter stream ("RRM1").
PARAM_MAGIC = 0x52524D31


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Ram:
    """One on-chip RAM: ``depth`` words of ``width`` bits."""

    name: str
    width: int
    depth: int
    holds: str

    @property
    def bits(self) -> int:
        return self.width * self.depth


@dataclass(frozen=True)
class LayerEntry:
    """One row of the layer table ROM (all counts precomputed: no dividers in RTL).

    ``src`` is the FM buffer the layer reads (0 = P, 1 = Q; it writes the other).
    ``in_blocks``/``out_blocks``: words per channel group of the input/output map
    (``ceil(pixels / pe_count)``). ``w_base``: first word in ``dw`` (dw layers) or
    ``pw`` (conv1, pw, fc). ``bn_base``: first word in ``bn``; ``bn_index``: the
    layer's row in ``shift``. ``taps``: products per output of conv1
    (K*K*input_channels), pw (N) and fc (input groups); K*K for dw.
    ``group_mode``: a pw layer whose Conv PEs take ``pe_count`` output groups of
    one pixel (:func:`use_group_mode`) instead of ``pe_count`` pixels of one group.
    ``writes``: FM write operations of the layer (a word per (block, group), or in
    group mode one slot per (pixel, group)).
    """

    index: int
    name: str
    kind: str
    src: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    stride: int
    in_channels: int
    out_channels: int
    in_groups: int
    out_groups: int
    in_blocks: int
    out_blocks: int
    out_pixels: int
    taps: int
    w_base: int
    bn_base: int
    bn_index: int
    group_mode: int = 0
    writes: int = 0

    @property
    def kind_code(self) -> LayerKind:
        return LayerKind[self.kind]

    @property
    def packed(self) -> bool:
        """Whether the layer's PW RAM words are packed one slice after another (conv1 and
        pixel-mode pw: one slice per beat), not in rows of ``pw_slices`` groups."""
        return self.kind in ("conv", "pw") and not self.group_mode

    def pw_rows(self, slices: int) -> int:
        """PW RAM rows of ``slices`` slices the layer's weights take (conv1, pw, fc; 0 for
        the others)."""
        if self.kind not in ("conv", "pw", "fc"):
            return 0
        groups = self.out_channels if self.kind == "fc" else self.out_groups
        if self.packed:
            return ceil_div(groups * self.taps, slices)
        return ceil_div(groups, slices) * self.taps


@dataclass(frozen=True)
class MemoryMap:
    """The accelerator's memories and layer table for one spec."""

    pe_count: int
    lanes: int
    slot_bits: int
    #: Slices of ``lanes`` weights per PW RAM row (and classes per fc_bias word).
    pw_slices: int
    image_bits: int
    rams: dict
    layers: tuple
    spec_hash: int
    #: Words of the image (``pe_count`` pixels each).
    image_words: int = 1

    @property
    def image_ring(self) -> int:
        """Words of buffer Q the arriving image cycles through (all of Q, or the whole image
        if it is smaller): the loader writes word w at ``w % image_ring`` once conv1's reader
        has left word ``w - image_ring``."""
        return min(self.image_words, self.rams["fm_q"].depth)

    def check_image_fits(self, spec: Spec) -> None:
        """SpecError unless the accelerator can be built: an image pixel fits a feature-map
        slot, ``image_pixels`` 2 has a conv1 the pair walk makes, and with ``serial_bn`` every pixel-mode conv/pw layer has at least
        ``ceil(pe_count / serial_bn_units) + 2`` beats per result (the drain of the previous
        result's P sums)."""
        hw = spec.hardware
        if hw.serial_bn:
            units, steps = hw.serial_bn_units, hw.drain_steps
            for entry in self.layers:
                if entry.kind in ("conv", "pw") and not entry.group_mode and entry.taps < steps + 2:
                    if units == 1:
                        field, what, who = "hardware.serial_bn", f"pe_count {self.pe_count} + 2", "one BN unit drains"
                    else:
                        field = "hardware.serial_bn_units"
                        what = f"ceil(pe_count {self.pe_count} / serial_bn_units {units}) + 2"
                        who = f"{units} BN units drain"
                    raise SpecError(field, f"layer {entry.name} has {entry.taps} beats per result, fewer "
                                           f"than {what} = {steps + 2}: its results would come faster "
                                           f"than {who} them")
        if hw.packed_pw:
            field = max(accumulator_bits(spec, layer.name) for layer in spec.layers()
                        if layer.kind in ("conv", "pw"))   # rrm.sizing's conv_acc_width
            if spec.quant.act_bits > 8 or field + spec.quant.act_bits > 26:
                raise SpecError("hardware.packed_pw",
                                f"two {spec.quant.act_bits}-bit activations with a {field}-bit field "
                                f"(the widest conv/pw sum) need {field + spec.quant.act_bits + 1} bits "
                                f"signed, over the DSP48E2's 27-bit A port (act_bits at most 8 and "
                                f"field + act_bits at most 26)")
        if hw.image_pixels == 2:
            conv1 = spec.layer("conv1")
            size = spec.network.input_size
            if conv1.kernel != 3 or conv1.stride != 2 or size % 2 or size < 4:
                raise SpecError("hardware.image_pixels",
                                f"2 walks conv1 a pixel pair per cycle with 3 x 3 windows of stride "
                                f"2 on an even image of at least 4 pixels a side; this conv1 is "
                                f"{conv1.kernel} x {conv1.kernel}, stride {conv1.stride}, on "
                                f"{size} x {size}")
        if self.image_bits > self.slot_bits:
            raise SpecError("hardware.lanes",
                            f"an image pixel ({spec.network.input_channels} x {spec.quant.input_bits} "
                            f"bits) does not fit a feature-map slot of {self.lanes} x "
                            f"{spec.quant.act_bits} bits; use at least "
                            f"{ceil_div(self.image_bits, spec.quant.act_bits)} lanes")

    def ram(self, name: str) -> Ram:
        return self.rams[name]

    @property
    def param_rams(self) -> tuple:
        """The RAMs the parameter stream loads, in stream order."""
        return tuple(self.rams[name] for name in ("dw", "pw", "bn", "fc_bias", "shift"))

    def layer(self, name: str) -> LayerEntry:
        for entry in self.layers:
            if entry.name == name:
                return entry
        raise KeyError(name)


def pw_position(entry: LayerEntry, group: int, tap: int, slices: int) -> tuple:
    """(row, slice) of weight word (``group``, ``tap``) of ``entry`` in the PW RAM of
    ``slices`` slices per row (the module docstring: packed for conv1 and pixel-mode pw,
    rows of groups otherwise)."""
    if entry.packed:
        word = group * entry.taps + tap
        return entry.w_base + word // slices, word % slices
    return entry.w_base + (group // slices) * entry.taps + tap, group % slices


def use_group_mode(pixels: int, groups: int, taps: int, pe_count: int) -> bool:
    """Whether a pointwise layer runs its Conv PEs on output-channel groups of one pixel
    (``pe_count`` groups at once) rather than on ``pe_count`` pixels of one group: when
    that takes fewer cycles (maps with fewer pixels than PEs) and a sequence of ``taps``
    beats is long enough to write the previous pixel's ``pe_count`` words back."""
    by_pixel = ceil_div(pixels, pe_count) * groups * taps
    by_group = pixels * ceil_div(groups, pe_count) * taps
    return by_group < by_pixel and taps >= pe_count + 2


def spec_hash(spec: Spec) -> int:
    """32-bit CRC of the spec's JSON (without the preset's name): the build's identity,
    checked by the hardware against the parameter stream's second beat."""
    data = spec.to_dict()
    data.pop("preset", None)
    return zlib.crc32(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())


def memory_map(spec: Spec) -> MemoryMap:
    """The memories and layer table of the accelerator built for ``spec``.

    :meth:`MemoryMap.check_image_fits` says whether the accelerator can be built.
    """
    hw, quant = spec.hardware, spec.quant
    p, lanes, k = hw.pe_count, hw.lanes, hw.kernel
    slices = hw.pw_row_slices
    layers = spec.layers()
    slot_bits = lanes * quant.act_bits
    image_bits = spec.network.input_channels * quant.input_bits
    size = spec.network.input_size
    fm_depth = [0, 0]
    entries = []
    dw_words = pw_words = bn_words = 0
    bn_index = 0
    src = 1
    pool_src = 0
    for index, layer in enumerate(layers):
        in_groups = ceil_div(layer.in_channels, lanes)
        out_groups = ceil_div(layer.out_channels, lanes)
        in_blocks = ceil_div(layer.in_h * layer.in_w, p)
        out_pixels = layer.out_h * layer.out_w
        out_blocks = ceil_div(out_pixels, p)
        w_base = bn_base = 0
        this_bn = 0
        group_mode = 0
        writes = out_blocks * out_groups
        if layer.kind == "conv":
            taps = k * k * layer.in_channels
            w_base = pw_words
        elif layer.kind == "pw":
            taps = layer.in_channels
            w_base = pw_words
            # packed_pw: pixel mode only (its packed PEs share one weight word); group mode
            # also needs a PW row of pe_count slices and one serial BN unit
            group_mode = int(use_group_mode(out_pixels, out_groups, taps, p) and not hw.packed_pw
                             and slices == p and hw.serial_bn_units == 1)
            if group_mode:
                writes = out_pixels * out_groups
        elif layer.kind == "dw":
            taps = k * k
            w_base, dw_words = dw_words, dw_words + out_groups
        elif layer.kind == "fc":
            taps = in_groups
            w_base = pw_words
        else:
            taps = 1
        layer_src = src
        if layer.kind in ("conv", "dw", "pw"):
            bn_base, bn_words = bn_words, bn_words + out_groups
            this_bn, bn_index = bn_index, bn_index + 1
            dst = 1 - src
            fm_depth[dst] = max(fm_depth[dst], out_blocks * out_groups)
            pool_src = dst
            src = dst
        elif layer.kind == "pool":
            layer_src = pool_src
        entry = LayerEntry(
            index=index, name=layer.name, kind=layer.kind, src=layer_src,
            in_h=layer.in_h, in_w=layer.in_w, out_h=layer.out_h, out_w=layer.out_w,
            stride=layer.stride, in_channels=layer.in_channels, out_channels=layer.out_channels,
            in_groups=in_groups, out_groups=out_groups, in_blocks=in_blocks,
            out_blocks=out_blocks, out_pixels=out_pixels, taps=taps,
            w_base=w_base, bn_base=bn_base, bn_index=this_bn, group_mode=group_mode,
            writes=writes)
        pw_words += entry.pw_rows(slices)
        entries.append(entry)
    fc = layers[-1]
    fm_width = p * slot_bits
    rams = {
        "fm_p": Ram("fm_p", fm_width, max(1, fm_depth[0]), "feature maps, buffer P"),
        "fm_q": Ram("fm_q", fm_width, max(1, fm_depth[1]),
                    "feature maps and the arriving image (a ring), buffer Q"),
        "dw": Ram("dw", k * k * lanes * quant.weight_bits, max(1, dw_words), "depthwise kernels"),
        "pw": Ram("pw", slices * lanes * quant.weight_bits, max(1, pw_words),
                  "conv1, pointwise and FC weights"),
        "bn": Ram("bn", lanes * (quant.bn_mult_bits + quant.bn_bias_bits), max(1, bn_words),
                  "BN multipliers and biases"),
        "fc_bias": Ram("fc_bias", slices * quant.fc_bias_bits, ceil_div(fc.out_channels, slices),
                       "FC biases, one row of pw_slices classes per word"),
        "shift": Ram("shift", SHIFT_FIELD_BITS, max(1, bn_index), "requantization shifts"),
    }
    return MemoryMap(pe_count=p, lanes=lanes, slot_bits=slot_bits, pw_slices=slices,
                     image_bits=image_bits, rams=rams,
                     layers=tuple(entries), spec_hash=spec_hash(spec),
                     image_words=ceil_div(size * size, p))
