"""``rrm cycles``: the cycle model of the accelerator, per layer and per image.

    rrm cycles [--preset NAME | --spec FILE.json] [--json] [--record]

Prints, per layer (named as in ``rrm sim``'s ``layer_cycles``), the predicted
cycles, the lower bound (MACs over what the layer's module does per cycle) and
the lane utilisation (bound / cycles); then the image's latency (first pixel in to
class beat out) and ms at the spec's clock, the interval (cycles between class beats
with images back to back), frames per second and GOPS at that interval, beside the
paper's figures; then the latency by layer kind (cycles, share, bound). ``--record``
writes the model into ``results/<preset>/cycles.json`` (:mod:`scripts.results`).
"""

from __future__ import annotations

import json
import sys

from rrm.errors import UserError

from ..paper_figures import PAPER_DESIGN as PAPER
from ..specio import add_spec_arguments, spec_from_args

NAME = "cycles"
HELP = "predicted cycles per layer, latency and interval per image (the cycle model), lower bounds, ms, GOPS, fps"



def add_arguments(parser) -> None:
    add_spec_arguments(parser, default="rr-mobilenet")
    parser.add_argument("--json", action="store_true", help="print the model as JSON")
    parser.add_argument("--record", action="store_true",
                        help="write the model into results/<preset>/cycles.json (a preset only)")


def format_model(model) -> str:
    lines = [f"cycle model of the accelerator for {model.spec_name} at {model.clock_mhz:g} MHz",
             f"{'layer':10s} {'kind':5s} {'cycles':>10s} {'bound':>10s} {'util.':>6s}",
             "-" * 45]
    for layer in model.layers:
        lines.append(f"{layer.name:10s} {layer.kind:5s} {layer.cycles:10,d} {layer.bound:10,.0f} "
                     f"{layer.utilisation:6.2f}")
    lines += ["-" * 45,
              f"{'input':10s} {'':5s} {model.input_cycles:10,d}   (image beats, one per cycle, while conv1 runs)",
              f"{'sequencer':10s} {'':5s} {model.sequencer_cycles:10,d}   "
              f"({model.sequencer_cycles // len(model.layers)} cycles per layer)",
              f"{'image':10s} {'':5s} {model.cycles:10,d} {model.bound:10,.0f} "
              f"{model.bound / model.cycles:6.2f}",
              "",
              f"latency {model.cycles:,d} cycles = {model.ms:.3f} ms at {model.clock_mhz:g} MHz "
              f"(first pixel in to class beat out)",
              f"interval {model.interval:,d} cycles (class beat to class beat, images back to back): "
              f"{model.fps:.1f} fps, {model.gops:.1f} GOPS ({2 * model.macs / 1e9:.3f} GOP per image)",
              f"paper (XCZU9EG, 150 MHz): {PAPER['ms']} ms = {PAPER['cycles']:,d} cycles; "
              f"ours / paper = {model.cycles / PAPER['cycles']:.3f}",
              "",
              "where the latency goes, by layer kind (bound: the kind's MACs over its engine's per cycle)",
              f"{'kind':10s} {'cycles':>10s} {'share':>7s} {'bound':>10s} {'util.':>6s}"]
    for kind, part in model.kinds().items():
        lines.append(f"{kind:10s} {part['cycles']:10,d} {100 * part['share']:6.1f}% {part['bound']:10,d} "
                     f"{part['bound'] / part['cycles']:6.2f}")
    return "\n".join(lines)


def run(args) -> int:
    from hw.cost.cycle_model import cycle_model
    spec = spec_from_args(args)
    if args.record and not args.preset:
        raise UserError("--record needs --preset NAME: results are recorded per preset")
    model = cycle_model(spec)
    if args.record:
        from ..results import record
        path = record(spec.preset, "cycles", {"cycles": model.cycles, "latency": model.latency,
                                              "interval": model.interval, "ms": model.ms,
                                              "clock_mhz": model.clock_mhz,
                                              "layers": {layer.name: layer.cycles for layer in model.layers},
                                              "kinds": model.kinds()})
        print(f"recorded {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(model.to_dict(), indent=2))
    else:
        print(format_model(model))
    return 0
