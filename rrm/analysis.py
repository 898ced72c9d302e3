"""The paper's complexity and on-chip-memory analysis (Su et al. 2018, Eq. 1-11).

Per layer, with N input channels, M output channels, K x K kernels, an
H' x W' output map, Bw-bit weights and Ba-bit activations:

* Eq. 1  standard conv:  ops = 2 K^2 N M H' W'
* Eq. 2  depthwise-separable:  ops = 2 (K^2 N H' W' + N M H' W')
* Eq. 3/4  pruning: M becomes the kept M'. We shrink the next block's N with
  it (physically consistent); the paper's Eq. 4 keeps N unpruned in the PW
  term, which :func:`paper_eq4_ops` reproduces for comparison.
* Eq. 5  FC: ops = 2 N classes
* Eq. 6/7  parameter memory: K^2 N Bw (DW, conv), N M Bw (PW, FC), plus the
  folded BN multiplier and bias (and FC bias) that live beside them.
* Eq. 8  feature-map memory: H W N Ba (the input image at its own width).
* Eq. 9  total parameter memory: the sum over layers.
* Eq. 10 feature-map buffer: alpha * beta * the largest feature map of any
  layer (alpha = buffers, 2 for the ping-pong P/Q; beta = fraction on chip).
* Eq. 11 on-chip fit: parameters + feature-map buffer <= the device's BRAM,
  counted in BRAM18K blocks as the device maps widths and depths (see
  :func:`memory_map`), not as bits / 18K.

:func:`rtl_memories` applies the same BRAM18K mapping to the RAMs the RTL
actually builds (:func:`rrm.memory_map.memory_map`), so Eq. 11 is also checked
against what is built, RAM by RAM.

"MACs" are multiply-accumulates; ops = 2 x MACs (the paper's convention).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .devices import Device, bram18k_blocks, get_device
from .errors import SpecError
from .layers import Layer
from .sizing import sizing
from .spec import Spec


@dataclass(frozen=True)
class LayerCost:
    """Eq. 1-8 for one layer."""

    name: str
    kind: str
    in_channels: int
    out_channels: int
    out_h: int
    out_w: int
    params: int
    macs: int
    param_bits: int
    fm_bits: int

    @property
    def ops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Memory:
    """One on-chip memory of the accelerator and its BRAM18K cost.

    ``banks`` identical banks (one per PE), each ``width`` bits x ``depth`` words.
    Shallow memories (at most :data:`LUTRAM_MAX_DEPTH` words) are built from
    LUT RAM, as Vivado does for small arrays, and take no BRAM.
    """

    name: str
    banks: int
    width: int
    depth: int

    @property
    def bits(self) -> int:
        return self.banks * self.width * self.depth

    @property
    def in_lutram(self) -> bool:
        return self.depth <= LUTRAM_MAX_DEPTH

    @property
    def bram18k(self) -> int:
        if self.in_lutram:
            return 0
        return self.banks * bram18k_blocks(self.width, self.depth)


#: Memories this shallow go to distributed (LUT) RAM: a 64-deep RAM64M costs
#: one LUT per bit of width, far cheaper than a BRAM18K used at 64/512 depth.
LUTRAM_MAX_DEPTH = 64


def layer_cost(spec: Spec, layer: Layer) -> LayerCost:
    """Parameters, MACs and memory of one layer (Eq. 1-8)."""
    q = spec.quant
    bn_bits = q.bn_mult_bits + q.bn_bias_bits
    if layer.kind in ("conv", "dw", "pw"):
        param_bits = layer.params * q.weight_bits + layer.out_channels * bn_bits
    elif layer.kind == "fc":
        param_bits = layer.params * q.weight_bits + layer.out_channels * q.fc_bias_bits
    else:
        param_bits = 0
    act_bits = q.act_bits
    if layer.kind == "fc":
        fm_bits = 0  # logits stream out; nothing is buffered
    elif layer.kind == "pool":
        fm_bits = 0  # the pool sum is held in the FC module's registers
    else:
        fm_bits = layer.out_elements * act_bits
    return LayerCost(layer.name, layer.kind, layer.in_channels, layer.out_channels,
                     layer.out_h, layer.out_w, layer.params, layer.macs, param_bits, fm_bits)


def input_fm_bits(spec: Spec) -> int:
    """Bits of the input image held in FM buffer P (Eq. 8 at input_bits)."""
    n = spec.network
    return n.input_size * n.input_size * n.input_channels * spec.quant.input_bits


def largest_fm_bits(spec: Spec, costs: list[LayerCost]) -> int:
    """Eq. 10's largest layer: the biggest feature map any layer reads or writes."""
    return max([input_fm_bits(spec)] + [c.fm_bits for c in costs])


def paper_eq4_counts(spec: Spec) -> tuple[int, int]:
    """(weights, ops) counted as the paper's Eq. 4: PW inputs keep the unpruned N.

    Only the pointwise (and FC) term differs: it multiplies the previous
    block's *full* channel count, not the kept one. Depthwise terms are as
    pruned.
    """
    params = ops = 0
    previous_full = None
    for layer in spec.layers():
        weights, macs = layer.params, layer.macs
        if layer.kind in ("pw", "fc") and previous_full is not None:
            weights = previous_full * layer.out_channels
            macs = weights * layer.out_h * layer.out_w
        params += weights
        ops += 2 * macs
        if layer.kind in ("conv", "pw"):
            previous_full = layer.full_out_channels
    return params, ops


def memory_map(spec: Spec) -> list[Memory]:
    """The accelerator's on-chip memories, banked one bank per PE.

    * ``fm_P``, ``fm_Q`` (alpha buffers): words of ``lanes`` activations, sized by
      Eq. 10 (times beta).
    * ``dw_ram``: conv1 and depthwise kernels, one K x K kernel per lane per word
      group; ``pw_ram``: pointwise and FC weights, one weight per lane per word
      (the Conv PE's broadcast needs exactly that); ``bn_ram``: folded BN
      multiplier and bias per output channel, FC bias.
    A layer with M output channels takes ceil(M / (pe_count * lanes)) word
    groups per weight position; narrow layers leave lanes of a word empty,
    which is what the BRAM count must pay for.
    """
    q, hw = spec.quant, spec.hardware
    width_lanes = hw.pe_count * hw.lanes
    costs = [layer_cost(spec, layer) for layer in spec.layers()]
    fm_bits = int(largest_fm_bits(spec, costs) * hw.fm_on_chip)
    fm_word = hw.lanes * q.act_bits
    # Depth covers the largest map in bits (the 8-bit image included).
    fm_depth = -(-fm_bits // (hw.pe_count * fm_word))
    memories = [Memory(f"fm_{name}", hw.pe_count, fm_word, fm_depth)
                for name in "PQRS"[: hw.fm_buffers]]

    dw_depth = pw_depth = bn_depth = 0
    for layer in spec.layers():
        groups = -(-layer.out_channels // width_lanes)
        if layer.kind in ("conv", "dw"):
            per_channel = layer.params // layer.out_channels
            dw_depth += groups * per_channel
            bn_depth += groups
        elif layer.kind == "pw":
            pw_depth += groups * layer.in_channels
            bn_depth += groups
        elif layer.kind == "fc":
            pw_depth += groups * layer.in_channels
            bn_depth += groups
    bn_word = hw.lanes * (q.bn_mult_bits + q.bn_bias_bits)
    memories += [
        Memory("dw_ram", hw.pe_count, hw.lanes * q.weight_bits, dw_depth),
        Memory("pw_ram", hw.pe_count, hw.lanes * q.weight_bits, pw_depth),
        Memory("bn_ram", hw.pe_count, bn_word, bn_depth),
    ]
    return memories


def rtl_memories(spec: Spec, dev: Device) -> dict:
    """Eq. 11 for the RAMs the accelerator's RTL builds (:func:`rrm.memory_map.memory_map`).

    Each RAM is one memory (``banks`` = 1) of its word width and depth, mapped to
    BRAM18K by :attr:`Memory.bram18k`, the same mapping as :func:`memory_map`'s
    banks (LUT RAM at most :data:`LUTRAM_MAX_DEPTH` words deep). Keys: ``rams``
    (name, holds, width, depth, bits, bram18k, lutram), ``bits``, ``bram18k``,
    ``lutram_bits``, ``available_bram18k``, ``fits``; a spec the RTL cannot be
    built for gives ``buildable: False`` and the ``error``.
    """
    try:
        mmap = sizing(spec).memories
        mmap.check_image_fits(spec)
    except SpecError as exc:
        return {"buildable": False, "error": str(exc), "rams": [], "bits": 0, "bram18k": 0,
                "lutram_bits": 0, "available_bram18k": dev.bram18k, "fits": False}
    rams = []
    for ram in mmap.rams.values():
        memory = Memory(ram.name, 1, ram.width, ram.depth)
        rams.append({"name": ram.name, "holds": ram.holds, "width": ram.width, "depth": ram.depth,
                     "bits": memory.bits, "bram18k": memory.bram18k, "lutram": memory.in_lutram})
    bram = sum(r["bram18k"] for r in rams)
    return {
        "buildable": True,
        "rams": rams,
        "bits": sum(r["bits"] for r in rams),
        "bram18k": bram,
        "lutram_bits": sum(r["bits"] for r in rams if r["lutram"]),
        "available_bram18k": dev.bram18k,
        "fits": bram <= dev.bram18k,
    }


def analyze(spec: Spec, device: str | None = None) -> dict:
    """The whole analysis as a JSON-serialisable dict.

    Keys: ``spec`` (name, preset), ``layers`` (per layer: name, kind, channels,
    output size, params, macs, ops, param_bits, fm_bits), ``total`` (params,
    macs, ops, param_bits, fm_buffer_bits, largest_fm_bits, paper_eq4_ops),
    ``memories`` (the BRAM map), ``ocm`` (device, available_bits,
    required_bits, bram18k, available_bram18k, fits) and ``rtl_memories`` (the
    RTL's RAMs and their BRAM18K on the same device: :func:`rtl_memories`).
    """
    dev: Device = get_device(device or spec.hardware.device)
    costs = [layer_cost(spec, layer) for layer in spec.layers()]
    largest = largest_fm_bits(spec, costs)
    fm_buffer_bits = int(spec.hardware.fm_buffers * spec.hardware.fm_on_chip * largest)
    param_bits = sum(c.param_bits for c in costs)
    memories = memory_map(spec)
    bram = sum(m.bram18k for m in memories)
    macs = sum(c.macs for c in costs)
    eq4_params, eq4_ops = paper_eq4_counts(spec)
    return {
        "spec": {"name": spec.network.name, "preset": spec.preset},
        "layers": [dict(dataclasses.asdict(c), ops=c.ops) for c in costs],
        "total": {
            "params": sum(c.params for c in costs),
            "macs": macs,
            "ops": 2 * macs,
            "paper_eq4_params": eq4_params,
            "paper_eq4_ops": eq4_ops,
            "param_bits": param_bits,
            "largest_fm_bits": largest,
            "fm_buffer_bits": fm_buffer_bits,
        },
        "memories": [dict(dataclasses.asdict(m), bits=m.bits, bram18k=m.bram18k, lutram=m.in_lutram)
                     for m in memories],
        "ocm": {
            "device": dev.name,
            "available_bits": dev.bram_bits,
            "required_bits": param_bits + fm_buffer_bits,
            "bram18k": bram,
            "lutram_bits": sum(m.bits for m in memories if m.in_lutram),
            "available_bram18k": dev.bram18k,
            "fits": bram <= dev.bram18k,
        },
        "rtl_memories": rtl_memories(spec, dev),
    }

