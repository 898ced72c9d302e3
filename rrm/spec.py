"""The spec: network, quantization and hardware config, the one source of truth.

A :class:`Spec` is three frozen dataclasses (:class:`NetworkSpec`,
:class:`QuantSpec`, :class:`HardwareSpec`). Every field is validated when the
object is built; a bad value raises :class:`~rrm.errors.SpecError` whose message
names the field (dotted path, e.g. ``network.width_multiplier``) and the allowed
values. ``Spec.to_dict``/``Spec.from_dict`` (and the JSON variants) round-trip
exactly; ``from_dict`` rejects missing and unknown (misspelled) fields.

The layer list that every stage walks is derived from the spec by
:meth:`Spec.layers` (see :mod:`rrm.layers`).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .devices import DEVICES
from .errors import SpecError
from .layers import FIRST_DSC_INDEX, LayerTiling, build_layers, dsc_name

#: MobileNet-v1's depthwise-separable blocks as (output channels, stride), before
#: the width multiplier. They are numbered DSC2..DSC14 (:func:`rrm.layers.dsc_name`),
#: conv1 being layer 1, as in the paper's Table 2.
MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)


#: What a network name (and a preset name) may be: it is carried into file names, the
#: comment headers of generated TCL/XDC/Verilog and reports, so no spaces, quotes,
#: brackets or control characters.
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _shown(value: Any) -> str:
    """``repr(value)`` on one line, at most 60 characters (for error messages)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)   # as the JSON file wrote it
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_name(path: str, value: Any) -> None:
    if not isinstance(value, str):
        raise SpecError(path, f"must be a string, got {_shown(value)}")
    if not re.fullmatch(NAME_PATTERN[1:-1], value):
        raise SpecError(path, f"{_shown(value)} is not allowed (allowed: 1 to 64 letters, digits, "
                              f"'_', '.' or '-', starting with a letter or digit)")


def _check_int(path: str, value: Any, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"must be an integer, got {_shown(value)}")
    if value < lo or (hi is not None and value > hi):
        allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise SpecError(path, f"{value} is out of range (allowed: {allowed})")


def _check_number(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, f"must be a number, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise SpecError(path, f"must be a finite number, got {_shown(value)}")
    return number


@dataclass(frozen=True)
class NetworkSpec:
    """MobileNet-v1 topology.

    Members
    -------
    name : str
        Free-form network name, carried into artifacts and reports.
    input_size : int
        Input height = width in pixels (8..1024).
    input_channels : int
        Image channels (1..16): 3 for RGB, 1 for grey-scale.
    num_classes : int
        Classifier outputs (2..100000).
    width_multiplier : float
        MobileNet's alpha, in (0, 4]; every base channel count is scaled by it
        and rounded to the nearest integer (at least 1).
    conv1_channels : int
        Base output channels of the first 3x3 stride-2 convolution (32).
    blocks : tuple of (int, int)
        Base (output channels, stride) of the depthwise-separable blocks,
        numbered from DSC2; defaults to MobileNet-v1's thirteen.
    pruned_channels : dict of str to int
        Output channels kept after kernel-level pruning, by block name
        (``"dsc7": 288``). Absent blocks are unpruned. The next block's
        depthwise and pointwise inputs shrink with them.
    """

    name: str = "mobilenet-v1"
    input_size: int = 224
    input_channels: int = 3
    num_classes: int = 1000
    width_multiplier: float = 1.0
    conv1_channels: int = 32
    blocks: tuple[tuple[int, int], ...] = MOBILENET_V1_BLOCKS
    pruned_channels: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        _check_name("network.name", self.name)
        _check_int("network.input_size", self.input_size, 8, 1024)
        _check_int("network.input_channels", self.input_channels, 1, 16)
        _check_int("network.num_classes", self.num_classes, 2, 100_000)
        alpha = _check_number("network.width_multiplier", self.width_multiplier)
        if not 0.0 < alpha <= 4.0:
            raise SpecError("network.width_multiplier",
                            f"{self.width_multiplier} is out of range (allowed: 0 < value <= 4)")
        _check_int("network.conv1_channels", self.conv1_channels, 1, 4096)
        blocks = tuple(tuple(b) for b in self.blocks)
        object.__setattr__(self, "blocks", blocks)
        if not blocks:
            raise SpecError("network.blocks", "must list at least one depthwise-separable block")
        for i, block in enumerate(blocks):
            path = f"network.blocks[{i}]"
            if len(block) != 2:
                raise SpecError(path, f"must be [channels, stride], got {list(block)!r}")
            _check_int(path + ".channels", block[0], 1, 16384)
            if isinstance(block[1], bool) or not isinstance(block[1], int) or block[1] not in (1, 2):
                raise SpecError(path + ".stride", f"{block[1]!r} is not allowed (allowed: 1, 2)")
        if not isinstance(self.pruned_channels, dict):
            raise SpecError("network.pruned_channels", "must be a mapping of block name to channels")
        names = [dsc_name(FIRST_DSC_INDEX + i) for i in range(len(blocks))]
        for key, kept in self.pruned_channels.items():
            path = f"network.pruned_channels.{key}"
            if key not in names:
                raise SpecError(path, f"no such block (allowed: {names[0]}..{names[-1]})")
            full = self.scaled(blocks[names.index(key)][0])
            _check_int(path, kept, 1, full)
        # A stride-2 layer on a 1x1 map is allowed (output 1x1); nothing else to check.

    def scaled(self, base_channels: int) -> int:
        """Channels after the width multiplier: round(base * alpha), at least 1."""
        return max(1, int(round(base_channels * self.width_multiplier)))


@dataclass(frozen=True)
class QuantSpec:
    """Fixed-point formats (docs/design.md §6). Every width is configurable.

    Members
    -------
    weight_bits, weight_frac : int
        Signed weights, ``weight_frac`` fractional bits (Q2.6: 8, 6).
    act_bits, act_frac : int
        Unsigned activations after ReLU (Q2.2: 4, 2).
    input_bits, input_frac : int
        Image input: uint8 pixel p becomes ``p - 2**(input_bits-1)``, signed,
        with ``input_frac`` fractional bits (8, 7).
    clip_min, clip_max : float
        Range trained weights are clipped to (-1, 1).
    bn_mult_bits, bn_bias_bits : int
        Signed widths of the folded BN multiplier m_c and bias b_c (16, 32).
    fc_bias_bits : int
        Signed width of the FC bias (32).
    """

    weight_bits: int = 8
    weight_frac: int = 6
    act_bits: int = 4
    act_frac: int = 2
    input_bits: int = 8
    input_frac: int = 7
    clip_min: float = -1.0
    clip_max: float = 1.0
    bn_mult_bits: int = 16
    bn_bias_bits: int = 32
    fc_bias_bits: int = 32

    def __post_init__(self):
        _check_int("quant.weight_bits", self.weight_bits, 2, 16)
        _check_int("quant.weight_frac", self.weight_frac, 0, self.weight_bits - 1)
        _check_int("quant.act_bits", self.act_bits, 1, 16)
        _check_int("quant.act_frac", self.act_frac, 0, self.act_bits)
        _check_int("quant.input_bits", self.input_bits, 2, 16)
        _check_int("quant.input_frac", self.input_frac, 0, self.input_bits - 1)
        lo = _check_number("quant.clip_min", self.clip_min)
        hi = _check_number("quant.clip_max", self.clip_max)
        if not lo < hi:
            raise SpecError("quant.clip_max", f"{hi} must be greater than clip_min ({lo})")
        wmax = (2 ** (self.weight_bits - 1) - 1) / 2 ** self.weight_frac
        wmin = -(2 ** (self.weight_bits - 1)) / 2 ** self.weight_frac
        if lo < wmin or hi > wmax + 1 / 2 ** self.weight_frac:
            raise SpecError("quant.clip_min",
                            f"clip range [{lo}, {hi}] does not fit Q{self.weight_bits - self.weight_frac}"
                            f".{self.weight_frac} weights (allowed: [{wmin}, {wmax}])")
        _check_int("quant.bn_mult_bits", self.bn_mult_bits, 2, 32)
        _check_int("quant.bn_bias_bits", self.bn_bias_bits, 2, 48)
        _check_int("quant.fc_bias_bits", self.fc_bias_bits, 2, 48)

    @property
    def weight_int_range(self) -> tuple[int, int]:
        """Integer range of exported weights: the clip range on the Q grid."""
        scale = 2 ** self.weight_frac
        lo = max(-(2 ** (self.weight_bits - 1)), int(round(self.clip_min * scale)))
        hi = min(2 ** (self.weight_bits - 1) - 1, int(round(self.clip_max * scale)))
        return lo, hi

    @property
    def act_max(self) -> int:
        """Largest activation integer: 2**act_bits - 1."""
        return 2 ** self.act_bits - 1


@dataclass(frozen=True)
class HardwareSpec:
    """Accelerator configuration.

    Members
    -------
    pe_count : int
        PEs in each of the DW and Conv modules (9 in the paper).
    lanes : int
        Lanes per PE: channels (DW) or output channels (Conv) in parallel (32).
    kernel : int
        Depthwise / conv1 kernel size (3).
    clock_mhz : float
        Target clock (150 MHz in the paper).
    device : str
        Target FPGA, a key of :data:`rrm.devices.DEVICES`.
    fm_buffers : int
        Feature-map buffers on chip, the paper's alpha in Eq. 8/10: 2 for the
        ping-pong P/Q pair.
    fm_on_chip : float
        Fraction of the largest feature map held on chip, the paper's beta
        (1.0: every feature map stays on chip, Eq. 11).
    tiling : dict of str to LayerTiling
        Per-layer tiling overrides; layers not named use the rule in
        :func:`rrm.layers.auto_tiling`.
    dw_pe_count : int
        DW PEs (each ``lanes`` channels x K*K taps), when fewer than ``pe_count``
        (0: ``pe_count``, the paper's design). The depthwise layers are a small
        part of the work; fewer DW PEs trade a few cycles for many multipliers.
    fc_parallel : int
        Classes the FC computes at once (``lanes`` multipliers each), a divisor of
        the PW row's slices, ``pw_row_slices`` (0: ``pw_row_slices``).
    serial_bn : bool
        The Conv module's ``pe_count`` results of a (block, group) go through
        ``serial_bn_units`` BN units (default one), one step per cycle, instead of
        ``pe_count`` BN units in parallel (a pointwise layer has at least
        ``drain_steps + 2`` beats per result, so no cycles are lost but the drain).
    dw_lut_taps : int
        Of the K*K taps of every DW lane, how many form their ``act_bits`` x
        ``weight_bits`` products in LUTs (shifts and adds over the activation's bits)
        instead of one DSP48E2 each (0..K*K; 0: every product in a DSP48E2, the paper's
        design): the DSP budget traded for LUTs, tap by tap, at the same cycles.
    packed_pw : bool
        Two pixels per DSP48E2 in the Conv module (docs/design.md §3.6): the ``pe_count``
        pixels of a pointwise beat share one weight word, pixels 2q and 2q + 1 packed into
        one product, so ``pe_count / 2`` products per lane; conv1's 8-bit values do not
        pack and run one pixel per product in two passes. Needs an even ``pe_count``;
        every pointwise layer runs in pixel mode.
    serial_bn_units : int
        With ``serial_bn``, the BN units the Conv module's results share (1..``pe_count``,
        default 1): a result's P sums leave ``ceil(P / units)`` cycles, units side by side
        on neighbouring slots, so a layer needs ``ceil(P / units) + 2`` beats per result
        instead of ``P + 2``. Group mode needs a single unit.
    image_pixels : int
        Image pixels per beat of the image port and per cycle of conv1's walk (1 or 2,
        default 1). 2 takes the image as pixel pairs and walks conv1 a pair per cycle
        (:class:`~hw.blocks.pair_patch_buffer.PairPatchBuffer`), halving conv1's cycles;
        needs a 3 x 3 conv1 of stride 2, an even input size of at least 4 and an even
        ``pe_count``.
    dw_pairs : bool
        Stride-2 dw layers walk their map a pixel pair per cycle
        (:class:`~hw.blocks.pair_patch_buffer.PairPatchBuffer`, beside the one-pixel walk of
        the stride-1 layers), which halves their cycles: the H x W map in H * W / 2 steps
        instead of the (H + 2)(W + 2) padded positions. A stride-2 layer on an odd map or
        one narrower than 4 keeps the one-pixel walk. Needs 3 x 3 kernels and an even
        ``pe_count`` of at least twice the DW PEs (the wide reader then refills a word's
        P / 2 pairs in time).
    dsp_macc : bool
        The packed Conv PEs accumulate inside their DSP48E2 (its P register and ALU, instanced
        as the primitive: :class:`~hw.blocks.dsp48e2.DspMac`) instead of beside it in fabric,
        where Yosys leaves an inferred accumulator; the same cycles and sums, a DSP48E2 and a
        2F-bit output register per lane and no adder. Needs ``packed_pw``.
    pw_slices : int
        Slices of ``lanes`` weights per PW RAM row (0: ``pe_count``). Fewer than
        ``pe_count`` makes the PW RAM narrower and deeper (BRAM18K are 512 x 36: a row of
        50 x 64 weights just over 512 rows deep doubles them); the Conv engine reads one
        slice per beat either way, the FC takes ``fc_parallel`` of a row's slices, and
        group mode (P slices at once) is then off.
    """

    pe_count: int = 9
    lanes: int = 32
    kernel: int = 3
    clock_mhz: float = 150.0
    device: str = "xczu9eg"
    fm_buffers: int = 2
    fm_on_chip: float = 1.0
    tiling: dict[str, LayerTiling] = field(default_factory=dict)
    dw_pe_count: int = 0
    fc_parallel: int = 0
    serial_bn: bool = False
    dw_lut_taps: int = 0
    packed_pw: bool = False
    serial_bn_units: int = 1
    pw_slices: int = 0
    image_pixels: int = 1
    dw_pairs: bool = False
    dsp_macc: bool = False

    #: Fields a spec file may leave out (their defaults keep the paper's design).
    OPTIONAL_FIELDS = ("dw_pe_count", "fc_parallel", "serial_bn", "dw_lut_taps", "packed_pw", "serial_bn_units",
                       "pw_slices", "image_pixels", "dw_pairs", "dsp_macc")

    @property
    def dw_pes(self) -> int:
        """DW PEs in the accelerator."""
        return self.dw_pe_count or self.pe_count

    @property
    def drain_steps(self) -> int:
        """With ``serial_bn``, the cycles a result's P sums take through the BN units."""
        return -(-self.pe_count // self.serial_bn_units)

    @property
    def pw_row_slices(self) -> int:
        """Slices of ``lanes`` weights per PW RAM row."""
        return self.pw_slices or self.pe_count

    @property
    def fc_classes(self) -> int:
        """Classes the FC computes at once (from one PW row)."""
        return self.fc_parallel or self.pw_row_slices

    def __post_init__(self):
        _check_int("hardware.pe_count", self.pe_count, 1, 64)
        _check_int("hardware.lanes", self.lanes, 1, 256)
        _check_int("hardware.kernel", self.kernel, 1, 7)
        if self.kernel not in (1, 3, 5, 7):
            raise SpecError("hardware.kernel", f"{self.kernel!r} is not allowed (allowed: 1, 3, 5, 7)")
        clock = _check_number("hardware.clock_mhz", self.clock_mhz)
        if not 1.0 <= clock <= 1000.0:
            raise SpecError("hardware.clock_mhz", f"{clock} is out of range (allowed: 1..1000)")
        if not isinstance(self.device, str) or self.device not in DEVICES:
            raise SpecError("hardware.device",
                            f"unknown device {self.device!r} (allowed: {', '.join(DEVICES)})")
        _check_int("hardware.fm_buffers", self.fm_buffers, 1, 4)
        _check_int("hardware.dw_pe_count", self.dw_pe_count, 0, self.pe_count)
        _check_int("hardware.pw_slices", self.pw_slices, 0, self.pe_count)
        _check_int("hardware.fc_parallel", self.fc_parallel, 0, self.pw_row_slices)
        if self.fc_parallel and self.pw_row_slices % self.fc_parallel:
            what = f"pw_slices {self.pw_slices}" if self.pw_slices else f"pe_count {self.pe_count}"
            raise SpecError("hardware.fc_parallel", f"{self.fc_parallel} does not divide {what}"
                            " (the FC takes its classes from one PW row)")
        if not isinstance(self.serial_bn, bool):
            raise SpecError("hardware.serial_bn", f"must be true or false, not {self.serial_bn!r}")
        _check_int("hardware.dw_lut_taps", self.dw_lut_taps, 0, self.kernel * self.kernel)
        _check_int("hardware.serial_bn_units", self.serial_bn_units, 1, self.pe_count)
        _check_int("hardware.image_pixels", self.image_pixels, 1, 2)
        if self.image_pixels == 2 and self.pe_count % 2:
            raise SpecError("hardware.image_pixels",
                            f"2 fills a word's slots in pairs: pe_count must be even, not {self.pe_count}")
        if self.serial_bn_units > 1 and not self.serial_bn:
            raise SpecError("hardware.serial_bn_units",
                            f"{self.serial_bn_units} units need serial_bn (without it every PE has its own)")
        if not isinstance(self.packed_pw, bool):
            raise SpecError("hardware.packed_pw", f"must be true or false, not {self.packed_pw!r}")
        if self.packed_pw and self.pe_count % 2:
            raise SpecError("hardware.packed_pw",
                            f"packs pixels in pairs: pe_count must be even, not {self.pe_count}")
        if not isinstance(self.dw_pairs, bool):
            raise SpecError("hardware.dw_pairs", f"must be true or false, not {self.dw_pairs!r}")
        if self.dw_pairs and (self.kernel != 3 or self.pe_count % 2 or self.pe_count < 2 * self.dw_pes):
            raise SpecError("hardware.dw_pairs",
                            f"the pair walk needs 3 x 3 kernels and an even pe_count of at least twice "
                            f"the DW PEs; this is kernel {self.kernel}, pe_count {self.pe_count}, "
                            f"{self.dw_pes} DW PEs")
        if not isinstance(self.dsp_macc, bool):
            raise SpecError("hardware.dsp_macc", f"must be true or false, not {self.dsp_macc!r}")
        if self.dsp_macc and not self.packed_pw:
            raise SpecError("hardware.dsp_macc", "accumulates the packed Conv PEs in their DSP48E2: "
                            "it needs packed_pw")
        beta = _check_number("hardware.fm_on_chip", self.fm_on_chip)
        if not 0.0 < beta <= 1.0:
            raise SpecError("hardware.fm_on_chip", f"{beta} is out of range (allowed: 0 < value <= 1)")
        if not isinstance(self.tiling, dict):
            raise SpecError("hardware.tiling", "must be a mapping of layer name to {ti, tj, tn, tm}")
        for name, tiling in self.tiling.items():
            if not isinstance(tiling, LayerTiling):
                raise SpecError(f"hardware.tiling.{name}", "must be {ti, tj, tn, tm}")
            for part in ("ti", "tj", "tn", "tm"):
                _check_int(f"hardware.tiling.{name}.{part}", getattr(tiling, part), 1, 1 << 16)


@dataclass(frozen=True)
class Spec:
    """Network + quantization + hardware: everything a stage needs to know."""

    network: NetworkSpec = field(default_factory=NetworkSpec)
    quant: QuantSpec = field(default_factory=QuantSpec)
    hardware: HardwareSpec = field(default_factory=HardwareSpec)
    preset: str | None = None

    def __post_init__(self):
        for name, cls in (("network", NetworkSpec), ("quant", QuantSpec), ("hardware", HardwareSpec)):
            if not isinstance(getattr(self, name), cls):
                raise SpecError(name, f"must be a {cls.__name__}")
        if self.preset is not None:
            _check_name("preset", self.preset)
        # Derived once (the spec is frozen); also validates the topology as a whole.
        object.__setattr__(self, "_layers", build_layers(self))

    def layers(self):
        """The layer list every stage walks: conv1, dscN.dw, dscN.pw, ..., pool, fc."""
        return self._layers

    def layer(self, name: str):
        """One layer by name; raises SpecError naming the allowed names."""
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise SpecError("layer", f"no layer named {name!r} (allowed: "
                        + ", ".join(l.name for l in self._layers) + ")")

    # --- serialisation ---------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-serialisable dict; :meth:`from_dict` gives back an equal Spec."""
        out = dataclasses.asdict(self)
        out["network"]["blocks"] = [list(b) for b in self.network.blocks]
        for name in HardwareSpec.OPTIONAL_FIELDS:   # left out at their defaults: a spec's
            if out["hardware"][name] == getattr(HardwareSpec, name):   # hash stays what it was
                del out["hardware"][name]
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> "Spec":
        """Build a Spec from a dict; every field must be present and spelled right."""
        _expect_fields("spec", data, cls, optional={"preset"})
        hardware = dict(data["hardware"]) if isinstance(data["hardware"], dict) else data["hardware"]
        _expect_fields("hardware", hardware, HardwareSpec, optional=set(HardwareSpec.OPTIONAL_FIELDS))
        tiling = {}
        if not isinstance(hardware["tiling"], dict):
            raise SpecError("hardware.tiling", "must be a mapping of layer name to {ti, tj, tn, tm}")
        for name, value in hardware["tiling"].items():
            _expect_fields(f"hardware.tiling.{name}", value, LayerTiling)
            tiling[name] = LayerTiling(**value)
        hardware["tiling"] = tiling
        _expect_fields("network", data["network"], NetworkSpec)
        _expect_fields("quant", data["quant"], QuantSpec)
        check_types(data)
        network = dict(data["network"])
        if not isinstance(network["blocks"], (list, tuple)):
            raise SpecError("network.blocks", "must be a list of [channels, stride]")
        network["blocks"] = tuple(tuple(b) if isinstance(b, (list, tuple)) else (b,)
                                  for b in network["blocks"])
        return cls(network=NetworkSpec(**network), quant=QuantSpec(**data["quant"]),
                   hardware=HardwareSpec(**hardware), preset=data.get("preset"))

    @classmethod
    def from_json(cls, text: str, what: str = "the spec") -> "Spec":
        """Parse ``text`` with the bounded reader (:func:`rrm.safe_io.parse_json`), then
        :meth:`from_dict`."""
        from .safe_io import parse_json

        def error(message):
            return SpecError("spec", message)
        return cls.from_dict(parse_json(text, what, error))

    def replace(self, **changes) -> "Spec":
        """A copy with top-level parts replaced (``spec.replace(hardware=...)``)."""
        return dataclasses.replace(self, **changes)


def unpruned(spec: Spec) -> Spec:
    """The same spec before redundancy removal: every block at its full width.

    What training starts from and what the analysis compares the pruned network with.
    """
    return spec.replace(network=dataclasses.replace(spec.network, pruned_channels={}))


# --- the published schema (docs/spec.schema.json) and the strict type check ----------

#: Bounds and patterns the schema adds to a field's type (the code checks the same, with
#: the cross-field rules the schema cannot say; tests/test_spec_schema.py keeps them equal).
_FIELD_RULES: dict[str, dict] = {
    "network.name": {"pattern": NAME_PATTERN},
    "network.input_size": {"minimum": 8, "maximum": 1024},
    "network.input_channels": {"minimum": 1, "maximum": 16},
    "network.num_classes": {"minimum": 2, "maximum": 100_000},
    "network.width_multiplier": {"exclusiveMinimum": 0, "maximum": 4},
    "network.conv1_channels": {"minimum": 1, "maximum": 4096},
    "quant.weight_bits": {"minimum": 2, "maximum": 16},
    "quant.weight_frac": {"minimum": 0, "maximum": 15},
    "quant.act_bits": {"minimum": 1, "maximum": 16},
    "quant.act_frac": {"minimum": 0, "maximum": 16},
    "quant.input_bits": {"minimum": 2, "maximum": 16},
    "quant.input_frac": {"minimum": 0, "maximum": 15},
    "quant.bn_mult_bits": {"minimum": 2, "maximum": 32},
    "quant.bn_bias_bits": {"minimum": 2, "maximum": 48},
    "quant.fc_bias_bits": {"minimum": 2, "maximum": 48},
    "hardware.pe_count": {"minimum": 1, "maximum": 64},
    "hardware.lanes": {"minimum": 1, "maximum": 256},
    "hardware.kernel": {"enum": [1, 3, 5, 7]},
    "hardware.clock_mhz": {"minimum": 1, "maximum": 1000},
    "hardware.device": {"enum": sorted(DEVICES)},
    "hardware.fm_buffers": {"minimum": 1, "maximum": 4},
    "hardware.fm_on_chip": {"exclusiveMinimum": 0, "maximum": 1},
    "hardware.dw_pe_count": {"minimum": 0, "maximum": 64},
    "hardware.fc_parallel": {"minimum": 0, "maximum": 64},
    "hardware.serial_bn_units": {"minimum": 1, "maximum": 64},
    "hardware.pw_slices": {"minimum": 0, "maximum": 64},
    "hardware.image_pixels": {"enum": [1, 2]},
    "preset": {"pattern": NAME_PATTERN},
}

_INT = {"type": "integer"}


def _type_schema(annotation: str, path: str) -> dict:
    """The JSON Schema of one dataclass field's annotation (as written in this module)."""
    if annotation == "int":
        return dict(_INT)
    if annotation == "float":
        return {"type": "number"}
    if annotation == "bool":
        return {"type": "boolean"}
    if annotation == "str":
        return {"type": "string"}
    if annotation == "str | None":
        return {"type": ["string", "null"]}
    if annotation == "tuple[tuple[int, int], ...]":
        return {"type": "array", "minItems": 1,
                "items": {"type": "array", "minItems": 2, "maxItems": 2,
                          "prefixItems": [{"type": "integer", "minimum": 1, "maximum": 16384},
                                          {"type": "integer", "enum": [1, 2]}],
                          "description": "[base output channels, stride]"}}
    if annotation == "dict[str, int]":
        return {"type": "object", "propertyNames": {"pattern": "^dsc[0-9]+$"},
                "additionalProperties": {"type": "integer", "minimum": 1}}
    if annotation == "dict[str, LayerTiling]":
        return {"type": "object", "additionalProperties": _object_schema(LayerTiling, path + ".*")}
    raise TypeError(f"{path}: no JSON Schema for the annotation {annotation!r}")   # a new field type


def _object_schema(cls, path: str, optional=()) -> dict:
    properties = {}
    for f in dataclasses.fields(cls):
        where = f"{path}.{f.name}" if path else f.name
        if f.name in ("network", "quant", "hardware"):
            properties[f.name] = _object_schema(
                {"network": NetworkSpec, "quant": QuantSpec, "hardware": HardwareSpec}[f.name], f.name,
                HardwareSpec.OPTIONAL_FIELDS if f.name == "hardware" else ())
            continue
        schema = _type_schema(f.type, where)
        if ".*." in where:
            schema.update({"minimum": 1, "maximum": 1 << 16})
        schema.update(_FIELD_RULES.get(where, {}))
        properties[f.name] = schema
    return {"type": "object", "properties": properties,
            "required": [f.name for f in dataclasses.fields(cls) if f.name not in optional],
            "additionalProperties": False}


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a spec file, built from the dataclasses' fields.

    ``docs/spec.schema.json`` is this, written by ``python -m scripts.spec_schema``; a test
    keeps the two equal. It says every field's type (an integer is an integer, not 3.0 nor true), the
    static bounds and the names' pattern; the rules between fields (weight_frac below
    weight_bits, pruned channels at most the block's width, ...) are the code's.
    """
    schema = _object_schema(Spec, "", optional=("preset",))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "rr-mobilenet spec",
            "description": "Network, quantization and hardware configuration (docs/spec.md).",
            **schema}


def _json_type_ok(kind: str, value: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "null":
        return value is None
    if kind == "array":
        return isinstance(value, (list, tuple))
    return isinstance(value, dict)


_TYPE_WORDS = {"integer": "an integer", "number": "a number", "boolean": "true or false",
               "string": "a string", "null": "null", "array": "a list", "object": "an object"}


def _walk_types(schema: dict, value: Any, path: str) -> None:
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if kinds and not any(_json_type_ok(kind, value) for kind in kinds):
        raise SpecError(path, f"must be {' or '.join(_TYPE_WORDS[k] for k in kinds)}, got {_shown(value)}")
    if "pattern" in schema and isinstance(value, str) and not re.fullmatch(schema["pattern"][1:-1], value):
        if path.endswith("name") or path == "preset":
            _check_name(path, value)
        raise SpecError(path, f"{_shown(value)} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in props:
                _walk_types(props[key], item, where)
            elif isinstance(schema.get("additionalProperties"), dict):
                _walk_types(schema["additionalProperties"], item, where)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if "prefixItems" in schema and i < len(schema["prefixItems"]):
                _walk_types(schema["prefixItems"][i], item,
                            f"{path}.{('channels', 'stride')[i]}" if path.startswith("network.blocks[")
                            else f"{path}[{i}]")
            elif "items" in schema:
                _walk_types(schema["items"], item, f"{path}[{i}]")


def check_types(data: Any) -> None:
    """Check every field of a spec dict against :func:`json_schema`'s types and name patterns
    (an integer is an int, not 3.0 nor true; a boolean is true or false; names match
    :data:`NAME_PATTERN`); SpecError names the first bad field and its value."""
    _walk_types(_SCHEMA, data, "")


def _expect_fields(path: str, data: Any, cls, optional: set[str] = frozenset()) -> None:
    """Check that ``data`` is a dict with exactly ``cls``'s fields."""
    if not isinstance(data, dict):
        raise SpecError(path, f"must be an object with fields {sorted(f.name for f in dataclasses.fields(cls))}")
    allowed = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise SpecError(f"{path}.{key}" if path != "spec" else key,
                            f"unknown field{hint} (allowed: {', '.join(allowed)})")
    for key in allowed:
        if key not in data and key not in optional:
            raise SpecError(f"{path}.{key}" if path != "spec" else key, "missing field")


_SCHEMA = json_schema()
