"""The interfaces the engines share (docs/design.md §3.1): one layer-control port, the RAM
ports, the feature-map write request and the image ring between the image loader and conv1.

Every signature is written from the side that starts the exchange (the sequencer for
layer control, the engine for a RAM read or an FM write): that side has it as ``Out``,
the other as ``In``, and the top joins them with :func:`amaranth.lib.wiring.connect`.

The RAMs' word shapes (:func:`ram_shapes`) and the layer table's row
(:func:`entry_layout`) come from the memory map, so an engine, the top that owns the
memories and a testbench that drives one engine alone build the same ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from rrm.memory_map import MemoryMap
from rrm.sizing import sizing
from rrm.spec import Spec

from ..blocks.bn_requant import BnRequant
from ..blocks.layouts import window_layout
from ..blocks.parameters import bn_parameters

#: Width of the cycle counters.
COUNTER_BITS = 32
#: The layer-table fields an engine reads (besides in_pixels and group_rows, derived).
ENTRY_FIELDS = ("kind_code", "src", "in_h", "in_w", "stride", "in_groups", "out_groups",
                "in_channels", "out_blocks", "out_pixels", "taps", "w_base", "bn_base", "bn_index",
                "group_mode", "writes")


def _bits(value: int) -> int:
    return max(1, int(value).bit_length())


def _addr_width(depth: int) -> int:
    """Address bits of a RAM of ``depth`` words, as Amaranth's memory ports have them."""
    return (depth - 1).bit_length()


def entry_layout(mmap: MemoryMap) -> data.StructLayout:
    """The layer table's row: every LayerEntry field the RTL needs, each as wide as its largest value."""
    layout = {name: unsigned(_bits(max(getattr(e, name) for e in mmap.layers))) for name in ENTRY_FIELDS}
    layout["in_pixels"] = unsigned(_bits(max(e.in_h * e.in_w for e in mmap.layers)))
    layout["group_rows"] = unsigned(_bits(max(-(-e.out_groups // mmap.pe_count) for e in mmap.layers)))
    return data.StructLayout(layout)


def entry_value(mmap: MemoryMap, entry) -> dict:
    """One layer-table row's field values (the ROM's initial word for ``entry``)."""
    values = {name: getattr(entry, name) for name in ENTRY_FIELDS}
    values["kind_code"] = int(entry.kind_code)
    values["in_pixels"] = entry.in_h * entry.in_w
    values["group_rows"] = -(-entry.out_groups // mmap.pe_count)
    return values


@dataclass(frozen=True)
class RamShapes:
    """Word shapes and depths of the accelerator's RAMs for one spec."""

    fm: data.ArrayLayout        # P slots of ``lanes`` activations
    dw: data.Layout             # K x K taps of ``lanes`` weights
    pw: data.ArrayLayout        # S = pw_slices slices of ``lanes`` weights
    bn: data.StructLayout       # ``lanes`` multipliers and biases
    fc_bias: data.ArrayLayout   # S biases
    shift: unsigned
    depth: dict                 # RAM name -> words

    @property
    def fm_depth(self) -> int:
        """Words of the larger FM buffer: the range of every FM address."""
        return max(self.depth["fm_p"], self.depth["fm_q"])

    def shape(self, name: str):
        """The word shape of RAM ``name`` (``fm_p``/``fm_q`` are both ``fm``)."""
        return self.fm if name.startswith("fm_") else getattr(self, name)

    def read(self, name: str) -> wiring.Signature:
        """A read port of RAM ``name`` from the reader's side (addr out, data in)."""
        depth = self.fm_depth if name.startswith("fm_") else self.depth[name]
        return ReadPort.Signature(addr_width=_addr_width(depth), shape=self.shape(name)).flip()

    def write(self, name: str) -> wiring.Signature:
        """A write port of RAM ``name`` from the writer's side (addr, data, en out)."""
        return WritePort.Signature(addr_width=_addr_width(self.depth[name]), shape=self.shape(name)).flip()


def ram_shapes(spec: Spec) -> RamShapes:
    mmap = sizing(spec).memories
    quant, hw = spec.quant, spec.hardware
    P, L, K = hw.pe_count, hw.lanes, hw.kernel
    slot = data.ArrayLayout(unsigned(quant.act_bits), L)
    return RamShapes(
        fm=data.ArrayLayout(slot, P),
        dw=window_layout(signed(quant.weight_bits), K, L),
        pw=data.ArrayLayout(data.ArrayLayout(signed(quant.weight_bits), L), mmap.pw_slices),
        bn=data.StructLayout({"mult": data.ArrayLayout(signed(quant.bn_mult_bits), L),
                              "bias": data.ArrayLayout(signed(quant.bn_bias_bits), L)}),
        fc_bias=data.ArrayLayout(signed(quant.fc_bias_bits), mmap.pw_slices),
        shift=unsigned(mmap.ram("shift").width),
        depth={name: ram.depth for name, ram in mmap.rams.items()},
    )


class LayerControl(wiring.Signature):
    """The sequencer's port to one engine (sequencer side).

    ``entry``: the current layer's table row and ``shift`` its requantization shift,
    both held for the whole layer; ``start``: a one-cycle pulse before the layer's first
    cycle; ``run``: high for every cycle of the layer; ``busy``: an image is in flight;
    ``done`` (engine -> sequencer): the engine has finished the layer (looked at only
    while ``run`` is high and the layer is of the engine's kinds).
    """

    def __init__(self, mmap: MemoryMap):
        super().__init__({
            "entry": Out(entry_layout(mmap)),
            "shift": Out(unsigned(mmap.ram("shift").width)),
            "start": Out(1),
            "run": Out(1),
            "busy": Out(1),
            "done": In(1),
        })


class FmWrite(wiring.Signature):
    """A registered feature-map write request (writer side): ``en``, the target ``buffer``
    (0 = P, 1 = Q), ``addr``, ``data`` and one enable per pixel slot in ``slots``."""

    def __init__(self, shapes: RamShapes):
        super().__init__({
            "en": Out(1),
            "buffer": Out(1),
            "addr": Out(range(shapes.fm_depth)),
            "data": Out(shapes.fm),
            "slots": Out(shapes.fm.length),
        })


class ImageWrite(wiring.Signature):
    """The image loader's write into buffer Q (loader side): every slot of word ``addr``."""

    def __init__(self, shapes: RamShapes):
        super().__init__({
            "en": Out(1),
            "addr": Out(range(shapes.fm_depth)),
            "data": Out(shapes.fm),
        })


class ImageRing(wiring.Signature):
    """The image ring in buffer Q, loader side: ``readable`` counts the image words a read
    port can return; ``reader_word`` (conv1's reader -> loader) is the word conv1 reads, so
    the loader overwrites a word of the ring only once it has been read."""

    def __init__(self, mmap: MemoryMap):
        super().__init__({
            "readable": Out(range(mmap.image_words + 1)),
            "reader_word": In(range(mmap.image_words + 1)),
        })


@lru_cache(maxsize=512)
def _asked(block_class, parameters: tuple):
    block = block_class(**dict(parameters))
    block._MustUse__silence = True    # only asked, never elaborated: no unused-block warning
    return block


def asked(block_class, parameters: dict):
    """The block ``block_class(**parameters)``, to ask for its figures (latency, DSP48E2,
    unit costs), never to elaborate; built once per distinct set of parameters, so cost
    models that ask for every layer of every configuration of a sweep do not rebuild it."""
    return _asked(block_class, tuple(sorted(parameters.items())))


def latency_of(block_class, parameters: dict) -> int:
    """The latency in cycles of ``block_class(**parameters)``."""
    return asked(block_class, parameters).latency


def bn_units(m, spec: Spec, name: str, count: int) -> list:
    """``count`` BN/requant units as submodules ``name0``, ``name1``, ...; their outputs
    always ready unless the engine drives ``o.ready`` itself afterwards."""
    params = bn_parameters(spec)
    units = []
    for index in range(count):
        unit = BnRequant(**params)
        m.submodules[f"{name}{index}"] = unit
        m.d.comb += unit.o.ready.eq(1)
        units.append(unit)
    return units
