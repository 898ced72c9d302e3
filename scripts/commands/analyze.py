"""``rrm analyze``: the paper's complexity and on-chip-memory analysis of a spec, and sparse storage.

With ``--keep``/``--keep-layer`` (expected sizes) or ``--artifact`` (exact sizes from
its integer weights) it adds the storage of the pruned layers, dense against each
sparse format (:mod:`rrm.compression`). ``--preset alexnet`` is the companion
paper's AlexNet (:mod:`rrm.alexnet`): its storage only, at the stated keep ratios
unless ``--keep``/``--keep-layer`` give others.
"""

from __future__ import annotations

import json
from pathlib import Path

from rrm.devices import DEVICES
from rrm.errors import UserError

from ..keep_options import keep_overrides
from ..specio import add_spec_arguments, spec_from_args

NAME = "analyze"
HELP = ("operations, parameters, memory and on-chip fit per layer (paper Eq. 1-11); sparse storage of pruned "
        "layers; --preset alexnet: the companion paper's AlexNet compression")

#: Default CSR relative-index width (Deep Compression's for fully connected layers).
DEFAULT_INDEX_BITS = 5


def add_arguments(parser):
    add_spec_arguments(parser, default="rr-mobilenet")
    parser.add_argument("--device", help=f"FPGA to fit ({', '.join(DEVICES)}); default: the spec's")
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="write a per-layer memory plot before/after pruning (paper Fig. 5; an "
                             "existing file only with --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --plot file")
    storage = parser.add_argument_group("sparse storage (docs/analysis.md#sparse-storage)")
    storage.add_argument("--keep", type=float, metavar="R",
                         help="fraction of weights fine-grained pruning keeps in the prunable layers (MobileNet: "
                              "pointwise and FC; alexnet: all), expected sizes")
    storage.add_argument("--keep-layer", action="append", default=[], metavar="NAME=R",
                         help="the keep fraction of one layer (repeatable; overrides --keep for it)")
    storage.add_argument("--order", default="all", choices=("all", "forward", "reversed", "peak"),
                         help="how --keep is shared: peak cuts the largest layers hardest (the water level), the "
                              "others keep R in every layer (default %(default)s)")
    storage.add_argument("--artifact", type=Path, metavar="DIR",
                         help="exact sizes from this artifact's integer weights (its spec is analysed)")
    storage.add_argument("--index-bits", type=int, default=DEFAULT_INDEX_BITS, metavar="B",
                         help="CSR relative-index width (default %(default)s)")
    storage.add_argument("--markdown", action="store_true",
                         help="--preset alexnet: print the storage and the stages as the Markdown tables of "
                              "docs/analysis.md")
    storage.add_argument("--value-bits", type=int, default=None, metavar="B",
                         help="bits of a stored weight (default: the spec's weight_bits; alexnet 8)")


def kept_counts(sizes: dict[str, int], keep: float | None, overrides: dict[str, float], order: str) -> dict:
    """Weights each prunable layer keeps (:func:`rrm.prune_plan.fine_targets`), UserError on bad input."""
    from rrm.prune_plan import fine_targets
    try:
        return fine_targets(sizes, keep, order, overrides)
    except ValueError as exc:
        raise UserError(f"--keep/--keep-layer: {exc}") from None


def _storage_args(args, value_bits: int) -> tuple[int, int]:
    bits = value_bits if args.value_bits is None else args.value_bits
    if not 1 <= bits <= 32:
        raise UserError(f"--value-bits {bits}: must be in 1..32")
    if not 1 <= args.index_bits <= 16:
        raise UserError(f"--index-bits {args.index_bits}: must be in 1..16")
    return bits, args.index_bits


def run_alexnet(args) -> int:
    """``rrm analyze --preset alexnet``: the storage table and the compression stages."""
    from rrm import alexnet
    from rrm.compression import expected_storage, stages
    from rrm.weight_layers import prunable_sizes

    from ..storage_report import format_stages, format_storage

    for option in ("device", "plot", "artifact"):
        if getattr(args, option) is not None:
            raise UserError(f"--{option}: not for --preset alexnet (an analysis-only network, no accelerator)")
    value_bits, index_bits = _storage_args(args, alexnet.VALUE_BITS)
    layers = list(alexnet.LAYERS)
    if args.keep is None and not args.keep_layer:
        kept = alexnet.kept_weights()
        keep_source = "stated ratios (rrm/alexnet.py)"
    else:
        sizes = prunable_sizes(layers, kinds=("conv", "fc"))
        kept = kept_counts(sizes, args.keep, keep_overrides(args.keep_layer, "--keep-layer"), args.order)
        keep_source = f"--keep {args.keep} --order {args.order}" if args.keep is not None else "--keep-layer"
    storage = expected_storage(layers, kept, value_bits, index_bits, float_bits=alexnet.FLOAT_BITS)
    steps = stages(layers, kept, value_bits, index_bits, alexnet.FLOAT_BITS)
    if args.json:
        print(json.dumps({"network": alexnet.NAME, "keep": keep_source, "storage": storage, "stages": steps,
                          "paper": alexnet.PAPER}, indent=2))
        return 0
    if args.markdown:
        from ..storage_report import markdown_layers, markdown_stages
        print(markdown_layers(storage) + "\n\n" + markdown_stages(steps, alexnet.PAPER))
        return 0
    total = storage["total"]
    print(f"network alexnet (analysis only): {total['params']:,} parameters = "
          f"{total['float_bits'] / 8e6:.2f} MB in float{alexnet.FLOAT_BITS}; keep: {keep_source}; "
          f"{total['kept_params']:,} kept = {total['params'] / total['kept_params']:.1f}x fewer")
    print(format_storage(storage, "alexnet"))
    print()
    print(format_stages(steps, alexnet.PAPER))
    return 0


def run(args) -> int:
    if args.spec is None and args.preset == "alexnet":
        return run_alexnet(args)
    from rrm.analysis import analyze
    from rrm.spec import unpruned

    from ..analysis_report import format_report

    if args.markdown:
        raise UserError("--markdown: only with --preset alexnet")
    spec = spec_from_args(args)
    artifact = None
    if args.artifact is not None:
        from rrm.artifact import load_artifact
        if args.spec is not None or args.preset is not None:
            raise UserError("--artifact: analyses the artifact's own spec; leave out --preset/--spec")
        if args.keep is not None or args.keep_layer:
            raise UserError("--artifact: the sizes come from its weights; leave out --keep/--keep-layer")
        artifact = load_artifact(args.artifact)
        spec = artifact.spec
    if args.plot:
        from ..outputs import check_file_out
        check_file_out(args.plot, args.force, "--plot")
    result = analyze(spec, args.device)
    storage = None
    if artifact is not None or args.keep is not None or args.keep_layer:
        storage = spec_storage(spec, args, artifact)
        result["storage"] = storage
    if args.plot:
        from ..memory_plot import plot_memory
        before = analyze(unpruned(spec), args.device)
        plot_memory(before, result, args.plot, spec.network.name)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
        if storage is not None:
            from ..storage_report import format_storage
            print()
            print(format_storage(storage, spec.preset or spec.network.name))
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def spec_storage(spec, args, artifact=None) -> dict:
    """The storage of a MobileNet spec's weight layers: exact from ``artifact``, else expected at --keep."""
    from rrm.compression import exact_storage, expected_storage
    from rrm.weight_layers import prunable_sizes, spec_weight_layers

    value_bits, index_bits = _storage_args(args, spec.quant.weight_bits)
    layers = spec_weight_layers(spec)
    if artifact is not None:
        weights = {layer.name: artifact.params[f"{layer.name}.weight"].reshape(layer.shape) for layer in layers}
        return exact_storage(layers, weights, value_bits, index_bits)
    overrides = keep_overrides(args.keep_layer, "--keep-layer")
    sizes = prunable_sizes(layers)
    sizes.update({layer.name: layer.weights for layer in layers if layer.name in overrides})
    sizes = {layer.name: sizes[layer.name] for layer in layers if layer.name in sizes}
    return expected_storage(layers, kept_counts(sizes, args.keep, overrides, args.order), value_bits, index_bits)
