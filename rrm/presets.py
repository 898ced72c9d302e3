"""Named specs: ``tiny`` (CI-sized), ``mobilenet-v1`` (unpruned), ``rr-mobilenet`` (paper),
``rr-mobilenet-fit`` (the paper's network on a configuration that fits the XCZU9EG),
``rr-mobilenet-fast`` (the same network at or under the Vitis AI DPU's 459,000 cycles),
``rr-mobilenet-max`` (the fastest configuration of the sweep that fits the XCZU9EG),
``rr-mobilenet-packed`` (two pixels per DSP48E2: -max's Conv DSP48E2 for twice its pixels).

``tiny`` is chosen so that a whole inference simulates in RTL in seconds: a
32x32 single-channel input (the embedded 8x8 digits data set, resized), width
0.25 (conv1 has 8 channels, the last blocks 256), 10 classes, 2 PEs x 8 lanes.
It is pruned like the paper, at the same ratios (288/512, 576/1024, 768/1024),
so that every stage exercises pruned shapes. See docs/spec.md.
"""

from __future__ import annotations

from .errors import SpecError
from .spec import HardwareSpec, NetworkSpec, QuantSpec, Spec


def _paper_pruning(network: NetworkSpec) -> dict[str, int]:
    """The paper's Table 2 pruning ratios applied to a (scaled) MobileNet-v1."""
    kept = {}
    for index in range(7, 13):
        kept[f"dsc{index}"] = network.scaled(512) * 288 // 512
    kept["dsc13"] = network.scaled(1024) * 576 // 1024
    kept["dsc14"] = network.scaled(1024) * 768 // 1024
    return kept


def _tiny() -> Spec:
    base = NetworkSpec(name="tiny", input_size=32, input_channels=1, num_classes=10,
                       width_multiplier=0.25)
    network = NetworkSpec(name="tiny", input_size=32, input_channels=1, num_classes=10,
                          width_multiplier=0.25, pruned_channels=_paper_pruning(base))
    hardware = HardwareSpec(pe_count=2, lanes=8, clock_mhz=150.0, device="xczu3eg")
    return Spec(network=network, quant=QuantSpec(), hardware=hardware, preset="tiny")


def _mobilenet_v1() -> Spec:
    return Spec(network=NetworkSpec(name="mobilenet-v1"), quant=QuantSpec(),
                hardware=HardwareSpec(), preset="mobilenet-v1")


def _rr_mobilenet() -> Spec:
    """The paper's network on the paper's configuration: 9 PEs x 32 lanes in each of the DW
    and Conv modules, 9 DW PEs, the FC on 9 classes at once. To fit the XCZU9EG's 2,520
    DSP48E2 (every product one DSP48E2 as Yosys maps it, the nine DW PEs alone take 2,592)
    the Conv PEs' results go through one BN unit (``serial_bn``, 70 cycles more) and 4 of
    each DW lane's 9 products are formed in LUTs (``dw_lut_taps``, no cycle more): 2,336
    DSP48E2, 1,163,051 cycles, under the paper's 1,177,500 (7.85 ms at 150 MHz)."""
    network = NetworkSpec(name="rr-mobilenet", pruned_channels=_paper_pruning(NetworkSpec()))
    hardware = HardwareSpec(serial_bn=True, dw_lut_taps=4)
    return Spec(network=network, quant=QuantSpec(), hardware=hardware, preset="rr-mobilenet")


def _rr_mobilenet_fit() -> Spec:
    """rr-mobilenet on 12 Conv PEs x 32 lanes, 2 DW PEs, the FC on 4 classes at once and one
    BN unit behind the Conv PEs: from the Pareto front of ``make sweep``, a configuration
    that fits the XCZU9EG in every resource with every DW product in a DSP48E2 and takes
    fewer cycles than the paper's (927,046)."""
    paper = _rr_mobilenet()
    hardware = HardwareSpec(pe_count=12, lanes=32, dw_pe_count=2, fc_parallel=4, serial_bn=True)
    return Spec(network=paper.network, quant=paper.quant, hardware=hardware, preset="rr-mobilenet-fit")


def _rr_mobilenet_fast() -> Spec:
    """rr-mobilenet on 16 Conv PEs x 64 lanes (1,024 products per cycle), 1 DW PE, the FC on
    4 classes at once and one BN unit behind the Conv PEs: 434,419 cycles per image, under
    the 459,000 (3.06 ms at 150 MHz) of the Vitis AI DPU's batch-1 MobileNet-v1 on a ZCU102.
    It fits the XCZU9EG because pixel-mode weights are packed without gaps, the image only
    passes through buffer Q and the FM slot selects are multiplexers (docs/accelerator.md)."""
    paper = _rr_mobilenet()
    hardware = HardwareSpec(pe_count=16, lanes=64, dw_pe_count=1, fc_parallel=4, serial_bn=True)
    return Spec(network=paper.network, quant=paper.quant, hardware=hardware, preset="rr-mobilenet-fast")


def _rr_mobilenet_max() -> Spec:
    """rr-mobilenet on 25 Conv PEs x 64 lanes (1,600 products per cycle), 1 DW PE, the FC
    on one class at a time and one BN unit behind the Conv PEs: 320,127 cycles per image.
    The fastest configuration of ``make sweep`` that fits the XCZU9EG: 25 is the most Conv
    PEs one BN unit can serve behind conv1 (27 beats per result need pe_count + 2), the DW
    module's 9 x 64 products take the DSP48E2 a second DW PE would need, and a map of
    112 x 112 pixels fills 502 words of 25 pixels, one BRAM row deep."""
    paper = _rr_mobilenet()
    hardware = HardwareSpec(pe_count=25, lanes=64, dw_pe_count=1, fc_parallel=1, serial_bn=True)
    return Spec(network=paper.network, quant=paper.quant, hardware=hardware, preset="rr-mobilenet-max")


def _rr_mobilenet_packed() -> Spec:
    """rr-mobilenet on 50 Conv PEs x 64 lanes packed two pixels per DSP48E2 (``packed_pw``:
    3,200 MACs per cycle on -max's 1,600 Conv DSP48E2), two BN units sharing the results'
    drain (25 cycles per result, within conv1's 27 beats and the 32 of the first pw layer),
    PW rows of 16 slices (a row of 50 x 64 weights would be 645 rows deep, just over the
    BRAM's 512, and double the PW RAM's BRAM18K), 1 DW PE with 2 of its 9 taps in LUTs and
    the FC on 4 classes at once: its pointwise layers take half of -max's cycles. Of the
    configurations of ``make sweep`` at its cycles, the resource model ranks 4 DW LUT taps
    first (fewer DSP48E2), but Yosys counted 277,838 LUT with 4, 1.4 % over the device; 2
    taps move about 6K LUT into 128 of the 152 spare DSP48E2 (2,496 of 2,520) at the same
    cycles, and Yosys fitted that on all four resources (271,738 LUT at 817708e). The DW
    wide reader's one-hot select (4612ffb) put it 2.5 % over the LUTs until the landing
    word's select went (6102693): 262,619 LUT, 96 % of the device. The image arrives as pixel
    pairs (``image_pixels`` 2), which halves conv1's cycles, and the stride-2 DW layers walk
    their maps a pair per cycle too (``dw_pairs``), which halves theirs for 4,417 LUT more
    (267,036, 97.4 %): results/rr-mobilenet-packed/ holds its cycles, resources and levels
    (docs/accelerator.md)."""
    paper = _rr_mobilenet()
    hardware = HardwareSpec(pe_count=50, lanes=64, dw_pe_count=1, fc_parallel=4, serial_bn=True,
                            serial_bn_units=2, pw_slices=16, dw_lut_taps=2, packed_pw=True,
                            image_pixels=2, dw_pairs=True)
    return Spec(network=paper.network, quant=paper.quant, hardware=hardware, preset="rr-mobilenet-packed")


PRESETS = {
    "tiny": _tiny,
    "mobilenet-v1": _mobilenet_v1,
    "rr-mobilenet": _rr_mobilenet,
    "rr-mobilenet-fit": _rr_mobilenet_fit,
    "rr-mobilenet-fast": _rr_mobilenet_fast,
    "rr-mobilenet-max": _rr_mobilenet_max,
    "rr-mobilenet-packed": _rr_mobilenet_packed,
}


def load_preset(name: str) -> Spec:
    """The preset's Spec; an unknown name raises SpecError listing the presets."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise SpecError("preset", f"unknown preset {name!r} (allowed: {', '.join(PRESETS)})") from None
