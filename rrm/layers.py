"""The layer list derived from a spec: what every stage walks, in order.

``build_layers(spec)`` returns conv1, then per depthwise-separable block N its
depthwise part ``dscN.dw`` and pointwise part ``dscN.pw``, then ``pool`` (global
average-pool *sum*, docs/design.md §6) and ``fc``. Shapes follow docs/design.md §6: zero padding
of K//2 on every side, ``out = (in + 2*(K//2) - K) // stride + 1``
(:func:`rrm.numerics.out_size`).

This module also names the blocks (:func:`dsc_name`) and defines a layer's
tiling (:class:`LayerTiling`); :mod:`rrm.spec` imports them from here and calls
:func:`build_layers`, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError
from .numerics import out_size

#: Number of the first depthwise-separable block: DSC2 (conv1 is layer 1, as in
#: the paper's Table 2).
FIRST_DSC_INDEX = 2


def dsc_name(index: int) -> str:
    """Name of the depthwise-separable block number ``index`` (2..14): ``dsc7``."""
    return f"dsc{index}"


@dataclass(frozen=True)
class LayerTiling:
    """Loop tiling of one layer (paper §3, Table 2).

    ``ti`` x ``tj`` spatial tiles of the output map run on different PEs at once,
    ``tn`` input channels and ``tm`` output channels are processed per pass.
    :class:`rrm.spec.HardwareSpec` validates the overrides of ``hardware.tiling``.
    """

    ti: int
    tj: int
    tn: int
    tm: int


@dataclass(frozen=True)
class Layer:
    """One layer's shape.

    Members
    -------
    name : str
        ``conv1``, ``dscN.dw``, ``dscN.pw``, ``pool`` or ``fc``.
    kind : str
        ``conv``, ``dw``, ``pw``, ``pool`` or ``fc``.
    in_channels, out_channels : int
        N and M of the paper (equal for ``dw`` and ``pool``).
    kernel, stride, padding : int
        K, S and the zero padding on every side (K//2).
    in_h, in_w, out_h, out_w : int
        Input and output map sizes (1x1 for ``fc``).
    full_out_channels : int
        Output channels before pruning (equal to ``out_channels`` if unpruned).
    tiling : LayerTiling or None
        Ti/Tj/Tn/Tm for layers the PE arrays run (None for pool).
    """

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    full_out_channels: int
    tiling: LayerTiling | None = None

    @property
    def block(self) -> str:
        """The block a layer belongs to: ``dsc7`` for ``dsc7.pw``, else its name."""
        return self.name.split(".")[0]

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the layer's weight tensor in the export artifact.

        conv: (M, N, K, K); dw: (C, K, K); pw: (M, N); fc: (classes, C); pool: ().
        """
        return {
            "conv": (self.out_channels, self.in_channels, self.kernel, self.kernel),
            "dw": (self.out_channels, self.kernel, self.kernel),
            "pw": (self.out_channels, self.in_channels),
            "fc": (self.out_channels, self.in_channels),
            "pool": (),
        }[self.kind]

    @property
    def params(self) -> int:
        """Weights (no BN, no bias): K*K*N*M, K*K*C, N*M or C*classes."""
        count = 1
        for dim in self.weight_shape:
            count *= dim
        return count if self.weight_shape else 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image (Eq. 1/2 without the factor 2)."""
        if self.kind == "pool":
            return 0
        return self.params * self.out_h * self.out_w

    @property
    def out_elements(self) -> int:
        return self.out_h * self.out_w * self.out_channels


def auto_tiling(kind: str, out_channels: int, out_h: int, out_w: int,
                in_channels: int, pe_count: int, lanes: int) -> LayerTiling:
    """Default tiling: fill the pe_count x lanes array, then split the map.

    Output channels go across lanes first (``tm`` = channels per pass, at most
    ``pe_count * lanes``, a multiple of ``lanes`` when the layer has that many);
    PEs left idle by narrow layers take other spatial tiles, so ``ti * tj`` is
    ``pe_count * lanes // tm`` split as evenly as possible between rows and
    columns, capped by the map. ``tn`` is the input channels read per pass:
    ``lanes`` for pointwise and conv, the channel tile for depthwise.
    """
    width = pe_count * lanes
    tm = min(out_channels, width)
    if tm > lanes:
        tm -= tm % lanes
    tiles = max(1, width // tm)
    ti = 1
    for cand in range(int(tiles ** 0.5), 0, -1):
        if tiles % cand == 0:
            ti = cand
            break
    tj = tiles // ti
    ti, tj = min(ti, out_h), min(tj, out_w)
    tn = tm if kind == "dw" else min(in_channels, lanes)
    return LayerTiling(ti=ti, tj=tj, tn=tn, tm=tm)


def build_layers(spec) -> tuple[Layer, ...]:
    """Derive the layer list of ``spec``; raises SpecError for an impossible topology."""
    network, hardware = spec.network, spec.hardware
    k = hardware.kernel
    layers: list[Layer] = []

    def add(name, kind, n, m, kernel, stride, h, w, full_m):
        if kind in ("conv", "dw"):
            oh, ow = out_size(h, kernel, stride), out_size(w, kernel, stride)
            if oh < 1 or ow < 1:
                raise SpecError("network.input_size",
                                f"{network.input_size} is too small: layer {name} gets a {h}x{w} map")
        else:
            oh, ow = h, w
        tiling = None
        if kind != "pool":
            tiling = hardware.tiling.get(name) or auto_tiling(
                kind, m, oh, ow, n, hardware.pe_count, hardware.lanes)
        layers.append(Layer(name, kind, n, m, kernel, stride, kernel // 2 if kernel > 1 else 0,
                            h, w, oh, ow, full_m, tiling))
        return oh, ow

    size = network.input_size
    c1 = network.scaled(network.conv1_channels)
    h, w = add("conv1", "conv", network.input_channels, c1, k, 2, size, size, c1)
    channels = c1
    for i, (base, stride) in enumerate(network.blocks):
        block = dsc_name(FIRST_DSC_INDEX + i)
        full = network.scaled(base)
        kept = network.pruned_channels.get(block, full)
        h, w = add(f"{block}.dw", "dw", channels, channels, k, stride, h, w, channels)
        add(f"{block}.pw", "pw", channels, kept, 1, 1, h, w, full)
        channels = kept
    add("pool", "pool", channels, channels, 1, 1, h, w, channels)
    add("fc", "fc", channels, network.num_classes, 1, 1, 1, 1, network.num_classes)
    names = {layer.name for layer in layers}
    for name in hardware.tiling:
        if name not in names:
            raise SpecError(f"hardware.tiling.{name}",
                            f"no such layer (allowed: {', '.join(l.name for l in layers if l.kind != 'pool')})")
    return tuple(layers)
