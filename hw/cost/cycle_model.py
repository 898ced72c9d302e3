"""Cycle model of :class:`hw.top.accelerator.Accelerator`: cycles per layer and per image.

Predicts, from the spec and the layer table alone, what the RTL's ``layer_cycles``
and ``image_cycles`` report (every image takes the same cycles: nothing depends
on the data). It only sums: each layer's cycles come from the engine that runs it
(``layer_cycles`` of :class:`hw.engines.conv.ConvEngine`,
:class:`hw.engines.depthwise.DepthwiseEngine` and :class:`hw.engines.classifier.Classifier`,
built from their blocks' latencies), the sequencer adds its steps between layers
(:data:`hw.engines.sequencer.LAYER_STEPS`) and per image
(:data:`hw.engines.sequencer.IMAGE_STEPS`).

Two figures per image: the latency (``cycles``: first pixel in to class beat out, what
``image_cycles`` reports) and the interval (cycles between class beats with images back
to back: the latency and the sequencer's :data:`hw.engines.sequencer.IDLE_STEPS`, since
one image ends before the next begins). ``fps`` is the throughput at the interval, ``ms``
the latency.

``cycles`` of a layer run from the first cycle after the sequencer's START state
to the cycle its engine reports done (what ``layer_cycles`` counts). The image's
beats (``image_pixels`` pixels each, one per cycle) arrive while conv1 runs; the logits
leave during the FC layer.

Lower bound of a layer: its MACs divided by what its module does per cycle
(Conv: ``pe_count * lanes``; DW: ``dw_pes * lanes * K * K``; FC: ``fc_classes * lanes``;
pool: ``lanes`` additions).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rrm.memory_map import LayerKind, memory_map
from rrm.spec import Spec

from ..engines.sequencer import IDLE_STEPS, IMAGE_STEPS, LAYER_STEPS
from ..top.accelerator import engine_for


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
    """A whole image: per-layer counts and the totals at the spec's clock; ``cycles`` is the
    latency, ``interval`` the cycles between class beats with images back to back."""

    spec_name: str
    clock_mhz: float
    input_cycles: int
    sequencer_cycles: int
    layers: tuple
    cycles: int
    macs: int

    @property
    def interval(self) -> int:
        """Class beat to class beat, images back to back: images do not overlap, so the
        latency and the sequencer's IDLE cycle."""
        return self.cycles + IDLE_STEPS

    @property
    def latency(self) -> int:
        """First pixel in to class beat out (the same as ``cycles``)."""
        return self.cycles

    @property
    def bound(self) -> float:
        return sum(layer.bound for layer in self.layers)

    @property
    def ms(self) -> float:
        """The latency in milliseconds at the spec's clock."""
        return self.cycles / (self.clock_mhz * 1e3)

    @property
    def fps(self) -> float:
        """Images per second with images back to back (one per ``interval``)."""
        return self.clock_mhz * 1e6 / self.interval

    @property
    def gops(self) -> float:
        """Operations (2 x MACs) per second, in GOP/s, at the spec's clock."""
        return 2 * self.macs * self.fps / 1e9

    def kinds(self) -> dict:
        """Where the latency goes, by layer kind (in layer order: conv, dw, pw, pool, fc):
        each kind's cycles, its share of the latency (the sequencer's steps between layers
        belong to none), its MACs (pool: none) and its lower bound (the MACs over what its
        engine does per cycle: cycles no walk or drain could go below)."""
        kinds = {}
        for layer in self.layers:
            kind = kinds.setdefault(layer.kind, {"cycles": 0, "bound": 0.0, "macs": 0})
            kind["cycles"] += layer.cycles
            kind["bound"] += layer.bound
            kind["macs"] += layer.macs
        return {name: {"cycles": kind["cycles"], "share": kind["cycles"] / self.cycles,
                       "macs": kind["macs"], "bound": round(kind["bound"])} for name, kind in kinds.items()}

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
            "cycles": self.cycles, "latency": self.latency, "interval": self.interval,
            "bound": self.bound, "utilisation": self.bound / self.cycles,
            "ms": self.ms, "fps": self.fps, "gops": self.gops, "macs": self.macs,
            "kinds": self.kinds(),
        }


def _bound(spec: Spec, entry, macs: int) -> float:
    """The layer's MACs (pool: additions) over what its engine does per cycle."""
    hw = spec.hardware
    P, L, K, D, Q = hw.pe_count, hw.lanes, hw.kernel, hw.dw_pes, hw.fc_classes
    conv1 = P // 2 * L if hw.packed_pw else P * L   # packed: conv1 one window per packed PE
    per_cycle = {LayerKind.conv: conv1, LayerKind.pw: P * L, LayerKind.dw: D * L * K * K,
                 LayerKind.fc: Q * L}
    if entry.kind_code == LayerKind.pool:
        return entry.in_h * entry.in_w * entry.in_channels / L
    return macs / per_cycle[entry.kind_code]


def cycle_model(spec: Spec) -> CycleModel:
    """Predicted cycles of every layer and of one image of ``spec`` on its accelerator."""
    if not isinstance(spec, Spec):
        raise TypeError(f"spec must be a Spec, not {spec!r}")
    macs = {layer.name: layer.macs for layer in spec.layers()}
    mmap = memory_map(spec)
    mmap.check_image_fits(spec)          # a spec the RTL cannot be built for has no cycles
    rows = []
    for entry in mmap.layers:
        cycles = engine_for(entry.kind_code).layer_cycles(spec, entry)
        layer_macs = int(macs.get(entry.name, 0))
        rows.append(LayerCycles(entry.name, entry.kind, int(cycles), layer_macs,
                                float(_bound(spec, entry, layer_macs))))
    input_cycles = spec.network.input_size ** 2 // spec.hardware.image_pixels   # beats, overlapped with conv1
    sequencer = len(LAYER_STEPS) * len(rows)
    total = sequencer + sum(row.cycles for row in rows) + IMAGE_STEPS
    return CycleModel(spec.network.name, spec.hardware.clock_mhz, input_cycles, sequencer, tuple(rows),
                      total, sum(macs.values()))
